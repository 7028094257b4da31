"""The run report (issue #16): what it is built from, where it goes, and who can reach it.

The browser half (charts drawn, no network) is tests/test_run_report_browser.py, on the same published
workspace (:func:`published`)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridhub.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]


def test_weight_histogram_counts_every_finite_weight_in_one_bit_bins():
    from matching.er.diagnostics import WEIGHT_RANGE, weight_histogram

    h = weight_histogram(np.array([-2.5, -2.1, 0.0, 0.9, 3.2, np.inf, np.nan, 1e6]))
    assert h["first_bin"] == -3.0 and h["bin_width"] == 1.0
    # bins -3, -2, -1, 0, 1, 2, 3, ... and 1e6 clipped into the last bin below +WEIGHT_RANGE
    assert h["counts"][:7] == [2, 0, 0, 2, 0, 0, 1]
    assert sum(h["counts"]) == 6 and len(h["counts"]) == int(WEIGHT_RANGE) + 3
    assert weight_histogram(np.empty(0))["counts"] == []


def _run_cli(capsys, *args: str) -> tuple[int, str, str]:
    from gridhub.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def published(tmp_path_factory, sample_workspace) -> tuple[Workspace, list[str]]:
    """The sample district ingested and published twice (the second run after a review decision file
    appeared, so its inputs and run id differ): each run with its report, as `gridhub run` writes them."""
    import shutil

    from connectors import ingest_feed
    from gridhub.pipeline import run_all
    from gridhub.runreport import write_run_report

    root = tmp_path_factory.mktemp("report") / "ws"
    shutil.copytree(sample_workspace, root)
    ws = Workspace(root)
    for feed in ws.config.feeds:
        ingest_feed(ws, feed.name).check_accounting()
    runs = []
    for _ in range(2):
        runs.append(run_all(ws)["run_id"])
        write_run_report(ws)
        ws.review_decisions.parent.mkdir(parents=True, exist_ok=True)
        ws.review_decisions.write_text("record_key_l,record_key_r,decision\n", encoding="utf-8")
    assert runs[0] != runs[1]
    return ws, runs


def test_run_writes_the_report_and_report_prints_its_path(published, capsys):
    from gridhub.runreport import report_path

    ws, runs = published
    code, out, _ = _run_cli(capsys, "--workspace", str(ws.root), "run")
    assert code == 0
    path = report_path(ws, runs[1])
    assert f"run report: {path}" in out and path.is_file()
    code, out, _ = _run_cli(capsys, "report", "--workspace", str(ws.root))
    assert code == 0 and out.strip() == str(path)
    code, out, _ = _run_cli(capsys, "report", "--workspace", str(ws.root), "--run", runs[0])
    assert code == 0 and out.strip() == str(report_path(ws, runs[0]))
    code, _, err = _run_cli(capsys, "report", "--workspace", str(ws.root), "--run", "run-0000000000000000")
    assert code == 2 and "has no report" in err and "Traceback" not in err


def test_report_is_self_contained_and_holds_no_record(published):
    from gridhub.runreport import report_path
    from warehouse import read_table

    ws, runs = published
    page = report_path(ws, runs[1]).read_text(encoding="utf-8")
    from plotly.offline import get_plotlyjs

    assert "<script src" not in page and "<link" not in page  # plotly.js is inlined, no stylesheet is fetched
    assert page.count(get_plotlyjs()) == 1
    markup = re.sub(r"<script>.*?</script>", "", page, flags=re.S)  # the page outside its scripts
    assert re.search(r"(src|href)=[\"']?(https?:)?//", markup) is None
    assert int(re.search(r'name="gridhub-charts" content="(\d+)"', page).group(1)) >= 15
    persons = read_table(ws.warehouse, "person", layer="restricted").to_pandas()
    for value in persons["name"].dropna().head(50):  # names and ids of persons never reach the page
        assert f'"{value}"' not in page
    for value in persons["person_id"].head(50):
        assert value not in page


def test_er_diagnostics_aggregate_every_scored_pair(published):
    from gridhub.pipeline import er_diagnostics_path

    ws, runs = published
    d = json.loads(er_diagnostics_path(ws, runs[0], "person").read_text(encoding="utf-8"))
    assert sum(d["weight_histogram"]["counts"]) == d["stats"]["candidate_pairs"] > 0
    assert sum(r["candidate_pairs"] for r in d["blocking"]) >= d["stats"]["candidate_pairs"]
    assert sum(r["new_pairs"] for r in d["blocking"]) == d["stats"]["candidate_pairs"]
    assert sum(c["size"] * c["clusters"] for c in d["cluster_sizes"]) == d["mentions"]
    assert sum(c["clusters"] for c in d["cluster_sizes"]) == d["entities"]
    assert {"match", "review"} <= set(d["thresholds"])
    mu = pd.DataFrame(d["m_u"])
    assert len(mu) and mu.groupby("comparison")["m"].sum().round(6).eq(1).all()


def test_grids_outside_their_norm_match_an_independent_count(published):
    """Households per grid counted here from person and house (a grid holds its micro-grids), against the
    report's grid frame; the grids outside the 微网格 norm (50–80) are exactly those the report lists."""
    from gridhub.runreport import report_path
    from gridhub.runreport.grids import grid_households
    from warehouse import connect, read_table

    ws, runs = published
    con = connect(ws.warehouse)
    got = grid_households(con).set_index("grid_code")
    con.close()
    grid = read_table(ws.warehouse, "grid").to_pandas()
    house = read_table(ws.warehouse, "house").to_pandas()[["house_id", "grid_code"]]
    person = read_table(ws.warehouse, "person").to_pandas()
    homes = house[house["house_id"].isin(person["residence_house_id"].dropna())].dropna(subset=["grid_code"])
    homes = homes.assign(basic=homes["grid_code"].map(grid.set_index("grid_code")["parent_grid_code"]))
    expected = {
        code: int(((homes["grid_code"] == code) | (homes["basic"] == code)).sum())
        for code in grid["grid_code"]
    }
    assert got["households"].to_dict() == expected and sum(expected.values()) > 0
    micro = got[got["grid_type"] == "微网格"]
    outside = set(micro.index[(micro["households"] < 50) | (micro["households"] > 80)])
    assert outside == set(micro.index[micro["size_status"].isin(["below", "above"])])

    page = report_path(ws, runs[-1]).read_text(encoding="utf-8")
    table = page.split("Grids outside their norm", 1)[1].split("</table>", 1)[0]
    listed = set(re.findall(r"<td>(\d{15,18})</td>", table))
    assert outside <= listed and listed == set(got.index[got["size_status"].isin(["below", "above"])])


