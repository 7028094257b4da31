"""From staged feed rows to normalised *mentions*: one row per (record, entity it describes).

A staged 人社 row names a person and the person's employer; a 住建 row names a house and its owner. Entity
resolution works per entity type, so each staged row is split into the mentions it carries, every field
normalised on the way (names 繁→简 and half-width, IDs check-digit validated and upgraded from 15 digits,
phones, credit codes). Relations between the mentions of one row (person lives in house, person works for
organisation) are kept as *links* between mention keys and become relation tables once the mentions are
resolved into entities.

Everything here is vectorised over columns; the only loop is over the handful of feeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from connectors.feeds import Feed
from matching.normalize import (
    name_pinyin,
    normalize_names,
    normalize_phones,
    normalize_resident_ids,
)
from matching.normalize.common import clean_code
from matching.organisations import no_organisation, organisation_codes, owner_is_organisation
from matching.text import normalize_text
from warehouse.reasons import ReasonCode

#: The columns every mention carries first: where it comes from and how much it counts in survivorship.
RECORD_COLUMNS = [
    "record_key",
    "feed",
    "source_record_id",
    "raw_sha256",
    "line",
    "priority",
    "record_date",
]
PERSON_COLUMNS = [
    *RECORD_COLUMNS,
    "name",
    "name_pinyin",
    "id_number",
    "id_number_given",
    "birth_date",
    "sex",
    "ethnicity",
    "phone",
    "population_type",
    "address_text",
    "address_relation",
    "hukou_address_text",
    "assistance_type",
]
ORGANISATION_COLUMNS = [
    *RECORD_COLUMNS,
    "org_name",
    "credit_code",
    "org_code",
    "org_type",
    "legal_rep",
    "legal_rep_id",
    "legal_rep_id_invalid",
    "org_phone",
    "address_text",
    "business_address_text",
    "industry",
    "org_status",
    "established",
]
HOUSE_COLUMNS = [
    *RECORD_COLUMNS,
    "address_text",
    "house_code",
    "house_use",
    "house_area",
    "rented",
    "derived",
]
FACILITY_COLUMNS = [
    *RECORD_COLUMNS,
    "facility_type",
    "facility_name",
    "address_text",
    "lon",
    "lat",
    "responsible",
    "facility_status",
]
LINK_COLUMNS = ["from_key", "to_key", "kind", "relation", "feed", "record_date"]
ISSUE_COLUMNS = ["feed", "source_record_id", "field", "reason_code", "original_value"]


def no_issues() -> pd.DataFrame:
    """An empty field-issue frame typed like a filled one (every column ``string``): concatenated with a
    filled one it keeps the string columns, so a feed's mention files read in batches have the same column
    types whichever batches happened to hold no issue."""
    return pd.DataFrame({c: pd.Series(dtype="string") for c in ISSUE_COLUMNS})


@dataclass
class Mentions:
    """All mentions of one run, one frame per entity type, plus the links between them."""

    person: pd.DataFrame
    organisation: pd.DataFrame
    house: pd.DataFrame
    facility: pd.DataFrame
    links: pd.DataFrame
    issues: pd.DataFrame = field(default_factory=no_issues)

    def by_type(self) -> dict[str, pd.DataFrame]:
        return {
            "person": self.person,
            "organisation": self.organisation,
            "house": self.house,
            "facility": self.facility,
        }


def _col(df: pd.DataFrame, name: str, dtype: str = "string") -> pd.Series:
    if name in df.columns:
        return df[name]
    return pd.Series(pd.NA, index=df.index, dtype=dtype)


def _dates(s: pd.Series) -> pd.Series:
    """Dates as datetime64 at midnight (NaT when missing): one representation for every date column."""
    return pd.to_datetime(s, errors="coerce").dt.normalize()


def _base(df: pd.DataFrame, feed: Feed, suffix: str = "") -> pd.DataFrame:
    rid = df["source_record_id"].astype("string")
    return pd.DataFrame(
        {
            "record_key": (feed.name + ":" + rid + suffix).astype("string"),
            "feed": pd.Series(feed.name, index=df.index, dtype="string"),
            "source_record_id": rid,
            "raw_sha256": _col(df, "_raw_sha256").astype("string"),
            "line": _col(df, "_line", "Int64").astype("Int64"),
            "priority": pd.Series(feed.priority, index=df.index, dtype="Int64"),
            "record_date": _dates(_col(df, "record_date", "object")),
        },
        index=df.index,
    )


def _clean_text(s: pd.Series) -> pd.Series:
    out = normalize_text(s.astype("string"))
    return out.mask(out.str.len() == 0)


def _clean_code(s: pd.Series) -> pd.Series:
    """A department's own code as given, full-width folded (NFKC) and trimmed; no 繁→简, no case change."""
    out = s.astype("string").str.normalize("NFKC").str.strip()
    return out.mask(out.str.len() == 0)


