"""bind_addresses in batches and partitions on several processes writes exactly the files binding everything
at once writes; a delta's prepare_mentions and bind_addresses reusing the published run's mentions and
matches write exactly what the same steps write from scratch on the same inputs (issue 19)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from gridhub import bindfiles, pipeline
from gridhub.workspace import Workspace
from warehouse.schema import ENTITY_TYPES

BENCH = Path(__file__).resolve().parents[1] / "bench" / "city_scale.py"
FILES = (*ENTITY_TYPES, "address_bindings", "address_matches")


def _bind(ws: Workspace, run_id: str, out: Path, previous: Path | None = None) -> dict:
    from gridhub.reference import address_library, grid_index
    from gridhub.review_store import read_address_aliases
    from gridhub.runguard import pinned
    from matching.grids import bind_facility_grids

    def grids(fac):
        return bind_facility_grids(fac, grid_index(ws) if len(fac) else None, crs=ws.config.reference.crs)

    aliases = read_address_aliases(pinned(ws, run_id).address_aliases)
    src = ws.step_dir(run_id, "mentions")
    return bindfiles.bind_mention_files(src, out, address_library(ws), grids, aliases, previous=previous)


def _assert_same_files(got: Path, expected: Path, names: tuple[str, ...] = FILES) -> None:
    for name in names:
        a, b = pq.read_table(got / f"{name}.parquet"), pq.read_table(expected / f"{name}.parquet")
        assert a.num_rows == b.num_rows, name
        assert a.equals(b, check_metadata=True), name
        assert a.to_pandas().dtypes.equals(b.to_pandas().dtypes), name


@pytest.mark.parametrize("workers", [1, 2])
def test_binding_in_batches_and_partitions_writes_the_whole_tables_files(
    ingested, monkeypatch, tmp_path, workers
):
    import matching.address.binding as binding
    import matching.address.distinct as distinct

    ws = ingested
    run_id = pipeline.new_run_id(ws)
    pipeline.prepare_mentions(ws, run_id)
    whole = _bind(ws, run_id, tmp_path / "whole")
    monkeypatch.setattr(bindfiles, "MENTION_ROWS_PER_BATCH", 53)
    monkeypatch.setattr(binding, "TEXTS_PER_PARTITION", 40)
    monkeypatch.setattr(distinct, "MATCH_WORKERS", workers)
    small = _bind(ws, run_id, tmp_path / "small")
    assert small == whole
    _assert_same_files(tmp_path / "small", tmp_path / "whole")
    parts = json.loads((tmp_path / "small" / "partitions.json").read_text())["partitions"]
    assert len(parts) > 2 and all(p["texts"] <= 40 for p in parts)


def _assert_same_mentions(ws: Workspace, run_id: str, scratch: Path) -> None:
    """The run's mention files are those the same run's inputs give without the published run's mentions."""
    from gridhub.partitioned import MENTION_FILES, stream_mentions
    from gridhub.runguard import pinned

    feeds = [f for f in ws.config.feeds if ws.staging_dir(f.name).exists()]
    stream_mentions(pinned(ws, run_id), feeds, scratch)
    got = ws.step_dir(run_id, "mentions")
    for name in MENTION_FILES:
        a, b = pq.read_table(got / f"{name}.parquet"), pq.read_table(scratch / f"{name}.parquet")
        assert a.num_rows == b.num_rows, name
        assert a.equals(b, check_metadata=True), name
    assert (got / "partitions.json").read_text() == (scratch / "partitions.json").read_text()


def _write_delta(ws: Workspace) -> dict[str, int]:
    spec = importlib.util.spec_from_file_location("city_scale", BENCH)
    assert spec is not None and spec.loader is not None
    city_scale = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = city_scale  # its dataclasses look their module up
    spec.loader.exec_module(city_scale)
    return city_scale.write_delta(ws.root, 0.05, 3, seed=5)


def test_a_delta_reusing_the_published_run_writes_what_a_run_from_scratch_writes(ingested, tmp_path, caplog):
    from connectors import ingest_feed

    ws = ingested
    first = pipeline.run_all(ws)["run_id"]
    written = _write_delta(ws)
    assert sum(written.values()) > 0
    for feed in ws.config.feeds:
        ingest_feed(ws, feed.name).check_accounting()
    run_id = pipeline.new_run_id(ws)
    assert run_id != first
    with caplog.at_level("INFO", logger="gridhub.partitioned"):
        pipeline.prepare_mentions(ws, run_id)
    taken = [r.getMessage() for r in caplog.records if "taken from the published run" in r.getMessage()]
    assert taken and not taken[-1].startswith("prepare_mentions: 0 of")
    _assert_same_mentions(ws, run_id, tmp_path / "mentions")
    key = bindfiles.matches_key(ws, run_id)
    previous = bindfiles.previous_matches(ws, key)
    assert previous == ws.step_dir(first, "bound")
    with caplog.at_level("INFO", logger="gridhub.bindfiles"):
        delta = pipeline.bind_addresses(ws, run_id)
    bound_now = [r.getMessage() for r in caplog.records if "parts bound now" in r.getMessage()]
    now, listed = (int(w) for w in bound_now[-1].split()[1:4:2])
    assert 0 < now < listed  # the published run's kept parts are not bound again
    scratch = _bind(ws, run_id, tmp_path / "scratch")
    assert {k: v for k, v in delta.items() if k != "run_id"} == scratch
    got = ws.step_dir(run_id, "bound")
    _assert_same_files(got, tmp_path / "scratch", FILES[:-1])
    # the delta's matches hold the texts of the rows it bound; with the earlier files it links, every text's
    expected = pq.read_table(tmp_path / "scratch" / bindfiles.MATCHES_FILE)
    texts = expected.column(bindfiles.TEXT).to_pandas()
    found = bindfiles.known_matches(bindfiles.matches_chain(got), texts)
    assert found is not None
    assert found.table.sort_by(bindfiles.TEXT).equals(
        expected.cast(found.table.schema).sort_by(bindfiles.TEXT)
    )
    # a run of the delta again finds its kept parts in place and writes the same files
    assert pipeline.bind_addresses(ws, run_id) == delta
    _assert_same_files(got, tmp_path / "scratch", FILES[:-1])
    # another key (e.g. new address aliases, a new library) reuses nothing
    assert bindfiles.previous_matches(ws, "another key") is None
