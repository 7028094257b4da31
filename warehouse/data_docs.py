"""Data Docs: one static HTML page of validation results, with inline CSS (no CDN, opens offline).

Great Expectations' own Data Docs load their CSS and JavaScript from CDNs and render unstyled without a
network, so gridhub renders its own page from a :class:`~warehouse.validation_report.ValidationReport`: an index of
every suite (table) with its pass/fail counts, then one section per suite listing each expectation, its column,
success, the observed value or unexpected count, and a few unexpected values (already scrubbed of ID numbers
and phones). The page is kept with the run (``warehouse/runs/<run_id>/data_docs/index.html``), for failed runs
too.
"""

from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from warehouse.files import atomic_write_text
from warehouse.schema import TABLES

if TYPE_CHECKING:
    from warehouse.validation_report import ExpectationOutcome, ValidationReport

_CSS = """
body{font-family:-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;
margin:2rem auto;max-width:75rem;padding:0 1rem;color:#1f2328;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #d0d7de}
.meta{color:#59636e}table{border-collapse:collapse;width:100%;margin:.6rem 0;font-size:.92rem}
th,td{border:1px solid #d0d7de;padding:.35rem .55rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}tr.fail td{background:#fff1f0}code{font-size:.88em;word-break:break-all}
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}
.banner{padding:.7rem 1rem;border-radius:6px;margin:1rem 0;font-weight:600}
.banner.ok{background:#dafbe1}.banner.bad{background:#ffebe9}ul.failures{margin:.3rem 0 1rem}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _status(ok: bool) -> str:
    return '<span class="ok">✓ passed</span>' if ok else '<span class="bad">✗ failed</span>'


def _observed(o: ExpectationOutcome) -> str:
    if o.error:
        return f'<span class="bad">error: {_e(o.error)}</span>'
    if o.unexpected_count is not None:
        return f"{o.unexpected_count:,} unexpected of {o.element_count or 0:,}"
    if o.observed_value is not None:
        v = o.observed_value
        return f"{v:,}" if isinstance(v, int) else _e(v)
    return ""


def render_data_docs(report: ValidationReport, *, title: str = "gridhub warehouse validation") -> str:
    """The whole HTML page for ``report``."""
    by_table: dict[str, list[ExpectationOutcome]] = defaultdict(list)
    for o in report.results:
        by_table[o.table].append(o)
    failed_total = sum(not o.success for o in report.results)
    out = [
        "<!doctype html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{len(by_table)} suites · {len(report.results)} expectations · '
        f"{report.seconds:.2f} s with Great Expectations</p>",
    ]
    if report.success:
        out.append('<div class="banner ok">All expectations passed: the snapshot may be published.</div>')
    else:
        out.append(
            f'<div class="banner bad">{failed_total} expectation(s) failed: publishing is blocked and the '
            "current snapshot stays current.</div>"
        )
        out.append('<ul class="failures">' + "".join(f"<li>{_e(m)}</li>" for m in report.failures) + "</ul>")
    out.append(
        "<h2>Suites</h2><table><tr><th>suite (table)</th><th>中文</th><th>rows</th>"
        "<th>expectations</th><th>failed</th><th>status</th></tr>"
    )
    for name, outcomes in by_table.items():
        failed = sum(not o.success for o in outcomes)
        chinese = TABLES[name].chinese if name in TABLES else ""
        out.append(
            f'<tr class="{"fail" if failed else ""}"><td><a href="#suite-{_e(name)}">gridhub.{_e(name)}</a></td>'
            f"<td>{_e(chinese)}</td><td>{report.row_counts.get(name, 0):,}</td><td>{len(outcomes)}</td>"
            f"<td>{failed}</td><td>{_status(not failed)}</td></tr>"
        )
    out.append("</table>")
    for name, outcomes in by_table.items():
        out.append(
            f'<h2 id="suite-{_e(name)}">gridhub.{_e(name)} '
            f'<small class="meta">{report.row_counts.get(name, 0):,} rows</small></h2>'
        )
        out.append(
            "<table><tr><th>expectation</th><th>column</th><th>why</th><th>success</th>"
            "<th>observed</th><th>unexpected values (examples)</th></tr>"
        )
        for o in outcomes:
            examples = ", ".join(f"<code>{_e(x)}</code>" for x in o.examples)
            out.append(
                f'<tr class="{"" if o.success else "fail"}"><td><code>{_e(o.detail)}</code></td>'
                f"<td>{_e(o.column or '(table)')}</td><td>{_e(o.why)}</td><td>{_status(o.success)}</td>"
                f"<td>{_observed(o)}</td><td>{examples}</td></tr>"
            )
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


def write_data_docs(
    report: ValidationReport, report_dir: Path, *, title: str = "gridhub warehouse validation"
) -> Path:
    """Write ``report_dir/index.html`` and return its path."""
    return atomic_write_text(report_dir / "index.html", render_data_docs(report, title=title))
