"""Ingest killed at every file-system call: the next ingest stages every row exactly once.

A forked child runs ``ingest_feed`` with the file-system calls ingest makes (open, rename/replace, unlink,
mkdir, chmod, fsync, the manifest's SQLite connections, Parquet writes) counted; at call N it dies with
``os._exit(137)`` (what SIGKILL leaves: no ``finally``, no cleanup). The parent then runs an ordinary ingest and
checks: every landed file staged once, rows read = staged + quarantined, each record staged once, nothing left
in the landing folder, no temporary file anywhere. N runs from 1 until the child finishes without being killed.
"""

from __future__ import annotations

import builtins
import io
import os
import shutil
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from ingest_helpers import HEADER, make_workspace

from connectors import ingest_feed, load_quarantine, load_staging, raw_manifest
from connectors.file_feed import DONE_DIR, DUPLICATES_DIR, is_data_file

KILLED = 137
FINISHED = 0

FILE_A = "\n".join(
    [
        HEADER,
        "A1,张三,110101199001011237,男,1990-01-01,北京市东城区东华门街道1号,80,否",
        "A2,,110101199001011238,女,1991-02-02,北京市东城区2号,70,否",  # no name: quarantined
        "A3,王五,110101199001011239,男,1992-03-03,北京市东城区3号,60,是",
    ]
)
FILE_B = "\n".join(
    [
        HEADER,
        "B1,赵六,110101199001011240,女,1993-04-04,北京市东城区4号,50,否",
        "A3,王五,110101199001011239,男,1992-03-03,北京市东城区3号号,60,是",  # A3 updated
    ]
)

# (module, attribute) of every call a kill is injected before
_CALLS = [
    (os, "replace"),
    (os, "rename"),
    (os, "unlink"),
    (os, "mkdir"),
    (os, "chmod"),
    (os, "fsync"),
    (os, "open"),
    (io, "open"),
    (builtins, "open"),
    (shutil, "move"),
    (sqlite3, "connect"),
    (pq.ParquetWriter, "write_table"),
    (pq.ParquetWriter, "close"),
]


def _kill_at(n: int) -> None:
    """From now on, count the calls of :data:`_CALLS`; the ``n``-th one ends the process at once."""
    seen = [0]
    for owner, name in _CALLS:
        real = getattr(owner, name)

        def counted(*args, _real=real, **kwargs):
            seen[0] += 1
            if seen[0] == n:
                os._exit(KILLED)
            return _real(*args, **kwargs)

        setattr(owner, name, counted)


def _ingest_killed_at(ws, n: int, feed: str = "police") -> int:
    """Run ``ingest_feed`` in a forked child killed at call ``n``; its exit status."""
    pid = os.fork()
    if pid == 0:  # the child
        code = FINISHED
        try:
            _kill_at(n)
            ingest_feed(ws, feed)
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _land(ws) -> None:
    folder = ws.landing_dir("police")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.csv").write_bytes(FILE_A.encode("gb18030"))
    (folder / "b.csv").write_bytes(FILE_B.encode("gb18030"))


def _leftovers(ws) -> list[str]:
    """Hidden temporary files anywhere in the workspace (locks and the manifest's own files aside)."""
    out = []
    for p in Path(ws.root).rglob(".*"):
        if p.is_file() and (".tmp-" in p.name or p.name.startswith((".extract-", ".incoming-"))):
            out.append(str(p.relative_to(ws.root)))
    return out


def _check_recovered(ws) -> None:
    m = raw_manifest(ws, "police")
    assert sorted(m["status"]) == ["staged", "staged"], m[["file_name", "status"]]
    assert (m["rows_read"] == m["rows_staged"] + m["rows_quarantined"]).all()
    assert m["rows_read"].sum() == 5 and m["rows_quarantined"].sum() == 1
    # every staged file holds its rows once, and the current rows are each record once
    staged_rows = sum(
        pq.read_metadata(ws.staging_dir("police") / f"{s}.parquet").num_rows for s in m["sha256"]
    )
    assert staged_rows == m["rows_staged"].sum() == 4
    current = load_staging(ws, "police")
    assert sorted(current["source_record_id"]) == ["A1", "A3", "B1"]
    assert current.loc[current["source_record_id"] == "A3", "address"].item().endswith("3号号")
    assert len(load_quarantine(ws, "police")) == 1
    # nothing stranded: the landing folder is empty, both files filed in _done/, no temporary files
    landing = ws.landing_dir("police")
    assert [p.name for p in landing.iterdir() if is_data_file(p)] == []
    assert sorted(p.name for p in (landing / DONE_DIR).iterdir()) == ["a.csv", "b.csv"]
    assert not (landing / DUPLICATES_DIR).exists()
    assert _leftovers(ws) == []


