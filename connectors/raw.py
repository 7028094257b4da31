"""The raw zone (原始区): every received file or database extract, unchanged, content-addressed by SHA-256.

Layout::

    raw/<sha[:2]>/<sha>      the bytes exactly as received (read-only; never modified or deleted)
    raw/manifest.sqlite      one row per (feed, sha256): who sent it, when, how big, what became of it
                             + an append-only ``events`` log of every attempt

The manifest is SQLite so that several feeds ingesting at once (parallel Airflow tasks) each commit their row
atomically without a lock file. Re-sending a file a feed already staged is a no-op that says so; re-sending a
file that failed (after the feed's config was fixed, say) processes it again.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from connectors.errors import ConnectorError
from warehouse.files import atomic_write

MANIFEST_FILE = "manifest.sqlite"
_CHUNK = 1 << 20
#: Times a landed file is read again when its bytes change while it is copied into the zone.
STORE_ATTEMPTS = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    feed TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    file_name TEXT,
    origin TEXT,
    kind TEXT,
    size INTEGER,
    received_at TEXT,
    status TEXT,
    seq INTEGER,
    encoding TEXT,
    rows_read INTEGER,
    rows_staged INTEGER,
    rows_quarantined INTEGER,
    rows_blank INTEGER,
    error_code TEXT,
    error TEXT,
    processed_at TEXT,
    PRIMARY KEY (feed, sha256)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    feed TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    file_name TEXT,
    event TEXT NOT NULL,
    detail TEXT
);
"""

MANIFEST_COLUMNS = [
    "feed",
    "sha256",
    "file_name",
    "origin",
    "kind",
    "size",
    "received_at",
    "status",
    "seq",
    "encoding",
    "rows_read",
    "rows_staged",
    "rows_quarantined",
    "rows_blank",
    "error_code",
    "error",
    "processed_at",
]


class _ChangedWhileCopied(Exception):
    """The source file's bytes changed between hashing it and copying it."""


def _hash_copy(src: Path, dest: Path | None = None) -> tuple[str, int]:
    """SHA-256 and size of ``src``, read once in 1 MiB chunks; written to ``dest`` (flushed) if given."""
    h = hashlib.sha256()
    size = 0
    with src.open("rb") as f, dest.open("wb") if dest is not None else nullcontext() as out:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
            size += len(block)
            if out is not None:
                out.write(block)
    return h.hexdigest(), size


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class StoredBlob:
    """Content kept in the raw zone: its SHA-256, its size in bytes and where the read-only blob is."""

    sha256: str
    size: int
    path: Path


