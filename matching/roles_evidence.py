"""The evidence that a namesake is an organisation's 法定代表人 (see :mod:`matching.roles`): one function per kind.

Every function takes the candidate pairs (org_id, person_id: persons named like the representative) and the
resolved mentions, and returns the pairs that have one kind of evidence. None of them ever adds a pair: a
piece of evidence supports a name, it never replaces it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import OSA

from warehouse.schema import LEGAL_REP_EVIDENCE

#: The kinds of evidence, strongest first (the schema's list), and the rank of each (``id_birth``,
#: ``address``, ``employment`` and ``phone`` weigh the same).
EVIDENCE = LEGAL_REP_EVIDENCE
RANK = {
    "id_typo": 3,
    "id_birth": 2,
    "id_masked": 2,
    "address": 2,
    "employment": 2,
    "phone": 2,
    "household_phone": 1,
    "building": 1,
    "grid": 1,
}
#: The rank of ``phone`` when the number is carried by several resolved persons (a household's landline, a
#: parent's mobile on a child's record): as weak as the building.
SHARED_PHONE_RANK = 1
#: Evidence of the same kind of fact counts once in the number of independent kinds.
GROUP = {
    "id_typo": "id",
    "id_birth": "id",
    "id_masked": "id",
    "address": "place",
    "employment": "employment",
    "phone": "phone",
    "household_phone": "phone",
    "building": "place",
    "grid": "place",
}
#: Evidence that counts only for a name as written that no other resolved person has (see :func:`evidence`).
_UNIQUE_NAME_ONLY = ("building", "grid")
#: (place column on person mentions, kind) and (place column on organisation mentions, kind).
PERSON_PLACES = (
    ("address_code", "address"),
    ("building_code", "building"),
    ("hukou_address_code", "address"),
    ("hukou_building_code", "building"),
    ("grid_code", "grid"),
    ("hukou_grid_code", "grid"),
)
ORG_PLACES = (
    ("address_code", "address"),
    ("building_code", "building"),
    ("business_address_code", "address"),
    ("business_building_code", "building"),
    ("grid_code", "grid"),
    ("business_grid_code", "grid"),
)


def column(df: pd.DataFrame, name: str) -> pd.Series:
    """A text column of ``df``, all missing when ``df`` was written before the column existed."""
    if name in df.columns:
        return df[name].astype("string")
    return pd.Series(pd.NA, index=df.index, dtype="string")


def isin(values: pd.Series, among: pd.Series) -> np.ndarray:
    """``values.isin(among)`` as a bool array, through object arrays (fast hash look-ups for Arrow text)."""
    wanted = pd.unique(pd.Series(among.to_numpy(object), dtype=object))
    return pd.Series(values.to_numpy(object), dtype=object).isin(wanted).to_numpy()


def employment_pairs(
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


def evidence(
    cands: pd.DataFrame,
    reps: pd.DataFrame,
    people: pd.DataFrame,
    orgs: pd.DataFrame,
    person_ids: pd.DataFrame,
    employment: pd.DataFrame,
    unique: pd.Series,
) -> pd.DataFrame:
    """(org_id, person_id, kind, rank) for every piece of evidence a candidate has, one row per kind.
    ``unique``: the persons whose name no other (adult) resolved person has (:func:`unique_name_persons`)."""
    pair = cands[["org_id", "person_id"]]
    # only the candidates' (and their organisations') places: the pairs are few, the district is not
    org_places = _places(orgs[isin(orgs["org_id"], pair["org_id"])], "org_id", ORG_PLACES)
    person_places = _places(people[isin(people["person_id"], pair["person_id"])], "person_id", PERSON_PLACES)
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
    ev = pd.concat(frames, ignore_index=True).assign(rank=lambda f: f["kind"].map(RANK))
    graded = [
        _id_masked(pair, reps, person_ids),
        _phone(pair, orgs, people),
        _household_phone(pair, orgs, people),
    ]
    ev = pd.concat([ev, *graded], ignore_index=True)
    ev = ev.sort_values("rank", ascending=False).drop_duplicates(["org_id", "person_id", "kind"])
    # a name that only sounds the same is weaker: the building, the grid or a shared phone does not support it
    match = ev.merge(cands, on=["org_id", "person_id"], how="left")["match"].to_numpy()
    weak = (match == "homophone") & (ev["rank"] <= 1).to_numpy()
    # a building holds dozens of people, a grid hundreds: they support only a name nobody else in the
    # district has (then a wrong link needs the representative to be missing from every person feed AND the
    # one namesake to live next to the organisation)
    # so does a masked ID that shows too little to be more than a building's worth of chance (4 + 2)
    common = ~isin(ev["person_id"], unique)
    by_chance = (
        ev["kind"].isin(_UNIQUE_NAME_ONLY).to_numpy()
        | ((ev["kind"] == "id_masked") & (ev["rank"] <= 1)).to_numpy()
    )
    return ev[~weak & ~(by_chance & common)]


def _phone(pair: pd.DataFrame, orgs: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    """(org_id, person_id, kind=phone, rank): one of the organisation's mentions gives as its 联系电话 a valid
    phone one of the candidate's records carries. A number on the records of several resolved persons (a
    household's landline, a parent's mobile on a child's record) says less about who it is: rank
    :data:`SHARED_PHONE_RANK`. Only candidates (named like the representative) are looked at: a phone never
    links anyone on its own."""
    org_phones = _org_phones(pair, orgs)
    held = _held(people, org_phones)
    holders = held.groupby("phone")["person_id"].transform("size")
    held = held.assign(rank=np.where(holders > 1, SHARED_PHONE_RANK, RANK["phone"]))
    hits = pair.merge(org_phones, on="org_id").merge(held, on=["person_id", "phone"])
    hits = hits.assign(kind="phone")[["org_id", "person_id", "kind", "rank"]]
    return hits.sort_values("rank", ascending=False).drop_duplicates(["org_id", "person_id"])


def _org_phones(pair: pd.DataFrame, orgs: pd.DataFrame) -> pd.DataFrame:
    """(org_id, phone): the valid 联系电话 of the candidates' organisations."""
    mine = orgs[isin(orgs["org_id"], pair["org_id"])]
    return (
        pd.DataFrame({"org_id": mine["org_id"], "phone": column(mine, "org_phone")})
        .dropna()
        .drop_duplicates()
    )


