"""Shared fixtures. Airflow reads its configuration when first imported, so the environment for the DAG
tests (a private AIRFLOW_HOME with SQLite, the project's dags folder, the test workspace) is set here, at
import time, before any test module imports airflow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from gridhub import env

ROOT = Path(__file__).resolve().parents[1]
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="gridhub-tests-"))
SAMPLE_WS = _SESSION_DIR / "sample-ws"
AIRFLOW_HOME = _SESSION_DIR / "airflow"

os.environ.update(
    {
        env.WORKSPACE: str(SAMPLE_WS),
        env.HMAC_KEY: "test-key-" + "x" * 24,
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        env.RETRY_DELAY_SECONDS: "1",
    }
)

SAMPLE_PERSONS = 400


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def sample_workspace() -> Path:
    """A freshly generated small sample district (read-only for tests: copy it to change it)."""
    from gridhub.sample import generate_workspace

    if not (SAMPLE_WS / "gridhub.yaml").exists():
        generate_workspace(SAMPLE_WS, persons=SAMPLE_PERSONS, seed=11)
    return SAMPLE_WS


@pytest.fixture
def workspace_copy(sample_workspace: Path, tmp_path: Path) -> Path:
    """A private copy of the sample workspace a test may ingest into and publish from."""
    dst = tmp_path / "ws"
    shutil.copytree(sample_workspace, dst)
    return dst


@pytest.fixture
def ingested(workspace_copy: Path):
    """A private copy of the sample workspace with every feed ingested (a ``Workspace``)."""
    from connectors import ingest_feed
    from gridhub.workspace import Workspace

    ws = Workspace(workspace_copy)
    for feed in ws.config.feeds:
        ingest_feed(ws, feed.name).check_accounting()
    return ws


@pytest.fixture(scope="session")
def published_sample(sample_workspace: Path, tmp_path_factory):
    """A copy of the sample workspace ingested and published once for the whole session (a ``Workspace``):
    for tests that only read what a run published. A test that changes it must use ``ingested`` instead."""
    from connectors import ingest_feed
    from gridhub import pipeline
    from gridhub.workspace import Workspace

    root = tmp_path_factory.mktemp("published") / "ws"
    shutil.copytree(sample_workspace, root)
    ws = Workspace(root)
    for feed in ws.config.feeds:
        ingest_feed(ws, feed.name).check_accounting()
    pipeline.run_all(ws)
    return ws


@pytest.fixture(scope="session")
def airflow_db(sample_workspace: Path) -> Path:
    """An initialised Airflow metadata DB (SQLite) for DagBag and dag.test() tests."""
    AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=dict(os.environ))
    return AIRFLOW_HOME
