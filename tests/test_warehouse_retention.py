"""Retention by count and age: a snapshot goes only when it is beyond ``keep_snapshots`` AND ``keep_days``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest
from pydantic import ValidationError
from synth_tables import synthetic_tables

from warehouse import current_run_id, list_snapshots, publish
from warehouse.read import MANIFEST, snapshot_path
from warehouse.schema import Layer
from warehouse.settings import WarehouseSettings

KEY = b"gridhub-test-key-0123456789abcdef"
LINEAGE = {"feeds": ["gongan_hukou"], "raw_files": []}


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return synthetic_tables(200, seed=7)


def _publish(wh: Path, tables: dict[str, pa.Table], run_id: str, settings: WarehouseSettings) -> None:
    publish(wh, tables, run_id=run_id, lineage=LINEAGE, settings=settings, grid_code_width=15, hmac_key=KEY)


def _age(wh: Path, run_id: str, days: float) -> None:
    """Make a snapshot look ``days`` old (its manifest's publish time, both layers)."""
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).isoformat(timespec="milliseconds")
    for layer in Layer:
        path = snapshot_path(wh, run_id, layer) / MANIFEST
        m = json.loads(path.read_text(encoding="utf-8"))
        m["published_at"] = when
        path.write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")


def test_default_keeps_thirty_days():
    assert WarehouseSettings().keep_days == 30
    with pytest.raises(ValidationError):
        WarehouseSettings(keep_days=-1)


def test_young_snapshots_survive_the_count_and_old_ones_go_only_beyond_it(tables, tmp_path):
    wh = tmp_path / "warehouse"
    settings = WarehouseSettings(keep_snapshots=2, keep_days=30)
    for i in range(1, 5):
        _publish(wh, tables, f"r{i}", settings)
    assert list_snapshots(wh) == ["r1", "r2", "r3", "r4"]  # all younger than 30 days: none pruned
    _age(wh, "r1", 60)
    _age(wh, "r2", 40)
    _age(wh, "r3", 1)  # beyond the count, but young
    _publish(wh, tables, "r5", settings)
    # r1, r2: old and beyond the newest 2 -> gone; r3 young -> kept; r4, r5 the newest 2
    assert list_snapshots(wh) == ["r3", "r4", "r5"] == list_snapshots(wh, "restricted")
    _age(wh, "r3", 50)
    _age(wh, "r4", 45)  # old, but among the newest 2 (r4, r5): kept
    _publish(wh, tables, "r5", settings)  # the same run again prunes as well
    assert list_snapshots(wh) == ["r4", "r5"] == list_snapshots(wh, "restricted")


def test_the_current_snapshot_is_never_pruned_even_when_old(tables, tmp_path):
    wh = tmp_path / "warehouse"
    settings = WarehouseSettings(keep_snapshots=1, keep_days=30)
    _publish(wh, tables, "r1", settings)
    _publish(wh, tables, "r2", settings)
    for run_id in ("r1", "r2"):
        _age(wh, run_id, 90)
    _publish(wh, tables, "r1", settings)  # an old id made current again
    assert current_run_id(wh) == "r1" and list_snapshots(wh) == ["r1"]
