"""The ingest locks: a dead ingest's temporary files are removed, a running one's are not."""

from __future__ import annotations

import os
import time

from ingest_helpers import HEADER, feed, land, make_workspace

from connectors import ingest_feed, load_staging
from connectors.recovery import ingest_locks

ROW = "A1,张三,110101199001011237,男,1990-01-01,北京市东城区1号,80,否"


def _workspace(tmp_path):
    return make_workspace(tmp_path / "ws", feed(), feed(name="other", source={"glob": "*.txt"}))


def _leftover(folder, name: str) -> object:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_bytes(b"half a file")
    return p


def test_leftovers_of_a_dead_ingest_are_removed_at_the_next_start(tmp_path):
    ws = _workspace(tmp_path)
    staged = _leftover(ws.staging_dir("police"), ".abc.parquet.tmp-999999-1")
    quarantined = _leftover(ws.quarantine_dir("police"), ".abc.parquet.tmp-999999-1")
    blob = _leftover(ws.raw / "ab", ".ab12.tmp-999999-1")
    extract = _leftover(ws.raw, ".extract-x1y2.parquet")
    incoming = _leftover(ws.landing_dir("police"), ".incoming-abc.part")
    old = time.time() - 3600
    os.utime(incoming, (old, old))
    fresh = _leftover(ws.landing_dir("police"), ".incoming-def.part")  # a hand-in being written right now
    other = _leftover(ws.staging_dir("other"), ".abc.parquet.tmp-999999-1")  # another feed's: not ours
    land(ws, "1.csv", "\n".join([HEADER, ROW]))
    ingest_feed(ws, "police")
    assert [p.exists() for p in (staged, quarantined, blob, extract, incoming)] == [False] * 5
    assert fresh.exists() and other.exists()
    assert list(load_staging(ws, "police")["source_record_id"]) == ["A1"]


def test_raw_temporary_files_of_a_running_ingest_are_kept(tmp_path):
    ws = _workspace(tmp_path)
    land(ws, "1.csv", "\n".join([HEADER, ROW]))
    with ingest_locks(ws, ws.feed("other")):
        blob = _leftover(ws.raw / "ab", ".ab12.tmp-999999-1")  # the other feed's ingest copying a blob
        ingest_feed(ws, "police")
        assert blob.exists()
        assert list(load_staging(ws, "police")["source_record_id"]) == ["A1"]
    ingest_feed(ws, "police")  # alone now: the blob copy is a leftover
    assert not blob.exists()
