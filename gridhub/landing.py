"""Handing a file in: the one function the CLI, the upload portal and tests use to land a department's file.

``land_file`` puts the data file into ``landing/<feed>/`` and then raises the feed's ready flag in
``landing/_ready/<feed>``. The feed's ingest DAG is scheduled on an Airflow asset whose watcher (a
``DirectoryFileDeleteTrigger`` in the triggerer) sees the flag, deletes it and starts the DAG run; the run
ingests every file waiting in the landing folder. The flag is written *after* the data file, both by
write-to-temporary + ``os.replace``, so the DAG never sees a half-written file.

The name a department gives its file (``实有人口_202506.csv``, ``..\\..\\etc\\passwd``) is never used as a
path: the data file gets a generated name ``<UTC time>-<sha256 prefix><.ext>`` (arrival order, content
identity), and the original name, made harmless by :func:`connectors.text.safe_file_name` (the one file-name
sanitiser the connectors use too), is kept only in a sidecar ``landing/<feed>/_meta/<generated name>.json``.
Content the feed already has — a copy still waiting in the landing folder, or a file it staged before (the raw
manifest) — is not landed again: :class:`DuplicateContent` says when it was received and under which name
("identical content was already received on 2026-11-30 09:12 UTC (实有人口_202506.csv)"), and the copy is
dropped (nothing is written to the landing folder, no flag is raised). Messages are Chinese first, then English.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from connectors.feeds import FileSource
from connectors.file_feed import META_DIR, duplicate_text
from connectors.raw import RawZone
from connectors.text import safe_file_name
from gridhub.assets import ready_dir, ready_flag_name
from gridhub.workspace import Workspace
from warehouse.errors import UserError
from warehouse.files import atomic_write

log = logging.getLogger(__name__)

_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")
_CHUNK = 1 << 20
_FILE_MODE = 0o644  # mkstemp makes 0600; Airflow's task processes (maybe another user) must read landed files
# atomic_write's temporary name is unique per process, not per thread: the portal lands files from several
# threads of one process, so the small files written through it (ready flags, sidecars) take turns.
_SMALL_WRITES = threading.Lock()

__all__ = [
    "META_DIR",
    "DuplicateContent",
    "LandingError",
    "LandedFile",
    "land_file",
    "landed_files",
    "original_name_of",
    "raise_ready_flag",
    "refuse_known_content",
]


class LandingError(UserError, ValueError):
    """A file cannot be handed in: unknown or database feed, empty file, or a type the feed will not read."""


class DuplicateContent(LandingError):
    """The feed already has this content (waiting to be ingested, or staged before): nothing was landed."""

    def __init__(self, feed: str, received_at: str, original_name: str, sha256: str, waiting: bool) -> None:
        self.feed = feed
        self.received_at = received_at
        self.original_name = original_name
        self.sha256 = sha256
        #: True while the earlier copy still waits in the landing folder (not ingested yet)
        self.waiting = waiting
        super().__init__(duplicate_text(received_at, original_name))


@dataclass(frozen=True)
class LandedFile:
    """What the sidecar of one landed file records."""

    feed: str
    path: Path
    original_name: str
    sha256: str
    size: int
    landed_at: str


def _suffix(original: str) -> str:
    """The lower-case extension of the original name, if it is a plain short ASCII one (``.CSV`` → ``.csv``)."""
    # full-width "．ｃｓｖ" folds to ".csv" under NFKC; anything else exotic is dropped
    suffix = PurePosixPath(unicodedata.normalize("NFKC", original)).suffix.lower()
    return suffix if _SAFE_SUFFIX.match(suffix) else ""


def _generated_name(when: datetime, sha_prefix: str, suffix: str) -> str:
    """``20261123T052908123456Z-<16 hex>.csv``: sorts in arrival order, never starts with ``.`` or ``_``."""
    return f"{when.strftime('%Y%m%dT%H%M%S%fZ')}-{sha_prefix}{suffix}"


def _file_feed(ws: Workspace, feed: str) -> FileSource:
    names = [f.name for f in ws.config.feeds]
    if feed not in names:
        raise LandingError(
            f"没有名为 {feed!r} 的数据源 / no feed named {feed!r} in {ws.config_file}; "
            f"已配置 / known feeds: {', '.join(names)}"
        )
    source = ws.config.feeds[names.index(feed)].source
    if not isinstance(source, FileSource):
        raise LandingError(
            f"数据源 {feed!r} 从数据库读取，不接收文件 / feed {feed!r} reads a database table; it takes no files "
            "(run its DAG instead)"
        )
    return source


def _write_small(dest: Path, data: bytes) -> Path:
    """Write a flag or sidecar atomically and durably (a crash leaves at most a hidden temporary file, which
    ingest and the file trigger ignore)."""
    with _SMALL_WRITES, atomic_write(dest, fsync=True) as tmp:
        tmp.write_bytes(data)
        tmp.chmod(_FILE_MODE)
    return dest


def _write_hidden(folder: Path, write) -> Path:
    """Write a new hidden ``.incoming-*.part`` file in ``folder`` (fsynced) and return its path.

    The landed file's name comes from its content hash, known only once the bytes are through, so it is
    written under a unique hidden name first and renamed by :func:`land_file` (not :func:`atomic_write`,
    which needs the final name up front)."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=".part")
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _copy_hashing(src: Path | bytes | bytearray | memoryview):
    """A writer that copies ``src`` into a file handle and records its SHA-256 and size."""
    digest = hashlib.sha256()
    size = 0

    def write(fh) -> None:
        nonlocal size
        if isinstance(src, (bytes, bytearray, memoryview)):
            data = bytes(src)
            digest.update(data)
            fh.write(data)
            size = len(data)
            return
        with Path(src).open("rb") as inp:
            while chunk := inp.read(_CHUNK):
                digest.update(chunk)
                fh.write(chunk)
                size += len(chunk)

    return write, digest, lambda: size


