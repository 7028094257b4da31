"""The publish gate in Airflow (issue 17, done-when 2): a run above the thresholds waits at ``approve_publish``
until a person answers through Airflow's own HITL REST API (what the Required Actions page calls); rejecting
keeps the previous snapshot current, approving publishes. The DAG runs with ``dag.test()``; the answer comes
from another thread, through the core API app, while the run waits."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from gate_helpers import enable_gate, land_nameless_rows

ROOT = Path(__file__).resolve().parents[1]
DAG_ID = "gridhub_resolve_publish"
pytestmark = [pytest.mark.airflow, pytest.mark.slow]


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


class Responder(threading.Thread):
    """Waits until a task of the DAG awaits input, records what it showed, then answers ``option`` through
    ``PATCH /api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/-1/hitlDetails``."""

    def __init__(self, option: str, warehouse: Path):
        super().__init__(daemon=True)
        self.option, self.warehouse = option, warehouse
        self.seen: dict = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._answer()
        except BaseException as e:  # reported by the test, not lost in the thread
            self.error = e
            _fail_waiting_tasks()  # so dag.test() in the main thread ends instead of waiting forever

    def _answer(self) -> None:
        from airflow.api_fastapi.app import create_app
        from fastapi.testclient import TestClient

        from warehouse.read import current_run_id

        client = TestClient(create_app("core"))
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            r = client.get(
                f"/api/v2/dags/{DAG_ID}/dagRuns/~/hitlDetails", params={"response_received": False}
            )
            r.raise_for_status()
            waiting = [d for d in r.json()["hitl_details"] if d["task_instance"]["state"] == "awaiting_input"]
            if waiting:
                d = waiting[0]
                ti = d["task_instance"]
                self.seen = {
                    "task_id": ti["task_id"],
                    "subject": d["subject"],
                    "body": d["body"],
                    "current_while_waiting": current_run_id(self.warehouse),
                }
                url = f"/api/v2/dags/{DAG_ID}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}/-1/hitlDetails"
                answer = client.patch(url, json={"chosen_options": [self.option]})
                answer.raise_for_status()
                self.seen["responded_by"] = answer.json()["responded_by"]["name"]
                return
            time.sleep(0.5)
        raise TimeoutError("no task of the DAG ever awaited input")


def _fail_waiting_tasks() -> None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import update

    with create_session() as session:
        session.execute(
            update(TaskInstance)
            .where(TaskInstance.dag_id == DAG_ID, TaskInstance.state == TaskInstanceState.AWAITING_INPUT)
            .values(state=TaskInstanceState.FAILED)
        )


def _run_answered(dagbag, option: str, warehouse: Path):
    responder = Responder(option, warehouse)
    responder.start()
    run = dagbag.get_dag(DAG_ID).test()
    responder.join(timeout=60)
    assert responder.error is None, responder.error
    return run, responder.seen


def _states(run) -> dict:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_a_risky_run_waits_for_approval_reject_keeps_the_snapshot_approve_publishes(
    dagbag, workspace_copy, monkeypatch
):
    from airflow.utils.state import DagRunState

    from warehouse.read import current_run_id

    monkeypatch.setenv("GRIDHUB_WORKSPACE", str(workspace_copy))
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    enable_gate(workspace_copy, max_quarantine_jump=0.05, max_entity_change_share=0.5)
    wh = workspace_copy / "warehouse"
    ingest = sorted(d for d in dagbag.dag_ids if d.startswith("gridhub_ingest_"))
    for dag_id in ingest:
        assert dagbag.get_dag(dag_id).test().state == DagRunState.SUCCESS, dag_id

    # the first publish has nothing to compare with: the gate passes straight through, nobody is asked
    first = dagbag.get_dag(DAG_ID).test()
    assert first.state == DagRunState.SUCCESS
    states = _states(first)
    assert states["approve_publish"] == "skipped" and states["publish"] == "success", states
    published = current_run_id(wh)
    assert published is not None

    # a department hands in 300 rows that all go to quarantine: the quarantine share jumps
    land_nameless_rows(workspace_copy, "minzheng_assistance", 300)
    assert dagbag.get_dag("gridhub_ingest_minzheng_assistance").test().state == DagRunState.SUCCESS

    rejected, seen = _run_answered(dagbag, "Reject", wh)
    assert seen["task_id"] == "approve_publish" and seen["responded_by"]  # Airflow recorded who answered
    assert seen["current_while_waiting"] == published  # nothing published while it waited
    assert "minzheng_assistance" in seen["body"] and "quarantine share" in seen["body"], seen["body"]
    assert published in seen["body"]
    assert rejected.state == DagRunState.SUCCESS  # a decision, not a crash
    states = _states(rejected)
    assert states["approve_publish"] == "success" and states["publish"] == "skipped", states
    assert states["summary"] == "skipped", states
    assert current_run_id(wh) == published

    # the same inputs again are the same run, held again; this time it is approved and published
    approved, seen = _run_answered(dagbag, "Approve", wh)
    assert seen["task_id"] == "approve_publish" and seen["current_while_waiting"] == published
    assert approved.state == DagRunState.SUCCESS
    states = _states(approved)
    assert states["approve_publish"] == "success" and states["publish"] == "success", states
    now = current_run_id(wh)
    assert now is not None and now != published
    assert now in seen["subject"]
