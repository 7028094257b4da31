"""The run report: one self-contained HTML page per published run, with charts (issue #16).

    path = write_run_report(ws)          # the current snapshot's report: <warehouse>/runs/<run_id>/report.html
    runs = list_run_reports(ws)          # the kept snapshots and their reports, newest first

The report lives beside the run's Data Docs and its ``summary.json`` (kept for the trend), in the folder the
warehouse prunes together with the snapshot. It is written by the resolve DAG's publish task (its path is in the
warehouse asset event's extra), by ``gridhub run`` and by ``gridhub report`` when missing. See docs/report.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from gridhub.runreport.figures import run_dir, run_summary_path
from gridhub.workspace import Workspace
from warehouse.errors import UserError
from warehouse.files import atomic_write_text

__all__ = [
    "NothingPublished",
    "current_report",
    "find_report",
    "list_run_reports",
    "report_path",
    "report_step",
    "write_run_report",
]

REPORT_FILE = "report.html"


class NothingPublished(UserError):
    """There is no published snapshot to report on."""


def report_path(ws: Workspace, run_id: str) -> Path:
    """Where run ``run_id``'s report is (or will be) written."""
    return run_dir(ws, run_id) / REPORT_FILE


def write_run_report(ws: Workspace, run_id: str | None = None) -> Path:
    """Write the current snapshot's run summary (``summary.json``) and report (``report.html``); return the
    report's path. Raises :class:`NothingPublished` when nothing is published yet, or when ``run_id`` is given
    and is not the current snapshot (a summary is always of the current one)."""
    from gridhub.report import build_summary
    from gridhub.runreport.figures import gather
    from gridhub.runreport.page import render

    summary = build_summary(ws)
    if not summary.get("published"):
        raise NothingPublished(
            "尚未发布任何快照，无运行报告 / nothing is published yet: run the resolve DAG or `gridhub run` first"
        )
    from warehouse.read import read_manifest

    if run_id is not None and run_id != summary["snapshot"]:
        raise NothingPublished(f"run {run_id} is not the current snapshot ({summary['snapshot']}): no report")
    run_id = str(summary["snapshot"])
    summary["published_at"] = read_manifest(ws.warehouse, run_id).get("published_at", "")
    atomic_write_text(
        run_summary_path(ws, run_id), json.dumps(summary, ensure_ascii=False, indent=2, default=str)
    )
    page, _ = render(gather(ws, run_id, summary))
    return atomic_write_text(report_path(ws, run_id), page)


def report_step(ws: Workspace, run_id: str) -> dict:
    """The resolve DAG's report, as a run step (``gridhub.tasks.run_step``: under the workspace's run lock, so
    no other run publishes meanwhile): the report of ``run_id``, just published."""
    return {"run_id": run_id, "report": str(write_run_report(ws, run_id))}


def current_report(ws: Workspace) -> Path:
    """The current snapshot's report, written first if it is not there yet."""
    from warehouse.read import current_run_id

    run_id = current_run_id(ws.warehouse)
    if run_id is not None and report_path(ws, run_id).is_file():
        return report_path(ws, run_id)
    return write_run_report(ws)


def list_run_reports(ws: Workspace) -> list[dict]:
    """Every kept snapshot, newest first: run id, publish time, whether it is current, its report's path (None
    when the run has no report, e.g. one published before reports existed)."""
    from warehouse.read import Layer, current_run_id, list_snapshots, read_manifest

    current = current_run_id(ws.warehouse)
    out = []
    for run_id in reversed(list_snapshots(ws.warehouse, Layer.SHARED)):
        path = report_path(ws, run_id)
        out.append(
            {
                "run_id": run_id,
                "published_at": read_manifest(ws.warehouse, run_id).get("published_at", ""),
                "current": run_id == current,
                "report": path if path.is_file() else None,
            }
        )
    return out


def find_report(ws: Workspace, run_id: str | None = None) -> Path:
    """``gridhub report``: the current run's report (written first if missing), or a kept run's."""
    if run_id is None:
        return current_report(ws)
    path = report_path(ws, run_id)
    if not path.is_file():
        kept = ", ".join(r["run_id"] for r in list_run_reports(ws) if r["report"]) or "none"
        raise NothingPublished(f"运行 {run_id} 没有报告 / run {run_id} has no report (runs with one: {kept})")
    return path
