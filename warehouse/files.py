"""File helpers every layer shares: content hashes and the one way gridhub writes a file atomically.

It lives in ``warehouse`` because that is the lowest package: ``connectors``, ``matching`` and ``gridhub`` import
``warehouse``, and ``warehouse`` imports none of them.

Every file gridhub writes that another process may read (staged Parquet, raw files, manifests, watermarks,
run intermediates, the ``CURRENT`` pointer) goes through :func:`atomic_write`: written to a hidden temporary
file beside its destination, flushed, then moved over it with one ``os.replace``. A reader sees the old file or
the new one, never half of one; a process killed mid-write leaves only a ``.<name>.tmp-<pid>-<thread>`` file behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes as 64 hex digits, read in 1 MiB chunks (files of any size)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def temporary_path(path: Path) -> Path:
    """The hidden temporary name :func:`atomic_write` uses for ``path`` (unique per process and thread)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")


@contextmanager
def atomic_write(path: Path, *, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends normally, move it over ``path`` in one step.

    The parent folder is created. On an exception the temporary file is removed and ``path`` is untouched.
    ``fsync=True`` flushes the file (and then the folder) to disk, for pointers that must survive a power cut.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
        if fsync:
            with tmp.open("rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return path


def atomic_write_text(path: Path, text: str, *, fsync: bool = False) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def atomic_write_parquet(table: pa.Table, path: Path, **write_options: object) -> Path:
    """Write an Arrow table to ``path`` as Parquet, atomically (see :func:`atomic_write`)."""
    import pyarrow.parquet as pq

    with atomic_write(path) as tmp:
        pq.write_table(table, tmp, **write_options)
    return path


def fsync_path(path: Path) -> None:
    """Flush a file's or a folder's entry to disk (a folder after a rename in it, so the rename survives a
    crash)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def locked(path: Path, mode: int = fcntl.LOCK_EX) -> Iterator[int]:
    """Hold ``flock(mode)`` on ``path`` (created if missing) for the block and yield its descriptor, so the
    caller may convert the lock. The kernel releases it when the descriptor closes, however the process ends."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, mode)
        yield fd
    finally:
        os.close(fd)


__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_parquet",
    "atomic_write_text",
    "fsync_path",
    "locked",
    "sha256_file",
    "temporary_path",
]
