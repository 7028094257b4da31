"""How a gridhub task fails in Airflow: deterministic errors at once and for good, transient ones retried.

- A **deterministic** error (a :class:`~warehouse.errors.UserError`: a department's file that cannot be read,
  a config key, reference data, a failed validation) fails the task without a retry
  (:class:`TaskFailed`, an ``AirflowFailException``): trying again would give the same answer after minutes of
  backoff. Its message is the user error's own.
- A **transient** error (:data:`TRANSIENT`: the workspace's run lock held by another run, a database that
  cannot be reached) and any unexpected exception keep Airflow's retries.
- An ingest whose whole-file errors failed its run keeps a **failure record** per DAG run
  (``state/ingest_failures/<feed>/<dag run>.json``): the failed files were filed in ``_failed/``, so a retry or
  a cleared task would find nothing waiting and go green. With the record it fails again with the same
  message, until each of the run's failed files has been staged (a corrected file landed, or the file moved
  back into the landing folder after a config fix). Records older than the warehouse's retention are pruned
  (:mod:`gridhub.retention`).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from connectors.errors import FeedFileError, SourceUnavailable
from gridhub.retention import FAILURES_DIR, prune_failure_records
from gridhub.runguard import RunActive
from gridhub.workspace import Workspace
from warehouse.errors import UserError
from warehouse.files import atomic_write_text

log = logging.getLogger(__name__)

#: User errors that may pass by themselves: Airflow's retries apply to them.
TRANSIENT: tuple[type[BaseException], ...] = (RunActive, SourceUnavailable)


@functools.cache
def task_failed_type() -> Any:
    """:class:`TaskFailed`, made on first use: importing Airflow costs a step process about 2 CPU seconds, which
    a run outside Airflow (``gridhub run``, the benchmarks) and a task that succeeds never need to pay."""
    from airflow.sdk.exceptions import AirflowFailException

    class TaskFailed(AirflowFailException):
        """A deterministic failure of a gridhub task: no retry. ``feed`` and ``files`` (the department's names
        of the files that failed) say what the failure callback reports."""

        def __init__(self, message: str, *, feed: str = "", files: list[str] | None = None) -> None:
            super().__init__(message)
            self.feed = feed
            self.files = list(files or [])

    TaskFailed.__module__ = __name__
    return TaskFailed


def __getattr__(name: str) -> Any:  # ``from gridhub.taskfail import TaskFailed`` (PEP 562)
    if name == "TaskFailed":
        return task_failed_type()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@contextmanager
def failing_fast(feed: str = "") -> Iterator[None]:
    """Turn a deterministic user error raised in the block into ``TaskFailed`` (an ``AirflowFailException``:
    no retry); transient errors, and anything else, pass unchanged for Airflow's retries."""
    try:
        yield
    except TRANSIENT:
        raise
    except FeedFileError as e:
        failed = task_failed_type()
        raise failed(str(e), feed=e.feed or feed, files=[p.file_name for p in e.problems]) from e
    except UserError as e:
        raise task_failed_type()(str(e), feed=feed) from e


def _record_path(ws: Workspace, feed: str, dag_run: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", dag_run)[:200]
    return ws.state / FAILURES_DIR / feed / f"{safe}.json"


def record_failure(ws: Workspace, feed: str, dag_run: str, e: FeedFileError) -> Path:
    """Keep what failed in ``dag_run`` (its message, each failed file's name and content hash), with what an
    earlier try of the same run recorded."""
    path = _record_path(ws, feed, dag_run)
    files = json.loads(path.read_text(encoding="utf-8"))["files"] if path.is_file() else []
    known = {f["sha256"] for f in files}
    files += [{"file_name": p.file_name, "sha256": p.sha256} for p in e.problems if p.sha256 not in known]
    body = {"feed": feed, "dag_run": dag_run, "message": str(e), "files": files}
    atomic_write_text(path, json.dumps(body, ensure_ascii=False, indent=1))
    prune_failure_records(ws)  # the records of old runs go by the warehouse's retention (gridhub.retention)
    return path


def still_failing(ws: Workspace, feed: str, dag_run: str) -> Exception | None:
    """The failure of ``dag_run`` again while any of its failed files is not staged; None (and the record
    removed) once every one of them is."""
    from connectors.raw import RawZone

    path = _record_path(ws, feed, dag_run)
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    raw = RawZone(ws.raw)
    left = [
        f
        for f in record["files"]
        if not f.get("sha256") or (raw.lookup(feed, f["sha256"]) or {}).get("status") != "staged"
    ]
    if not left:
        path.unlink(missing_ok=True)
        log.info("feed %s: the files that failed run %s are staged now", feed, dag_run)
        return None
    return task_failed_type()(
        f"{record['message']}\n(this run failed on these files before; they are still not staged: land a "
        "corrected file, or move the file back into the landing folder once the cause is fixed)",
        feed=feed,
        files=[f["file_name"] for f in left],
    )


__all__ = ["TRANSIENT", "failing_fast", "task_failed_type", "record_failure", "still_failing"]
