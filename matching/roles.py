"""Persons in roles of organisations: each organisation's 法定代表人 linked to a resolved person, or not, and why.

市场监管 names every organisation's legal representative (法定代表人), in some extracts with the
representative's ID number (法定代表人证件号码). Once persons and organisations are resolved,
:func:`link_legal_representatives` decides for every organisation which person that representative is:

1. **By ID.** A valid ID (18 characters, check digit right, legacy 15-digit numbers upgraded) equal to a
   resolved person's ID links to that person (``id``), whatever the names say. A valid ID that no person
   carries still rules out every namesake with a different valid ID (two valid IDs that differ are two
   people); a namesake with no valid ID may still be linked by name (step 2).
2. **By name, with evidence.** Otherwise the adult persons with the representative's name (normalised:
   繁→简, full-width folded, spaces removed) are the candidates, and a name alone links no one: a district
   has many 王伟. A person younger than :attr:`LegalRepRules.min_age` (16: full civil capacity) by every
   birth date known for them, on the newest date the inputs carry, is never a candidate and does not make
   an adult's name common. A valid ID rules out the candidates whose records give another birth date, or
   another sex, than it encodes; a masked ID (脱敏: ``445399********123X``, ``4453************3X``,
   ``445***********123X``, ``4453991985****123X``, or a run of stars of another length) those whose valid ID
   differs from a character it shows, and those without a valid ID whose every known birth date (or sex)
   differs from the birth-date (or 17th) characters it shows. A passport or 通行证 number rules no one out
   and is no evidence: the name and the evidence below decide. Each candidate is credited with independent evidence that it is this
   organisation's representative (:data:`EVIDENCE`, strongest first):

   - ``id_typo``: the representative's ID is invalid but one edit (a changed, missing or extra character,
     or two neighbours swapped) away from the candidate's valid ID;
   - ``id_birth``: the representative's ID (valid but nobody's, or invalid) encodes the candidate's birth
     date and sex (a candidate with a valid ID must share its first 14 characters, area and birth date);
   - ``id_masked``: the representative's ID is masked and every character it shows is the candidate's valid
     ID's, at the same place; with four or more shown past the area code (one namesake in 10,000 agrees by
     chance), else two or three (one in 100), ranked and counted like ``building``;
   - ``address``: the candidate lives, has the 户籍 or owns a house at the organisation's registered
     (注册) or operating (经营) address, the same standard address;
   - ``employment``: 人社 has the candidate insured with this organisation;
   - ``phone``: the organisation's 联系电话 (``org_phone``) is a phone one of the candidate's records carries;
     a number the records of several resolved persons carry (a household's) ranks with ``building``;
   - ``household_phone``: the 联系电话 is the phone of another resolved person living at the candidate's
     standard address (a family business registering the spouse's mobile); ranks with ``building``;
   - ``building`` / ``grid``: one of the candidate's addresses is in the same standard building / the same
     grid as one of the organisation's, counted only when no other resolved person has the candidate's
     name (a building or a grid holds many people: a common name is in it by chance).

   ``id_birth``, ``id_masked``, ``address``, ``employment`` and ``phone`` weigh the same. A candidate's
   support is its strongest evidence, then the number of independent kinds it has (place, employment, phone,
   ID; ``building``, ``grid`` and ``address`` are one place, ``id_typo``, ``id_birth`` and ``id_masked`` one
   ID). The one candidate with the most
   support is linked (``name_and_<evidence>``); several with equal support are ``ambiguous_name``;
   candidates without any evidence are ``no_supporting_evidence``.
3. **By a homophone, with stronger evidence.** When no person has the name as written, or none of those
   who have it has any evidence or the ID (in full or masked) rules every one of them out (:attr:`LegalRepRules.homophone_fallback`), persons whose name has the same
   surname character and sounds the same (pinyin without tones: 张伟 for 张玮, a common keying error) are
   the candidates, under the same rules except that ``building``, ``grid`` and ``household_phone`` do not
   count for them, nor does a shared phone (``homophone_and_<evidence>``). Pinyin is never evidence on its own, and
   neither is a phone: only persons with the name (or its sound) are ever candidates.

Every organisation gets one row: the linked person (or null) and :data:`~warehouse.schema.LEGAL_REP_LINKS`
value saying how it was linked or why not. Only the namesakes evidence or an ID can decide are paired with
an organisation (:mod:`matching.roles_candidates`): the others of a common name are counted, not paired, so
the work grows with the district, not with its organisations times their namesakes (issue #19).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.roles_candidates import Resolved, name_candidates
from matching.roles_evidence import (
    EVIDENCE,
    GROUP,
    ORG_PLACES,
    PERSON_PLACES,
    birth_digits,
    column,
    employment_pairs,
    evidence,
    id_sex,
    isin,
    masked_contradicts,
    masked_ids,
    minors,
    unique_name_persons,
)
from warehouse.schema import LEGAL_REP_LINKS

#: The columns of :func:`link_legal_representatives`' result.
LEGAL_REP_COLUMNS = ["org_id", "legal_rep", "legal_rep_person_id", "legal_rep_link", "feed"]


#: the organisation mention columns :func:`link_legal_representatives` reads (a caller reading the mentions
#: from a file need read no more: issue #19, the person mentions' 34 columns were 2.4 KB a record)
ORG_COLUMNS = (
    "record_key",
    *("feed", "priority", "record_date", "established", "legal_rep", "legal_rep_id"),
    *("legal_rep_id_invalid", "org_phone", *(c for c, _ in ORG_PLACES)),
)
#: the golden organisations' columns it reads (the id, as resolution or a caller names it, and the name published)
GOLDEN_COLUMNS = ("org_id", "entity_id", "legal_rep")
#: the mention links' columns it reads (人社's 就业 links: the employment evidence)
LINK_COLUMNS = ("from_key", "to_key", "kind", "relation")
#: the person mention columns it reads
PERSON_COLUMNS = (
    "record_key",
    *("name", "name_pinyin", "id_number", "birth_date", "record_date", "sex", "phone"),
    *(c for c, _ in PERSON_PLACES),
)


def _entities(
    mentions: pd.DataFrame, assignments: pd.DataFrame, id_column: str, columns: list[str]
) -> pd.DataFrame:
    """The ``columns`` of the mentions (those it has) with the id of the entity each was resolved to
    (mentions not resolved are left out)."""
    ids = assignments[["record_key", "entity_id"]].rename(columns={"entity_id": id_column})
    keep = ["record_key", *(c for c in columns if c in mentions.columns and c != "record_key")]
    return mentions[keep].merge(ids, on="record_key", how="inner")


@dataclass(frozen=True)
class LegalRepRules:
    """The settings of :func:`link_legal_representatives` (``legal_representatives:`` in gridhub.yaml).

    ``min_age``: a person every known birth date of whom (stated, or encoded in a valid ID) makes them younger
    than this on the data's as-of date (:func:`~matching.roles_evidence.data_as_of`) is never a candidate,
    nor does such a person make an adult's name common. 16 is the law's floor: a 法定代表人 needs full civil
    capacity (民法典 art. 17–18: 18, or 16 living on one's own labour).
    ``homophone_fallback``: when every namesake of the name as written lacks evidence, or the ID (in full or
    masked) rules every one out, persons whose name sounds the same are candidates too (with the stronger
    evidence homophones always need)."""

    min_age: int = 16
    homophone_fallback: bool = True


def link_legal_representatives(
    *,
    persons: pd.DataFrame,
    person_assignments: pd.DataFrame,
    organisations: pd.DataFrame,
    organisation_assignments: pd.DataFrame,
    organisation_golden: pd.DataFrame,
    links: pd.DataFrame,
    rules: LegalRepRules | None = None,
) -> pd.DataFrame:
    """For every resolved organisation, its legal representative's person id (or null) and how it was linked.

    ``persons`` / ``organisations`` are the bound mentions (``matching.address.bind_address_fields``),
    ``*_assignments`` the entity resolution's record key → entity id, ``organisation_golden`` the golden
    organisations (``org_id``, ``legal_rep``: the name published), ``links`` the mention links
    (``matching.mentions``: 人社's 就业 links are the employment evidence), ``rules`` the settings
    (:class:`LegalRepRules`, defaults when None). Returns one row per golden organisation with
    :data:`LEGAL_REP_COLUMNS`; ``feed`` is the feed that stated the representative.
    """
    rules = rules or LegalRepRules()
    orgs = _entities(organisations, organisation_assignments, "org_id", list(ORG_COLUMNS))
    people = _entities(persons, person_assignments, "person_id", list(PERSON_COLUMNS))
    reps = _representatives(orgs, organisation_golden.rename(columns={"entity_id": "org_id"}))
    person_ids = (
        pd.DataFrame({"id_number": column(people, "id_number"), "person_id": people["person_id"]})
        .dropna()
        .drop_duplicates()
    )
    by_id = _link_by_id(reps, person_ids)
    open_reps = reps[~isin(reps["org_id"], by_id.index.to_series())]
    # a child is nobody's 法定代表人: not a candidate, and no reason to call an adult's name common
    adults = people[~isin(people["person_id"], minors(people, person_ids, orgs, rules.min_age))]
    unique = unique_name_persons(adults)
    employment = employment_pairs(links, person_assignments, organisation_assignments)
    resolved = Resolved(people=people, adults=adults, orgs=orgs, person_ids=person_ids, employment=employment)

    def by_name(open_: pd.DataFrame, sounds_only: bool) -> pd.DataFrame:
        cands, unseen = name_candidates(open_, resolved, sounds_only=sounds_only)
        ruled_out = _contradicts_id(cands, open_, people) | masked_contradicts(
            cands, open_, people, person_ids
        )
        cands = cands[~ruled_out]
        decided = _decide(cands, evidence(cands, open_, people, orgs, person_ids, employment, unique))
        return _with_unseen(decided, unseen)

    named = by_name(open_reps, sounds_only=False)
    if rules.homophone_fallback:  # namesakes none of whom has evidence: maybe the name was keyed wrong
        bare = named.index[named["link"] == "no_supporting_evidence"].to_series()
        # so are namesakes the ID (in full or masked) rules out every one of: 张朋 keyed for 张鹏
        ruled_out = open_reps.loc[open_reps["legal_rep"].notna(), "org_id"]
        ruled_out = ruled_out[~isin(ruled_out, named.index.to_series())]
        sounds = by_name(open_reps[isin(open_reps["org_id"], pd.concat([bare, ruled_out]))], sounds_only=True)
        sounds = sounds[sounds["link"] != "no_supporting_evidence"]
        named = pd.concat([named.drop(sounds.index, errors="ignore"), sounds])
    decided = pd.concat([by_id, named])
    out = reps[["org_id", "legal_rep", "feed"]].copy()
    out["legal_rep_person_id"] = out["org_id"].map(decided["person_id"]).astype("string")
    id_given = reps["legal_rep_id"].notna() | isin(reps["org_id"], masked_ids(reps)["org_id"])
    reason = np.where(
        id_given,
        "no_person_with_id",
        np.where(reps["legal_rep"].notna(), "name_not_found", "no_legal_rep"),
    )
    link = out["org_id"].map(decided["link"]).astype("string")
    # a valid ID no person carries says more than namesakes without (or with equal) evidence
    unlinked_name = link.isin(["ambiguous_name", "no_supporting_evidence"]).fillna(False)
    id_first = reps["legal_rep_id"].notna() & unlinked_name
    out["legal_rep_link"] = link.mask(id_first | link.isna(), pd.Series(reason, index=out.index))
    unknown = set(out["legal_rep_link"].dropna()) - set(LEGAL_REP_LINKS)
    if unknown:  # a value the schema does not list would fail the warehouse gate: fail here, by name
        raise ValueError(f"legal representative links outside warehouse.schema.LEGAL_REP_LINKS: {unknown}")
    return out[LEGAL_REP_COLUMNS].sort_values("org_id", ignore_index=True)


def _representatives(orgs: pd.DataFrame, golden: pd.DataFrame) -> pd.DataFrame:
    """Per golden organisation, the representative one of its mentions states: name, valid ID, invalid ID, feed.

    The mention chosen agrees with the golden (published) name where it can, then gives a valid ID, then
    has the feed's priority, the latest record date and the smallest record key: the same inputs always
    choose the same mention. An organisation no mention names a representative for has nulls.
    """
    m = pd.DataFrame(
        {
            "org_id": orgs["org_id"].astype("string"),
            "legal_rep": column(orgs, "legal_rep"),
            "legal_rep_id": column(orgs, "legal_rep_id"),
            "legal_rep_id_invalid": column(orgs, "legal_rep_id_invalid"),
            "feed": column(orgs, "feed"),
            "_prio": pd.to_numeric(orgs.get("priority"), errors="coerce"),
            "_date": pd.to_datetime(orgs.get("record_date"), errors="coerce"),
            "_key": column(orgs, "record_key"),
        }
    )
    m = m[m[["legal_rep", "legal_rep_id", "legal_rep_id_invalid"]].notna().any(axis=1)]
    published = m["org_id"].map(
        dict(zip(golden["org_id"], golden.get("legal_rep", pd.Series()), strict=False))
    )
    m["_agrees"] = (m["legal_rep"] == published).fillna(False) | published.isna()
    m["_has_id"] = m["legal_rep_id"].notna()
    m = m.sort_values(
        ["org_id", "_agrees", "_has_id", "_prio", "_date", "_key"],
        ascending=[True, False, False, False, False, True],
        na_position="last",
    ).drop_duplicates("org_id")
    out = pd.DataFrame({"org_id": golden["org_id"].astype("string")}).merge(m, on="org_id", how="left")
    return out[["org_id", "legal_rep", "legal_rep_id", "legal_rep_id_invalid", "feed"]]


def _link_by_id(reps: pd.DataFrame, person_ids: pd.DataFrame) -> pd.DataFrame:
    """Organisations whose representative's valid ID some person carries: ``person_id`` and ``link``
    (``id``; ``ambiguous_id`` when resolution left that ID in several persons), indexed by org_id."""
    hits = (
        reps[["org_id", "legal_rep_id"]]
        .dropna()
        .merge(person_ids, left_on="legal_rep_id", right_on="id_number")
    )
    hits = hits.drop_duplicates(["org_id", "person_id"])
    n = hits.groupby("org_id")["person_id"].transform("size")
    out = hits.drop_duplicates("org_id").set_index("org_id")[["person_id"]].astype("string")
    several = n.groupby(hits["org_id"]).first() > 1
    out["link"] = np.where(several.reindex(out.index), "ambiguous_id", "id")
    out["person_id"] = out["person_id"].mask(out["link"] == "ambiguous_id")
    return out


def _with_unseen(decided: pd.DataFrame, unseen: pd.Series) -> pd.DataFrame:
    """``decided`` and, for each organisation of ``unseen`` it has no row for, ``no_supporting_evidence``: its
    namesakes were counted, not paired, because no evidence and no ID could tell them apart
    (:func:`~matching.roles_candidates.name_candidates`)."""
    unseen = pd.Index(unseen[~isin(unseen, decided.index.to_series())].unique(), dtype="string")
    if unseen.empty:
        return decided
    nobody = pd.DataFrame(
        {"person_id": pd.Series(pd.NA, index=unseen, dtype="string"), "link": "no_supporting_evidence"}
    )
    return pd.concat([decided, nobody])


def _decide(cands: pd.DataFrame, evidence: pd.DataFrame) -> pd.DataFrame:
    """Per organisation with candidates: the one candidate with the most support, or why none is linked.

    Support is (rank of the strongest evidence, number of independent kinds); the candidate with the most
    is linked when no other has as much (``<match>_and_<strongest evidence>``), several with equal support
    are ``ambiguous_name``, and no evidence at all is ``no_supporting_evidence``. Indexed by org_id.
    """
    if cands.empty:
        return pd.DataFrame({"person_id": pd.Series(dtype="string"), "link": pd.Series(dtype="string")})
    ev = evidence.assign(group=evidence["kind"].map(GROUP))
    ev["order"] = ev["kind"].map({k: i for i, k in enumerate(EVIDENCE)})
    best = ev.sort_values(["org_id", "person_id", "rank", "order"], ascending=[True, True, False, True])
    best = best.drop_duplicates(["org_id", "person_id"]).set_index(["org_id", "person_id"])
    kinds = ev.groupby(["org_id", "person_id"])["group"].nunique()
    c = cands.set_index(["org_id", "person_id"])
    c["rank"] = best["rank"].reindex(c.index).fillna(0).to_numpy()
    c["kinds"] = kinds.reindex(c.index).fillna(0).to_numpy()
    c["best"] = best["kind"].reindex(c.index).to_numpy()
    c = c.reset_index().sort_values(
        ["org_id", "rank", "kinds", "person_id"], ascending=[True, False, False, True]
    )
    top = c.drop_duplicates("org_id").set_index("org_id")
    level = c[["org_id", "rank", "kinds"]].merge(
        top[["rank", "kinds"]].reset_index(), on=["org_id", "rank", "kinds"]
    )
    tied = level.groupby("org_id").size().reindex(top.index) > 1
    supported = top["rank"] > 0
    link = np.where(
        ~supported,
        "no_supporting_evidence",
        np.where(tied, "ambiguous_name", top["match"].astype(str) + "_and_" + top["best"].astype(str)),
    )
    out = pd.DataFrame({"person_id": top["person_id"].astype("string"), "link": link}, index=top.index)
    out["person_id"] = out["person_id"].mask(out["link"].isin(["no_supporting_evidence", "ambiguous_name"]))
    return out


def _contradicts_id(cands: pd.DataFrame, reps: pd.DataFrame, people: pd.DataFrame) -> np.ndarray:
    """Candidates a valid representative's ID rules out: every birth date the candidate is known by differs
    from the ID's, or every sex it is known by does (a candidate known by neither is not ruled out)."""
    if cands.empty:
        return np.zeros(0, dtype=bool)
    ids = reps[["org_id", "legal_rep_id"]].dropna()
    ids = ids.assign(id_birth=ids["legal_rep_id"].str[6:14], id_sex=id_sex(ids["legal_rep_id"]))
    them = people[isin(people["person_id"], cands["person_id"])]  # only the candidates' dates matter
    known = birth_digits(them, pd.DataFrame(columns=["id_number", "person_id"]))
    c = cands[["org_id", "person_id"]].reset_index(drop=True).reset_index()
    pairs = c.merge(ids, on="org_id").merge(known, on="person_id")
    out = np.zeros(len(c), dtype=bool)
    for value, stated in (("id_birth", "birth"), ("id_sex", "sex")):
        p = pairs.dropna(subset=[value, stated])
        agree = (p[value] == p[stated]).groupby(p["index"]).any()
        out[agree.index[~agree.to_numpy()].to_numpy()] = True
    return out
