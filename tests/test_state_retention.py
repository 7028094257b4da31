"""Retention of the entity-id state generations and the ingest failure records (issue #15): the same rule as the
snapshots (``warehouse.keep_snapshots`` and ``keep_days``). A generation stays while its snapshot is kept, so a
rollback to a kept snapshot takes its entity ids with it; the committed one always stays."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pytest
from synth_tables import synthetic_tables

from gridhub import statecommit
from gridhub.retention import FAILURES_DIR
from gridhub.workspace import Workspace
from warehouse import list_snapshots, publish
from warehouse.files import atomic_write_text
from warehouse.read import MANIFEST, POINTER_FILE, snapshot_path
from warehouse.schema import Layer

KEY = b"gridhub-test-key-0123456789abcdef"
DAY = 86400


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return synthetic_tables(150, seed=3)


@pytest.fixture
def ws(workspace_copy: Path) -> Workspace:
    config = workspace_copy / "gridhub.yaml"
    text = config.read_text(encoding="utf-8")
    assert "keep_snapshots: 5" in text
    config.write_text(
        text.replace("keep_snapshots: 5", "keep_snapshots: 2\n  keep_days: 30"), encoding="utf-8"
    )
    return Workspace(workspace_copy)


def _stage(ws: Workspace, run_id: str) -> None:
    """A run's complete state generation (a person registry naming the run), not yet committed."""
    staged = ws.root / "work" / run_id / "resolved" / "state"
    (staged / "person").mkdir(parents=True, exist_ok=True)
    (staged / "person" / "registry.txt").write_text(run_id, encoding="utf-8")
    statecommit.stage_generation(ws, run_id, staged)


def _publish(ws: Workspace, tables: dict[str, pa.Table], run_id: str) -> None:
    """What gridhub.pipeline.publish_run does: stage the generation, publish the snapshot, switch the state."""
    _stage(ws, run_id)
    lineage = {"feeds": ["gongan_population"], "raw_files": []}
    settings = ws.config.warehouse
    publish(
        ws.warehouse,
        tables,
        run_id=run_id,
        lineage=lineage,
        settings=settings,
        grid_code_width=15,
        hmac_key=KEY,
    )
    statecommit.switch_state(ws, run_id)


def _age(ws: Workspace, run_id: str, days: float) -> None:
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).isoformat(timespec="milliseconds")
    for layer in Layer:
        path = snapshot_path(ws.warehouse, run_id, layer) / MANIFEST
        m = json.loads(path.read_text(encoding="utf-8"))
        m["published_at"] = when
        path.write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")


def _generations(ws: Workspace) -> list[str]:
    return sorted(p.name for p in (statecommit.er_root(ws) / "generations").iterdir())


def _failure_record(ws: Workspace, feed: str, dag_run: str, days_old: float) -> Path:
    path = ws.state / FAILURES_DIR / feed / f"{dag_run}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"feed": feed, "dag_run": dag_run, "files": []}), encoding="utf-8")
    then = time.time() - days_old * DAY
    os.utime(path, (then, then))
    return path


def test_generations_follow_the_snapshots_and_a_rollback_keeps_its_state(ws, tables):
    for i in range(1, 5):  # all younger than keep_days: every snapshot kept, so every generation
        _publish(ws, tables, f"r{i}")
    assert list_snapshots(ws.warehouse) == ["r1", "r2", "r3", "r4"]
    assert _generations(ws) == ["r1", "r2", "r3", "r4"]

    _stage(ws, "rx")  # a run whose generation was staged but never published (say its validation failed)
    _age(ws, "r1", 60)
    _age(ws, "r2", 40)
    _age(ws, "r3", 1)  # beyond the count but young: kept, with its generation
    _publish(ws, tables, "r5")
    assert list_snapshots(ws.warehouse) == ["r3", "r4", "r5"]
    assert _generations(ws) == ["r3", "r4", "r5"]  # r1, r2: snapshots pruned; rx: never published

    # a rollback: the warehouse's CURRENT names a kept older snapshot again; its entity ids come back with it
    atomic_write_text(ws.warehouse / POINTER_FILE, "r3\n")
    assert statecommit.recover_state(ws) == "r3"
    registry = statecommit.generation_dir(ws, "r3") / "person" / "registry.txt"
    assert registry.read_text(encoding="utf-8") == "r3"
    assert _generations(ws) == ["r3", "r4", "r5"]  # the switch back pruned nothing a kept snapshot needs


def test_old_ingest_failure_records_are_pruned_by_the_same_rule(ws, tables):
    oldest = _failure_record(ws, "gongan_population", "run_a", 90)
    old = _failure_record(ws, "gongan_population", "run_b", 60)
    among_newest = _failure_record(ws, "gongan_population", "run_c", 45)  # old, but among the newest 2
    young = _failure_record(ws, "gongan_population", "run_d", 0)
    alone = _failure_record(ws, "shichang_orgs", "run_e", 90)  # the only record of its feed
    _publish(ws, tables, "r1")
    assert not oldest.exists() and not old.exists()
    assert among_newest.is_file() and young.is_file() and alone.is_file()
