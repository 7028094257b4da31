"""Retention of what runs leave in ``state/`` beside the warehouse's snapshots: the same rule, from the same
config (``warehouse.keep_snapshots`` and ``warehouse.keep_days`` in gridhub.yaml).

- **Entity-id state generations** (``state/er/generations/<run_id>/``, :mod:`gridhub.statecommit`) follow the
  snapshots themselves: a generation is kept while the snapshot of its run is kept (in either layer), and the
  committed one always. A kept snapshot needs its generation for a rollback: when the warehouse's ``CURRENT``
  names an older snapshot again, :func:`gridhub.statecommit.recover_state` commits that run's generation, so
  the entity ids go back with the tables. Any other generation (its snapshot pruned, or a run never published)
  is removed; a rerun of an unpublished run stages it again from its ``work/<run_id>/``.
- **Ingest failure records** (``state/ingest_failures/<feed>/<dag run>.json``, :mod:`gridhub.taskfail`) go when
  they are beyond both rules, as a snapshot does: not among the newest ``keep_snapshots`` of their feed and
  older than ``keep_days`` days (0: by count only). A retry of a DAG run whose record is gone no longer fails.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from gridhub.workspace import Workspace, safe_run_id
from warehouse.read import list_snapshots
from warehouse.schema import Layer

log = logging.getLogger(__name__)

#: ``state/<FAILURES_DIR>/<feed>/<dag run>.json``: what failed in an ingest DAG run (gridhub.taskfail).
FAILURES_DIR = "ingest_failures"


def kept_snapshot_runs(ws: Workspace) -> set[str]:
    """The run ids (as generation folder names) of every snapshot the warehouse keeps, in any layer."""
    return {safe_run_id(r) for layer in Layer for r in list_snapshots(ws.warehouse, layer)}


def prune_failure_records(ws: Workspace, now: float | None = None) -> list[Path]:
    """Remove the ingest failure records beyond both retention rules; return the removed paths."""
    root = ws.state / FAILURES_DIR
    if not root.is_dir():
        return []
    settings = ws.config.warehouse
    cutoff = (time.time() if now is None else now) - settings.keep_days * 86400
    removed: list[Path] = []
    for feed_dir in sorted(d for d in root.iterdir() if d.is_dir()):
        records = sorted(feed_dir.glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name))
        for p in records[: max(0, len(records) - settings.keep_snapshots)]:
            if p.stat().st_mtime < cutoff:
                p.unlink(missing_ok=True)
                removed.append(p)
    if removed:
        log.info("pruned %d ingest failure record(s) older than %d days", len(removed), settings.keep_days)
    return removed


__all__ = ["FAILURES_DIR", "kept_snapshot_runs", "prune_failure_records"]
