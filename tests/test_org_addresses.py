"""Issue 13's department fields in the warehouse: an organisation's operating address (经营地址) and the grid
it gives, a house's department code (房屋编号), a person's 救助类型."""

from __future__ import annotations

import pandas as pd
import pytest
from department_fields import published_workspace

from connectors import load_staging
from matching.reference import ADDRESSES_FILE, read_reference_csv
from warehouse import read_table
from warehouse.build import BuildSettingError, assemble_tables
from warehouse.schema import ENTITY_TYPES, arrow_schema


@pytest.fixture(scope="module")
def published(sample_workspace, tmp_path_factory):
    return published_workspace(sample_workspace, tmp_path_factory)


def _restricted(published, table: str) -> pd.DataFrame:
    return read_table(published.ws.warehouse, table, layer="restricted").to_pandas()


def _entity_of(published, feed: str, entity_type: str) -> pd.Series:
    """source_record_id → entity id of one feed's records of one entity type."""
    x = _restricted(published, "source_xref")
    x = x[(x["feed"] == feed) & (x["entity_type"] == entity_type)]
    return x.set_index("source_record_id")["entity_id"]


def _library_grid(published) -> dict[str, str]:
    lib = read_reference_csv(published.ws.reference / ADDRESSES_FILE)
    return dict(zip(lib["address_code"], lib["grid_code"], strict=True))


def test_an_organisation_with_an_operating_address_gets_both_codes_and_the_operating_grid(published):
    grid_of = _library_grid(published)
    org = _restricted(published, "organisation").set_index("org_id")
    entity = _entity_of(published, "shichang_orgs", "organisation")
    written = pd.Series(published.operating)
    given = org.loc[entity.reindex(written.index).dropna().unique()]
    assert len(given) >= 4  # the 400-person sample has about ten 市场监管 organisations
    bound = given[given["business_address_code"].notna()]
    assert len(bound) >= 0.9 * len(given)  # every written address is a standard text of the library
    assert set(bound["business_address_code"]) <= set(written)
    assert (bound["grid_basis"] == "经营").all()
    assert (bound["grid_code"] == bound["business_address_code"].map(grid_of)).all()
    # the registered address stays the organisation's address_code, and is elsewhere for most of them
    both = bound[bound["address_code"].notna()]
    assert len(both) >= 0.8 * len(bound)
    assert (both["address_code"].map(grid_of) != both["grid_code"]).mean() > 0.5
    relations = _restricted(published, "organisation_address")
    pairs = set(zip(relations["org_id"], relations["address_code"], relations["relation"], strict=True))
    assert all(
        (i, c, "经营") in pairs for i, c in zip(both.index, both["business_address_code"], strict=True)
    )
    assert all((i, c, "注册") in pairs for i, c in zip(both.index, both["address_code"], strict=True))


def test_without_an_operating_address_the_grid_is_the_registered_one(published):
    grid_of = _library_grid(published)
    org = _restricted(published, "organisation")
    registered = org[org["business_address_code"].isna() & org["address_code"].notna()]
    assert len(registered) >= 4
    assert (registered["grid_basis"] == "注册").all()
    agree = registered["grid_code"] == registered["address_code"].map(grid_of)
    assert agree.mean() > 0.95  # address and grid survive on their own: rare merged records may differ
    assert (
        org.loc[org["address_code"].isna() & org["business_address_code"].isna(), "grid_basis"].isna().all()
    )


def test_a_house_keeps_every_department_code_of_its_records(published):
    house = _restricted(published, "house")
    codes = house[["house_id", "source_house_codes"]].explode("source_house_codes").dropna()
    assert codes["source_house_codes"].is_unique  # one code, one house
    entity = _entity_of(published, "zhujian_houses", "house")
    written = pd.Series(published.house_codes)
    expected = entity.reindex(written.index).dropna()
    assert len(expected) >= 0.9 * len(written)
    found = codes.set_index("source_house_codes")["house_id"]
    assert (found.reindex(written[expected.index]).to_numpy() == expected.to_numpy()).all()


