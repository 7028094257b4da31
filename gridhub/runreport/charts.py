"""The run report's charts, as plotly figures built from the aggregated frames of :mod:`.figures`.

plotly draws SVG in the browser from a few kilobytes of JSON per chart; the report inlines plotly.js once
(:func:`gridhub.runreport.page.render`), so it opens with no network. Every chart here takes aggregates
(counts per feed, per street, per bin, per level, per grid), never records.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

STATUS_COLOURS = {"matched": "#2e7d32", "ambiguous": "#f9a825", "unmatched": "#c62828"}
LEVEL_GREENS = {"room": "#1b5e20", "unit": "#2e7d32", "building": "#43a047", "house_number": "#66bb6a"}
SIZE_COLOURS = {"below": "#1565c0", "within": "#2e7d32", "above": "#c62828", "no norm": "#9e9e9e"}
AGREEMENT_COLOURS = {"precision": "#1565c0", "recall": "#2e7d32"}
THRESHOLD_COLOURS = {"match": "#2e7d32", "review": "#f9a825", "keep_pairs": "#9e9e9e"}


def _layout(fig: go.Figure, title: str, height: int = 360, **kw) -> go.Figure:
    kw.setdefault("margin", {"l": 60, "r": 20, "t": 50, "b": 60})
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 15}},
        height=height,
        legend={"orientation": "h", "y": -0.2},
        template="plotly_white",
        **kw,
    )
    return fig


def intake(df: pd.DataFrame) -> go.Figure:
    fig = go.Figure(
        [
            go.Bar(name="staged 入库", x=df["feed"], y=df["rows_staged"], marker_color="#2e7d32"),
            go.Bar(name="quarantined 隔离", x=df["feed"], y=df["rows_quarantined"], marker_color="#c62828"),
        ]
    )
    return _layout(fig, "Rows per feed 各数据源行数", barmode="stack", yaxis_title="rows")


def _stacked(
    df: pd.DataFrame, *, x: str, y: str, by: str, title: str, colour=None, hover: str | None = None
) -> go.Figure:
    """Bars of ``y`` over ``x``, one stacked series per value of ``by`` (``colour(value)`` its colour)."""
    fig = go.Figure(
        [
            go.Bar(
                name=str(value),
                x=part[x],
                y=part[y],
                hovertext=part[hover] if hover else None,
                marker_color=colour(str(value)) if colour else None,
            )
            for value, part in df.groupby(by, sort=True)
        ]
    )
    return _layout(fig, title, barmode="stack", yaxis_title=y)


def quarantine_reasons(df: pd.DataFrame) -> go.Figure:
    return _stacked(
        df, x="feed", y="rows", by="reason_code", hover="reason", title="Quarantined rows by reason 隔离原因"
    )


def _outcome_colour(outcome: str) -> str | None:
    """Matched fields in greens, finer levels darker; ambiguous and unmatched in their status colours."""
    if outcome in STATUS_COLOURS:
        return STATUS_COLOURS[outcome]
    level = outcome.removeprefix("matched: ")
    return LEVEL_GREENS.get(level, "#81c784")


def binding_by_street(df: pd.DataFrame) -> go.Figure:
    """Per street: matched fields by the finest level confirmed, ambiguous and unmatched ones."""
    title = "Address fields per street by outcome 各街道地址绑定"
    return _stacked(df, x="street", y="fields", by="outcome", colour=_outcome_colour, title=title)


def binding_by_level(df: pd.DataFrame) -> go.Figure:
    title = "Address fields by finest level confirmed 匹配层级"
    return _stacked(df, x="level", y="fields", by="status", colour=STATUS_COLOURS.get, title=title)


def blocking(rows: list[dict], entity_type: str) -> go.Figure:
    df = pd.DataFrame(rows)
    fig = go.Figure(
        [
            go.Bar(name="candidate pairs", x=df["rule"], y=df["candidate_pairs"], marker_color="#90a4ae"),
            go.Bar(name="new pairs (not from an earlier rule)", x=df["rule"], y=df["new_pairs"]),
        ]
    )
    return _layout(
        fig, f"{entity_type}: candidate pairs per blocking rule", barmode="group", yaxis_title="pairs"
    )


def weight_histogram(hist: dict, thresholds: dict, entity_type: str) -> go.Figure:
    """The match-weight histogram of every scored candidate pair, the thresholds as vertical lines."""
    width = float(hist["bin_width"])
    counts = hist["counts"]
    centres = [hist["first_bin"] + width * (i + 0.5) for i in range(len(counts))]
    fig = go.Figure(go.Bar(x=centres, y=counts, width=width, marker_color="#5c6bc0", name="pairs"))
    for i, (name, t) in enumerate(thresholds.items()):  # labels one under the other: the lines sit close
        colour = THRESHOLD_COLOURS.get(name, "#000")
        fig.add_vline(x=t["weight"], line={"color": colour, "dash": "dash"})
        fig.add_annotation(
            x=t["weight"],
            y=1 - 0.09 * i,
            yref="paper",
            text=f"{name} p={t['probability']:g}",
            showarrow=False,
            xanchor="left",
            font={"color": colour, "size": 11},
            bgcolor="rgba(255,255,255,.8)",
        )
    return _layout(
        fig,
        f"{entity_type}: match weight of every candidate pair (bits), thresholds marked",
        xaxis_title="match weight",
        yaxis_title="pairs",
        yaxis_type="log" if _spread(counts) > 100 else "linear",
    )


def _spread(counts: list[int]) -> float:
    """Largest over smallest non-zero count: above 100 a log axis keeps the small bins visible."""
    nonzero = [c for c in counts if c]
    return max(nonzero) / min(nonzero) if nonzero else 1.0


def m_u(rows: list[dict], entity_type: str) -> go.Figure:
    df = pd.DataFrame(rows)
    label = df["comparison"] + ": " + df["level"]
    fig = go.Figure(
        [
            go.Bar(name="m (matches)", x=label, y=df["m"], marker_color="#2e7d32"),
            go.Bar(name="u (non-matches)", x=label, y=df["u"], marker_color="#c62828"),
        ]
    )
    return _layout(
        fig,
        f"{entity_type}: m and u per comparison level",
        height=420,
        barmode="group",
        yaxis_title="probability",
        xaxis_tickangle=-45,
        margin={"l": 60, "r": 20, "t": 50, "b": 140},
    )


def cluster_sizes(rows: list[dict], entity_type: str) -> go.Figure:
    df = pd.DataFrame(rows)
    fig = go.Figure(go.Bar(x=df["size"].astype(str), y=df["clusters"], marker_color="#00897b"))
    return _layout(
        fig,
        f"{entity_type}: entities by number of records (cluster size)",
        xaxis_title="records per entity",
        yaxis_title="entities",
        yaxis_type="log",
    )


def id_history(df: pd.DataFrame) -> go.Figure:
    """Merges, splits and retirements per run and entity type (the published ``id_history`` table)."""
    types = list(dict.fromkeys(df["entity_type"]))
    fig = make_subplots(rows=1, cols=len(types), subplot_titles=types, shared_yaxes=True)
    for i, t in enumerate(types, start=1):
        part = df[df["entity_type"] == t]
        for reason, rows in part.groupby("reason", sort=True):
            fig.add_trace(
                go.Bar(
                    name=str(reason),
                    x=rows["run_id"],
                    y=rows["changes"],
                    legendgroup=str(reason),
                    showlegend=i == 1,
                ),
                row=1,
                col=i,
            )
    return _layout(fig, "Entity-id changes per run (id_history) 合并与拆分", barmode="stack")


def validation(df: pd.DataFrame) -> go.Figure:
    fig = go.Figure(
        [
            go.Bar(name="passed", x=df["table"], y=df["passed"], marker_color="#2e7d32"),
            go.Bar(name="failed", x=df["table"], y=df["failed"], marker_color="#c62828"),
        ]
    )
    return _layout(
        fig, "Great Expectations results per table 校验结果", barmode="stack", yaxis_title="expectations"
    )


def agreement(df: pd.DataFrame, level: float) -> go.Figure:
    """Estimated precision and recall per entity type (``df``: entity_type, measure, value, low, high) with
    their confidence intervals as error bars."""
    fig = go.Figure(
        [
            go.Bar(
                name=str(measure),
                x=part["entity_type"],
                y=part["value"],
                error_y={
                    "type": "data",
                    "array": (part["high"] - part["value"]).tolist(),
                    "arrayminus": (part["value"] - part["low"]).tolist(),
                    "visible": True,
                },
                marker_color=AGREEMENT_COLOURS.get(str(measure)),
            )
            for measure, part in df.groupby("measure", sort=False)
        ]
    )
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    return _layout(
        fig, f"Precision and recall from blind labels, {level:.0%} intervals 精确率与召回率", barmode="group"
    )


def trend(df: pd.DataFrame) -> go.Figure:
    """The main figures over the last runs: counts on the left, rates on the right."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["counts", "rates"])
    for name, part in df.groupby("figure", sort=False):
        is_rate = str(name).endswith("rate")
        fig.add_trace(
            go.Scatter(x=part["run_id"], y=part["value"], mode="lines+markers", name=str(name)),
            row=1,
            col=2 if is_rate else 1,
        )
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    return _layout(fig, "Main figures over the last runs 近期运行趋势", height=400)


