"""The namesakes a 法定代表人 may be (see :mod:`matching.roles`): those evidence or an ID can decide, and a count.

A name alone links no one, so a namesake without evidence changes an organisation's outcome only by being
there (``no_supporting_evidence`` rather than ``name_not_found``). Pairing every organisation with every
resident of its representative's name grows with the organisations times the namesakes, faster than the
district (issue #19: 王伟 has hundreds of namesakes in a million residents). So :func:`name_candidates` pairs
an organisation only with the namesakes that could be told apart:

- every namesake, when the name has at most :data:`SMALL_GROUP` of them (the same building or grid supports
  only a name no other person has: such a namesake must be seen whatever its evidence);
- else the namesakes that share a fact with the organisation that some evidence compares (:func:`_facts`: an
  address, a phone, an employment, a birth date, the head or tail of an ID one edit away, the characters a
  masked ID shows), found by key joins on (name, fact), never by pairing whole name groups;
- and, for a representative whose ID (valid, or masked) can rule namesakes out, every namesake it cannot rule
  out: those without a valid ID and, for a masked ID, those whose valid ID shows through the mask.

The others (common name, no shared fact, no ID to rule them out) cannot be linked and cannot change the
outcome but by existing: they are counted (``unseen``), not paired. The pairs are a superset of those the
evidence and the rule-outs decide on, and the rules themselves run on them unchanged, so the links are the
same as pairing every namesake.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.normalize import name_pinyin
from matching.roles_evidence import column, isin, masked_ids

#: A name with at most this many adult residents pairs every one of them with the organisation: evidence that
#: counts only for a name no other person has (``building``, ``grid``, a masked ID that shows little) needs it.
SMALL_GROUP = 1
#: Mask shapes (the characters shown) keyed on their own; past these, a masked ID's organisation is paired with
#: every namesake with a valid ID (the same links, only slower).
MAX_MASK_SHAPES = 32


@dataclass(frozen=True)
class Resolved:
    """The resolved mentions the candidates are drawn from: ``people`` every person mention with its
    ``person_id``, ``adults`` those of persons who may be a representative, ``orgs`` the organisation mentions
    with their ``org_id``, ``person_ids`` the valid (id_number, person_id), ``employment`` (person_id, org_id)."""

    people: pd.DataFrame
    adults: pd.DataFrame
    orgs: pd.DataFrame
    person_ids: pd.DataFrame
    employment: pd.DataFrame


def name_candidates(
    reps: pd.DataFrame, d: Resolved, *, sounds_only: bool = False
) -> tuple[pd.DataFrame, pd.Series]:
    """(org_id, person_id, match) pairs and the org_ids with ``unseen`` namesakes (left out, see the module).

    ``match`` is ``name`` for the persons named like the representative, ``homophone`` for those whose name
    sounds the same when no adult has the name as written; with ``sounds_only`` only homophones (the name as
    written left out). Persons with a valid ID are left out when the representative's valid ID differs.
    With :data:`SMALL_GROUP` set very large, every namesake is paired (the tests compare the two)."""
    named = reps[["org_id", "legal_rep", "legal_rep_id"]].dropna(subset=["legal_rep"])
    names = pd.DataFrame(
        {
            "name": column(d.adults, "name"),
            "name_pinyin": column(d.adults, "name_pinyin"),
            "person_id": d.adults["person_id"],
        }
    ).dropna(subset=["name"])
    names = names.drop_duplicates(["name", "person_id"])
    parts, unseen = [], []
    rest = named
    if not sounds_only:
        exact = names[["name", "person_id"]].assign(key=names["name"])
        orgs = named.assign(key=named["legal_rep"])
        count = orgs["key"].map(exact.groupby("key").size()).fillna(0).astype("int64")
        found = orgs[(count > 0).to_numpy()]
        pairs, hidden = _keyed(found, exact, count[count > 0], reps, d, homophone=False)
        parts.append(pairs.assign(match="name"))
        unseen.append(hidden)
        rest = named[~isin(named["org_id"], found["org_id"])]
    rest = rest.assign(key=_sound_key(rest["legal_rep"], name_pinyin(rest["legal_rep"]))).dropna(
        subset=["key"]
    )
    sounds = _sounds(names, rest)
    count = _homophone_counts(rest, sounds)
    rest = rest[(count > 0).to_numpy()]
    pairs, hidden = _keyed(rest, sounds, count[count > 0], reps, d, homophone=True)
    parts.append(pairs.assign(match="homophone"))
    unseen.append(hidden)
    cands = pd.concat(parts, ignore_index=True).merge(named[["org_id", "legal_rep_id"]], on="org_id")
    has_valid_id = isin(cands["person_id"], d.person_ids["person_id"])
    cands = cands[~(cands["legal_rep_id"].notna().to_numpy() & has_valid_id)]
    cands = cands[["org_id", "person_id", "match"]].drop_duplicates(["org_id", "person_id"])
    return cands.reset_index(drop=True), pd.concat(unseen, ignore_index=True).astype("string")


def _sound_key(names: pd.Series, pinyin: pd.Series) -> pd.Series:
    """Surname character + tone-less pinyin of the whole name: equal for homophones like 张伟 / 张玮."""
    names = names.astype("string")
    return (names.str[0] + "|" + pinyin.astype("string")).where(names.str.len() >= 2)


def _sounds(names: pd.DataFrame, rest: pd.DataFrame) -> pd.DataFrame:
    """(key, name, person_id): the sound key of every adult's name that could sound like one of ``rest``'s
    (the same surname character); the mentions carry their name's pinyin, computed only where missing."""
    maybe = names[isin(names["name"].str[0], rest["legal_rep"].str[0])]
    pinyin = maybe["name_pinyin"].copy()
    if pinyin.isna().any():  # mentions written before names had their pinyin
        pinyin[pinyin.isna()] = name_pinyin(maybe.loc[pinyin.isna(), "name"])
    sounds = maybe.assign(key=_sound_key(maybe["name"], pinyin)).dropna(subset=["key"])
    return sounds[["key", "name", "person_id"]]


