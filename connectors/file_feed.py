"""File feeds (``source.kind: file``): the files landed in ``landing/<feed>/``, one at a time.

Each file is

1. copied into the raw zone under its SHA-256 (kept forever, unchanged) and noted in the raw manifest under
   the department's own name for it (the landing sidecar's ``original_name``, :func:`original_name`); a file
   the feed already staged is a no-op that says when the same content came before and under which name
   (``skipped_duplicate``), and the copy is filed in ``_duplicates/``;
2. sniffed (real format, encoding) and checked as a whole (empty, header only, binary, wrong format,
   duplicated or missing columns): a whole-file problem fails the file, not the other files of the run; a
   header whose columns are another feed's says so (:func:`explain_rejection`); a header-only file is taken as
   empty, with a warning;
3. read by the reader of its format (:data:`connectors.sources.FILE_FORMATS`) in batches through the row rules
   into ``staging/<feed>/<sha>.parquet`` and ``quarantine/<feed>/<sha>.parquet``
   (:class:`connectors.staging.StagingWriter`);
4. accounted: rows read = rows staged + rows quarantined, checked before the manifest says ``staged``;
5. moved to ``_done/``, ``_failed/`` or ``_duplicates/`` in its landing folder (never deleted).

An ingest killed half way is finished by the next one: content the manifest still says ``received`` is staged
again (from its landed copy if that still waits, else from raw: :func:`left_received`), and a landed file it
staged but had no time to move is filed in ``_done/`` (not taken for a duplicate). Its temporary files are
removed before the next ingest starts (:mod:`connectors.recovery`).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from connectors.errors import FeedFileError, FileProblem, FileRejected
from connectors.feeds import Feed, FileSource, Zones
from connectors.raw import RawZone
from connectors.results import FileResult, IngestResult
from connectors.sources import stage_file
from connectors.staging import CURRENT_AGAIN, StagingWriter, StoredFile, current_again, record_failed
from connectors.text import normalise_header, safe_file_name
from warehouse.reasons import ReasonCode

log = logging.getLogger(__name__)

#: said of a file a killed ingest left half staged, staged by the next one from its copy in raw
RESUMED = (
    "上次导入中断，现从原始区重新入库 / left half staged by a killed ingest: staged now from its copy in raw"
)
DONE_DIR = "_done"
FAILED_DIR = "_failed"
DUPLICATES_DIR = "_duplicates"
#: the landing sidecars (``<landing>/<feed>/_meta/<landed name>.json``, written by ``gridhub.landing``)
META_DIR = "_meta"
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
    """Files waiting in the feed's landing folder that match its glob, oldest name first.

    Content the feed has staged before is listed too: :func:`ingest_file` says so and files the copy in
    ``_duplicates/`` (it does not stay in the landing folder for good). ``raw`` is not needed any more."""
    if not isinstance(feed.source, FileSource):
        return []
    root = ws.landing_dir(feed.name)
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.glob(feed.source.glob)):
        rel = p.relative_to(root)
        if any(part.startswith(("_", ".")) for part in rel.parts[:-1]) or not is_data_file(p):
            continue
        out.append(p)
    return out


def original_name(path: Path) -> str:
    """The department's own name of a landed file (its ``_meta`` sidecar), made safe; else the file's name."""
    meta = path.parent / META_DIR / f"{path.name}.json"
    try:
        name = json.loads(meta.read_text(encoding="utf-8")).get("original_name")
    except (OSError, ValueError, AttributeError):
        name = None
    return safe_file_name(name if isinstance(name, str) and name else path.name)


def when_received(at: str) -> str:
    """``2026-11-30T09:12:05+00:00`` → ``2026-11-30 09:12 UTC`` (how a person reads a receipt time)."""
    at = str(at or "")
    if len(at) >= 16 and at[10] == "T":
        return at[:10] + " " + at[11:16] + (" UTC" if at.endswith(("+00:00", "Z")) else "")
    return at


def duplicate_text(received_at: str, name: str) -> str:
    """The words for content that came before: when, and under which name (Chinese, then English)."""
    when = when_received(received_at)
    return (
        f"内容完全相同的文件已于 {when} 收到（{name}），本次不再重复导入 / "
        f"identical content was already received on {when} ({name}): not taken again"
    )


def explain_rejection(feeds: Sequence[Feed], feed: Feed, e: FileRejected) -> FileRejected:
    """``e`` with a headline that says the real problem when the header's columns are another feed's.

    A missing-columns rejection whose header shares more columns with another configured feed than with
    ``feed`` (and at least two) says "these columns belong to another feed (住建 zhujian_houses); this feed
    expects ...". Anything else is returned unchanged."""
    if e.code is not ReasonCode.MISSING_COLUMNS or not e.header:
        return e
    header = {normalise_header(h) for h in e.header} - {""}

    def overlap(f: Feed) -> int:
        return len(header & {normalise_header(c) for c in f.columns})

    own = overlap(feed)
    others = sorted(
        ((overlap(f), f.name, f) for f in feeds if f.name != feed.name), key=lambda t: (-t[0], t[1])
    )
    if not others or others[0][0] < 2 or others[0][0] <= own:
        return e
    other = others[0][2]
    label = f"{other.department} {other.name}"
    expects = list(feed.columns)
    shown = "、".join(expects[:12]) + (" 等" if len(expects) > 12 else "")
    shown_en = ", ".join(expects[:12]) + (" ..." if len(expects) > 12 else "")
    return FileRejected(
        e.code,
        e.detail,
        headline=(
            f"这些列属于另一个数据源（{label}），本数据源（{feed.department} {feed.name}）需要的列是：{shown}",
            f"these columns belong to another feed ({label}); this feed ({feed.department} {feed.name}) "
            f"expects the columns {shown_en}",
        ),
        header=e.header,
    )


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
        warnings=[duplicate_text(previous["received_at"], previous["file_name"])],
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


