"""A delta publish takes what did not change from the current snapshot (warehouse.snapshot_reuse): the same
snapshot, less work, and still the Great Expectations gate on everything that changed."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from synth_tables import replace_column, synthetic_tables

import warehouse.snapshot_write as sw
from warehouse import PublishBlocked, publish
from warehouse.read import current_run_id, snapshot_path
from warehouse.schema import TABLES, Layer
from warehouse.settings import WarehouseSettings
from warehouse.tablefiles import TableFiles

KEY = b"gridhub-test-key-0123456789abcdef"
SETTINGS = WarehouseSettings(row_count_drift=0.5)


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return synthetic_tables(300, seed=11)


def _files(tables: dict[str, pa.Table], folder) -> TableFiles:
    folder.mkdir()
    for name, t in tables.items():
        pq.write_table(sw.sorted_by_key(name, t), folder / f"{name}.parquet")
    return TableFiles(folder, TABLES)


def _publish(wh, tables, run_id, key=KEY):
    return publish(wh, tables, run_id=run_id, lineage={}, settings=SETTINGS, grid_code_width=15, hmac_key=key)


def _report(wh, run_id) -> dict:
    return json.loads((wh / "runs" / run_id / "data_docs" / "validation.json").read_text(encoding="utf-8"))


def _inode(wh, run_id, name) -> int:
    return next((snapshot_path(wh, run_id, Layer.RESTRICTED) / name).rglob("*.parquet")).stat().st_ino


def _changed(tables):
    """A delta: one facility's name changes (nothing references a facility)."""
    names = tables["facility"].column("name").to_pylist()
    names[0] = (names[0] or "") + "（新）"
    return dict(tables, facility=replace_column(tables["facility"], "name", names))


def test_unchanged_tables_are_linked_and_not_validated_again(tables, tmp_path):
    wh = tmp_path / "wh"
    _publish(wh, _files(tables, tmp_path / "t1"), "r1")
    delta = _changed(tables)
    second = _publish(wh, _files(delta, tmp_path / "t2"), "r2")
    fresh = _publish(tmp_path / "fresh", _files(delta, tmp_path / "t3"), "r2")  # no previous snapshot
    assert second.manifest["content_sha256"] == fresh.manifest["content_sha256"]
    assert second.manifest["tables"] == fresh.manifest["tables"]
    assert _inode(wh, "r2", "person") == _inode(wh, "r1", "person")  # hard link
    assert _inode(wh, "r2", "facility") != _inode(wh, "r1", "facility")
    reused = _report(wh, "r2")["reused_tables"]
    assert "facility" not in reused and "grid" in reused and "person" in reused
    drift = "expect_table_row_count_to_be_between"
    figures = [_figures(_report(w, "r2")) for w in (wh, tmp_path / "fresh")]
    assert figures[0] == figures[1]  # the same outcomes as validating everything (no drift check in fresh)
    assert ("person", drift) in {(r["table"], r["expectation"]) for r in _report(wh, "r2")["results"]}


def _figures(report: dict) -> list[tuple]:
    return [
        (r["table"], r["expectation"], r["column"], r["success"], r["element_count"], r["unexpected_count"])
        for r in report["results"]
        if r["expectation"] != "expect_table_row_count_to_be_between"
    ]


def test_a_changed_table_still_blocks_and_the_current_snapshot_stays(tables, tmp_path):
    wh = tmp_path / "wh"
    _publish(wh, _files(tables, tmp_path / "t1"), "r1")
    ids = tables["facility"].column("facility_id").to_pylist()
    ids[1] = ids[0]  # a duplicate key in the changed table
    broken = dict(tables, facility=replace_column(tables["facility"], "facility_id", ids))
    with pytest.raises(PublishBlocked, match="facility"):
        _publish(wh, _files(broken, tmp_path / "t2"), "r2")
    assert current_run_id(wh) == "r1" and not snapshot_path(wh, "r2").exists()


def test_a_referenced_table_that_changed_revalidates_the_referring_one(tables, tmp_path):
    wh = tmp_path / "wh"
    _publish(wh, _files(tables, tmp_path / "t1"), "r1")
    house = tables["house"]
    changed = dict(tables, house=house.slice(0, house.num_rows - 1))  # a house gone, its relations kept
    with pytest.raises(PublishBlocked, match="reference"):
        _publish(wh, _files(changed, tmp_path / "t2"), "r2")


def test_no_link_with_another_key_or_a_changed_file(tables, tmp_path):
    wh = tmp_path / "wh"
    _publish(wh, _files(tables, tmp_path / "t1"), "r1")
    other = _publish(wh, _files(tables, tmp_path / "t2"), "r2", key=b"another-key-0123456789abcdef0000")
    assert _inode(wh, "r2", "person") != _inode(wh, "r1", "person")
    first = _publish(tmp_path / "x", _files(tables, tmp_path / "t3"), "r1")
    assert other.manifest["content_sha256"] != first.manifest["content_sha256"]
    grid = next((snapshot_path(wh, "r2", Layer.SHARED) / "grid").rglob("*.parquet"))
    grid.chmod(0o644)
    grid.write_bytes(grid.read_bytes()[:-1] + b"!")  # damaged after publishing: written again, not linked
    third = _publish(wh, _files(tables, tmp_path / "t4"), "r3", key=b"another-key-0123456789abcdef0000")
    assert _inode(wh, "r3", "person") == _inode(wh, "r2", "person")
    assert third.manifest["content_sha256"] == other.manifest["content_sha256"]


def test_a_report_of_other_bytes_or_other_checking_code_is_not_reused(tables, tmp_path):
    wh = tmp_path / "wh"
    _publish(wh, _files(tables, tmp_path / "t1"), "r1")
    path = wh / "runs" / "r1" / "data_docs" / "validation.json"
    report = json.loads(path.read_text(encoding="utf-8"))
    assert set(report["sources"]) == set(TABLES) and report["fingerprint"]
    report["sources"]["grid"] = "0" * 64  # as if a later attempt of run r1 had validated other bytes
    path.write_text(json.dumps(report), encoding="utf-8")
    _publish(wh, _files(tables, tmp_path / "t2"), "r2")
    assert "grid" not in _report(wh, "r2")["reused_tables"] and "person" in _report(wh, "r2")["reused_tables"]
    path = wh / "runs" / "r2" / "data_docs" / "validation.json"
    report = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(report | {"fingerprint": "other code"}), encoding="utf-8")
    _publish(wh, _files(tables, tmp_path / "t3"), "r3")
    assert _report(wh, "r3")["reused_tables"] == []