def _homophone_counts(rest: pd.DataFrame, sounds: pd.DataFrame) -> pd.Series:
    """Per organisation of ``rest``, the persons with a name that sounds like its representative's and is
    written otherwise: those with the sound key, less those whose only such name is the representative's."""
    per_key = sounds.drop_duplicates(["key", "person_id"]).groupby("key").size()
    n_names = sounds.groupby(["key", "person_id"])["name"].transform("nunique")
    single = sounds[(n_names == 1).to_numpy()].groupby(["key", "name"]).size()
    total = rest["key"].map(per_key).fillna(0).astype("int64")
    same = pd.MultiIndex.from_arrays([rest["key"], rest["legal_rep"]])
    return total - single.reindex(same).fillna(0).to_numpy()


def _keyed(
    orgs: pd.DataFrame,
    keyed: pd.DataFrame,
    count: pd.Series,
    reps: pd.DataFrame,
    d: Resolved,
    *,
    homophone: bool,
) -> tuple[pd.DataFrame, pd.Series]:
    """(org_id, person_id) of the organisations ``orgs`` (org_id, legal_rep, key) and the persons of ``keyed``
    (key, name, person_id) with their key, and the org_ids whose namesakes were not all paired. ``count``:
    each organisation's namesakes (aligned with ``orgs``)."""
    small = orgs[(count <= SMALL_GROUP).to_numpy()]
    large = orgs[(count > SMALL_GROUP).to_numpy()]
    found = [small[["org_id", "key", "legal_rep"]].merge(keyed, on="key")]
    if len(large):
        constrained = _constrained(reps)
        person_key = keyed.loc[isin(keyed["key"], large["key"]), ["person_id", "key"]].drop_duplicates()
        org_key = large[["org_id", "key"]]
        for org_values, person_values in _facts(large, reps, d, person_key, constrained):
            pairs = _agreeing(org_values, person_values, org_key, person_key)
            found.append(
                pairs.merge(large[["org_id", "legal_rep"]], on="org_id").merge(keyed, on=["key", "person_id"])
            )
        unseen = large.loc[~isin(large["org_id"], constrained), "org_id"]
    else:
        unseen = pd.Series([], dtype="string")
    pairs = pd.concat(found, ignore_index=True)
    if homophone:  # a name that sounds the same, not the name as written
        pairs = pairs[(pairs["name"] != pairs["legal_rep"]).to_numpy(bool)]
    return pairs[["org_id", "person_id"]].drop_duplicates(), unseen


def _constrained(reps: pd.DataFrame) -> pd.Series:
    """The org_ids whose representative's ID rules namesakes out: a valid ID, or a masked one."""
    return pd.concat([reps.loc[reps["legal_rep_id"].notna(), "org_id"], masked_ids(reps)["org_id"]])


