"""Task-log lines (gridhub.tasklog) and what stays out of task logs: the portal plugin's start-up warnings."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from types import SimpleNamespace

from gridhub.tasklog import blocked_lines, ingest_lines

ROOT = Path(__file__).resolve().parents[1]


def test_loading_the_portal_plugin_builds_no_portal_until_the_api_server_asks(
    workspace_copy, monkeypatch, caplog, capsys
):
    """Airflow loads plugins in every task process; the portal (and its "secret is not set" warning) must
    only be built where its app is read: the API server."""
    monkeypatch.setenv("GRIDHUB_WORKSPACE", str(workspace_copy))  # the sample has a portal: section
    monkeypatch.delenv("GRIDHUB_PORTAL_SECRET", raising=False)
    caplog.set_level(logging.INFO)
    said: list[str] = []

    def warnings_about_the_secret() -> int:
        """Whether the warning was logged, through pytest's handler or Airflow's (which writes to stdout)."""
        out = capsys.readouterr()
        said.extend([out.out, out.err, *(r.getMessage() for r in caplog.records)])
        caplog.clear()
        return sum(text.count("GRIDHUB_PORTAL_SECRET is not set") for text in said)

    spec = importlib.util.spec_from_file_location(
        "gridhub_portal_plugin_lazy", ROOT / "plugins" / "gridhub_portal.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    plugin = mod.GridhubPortalPlugin()  # what Airflow's plugin manager does in a task process
    assert plugin.name == "gridhub_portal"
    assert warnings_about_the_secret() == 0
    # the API server reads the apps: then the portal is built, once, and says what it lacks
    assert [a["url_prefix"] for a in plugin.fastapi_apps] == ["/gridhub-portal"]
    assert plugin.external_views[0]["href"] == "/gridhub-portal/"
    assert mod.GridhubPortalPlugin.fastapi_apps is plugin.fastapi_apps
    assert warnings_about_the_secret() >= 1


def test_ingest_lines_say_per_file_what_happened():
    files = [
        {
            "file_name": "人口.csv",
            "sha256": "a" * 64,
            "rows_read": 12000,
            "rows_staged": 11990,
            "rows_quarantined": 10,
            "rows_blank": 2,
            "encoding": "gb18030",
        },
        {"file_name": "旧.csv", "sha256": "b" * 64, "skipped_duplicate": True},
        {"file_name": "坏.xlsx", "sha256": "c" * 64, "error": "...", "error_code": "wrong_format"},
    ]
    totals = {
        "files_staged": 1,
        "files_duplicate": 1,
        "files_failed": 1,
        "rows_read": 12000,
        "rows_staged": 11990,
        "rows_quarantined": 10,
        "reasons": {"bad_id": 3, "ragged_row": 7},
        "field_issues": {},
    }
    assert ingest_lines("gongan", files, totals) == [
        "feed gongan: 3 file(s): 1 staged, 1 already received, 1 failed",
        "  人口.csv: read 12,000, staged 11,990, quarantined 10, blank lines 2 [gb18030]",
        "  旧.csv: already received, nothing staged again",
        "  坏.xlsx: FAILED (wrong_format), nothing staged",
        "rows: read 12,000 = staged 11,990 + quarantined 10",
        "quarantined by reason: ragged_row 7, bad_id 3",
    ]
    assert ingest_lines("gongan", [], {}) == ["feed gongan: no new file waiting; nothing to ingest"]


def test_a_blocked_publish_lists_the_failed_expectations():
    report = SimpleNamespace(results=[1, 2, 3], failures=["person: person_id is unique (1 duplicate)"])
    assert blocked_lines(report) == [
        "validation: 3 expectation(s), 1 failed: nothing published, the current snapshot stays",
        "  failed: person: person_id is unique (1 duplicate)",
    ]
