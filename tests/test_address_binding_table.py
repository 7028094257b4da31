"""The address_binding table: every source record's address fields with their standard address and grid codes
(数据回流), the department's own address text in the restricted layer only."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest
from department_fields import published_workspace
from synth_tables import synthetic_tables

from gridhub import pipeline
from matching.reference import ADDRESSES_FILE, read_reference_csv
from warehouse import current_manifest, layer_schema, read_table
from warehouse.privacy import is_code_column, to_layer
from warehouse.schema import TABLES

KEY = list(TABLES["address_binding"].key)
CODES = ["address_code", "building_code", "grid_code", "level", "status"]


@pytest.fixture(scope="module")
def published(sample_workspace, tmp_path_factory):
    return published_workspace(sample_workspace, tmp_path_factory)


def test_one_row_per_record_and_address_field_with_what_it_was_bound_to(published):
    ws = published.ws
    table = read_table(ws.warehouse, "address_binding", layer="restricted").to_pandas()
    run_id = current_manifest(ws.warehouse)["run_id"]
    bindings = pq.read_table(pipeline.bindings_path(ws, run_id)).to_pandas()
    assert len(table) == len(bindings.drop_duplicates(KEY)) and not table.duplicated(KEY).any()
    joined = table.merge(bindings.drop_duplicates(KEY), on=KEY, suffixes=("", "_bound"), validate="1:1")
    assert len(joined) == len(table)
    for c in ["address_text", *CODES]:
        assert joined[c].astype("string").equals(joined[f"{c}_bound"].astype("string")), c
    fields = set(zip(table["entity_type"], table["field"], strict=True))
    assert {("organisation", "org_address"), ("organisation", "org_business_address")} <= fields
    assert ("person", "hukou_address") in fields and ("house", "address") in fields


def test_a_department_gets_its_records_back_with_standard_address_and_grid_codes(published):
    """数据回流: 民政 reads its own records, keyed by its 救助编号, with the codes the warehouse bound."""
    ws = published.ws
    mine = read_table(ws.warehouse, "address_binding", layer="restricted").to_pandas()
    mine = mine[mine["feed"] == "minzheng_assistance"].set_index("source_record_id")
    assert len(mine) > 20 and mine["address_text"].notna().all()
    truth = pd.read_csv(ws.root / "truth" / "addresses.csv", dtype=str, keep_default_na=False)
    truth = truth[(truth["feed"] == "minzheng_assistance") & (truth["field"] == "address")]
    expected = truth.set_index("source_record_id")["address_code"].reindex(mine.index)
    matched = mine[mine["status"] == "matched"]
    assert len(matched) >= 0.9 * len(mine)
    assert (matched["address_code"] == expected[matched.index]).mean() >= 0.95
    library = read_reference_csv(ws.reference / ADDRESSES_FILE)
    grid_of = dict(zip(library["address_code"], library["grid_code"], strict=True))
    assert (matched["grid_code"] == matched["address_code"].map(grid_of)).all()


def test_the_shared_layer_has_the_codes_but_not_the_address_text(published):
    wh = published.ws.warehouse
    shared = read_table(wh, "address_binding").to_pandas()
    restricted = read_table(wh, "address_binding", layer="restricted").to_pandas()
    assert len(shared) == len(restricted) and restricted["address_text"].notna().all()
    assert shared["address_text"].isna().all()

    def codes(df: pd.DataFrame) -> list[tuple]:
        return sorted(
            df[["feed", "entity_type", "field", *CODES]].astype("string").fillna("").itertuples(False)
        )

    assert codes(shared) == codes(restricted)


def test_address_text_is_withheld_from_shared_whatever_it_holds():
    binding = synthetic_tables(300, seed=4)["address_binding"]
    texts = binding.column("address_text").to_pylist()
    assert any("电话1" in t for t in texts)  # some people write their phone into the address
    shared = to_layer("address_binding", binding, "shared", b"k")
    assert shared.column("address_text").null_count == binding.num_rows
    assert (
        to_layer("address_binding", binding, "restricted", b"k").column("address_text").to_pylist() == texts
    )
    assert shared.column("address_code").equals(binding.column("address_code"))
    assert (
        layer_schema("address_binding", "shared").names == layer_schema("address_binding", "restricted").names
    )
    doc = layer_schema("address_binding", "shared").field("address_text").metadata[b"doc"].decode()
    assert "Withheld in shared" in doc
    assert not is_code_column("address_binding", "address_text")
    assert is_code_column("house", "source_house_codes")  # lists of codes are published as they are