def _agreeing(
    org_values: pd.DataFrame, person_values: pd.DataFrame, org_key: pd.DataFrame, person_key: pd.DataFrame
) -> pd.DataFrame:
    """(org_id, person_id, key): an organisation and a person with its key that share a ``value``."""
    o = org_values.dropna().merge(org_key, on="org_id").drop_duplicates()
    p = person_values.dropna()
    p = p[_among(p["value"], o["value"])]
    p = p[isin(p["person_id"], person_key["person_id"])].merge(person_key, on="person_id").drop_duplicates()
    return o.merge(p, on=["value", "key"])[["org_id", "person_id", "key"]]


def _among(values: pd.Series, among: pd.Series) -> np.ndarray:
    """``values.isin(among)`` as a bool array: text through :func:`isin`, dates as they are."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.isin(among).to_numpy(bool)
    return isin(values, among)


def _values(frame: pd.DataFrame, id_column: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """(id, value) of every text column of ``columns`` ``frame`` has."""
    parts = [
        pd.DataFrame({id_column: frame[id_column], "value": column(frame, c)})
        for c in columns
        if c in frame.columns
    ]
    if not parts:
        return pd.DataFrame({id_column: pd.Series(dtype="string"), "value": pd.Series(dtype="string")})
    return pd.concat(parts, ignore_index=True).dropna().drop_duplicates()


def _facts(
    large: pd.DataFrame, reps: pd.DataFrame, d: Resolved, person_key: pd.DataFrame, constrained: pd.Series
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Per kind of fact evidence compares: (org_id, value) of the organisations ``large`` and (person_id,
    value) of the persons, built one kind at a time (see the module)."""
    mine = reps[isin(reps["org_id"], large["org_id"])]
    orgs = d.orgs[isin(d.orgs["org_id"], large["org_id"])]
    adults = d.adults[isin(d.adults["person_id"], person_key["person_id"])]
    ids = d.person_ids[isin(d.person_ids["person_id"], person_key["person_id"])]
    # address: the registered or operating address; a home of someone whose phone the organisation gives
    # (household_phone) is one too
    phones = _values(orgs, "org_id", ("org_phone",))
    holders = d.people[isin(column(d.people, "phone"), phones["value"])]
    held = _values(holders, "person_id", ("phone",)).rename(columns={"person_id": "holder"})
    homes = _values(d.people[isin(d.people["person_id"], held["holder"])], "person_id", ("address_code",))
    homes = homes.rename(columns={"person_id": "holder"})
    households = phones.merge(held, on="value")[["org_id", "holder"]].merge(homes, on="holder")
    places = _values(orgs, "org_id", ("address_code", "business_address_code"))
    yield (
        pd.concat([places, households[["org_id", "value"]]], ignore_index=True),
        _values(adults, "person_id", ("address_code", "hukou_address_code")),
    )
    yield phones, _values(adults, "person_id", ("phone",))
    yield (
        pd.DataFrame({"org_id": large["org_id"], "value": large["org_id"]}),
        d.employment.rename(columns={"org_id": "value"})[["person_id", "value"]],
    )
    yield _births(mine, adults)
    yield from _id_edits(mine, ids)
    yield _without_id(mine, adults, d.person_ids, constrained)
    yield from _masks(mine, ids)


