"""resolve_entities on a daily delta (issue #19): the engine reads only the mention parts new since the published
run and the golden records of the entities the delta does not reach are the published ones, and every file the
step writes is the one resolving every mention writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from test_bind_files import _write_delta  # the benchmark's daily delta (bench/city_scale.py)

from gridhub import pipeline, resolve_delta
from gridhub.workspace import Workspace
from warehouse.schema import ENTITY_TYPES


def _delta_run(ws: Workspace) -> tuple[str, str]:
    """Publish a full run, land and ingest a delta, prepare and bind it; (published run, delta run)."""
    from connectors import ingest_feed

    first = pipeline.run_all(ws)["run_id"]
    assert sum(_write_delta(ws).values()) > 0
    for feed in ws.config.feeds:
        ingest_feed(ws, feed.name).check_accounting()
    run_id = pipeline.new_run_id(ws)
    pipeline.prepare_mentions(ws, run_id)
    pipeline.bind_addresses(ws, run_id)
    return first, run_id


def _resolved_files(ws: Workspace, run_id: str) -> dict[str, Path]:
    out = ws.step_dir(run_id, "resolved")
    files = {p.name: p for p in out.glob("*.parquet")}
    files.update({f"state/{t}": out / "state" / t / "registry.parquet" for t in ENTITY_TYPES})
    return files


def test_a_delta_resolves_its_new_parts_only_and_writes_what_resolving_every_mention_writes(
    ingested, tmp_path, monkeypatch
):
    import matching.er
    from gridhub import resolve_workers

    monkeypatch.setenv("GRIDHUB_ER_WORKERS", "1")  # every type in this process, where the spies are
    ws = ingested
    first, run_id = _delta_run(ws)

    # today's path: every mention read and resolved (resolve() finds the delta by hashing them all)
    monkeypatch.setattr(resolve_delta, "mention_delta", lambda *a, **k: None)
    pipeline.resolve_entities(ws, run_id)
    expected = tmp_path / "every-mention"
    shutil.copytree(ws.step_dir(run_id, "resolved"), expected)
    monkeypatch.undo()
    monkeypatch.setenv("GRIDHUB_ER_WORKERS", "1")

    # the delta: no type reads every mention, for the engine or for the golden records
    def every_mention(*a, **k):
        raise AssertionError("a delta read every mention")

    given: dict[str, pd.DataFrame] = {}
    real = matching.er.resolve_delta

    def spy(changes, settings, **kwargs):
        given[settings.entity_type] = changes
        return real(changes, settings, **kwargs)

    monkeypatch.setattr(resolve_workers, "engine_mentions", every_mention)
    monkeypatch.setattr(resolve_workers, "golden_frames", every_mention)
    monkeypatch.setattr(matching.er, "resolve_delta", spy)
    pipeline.resolve_entities(ws, run_id)

    bound = ws.step_dir(run_id, "bound")
    assert set(given) == {t for t in ENTITY_TYPES if pq.ParquetFile(bound / f"{t}.parquet").metadata.num_rows}
    for t, changes in given.items():
        before = pq.ParquetFile(ws.step_dir(first, "bound") / f"{t}.parquet").metadata.num_rows
        delta = resolve_delta.mention_delta(ws, run_id, t, before)
        assert delta is not None
        # only rows of the parts the delta's staged files gave: far fewer than the type's mentions
        assert all(own.split("/")[1] in _delta_files(ws, first, run_id) for own in delta.parts_read)
        assert len(changes) == delta.changes.num_rows
        assert len(changes) < pq.ParquetFile(bound / f"{t}.parquet").metadata.num_rows / 5
    assert sum(len(c) for c in given.values()) > 0

    resolved = ws.step_dir(run_id, "resolved")
    for name, path in _resolved_files(ws, run_id).items():
        a, b = pq.read_table(path), pq.read_table(expected / path.relative_to(resolved))
        assert a.num_rows == b.num_rows, name
        assert a.equals(b), name


def _delta_files(ws: Workspace, first: str, run_id: str) -> set[str]:
    """The staged files (their kept-part folder names) the delta run reads and the published run did not."""

    def staged(run: str) -> set[str]:
        cache = ws.step_dir(run, "mentions") / "files"
        return {p.name for p in cache.glob("*/*") if p.is_dir()}

    return staged(run_id) - staged(first)
