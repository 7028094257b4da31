"""The run report in a real browser (issue #16, done-when 1): headless Chromium opens the report file with every
network request blocked, every chart on the page is drawn, and a screenshot is taken. Chromium and playwright
as for the portal's browser test (.ci/browser.sh); in CI a missing browser fails, elsewhere it skips."""

from __future__ import annotations

import re

import pytest
from test_portal_browser import ARGS, CHROMIUM, _need_browser
from test_run_report import published  # noqa: F401 - the module-scoped published workspace

#: Per chart: plotly drew its SVG, and the plot area holds at least one drawn shape (a bar, a line, a
#: polygon, a marker); an empty chart has the SVG but no such path.
_DRAWN = """
() => [...document.querySelectorAll('figure.chart')].map(f => ({
    id: f.dataset.chart,
    svg: f.querySelectorAll('svg.main-svg').length,
    width: (f.querySelector('svg.main-svg') || {clientWidth: 0}).clientWidth,
    shapes: [...f.querySelectorAll('svg.main-svg g.trace path')]
        .filter(p => (p.getAttribute('d') || '').length > 8).length,
}))
"""


@pytest.mark.slow
def test_report_renders_every_chart_offline(published, tmp_path):  # noqa: F811
    _need_browser()
    from playwright.sync_api import sync_playwright

    from gridhub.runreport import report_path

    ws, runs = published
    path = report_path(ws, runs[-1])
    expected = int(re.search(r'name="gridhub-charts" content="(\d+)"', path.read_text("utf-8")).group(1))
    attempted: list[str] = []
    errors: list[str] = []

    def block(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000}).new_page()
            page.route("**/*", block)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "request",
                lambda r: None if r.url.startswith(("file://", "data:")) else attempted.append(r.url),
            )
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_function(
                f"document.querySelectorAll('figure.chart svg.main-svg').length >= {expected}", timeout=60_000
            )
            charts = page.evaluate(_DRAWN)
            shot = tmp_path / "run-report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
    assert attempted == [], f"the report tried the network: {attempted}"
    assert len(charts) == expected >= 15
    empty = [c for c in charts if not (c["svg"] and c["width"] > 0 and c["shapes"] > 0)]
    assert not empty, f"charts not drawn: {empty}"
    assert shot.stat().st_size > 50_000


def _label_from_truth(ws, folder) -> dict:
    """Fill the sample's labels from the sample district's truth and run ``gridhub evaluate`` on them."""
    import json

    import pandas as pd
    from test_evaluate import _truth_labels

    from gridhub import cli

    path = folder / "labels.csv"
    labels = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    labels["label"] = _truth_labels(ws, labels)
    labels.to_csv(path, index=False, encoding="utf-8-sig")
    assert cli.main(["evaluate", str(path)]) == 0  # the workspace is found from where the file lies
    return json.loads((folder / "agreement.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_report_shows_precision_and_recall_with_error_bars_once_labels_exist(published, capsys):  # noqa: F811
    """Without labels the report says how to get them; after `gridhub evaluate LABELS` the report of the run
    is written again with the estimates per entity type (the numbers of agreement.json), a chart with error
    bars drawn by the browser, and the labelled pairs per stratum."""
    import html

    from gridhub.evaluate import draw_sample
    from gridhub.runreport import report_path, write_run_report

    ws, runs = published
    path = report_path(ws, runs[-1])
    write_run_report(ws)
    before = path.read_text("utf-8")
    assert (
        'id="agreement"' in before and "No labels for this run yet" in before and "gridhub evaluate" in before
    )

    sample = draw_sample(ws, per_stratum=8)
    result = _label_from_truth(ws, sample.folder)
    assert f"run report: {path}" in capsys.readouterr().out
    page = path.read_text("utf-8")
    assert "No labels for this run yet" not in page
    section = page.split('id="agreement"')[1].split("</section>")[0]
    shown = html.unescape(re.sub(r"<[^>]+>", " ", section))
    for t, e in result["entity_types"].items():
        if not e["labelled"]:
            continue
        assert t in shown
        for key in ("precision", "precision_low", "precision_high", "recall_low", "recall_high"):
            assert f"{e[key]:,.4g}" in shown or f"{e[key]:,.2f}" in shown, (t, key, e[key])
    strata = [s for s in result["strata"] if s["labelled"]]
    assert strata and all(s["stratum"] in shown for s in strata)
    assert sum(s["labelled"] for s in result["strata"]) == sum(
        e["labelled"] for e in result["entity_types"].values()
    )

    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            view = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000}).new_page()
            view.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort())
            view.goto(path.as_uri(), wait_until="load")
            chart = "#agreement figure.chart"
            view.wait_for_selector(f"{chart} svg.main-svg", timeout=60_000)
            drawn = view.evaluate(
                f"""() => {{
                    const f = document.querySelector('{chart}');
                    return {{
                        bars: [...f.querySelectorAll('g.trace.bars path')]
                            .filter(p => (p.getAttribute('d') || '').length > 8).length,
                        errorbars: f.querySelectorAll('g.errorbar').length,
                        title: (f.querySelector('.gtitle') || {{textContent: ''}}).textContent,
                    }};
                }}"""
            )
            view.locator("#agreement").screenshot(path=str(path.parent / "agreement.png"))
        finally:
            browser.close()
    labelled_types = sum(1 for e in result["entity_types"].values() if e["labelled"])
    assert drawn["bars"] >= 2 * labelled_types - 2 and drawn["errorbars"] >= 2 * labelled_types, drawn
    assert "Precision and recall" in drawn["title"]