def raise_ready_flag(ws: Workspace, feed: str) -> Path:
    """Write (atomically) the flag that tells the feed's asset watcher a new file is waiting."""
    flag = ready_dir(ws.root) / ready_flag_name(feed)
    stamp = datetime.now(UTC).isoformat(timespec="microseconds").encode()
    return _write_small(flag, stamp)


def land_file(
    ws: Workspace,
    feed: str,
    src: Path | str | bytes | bytearray | memoryview,
    original_name: str,
    *,
    shown_name: str | None = None,
) -> Path:
    """Hand a file in for ``feed``: write it atomically under a safe generated name, then raise the ready flag.

    ``src`` is a path to copy from or the file's bytes (what an upload gives). ``original_name`` is what the
    department called the file; it is recorded in the sidecar and checked only for its extension, which must
    match the feed's glob (a ``.xlsx`` handed to a ``*.csv`` feed would never be read). ``shown_name``, if
    given, is recorded instead (the portal names the file by its content's type but keeps the clerk's name). Returns the path of
    the landed data file. Raises :class:`DuplicateContent` (a :class:`LandingError`) when the feed has the same
    content waiting or staged already (nothing is landed), :class:`LandingError` for an unknown or database feed,
    an empty file, or an extension the feed does not take; ``FileNotFoundError`` if ``src`` is a path that does
    not exist.
    """
    source = _file_feed(ws, feed)
    shown = safe_file_name(original_name)
    suffix = _suffix(shown)
    now = datetime.now(UTC)
    pattern = source.glob.replace("\\", "/").rsplit("/", 1)[-1]
    if not fnmatchcase(_generated_name(now, "0" * 16, suffix), pattern):
        raise LandingError(
            f"数据源 {feed!r} 只读取 {pattern} 文件，{shown!r} 不会被读取 / "
            f"feed {feed!r} reads files matching {source.glob!r}; {shown!r} would not be read "
            f"(hand in a {pattern} file, or widen the feed's glob: handed-in files get generated names)"
        )
    if isinstance(src, str):
        src = Path(src)
    if isinstance(src, Path) and not src.is_file():
        raise FileNotFoundError(f"no such file to land: {src}")

    folder = ws.landing_dir(feed)
    folder.mkdir(parents=True, exist_ok=True)
    # write under a hidden name first: the content hash is only known once the bytes are through
    write, digest, size = _copy_hashing(src)
    incoming = _write_hidden(folder, write)
    sha = digest.hexdigest()
    if size() == 0:
        incoming.unlink(missing_ok=True)
        raise LandingError(f"文件 {shown!r} 为空 / {shown!r} is empty: nothing to hand in for feed {feed!r}")

    try:
        _refuse_known_content(ws, feed, folder, sha)
    except DuplicateContent:
        incoming.unlink(missing_ok=True)
        raise
    dest = folder / _generated_name(now, sha[:16], suffix)
    meta = {
        "feed": feed,
        "file": dest.name,
        "original_name": safe_file_name(shown_name) if shown_name else shown,
        "sha256": sha,
        "size": size(),
        "landed_at": now.isoformat(timespec="microseconds"),
    }
    body = json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8")
    _write_small(folder / META_DIR / f"{dest.name}.json", body)
    os.replace(incoming, dest)
    log.info("feed %s: landed %s as %s (%d bytes)", feed, shown, dest.name, size())
    raise_ready_flag(ws, feed)
    return dest