def test_trend_follows_the_kept_runs(published):
    from gridhub.runreport import list_run_reports
    from gridhub.runreport.figures import gather

    ws, runs = published
    listed = list_run_reports(ws)
    assert [r["run_id"] for r in listed] == runs[::-1] and listed[0]["current"]
    summary = json.loads((listed[0]["report"].parent / "summary.json").read_text(encoding="utf-8"))
    data = gather(ws, runs[1], summary)
    assert list(dict.fromkeys(data.trend["run_id"])) == runs
    persons = data.trend[data.trend["figure"] == "person entities"]["value"]
    assert (persons > 0).all()


def test_reports_app_lists_runs_and_serves_only_their_report_files(published):
    from fastapi.testclient import TestClient

    from gridhub.runreport.web import create_reports_app

    ws, runs = published
    client = TestClient(create_reports_app(ws.root))
    index = client.get("/").text
    assert all(f"runs/{r}/report.html" in index for r in runs)
    r = client.get(f"/runs/{runs[0]}/report.html")
    assert r.status_code == 200 and "gridhub run report" in r.text
    assert client.get(f"/runs/{runs[0]}/data_docs/index.html").status_code == 200
    for bad in (
        f"/runs/{runs[0]}/../../gridhub.yaml",
        "/runs/run-0000000000000000/report.html",
        f"/runs/{runs[0]}/data_docs/validation.json",
    ):
        assert client.get(bad).status_code == 404, bad


def test_airflow_plugin_refuses_a_caller_without_an_airflow_token(published, monkeypatch):
    from fastapi.testclient import TestClient

    ws, runs = published
    monkeypatch.setenv("GRIDHUB_WORKSPACE", str(ws.root))
    spec = importlib.util.spec_from_file_location(
        "gridhub_reports_plugin", ROOT / "plugins/gridhub_reports.py"
    )
    assert spec and spec.loader
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    [mounted] = plugin.GridhubReportsPlugin.fastapi_apps
    assert mounted["url_prefix"] == "/gridhub-reports"
    assert plugin.GridhubReportsPlugin.external_views[0]["href"] == "/gridhub-reports/"
    client = TestClient(mounted["app"])
    assert client.get("/").status_code == 401
    assert client.get(f"/runs/{runs[0]}/report.html").status_code == 401
