"""A small web app listing the published runs and serving their reports (the Airflow plugin
``plugins/gridhub_reports.py`` mounts it at ``/gridhub-reports``; it works under any prefix).

Only the files of a kept snapshot's run folder that a report links to are served: the report, its summary and
the Data Docs page. Authentication is the caller's: the plugin requires a signed-in Airflow user on every route
(Airflow does not authenticate plugin routes by itself).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: The files of ``<warehouse>/runs/<run_id>/`` the app serves, and their media types.
SERVED = {
    "report.html": "text/html; charset=utf-8",
    "summary.json": "application/json",
    "data_docs/index.html": "text/html; charset=utf-8",
}


def _index(rows: list[dict]) -> str:
    lines = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>gridhub run reports</title>',
        "<style>body{font-family:sans-serif;margin:24px}td,th{border:1px solid #cfd8dc;padding:4px 10px}"
        "table{border-collapse:collapse}</style></head><body>",
        "<h1>运行报告 · gridhub run reports</h1>",
        "<table><thead><tr><th>run</th><th>published</th><th></th><th>report</th><th>Data Docs</th></tr>"
        "</thead><tbody>",
    ]
    for r in rows:
        rid = html.escape(r["run_id"])
        report = f'<a href="runs/{rid}/report.html">report</a>' if r["report"] else "(none)"
        lines.append(
            f"<tr><td>{rid}</td><td>{html.escape(r['published_at'])}</td>"
            f"<td>{'current' if r['current'] else ''}</td><td>{report}</td>"
            f'<td><a href="runs/{rid}/data_docs/index.html">Data Docs</a></td></tr>'
        )
    if not rows:
        lines.append('<tr><td colspan="5">Nothing published yet.</td></tr>')
    lines.append("</tbody></table></body></html>")
    return "\n".join(lines)


def create_reports_app(root: str | Path, dependencies: Sequence[Any] | None = None):
    """The FastAPI app over the workspace at ``root``; ``dependencies`` guard every route (authentication)."""
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import FileResponse, HTMLResponse

    from gridhub.runreport import list_run_reports
    from gridhub.runreport.figures import run_dir
    from gridhub.workspace import Workspace

    ws = Workspace(Path(root))
    app = FastAPI(title="gridhub run reports", dependencies=list(dependencies or []))

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(_index(list_run_reports(ws)))

    @app.get("/runs/{run_id}/{name:path}")
    def run_file(run_id: str, name: str) -> FileResponse:
        kept = {r["run_id"] for r in list_run_reports(ws)}
        path = run_dir(ws, run_id) / name
        if run_id not in kept or name not in SERVED or not path.is_file():
            raise HTTPException(status_code=404, detail="no such report")
        return FileResponse(path, media_type=SERVED[name])

    return app