def refuse_known_content(ws: Workspace, feed: str, sha: str) -> None:
    """Raise :class:`DuplicateContent` when ``feed`` already has content ``sha`` (waiting or staged): the
    portal asks before it checks a file, :func:`land_file` again before it lands one."""
    _refuse_known_content(ws, feed, ws.landing_dir(feed), sha)


def _refuse_known_content(ws: Workspace, feed: str, folder: Path, sha: str) -> None:
    """Raise :class:`DuplicateContent` when ``feed`` has content ``sha`` waiting or staged already."""
    for waiting in sorted(folder.glob(f"*-{sha[:16]}.*")) + sorted(folder.glob(f"*-{sha[:16]}")):
        meta = _read_meta(waiting)
        if waiting.is_file() and (meta is None or meta.get("sha256", sha) == sha):
            name = str((meta or {}).get("original_name") or waiting.name)
            at = str((meta or {}).get("landed_at") or "")
            log.info("feed %s: %s is already waiting as %s", feed, sha[:16], waiting.name)
            raise DuplicateContent(feed, at, name, sha, waiting=True)
    previous = RawZone(ws.raw).lookup(feed, sha)
    if previous is not None and previous.get("status") == "staged":
        log.info("feed %s: %s was staged before (%s)", feed, sha[:16], previous.get("file_name"))
        raise DuplicateContent(
            feed, str(previous.get("received_at", "")), str(previous.get("file_name", "")), sha, waiting=False
        )


def _read_meta(path: Path) -> dict | None:
    meta = path.parent / META_DIR / f"{path.name}.json"
    try:
        return json.loads(meta.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("unreadable landing sidecar %s: %s", meta, e)
        return None


def original_name_of(path: Path) -> str:
    """The name the department gave a landed file (from its sidecar), else the file's own name."""
    meta = _read_meta(Path(path))
    return str(meta["original_name"]) if meta and meta.get("original_name") else Path(path).name


def landed_files(ws: Workspace, feed: str) -> list[LandedFile]:
    """Files landed through :func:`land_file` still waiting in the feed's landing folder, oldest first."""
    folder = ws.landing_dir(feed)
    out = []
    for meta_path in sorted((folder / META_DIR).glob("*.json")):
        path = folder / meta_path.name.removesuffix(".json")
        data = _read_meta(path)
        if data is None or not path.is_file():
            continue
        out.append(
            LandedFile(
                feed=feed,
                path=path,
                original_name=str(data.get("original_name", path.name)),
                sha256=str(data.get("sha256", "")),
                size=int(data.get("size", 0)),
                landed_at=str(data.get("landed_at", "")),
            )
        )
    return out
