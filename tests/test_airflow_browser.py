"""The Airflow UI in a real browser: the DAG list shows each DAG's Chinese display name (公安 · 实有人口).

A private Airflow (a copy of the session's migrated SQLite DB, into which the sample workspace's DAGs were
serialised in-process) serves only its API server / UI on a free 127.0.0.1 port — the DAG list needs no
scheduler. Headless Chromium (Debian's, see .ci/browser.sh) signs in with the simple auth manager's login,
opens the DAG list and saves a screenshot in the test's tmp dir. The server's process group is always killed.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_dags import sync_dags_to_db
from test_file_trigger import _stop
from test_portal_browser import ARGS, CHROMIUM, _free_port, _need_browser

from gridhub.assets import RESOLVE_DISPLAY_NAME, configured_feeds, feed_display_name

ROOT = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 180
pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


@pytest.fixture
def airflow_ui(airflow_db: Path, sample_workspace: Path, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(base URL, user, password) of an Airflow API server whose metadata DB holds the sample's DAGs."""
    _need_browser()
    from airflow.dag_processing.dagbag import DagBag

    from gridhub.standalone import standalone_env

    sync_dags_to_db(DagBag(dag_folder=str(ROOT / "dags")))  # into the session's DB, parsed in this process
    home = tmp_path / "airflow"
    home.mkdir()
    with (  # a private, consistent copy (SQLite's backup API): no migrate, no reserialize
        contextlib.closing(sqlite3.connect(airflow_db / "airflow.db")) as src,
        contextlib.closing(sqlite3.connect(home / "airflow.db")) as dst,
    ):
        src.backup(dst)
    port = _free_port()
    user, password = "admin", "admin-browser-test"
    environ = standalone_env(
        sample_workspace, port=port, user=user, password=password, airflow_home=home, plugins=False
    )
    airflow = str(Path(sys.executable).with_name("airflow"))
    log = tmp_path / "api-server.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=environ,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: teardown kills exactly what it started
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert proc.poll() is None, f"airflow api-server exited:\n{_tail(log)}"
            assert time.monotonic() < deadline, f"airflow api-server not up in time:\n{_tail(log)}"
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(base + "/api/v2/monitor/health", timeout=5) as r,
            ):
                if r.status == 200:
                    break
            time.sleep(1)
        yield base, user, password
    finally:
        _stop(proc)


def test_dag_list_shows_the_chinese_display_names(airflow_ui, sample_workspace: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    base, user, password = airflow_ui
    names = [feed_display_name(f) for f in configured_feeds(sample_workspace)] + [RESOLVE_DISPLAY_NAME]
    assert "公安 · 实有人口" in names
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(base + "/dags", wait_until="domcontentloaded")
            page.fill("input[name=username]", user)  # the simple auth manager's login page
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/dags**", timeout=60_000)
            for name in names:  # each DAG row shows its display name (the dag_id is not what the list shows)
                page.get_by_text(name, exact=True).first.wait_for(state="visible", timeout=60_000)
            shot = tmp_path / "airflow-dag-list.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