def _filed_late(ws: Zones, feed: Feed, raw: RawZone, path: Path, stored: StoredFile) -> FileResult:
    """The landed file an earlier ingest staged and was stopped before it could file it: filed in ``_done/``."""
    raw.record_event(feed.name, stored.sha256, stored.file_name, "filed", "staged by an interrupted ingest")
    _file_away(ws, feed, path, DONE_DIR, stored.sha256)
    log.info("feed %s: %s was staged by an interrupted ingest; filed now", feed.name, stored.file_name)
    return FileResult(
        file_name=stored.file_name,
        sha256=stored.sha256,
        skipped_duplicate=True,
        warnings=[
            "上次导入已入库此文件但中途停止，现归档 / staged by an earlier ingest that stopped before filing it: "
            "filed in _done/ now"
        ],
    )


def _stage(
    ws: Zones, feed: Feed, raw: RawZone, stored: StoredFile, path: Path | None
) -> tuple[FileResult, FileProblem | None]:
    """Stage a received file and record its outcome; the landed copy (if any) is filed away."""
    source = feed.source
    if not isinstance(source, FileSource):
        raise TypeError(f"feed {feed.name!r} is not a file feed")
    try:
        with StagingWriter.to_parquet(ws, feed, stored) as out:
            stage_file(feed, source, stored, out)
    except FileRejected as e:
        failed, problem = record_failed(raw, feed, stored, explain_rejection(ws.feeds, feed, e))
        if path is not None:
            _file_away(ws, feed, path, FAILED_DIR, stored.sha256)
        return failed, problem
    _staged(raw, feed, out.result)
    if path is not None:
        _file_away(ws, feed, path, DONE_DIR, stored.sha256)
    return out.result, None


def ingest_file(ws: Zones, feed: Feed, raw: RawZone, path: Path) -> tuple[FileResult, FileProblem | None]:
    """Receive, keep and stage one file of a file feed; the file's result and its whole-file problem, if any."""
    if not isinstance(feed.source, FileSource):
        raise TypeError(f"feed {feed.name!r} is not a file feed")
    file_name = original_name(path)
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
        if previous.get("origin") == str(path):
            return _filed_late(ws, feed, raw, path, stored), None
        duplicate = _already_staged(raw, feed, stored, previous)
        if current_again(raw, feed, previous):
            duplicate.warnings.append(CURRENT_AGAIN)
        _file_away(ws, feed, path, DUPLICATES_DIR, blob.sha256)
        return duplicate, None
    raw.record_received(feed.name, blob, file_name, origin=str(path), kind="file")
    return _stage(ws, feed, raw, stored, path)


def left_received(raw: RawZone, feed: Feed, paths: Sequence[Path]) -> list[StoredFile]:
    """Files the feed received but never finished staging (an ingest was killed) whose landed copy is not among
    ``paths`` (a landed copy still waiting is staged through its path), oldest first, if raw still has them."""
    m = raw.manifest(feed.name)
    if m.empty:
        return []
    waiting = {str(p) for p in paths}
    left = m[(m["status"] == "received") & (m["kind"] == "file") & ~m["origin"].isin(waiting)]
    out = []
    for sha, name in zip(left["sha256"], left["file_name"], strict=True):
        blob = raw.blob_path(sha)
        if blob.is_file():
            out.append(StoredFile(blob, sha, str(name or sha[:12])))
    return out


class FileFeeds:
    """The ``file`` source kind: the given files, or the feed's new landing files, one by one."""

    def ingest(self, zones: Zones, feed: Feed, files: list[Path] | None) -> IngestResult:
        raw = RawZone(zones.raw)
        paths = [Path(p) for p in files] if files is not None else landing_files(zones, feed, raw)
        result = IngestResult(feed=feed.name)
        problems: list[FileProblem] = []
        outcomes = []
        for stored in left_received(raw, feed, paths):
            log.warning(
                "feed %s: %s was left half staged by a killed ingest: staging it again",
                feed.name,
                stored.file_name,
            )
            raw.record_event(
                feed.name, stored.sha256, stored.file_name, "resumed", "left received by a killed ingest"
            )
            fr, problem = _stage(zones, feed, raw, stored, None)
            fr.warnings.append(RESUMED)
            outcomes.append((fr, problem))
        for path in paths:
            outcomes.append(ingest_file(zones, feed, raw, path))
        for fr, problem in outcomes:
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
    "DUPLICATES_DIR",
    "FAILED_DIR",
    "FILE_FEEDS",
    "META_DIR",
    "FileFeeds",
    "duplicate_text",
    "explain_rejection",
    "ingest_file",
    "is_data_file",
    "landing_files",
    "left_received",
    "original_name",
    "when_received",
]