def _births(reps: pd.DataFrame, adults: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The birth date an 18-character representative's ID encodes (``id_birth``) and the persons' stated ones."""
    given = reps["legal_rep_id"].fillna(reps["legal_rep_id_invalid"]).astype("string")
    coded = pd.to_datetime(given.where(given.str.len() == 18).str[6:14], format="%Y%m%d", errors="coerce")
    org = pd.DataFrame({"org_id": reps["org_id"], "value": coded.astype("datetime64[s]")})
    born = pd.to_datetime(_birth_dates(adults), errors="coerce")
    person = pd.DataFrame({"person_id": adults["person_id"], "value": born.astype("datetime64[s]")})
    return org.dropna(), person.dropna().drop_duplicates()


def _birth_dates(people: pd.DataFrame) -> pd.Series:
    """The persons' stated birth dates, all missing when the mentions have none."""
    if "birth_date" in people.columns:
        return people["birth_date"]
    return pd.Series(pd.NaT, index=people.index, dtype="datetime64[s]")


def _id_edits(reps: pd.DataFrame, person_ids: pd.DataFrame) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """An invalid ID one edit (OSA) away from an 18-character valid ID has 17 to 19 characters and the same
    first 8 or the same last 8: a change, a swap, an insertion or a deletion touches only one side (``id_typo``)."""
    bad = reps[["org_id", "legal_rep_id_invalid"]].dropna()
    bad = bad[bad["legal_rep_id_invalid"].str.len().between(17, 19).to_numpy(bool)]
    ids = person_ids["id_number"].astype("string")
    for part in (slice(None, 8), slice(-8, None)):
        org = pd.DataFrame(
            {"org_id": bad["org_id"], "value": bad["legal_rep_id_invalid"].astype("string").str[part]}
        )
        yield org, pd.DataFrame({"person_id": person_ids["person_id"], "value": ids.str[part]})


def _without_id(
    reps: pd.DataFrame, adults: pd.DataFrame, person_ids: pd.DataFrame, constrained: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The namesakes without a valid ID an ID cannot rule out: any, for a masked ID (``*``); for a valid one,
    those born on its birth date or with no stated birth date (``?``)."""
    mine = reps[isin(reps["org_id"], constrained)]
    valid = mine[["org_id", "legal_rep_id"]].dropna()
    org = pd.concat(
        [
            pd.DataFrame({"org_id": mine.loc[mine["legal_rep_id"].isna(), "org_id"], "value": "*"}),
            pd.DataFrame({"org_id": valid["org_id"], "value": "?"}),
            pd.DataFrame(
                {"org_id": valid["org_id"], "value": valid["legal_rep_id"].astype("string").str[6:14]}
            ),
        ],
        ignore_index=True,
    ).astype({"value": "string"})
    them = adults[~isin(adults["person_id"], person_ids["person_id"])]
    births = pd.to_datetime(_birth_dates(them), errors="coerce").dt.strftime("%Y%m%d").astype("string")
    dated = set(them.loc[births.notna().to_numpy(), "person_id"])
    person = pd.concat(
        [
            pd.DataFrame({"person_id": them["person_id"], "value": "*"}),
            pd.DataFrame({"person_id": them["person_id"], "value": births}),
            pd.DataFrame({"person_id": them.loc[~them["person_id"].isin(dated), "person_id"], "value": "?"}),
        ],
        ignore_index=True,
    ).astype({"value": "string"})
    return org, person.dropna().drop_duplicates()


def _masks(reps: pd.DataFrame, person_ids: pd.DataFrame) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Per shape of masked ID (the places it shows), its shown characters and those of the persons' valid IDs at
    the same places: a valid ID that differs from one of them is ruled out (``id_masked``). Past
    :data:`MAX_MASK_SHAPES` shapes, every valid ID agrees (an empty value on both sides)."""
    masks = masked_ids(reps)
    shape = masks["masked"].str.replace(r"[^*]", "1", regex=True)
    groups = list(masks.groupby(shape.to_numpy(), sort=True))
    ids = person_ids["id_number"].astype("string")
    for form, group in groups[:MAX_MASK_SHAPES]:
        runs = _runs(str(form))
        yield (
            pd.DataFrame(
                {"org_id": group["org_id"], "value": _shown(group["masked"].astype("string"), runs)}
            ),
            pd.DataFrame({"person_id": person_ids["person_id"], "value": _shown(ids, runs)}),
        )
    if len(groups) > MAX_MASK_SHAPES:
        rest = pd.concat([group["org_id"] for _, group in groups[MAX_MASK_SHAPES:]], ignore_index=True)
        yield (
            pd.DataFrame({"org_id": rest, "value": ""}).astype({"value": "string"}),
            pd.DataFrame({"person_id": person_ids["person_id"], "value": ""}).astype({"value": "string"}),
        )


def _runs(form: str) -> list[slice]:
    """The runs of shown places (``1``) of a mask shape: ``111000111`` → [0:3], [6:9]."""
    runs, start = [], None
    for i, c in enumerate(form + "*"):
        if c != "*" and start is None:
            start = i
        elif c == "*" and start is not None:
            runs.append(slice(start, i))
            start = None
    return runs


def _shown(ids: pd.Series, runs: list[slice]) -> pd.Series:
    """The characters of ``ids`` at the places ``runs`` shows, as one text."""
    out = pd.Series("", index=ids.index, dtype="string")
    for run in runs:
        out = out + ids.str[run]
    return out
