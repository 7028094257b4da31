"""The entity-id state of every entity type, committed in one step and kept consistent with ``CURRENT``.

Resolution reads the committed state (registries of issued ids, the trained model, decisions) and each run
stages its new state under ``work/<run_id>/resolved/state/<type>/``. Committing it is one atomic switch::

    state/er/generations/<run_id>/<type>/...   one complete folder per generation (all four types)
    state/er/generations/<run_id>/review/      the review decisions and address aliases the run applied
    state/er/generations/<run_id>/COMPLETE     written last, after every file was fsynced
    state/er/CURRENT                           one line: the run id of the committed generation

:meth:`matching.er.ResolutionState.folder` follows the pointer, so every reader (resolution, ``gridhub
explain``) sees one whole generation, never a mix of two.

**Order of a publish** (:func:`gridhub.pipeline.publish_run`):

1. :func:`stage_generation` — copy the run's staged state (and, for a type this run did not resolve, the state
   it had) into ``generations/.incoming-<run_id>-<pid>/``, fsync, write ``COMPLETE``, rename it to
   ``generations/<run_id>/``. Nothing reads it yet.
2. the warehouse publish switches the warehouse's ``CURRENT`` to ``<run_id>``;
3. :func:`switch_state` replaces ``state/er/CURRENT`` by ``<run_id>`` (fsynced), then prunes the generations
   no kept snapshot needs (:mod:`gridhub.retention`).

A kill before 2 leaves both pointers on the previous run: consistent, and the complete generation of the
killed run is reused by the rerun. A kill between 2 and 3 leaves the warehouse one run ahead of the state;
:func:`recover_state`, called at the start of every run (and of ``publish_run``), sees that the generation
the warehouse's ``CURRENT`` names is complete and switches the state pointer to it. So after any kill the pair
(snapshot, state) is consistent by the time anything reads the state, and recovery is "run again".
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from gridhub.retention import kept_snapshot_runs, prune_failure_records
from gridhub.review_store import REVIEW_STATE
from gridhub.workspace import Workspace, safe_run_id
from matching.er.ids import GENERATIONS, STATE_POINTER, committed_generation
from warehouse.files import atomic_write_text, fsync_path
from warehouse.read import current_run_id
from warehouse.schema import ENTITY_TYPES

log = logging.getLogger(__name__)

COMPLETE = "COMPLETE"
INCOMING_PREFIX = ".incoming-"


def er_root(ws: Workspace) -> Path:
    """``state/er/``: the pointer and the generations."""
    return ws.state / "er"


def generation_dir(ws: Workspace, run_id: str) -> Path:
    return er_root(ws) / GENERATIONS / safe_run_id(run_id)


def committed_run(ws: Workspace) -> str | None:
    """The run id whose state generation is committed (None before the first commit)."""
    return committed_generation(er_root(ws))


def is_complete(ws: Workspace, run_id: str) -> bool:
    return (generation_dir(ws, run_id) / COMPLETE).is_file()


def _fsync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*")):
        fsync_path(p)
    fsync_path(root)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_dead_incoming(root: Path) -> None:
    """Remove generations a killed commit was building (``.incoming-<run>-<pid>`` of a process now dead)."""
    if not root.is_dir():
        return
    for d in sorted(root.iterdir()):
        if not d.name.startswith(INCOMING_PREFIX):
            continue
        pid = d.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and _pid_alive(int(pid)):
            continue
        log.warning("removing %s, left by an interrupted state commit", d)
        shutil.rmtree(d, ignore_errors=True)


def stage_generation(ws: Workspace, run_id: str, staged: Path) -> Path:
    """Step 1: build ``generations/<run_id>/`` complete and durable, not yet committed; return its folder.

    ``staged`` holds the run's new state per type (``staged/<type>/``); a type without one keeps the state it
    has now. An already complete generation of this run id (a rerun after a kill) is reused as it is.
    """
    from matching.er import ResolutionState

    final = generation_dir(ws, run_id)
    if (final / COMPLETE).is_file():
        return final
    root = final.parent
    root.mkdir(parents=True, exist_ok=True)
    _remove_dead_incoming(root)
    if final.exists():  # an incomplete folder under the final name (cannot come from this code; be safe)
        shutil.rmtree(final)
    incoming = root / f"{INCOMING_PREFIX}{final.name}-{os.getpid()}"
    if incoming.exists():
        shutil.rmtree(incoming)
    incoming.mkdir()
    for t in ENTITY_TYPES:
        src = staged / t if (staged / t).is_dir() else ResolutionState.folder(ws.state, t)
        if src.is_dir():
            shutil.copytree(src, incoming / t)
    if (staged / REVIEW_STATE).is_dir():  # the review decisions and address aliases the run applied
        shutil.copytree(staged / REVIEW_STATE, incoming / REVIEW_STATE)
    _fsync_tree(incoming)
    atomic_write_text(incoming / COMPLETE, run_id + "\n", fsync=True)
    os.rename(incoming, final)
    fsync_path(root)
    return final


def switch_state(ws: Workspace, run_id: str) -> None:
    """Step 3: point ``state/er/CURRENT`` at the complete generation of ``run_id`` (one atomic replace), then
    remove legacy per-type folders and apply the retention (:mod:`gridhub.retention`): the generations of
    snapshots the warehouse no longer keeps, and old ingest failure records."""
    if not is_complete(ws, run_id):
        raise FileNotFoundError(f"state generation {generation_dir(ws, run_id)} is not complete")
    root = er_root(ws)
    atomic_write_text(root / STATE_POINTER, safe_run_id(run_id) + "\n", fsync=True)
    for t in ENTITY_TYPES:  # state of a workspace from before generations: superseded now
        legacy = root / t
        if legacy.is_dir():
            shutil.rmtree(legacy, ignore_errors=True)
    _prune(ws, safe_run_id(run_id))
    prune_failure_records(ws)


def _prune(ws: Workspace, current: str) -> None:
    """Remove the complete generations no rollback can need: all but the committed one and those of the
    snapshots the warehouse keeps (its retention already ran, in the publish before this switch)."""
    keep = {current, *kept_snapshot_runs(ws)}
    root = er_root(ws) / GENERATIONS
    gone = [d for d in root.iterdir() if d.is_dir() and (d / COMPLETE).is_file() and d.name not in keep]
    for d in gone:
        shutil.rmtree(d, ignore_errors=True)
    if gone:
        log.info(
            "pruned state generations %s (their snapshots are no longer kept)", sorted(d.name for d in gone)
        )


def recover_state(ws: Workspace) -> str | None:
    """Make the committed state consistent with the warehouse's ``CURRENT`` after an interrupted commit.

    When the warehouse names a run whose generation is complete but not committed (a kill between the
    snapshot switch and the state switch), commit it now. Returns the committed run id.
    """
    published = current_run_id(ws.warehouse)
    committed = committed_run(ws)
    if published and safe_run_id(published) != committed and is_complete(ws, published):
        log.warning(
            "state/er named run %s but the published snapshot is %s: finishing the interrupted state commit",
            committed,
            published,
        )
        switch_state(ws, published)
        committed = committed_run(ws)
    elif published and safe_run_id(published) != committed:
        log.warning(
            "the published snapshot %s has no state generation; state/er stays at %s", published, committed
        )
    _remove_dead_incoming(er_root(ws) / GENERATIONS)
    return committed
