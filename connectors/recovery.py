"""What an ingest does before it starts: take its locks, and clear what a killed ingest left behind.

**Locks** (``<Zones.locks>/``, :func:`fcntl.flock`, released by the kernel when a process dies, however it dies):

- ``ingest-<feed>.lock`` (exclusive): one ingest of a feed at a time; a second one (a DAG run and a hand-run
  ``gridhub ingest``) waits. While it is held, every temporary file in the feed's own folders (staging,
  quarantine, field issues, its watermark) belongs to a dead ingest of that feed.
- ``raw.lock`` (shared by every running ingest, any feed): the raw zone is shared by all feeds. An ingest that
  gets it *exclusively* (no other ingest runs) may remove the raw zone's temporary files; otherwise it leaves
  them for a later ingest and takes it shared like the others.

**Leftovers** of a killed ingest: hidden ``.<name>.tmp-<pid>-<thread>`` files of
:func:`warehouse.files.atomic_write` (a blob being copied into raw, a staged Parquet or a watermark being
written), scratch
``raw/.extract-*.parquet`` database pulls, and in the landing folder ``.incoming-*.part`` files of a hand-in
that died before its rename (:mod:`gridhub.landing` does not take the feed lock, so only those last changed
before the current process started are removed: a hand-in in progress writes its file continuously).

Content a killed ingest left ``received`` in the raw manifest is staged again by the next ingest
(:mod:`connectors.file_feed`); nothing here touches the manifest.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from connectors.feeds import Feed, Zones
from warehouse.files import locked

log = logging.getLogger(__name__)

#: ``.<name>.tmp-<pid>-<thread>`` (:func:`warehouse.files.temporary_path`)
_ATOMIC_TMP = ".*.tmp-*"
#: scratch database pulls in the raw zone (:mod:`connectors.sql`)
EXTRACT_PREFIX = ".extract-"
#: hand-ins written under a hidden name before their rename (:mod:`gridhub.landing`)
INCOMING_PREFIX = ".incoming-"
RAW_LOCK = "raw.lock"


def _process_started() -> float:
    """When this process started (seconds since the epoch), from ``/proc``; else when this module loaded."""
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _LOADED


_LOADED = time.time()


def _flock(path: Path, mode: int) -> AbstractContextManager[int]:
    """:func:`warehouse.files.locked` on ``path``, its folder made first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return locked(path, mode)


def _remove(paths: list[Path], what: str) -> int:
    removed = 0
    for p in paths:
        try:
            p.unlink()
            removed += 1
        except FileNotFoundError:
            continue
        except OSError as e:
            log.warning("could not remove %s left by a killed ingest: %s", p, e)
    if removed:
        log.warning("removed %d %s left by a killed ingest", removed, what)
    return removed


def feed_leftovers(ws: Zones, feed: Feed) -> list[Path]:
    """Temporary files of a dead ingest of ``feed`` (call with the feed's lock held) and stale hand-ins."""
    out: list[Path] = []
    for folder in (ws.staging_dir(feed.name), ws.quarantine_dir(feed.name), ws.field_issue_dir(feed.name)):
        if folder.is_dir():
            out.extend(sorted(folder.glob(_ATOMIC_TMP)))
    if ws.watermarks.is_dir():
        out.extend(sorted(ws.watermarks.glob(f".{feed.name}.json.tmp-*")))
    landing = ws.landing_dir(feed.name)
    if landing.is_dir():
        started = _process_started()
        for p in sorted(landing.glob(f"{INCOMING_PREFIX}*")):
            try:
                if p.is_file() and p.stat().st_mtime < started:
                    out.append(p)
            except OSError:
                continue
    return out


def raw_leftovers(raw: Path) -> list[Path]:
    """Temporary files in the raw zone (call only while no other ingest runs: :func:`ingest_locks`)."""
    if not raw.is_dir():
        return []
    out = sorted(raw.glob(f"{EXTRACT_PREFIX}*"))
    for sub in sorted(raw.iterdir()):
        if len(sub.name) == 2 and sub.is_dir():
            out.extend(sorted(sub.glob(_ATOMIC_TMP)))
    return out


@contextmanager
def ingest_locks(ws: Zones, feed: Feed) -> Iterator[None]:
    """Hold the feed's ingest lock and a shared raw lock for the block, after clearing a dead ingest's files."""
    with _flock(ws.locks / f"ingest-{feed.name}.lock", fcntl.LOCK_EX):
        _remove(feed_leftovers(ws, feed), f"temporary file(s) of feed {feed.name}")
        with _flock(ws.locks / RAW_LOCK, fcntl.LOCK_SH) as fd:
            fcntl.flock(fd, fcntl.LOCK_UN)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another ingest runs: its temporary files in raw are not leftovers
            else:
                _remove(raw_leftovers(ws.raw), "temporary file(s) in the raw zone")
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield


__all__ = ["EXTRACT_PREFIX", "INCOMING_PREFIX", "feed_leftovers", "ingest_locks", "raw_leftovers"]