class RawZone:
    """The raw folder of one workspace and its manifest."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ---- blobs ----------------------------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def store_file(self, src: Path) -> StoredBlob:
        """Copy ``src`` into the zone under its SHA-256; keep the existing blob if the content is known.

        The copy is hashed again while it is written (:func:`warehouse.files.atomic_write`, flushed to disk) and
        kept only if it is the content the name says: a file still being written is read again, and after
        :data:`STORE_ATTEMPTS` changing reads it is refused.
        """
        for _ in range(STORE_ATTEMPTS):
            sha, size = _hash_copy(src)
            dest = self.blob_path(sha)
            if dest.exists():
                return StoredBlob(sha, size, dest)
            try:
                with atomic_write(dest, fsync=True) as tmp:
                    if _hash_copy(src, tmp) != (sha, size):
                        raise _ChangedWhileCopied
                    os.chmod(tmp, 0o444)
            except _ChangedWhileCopied:
                continue
            return StoredBlob(sha, size, dest)
        raise ConnectorError(
            f"{src.name} changed while it was copied into the raw zone ({STORE_ATTEMPTS} times); "
            "hand it in again once it is complete"
        )

    def store_bytes_file(self, tmp: Path) -> StoredBlob:
        """Move a finished file the hub wrote itself (a database extract) into the zone under its content hash.

        The file is complete before its name is known, so it is moved (one ``os.replace`` within the raw
        folder), not copied; ``tmp`` is gone afterwards either way.
        """
        try:
            sha, size = _hash_copy(tmp)
            dest = self.blob_path(sha)
            if dest.exists():
                return StoredBlob(sha, size, dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)
            os.replace(tmp, dest)
            return StoredBlob(sha, size, dest)
        finally:
            tmp.unlink(missing_ok=True)

    # ---- manifest -------------------------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_FILE

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        self.root.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.manifest_path, timeout=60, isolation_level=None)) as con:
            con.row_factory = sqlite3.Row
            if write:
                con.execute("BEGIN IMMEDIATE")
                try:
                    for stmt in _SCHEMA.split(";"):
                        if stmt.strip():
                            con.execute(stmt)
                    yield con
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            else:
                yield con

    def lookup(self, feed: str, sha256: str) -> dict | None:
        """The manifest row of ``(feed, sha256)``, or None if this feed never received that content."""
        if not self.manifest_path.exists():
            return None
        with self._db() as con:
            try:
                row = con.execute("SELECT * FROM files WHERE feed=? AND sha256=?", (feed, sha256)).fetchone()
            except sqlite3.OperationalError:  # manifest file exists but has no tables yet
                return None
        return dict(row) if row else None

    def record_received(self, feed: str, blob: StoredBlob, file_name: str, origin: str, kind: str) -> None:
        """Note that ``feed`` received ``blob`` (first receipt inserts the row; a re-send logs an event)."""
        at = now_utc()
        with self._db(write=True) as con:
            con.execute(
                "INSERT INTO files (feed, sha256, file_name, origin, kind, size, received_at, status) "
                "VALUES (?,?,?,?,?,?,?, 'received') ON CONFLICT(feed, sha256) DO NOTHING",
                (feed, blob.sha256, file_name, origin, kind, blob.size, at),
            )
            con.execute(
                "INSERT INTO events (at, feed, sha256, file_name, event, detail) VALUES (?,?,?,?,?,?)",
                (at, feed, blob.sha256, file_name, "received", origin),
            )

    def record_outcome(
        self,
        feed: str,
        sha256: str,
        *,
        status: str,
        encoding: str | None = None,
        rows_read: int = 0,
        rows_staged: int = 0,
        rows_quarantined: int = 0,
        rows_blank: int = 0,
        error_code: str | None = None,
        error: str | None = None,
        file_name: str | None = None,
    ) -> None:
        """Record what became of a file: ``staged`` (with its counts, and the next receipt order) or ``failed``."""
        at = now_utc()
        with self._db(write=True) as con:
            seq = None
            if status == "staged":
                seq = con.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM files WHERE feed=?", (feed,)
                ).fetchone()[0]
            con.execute(
                "UPDATE files SET status=?, seq=COALESCE(?, seq), encoding=?, rows_read=?, rows_staged=?, "
                "rows_quarantined=?, rows_blank=?, error_code=?, error=?, processed_at=? WHERE feed=? AND sha256=?",
                (
                    status,
                    seq,
                    encoding,
                    rows_read,
                    rows_staged,
                    rows_quarantined,
                    rows_blank,
                    error_code,
                    error,
                    at,
                    feed,
                    sha256,
                ),
            )
            con.execute(
                "INSERT INTO events (at, feed, sha256, file_name, event, detail) VALUES (?,?,?,?,?,?)",
                (
                    at,
                    feed,
                    sha256,
                    file_name,
                    status,
                    error or f"read={rows_read} staged={rows_staged} quarantined={rows_quarantined}",
                ),
            )

    def record_event(self, feed: str, sha256: str, file_name: str, event: str, detail: str = "") -> None:
        with self._db(write=True) as con:
            con.execute(
                "INSERT INTO events (at, feed, sha256, file_name, event, detail) VALUES (?,?,?,?,?,?)",
                (now_utc(), feed, sha256, file_name, event, detail),
            )

    def manifest(self, feed: str | None = None) -> pd.DataFrame:
        """The manifest as a DataFrame (one row per feed and content), in receipt order."""
        return self._select("files", MANIFEST_COLUMNS, feed, "received_at, seq")

    def _select(self, table: str, columns: list[str], feed: str | None, order: str) -> pd.DataFrame:
        """Rows of one manifest table (of one feed, if given) as a DataFrame; empty before the first receipt."""
        if not self.manifest_path.exists():
            return pd.DataFrame(columns=columns)
        with self._db() as con:
            try:
                sql = f"SELECT * FROM {table}" + (" WHERE feed=?" if feed else "") + f" ORDER BY {order}"
                rows = [dict(r) for r in con.execute(sql, (feed,) if feed else ())]
            except sqlite3.OperationalError:
                rows = []
        return pd.DataFrame(rows, columns=columns)
