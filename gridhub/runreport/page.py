"""The run report as one self-contained HTML page: plotly.js inlined once, every chart a ``<figure
class="chart">``, tables as plain HTML. The page makes no network request: no CDN, no web font, no map tiles
(the grid map is drawn on plain lon / lat axes).
"""

from __future__ import annotations

import html
import math
import numbers

import pandas as pd
import plotly.graph_objects as go

from gridhub.runreport import charts
from gridhub.runreport.figures import STREET_NOT_READ, ReportData

_CSS = """
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; margin: 0; color: #263238; }
header { background: #263238; color: #fff; padding: 12px 24px; }
header a { color: #b2dfdb; }
nav { padding: 8px 24px; background: #eceff1; position: sticky; top: 0; z-index: 10; }
nav a { margin-right: 14px; color: #00695c; text-decoration: none; }
main { padding: 0 24px 40px; max-width: 1280px; }
section { border-bottom: 1px solid #cfd8dc; padding-bottom: 12px; }
figure.chart { margin: 12px 0; border: 1px solid #eceff1; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #cfd8dc; padding: 3px 8px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #546e7a; font-size: 13px; }
.fail { color: #c62828; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
"""


class Page:
    """Collects sections and charts; :meth:`html` writes the page with plotly.js inlined once."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[str] = []
        self.nav: list[tuple[str, str]] = []
        self.charts = 0

    def section(self, anchor: str, heading: str) -> None:
        if self.nav:
            self.parts.append("</section>")
        self.nav.append((anchor, heading))
        self.parts.append(f'<section id="{anchor}"><h2>{html.escape(heading)}</h2>')

    def h3(self, text: str) -> None:
        self.parts.append(f"<h3>{html.escape(text)}</h3>")

    def note(self, text: str, cls: str = "note") -> None:
        self.parts.append(f'<p class="{cls}">{html.escape(text)}</p>')

    def raw(self, markup: str) -> None:
        self.parts.append(markup)

    def chart(self, fig: go.Figure) -> None:
        self.charts += 1
        div = fig.to_html(
            full_html=False,
            include_plotlyjs=False,  # inlined once in <head>
            div_id=f"chart-{self.charts}",
            config={"displaylogo": False, "responsive": True},
        )
        self.parts.append(f'<figure class="chart" data-chart="{self.charts}">{div}</figure>')

    def table(self, df: pd.DataFrame, columns: dict[str, str] | None = None) -> None:
        self.parts.append(html_table(df, columns))

    def html(self, header: str) -> str:
        from plotly.offline import get_plotlyjs

        nav = " ".join(f'<a href="#{a}">{html.escape(h)}</a>' for a, h in self.nav)
        return "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="zh-CN"><head><meta charset="utf-8">',
                f"<title>{html.escape(self.title)}</title>",
                f'<meta name="gridhub-charts" content="{self.charts}">',
                f"<style>{_CSS}</style>",
                f"<script>{get_plotlyjs()}</script>",
                "</head><body>",
                header,
                f"<nav>{nav}</nav><main>",
                *self.parts,
                "</section></main></body></html>",
            ]
        )


def html_table(df: pd.DataFrame, columns: dict[str, str] | None = None) -> str:
    """``df`` as an HTML table, every cell escaped; ``columns`` picks and names the columns."""
    columns = columns or {c: c for c in df.columns}
    head = "".join(f"<th>{html.escape(h)}</th>" for h in columns.values())
    rows = []
    for rec in df[list(columns)].itertuples(index=False):
        rows.append("<tr>" + "".join(_cell(v) for v in rec) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _cell(v: object) -> str:
    """One table cell: numbers right-aligned with thousands separators, missing values empty, text escaped."""
    if v is None or v is pd.NA or (isinstance(v, numbers.Real) and math.isnan(float(v))):
        return "<td></td>"
    if isinstance(v, bool | str) or not isinstance(v, numbers.Real):
        return f"<td>{html.escape(str(v))}</td>"
    if isinstance(v, numbers.Integral) or float(v).is_integer():
        return f'<td class="n">{int(float(v)):,}</td>'
    x = float(v)
    return f'<td class="n">{x:,.4g}</td>' if abs(x) < 1 else f'<td class="n">{x:,.2f}</td>'


def _pct(x: object) -> str:
    return "-" if x is None or (isinstance(x, float) and pd.isna(x)) else f"{100 * float(x):.2f}%"  # type: ignore[arg-type]


def _header(d: ReportData) -> str:
    s = d.summary
    v = s.get("validation") or {}
    verdict = "PASSED" if v.get("success", True) else "FAILED"
    return (
        f"<header><h1>gridhub run report · {html.escape(d.run_id)}</h1>"
        f"<div>published {html.escape(d.published_at)} · workspace {html.escape(str(s.get('workspace', '')))}"
        f' · validation {verdict} · <a href="data_docs/index.html">Data Docs</a>'
        ' · <a href="summary.json">summary.json</a></div></header>'
    )


def _intake(p: Page, d: ReportData) -> None:
    p.section("intake", "Intake 数据接入")
    if len(d.intake):
        p.chart(charts.intake(d.intake))
    if len(d.quarantine):
        p.chart(charts.quarantine_reasons(d.quarantine))
        p.table(
            d.quarantine, {"feed": "feed", "reason_code": "code", "reason": "reason 原因", "rows": "rows"}
        )
    else:
        p.note("No row was quarantined.")
    p.table(
        d.intake,
        {
            "feed": "feed",
            "department": "部门",
            "rows_read": "read",
            "rows_staged": "staged",
            "rows_quarantined": "quarantined",
        },
    )


def _binding(p: Page, d: ReportData) -> None:
    p.section("binding", "Address binding 地址绑定")
    s = d.summary
    p.note(
        f"Address fields bound to the standard library: {_pct(s.get('address_binding_rate'))}. A field's "
        "street is that of the grid it was bound to: an unmatched field, bound to no grid, has none, and is "
        f"counted under {STREET_NOT_READ}."
    )
    if len(d.binding_by_street):
        p.chart(charts.binding_by_street(d.binding_by_street))
        wide = d.binding_by_street.pivot_table(
            index=["street_code", "street"], columns="outcome", values="fields", aggfunc="sum", fill_value=0
        )
        matched = wide[[c for c in wide.columns if str(c).startswith("matched")]].sum(axis=1)
        wide["matched share"] = (matched / wide.sum(axis=1)).map(_pct)
        wide.columns.name = None
        p.table(wide.reset_index())
    if len(d.binding_by_level):
        p.chart(charts.binding_by_level(d.binding_by_level))


def _grids(p: Page, d: ReportData) -> None:
    p.section("grids", "Grids against their norm 网格规模")
    p.note(d.grid_source)
    g = d.grids
    if not len(g):
        p.note("The snapshot has no grids.")
        return
    p.chart(charts.grid_map(g))
    counts = g.groupby(["grid_type", "size_status"]).size().rename("grids").reset_index()
    p.table(counts, {"grid_type": "grid type", "size_status": "size vs norm", "grids": "grids"})
    outside = _outside_norm(g)
    p.h3(f"Grids outside their norm 规模异常网格 ({len(outside)})")
    if len(outside):
        p.table(
            outside,
            {
                "grid_code": "grid",
                "name": "name",
                "grid_type": "type",
                "households": "households",
                "residents": "residents",
                "organisations": "organisations",
                "norm_measure": "norm in",
                "norm_min": "norm from",
                "norm_max": "norm to",
                "size_status": "status",
            },
        )


def _outside_norm(g: pd.DataFrame) -> pd.DataFrame:
    """The grids below or above their norm, those furthest from it first (in the norm's own measure)."""
    outside = g[g["size_status"].isin(["below", "above"])].copy()
    measured = pd.Series(float("nan"), index=outside.index)
    for measure in outside["norm_measure"].dropna().unique():
        rows = outside["norm_measure"] == measure
        measured[rows] = outside.loc[rows, measure].astype(float)
    off_by = (measured - outside["norm_max"]).where(
        outside["size_status"] == "above", outside["norm_min"] - measured
    )
    return outside.assign(off_by=off_by).sort_values(["off_by", "grid_code"], ascending=[False, True])


def _er(p: Page, d: ReportData) -> None:
    p.section("er", "Entity resolution 实体解析")
    for t, diag in d.er.items():
        p.h3(t)
        if diag is None:
            p.note("No diagnostics were recorded for this type in this run.")
            continue
        if not diag["mentions"]:
            p.note("No mentions: none of its feeds has arrived yet.")
            continue
        st = diag.get("stats") or {}
        p.note(
            f"{diag['mentions']:,} records → {diag['entities']:,} entities; "
            f"{st.get('candidate_pairs', 0):,} candidate pairs, {st.get('edges', 0):,} match edges, "
            f"{st.get('held_back_pairs', 0):,} held back for want of identity evidence"
            + (" (incremental run)" if st.get("incremental") else "")
        )
        if sum(r["candidate_pairs"] for r in diag["blocking"]):
            p.chart(charts.blocking(diag["blocking"], t))
        else:
            rules = ", ".join(r["rule"] for r in diag["blocking"])
            p.note(f"No blocking rule ({rules}) found a candidate pair: every record is its own entity.")
        if diag["weight_histogram"]["counts"]:
            p.chart(charts.weight_histogram(diag["weight_histogram"], diag["thresholds"], t))
        if diag["m_u"]:
            p.chart(charts.m_u(diag["m_u"], t))
        if diag["cluster_sizes"]:
            p.chart(charts.cluster_sizes(diag["cluster_sizes"], t))
        guard = diag["guard_splits"]
        if guard["components"]:
            reasons = ", ".join(f"{k} {v}" for k, v in guard["by_reason"].items())
            p.note(f"Clusters split by the guard: {guard['components']} ({reasons}); the largest:")
            p.table(pd.DataFrame(guard["largest"]))
        else:
            p.note("No cluster was split by the guard.")
    p.h3("Merges and splits (id_history)")
    if len(d.id_history):
        p.chart(charts.id_history(d.id_history))
        p.table(d.id_history)
    else:
        p.note("No entity id has changed: id_history is empty.")


def _agreement(p: Page, d: ReportData) -> None:
    p.section("agreement", "Measured agreement 抽样评估")
    a = d.agreement
    if a is None:
        p.note(
            "No labels for this run yet. To measure precision and recall: `gridhub evaluate` draws a blind "
            "sample of record pairs (state/evaluation/<run_id>/labels.csv); label it in the portal (盲标, "
            "reviewers with blind_labelling) or in the file; then `gridhub evaluate <labels.csv>` writes the "
            "estimates and this report again (docs/report.md)."
        )
        return
    level = float(a.get("level", 0.95))
    est = pd.DataFrame(list(a["entity_types"].values()))
    long = pd.concat(
        [
            est.assign(measure=m, value=est[m], low=est[f"{m}_low"], high=est[f"{m}_high"])
            for m in ("precision", "recall")
        ]
    )
    p.chart(charts.agreement(long, level))
    p.note(
        f"Pairwise precision and recall estimated from {int(est['labelled'].sum()):,} labelled pairs, "
        f"{level:.0%} confidence intervals (Wilson per stratum, combined by MOVER; docs/entity-resolution.md)."
    )
    p.table(
        est,
        {
            "entity_type": "entity type",
            "predicted_pairs": "linked pairs",
            "labelled": "labelled",
            "precision": "precision",
            "precision_low": "low",
            "precision_high": "high",
            "recall": "recall",
            "recall_low": "low",
            "recall_high": "high",
        },
    )
    strata = pd.DataFrame(a.get("strata") or [])
    if len(strata):
        p.h3("Labelled pairs per stratum 各层标注数")
        p.table(
            strata,
            {
                "entity_type": "entity type",
                "stratum": "stratum (score band, linked or apart)",
                "population": "pairs",
                "sampled": "sampled",
                "labelled": "labelled (same or different)",
                "same": "same",
            },
        )


def _validation(p: Page, d: ReportData) -> None:
    p.section("validation", "Validation 数据校验")
    if len(d.validation):
        p.chart(charts.validation(d.validation))
        p.table(d.validation)
    else:
        p.note("No validation results were found for this run.")
    for failure in d.validation_failures:
        p.note(failure, "fail")


def _trend(p: Page, d: ReportData) -> None:
    p.section("trend", "Trend 趋势")
    if not len(d.trend):
        p.note("No run summaries kept yet.")
        return
    p.note(f"The last {d.trend['run_id'].nunique()} published runs whose summary was kept.")
    p.chart(charts.trend(d.trend))


def render(d: ReportData) -> tuple[str, int]:
    """The report page of ``d`` and the number of charts on it."""
    p = Page(f"gridhub run report {d.run_id}")
    for note in d.notes:
        p.note(note)
    for part in (_intake, _binding, _grids, _er, _agreement, _validation, _trend):
        part(p, d)
    return p.html(_header(d)), p.charts
