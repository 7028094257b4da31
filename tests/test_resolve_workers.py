"""resolve_entities with the entity types side by side in processes of their own (gridhub.resolve_workers) writes
exactly what the one-process loop writes: every frame, diagnostics file and staged state file; a type that fails
in its process fails the step with its own error."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from gridhub import pipeline, resolve_workers
from gridhub.resolve_workers import WORKERS_ENV, plan, workers_for
from matching.er import MentionsError
from warehouse.schema import ENTITY_TYPES


def _outputs(folder) -> dict:
    out = {}
    for f in sorted(folder.rglob("*")):
        if f.suffix == ".parquet":
            out[str(f.relative_to(folder))] = pd.read_parquet(f)
        elif f.suffix == ".json":
            out[str(f.relative_to(folder))] = json.loads(f.read_text(encoding="utf-8"))
    return out


def _one_lane(ws, monkeypatch) -> tuple[str, dict, dict]:
    """A bound run of ``ws`` resolved in one lane: run id, summary, outputs; the outputs are then removed and
    two lanes asked for."""
    run_id = _bound(ws)
    monkeypatch.setenv(WORKERS_ENV, "1")
    one = pipeline.resolve_entities(ws, run_id)
    resolved = ws.step_dir(run_id, "resolved")
    alone = _outputs(resolved)
    shutil.rmtree(resolved)
    monkeypatch.setenv(WORKERS_ENV, "2")
    return run_id, one, alone


def _assert_same(alone: dict, other: dict) -> None:
    """The same files with the same contents."""
    assert alone.keys() == other.keys()
    for name, value in alone.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(value, other[name], obj=name)
        else:
            assert value == other[name], name


def _bound(ws) -> str:
    """A new run of ``ws`` with its mentions prepared and bound: its run id."""
    run_id = pipeline.new_run_id(ws)
    pipeline.prepare_mentions(ws, run_id)
    pipeline.bind_addresses(ws, run_id)
    return run_id


def test_types_side_by_side_write_the_same(ingested, monkeypatch):
    ws = ingested
    run_id, one, alone = _one_lane(ws, monkeypatch)
    resolved = ws.step_dir(run_id, "resolved")
    two = pipeline.resolve_entities(ws, run_id)
    side_by_side = _outputs(resolved)
    assert one == two
    assert len(alone) > 30
    _assert_same(alone, side_by_side)
    assert not list(resolved.glob(".lane*.result"))


def test_a_failing_type_fails_the_step(ingested, monkeypatch):
    ws = ingested
    run_id = _bound(ws)
    # the child's lane: its first type's mentions lose their record_key (same rows, so the same lanes)
    bound = ws.step_dir(run_id, "bound")
    counts = {t: len(pd.read_parquet(bound / f"{t}.parquet")) for t in ENTITY_TYPES}
    broken = plan(counts, workers=2)[1][0]
    pd.read_parquet(bound / f"{broken}.parquet").drop(columns=["record_key"]).to_parquet(
        bound / f"{broken}.parquet"
    )
    monkeypatch.setenv(WORKERS_ENV, "2")
    with pytest.raises(MentionsError, match="record_key"):
        pipeline.resolve_entities(ws, run_id)


def test_lanes_balance_estimated_bytes():
    counts = {"person": 189_000, "organisation": 41_000, "house": 190_000, "facility": 6_700}
    assert plan(counts, workers=2) == [["house", "facility"], ["person", "organisation"]]
    assert plan(counts, workers=1) == [["house", "person", "organisation", "facility"]]
    assert plan({"person": 5, "house": 0}, workers=3) == [["person", "house"]]  # nothing to share
    assert plan({"person": 0, "house": 0}, workers=2) == [["person", "house"]]


def test_the_largest_types_share_a_lane_when_they_do_not_fit_side_by_side(monkeypatch):
    """Persons and houses of 3.5 M mentions each (5.6 GB each at 1.6 KB a mention) do not fit side by side in
    10 GB: before, every type then resolved one after another; now the two share a lane and the organisations
    resolve beside them."""
    counts = {"person": 3_500_000, "organisation": 600_000, "house": 3_500_000, "facility": 200_000}
    assert plan(counts, workers=2) == [["house", "person"], ["organisation", "facility"]]
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert workers_for(counts) == 2


def test_a_delta_counts_the_committed_state_it_resolves_beside(monkeypatch):
    """A delta loads each type's committed registry beside the run's mentions (1 M: 6.57 GB side by side where
    the full run took 5.0): two types that fit on a first run may not fit beside their state."""
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    counts = {"person": 2_500_000, "house": 2_500_000}
    assert workers_for(counts) == 2  # 4.5 + 4.5 GB
    assert workers_for(counts, {"person": 2_500_000, "house": 2_500_000}) == 1  # 6 + 6 GB


def test_one_at_a_time_when_two_would_not_fit(monkeypatch):
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert workers_for({"person": 100_000, "house": 100_000, "facility": 0}) == 2
    assert workers_for({"person": 100_000, "house": 0}) == 1  # one type has mentions
    assert workers_for({"person": 2_000_000, "house": 2_000_000}) == 2  # 6.4 GB side by side (1.6 KB each)
    assert workers_for({"person": 3_500_000, "house": 3_500_000}) == 1  # 11.2 GB
    assert workers_for({"person": 2_000_000, "organisation": 1_000_000}) == 2  # 3.2 + 4 GB
    assert workers_for({"person": 2_000_000, "organisation": 2_000_000}) == 1  # 3.2 + 8 GB
    assert workers_for({"person": 5_000_000, "facility": 10}) == 2  # 8 GB beside a small type
    monkeypatch.setenv(WORKERS_ENV, "1")
    assert workers_for({"person": 100_000, "house": 100_000}) == 1


def test_the_guard_stops_the_second_lane_and_resolves_its_types_in_one(ingested, monkeypatch, caplog):
    """Past GUARD_GB the lanes together, the child lane is killed and its types resolve in the step's process:
    the same outputs as one lane, whatever the estimate said."""
    ws = ingested
    run_id, one, alone = _one_lane(ws, monkeypatch)
    resolved = ws.step_dir(run_id, "resolved")
    monkeypatch.setattr(resolve_workers, "GUARD_GB", 0.001)  # any process is more
    with caplog.at_level("WARNING", logger="gridhub.resolve_workers"):
        stopped = pipeline.resolve_entities(ws, run_id)
    assert "the second lane is stopped" in caplog.text
    assert one == stopped
    _assert_same(alone, _outputs(resolved))
