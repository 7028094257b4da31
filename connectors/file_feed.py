"""File feeds (``source.kind: file``): the files landed in ``landing/<feed>/``, one at a time.

Each file is

1. copied into the raw zone under its SHA-256 (kept forever, unchanged) and noted in the raw manifest;
   a file the feed already staged is a no-op that says so (``skipped_duplicate``);
2. sniffed (real format, encoding) and checked as a whole (empty, header only, binary, wrong format,
   duplicated or missing columns): a whole-file problem fails the file, not the other files of the run;
3. read by the reader of its format (:data:`connectors.sources.FILE_FORMATS`) in batches through the row rules
   into ``staging/<feed>/<sha>.parquet`` and ``quarantine/<feed>/<sha>.parquet``
   (:class:`connectors.staging.StagingWriter`);
4. accounted: rows read = rows staged + rows quarantined, checked before the manifest says ``staged``;
5. moved to ``_done/`` or ``_failed/`` in its landing folder (never deleted).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from connectors.errors import FeedFileError, FileProblem, FileRejected
from connectors.feeds import Feed, FileSource, Zones
from connectors.raw import RawZone
from connectors.results import FileResult, IngestResult
from connectors.sources import stage_file
from connectors.staging import StagingWriter, StoredFile, record_failed
from connectors.text import safe_file_name
from warehouse.files import sha256_file
from warehouse.reasons import ReasonCode

log = logging.getLogger(__name__)

DONE_DIR = "_done"
FAILED_DIR = "_failed"
_NOT_DATA_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", ".lock")


def is_data_file(path: Path) -> bool:
    """Flag files (``_READY``), hidden and temporary files, Office lock files are not data."""
    name = path.name
    return (
        path.is_file()
        and not name.startswith((".", "_", "~$"))
        and not name.lower().endswith(_NOT_DATA_SUFFIXES)
    )


def landing_files(ws: Zones, feed: Feed, raw: RawZone | None = None) -> list[Path]:
    """Files in the feed's landing folder matching its glob that the raw manifest does not hold yet."""
    if not isinstance(feed.source, FileSource):
        return []
    root = ws.landing_dir(feed.name)
    if not root.is_dir():
        return []
    raw = raw or RawZone(ws.raw)
    out = []
    for p in sorted(root.glob(feed.source.glob)):
        rel = p.relative_to(root)
        if any(part.startswith(("_", ".")) for part in rel.parts[:-1]) or not is_data_file(p):
            continue
        if raw.lookup(feed.name, sha256_file(p)) is not None:
            log.info("feed %s: %s is already in the raw manifest; skipped", feed.name, p.name)
            continue
        out.append(p)
    return out


def _file_away(ws: Zones, feed: Feed, path: Path, sub: str, sha: str) -> None:
    """Move a landing file to ``_done/`` or ``_failed/`` (never delete it); files from elsewhere stay put."""
    root = ws.landing_dir(feed.name).resolve()
    try:
        src = path.resolve()
        src.relative_to(root)
    except (ValueError, OSError):
        return
    if not src.exists():
        return
    dest_dir = root / sub
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / src.name
    if dest.exists():
        dest = dest_dir / f"{src.stem}.{sha[:12]}{src.suffix}"
    try:
        shutil.move(str(src), str(dest))
    except OSError as e:
        log.warning("feed %s: could not move %s to %s: %s", feed.name, src, dest, e)


def _already_staged(raw: RawZone, feed: Feed, stored: StoredFile, previous: dict) -> FileResult:
    """A file whose content the feed staged before: noted, nothing staged again."""
    raw.record_event(
        feed.name, stored.sha256, stored.file_name, "duplicate", f"identical to {previous['file_name']}"
    )
    log.info(
        "feed %s: %s is identical to %s, staged before: nothing to do",
        feed.name,
        stored.file_name,
        previous["file_name"],
    )
    return FileResult(
        file_name=stored.file_name,
        sha256=stored.sha256,
        skipped_duplicate=True,
        warnings=[
            f"identical to {previous['file_name']} received {previous['received_at']}: not staged again"
        ],
    )


def _staged(raw: RawZone, feed: Feed, result: FileResult) -> None:
    """Record a staged file's counts in the manifest (its next receipt order) and the log."""
    raw.record_outcome(
        feed.name,
        result.sha256,
        status="staged",
        encoding=result.encoding,
        rows_read=result.rows_read,
        rows_staged=result.rows_staged,
        rows_quarantined=result.rows_quarantined,
        rows_blank=result.rows_blank,
        file_name=result.file_name,
    )
    log.info(
        "feed %s, %s: read %d, staged %d, quarantined %d %s",
        feed.name,
        result.file_name,
        result.rows_read,
        result.rows_staged,
        result.rows_quarantined,
        result.reasons or "",
    )


def ingest_file(ws: Zones, feed: Feed, raw: RawZone, path: Path) -> tuple[FileResult, FileProblem | None]:
    """Receive, keep and stage one file of a file feed; the file's result and its whole-file problem, if any."""
    source = feed.source
    if not isinstance(source, FileSource):
        raise TypeError(f"feed {feed.name!r} is not a file feed")
    file_name = safe_file_name(path.name)
    if not path.is_file():
        problem = FileProblem(feed.name, file_name, ReasonCode.UNREADABLE_FILE, f"not found: {path}")
        result = FileResult(
            file_name=file_name, sha256="", error=problem.message, error_code=str(problem.code)
        )
        return result, problem
    blob = raw.store_file(path)
    stored = StoredFile(blob.path, blob.sha256, file_name)
    previous = raw.lookup(feed.name, blob.sha256)
    if previous is not None and previous["status"] == "staged":
        duplicate = _already_staged(raw, feed, stored, previous)
        _file_away(ws, feed, path, DONE_DIR, blob.sha256)
        return duplicate, None
    raw.record_received(feed.name, blob, file_name, origin=str(path), kind="file")
    try:
        with StagingWriter.to_parquet(ws, feed, stored) as out:
            stage_file(feed, source, stored, out)
    except FileRejected as e:
        failed, problem = record_failed(raw, feed, stored, e)
        _file_away(ws, feed, path, FAILED_DIR, blob.sha256)
        return failed, problem
    _staged(raw, feed, out.result)
    _file_away(ws, feed, path, DONE_DIR, blob.sha256)
    return out.result, None


class FileFeeds:
    """The ``file`` source kind: the given files, or the feed's new landing files, one by one."""

    def ingest(self, zones: Zones, feed: Feed, files: list[Path] | None) -> IngestResult:
        raw = RawZone(zones.raw)
        paths = [Path(p) for p in files] if files is not None else landing_files(zones, feed, raw)
        result = IngestResult(feed=feed.name)
        problems: list[FileProblem] = []
        for path in paths:
            fr, problem = ingest_file(zones, feed, raw, path)
            result.files.append(fr)
            if problem is not None:
                problems.append(problem)
        result.check_accounting()
        if problems:
            raise FeedFileError(problems, result)
        return result


FILE_FEEDS = FileFeeds()

__all__ = [
    "DONE_DIR",
    "FAILED_DIR",
    "FILE_FEEDS",
    "FileFeeds",
    "ingest_file",
    "is_data_file",
    "landing_files",
]
