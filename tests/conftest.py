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


# Parallel runs: ``make test`` runs ``pytest -n 2 --dist loadfile --no-loadscope-reorder`` (pytest-xdist). Each
# worker is its own process with its own session directory (Airflow home, sample workspace) and its own
# tmp_path; the database tests use throw-away table names (connectors_db.unique_name), servers bind free ports.
# What is arranged here: a module's tests stay on one worker (its module fixtures are built once), modules that
# share a session fixture worth a pipeline run are one unit of work (the scheduler below), and the longest units
# are handed out first, so the two workers finish together instead of one waiting for a long test queued last.
# (xdist's own ``--dist loadgroup`` cannot do the grouping: with pytest 9 it no longer sees its group marks.)
_SHARED_FIXTURE_GROUPS = {
    # one Airflow metadata DB (``airflow_db``: ``airflow db migrate``) and the DAG runs on it
    "test_dags": "airflow",
    "test_dag_failures": "airflow",
    "test_publish_gate_dag": "airflow",
    "test_airflow_browser": "airflow",
    # ``published_sample``: the sample district ingested and published once
    "test_er_explain": "published_sample",
    "test_cli_explain_masked": "published_sample",
    # department_fields.published_workspace: the sample with the department fields, published once
    "test_address_binding_table": "department_fields",
    "test_org_addresses": "department_fields",
    "test_evaluate": "department_fields",
}
#: Units that take longest (measured with ``--durations``), started first; the rest follow in file order.
_LONGEST_FIRST = (
    "test_determinism",
    "airflow",
    "test_cli_errors",
    "test_file_trigger",
    "test_data_return",
    "department_fields",
    "test_run_crash",
    "test_publish_gate",
    "published_sample",
)


def _unit(module_path: str) -> str:
    module = Path(module_path).stem
    return _SHARED_FIXTURE_GROUPS.get(module, module)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadfile``, with the modules of one shared fixture as one unit."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FixtureGroupScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid.split("::", 1)[0])

    return FixtureGroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a plain run keeps file order
    rank = {name: i for i, name in enumerate(_LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_unit(str(item.path)), len(rank)))  # stable: file order within


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
