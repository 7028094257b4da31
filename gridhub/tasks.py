"""What the DAG tasks call: thin adapters from Airflow to the pipeline functions.

They read the workspace from ``$GRIDHUB_WORKSPACE``, keep library noise out of the task log, log what they did
as a few readable lines (:mod:`gridhub.tasklog`) and return small, JSON-able dicts (Airflow keeps them as XCom
and as asset-event extras). Failures follow :mod:`gridhub.taskfail`: a deterministic error fails the task at
once (no retry), a transient one is retried. An ingest that stages nothing new is *skipped*: a skipped task
emits no event on its outlet asset, so no resolve-and-publish run follows. A publish that finds its run already
published is skipped the same way (:func:`skip_reused_publish`): no second warehouse event for one snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gridhub.tasklog import blocked_lines, emit, ingest_lines, quiet_libraries, step_lines, timed
from gridhub.workspace import Workspace

if TYPE_CHECKING:
    from connectors.results import IngestResult

#: A step of the resolve-and-publish run: ``step(ws, run_id)`` → a small JSON-able result with ``run_id``.
Step = Callable[[Workspace, str], dict]


def _dag_run_id() -> str | None:
    """The id of the Airflow DAG run this task belongs to (None outside a running task)."""
    from airflow.sdk import get_current_context

    try:
        return str(get_current_context()["run_id"])
    except (KeyError, RuntimeError):
        return None


def staged_something(result: IngestResult) -> bool:
    """Whether an ingest changed the feed's current staged rows: a file staged (or resumed), or a full feed's
    earlier table made current again. Duplicates and failed files change nothing."""
    from connectors.staging import CURRENT_AGAIN

    return any((not f.error and not f.skipped_duplicate) or CURRENT_AGAIN in f.warnings for f in result.files)


def ingest_task(feed: str) -> dict:
    """Ingest one feed; log and return per-file counts.

    Raises :class:`gridhub.taskfail.TaskFailed` (no retry) on a whole-file error, after keeping the file in
    raw and recording the failure for the DAG run, so a retry of the same run fails the same way;
    ``AirflowSkipException`` when nothing new was staged (no asset event)."""
    from airflow.sdk.exceptions import AirflowSkipException

    from connectors import FeedFileError, ingest_feed
    from connectors.results import IngestResult
    from gridhub.taskfail import failing_fast, record_failure, still_failing

    dag_run = _dag_run_id()
    with quiet_libraries():
        with timed(f"ingest of feed {feed}"), failing_fast(feed):
            ws = Workspace.from_env()
            try:
                result = ingest_feed(ws, feed)
            except FeedFileError as e:
                if isinstance(e.result, IngestResult):
                    emit(ingest_lines(feed, [f.to_dict() for f in e.result.files], e.result.totals()))
                if dag_run:
                    record_failure(ws, feed, dag_run, e)
                raise
            result.check_accounting()
            totals = result.totals()
            emit(ingest_lines(feed, [f.to_dict() for f in result.files], totals))
            again = still_failing(ws, feed, dag_run) if dag_run else None
            if again is not None:
                raise again
        if not staged_something(result):
            emit([f"feed {feed}: nothing new staged: no staging asset event, so no resolve-and-publish run"])
            raise AirflowSkipException(f"feed {feed}: nothing new to stage")
    return {"feed": feed, **totals}


def run_step(step: Step, run_id: str | None = None) -> dict:
    """Run one pipeline step (a function of :mod:`gridhub.pipeline`) for ``run_id`` (a new one for the first).

    Logs what the step did and how long it took; a deterministic error (bad reference data, a failed
    validation...) fails the task without a retry, another run holding the workspace's lock is retried.

    When ``run_id`` is already published (the inputs have not changed since the current snapshot: a rerun, or a
    run queued by ingests that an earlier run already covered) a computing step (mentions, bindings,
    resolution, tables) does nothing and returns ``reused``; the first step logs the one-line reason. Any other
    step runs as usual: ``publish_run`` has its own reuse path (it reports the snapshot's row counts).
    """
    from gridhub import pipeline
    from gridhub.pipeline import is_published, new_run_id, reused_message
    from gridhub.runguard import check_disk, run_lock
    from gridhub.statecommit import recover_state
    from gridhub.taskfail import failing_fast
    from warehouse import PublishBlocked

    computing = (
        pipeline.prepare_mentions,
        pipeline.bind_addresses,
        pipeline.resolve_entities,
        pipeline.build_tables,
    )
    with quiet_libraries(), timed(step.__name__), failing_fast():
        ws = Workspace.from_env()
        with run_lock(ws, what=f"task {step.__name__}"):  # one step of one run at a time in a workspace
            # finish a state commit a killed run left half done, before any step reads the state
            recover_state(ws)
            first = run_id is None
            if run_id is None:  # the first step of a run: check the disks, pin the inputs
                check_disk(ws)
                run_id = new_run_id(ws)
            if step in computing and is_published(ws, run_id):
                if first:
                    emit([reused_message(run_id)])
                return {"run_id": run_id, "reused": True}
            try:
                result = step(ws, run_id)
            except PublishBlocked as e:
                emit(blocked_lines(e.report))
                raise
        emit(step_lines(step.__name__, result))
    return result


def skip_reused_publish(result: dict, try_number: int) -> None:
    """Skip the publish task (``AirflowSkipException``) when :func:`gridhub.pipeline.publish_run` reused a run
    an earlier run already published: a skipped task emits no warehouse asset event, so nothing downstream
    of the warehouse runs again for the same snapshot, and the tasks after it are skipped (the DAG run stays
    green). A later try of the task (try 2+, or a cleared one) still emits the event: its first try may have
    published the snapshot and then failed (writing the report), before any event was emitted."""
    from airflow.sdk.exceptions import AirflowSkipException

    if result.get("reused") and try_number <= 1:
        emit([f"run {result['run_id']}: already published, snapshot unchanged: no warehouse asset event"])
        raise AirflowSkipException(f"run {result['run_id']} is already published")


def summary_task() -> dict:
    from gridhub.report import format_summary, write_summary

    ws = Workspace.from_env()
    with quiet_libraries(), timed("summary"):
        s, path = write_summary(ws)
        emit([f"run summary written to {path}", *format_summary(s).splitlines()])
    return {"summary": str(path), "snapshot": s.get("snapshot")}
