"""Assemble the canonical warehouse tables from resolved entities (the "marts" of the warehouse).

Inputs are the bound mentions, the entity assignments and golden records from entity resolution, the links
between mentions of one record, and the reference data. The output is one ``pa.Table`` per table in
``warehouse.schema.TABLES``, each with exactly its Arrow schema and rows sorted by key, so the same inputs
always give byte-identical Parquet.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from warehouse.schema import TABLES, UNKNOWN_STREET, arrow_schema, street_codes

ENTITY_TYPES = ("person", "organisation", "house", "facility")
ID_COLUMN = {"person": "person_id", "organisation": "org_id", "house": "house_id", "facility": "facility_id"}


def to_arrow(name: str, df: pd.DataFrame) -> pa.Table:
    """Cast a frame to the canonical table's exact schema, sorted by key (missing columns become null)."""
    table = TABLES[name]
    schema = arrow_schema(table)
    df = df.copy()
    for col in table.columns:
        if col.name not in df.columns:
            df[col.name] = None
    df = df[table.column_names]
    if len(df):
        df = df.sort_values(list(table.key), kind="stable", na_position="last").reset_index(drop=True)
    arrays = []
    for col in table.columns:
        values = df[col.name]
        if pa.types.is_list(col.type):
            py = [list(v) if isinstance(v, list | tuple | np.ndarray) else None for v in values]
        elif pa.types.is_date(col.type):
            py = pd.to_datetime(values, errors="coerce").dt.date.astype(object).where(values.notna(), None)
            py = [
                None if (v is None or v is pd.NaT or (isinstance(v, float) and np.isnan(v))) else v
                for v in py
            ]
        elif pa.types.is_floating(col.type):
            py = pd.to_numeric(values, errors="coerce").astype("float64")
            py = [None if np.isnan(v) else float(v) for v in py]
        elif pa.types.is_integer(col.type):
            py = [None if pd.isna(v) else int(v) for v in values]
        elif pa.types.is_boolean(col.type):
            py = [None if pd.isna(v) else bool(v) for v in values]
        else:
            py = [None if pd.isna(v) else str(v) for v in values]
        arrays.append(pa.array(py, type=col.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _sources(mentions: pd.DataFrame, assignments: pd.DataFrame) -> pd.Series:
    m = mentions[["record_key", "feed"]].merge(assignments[["record_key", "entity_id"]], on="record_key")
    return m.groupby("entity_id")["feed"].agg(lambda s: sorted(set(s)))


def _entity_of(assignments: pd.DataFrame) -> dict[str, str]:
    return dict(zip(assignments["record_key"], assignments["entity_id"], strict=True))


def _golden(
    golden: pd.DataFrame, mentions: pd.DataFrame, assignments: pd.DataFrame, id_col: str
) -> pd.DataFrame:
    g = golden.rename(columns={"entity_id": id_col}).copy()
    g["sources"] = g[id_col].map(_sources(mentions, assignments))
    return g


def _street_code(frame: pd.DataFrame, address_code: pd.Series, division_of: dict[str, str]) -> list[str]:
    """The partition column ``street_code`` (街道/镇) of each row: from the row's ``grid_code``, else from the
    division code of ``address_code`` (see :func:`warehouse.schema.street_codes`)."""
    grid_code = frame["grid_code"] if "grid_code" in frame.columns else pd.Series(None, index=frame.index)
    division = address_code.map(division_of)
    return street_codes(
        *(pa.array(s.astype(object), pa.string(), from_pandas=True) for s in (grid_code, division))
    ).to_pylist()


def _address_table(reference_dir: Path) -> pd.DataFrame:
    df = pd.read_csv(reference_dir / "standard_addresses.csv", dtype=str, keep_default_na=False)
    df = df.replace({"": None})
    for c in ("lon", "lat"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


def _grid_table(reference_dir: Path) -> pd.DataFrame:
    df = pd.read_csv(reference_dir / "grids.csv", dtype=str, keep_default_na=False)
    return df.replace({"": None})


def _person_house(
    links: pd.DataFrame, persons: dict[str, str], houses: dict[str, str], priority: dict[str, int]
) -> pd.DataFrame:
    ph = links[links["kind"] == "person_house"].copy()
    ph["person_id"] = ph["from_key"].map(persons)
    ph["house_id"] = ph["to_key"].map(houses)
    ph = ph.dropna(subset=["person_id", "house_id", "relation"])
    if ph.empty:
        return pd.DataFrame(columns=TABLES["person_house"].column_names)
    ph["priority"] = ph["feed"].map(priority).fillna(0)
    ph["record_date"] = pd.to_datetime(ph["record_date"], errors="coerce")
    rel = (
        ph.groupby(["person_id", "house_id", "relation"])
        .agg(
            valid_from=("record_date", "min"),
            last_seen=("record_date", "max"),
            priority=("priority", "max"),
            sources=("feed", lambda s: sorted(set(s))),
        )
        .reset_index()
    )
    # A person has one current residence (居住): the one stated by the most authoritative, most recent source.
    rel["_rank_date"] = rel["last_seen"].fillna(pd.Timestamp.min)
    rel = rel.sort_values(
        ["person_id", "relation", "priority", "_rank_date"], ascending=[True, True, False, False]
    )
    first = ~rel.duplicated(["person_id", "relation"])
    rel["is_current"] = np.where(rel["relation"] == "居住", first, True)
    rel["valid_to"] = rel["last_seen"].where(~rel["is_current"])
    return rel.drop(columns=["last_seen", "_rank_date", "priority"])


def assemble_tables(
    *,
    reference_dir: Path,
    priority: dict[str, int],
    mentions: dict[str, pd.DataFrame],
    assignments: dict[str, pd.DataFrame],
    golden: dict[str, pd.DataFrame],
    links: pd.DataFrame,
    issues: pd.DataFrame,
    bindings: pd.DataFrame,
    quarantine: pd.DataFrame,
) -> dict[str, pa.Table]:
    """Every canonical table, from the outputs of the earlier steps.

    ``priority`` is each feed's survivorship priority (``{feed name: priority}``, higher wins).
    """
    address = _address_table(reference_dir)
    grid = _grid_table(reference_dir)
    street_of = dict(zip(address["address_code"], address["division_code"].str[:9], strict=True))
    entity = {t: _entity_of(assignments[t]) for t in ENTITY_TYPES}

    house = _golden(golden["house"], mentions["house"], assignments["house"], "house_id")
    house = house.rename(columns={"house_use": "use", "house_area": "area", "bind_level": "bind_level"})

    org = _golden(golden["organisation"], mentions["organisation"], assignments["organisation"], "org_id")
    org = org.rename(columns={"org_name": "name", "org_status": "status"})
    names = mentions["organisation"][["record_key", "org_name"]].copy()
    names["org_id"] = names["record_key"].map(entity["organisation"])
    all_names = names.groupby("org_id")["org_name"].agg(lambda s: sorted(set(s.dropna())))
    org["former_names"] = [
        [n for n in all_names.get(i, []) if n != cur]
        for i, cur in zip(org["org_id"], org["name"], strict=True)
    ]

    fac = _golden(golden["facility"], mentions["facility"], assignments["facility"], "facility_id")
    fac = fac.rename(columns={"facility_name": "name", "facility_status": "status"})

    person_house = _person_house(links, entity["person"], entity["house"], priority)
    person = _golden(golden["person"], mentions["person"], assignments["person"], "person_id")
    current_home = person_house[
        (person_house["relation"] == "居住") & person_house["is_current"].astype(bool)
    ]
    home = dict(zip(current_home["person_id"], current_home["house_id"], strict=True))
    person["residence_house_id"] = person["person_id"].map(home)
    house_grid = dict(zip(house["house_id"], house["grid_code"], strict=True))
    house_addr = dict(zip(house["house_id"], house["address_code"], strict=True))
    person["grid_code"] = person["residence_house_id"].map(house_grid)
    if "hukou_address_code" not in person.columns:
        person["hukou_address_code"] = None
    res_street = person["residence_house_id"].map(house_addr).map(street_of)
    hukou_street = person["hukou_address_code"].map(street_of)
    person["separated"] = (res_street.notna() & hukou_street.notna() & (res_street != hukou_street)).where(
        res_street.notna() & hukou_street.notna()
    )
    given = person.get("population_type", pd.Series(None, index=person.index)).where(
        lambda s: s.isin(["户籍", "流动", "境外"])
    )
    hukou_text = person.get("hukou_address_text", pd.Series(None, index=person.index))
    derived = np.where(
        person["hukou_address_code"].notna(), "户籍", np.where(pd.notna(hukou_text), "流动", "未知")
    )
    person["population_type"] = given.fillna(pd.Series(derived, index=person.index))
    person["id_type"] = np.where(person["id_number"].notna(), "居民身份证", "其他")

    po = links[links["kind"] == "person_organisation"].copy()
    po["person_id"] = po["from_key"].map(entity["person"])
    po["org_id"] = po["to_key"].map(entity["organisation"])
    po = po.dropna(subset=["person_id", "org_id"])
    person_org = (
        po.groupby(["person_id", "org_id", "relation"])["feed"]
        .agg(lambda s: sorted(set(s)))
        .reset_index()
        .rename(columns={"feed": "sources"})
    )
    employer = person_org.sort_values(["person_id", "org_id"]).drop_duplicates("person_id")
    person["employer_org_id"] = person["person_id"].map(
        dict(zip(employer["person_id"], employer["org_id"], strict=True))
    )

    om = mentions["organisation"].dropna(subset=["address_code"]).copy()
    om["org_id"] = om["record_key"].map(entity["organisation"])
    org_addr = (
        om.groupby(["org_id", "address_code"])["feed"]
        .agg(lambda s: sorted(set(s)))
        .reset_index()
        .rename(columns={"feed": "sources"})
    )
    org_addr["relation"] = "注册"

    xref_frames = []
    for t in ENTITY_TYPES:
        a = assignments[t].merge(
            mentions[t][["record_key", "feed", "source_record_id", "raw_sha256", "line"]], on="record_key"
        )
        a["entity_type"] = t
        xref_frames.append(a)
    xref = pd.concat(xref_frames, ignore_index=True)

    review = bindings[bindings["status"].isin(["unmatched", "ambiguous"])].copy()
    review = review.drop_duplicates(["feed", "source_record_id", "field"])

    # the partition column of the big tables: the 街道/镇 of the grid, else of the address (of the residence)
    division_of = dict(zip(address["address_code"], address["division_code"], strict=True))
    address["street_code"] = _street_code(address, address["address_code"], division_of)
    for frame in (house, org, fac):
        no_address = pd.Series(None, index=frame.index, dtype=object)
        frame["street_code"] = _street_code(frame, frame.get("address_code", no_address), division_of)
    person["street_code"] = _street_code(person, person["residence_house_id"].map(house_addr), division_of)
    house_street = dict(zip(house["house_id"], house["street_code"], strict=True))
    person_house["street_code"] = person_house["house_id"].map(house_street).fillna(UNKNOWN_STREET)

    frames = {
        "address": address,
        "grid": grid,
        "person": person,
        "house": house,
        "organisation": org,
        "facility": fac,
        "person_house": person_house,
        "person_organisation": person_org,
        "organisation_address": org_addr,
        "source_xref": xref,
        "quarantine": quarantine,
        "address_review": review,
        "field_issue": issues.drop_duplicates(["feed", "source_record_id", "field", "reason_code"]),
    }
    for df in frames.values():
        if "field_sources" in df.columns:
            df["field_sources"] = [
                v if isinstance(v, str) or v is None else json.dumps(v, ensure_ascii=False)
                for v in df["field_sources"]
            ]
    return {name: to_arrow(name, df) for name, df in frames.items()}
