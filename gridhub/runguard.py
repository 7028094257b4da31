"""What guards a resolve-and-publish run: one run at a time, a fixed set of inputs, and room on disk.

- :func:`run_lock` — a workspace-level lock (``fcntl.flock`` on ``state/run.lock``, which holds the pid, host
  and start time of the run that has it). A second run stops at once with "another run is active since …";
  the kernel releases the lock when the process ends, also when it is killed, so there is nothing to clean.
- :func:`pin_inputs` / :func:`pinned` — the staged files a run reads are chosen once, at its start: the raw
  manifest (which lists each feed's staged files) is copied into ``work/<run_id>/inputs/``, and every step
  reads staging through that copy. A file an ingest stages during the run is not read by it and not listed in
  its lineage; the next run takes it.
- :func:`check_disk` — before a run computes anything: ``warehouse/``, ``state/`` and ``work/`` must be
  writable and have free space (``warehouse.min_free_mb`` in gridhub.yaml, or by default twice the size of
  the current snapshot and at least 500 MB), else one line, Chinese then English.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import socket
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.raw import MANIFEST_FILE
from gridhub.workspace import Workspace
from warehouse.errors import UserError

RUN_LOCK = "run.lock"
INPUTS = "inputs"
DEFAULT_MIN_FREE = 500 * 1024 * 1024


class RunActive(UserError, RuntimeError):
    """Another resolve-and-publish run holds the workspace's run lock."""


class DiskProblem(UserError, OSError):
    """A folder a run writes is not writable or has too little free space."""


# ----------------------------------------------------------------------------------------------------------
# run lock
# ----------------------------------------------------------------------------------------------------------
def lock_path(ws: Workspace) -> Path:
    return ws.state / RUN_LOCK


@contextmanager
def run_lock(ws: Workspace, what: str = "run") -> Iterator[None]:
    """Hold the workspace's run lock for the block; :class:`RunActive` at once if another process holds it."""
    path = lock_path(ws)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise DiskProblem(
            f"目录不可写：{path.parent} / cannot open the run lock {path}: {e.strerror}; fix the folder's permissions"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(path)
            raise RunActive(
                f"另一个运行正在进行（自 {holder.get('since', '?')} 起，进程 {holder.get('pid', '?')}@"
                f"{holder.get('host', '?')}）/ another run is active since {holder.get('since', '?')} "
                f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')}, {holder.get('what', 'run')}); "
                "wait for it to finish"
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "what": what,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _holder(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


# ----------------------------------------------------------------------------------------------------------
# fixed inputs
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PinnedInputs:
    """The workspace as a run's readers of staging see it: ``raw`` is the run's copy of the raw manifest, every
    other zone is the workspace's own. Staged files are named by their content hash and never rewritten, so
    the copied manifest fixes exactly which staged rows the run reads."""

    ws: Workspace
    raw: Path

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ws, name)

    @property
    def review_decisions(self) -> Path:
        """The run's copy of the reviewed pair decisions (as they were when the run id was made)."""
        return self.raw / self.ws.review_decisions.name

    @property
    def address_aliases(self) -> Path:
        """The run's copy of the reviewed address aliases."""
        return self.raw / self.ws.address_aliases.name


def _copy_manifest(ws: Workspace, dest: Path) -> None:
    """A consistent copy of the raw manifest (SQLite's backup API: an ingest may be writing to it)."""
    dest.mkdir(parents=True, exist_ok=True)
    src = ws.raw / MANIFEST_FILE
    if not src.exists():
        return
    tmp = dest / f".{MANIFEST_FILE}.tmp-{os.getpid()}"
    with closing(sqlite3.connect(src, timeout=60)) as a, closing(sqlite3.connect(tmp)) as b:
        a.backup(b)
    os.replace(tmp, dest / MANIFEST_FILE)


def pin_inputs(ws: Workspace) -> Path:
    """Copy the raw manifest and the review decisions as they are now into a new private folder under
    ``work/``; return the folder."""
    root = ws.work_dir("x").parent
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".inputs-", dir=root))
    _copy_manifest(ws, folder)
    for review in (ws.review_decisions, ws.address_aliases):  # replaced atomically: a copy is one version
        if review.exists():
            shutil.copyfile(review, folder / review.name)
    return folder


def install_pin(ws: Workspace, run_id: str, folder: Path) -> Path:
    """Make ``folder`` (from :func:`pin_inputs`) the inputs of ``run_id``, unless that run has them already."""
    dest = ws.work_dir(run_id) / INPUTS
    if (dest / MANIFEST_FILE).exists() or (dest.exists() and not (folder / MANIFEST_FILE).exists()):
        shutil.rmtree(folder, ignore_errors=True)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        shutil.rmtree(dest)
    os.rename(folder, dest)
    return dest


def pinned(ws: Workspace, run_id: str) -> PinnedInputs:
    """The inputs of ``run_id`` (pinned now if the run has none yet, e.g. a run id given by hand)."""
    dest = ws.work_dir(run_id) / INPUTS
    if not dest.exists():
        install_pin(ws, run_id, pin_inputs(ws))
    return PinnedInputs(ws, dest)


# ----------------------------------------------------------------------------------------------------------
# disk
# ----------------------------------------------------------------------------------------------------------
def _snapshot_bytes(ws: Workspace) -> int:
    from warehouse.read import current_manifest

    manifest = current_manifest(ws.warehouse) or {}
    total = 0
    for table in manifest.get("tables", {}).values():
        for entries in table.get("files", {}).values():
            total += sum(int(e.get("bytes", 0)) for e in entries)
    return total


def required_free_bytes(ws: Workspace) -> int:
    """``warehouse.min_free_mb`` if set, else twice the current snapshot's size, at least 500 MB."""
    configured = ws.config.warehouse.min_free_mb
    if configured is not None:
        return int(configured) * 1024 * 1024
    return max(DEFAULT_MIN_FREE, 2 * _snapshot_bytes(ws))


def _writable(folder: Path) -> bool:
    try:
        fd, name = tempfile.mkstemp(prefix=".write-check-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


def check_disk(ws: Workspace) -> None:
    """Raise :class:`DiskProblem` (one line, Chinese then English) unless every folder a run writes is writable
    and has the required free space."""
    need = required_free_bytes(ws)
    for label, folder in (
        ("warehouse", ws.warehouse),
        ("state", ws.state),
        ("work", ws.work_dir("x").parent),
    ):
        with contextlib.suppress(OSError):  # reported as not writable just below
            folder.mkdir(parents=True, exist_ok=True)
        if not folder.is_dir() or not _writable(folder):
            raise DiskProblem(
                f"目录不可写：{folder} / the {label} folder {folder} is not writable; fix its permissions"
            )
        free = shutil.disk_usage(folder).free
        if free < need:
            raise DiskProblem(
                f"磁盘空间不足：{folder} 仅剩 {free // 2**20} MB，需要 {need // 2**20} MB / "
                f"not enough free space for {label} ({folder}): {free // 2**20} MB free, {need // 2**20} MB "
                "needed (warehouse.min_free_mb)"
            )
