"""Writing a snapshot batch by batch (warehouse.snapshot_write): the files are those of writing each table whole."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from synth_tables import synthetic_tables

import warehouse.snapshot_write as sw
from warehouse import publish
from warehouse.read import read_table
from warehouse.schema import TABLES
from warehouse.settings import WarehouseSettings
from warehouse.tablefiles import TableFiles

KEY = b"gridhub-test-key-0123456789abcdef"
SETTINGS = WarehouseSettings(row_count_drift=0.5)


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return synthetic_tables(600, seed=5)


def _publish(wh, tables):
    snap = publish(
        wh, tables, run_id="run-1", lineage={}, settings=SETTINGS, grid_code_width=15, hmac_key=KEY
    )
    manifest = json.loads((snap.path / "manifest.json").read_text(encoding="utf-8"))
    return snap, manifest


def test_streamed_files_equal_whole_table_files(tables, tmp_path, monkeypatch):
    monkeypatch.setattr(sw, "ROW_GROUP_ROWS", 37)  # many batches, row groups and partitions per table
    folder = tmp_path / "tables"
    folder.mkdir()
    for name, t in tables.items():
        pq.write_table(sw.sorted_by_key(name, t), folder / f"{name}.parquet", row_group_size=50)
    streamed = TableFiles(folder, TABLES)
    assert all(sw.in_key_order(streamed.path(n), TABLES[n].key) for n in ("person", "source_xref"))
    _, whole = _publish(tmp_path / "whole", tables)  # a dict of tables: sorted and written whole
    snap, stream = _publish(tmp_path / "stream", streamed)
    assert stream["content_sha256"] == whole["content_sha256"]
    for t in stream["tables"].values():  # the table file each was published from (files only)
        assert len(t.pop("source_sha256")) == 64
    assert stream["tables"] == whole["tables"]
    person = pq.ParquetFile(snap.path / stream["tables"]["person"]["files"]["shared"][0]["path"])
    assert {person.metadata.row_group(i).num_rows for i in range(person.metadata.num_row_groups - 1)} <= {37}
    assert read_table(snap.path.parent.parent.parent, "person").num_rows == tables["person"].num_rows


def test_a_file_out_of_key_order_is_sorted(tables, tmp_path, monkeypatch):
    monkeypatch.setattr(sw, "ROW_GROUP_ROWS", 37)
    folder = tmp_path / "tables"
    folder.mkdir()
    for name, t in tables.items():
        rows = t.take(list(reversed(range(t.num_rows)))) if name == "source_xref" else t
        pq.write_table(rows, folder / f"{name}.parquet")
    files = TableFiles(folder, TABLES)
    assert not sw.in_key_order(files.path("source_xref"), TABLES["source_xref"].key)
    _, whole = _publish(tmp_path / "whole", tables)
    _, shuffled = _publish(tmp_path / "shuffled", files)
    assert shuffled["content_sha256"] == whole["content_sha256"]