def _issues(
    feed: Feed, df: pd.DataFrame, field_name: str, bad: pd.Series, reason: ReasonCode
) -> pd.DataFrame:
    sel = bad.fillna(False).astype(bool)
    if not sel.any():
        return no_issues()
    return pd.DataFrame(
        {
            "feed": feed.name,
            "source_record_id": df.loc[sel, "source_record_id"].astype("string"),
            "field": field_name,
            "reason_code": str(reason),
            "original_value": df.loc[sel, field_name].astype("string"),
        }
    ).astype("string")


def _id_issues(
    feed: Feed, df: pd.DataFrame, field_name: str, bad: pd.Series, problem: pd.Series
) -> list[pd.DataFrame]:
    """Field issues of ID numbers that are not valid: ``masked_id_number`` where the department masked digits
    (its policy, kept apart so that its real errors stay visible), ``invalid_id_number`` for the rest."""
    masked = bad & (problem.astype("string") == "masked").fillna(False)
    return [
        _issues(feed, df, field_name, bad & ~masked, ReasonCode.INVALID_ID_NUMBER),
        _issues(feed, df, field_name, masked, ReasonCode.MASKED_ID_NUMBER),
    ]


def person_mentions(df: pd.DataFrame, feed: Feed) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Person mentions of one feed's staged rows, and the field issues found while normalising them."""
    out = _base(df, feed)
    issues = []
    out["name"] = normalize_names(_col(df, "name"))
    out["name_pinyin"] = name_pinyin(out["name"])
    ids = normalize_resident_ids(_col(df, "id_number"))
    ids.index = df.index
    out["id_number"] = ids["id_number"].where(ids["id_valid"].fillna(False).astype(bool))
    # evidence only: the number as given, valid or not (a digit wrong, two digits swapped) — the ID comparison
    # reads it, so a typo still points to its owner; golden records, the warehouse and the one-ID-one-person
    # rule read only the valid id_number. Its birth date and sex are not used: the comparison weighs the
    # digits already, and a typo may sit in the birth digits themselves.
    out["id_number_given"] = ids["id_given"]
    if "id_number" in df.columns:
        given = df["id_number"].astype("string").str.strip()
        invalid = given.notna() & (given != "") & ~ids["id_valid"].fillna(False).astype(bool)
        issues.extend(_id_issues(feed, df, "id_number", invalid, ids["id_problem"]))

    feed_birth = _dates(_col(df, "birth_date", "object"))
    id_birth = _dates(ids["id_birth_date"])
    out["birth_date"] = feed_birth.where(feed_birth.notna(), id_birth)
    feed_sex = _col(df, "sex").astype("string").where(lambda s: s.isin(["M", "F"]))
    out["sex"] = feed_sex.fillna(ids["id_sex"].astype("string")).fillna("U")
    valid_id = out["id_number"].notna()
    mismatch = valid_id & (
        (feed_birth.notna() & id_birth.notna() & (feed_birth != id_birth))
        | (feed_sex.notna() & (feed_sex != ids["id_sex"].astype("string")))
    )
    if "id_number" in df.columns:
        issues.append(_issues(feed, df, "id_number", mismatch, ReasonCode.ID_MISMATCH))

    out["phone"], phone_issues = _valid_phones(df, feed, "phone")
    issues.append(phone_issues)
    out["ethnicity"] = _clean_text(_col(df, "ethnicity"))
    out["population_type"] = _clean_text(_col(df, "population_type"))
    out["address_text"] = _clean_text(_col(df, "address"))
    rel = _col(df, "address_relation").astype("string")
    if feed.address_relation:
        rel = rel.fillna(feed.address_relation)
    out["address_relation"] = rel.where(out["address_text"].notna())
    out["hukou_address_text"] = _clean_text(_col(df, "hukou_address"))
    out["assistance_type"] = _clean_text(_col(df, "assistance_type"))
    out = out[out["name"].notna() | out["id_number"].notna()]
    issues = [i for i in issues if len(i)]
    issue_frame = pd.concat(issues, ignore_index=True) if issues else no_issues()
    return out[PERSON_COLUMNS], issue_frame


