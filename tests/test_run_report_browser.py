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
