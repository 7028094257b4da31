"""Validation in batches (warehouse.validate_batches): every row is still checked, the verdict is the same."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from synth_tables import replace_column, synthetic_tables

import warehouse.validate_batches as vb
from warehouse.schema import TABLES
from warehouse.settings import WarehouseSettings
from warehouse.tablefiles import TableFiles
from warehouse.validate import validate_tables

SETTINGS = WarehouseSettings(row_count_drift=0.5)
BATCH = 97  # person (600 rows) in 7 batches; a row past the first batch is in a later one


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return synthetic_tables(600, seed=3)


def _as_files(tables: dict[str, pa.Table], folder) -> TableFiles:
    folder.mkdir()
    for name, t in tables.items():
        pq.write_table(t, folder / f"{name}.parquet", row_group_size=64)
    return TableFiles(folder, TABLES)


def _validate(tables, report_dir, previous=None):
    return validate_tables(
        tables, previous=previous, settings=SETTINGS, grid_code_width=15, report_dir=report_dir
    )


def _figures(report) -> list[tuple]:
    return [
        (r.table, r.expectation, r.column, r.success, r.element_count, r.unexpected_count, r.observed_value)
        for r in report.results
    ]


def test_batches_give_the_whole_table_verdict(tables, tmp_path, monkeypatch):
    previous = {"row_counts": {n: t.num_rows for n, t in tables.items()}}
    whole = _validate(tables, tmp_path / "whole", previous)
    monkeypatch.setattr(vb, "VALIDATE_ROWS", BATCH)
    batched = _validate(_as_files(tables, tmp_path / "files"), tmp_path / "batched", previous)
    assert whole.success and batched.success, batched.failures
    assert _figures(batched) == _figures(whole)
    assert any(r.expectation == "expect_table_row_count_to_be_between" for r in batched.results)


@pytest.mark.parametrize("as_files", [False, True])
def test_a_failure_past_the_first_batch_blocks(tables, tmp_path, monkeypatch, as_files):
    person = tables["person"]
    assert person.num_rows > 3 * BATCH
    ids = person.column("id_number").to_pylist()
    bad = 3 * BATCH + 5  # in the fourth batch
    ids[bad] = ids[bad][:17] + ("1" if ids[bad][17] != "1" else "2")
    person_ids = person.column("person_id").to_pylist()
    person_ids[-1] = person_ids[1]  # a duplicate key across the first and the last batch
    broken = dict(tables)
    broken["person"] = replace_column(replace_column(person, "id_number", ids), "person_id", person_ids)
    xref = tables["source_xref"]
    assert xref.num_rows > BATCH
    records = xref.column("source_record_id").to_pylist()
    feeds, types = xref.column("feed").to_pylist(), xref.column("entity_type").to_pylist()
    last = xref.num_rows - 1
    records[last], feeds[last], types[last] = records[0], feeds[0], types[0]  # compound key twice
    broken["source_xref"] = replace_column(
        replace_column(replace_column(xref, "source_record_id", records), "feed", feeds), "entity_type", types
    )
    monkeypatch.setattr(vb, "VALIDATE_ROWS", BATCH)
    data = _as_files(broken, tmp_path / "files") if as_files else broken
    report = _validate(data, tmp_path / "report")
    assert not report.success
    failed = {(r.table, r.expectation, r.column): r for r in report.results if not r.success}
    assert set(failed) >= {
        ("person", "expect_column_values_to_be_valid_resident_id", "id_number"),
        ("person", "expect_column_values_to_be_unique", "person_id"),
        ("source_xref", "expect_compound_columns_to_be_unique", "feed, source_record_id, entity_type"),
    }
    assert (
        failed[("person", "expect_column_values_to_be_valid_resident_id", "id_number")].unexpected_count == 1
    )
    unique = failed[("person", "expect_column_values_to_be_unique", "person_id")]
    assert (unique.unexpected_count, unique.element_count) == (2, person.num_rows)
    compound = failed[
        ("source_xref", "expect_compound_columns_to_be_unique", "feed, source_record_id, entity_type")
    ]
    assert compound.unexpected_count == 2 and compound.element_count == xref.num_rows


def test_row_count_drift_is_checked_on_the_whole_table(tables, tmp_path, monkeypatch):
    monkeypatch.setattr(vb, "VALIDATE_ROWS", BATCH)
    previous = {"row_counts": {**{n: t.num_rows for n, t in tables.items()}, "person": 10_000}}
    report = _validate(_as_files(tables, tmp_path / "files"), tmp_path / "report", previous)
    failed = [(r.table, r.expectation, r.observed_value) for r in report.results if not r.success]
    assert failed == [("person", "expect_table_row_count_to_be_between", tables["person"].num_rows)]


def _sorted_files(tables: dict[str, pa.Table], folder) -> TableFiles:
    from warehouse.snapshot_write import sorted_by_key

    folder.mkdir()
    for name, t in tables.items():
        pq.write_table(sorted_by_key(name, t), folder / f"{name}.parquet", row_group_size=64)
    return TableFiles(folder, TABLES)


def test_key_ordered_files_keep_equal_keys_in_one_batch(tables, tmp_path, monkeypatch):
    """A file in key order is validated in file order (row and key checks together); a duplicate key that
    straddles a batch's end moves to the next batch whole, so it is still found, with its exact count."""
    previous = {"row_counts": {n: t.num_rows for n, t in tables.items()}}
    whole = _validate(tables, tmp_path / "whole", previous)
    monkeypatch.setattr(vb, "VALIDATE_ROWS", BATCH)
    files = _sorted_files(tables, tmp_path / "files")
    assert files.key_ordered("person", TABLES["person"].key)
    batched = _validate(files, tmp_path / "batched", previous)
    assert batched.success and _figures(batched) == _figures(whole)

    person = pq.read_table(files.path("person"))
    ids = person.column("person_id").to_pylist()
    ids[BATCH - 1] = ids[BATCH] = ids[BATCH + 1]  # three equal keys across the first batch's end, in order
    broken = dict(tables, person=replace_column(person, "person_id", ids))
    files = _sorted_files(broken, tmp_path / "broken")
    assert files.key_ordered("person", TABLES["person"].key)
    frames = list(vb.key_run_frames(files.path("person"), ["person_id"], ["person_id"]))
    assert sum(len(f) for f in frames) == person.num_rows and len(frames[0]) == BATCH - 1
    report = _validate(files, tmp_path / "report", previous)
    failed = [r for r in report.results if not r.success and r.table == "person"]
    assert [(r.expectation, r.unexpected_count, r.element_count) for r in failed] == [
        ("expect_column_values_to_be_unique", 3, person.num_rows)
    ]