def organisation_mentions(df: pd.DataFrame, feed: Feed) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Organisation mentions: the feed's own organisations, or a person's employer (人社).

    An org_name meaning "no organisation" (个人参保, 灵活就业人员 …, ``feed.no_organisation``) is dropped and
    noted as a field issue; the credit-code cell may hold an old 9-character 组织机构代码 (``org_code``).
    """
    out = _base(df, feed, suffix="" if "person" not in feed.entities else "#org")
    names = _col(df, "org_name")
    nobody = no_organisation(names, feed)
    out["org_name"] = normalize_names(names).mask(nobody)
    codes = organisation_codes(_col(df, "credit_code"))
    codes.index = df.index
    out["credit_code"] = codes["credit_code"]
    out["org_code"] = codes["org_code"]
    out["org_type"] = codes["org_type"]
    issue_frames = [_issues(feed, df, "org_name", nobody, ReasonCode.NO_ORGANISATION)]
    if "credit_code" in df.columns:
        issue_frames += [
            _issues(feed, df, "credit_code", codes["invalid_credit"], ReasonCode.INVALID_CREDIT_CODE),
            _issues(feed, df, "credit_code", codes["invalid_org_code"], ReasonCode.INVALID_ORG_CODE),
        ]
    issue_frames = [f for f in issue_frames if len(f)]
    issues = pd.concat(issue_frames, ignore_index=True) if issue_frames else no_issues()
    out["legal_rep"] = normalize_names(_col(df, "legal_rep"))
    rep_ids, rep_issues = _legal_rep_ids(df, feed)
    out["legal_rep_id"], out["legal_rep_id_invalid"] = rep_ids["valid"], rep_ids["invalid"]
    out["org_phone"], phone_issues = _valid_phones(df, feed, "org_phone")
    issues = pd.concat(
        [f for f in (issues, rep_issues, phone_issues) if len(f)] or [issues], ignore_index=True
    )
    # 注册地址 (or the only address the feed gives) and 经营地址, each bound on its own
    out["address_text"] = _clean_text(_col(df, "org_address"))
    out["business_address_text"] = _clean_text(_col(df, "org_business_address"))
    out["industry"] = _clean_text(_col(df, "industry"))
    out["org_status"] = _clean_text(_col(df, "org_status"))
    out["established"] = _dates(_col(df, "established", "object"))
    out = out[out["org_name"].notna() | out["credit_code"].notna() | out["org_code"].notna()]
    return out[ORGANISATION_COLUMNS], issues


def _valid_phones(df: pd.DataFrame, feed: Feed, field: str) -> tuple[pd.Series, pd.DataFrame]:
    """The valid phones of column ``field`` (normalised; others null) and a field issue for each number
    given that is not a valid phone."""
    phones = normalize_phones(_col(df, field))
    phones.index = df.index
    valid = phones["phone_valid"].fillna(False).astype(bool)
    if field not in df.columns:
        return phones["phone"].where(valid), no_issues()
    given = _col(df, field).astype("string").str.strip()
    bad = given.notna() & (given != "") & ~valid
    return phones["phone"].where(valid), _issues(feed, df, field, bad, ReasonCode.INVALID_PHONE)


def _legal_rep_ids(df: pd.DataFrame, feed: Feed) -> tuple[pd.DataFrame, pd.DataFrame]:
    """法定代表人证件号码 normalised like a person's ID: ``valid`` (18 characters, check digit right) and
    ``invalid`` (a number given that fails, as cleaned text): kept only as evidence for linking the
    representative to a person (one typo away from that person's ID, see :mod:`matching.roles`), and
    recorded as a field issue."""
    ids = normalize_resident_ids(_col(df, "legal_rep_id"))
    ids.index = df.index
    ok = ids["id_valid"].fillna(False).astype(bool)
    given = clean_code(_col(df, "legal_rep_id").astype("string"))
    bad = given.notna() & ~ok
    out = pd.DataFrame({"valid": ids["id_number"].where(ok), "invalid": given.where(bad)}, index=df.index)
    if "legal_rep_id" not in df.columns:
        return out, no_issues()
    parts = _id_issues(feed, df, "legal_rep_id", bad, ids["id_problem"])
    return out, pd.concat(parts, ignore_index=True) if parts else no_issues()


def house_mentions(df: pd.DataFrame, feed: Feed) -> pd.DataFrame:
    """House mentions a feed states itself (住建: 房屋坐落, 房屋编号, 用途, 面积, 是否出租)."""
    out = _base(df, feed, suffix="" if "person" not in feed.entities else "#house")
    out["address_text"] = _clean_text(_col(df, "address"))
    out["house_code"] = _clean_code(_col(df, "house_code"))
    out["house_use"] = _clean_text(_col(df, "house_use"))
    out["house_area"] = pd.to_numeric(_col(df, "house_area", "Float64"), errors="coerce").astype("Float64")
    out["rented"] = _col(df, "rented", "boolean").astype("boolean")
    out["derived"] = False
    return out.loc[out["address_text"].notna(), HOUSE_COLUMNS]


def derived_house_mentions(persons: pd.DataFrame) -> pd.DataFrame:
    """Houses that persons' 居住/户籍/产权 addresses point to, as mentions of their own.

    A police record of where someone lives is also evidence that the house exists (实有房屋 from 实有人口);
    resolving these with the housing feed's houses gives every person–house relation a house id.
    """
    p = persons[persons["address_text"].notna()]
    out = pd.DataFrame(
        {
            "record_key": (p["record_key"] + "#house").astype("string"),
            "feed": p["feed"],
            "source_record_id": p["source_record_id"],
            "raw_sha256": p["raw_sha256"],
            "line": p["line"],
            "priority": p["priority"],
            "record_date": p["record_date"],
            "address_text": p["address_text"],
            "house_code": pd.Series(pd.NA, index=p.index, dtype="string"),
            "house_use": pd.Series(pd.NA, index=p.index, dtype="string"),
            "house_area": pd.Series(pd.NA, index=p.index, dtype="Float64"),
            "rented": pd.Series(pd.NA, index=p.index, dtype="boolean"),
            "derived": True,
        }
    )
    return out[HOUSE_COLUMNS]


def facility_mentions(df: pd.DataFrame, feed: Feed) -> pd.DataFrame:
    out = _base(df, feed)
    out["facility_type"] = _clean_text(_col(df, "facility_type"))
    out["facility_name"] = _clean_text(_col(df, "facility_name"))
    out["address_text"] = _clean_text(_col(df, "address"))
    out["lon"] = pd.to_numeric(_col(df, "lon", "Float64"), errors="coerce").astype("Float64")
    out["lat"] = pd.to_numeric(_col(df, "lat", "Float64"), errors="coerce").astype("Float64")
    out["responsible"] = _clean_text(_col(df, "responsible"))
    out["facility_status"] = _clean_text(_col(df, "facility_status"))
    return out[FACILITY_COLUMNS]


def owner_organisation_mentions(df: pd.DataFrame, feed: Feed) -> Mentions:
    """The rows of a feed whose owner column (``name`` / ``id_number``, ``feed.owner_kind``) names an
    organisation: organisation mentions (org_name = name; credit_code / org_code from the ID), the houses
    they own (the feed's own house mentions are made by :func:`house_mentions`; a feed without a house entity
    gets derived ones, as for persons) and ``organisation_house`` links (产权) to them. Field issues name the
    staged fields (``id_number``, ``name``)."""
    renamed = df.rename(columns={"name": "org_name", "id_number": "credit_code"})
    o, issues = organisation_mentions(renamed, feed)
    issues["field"] = issues["field"].replace({"credit_code": "id_number", "org_name": "name"})
    if "house" in feed.entities:
        house = house_mentions(df, feed)
    else:
        places = _base(df, feed)
        places["address_text"] = _clean_text(_col(df, "address"))
        house = derived_house_mentions(places)
    both = o.index.intersection(house.index)
    links = _links(o.loc[both], house.loc[both, "record_key"], "organisation_house", "产权")
    none = pd.DataFrame()
    return Mentions(person=none, organisation=o, house=house, facility=none, links=links, issues=issues)


def _links(frame: pd.DataFrame, to_keys: pd.Series, kind: str, relation: pd.Series | str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "from_key": frame["record_key"].to_numpy(),
            "to_key": to_keys.to_numpy(),
            "kind": kind,
            "relation": relation if isinstance(relation, str) else relation.to_numpy(),
            "feed": frame["feed"].to_numpy(),
            "record_date": frame["record_date"].to_numpy(),
        }
    )


#: The pieces one feed's rows give, as (output, piece), in the order :func:`build_mentions` lists each
#: output's rows within a feed: e.g. a feed's houses are its owner organisations' houses, then the houses its
#: persons' addresses point to, then the houses it states itself.
PIECES = (
    ("organisation", "owner"),
    ("house", "owner"),
    ("links", "owner"),
    ("issues", "owner"),
    ("person", "person"),
    ("issues", "person"),
    ("house", "derived"),
    ("links", "derived"),
    ("organisation", "organisation"),
    ("issues", "organisation"),
    ("links", "person_organisation"),
    ("house", "house"),
    ("links", "person_house"),
    ("facility", "facility"),
)
#: The columns of each output of :func:`build_mentions`.
OUTPUT_COLUMNS = {
    "person": PERSON_COLUMNS,
    "organisation": ORGANISATION_COLUMNS,
    "house": HOUSE_COLUMNS,
    "facility": FACILITY_COLUMNS,
    "links": LINK_COLUMNS,
    "issues": ISSUE_COLUMNS,
}


def feed_mentions(df: pd.DataFrame, feed: Feed) -> dict[tuple[str, str], pd.DataFrame]:
    """The mentions, links and issues of some staged rows of one feed, by :data:`PIECES` key.

    Every row gives its mentions on its own, so the rows of a feed may be split into batches: the pieces of
    the batches, concatenated piece by piece in :data:`PIECES` order, are those of the whole feed."""
    out: dict[tuple[str, str], pd.DataFrame] = {}
    df = df.reset_index(drop=True)
    p = None
    owners = owner_is_organisation(df, feed)
    if owners.any():  # owner_kind: the row's owner is an organisation, not a person
        owned = owner_organisation_mentions(df[owners], feed)
        out["organisation", "owner"], out["house", "owner"] = owned.organisation, owned.house
        out["links", "owner"], out["issues", "owner"] = owned.links, owned.issues
        df = df[~owners]
    if "person" in feed.entities:
        p, out["issues", "person"] = person_mentions(df, feed)
        out["person", "person"] = p
        derived = derived_house_mentions(p)
        if "house" not in feed.entities:
            out["house", "derived"] = derived
            relation = p.loc[derived.index, "address_relation"]
            out["links", "derived"] = _links(
                p.loc[derived.index], derived["record_key"], "person_house", relation
            )
    if "organisation" in feed.entities:
        o, out["issues", "organisation"] = organisation_mentions(df, feed)
        out["organisation", "organisation"] = o
        if p is not None:
            both = p.index.intersection(o.index)
            out["links", "person_organisation"] = _links(
                p.loc[both], o.loc[both, "record_key"], "person_organisation", "就业"
            )
    if "house" in feed.entities:
        h = out["house", "house"] = house_mentions(df, feed)
        if p is not None:
            both = p.index.intersection(h.index)
            rel = p.loc[both, "address_relation"].fillna(feed.address_relation or "产权")
            out["links", "person_house"] = _links(p.loc[both], h.loc[both, "record_key"], "person_house", rel)
    if "facility" in feed.entities:
        out["facility", "facility"] = facility_mentions(df, feed)
    return out


def build_mentions(staged: dict[str, pd.DataFrame], feeds: Sequence[Feed]) -> Mentions:
    """Split every feed's staged rows into normalised mentions per entity type, plus their links.

    ``staged`` maps feed name → the feed's current staged rows (``connectors.load_staging``); ``feeds`` are the
    configured feed specs, in the order their mentions are listed.
    """
    lists: dict[str, list[pd.DataFrame]] = {name: [] for name in OUTPUT_COLUMNS}
    for feed in feeds:
        df = staged.get(feed.name)
        if df is None or df.empty:
            continue
        pieces = feed_mentions(df, feed)
        for key in PIECES:
            if key in pieces:
                lists[key[0]].append(pieces[key])
    return Mentions(**{name: concat_pieces(frames, name) for name, frames in lists.items()})


def concat_pieces(frames: list[pd.DataFrame], output: str) -> pd.DataFrame:
    """One output's pieces as one frame with the output's columns (no rows and no types when all are empty)."""
    columns = OUTPUT_COLUMNS[output]
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]