def _held(people: pd.DataFrame, org_phones: pd.DataFrame) -> pd.DataFrame:
    """(person_id, phone): every resolved person holding one of ``org_phones``' phones (whoever they are)."""
    phone = column(people, "phone")
    mine = isin(phone, org_phones["phone"])
    held = pd.DataFrame({"person_id": people.loc[mine, "person_id"], "phone": phone[mine]})
    return held.dropna().drop_duplicates()


def _household_phone(pair: pd.DataFrame, orgs: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    """(org_id, person_id, kind=household_phone, rank): the organisation's 联系电话 is a valid phone of another
    resolved person who lives at one of the candidate's standard addresses (residence, room level). A family
    business often registers the spouse's or a parent's mobile. As weak as the building: it supports a name
    (never a homophone) and never links anyone on its own."""
    org_phones = _org_phones(pair, orgs)
    held = _held(people, org_phones).rename(columns={"person_id": "holder"})
    # the homes of the candidates and of the holders only
    them = people[isin(people["person_id"], pd.concat([pair["person_id"], held["holder"]]))]
    homes = pd.DataFrame({"person_id": them["person_id"], "home": column(them, "address_code")})
    homes = homes.dropna().drop_duplicates()
    hits = pair.merge(org_phones, on="org_id").merge(held, on="phone")
    hits = hits[hits["holder"] != hits["person_id"]]
    hits = hits.merge(homes, on="person_id").merge(
        homes.rename(columns={"person_id": "holder"}), on=["holder", "home"]
    )
    hits = hits.assign(kind="household_phone", rank=RANK["household_phone"])
    return hits[["org_id", "person_id", "kind", "rank"]].drop_duplicates(["org_id", "person_id"])


def unique_name_persons(people: pd.DataFrame) -> pd.Series:
    """The persons whose name (as resolved mentions write it) no other resolved person has."""
    names = pd.DataFrame({"name": column(people, "name"), "person_id": people["person_id"]}).dropna()
    names = names.drop_duplicates()
    per_name = names.groupby("name")["person_id"].transform("size")
    per_person = names.groupby("person_id")["name"].transform(
        "size"
    )  # a person known by two names: not unique
    return names.loc[(per_name == 1) & (per_person == 1), "person_id"]


def birth_digits(people: pd.DataFrame, person_ids: pd.DataFrame) -> pd.DataFrame:
    """(person_id, birth, sex) every resolved person is known by: the birth date (YYYYMMDD) and sex of its
    mentions, and those its valid ID encodes."""
    born = pd.to_datetime(people.get("birth_date"), errors="coerce") if "birth_date" in people else None
    stated = pd.DataFrame(
        {
            "person_id": people["person_id"],
            "birth": born.dt.strftime("%Y%m%d").astype("string") if born is not None else pd.NA,
            "sex": column(people, "sex").where(column(people, "sex").isin(["M", "F"])),
        }
    )
    ids = person_ids["id_number"].astype("string")
    coded = pd.DataFrame({"person_id": person_ids["person_id"], "birth": ids.str[6:14], "sex": id_sex(ids)})
    return pd.concat([stated, coded], ignore_index=True).drop_duplicates()


#: A masked ID (脱敏) must show at least this many characters to be one (``4*****************`` says nothing).
MASKED_MIN_SHOWN = 2
#: Characters a masked ID shows past the area code (the 7th on: birth date, sequence, check) that make its
#: agreement strong evidence (rank 2): one namesake in 10,000 agrees by chance. Fewer (``4401************12``
#: shows two: one in 100) rank with the building and count only for a name no other person has.
MASKED_STRONG_SHOWN = 4
_MASK = r"^([0-9X]*)(\*+)([0-9X]*)$"


def masked_ids(reps: pd.DataFrame) -> pd.DataFrame:
    """(org_id, masked, rank): representatives' IDs given masked, as shared extracts do (脱敏: the first 6 and
    last 4 shown, or 4 + 2, 3 + 4, 10 + 4 …; ``*``, the full-width ＊ folded by cleaning). ``masked`` is the
    18-character form: a mask that keeps the length is taken as it is; one that writes a run of stars of
    another length (``440103**********1234``) has its shown head and tail put at the two ends of the 18.
    ``rank``: the rank of its agreement as evidence (:data:`MASKED_STRONG_SHOWN`), 0 when it shows too
    little past the area code to be any."""
    given = (
        reps[["org_id", "legal_rep_id_invalid"]].dropna().rename(columns={"legal_rep_id_invalid": "masked"})
    )
    text = given["masked"].astype("string")
    parts = text.str.extract(_MASK)
    head, tail = parts[0].fillna(""), parts[2].fillna("")
    one_run = parts[1].notna() & (head.str.len() + tail.str.len() <= 17)
    stars = (18 - head.str.len() - tail.str.len()).clip(lower=0)
    respaced = head + pd.Series(["*" * int(n) for n in stars], index=text.index, dtype="string") + tail
    kept = (text.str.len() == 18) & text.str.fullmatch(r"[0-9X*]{18}") & text.str.contains("*", regex=False)
    form = text.where(kept.fillna(False), respaced.where(one_run.fillna(False)))
    form = form.where(form.str.count(r"[0-9X]") >= MASKED_MIN_SHOWN)
    out = given.assign(masked=form).dropna(subset=["masked"])
    past_area = out["masked"].str[6:].str.count(r"[0-9X]")
    weak = np.where(past_area >= 2, RANK["building"], 0)
    rank = np.where(past_area >= MASKED_STRONG_SHOWN, RANK["id_masked"], weak)
    return out.assign(rank=rank)[["org_id", "masked", "rank"]]


def masked_agrees(masked: pd.Series, ids: pd.Series) -> np.ndarray:
    """Whether each valid ID has every character the masked ID shows, at the same place."""
    return np.array(
        [
            all(m == "*" or m == c for m, c in zip(m_, i_, strict=True))
            for m_, i_ in zip(masked, ids, strict=True)
        ],
        dtype=bool,
    )


def masked_contradicts(
    cands: pd.DataFrame, reps: pd.DataFrame, people: pd.DataFrame, person_ids: pd.DataFrame
) -> np.ndarray:
    """Candidates a masked representative's ID rules out: it shows a character none of their valid IDs has
    at that place (two valid IDs that differ are two people, masked or not), or it shows birth-date or sex
    characters (the 7th–14th, the 17th) that no birth date or sex the candidate is known by has (a candidate
    without a valid ID; one known by neither is kept)."""
    c = cands[["org_id", "person_id"]].reset_index(drop=True).reset_index()
    masks = masked_ids(reps)
    out = np.zeros(len(c), dtype=bool)
    if c.empty or masks.empty:
        return out
    pairs = c.merge(masks, on="org_id").merge(person_ids, on="person_id")
    agree = pd.Series(masked_agrees(pairs["masked"], pairs["id_number"]), index=pairs.index)
    ruled_out = ~agree.groupby(pairs["index"]).any()
    out[ruled_out.index[ruled_out.to_numpy()].to_numpy()] = True
    them = people[isin(people["person_id"], c["person_id"])]
    known = birth_digits(them, person_ids[isin(person_ids["person_id"], c["person_id"])])
    pairs = c.merge(masks, on="org_id").merge(known, on="person_id")
    shown_birth = pairs["masked"].str[6:14]
    birth = pairs.dropna(subset=["birth"])
    ok = masked_agrees(shown_birth[birth.index], birth["birth"])
    sex = pairs.dropna(subset=["sex"])
    sex = sex[sex["masked"].str[16] != "*"]
    ok_sex = (id_sex(sex["masked"]) == sex["sex"]).fillna(True).to_numpy(bool)
    for p, agree_ in ((birth, ok), (sex, ok_sex)):
        a = pd.Series(agree_, index=p.index).groupby(p["index"]).any()
        out[a.index[~a.to_numpy()].to_numpy()] = True
    return out


def _id_masked(pair: pd.DataFrame, reps: pd.DataFrame, person_ids: pd.DataFrame) -> pd.DataFrame:
    """(org_id, person_id, kind=id_masked, rank): every character the representative's masked ID shows is
    the candidate's valid ID's, at the same place; ranked by how much it shows (:func:`masked_ids`)."""
    hits = pair.merge(masked_ids(reps), on="org_id").merge(person_ids, on="person_id")
    hits = hits[masked_agrees(hits["masked"], hits["id_number"]) & (hits["rank"] > 0).to_numpy()]
    hits = hits.assign(kind="id_masked")[["org_id", "person_id", "kind", "rank"]]
    return hits.sort_values("rank", ascending=False).drop_duplicates(["org_id", "person_id"])


def data_as_of(people: pd.DataFrame, orgs: pd.DataFrame) -> pd.Timestamp | None:
    """The newest date the inputs carry (a birth, a 成立日期, a record date): the data are at least that recent.

    No clock is read, so the same inputs give the same result. A district's population register holds its
    newest-born and its market register the newest business, so this is within weeks of the extracts; a
    date in the future (a typo) only moves it later, which makes :func:`minors` exclude fewer persons."""
    dates = [people.get("birth_date"), people.get("record_date"), orgs.get("established")]
    dates.append(orgs.get("record_date"))
    newest = [pd.to_datetime(d, errors="coerce").max() for d in dates if d is not None]
    newest = [d for d in newest if pd.notna(d)]
    return max(newest) if newest else None


def minors(people: pd.DataFrame, person_ids: pd.DataFrame, orgs: pd.DataFrame, min_age: int) -> pd.Series:
    """The persons younger than ``min_age`` on :func:`data_as_of` by every birth date they are known by
    (their mentions' and the one their valid ID encodes): a birth date keyed wrong on one record does not
    make an adult a child. A person known by no birth date is not one."""
    as_of = data_as_of(people, orgs)
    if as_of is None or min_age <= 0:
        return pd.Series([], dtype="string")
    known = birth_digits(people, person_ids)
    born = pd.to_datetime(known["birth"], format="%Y%m%d", errors="coerce")
    oldest = born.groupby(known["person_id"].to_numpy()).min().dropna()
    young = oldest > as_of - pd.DateOffset(years=min_age)
    return pd.Series(oldest.index[young.to_numpy()], dtype="string")


def id_sex(ids: pd.Series) -> pd.Series:
    """M / F from the 17th character of 18-character IDs (odd: male), else missing."""
    digit = pd.to_numeric(ids.astype("string").str[16], errors="coerce")
    sex = pd.Series(pd.NA, index=ids.index, dtype="string")
    sex[digit.notna()] = np.where(digit[digit.notna()] % 2 == 1, "M", "F")
    return sex


def _id_birth(
    pair: pd.DataFrame, reps: pd.DataFrame, people: pd.DataFrame, person_ids: pd.DataFrame
) -> pd.DataFrame:
    """(org_id, person_id, kind=id_birth): the representative's ID, valid but nobody's or invalid, encodes the
    candidate's birth date and sex. A candidate with a valid ID must share the ID's area code as well (its
    first 14 characters): two namesakes born the same day are planted in every district."""
    given = reps["legal_rep_id"].fillna(reps["legal_rep_id_invalid"]).astype("string")
    stated = pd.DataFrame({"org_id": reps["org_id"], "rep_id": given}).dropna()
    stated = stated[stated["rep_id"].str.len() == 18]
    stated = stated.assign(birth=stated["rep_id"].str[6:14], sex=id_sex(stated["rep_id"]))
    them = people[isin(people["person_id"], pair["person_id"])]  # only the candidates' dates matter
    known = birth_digits(them, pd.DataFrame(columns=["id_number", "person_id"]))
    hits = pair.merge(stated, on="org_id").merge(known, on=["person_id", "birth"])
    hits = hits[(hits["sex_x"] == hits["sex_y"]).fillna(True).to_numpy(bool)]
    valid = person_ids.rename(columns={"id_number": "own_id"})
    hits = hits.merge(valid, on="person_id", how="left")
    same_start = (hits["own_id"].str[:14] == hits["rep_id"].str[:14]).fillna(False).to_numpy(bool)
    hits = hits[hits["own_id"].isna().to_numpy() | same_start]
    return hits.assign(kind="id_birth")[["org_id", "person_id", "kind"]].drop_duplicates()
