"""Persons in roles of organisations: each organisation's 法定代表人 linked to a resolved person, or not, and why.

市场监管 names every organisation's legal representative (法定代表人), in some extracts with the
representative's ID number (法定代表人证件号码). Once persons and organisations are resolved,
:func:`link_legal_representatives` decides for every organisation which person that representative is:

1. **By ID.** A valid ID (18 characters, check digit right, legacy 15-digit numbers upgraded) equal to a
   resolved person's ID links to that person (``id``), whatever the names say. A valid ID that no person
   carries still rules out every namesake with a different valid ID (two valid IDs that differ are two
   people); a namesake with no valid ID may still be linked by name (step 2).
2. **By name, with evidence.** Otherwise the persons with the representative's name (normalised: 繁→简,
   full-width folded, spaces removed) are the candidates, and a name alone links no one: a district has
   many 王伟. A valid ID rules out the candidates whose records give another birth date, or another sex,
   than it encodes. Each candidate is credited with independent evidence that it is this organisation's
   representative (:data:`EVIDENCE`, strongest first):

   - ``id_typo``: the representative's ID is invalid but one edit (a changed, missing or extra character,
     or two neighbours swapped) away from the candidate's valid ID;
   - ``id_birth``: the representative's ID (valid but nobody's, or invalid) encodes the candidate's birth
     date and sex (a candidate with a valid ID must share its first 14 characters, area and birth date);
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

   ``id_birth``, ``address``, ``employment`` and ``phone`` weigh the same. A candidate's support is its strongest
   evidence, then the number of independent kinds it has (place, employment, phone, ID; ``building``, ``grid``
   and ``address`` are one place, ``id_typo`` and ``id_birth`` one ID). The one candidate with the most
   support is linked (``name_and_<evidence>``); several with equal support are ``ambiguous_name``;
   candidates without any evidence are ``no_supporting_evidence``.
3. **By a homophone, with stronger evidence.** When no person has the name as written, persons whose name
   has the same surname character and sounds the same (pinyin without tones: 张伟 for 张玮, a common keying
   error) are the candidates, under the same rules except that ``building`` and ``grid`` do not count
   for them, nor does a shared phone (``homophone_and_<evidence>``). Pinyin is never evidence on its own, and
   neither is a phone: only persons with the name (or its sound) are ever candidates.

Every organisation gets one row: the linked person (or null) and :data:`~warehouse.schema.LEGAL_REP_LINKS`
value saying how it was linked or why not. Everything is merges and group-bys over the whole district.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import OSA

from matching.normalize import name_pinyin
from warehouse.schema import LEGAL_REP_EVIDENCE, LEGAL_REP_LINKS

#: The kinds of evidence, strongest first, and the rank of each (``id_birth``, ``address``, ``employment`` and
#: ``phone`` weigh the same).
EVIDENCE = LEGAL_REP_EVIDENCE
_RANK = {
    "id_typo": 3,
    "id_birth": 2,
    "address": 2,
    "employment": 2,
    "phone": 2,
    "household_phone": 1,
    "building": 1,
    "grid": 1,
}
#: The rank of ``phone`` when the number is carried by several resolved persons (a household's landline, a
#: parent's mobile on a child's record): as weak as the building.
_SHARED_PHONE_RANK = 1
#: Evidence of the same kind of fact counts once in the number of independent kinds.
_GROUP = {
    "id_typo": "id",
    "id_birth": "id",
    "address": "place",
    "employment": "employment",
    "phone": "phone",
    "household_phone": "phone",
    "building": "place",
    "grid": "place",
}
#: Evidence that counts only for a name as written that no other resolved person has (see :func:`_evidence`).
_UNIQUE_NAME_ONLY = ("building", "grid")
#: The columns of :func:`link_legal_representatives`' result.
LEGAL_REP_COLUMNS = ["org_id", "legal_rep", "legal_rep_person_id", "legal_rep_link", "feed"]
#: (place column on person mentions, kind) and (place column on organisation mentions, kind).
_PERSON_PLACES = (
    ("address_code", "address"),
    ("building_code", "building"),
    ("hukou_address_code", "address"),
    ("hukou_building_code", "building"),
    ("grid_code", "grid"),
    ("hukou_grid_code", "grid"),
)
_ORG_PLACES = (
    ("address_code", "address"),
    ("building_code", "building"),
    ("business_address_code", "address"),
    ("business_building_code", "building"),
    ("grid_code", "grid"),
    ("business_grid_code", "grid"),
)


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    """A text column of ``df``, all missing when ``df`` was written before the column existed."""
    if name in df.columns:
        return df[name].astype("string")
    return pd.Series(pd.NA, index=df.index, dtype="string")


def _entities(
    mentions: pd.DataFrame, assignments: pd.DataFrame, id_column: str, columns: list[str]
) -> pd.DataFrame:
    """The ``columns`` of the mentions (those it has) with the id of the entity each was resolved to
    (mentions not resolved are left out)."""
    ids = assignments[["record_key", "entity_id"]].rename(columns={"entity_id": id_column})
    keep = ["record_key", *(c for c in columns if c in mentions.columns and c != "record_key")]
    return mentions[keep].merge(ids, on="record_key", how="inner")


def link_legal_representatives(
    *,
    persons: pd.DataFrame,
    person_assignments: pd.DataFrame,
    organisations: pd.DataFrame,
    organisation_assignments: pd.DataFrame,
    organisation_golden: pd.DataFrame,
    links: pd.DataFrame,
) -> pd.DataFrame:
    """For every resolved organisation, its legal representative's person id (or null) and how it was linked.

    ``persons`` / ``organisations`` are the bound mentions (``matching.address.bind_address_fields``),
    ``*_assignments`` the entity resolution's record key → entity id, ``organisation_golden`` the golden
    organisations (``org_id``, ``legal_rep``: the name published), ``links`` the mention links
    (``matching.mentions``: 人社's 就业 links are the employment evidence). Returns one row per golden
    organisation with :data:`LEGAL_REP_COLUMNS`; ``feed`` is the feed that stated the representative.
    """
    org_columns = [
        "feed",
        "priority",
        "record_date",
        "legal_rep",
        "legal_rep_id",
        "legal_rep_id_invalid",
        "org_phone",
    ]
    orgs = _entities(
        organisations, organisation_assignments, "org_id", [*org_columns, *(c for c, _ in _ORG_PLACES)]
    )
    people = _entities(
        persons,
        person_assignments,
        "person_id",
        ["name", "name_pinyin", "id_number", "birth_date", "sex", "phone", *(c for c, _ in _PERSON_PLACES)],
    )
    reps = _representatives(orgs, organisation_golden.rename(columns={"entity_id": "org_id"}))
    person_ids = (
        pd.DataFrame({"id_number": _column(people, "id_number"), "person_id": people["person_id"]})
        .dropna()
        .drop_duplicates()
    )
    by_id = _link_by_id(reps, person_ids)
    open_reps = reps[~_isin(reps["org_id"], by_id.index.to_series())]
    candidates = _candidates(open_reps, people, person_ids)
    candidates = candidates[~_contradicts_id(candidates, open_reps, people)]
    employment = _employment(links, person_assignments, organisation_assignments)
    evidence = _evidence(candidates, open_reps, people, orgs, person_ids, employment)
    by_name = _decide(candidates, evidence)
    decided = pd.concat([by_id, by_name])
    out = reps[["org_id", "legal_rep", "feed"]].copy()
    out["legal_rep_person_id"] = out["org_id"].map(decided["person_id"]).astype("string")
    reason = np.where(
        reps["legal_rep_id"].notna(),
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
            "legal_rep": _column(orgs, "legal_rep"),
            "legal_rep_id": _column(orgs, "legal_rep_id"),
            "legal_rep_id_invalid": _column(orgs, "legal_rep_id_invalid"),
            "feed": _column(orgs, "feed"),
            "_prio": pd.to_numeric(orgs.get("priority"), errors="coerce"),
            "_date": pd.to_datetime(orgs.get("record_date"), errors="coerce"),
            "_key": _column(orgs, "record_key"),
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


def _candidates(reps: pd.DataFrame, people: pd.DataFrame, person_ids: pd.DataFrame) -> pd.DataFrame:
    """(org_id, person_id, match) pairs: the persons named like the representative (``name``), else, when
    no person has that name, those with the same surname character whose name sounds the same
    (``homophone``). Persons with a valid ID are left out when the representative's valid ID differs."""
    names = pd.DataFrame(
        {
            "name": _column(people, "name"),
            "name_pinyin": _column(people, "name_pinyin"),
            "person_id": people["person_id"],
        }
    ).dropna(subset=["name"])
    names = names.drop_duplicates(["name", "person_id"])
    named = reps[["org_id", "legal_rep", "legal_rep_id"]].dropna(subset=["legal_rep"])
    exact = named.merge(names[["name", "person_id"]], left_on="legal_rep", right_on="name")
    exact["match"] = "name"
    rest = named[~_isin(named["org_id"], exact["org_id"])].copy()
    rest["_key"] = _sound_key(rest["legal_rep"], name_pinyin(rest["legal_rep"]))
    # the mentions carry their name's pinyin: only those that could sound like one of the rest are keyed
    maybe = names[_isin(names["name"].str[0], rest["legal_rep"].str[0])]
    pinyin = maybe["name_pinyin"].copy()
    if pinyin.isna().any():  # mentions written before names had their pinyin
        pinyin[pinyin.isna()] = name_pinyin(maybe.loc[pinyin.isna(), "name"])
    sounds = maybe.assign(_key=_sound_key(maybe["name"], pinyin)).dropna(subset=["_key"])
    homophone = rest.dropna(subset=["_key"]).merge(sounds[["_key", "person_id"]], on="_key")
    homophone["match"] = "homophone"
    cands = pd.concat([exact, homophone.drop(columns="_key")], ignore_index=True)
    has_valid_id = _isin(cands["person_id"], person_ids["person_id"])
    cands = cands[~(cands["legal_rep_id"].notna().to_numpy() & has_valid_id)]
    return cands[["org_id", "person_id", "match"]].drop_duplicates(["org_id", "person_id"])


def _isin(values: pd.Series, among: pd.Series) -> np.ndarray:
    """``values.isin(among)`` as a bool array, through object arrays (fast hash look-ups for Arrow text)."""
    wanted = pd.unique(pd.Series(among.to_numpy(object), dtype=object))
    return pd.Series(values.to_numpy(object), dtype=object).isin(wanted).to_numpy()


def _sound_key(names: pd.Series, pinyin: pd.Series) -> pd.Series:
    """Surname character + tone-less pinyin of the whole name: equal for homophones like 张伟 / 张玮."""
    names = names.astype("string")
    return (names.str[0] + "|" + pinyin.astype("string")).where(names.str.len() >= 2)


def _employment(
    links: pd.DataFrame, person_assignments: pd.DataFrame, org_assignments: pd.DataFrame
) -> pd.DataFrame:
    """(person_id, org_id) of every employment (就业) link between resolved mentions."""
    e = links.loc[
        (links["kind"] == "person_organisation") & (links["relation"] == "就业"), ["from_key", "to_key"]
    ]
    person_of = person_assignments[["record_key", "entity_id"]].rename(
        columns={"record_key": "from_key", "entity_id": "person_id"}
    )
    org_of = org_assignments[["record_key", "entity_id"]].rename(
        columns={"record_key": "to_key", "entity_id": "org_id"}
    )
    pairs = e.merge(person_of, on="from_key").merge(org_of, on="to_key")
    return pairs[["person_id", "org_id"]].dropna().drop_duplicates()


def _places(frame: pd.DataFrame, id_column: str, columns: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """(id, code, kind) of every bound place of the mentions: standard address or building codes."""
    parts = [
        pd.DataFrame({id_column: frame[id_column], "code": frame[c].astype("string"), "kind": kind})
        for c, kind in columns
        if c in frame.columns
    ]
    if not parts:
        return pd.DataFrame(columns=[id_column, "code", "kind"])
    return pd.concat(parts, ignore_index=True).dropna(subset=["code"]).drop_duplicates()


def _evidence(
    cands: pd.DataFrame,
    reps: pd.DataFrame,
    people: pd.DataFrame,
    orgs: pd.DataFrame,
    person_ids: pd.DataFrame,
    employment: pd.DataFrame,
) -> pd.DataFrame:
    """(org_id, person_id, kind) for every piece of evidence a candidate has, one row per kind."""
    pair = cands[["org_id", "person_id"]]
    org_places = _places(orgs, "org_id", _ORG_PLACES)
    person_places = _places(people, "person_id", _PERSON_PLACES)
    place = pair.merge(org_places, on="org_id").merge(person_places, on=["person_id", "code", "kind"])
    worked = pair.merge(employment, on=["org_id", "person_id"]).assign(kind="employment")
    typo = pair.merge(reps[["org_id", "legal_rep_id_invalid"]].dropna(), on="org_id").merge(
        person_ids, on="person_id"
    )
    distance = (
        process.cpdist(
            list(typo["legal_rep_id_invalid"]), list(typo["id_number"]), scorer=OSA.distance, workers=1
        )
        if len(typo)
        else np.empty(0)
    )
    typo = typo[np.asarray(distance) <= 1].assign(kind="id_typo")
    born = _id_birth(pair, reps, people, person_ids)
    frames = [f[["org_id", "person_id", "kind"]] for f in (place, worked, typo, born)]
    ev = pd.concat(frames, ignore_index=True).assign(rank=lambda f: f["kind"].map(_RANK))
    ev = pd.concat([ev, _phone(pair, orgs, people), _household_phone(pair, orgs, people)], ignore_index=True)
    ev = ev.sort_values("rank", ascending=False).drop_duplicates(["org_id", "person_id", "kind"])
    # a name that only sounds the same is weaker: the building, the grid or a shared phone does not support it
    match = ev.merge(cands, on=["org_id", "person_id"], how="left")["match"].to_numpy()
    weak = (match == "homophone") & (ev["rank"] <= 1).to_numpy()
    # a building holds dozens of people, a grid hundreds: they support only a name nobody else in the
    # district has (then a wrong link needs the representative to be missing from every person feed AND the
    # one namesake to live next to the organisation)
    common = ~_isin(ev["person_id"], _unique_name_persons(people))
    return ev[~weak & ~(ev["kind"].isin(_UNIQUE_NAME_ONLY).to_numpy() & common)]


def _phone(pair: pd.DataFrame, orgs: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    """(org_id, person_id, kind=phone, rank): one of the organisation's mentions gives as its 联系电话 a valid
    phone one of the candidate's records carries. A number on the records of several resolved persons (a
    household's landline, a parent's mobile on a child's record) says less about who it is: rank
    :data:`_SHARED_PHONE_RANK`. Only candidates (named like the representative) are looked at: a phone never
    links anyone on its own."""
    org_phones = pd.DataFrame({"org_id": orgs["org_id"], "phone": _column(orgs, "org_phone")})
    held = pd.DataFrame({"person_id": people["person_id"], "phone": _column(people, "phone")})
    held = held.dropna().drop_duplicates()
    holders = held.groupby("phone")["person_id"].transform("size")
    held = held.assign(rank=np.where(holders > 1, _SHARED_PHONE_RANK, _RANK["phone"]))
    hits = pair.merge(org_phones.dropna().drop_duplicates(), on="org_id").merge(
        held, on=["person_id", "phone"]
    )
    hits = hits.assign(kind="phone")[["org_id", "person_id", "kind", "rank"]]
    return hits.sort_values("rank", ascending=False).drop_duplicates(["org_id", "person_id"])


def _household_phone(pair: pd.DataFrame, orgs: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    """(org_id, person_id, kind=household_phone, rank): the organisation's 联系电话 is a valid phone of another
    resolved person who lives at one of the candidate's standard addresses (residence, room level). A family
    business often registers the spouse's or a parent's mobile. As weak as the building: it supports a name
    (never a homophone) and never links anyone on its own."""
    org_phones = pd.DataFrame({"org_id": orgs["org_id"], "phone": _column(orgs, "org_phone")})
    held = pd.DataFrame({"holder": people["person_id"], "phone": _column(people, "phone")})
    homes = pd.DataFrame({"person_id": people["person_id"], "home": _column(people, "address_code")})
    homes = homes.dropna().drop_duplicates()
    hits = pair.merge(org_phones.dropna().drop_duplicates(), on="org_id").merge(
        held.dropna().drop_duplicates(), on="phone"
    )
    hits = hits[hits["holder"] != hits["person_id"]]
    hits = hits.merge(homes, on="person_id").merge(
        homes.rename(columns={"person_id": "holder"}), on=["holder", "home"]
    )
    hits = hits.assign(kind="household_phone", rank=_RANK["household_phone"])
    return hits[["org_id", "person_id", "kind", "rank"]].drop_duplicates(["org_id", "person_id"])


def _decide(cands: pd.DataFrame, evidence: pd.DataFrame) -> pd.DataFrame:
    """Per organisation with candidates: the one candidate with the most support, or why none is linked.

    Support is (rank of the strongest evidence, number of independent kinds); the candidate with the most
    is linked when no other has as much (``<match>_and_<strongest evidence>``), several with equal support
    are ``ambiguous_name``, and no evidence at all is ``no_supporting_evidence``. Indexed by org_id.
    """
    if cands.empty:
        return pd.DataFrame({"person_id": pd.Series(dtype="string"), "link": pd.Series(dtype="string")})
    ev = evidence.assign(group=evidence["kind"].map(_GROUP))
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


def _unique_name_persons(people: pd.DataFrame) -> pd.Series:
    """The persons whose name (as resolved mentions write it) no other resolved person has."""
    names = pd.DataFrame({"name": _column(people, "name"), "person_id": people["person_id"]}).dropna()
    names = names.drop_duplicates()
    per_name = names.groupby("name")["person_id"].transform("size")
    per_person = names.groupby("person_id")["name"].transform(
        "size"
    )  # a person known by two names: not unique
    return names.loc[(per_name == 1) & (per_person == 1), "person_id"]


def _birth_digits(people: pd.DataFrame, person_ids: pd.DataFrame) -> pd.DataFrame:
    """(person_id, birth, sex) every resolved person is known by: the birth date (YYYYMMDD) and sex of its
    mentions, and those its valid ID encodes."""
    born = pd.to_datetime(people.get("birth_date"), errors="coerce") if "birth_date" in people else None
    stated = pd.DataFrame(
        {
            "person_id": people["person_id"],
            "birth": born.dt.strftime("%Y%m%d").astype("string") if born is not None else pd.NA,
            "sex": _column(people, "sex").where(_column(people, "sex").isin(["M", "F"])),
        }
    )
    ids = person_ids["id_number"].astype("string")
    coded = pd.DataFrame({"person_id": person_ids["person_id"], "birth": ids.str[6:14], "sex": _id_sex(ids)})
    return pd.concat([stated, coded], ignore_index=True).drop_duplicates()


def _id_sex(ids: pd.Series) -> pd.Series:
    """M / F from the 17th character of 18-character IDs (odd: male), else missing."""
    digit = pd.to_numeric(ids.astype("string").str[16], errors="coerce")
    sex = pd.Series(pd.NA, index=ids.index, dtype="string")
    sex[digit.notna()] = np.where(digit[digit.notna()] % 2 == 1, "M", "F")
    return sex


def _contradicts_id(cands: pd.DataFrame, reps: pd.DataFrame, people: pd.DataFrame) -> np.ndarray:
    """Candidates a valid representative's ID rules out: every birth date the candidate is known by differs
    from the ID's, or every sex it is known by does (a candidate known by neither is not ruled out)."""
    if cands.empty:
        return np.zeros(0, dtype=bool)
    ids = reps[["org_id", "legal_rep_id"]].dropna()
    ids = ids.assign(id_birth=ids["legal_rep_id"].str[6:14], id_sex=_id_sex(ids["legal_rep_id"]))
    known = _birth_digits(people, pd.DataFrame(columns=["id_number", "person_id"]))
    c = cands[["org_id", "person_id"]].reset_index(drop=True).reset_index()
    pairs = c.merge(ids, on="org_id").merge(known, on="person_id")
    out = np.zeros(len(c), dtype=bool)
    for value, stated in (("id_birth", "birth"), ("id_sex", "sex")):
        p = pairs.dropna(subset=[value, stated])
        agree = (p[value] == p[stated]).groupby(p["index"]).any()
        out[agree.index[~agree.to_numpy()].to_numpy()] = True
    return out


def _id_birth(
    pair: pd.DataFrame, reps: pd.DataFrame, people: pd.DataFrame, person_ids: pd.DataFrame
) -> pd.DataFrame:
    """(org_id, person_id, kind=id_birth): the representative's ID, valid but nobody's or invalid, encodes the
    candidate's birth date and sex. A candidate with a valid ID must share the ID's area code as well (its
    first 14 characters): two namesakes born the same day are planted in every district."""
    given = reps["legal_rep_id"].fillna(reps["legal_rep_id_invalid"]).astype("string")
    stated = pd.DataFrame({"org_id": reps["org_id"], "rep_id": given}).dropna()
    stated = stated[stated["rep_id"].str.len() == 18]
    stated = stated.assign(birth=stated["rep_id"].str[6:14], sex=_id_sex(stated["rep_id"]))
    known = _birth_digits(people, pd.DataFrame(columns=["id_number", "person_id"]))
    hits = pair.merge(stated, on="org_id").merge(known, on=["person_id", "birth"])
    hits = hits[(hits["sex_x"] == hits["sex_y"]).fillna(True).to_numpy(bool)]
    valid = person_ids.rename(columns={"id_number": "own_id"})
    hits = hits.merge(valid, on="person_id", how="left")
    same_start = (hits["own_id"].str[:14] == hits["rep_id"].str[:14]).fillna(False).to_numpy(bool)
    hits = hits[hits["own_id"].isna().to_numpy() | same_start]
    return hits.assign(kind="id_birth")[["org_id", "person_id", "kind"]].drop_duplicates()
