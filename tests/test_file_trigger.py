"""File triggers: a file handed in with ``land_file`` starts its feed's ingest DAG, and resolve-and-publish follows.

The DAG-structure test reads the DagBag in-process. The end-to-end test starts a real Airflow
(``airflow standalone``: scheduler, DAG processor, triggerer, API server; SQLite in a private AIRFLOW_HOME,
a free port on 127.0.0.1, two parallel tasks) in its own process group on a copy of the sample workspace,
lands one feed's file and follows the runs in the metadata DB. The processes are always killed at teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gridhub.assets import configured_feeds, landing_asset_name, ready_dir, ready_flag_name

ROOT = Path(__file__).resolve().parents[1]
FEED = "shichang_orgs"  # small (≈10 rows): the ingest run is quick, resolve still sees every entity type
STARTUP_SECONDS = 150
RUNS_SECONDS = 240
pytestmark = pytest.mark.airflow


def test_file_feeds_are_scheduled_on_a_watched_landing_asset(sample_workspace: Path) -> None:
    """Each file feed's ingest DAG runs on its landing asset; all watchers scan the one flag folder."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.standard.triggers.file import DirectoryFileDeleteTrigger

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    keys = set()
    for feed in configured_feeds(sample_workspace):
        dag = bag.dags[f"gridhub_ingest_{feed['name']}"]
        asset = dag.timetable.asset_condition  # schedule=<one Asset>
        assert asset.name == landing_asset_name(feed["name"])
        (watcher,) = asset.watchers
        trigger = watcher.trigger
        assert isinstance(trigger, DirectoryFileDeleteTrigger)
        assert Path(trigger.directory) == ready_dir(sample_workspace)
        assert trigger.filename == ready_flag_name(feed["name"])
        keys.add(trigger.shared_stream_key())
    assert len(keys) == 1  # N feeds, one directory scan in the triggerer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveAirflow:
    workspace: Path
    db: Path
    log: Path

    def query(self, sql: str, *args) -> list[tuple]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10) as c:
            return c.execute(sql, args).fetchall()

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _stop(proc: subprocess.Popen) -> None:
    """Stop standalone and every component it started (they share its process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the group
    proc.wait(timeout=10)


@pytest.fixture
def live_airflow(workspace_copy: Path, tmp_path: Path) -> Iterator[LiveAirflow]:
    """Airflow standalone on a workspace where every feed but FEED is already staged, FEED's file set aside."""
    from connectors import ingest_feed
    from gridhub.standalone import standalone_env
    from gridhub.workspace import Workspace

    ws = Workspace(workspace_copy)
    for p in ws.landing_dir(FEED).glob("*.csv"):
        p.rename(workspace_copy / "orgs_to_hand_in.csv")
    for feed in ws.config.feeds:
        if feed.name != FEED:
            ingest_feed(ws, feed.name)

    home = tmp_path / "airflow"
    env = standalone_env(workspace_copy, port=_free_port(), airflow_home=home, plugins=False)
    env.update(
        {
            "GRIDHUB_LANDING_POKE_SECONDS": "1",
            "GRIDHUB_RETRY_DELAY_SECONDS": "1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            # the scheduler's and the triggerer's log servers (8793, 8794 by default) on free ports too: another
            # Airflow on this machine (a parallel test run, `make airflow`) must not make this one fail to start
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
        }
    )
    log = tmp_path / "standalone.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("airflow")), "standalone"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: teardown kills exactly what it started
        )
    live = LiveAirflow(workspace=workspace_copy, db=home / "airflow.db", log=log)
    try:
        file_feeds = [f for f in configured_feeds(workspace_copy) if f["source_kind"] == "file"]
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert proc.poll() is None, f"airflow standalone exited:\n{live.log_tail()}"
            assert time.monotonic() < deadline, f"DAGs/triggers not registered in time:\n{live.log_tail()}"
            try:
                watched = live.query("SELECT count(*) FROM trigger")[0][0]
                unpaused = live.query("SELECT count(*) FROM dag WHERE is_paused = 0")[0][0]
                jobs = {r[0] for r in live.query("SELECT job_type FROM job WHERE state = 'running'")}
            except sqlite3.Error:  # DB still being created
                watched = unpaused = 0
                jobs = set()
            if (
                watched >= len(file_feeds)
                and unpaused == len(file_feeds) + 1
                and {"SchedulerJob", "TriggererJob"} <= jobs
            ):
                break
            time.sleep(2)
        yield live
    finally:
        _stop(proc)