def test_a_persons_assistance_type_from_minzheng_reaches_the_person_table(published):
    staged = load_staging(published.ws, "minzheng_assistance")
    given = staged.dropna(subset=["assistance_type"])
    assert len(given) > 10
    person_of = _entity_of(published, "minzheng_assistance", "person")
    given = given.assign(person_id=given["source_record_id"].map(person_of)).dropna(subset=["person_id"])
    allowed = given.groupby("person_id")["assistance_type"].agg(set)
    person = _restricted(published, "person").set_index("person_id")
    got = person.loc[allowed.index, "assistance_type"]
    assert all(g in a for g, a in zip(got, allowed, strict=True))


# ---- the grid rule as a setting, without a pipeline ----------------------------------------------------------
def _assemble(**kw):
    addresses = pd.DataFrame(
        {
            "address_code": ["A1", "A2"],
            "division_code": ["440106001001", "440106002001"],
            "standard_text": ["天河路1号", "中山大道2号"],
            "grid_code": ["440106001001001", "440106002001001"],
            "lon": ["", ""],
            "lat": ["", ""],
        }
    )
    grids = pd.DataFrame({"grid_code": ["440106001001001", "440106002001001"], "name": ["网格1", "网格2"]})
    empty = {t: pd.DataFrame({"record_key": [], "entity_id": []}, dtype=object) for t in ENTITY_TYPES}
    meta = ("record_key", "feed", "source_record_id", "raw_sha256", "line")
    mentions = {t: pd.DataFrame({c: [] for c in meta}, dtype=object) for t in ENTITY_TYPES}
    mentions["organisation"] = pd.DataFrame(
        {
            "record_key": ["s:1", "s:2"],
            "feed": ["s", "s"],
            "source_record_id": ["1", "2"],
            "raw_sha256": ["h", "h"],
            "line": [2, 3],
            "org_name": ["甲公司", "乙商行"],
            "address_code": ["A1", "A1"],
            "business_address_code": ["A2", None],
        }
    )
    assignments = {
        **empty,
        "organisation": pd.DataFrame({"record_key": ["s:1", "s:2"], "entity_id": ["O1", "O2"]}),
    }
    columns = ("entity_id", "name", "id_number", "address_code", "grid_code")
    golden = {t: pd.DataFrame({c: [] for c in columns}, dtype=object) for t in ENTITY_TYPES}
    golden["organisation"] = pd.DataFrame(
        {
            "entity_id": ["O1", "O2"],
            "org_name": ["甲公司", "乙商行"],
            "address_code": ["A1", "A1"],
            "grid_code": ["440106001001001", "440106001001001"],
            "business_address_code": ["A2", None],
            "business_grid_code": ["440106002001001", None],
        }
    )
    return assemble_tables(
        addresses=addresses,
        grids=grids,
        priority={"s": 1},
        mentions=mentions,
        assignments=assignments,
        golden=golden,
        links=pd.DataFrame(columns=["kind", "from_key", "to_key", "relation", "feed", "record_date"]),
        issues=pd.DataFrame(columns=arrow_schema("field_issue").names),
        bindings=pd.DataFrame(columns=["feed", "source_record_id", "entity_type", "field", "status"]),
        quarantine=pd.DataFrame(columns=arrow_schema("quarantine").names),
        **kw,
    )


def test_the_organisation_grid_follows_the_operating_address_unless_set_to_registered():
    org = _assemble()["organisation"].to_pandas().set_index("org_id")
    assert list(org["grid_code"]) == ["440106002001001", "440106001001001"]
    assert list(org["grid_basis"]) == ["经营", "注册"]
    assert list(org["street_code"]) == ["440106002", "440106001"]
    org = _assemble(org_grid_from="registered")["organisation"].to_pandas().set_index("org_id")
    assert list(org["grid_code"]) == ["440106001001001", "440106001001001"]
    assert list(org["grid_basis"]) == ["注册", "注册"]
    relations = _assemble()["organisation_address"].to_pandas()
    assert sorted(
        zip(relations["org_id"], relations["address_code"], relations["relation"], strict=True)
    ) == [
        ("O1", "A1", "注册"),
        ("O1", "A2", "经营"),
        ("O2", "A1", "注册"),
    ]
    with pytest.raises(BuildSettingError, match="operating"):
        _assemble(org_grid_from="business")