def test_ingest_killed_at_every_file_system_call_is_finished_by_the_next(tmp_path):
    killed_at = []
    for n in range(1, 500):
        ws = make_workspace(tmp_path / f"ws{n}")
        _land(ws)
        code = _ingest_killed_at(ws, n)
        if code == FINISHED:
            break
        assert code == KILLED, f"call {n}: the ingest failed instead of being killed"
        killed_at.append(n)
        result = ingest_feed(ws, "police")
        assert not [f for f in result.files if f.error], f"call {n}: {result.files}"
        try:
            _check_recovered(ws)
        except AssertionError as e:
            raise AssertionError(f"ingest killed at file-system call {n}: {e}") from e
        shutil.rmtree(ws.root)
    else:
        pytest.fail("the ingest never finished")
    assert len(killed_at) > 20  # the calls were counted: every stage was hit


def test_content_left_received_is_staged_from_raw_when_its_landed_copy_is_gone(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    _land(ws)
    # killed while staging b.csv (after a.csv was staged and filed): find such a call
    for n in range(1, 500):
        code = _ingest_killed_at(ws, n)
        m = raw_manifest(ws, "police")
        if code == KILLED and sorted(m["status"]) == ["received", "staged"]:
            break
        shutil.rmtree(ws.root)
        ws = make_workspace(tmp_path / "ws")
        _land(ws)
    else:
        pytest.fail("no kill left a file received")
    received = m.loc[m["status"] == "received", "origin"].item()
    os.unlink(received)  # someone tidied the landing folder: raw still has the bytes
    result = ingest_feed(ws, "police")
    assert [f.rows_read for f in result.files] == [2]
    assert "killed ingest" in result.files[0].warnings[-1]
    assert sorted(raw_manifest(ws, "police")["status"]) == ["staged", "staged"]
    assert sorted(load_staging(ws, "police")["source_record_id"]) == ["A1", "A3", "B1"]


def _sql_ws(root: Path):
    """A database feed (SQLite) with one pull done, and new and changed rows waiting for the next one."""
    import datetime as dt

    import sqlalchemy as sa
    from test_connectors_sql import FIRST, _create, sql_feed

    url = f"sqlite:///{root / 'dept.db'}"
    root.mkdir(parents=True)
    engine = sa.create_engine(url)
    t = _create(engine, "people")
    with engine.begin() as conn:
        conn.execute(t.insert(), FIRST)
    ws = make_workspace(root / "ws", sql_feed(url, table="people"))
    ingest_feed(ws, "hukou")
    later = dt.datetime(2024, 3, 3, 10, 15, 0)
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.id == "A1").values(xm="張三丰", updated_at=later))
        conn.execute(t.insert(), [{**FIRST[1], "id": "A4", "xm": "赵六", "updated_at": later}])
    engine.dispose()
    return ws


def test_database_ingest_killed_at_every_file_system_call_is_finished_by_the_next(tmp_path):
    from connectors.sql import WatermarkStore

    killed_at = []
    for n in range(1, 500):
        ws = _sql_ws(tmp_path / f"db{n}")
        code = _ingest_killed_at(ws, n, feed="hukou")
        if code == FINISHED:
            break
        assert code == KILLED, f"call {n}: the ingest failed instead of being killed"
        killed_at.append(n)
        ingest_feed(ws, "hukou")
        m = raw_manifest(ws, "hukou")
        where = f"database ingest killed at file-system call {n}"
        assert (m["status"] == "staged").all() and len(m) == 2, where
        assert (m["rows_read"] == m["rows_staged"] + m["rows_quarantined"]).all(), where
        assert m["rows_staged"].tolist() == [3, 2], where  # the second pull staged once, A1 and A4
        current = load_staging(ws, "hukou").set_index("source_record_id")
        assert sorted(current.index) == ["A1", "A2", "A3", "A4"] and current.loc["A1", "name"] == "張三丰", (
            where
        )
        assert WatermarkStore(ws, "hukou").read()["ids_at_value"] == ["A1", "A4"], where
        assert ingest_feed(ws, "hukou").files == [], where
        assert _leftovers(ws) == [], where
        shutil.rmtree(tmp_path / f"db{n}")
    else:
        pytest.fail("the ingest never finished")
    assert len(killed_at) > 10
