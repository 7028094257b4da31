"""Task logs and failure semantics of the DAGs, through real ``dag.test()`` runs (issue #15).

- every task logs what it did as readable lines (the ingest's row accounting, the run's figures);
- a whole-file error fails the ingest run for good (no retry), a retry of that run fails the same way, and
  the failure alert reaches a real local webhook;
- an ingest with nothing new is skipped and emits no staging asset event, so no publish follows.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from gridhub.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
FEED = "shichang_orgs"
pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def _task_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "gridhub.task"]


def _staging_events(feed: str) -> int:
    """How many events the metadata DB holds for the feed's staging asset."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    from gridhub.assets import staging_asset_uri

    with create_session() as session:
        return session.scalar(
            select(func.count())
            .select_from(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == staging_asset_uri(feed))
        )


def test_task_logs_say_what_each_task_did(dagbag, workspace_copy, monkeypatch, caplog):
    """The ingest log holds the row accounting per file and in total; the run's tasks log their figures."""
    from airflow.utils.state import DagRunState

    from connectors import raw_manifest

    monkeypatch.setenv("GRIDHUB_WORKSPACE", str(workspace_copy))
    caplog.set_level(logging.INFO, logger="gridhub.task")
    for dag_id in sorted(d for d in dagbag.dag_ids if d.startswith("gridhub_ingest_")):
        assert dagbag.get_dag(dag_id).test().state == DagRunState.SUCCESS, dag_id
    ingest = _task_lines(caplog)
    m = raw_manifest(Workspace(workspace_copy))
    assert m["rows_quarantined"].sum() > 0
    for feed, files in m.groupby("feed"):
        read, staged, quarantined = (
            int(files[c].sum()) for c in ("rows_read", "rows_staged", "rows_quarantined")
        )
        assert f"rows: read {read:,} = staged {staged:,} + quarantined {quarantined:,}" in ingest, feed
        for name, r, s, q in files[["file_name", "rows_read", "rows_staged", "rows_quarantined"]].itertuples(
            index=False
        ):
            assert any(
                line.startswith(f"  {name}: read {r:,}, staged {s:,}, quarantined {q:,}") for line in ingest
            )
        assert any(line.startswith(f"ingest of feed {feed} done after ") for line in ingest)
    assert any(line.startswith("quarantined by reason: ") for line in ingest)

    caplog.clear()
    assert dagbag.get_dag("gridhub_resolve_publish").test().state == DagRunState.SUCCESS
    text = "\n".join(_task_lines(caplog))
    for expected in (
        "  mentions per type: ",
        "  address fields bound to the standard address library: ",
        "  binding levels of the bound ones: ",
        "  candidate pairs per blocking rule: ",
        " cluster(s) split by the guard",
        "  id changes: ",
        "  rows per table: ",
        " expectation(s), all passed",
        "  snapshot written: ",
        "publish_run done after ",
    ):
        assert expected in text, expected
    (mentions,) = [line for line in _task_lines(caplog) if line.startswith("  mentions per type: ")]
    assert all(f"{t} " in mentions for t in ("person", "organisation", "house", "facility")), mentions
    # readable lines, not dicts; no library noise in the task logs
    assert not [line for line in _task_lines(caplog) if line.lstrip().startswith("{")]
    noisy = [
        r.getMessage() for r in caplog.records if r.name.startswith(("great_expectations", "gridhub.portal"))
    ]
    assert not noisy


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body.decode("utf-8")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    """A real HTTP server on a free local port, recording the JSON bodies POSTed to it."""
    _Webhook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Webhook.received
    server.shutdown()
    server.server_close()


def _retry_same_run(dag, run):
    """What a retry (or "Clear" in the UI) of a failed run does: its task instances again, same run id."""
    from airflow.models.taskinstance import clear_task_instances
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    with create_session() as session:
        clear_task_instances(
            run.get_task_instances(session=session), session, dag_run_state=DagRunState.QUEUED
        )
    return dag.test(logical_date=run.logical_date, run_after=run.run_after)


def test_a_whole_file_error_fails_the_run_for_good_and_alerts(
    dagbag, workspace_copy, monkeypatch, caplog, webhook
):
    from airflow.utils.state import DagRunState

    from gridhub.landing import land_file

    url, received = webhook
    config = workspace_copy / "gridhub.yaml"
    config.write_text(config.read_text(encoding="utf-8") + f"alerts:\n  webhook: {url}\n", encoding="utf-8")
    monkeypatch.setenv("GRIDHUB_WORKSPACE", str(workspace_copy))
    ws = Workspace(workspace_copy)
    land_file(ws, FEED, "名称,地址\n甲,乙\n".encode(), "错表（６月）.csv")  # another table's columns

    dag = dagbag.get_dag(f"gridhub_ingest_{FEED}")
    events = _staging_events(FEED)
    caplog.set_level(logging.INFO, logger="gridhub.task")
    run = dag.test()
    assert run.state == DagRunState.FAILED
    (ti,) = run.get_task_instances()
    assert ti.state == "failed" and ti.try_number == 1  # deterministic: not retried with backoff
    assert _staging_events(FEED) == events  # a failed ingest emits no staging event: no publish follows
    lines = _task_lines(caplog)
    assert any("错表（６月）.csv: FAILED (" in line for line in lines), lines
    # the failure callback told the local webhook which feed and which file
    (alert,) = received
    assert alert["feed"] == FEED and alert["files"] == ["错表（６月）.csv"]
    assert alert["dag_id"] == f"gridhub_ingest_{FEED}" and "错表（６月）.csv" in alert["error"]

    # the bad file went to _failed/, nothing waits: a retry of the same run still fails, with the same error
    assert not [p for p in ws.landing_dir(FEED).glob("*.csv")]
    again = _retry_same_run(dag, run)
    assert again.run_id == run.run_id and again.state == DagRunState.FAILED
    assert [ti.state for ti in again.get_task_instances()] == ["failed"]
    assert "this run failed on these files before" in received[1]["error"]
    assert len(received) == 2 and received[1]["files"] == ["错表（６月）.csv"]
    assert received[1]["error"].startswith(received[0]["error"])
    assert _staging_events(FEED) == events


def test_an_ingest_with_nothing_new_emits_no_asset_event(dagbag, workspace_copy, monkeypatch, caplog):
    from airflow.utils.state import DagRunState

    monkeypatch.setenv("GRIDHUB_WORKSPACE", str(workspace_copy))
    dag = dagbag.get_dag(f"gridhub_ingest_{FEED}")
    events = _staging_events(FEED)
    first = dag.test()
    assert first.state == DagRunState.SUCCESS
    assert (
        _staging_events(FEED) == events + 1
    )  # new rows staged: the event that schedules resolve-and-publish

    caplog.set_level(logging.INFO, logger="gridhub.task")
    second = dag.test()  # nothing waits in the landing folder now
    assert second.state == DagRunState.SUCCESS
    assert [ti.state for ti in second.get_task_instances()] == ["skipped"]
    assert _staging_events(FEED) == events + 1  # no event, so no resolve-and-publish run follows
    assert f"feed {FEED}: no new file waiting; nothing to ingest" in _task_lines(caplog)
