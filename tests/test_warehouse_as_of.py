"""Time travel by publish time: ``read_table`` / ``connect`` / ``sql_views`` with ``as_of=``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest
from synth_tables import synthetic_tables

from warehouse import (
    NoSnapshot,
    SnapshotChoiceError,
    connect,
    publish,
    read_manifest,
    read_table,
    snapshot_as_of,
    sql_views,
)
from warehouse.errors import UserError
from warehouse.read import MANIFEST, snapshot_path
from warehouse.schema import Layer
from warehouse.settings import WarehouseSettings

KEY = b"gridhub-test-key-0123456789abcdef"
SETTINGS = WarehouseSettings(keep_snapshots=3, row_count_drift=0.5)
LINEAGE = {"feeds": ["gongan_hukou"], "raw_files": []}


def _set_published_at(wh: Path, run_id: str, when: str) -> None:
    """Move a snapshot's publish time (both layers), as if it had been published then."""
    for layer in Layer:
        path = snapshot_path(wh, run_id, layer) / MANIFEST
        m = json.loads(path.read_text(encoding="utf-8"))
        m["published_at"] = when
        path.write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> Path:
    """r1 published 2026-11-01 08:00 UTC with 300 people, r2 (current) 2026-11-10 08:00 UTC with fewer."""
    wh = tmp_path_factory.mktemp("asof") / "warehouse"
    first = synthetic_tables(300, seed=5)
    second = dict(first)
    second["facility"] = first["facility"].slice(0, first["facility"].num_rows - 1)
    for run_id, tables in (("r1", first), ("r2", second)):
        publish(
            wh,
            tables,
            run_id=run_id,
            lineage=LINEAGE,
            settings=SETTINGS,
            grid_code_width=15,
            hmac_key=KEY,
        )
    _set_published_at(wh, "r1", "2026-11-01T08:00:00.000+00:00")
    _set_published_at(wh, "r2", "2026-11-10T08:00:00.000+00:00")
    return wh


def _rows(t: pa.Table) -> int:
    return t.num_rows


def test_as_of_picks_the_newest_snapshot_published_by_then(two):
    n1 = read_manifest(two, "r1")["row_counts"]["facility"]
    n2 = read_manifest(two, "r2")["row_counts"]["facility"]
    assert n1 == n2 + 1
    assert snapshot_as_of(two, "2026-11-05T00:00+00:00") == "r1"
    assert snapshot_as_of(two, dt.datetime(2026, 11, 10, 8, tzinfo=dt.UTC)) == "r2"  # equal time counts
    assert snapshot_as_of(two, "2026-11-10T15:59+08:00") == "r1"  # 07:59 UTC: r2 not yet published
    assert snapshot_as_of(two, dt.date(2026, 11, 10)) == "r2"  # a bare date means the end of that day
    assert _rows(read_table(two, "facility", as_of="2026-11-05T00:00+00:00")) == n1
    assert _rows(read_table(two, "facility", as_of="2030-01-01T00:00+00:00")) == n2
    assert _rows(read_table(two, "facility", layer="restricted", as_of="2026-11-05T00:00Z")) == n1
    assert "/r1/" in sql_views(two, as_of="2026-11-05T00:00+00:00")
    con = connect(two, as_of="2026-11-05T00:00+00:00")
    assert con.execute("SELECT count(*) FROM facility").fetchall()[0][0] == n1


def test_as_of_before_any_snapshot_is_a_clear_user_error(two):
    with pytest.raises(NoSnapshot, match=r"^.*没有.*no snapshot published at or before 2026-10-01") as e:
        read_table(two, "facility", as_of="2026-10-01T00:00+00:00")
    assert isinstance(e.value, UserError)
    with pytest.raises(NoSnapshot, match="no snapshot published"):
        connect(two, as_of="2026-10-01T00:00+00:00")


def test_snapshot_and_as_of_together_or_a_bad_time_are_refused(two):
    with pytest.raises(SnapshotChoiceError, match=r"^snapshot='r1' 与 as_of=.*not both") as e:
        read_table(two, "facility", snapshot="r1", as_of="2026-11-05T00:00+00:00")
    assert isinstance(e.value, UserError)
    with pytest.raises(SnapshotChoiceError, match="not both"):
        connect(two, snapshot="r1", as_of="2026-11-05T00:00+00:00")
    with pytest.raises(SnapshotChoiceError, match="不是 ISO 时间.*not an ISO time"):
        read_table(two, "facility", as_of="last tuesday")
