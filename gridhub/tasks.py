"""What the DAG tasks call: thin adapters from Airflow to the pipeline functions.

They read the workspace from ``$GRIDHUB_WORKSPACE``, quieten noisy loggers in task logs and return small,
JSON-able dicts (Airflow keeps them as XCom and as asset-event extras).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gridhub.workspace import Workspace

log = logging.getLogger("gridhub")

#: A step of the resolve-and-publish run: ``step(ws, run_id)`` → a small JSON-able result with ``run_id``.
Step = Callable[[Workspace, str], dict]


def _quiet() -> None:
    for name in ("great_expectations", "py.warnings"):
        logging.getLogger(name).setLevel(logging.ERROR)


def ingest_task(feed: str) -> dict:
    """Ingest one feed; return per-file counts. Raises on a whole-file error after keeping the file in raw."""
    from connectors import ingest_feed

    _quiet()
    ws = Workspace.from_env()
    result = ingest_feed(ws, feed)
    result.check_accounting()
    totals = result.totals()
    log.info("feed %s: %s", feed, totals)
    return {"feed": feed, **totals}


def run_step(step: Step, run_id: str | None = None) -> dict:
    """Run one pipeline step (a function of :mod:`gridhub.pipeline`) for ``run_id`` (a new one for the first).

    When ``run_id`` is already published (the inputs have not changed since the current snapshot: a rerun, or a
    run queued by ingests that an earlier run already covered) a computing step (mentions, bindings,
    resolution, tables) does nothing and returns ``reused``; the first step logs the one-line reason. Any other
    step runs as usual: ``publish_run`` has its own reuse path (it reports the snapshot's row counts).
    """
    from gridhub import pipeline
    from gridhub.pipeline import is_published, new_run_id, reused_message
    from gridhub.runguard import check_disk, run_lock
    from gridhub.statecommit import recover_state

    _quiet()
    ws = Workspace.from_env()
    with run_lock(ws, what=f"task {step.__name__}"):  # one step of one run at a time in a workspace
        recover_state(
            ws
        )  # finish a state commit a killed run left half done, before any step reads the state
        first = run_id is None
        if run_id is None:  # the first step of a run: check the disks, pin the inputs
            check_disk(ws)
            run_id = new_run_id(ws)
        computing = (
            pipeline.prepare_mentions,
            pipeline.bind_addresses,
            pipeline.resolve_entities,
            pipeline.build_tables,
        )
        if step in computing and is_published(ws, run_id):
            if first:
                log.info(reused_message(run_id))
            return {"run_id": run_id, "reused": True}
        result = step(ws, run_id)
    log.info("%s: %s", step.__name__, result)
    return result


def summary_task() -> dict:
    from gridhub.report import format_summary, write_summary

    ws = Workspace.from_env()
    s, path = write_summary(ws)
    log.info("run summary (%s):\n%s", path, format_summary(s))
    return {"summary": str(path), "snapshot": s.get("snapshot")}
