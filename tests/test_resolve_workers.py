"""resolve_entities with the entity types side by side in processes of their own (gridhub.resolve_workers) writes
exactly what the one-process loop writes: every frame, diagnostics file and staged state file; a type that fails
in its process fails the step with its own error."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from gridhub import pipeline
from gridhub.resolve_workers import WORKERS_ENV, lanes, workers_for
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


def _bound(ws) -> str:
    """A new run of ``ws`` with its mentions prepared and bound: its run id."""
    run_id = pipeline.new_run_id(ws)
    pipeline.prepare_mentions(ws, run_id)
    pipeline.bind_addresses(ws, run_id)
    return run_id


def test_types_side_by_side_write_the_same(ingested, monkeypatch):
    ws = ingested
    run_id = _bound(ws)
    resolved = ws.step_dir(run_id, "resolved")
    monkeypatch.setenv(WORKERS_ENV, "1")
    one = pipeline.resolve_entities(ws, run_id)
    alone = _outputs(resolved)
    shutil.rmtree(resolved)
    monkeypatch.setenv(WORKERS_ENV, "2")
    two = pipeline.resolve_entities(ws, run_id)
    side_by_side = _outputs(resolved)
    assert one == two
    assert alone.keys() == side_by_side.keys() and len(alone) > 30
    for name, value in alone.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(value, side_by_side[name], obj=name)
        else:
            assert value == side_by_side[name], name
    assert not list(resolved.glob(".lane*.result"))


def test_a_failing_type_fails_the_step(ingested, monkeypatch):
    ws = ingested
    run_id = _bound(ws)
    # the child's lane: its first type's mentions lose their record_key (same rows, so the same lanes)
    bound = ws.step_dir(run_id, "bound")
    counts = {t: len(pd.read_parquet(bound / f"{t}.parquet")) for t in ENTITY_TYPES}
    broken = lanes(counts, 2)[1][0]
    pd.read_parquet(bound / f"{broken}.parquet").drop(columns=["record_key"]).to_parquet(
        bound / f"{broken}.parquet"
    )
    monkeypatch.setenv(WORKERS_ENV, "2")
    with pytest.raises(MentionsError, match="record_key"):
        pipeline.resolve_entities(ws, run_id)


def test_lanes_balance_mentions():
    counts = {"person": 189_000, "organisation": 41_000, "house": 190_000, "facility": 6_700}
    assert lanes(counts, 2) == [["house", "facility"], ["person", "organisation"]]
    assert lanes(counts, 1) == [["house", "person", "organisation", "facility"]]
    assert lanes({"person": 5, "house": 0}, 3) == [["person"], ["house"]]


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