def _rings(wkt: pd.Series) -> tuple[list, list, list]:
    """Outer rings of the polygons as one lon / lat list with a gap (None) after each ring, and the index of
    each ring's grid. Rings are simplified to about 10 m first, so a detailed boundary stays light."""
    import numpy as np
    import shapely

    geoms = shapely.simplify(shapely.from_wkt(wkt.fillna("").to_numpy(), on_invalid="ignore"), 1e-4)
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings = shapely.get_exterior_ring(parts)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    lon: list = []
    lat: list = []
    for r in np.unique(ring_of):
        sel = coords[ring_of == r]
        lon += [*sel[:, 0].tolist(), None]
        lat += [*sel[:, 1].tolist(), None]
    return lon, lat, owner.tolist()


_HOVER_COLUMNS = [
    "name",
    "grid_code",
    "households",
    "residents",
    "organisations",
    "norm_measure",
    "norm_min",
    "norm_max",
    "size_status",
]
_HOVER = (
    "%{customdata[0]} %{customdata[1]}<br>households %{customdata[2]}, residents %{customdata[3]}, "
    "organisations %{customdata[4]}<br>norm %{customdata[5]} %{customdata[6]}–%{customdata[7]}: "
    "%{customdata[8]}<extra></extra>"
)


def grid_map(grids: pd.DataFrame) -> go.Figure:
    """The grids as filled polygons coloured by size against their norm, one view per grid type (a
    basic grid holds its micro-grids, so they are shown apart), and a hover point at each grid's centre."""
    import shapely

    types = [t for t in dict.fromkeys(grids["grid_type"].dropna()) if t]
    fig = go.Figure()
    visible_of: list[str] = []
    for t in types:
        of_type = grids[grids["grid_type"] == t]
        for status, part in of_type.groupby("size_status", sort=False):
            lon, lat, _ = _rings(part["wkt"])
            fig.add_trace(
                go.Scatter(
                    x=lon,
                    y=lat,
                    fill="toself",
                    mode="lines",
                    line={"width": 0.6, "color": "#37474f"},
                    fillcolor=SIZE_COLOURS.get(str(status)),
                    opacity=0.55,
                    name=f"{t}: {status}",
                    hoverinfo="skip",
                    visible=t == types[0],
                )
            )
            visible_of.append(t)
        centres = shapely.centroid(
            shapely.from_wkt(of_type["wkt"].fillna("").to_numpy(), on_invalid="ignore")
        )
        hover = of_type[_HOVER_COLUMNS].astype(object).where(of_type[_HOVER_COLUMNS].notna(), "-")
        fig.add_trace(
            go.Scatter(
                x=shapely.get_x(centres),
                y=shapely.get_y(centres),
                mode="markers",
                marker={"size": 4, "color": "#263238"},
                customdata=hover.to_numpy(),
                hovertemplate=_HOVER,
                name=f"{t}: grid centres",
                visible=t == types[0],
                showlegend=False,
            )
        )
        visible_of.append(t)
    buttons = [
        {"label": t, "method": "update", "args": [{"visible": [v == t for v in visible_of]}]} for t in types
    ]
    fig.update_layout(
        updatemenus=[
            {
                "buttons": buttons,
                "type": "buttons",
                "direction": "right",
                "x": 1,
                "xanchor": "right",
                "y": 1.02,
                "yanchor": "bottom",
            }
        ]
    )
    fig.update_yaxes(scaleanchor="x", scaleratio=1 / math.cos(math.radians(_mid_lat(grids))))
    return _layout(fig, "Grids by size against their norm 网格规模", height=560, hovermode="closest")


def _mid_lat(grids: pd.DataFrame) -> float:
    import shapely

    bounds = shapely.total_bounds(shapely.from_wkt(grids["wkt"].fillna("").to_numpy(), on_invalid="ignore"))
    mid = (bounds[1] + bounds[3]) / 2
    return 0.0 if math.isnan(mid) else float(mid)