def _wait_for_run(live: LiveAirflow, dag_id: str, deadline: float, nth: int = 1) -> tuple[int, str]:
    """The ``nth`` asset-triggered run of ``dag_id``, once finished; fails at once if it failed."""
    while time.monotonic() < deadline:
        rows = live.query(
            "SELECT id, run_id, state FROM dag_run WHERE dag_id = ? AND run_type = 'asset_triggered' ORDER BY id",
            dag_id,
        )
        if len(rows) >= nth and rows[nth - 1][2] in ("success", "failed"):
            run_id, run_key, state = rows[nth - 1]
            assert state == "success", f"{dag_id} run {run_key} failed:\n{live.log_tail()}"
            return run_id, run_key
        time.sleep(2)
    raise AssertionError(f"no finished asset-triggered run #{nth} of {dag_id} in time:\n{live.log_tail()}")


@pytest.mark.slow
def test_landed_file_starts_its_ingest_dag_and_resolve_publish_follows(live_airflow: LiveAirflow) -> None:
    from gridhub.landing import land_file
    from gridhub.workspace import Workspace
    from warehouse import current_manifest

    ws = Workspace(live_airflow.workspace)

    assert live_airflow.query("SELECT count(*) FROM dag_run") == [(0,)]  # nothing runs before a file arrives
    data = (live_airflow.workspace / "orgs_to_hand_in.csv").read_bytes()  # GB18030 as departments send it
    landed = land_file(ws, FEED, data, "..\\..\\市場主體（２０２５年６月）.csv")
    flag = ready_dir(ws.root) / ready_flag_name(FEED)
    deadline = time.monotonic() + RUNS_SECONDS

    ingest_id, _ = _wait_for_run(live_airflow, f"gridhub_ingest_{FEED}", deadline)
    # the run was started by the watcher's event on the landing asset, which carries the flag it deleted
    (extra,) = live_airflow.query(
        "SELECT ae.extra FROM dagrun_asset_event d JOIN asset_event ae ON ae.id = d.event_id "
        "JOIN asset a ON a.id = ae.asset_id WHERE d.dag_run_id = ? AND a.name = ?",
        ingest_id,
        landing_asset_name(FEED),
    )[0]
    assert json.loads(extra)["payload"]["filepath"] == str(flag)
    assert not flag.exists()
    assert not landed.exists() and (ws.landing_dir(FEED) / "_done").is_dir()  # ingested and filed away
    assert list(ws.staging_dir(FEED).glob("*.parquet"))
    # the task's log file (what the UI shows) says what it did, in readable lines (gridhub.tasklog)
    logs = sorted(live_airflow.db.parent.glob(f"logs/dag_id=gridhub_ingest_{FEED}/**/*.log"))
    text = "\n".join(f"== {p}\n" + p.read_text(encoding="utf-8") for p in logs)
    assert f"feed {FEED}: 1 file(s): 1 staged" in text and "rows: read " in text, text[-6000:]

    resolve_id, _ = _wait_for_run(live_airflow, "gridhub_resolve_publish", deadline)
    sources = {
        r[0]
        for r in live_airflow.query(
            "SELECT ae.source_dag_id FROM dagrun_asset_event d JOIN asset_event ae ON ae.id = d.event_id "
            "WHERE d.dag_run_id = ?",
            resolve_id,
        )
    }
    assert f"gridhub_ingest_{FEED}" in sources  # resolve ran because of the ingest run's staging asset event
    manifest = current_manifest(ws.root / "warehouse")
    assert manifest is not None and manifest["row_counts"]["organisation"] > 0
    # the other feeds were never triggered: only FEED had a flag
    others = live_airflow.query(
        "SELECT dag_id FROM dag_run WHERE dag_id LIKE 'gridhub_ingest_%' AND dag_id != ?",
        f"gridhub_ingest_{FEED}",
    )
    assert others == []

    # the watcher stays armed: a second file (new content) for the same feed starts a second run
    second = land_file(ws, FEED, data + "\r\n".encode("gb18030"), "市场主体_补报.csv")
    _wait_for_run(live_airflow, f"gridhub_ingest_{FEED}", time.monotonic() + 120, nth=2)
    assert not second.exists() and not flag.exists()
