"""The figures of a run report, gathered from where each lives and aggregated before anything is drawn.

| figure | where it lives |
|---|---|
| intake per feed, quarantine reasons | the run summary (:func:`gridhub.report.build_summary`: raw manifest + quarantine) |
| address binding per street, by level | the snapshot's ``address_binding`` table (street: its grid's first 9 digits) |
| ER diagnostics per entity type | ``work/<run_id>/resolved/<type>_diagnostics.json`` (:mod:`matching.er.diagnostics`) |
| merges and splits | the snapshot's ``id_history`` table |
| validation | ``<warehouse>/runs/<run_id>/data_docs/validation.json`` (the Great Expectations gate) |
| trend over the last runs | ``<warehouse>/runs/<run_id>/summary.json`` of every kept snapshot |
| grids against their norm | :mod:`gridhub.runreport.grids` |
| measured agreement (precision, recall) | ``state/evaluation/<run_id>/agreement.json`` (``gridhub evaluate LABELS``) |

Every table is aggregated in DuckDB over the snapshot's Parquet files (``GROUP BY``), so a city of a million
people gives the same few hundred rows as the sample district; no record reaches the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from gridhub.workspace import Workspace
from warehouse.reasons import describe
from warehouse.schema import ENTITY_TYPES

#: How many earlier runs the trend shows.
TREND_RUNS = 10
#: The street of an address field whose place could not be read with confidence (no grid).
STREET_NOT_READ = "未读出 (not read)"


@dataclass
class ReportData:
    """Everything a run report draws: small frames and dicts, never records."""

    run_id: str
    published_at: str
    summary: dict
    intake: pd.DataFrame  # feed, department, rows_read, rows_staged, rows_quarantined
    quarantine: pd.DataFrame  # feed, reason_code, reason, rows
    binding_by_street: (
        pd.DataFrame
    )  # street_code, street, outcome (matched: <level> / ambiguous / unmatched), fields
    binding_by_level: pd.DataFrame  # status, level, fields
    er: dict[str, dict | None]  # entity type → diagnostics (None: not recorded for this run)
    id_history: pd.DataFrame  # entity_type, run_id, reason, changes, records
    validation: pd.DataFrame  # table, passed, failed
    validation_failures: list[str]
    trend: pd.DataFrame  # run_id, published_at, figure, value
    grids: pd.DataFrame  # see gridhub.runreport.grids.GRID_COLUMNS
    grid_source: str  # which function counted the households (named in the report)
    notes: list[str] = field(default_factory=list)
    agreement: dict | None = None  # gridhub evaluate's agreement.json for this run (None: no labels yet)


def run_dir(ws: Workspace, run_id: str) -> Path:
    """``<warehouse>/runs/<run_id>/``: the run's Data Docs, summary and report, pruned with its snapshot."""
    from warehouse.read import RUNS

    return ws.warehouse / RUNS / run_id


def run_summary_path(ws: Workspace, run_id: str) -> Path:
    return run_dir(ws, run_id) / "summary.json"


def _intake(summary: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    feeds = summary.get("feeds") or []
    cols = ["feed", "department", "rows_read", "rows_staged", "rows_quarantined"]
    intake = pd.DataFrame([{c: f.get(c) for c in cols} for f in feeds], columns=cols)
    reasons = [
        {"feed": f["feed"], "reason_code": code, "reason": describe(code), "rows": int(n)}
        for f in feeds
        for code, n in sorted((f.get("quarantine_reasons") or {}).items())
    ]
    return intake, pd.DataFrame(reasons, columns=["feed", "reason_code", "reason", "rows"])


def _binding(con) -> tuple[pd.DataFrame, pd.DataFrame]:
    by_street = con.sql(
        """
        WITH b AS (
            SELECT substr(grid_code, 1, 9) AS street_code,
                   CASE WHEN status = 'matched' THEN 'matched: ' || coalesce(level, 'none') ELSE status END
                       AS outcome
            FROM address_binding
        ),
        names AS (SELECT street_code, min(street) AS street FROM address GROUP BY street_code)
        SELECT b.street_code, coalesce(names.street, b.street_code) AS street, b.outcome, count(*) AS fields
        FROM b LEFT JOIN names USING (street_code)
        GROUP BY ALL ORDER BY b.street_code NULLS LAST, b.outcome
        """
    ).df()
    by_street["street_code"] = by_street["street_code"].fillna("")
    by_street["street"] = by_street["street"].fillna(STREET_NOT_READ)
    by_level = con.sql(
        "SELECT status, coalesce(level, 'none') AS level, count(*) AS fields FROM address_binding "
        "GROUP BY ALL ORDER BY status, fields DESC"
    ).df()
    return by_street, by_level


def _id_history(con) -> pd.DataFrame:
    return con.sql(
        "SELECT entity_type, run_id, reason, count(*) AS changes, sum(coalesce(records, 0)) AS records "
        "FROM id_history GROUP BY ALL ORDER BY entity_type, run_id, reason"
    ).df()


def _er(ws: Workspace, run_id: str) -> dict[str, dict | None]:
    from gridhub.pipeline import er_diagnostics_path

    out: dict[str, dict | None] = {}
    for t in ENTITY_TYPES:
        p = er_diagnostics_path(ws, run_id, t)
        out[t] = json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None
    return out


def _validation(ws: Workspace, run_id: str) -> tuple[pd.DataFrame, list[str]]:
    p = run_dir(ws, run_id) / "data_docs" / "validation.json"
    cols = ["table", "passed", "failed"]
    if not p.is_file():
        return pd.DataFrame(columns=cols), []
    report = json.loads(p.read_text(encoding="utf-8"))
    results = pd.DataFrame(report.get("results") or [], columns=["table", "success"])
    if not len(results):
        return pd.DataFrame(columns=cols), list(report.get("failures") or [])
    results["success"] = results["success"].astype(bool)
    counts = results.groupby("table", sort=True)["success"].agg(passed="sum", total="count").reset_index()
    counts["failed"] = counts["total"] - counts["passed"]
    return counts[cols], list(report.get("failures") or [])


#: The main figures of a summary the trend follows: (name shown, how to read it from a summary).
def trend_figures(summary: dict) -> dict[str, float | None]:
    """The main figures of one run's summary (entities per type, binding rates, rows quarantined)."""
    entities = summary.get("entities") or {}
    grid = summary.get("grid_binding_rate") or {}
    figures: dict[str, float | None] = {f"{t} entities": entities.get(t) for t in ENTITY_TYPES}
    figures["rows quarantined"] = sum(int(f.get("rows_quarantined") or 0) for f in summary.get("feeds") or [])
    figures["address binding rate"] = summary.get("address_binding_rate")
    figures["person grid binding rate"] = grid.get("person")
    return figures


def _trend(ws: Workspace, run_id: str, current: dict) -> pd.DataFrame:
    """The main figures of the last :data:`TREND_RUNS` published runs whose summary was kept, oldest first."""
    from warehouse.read import Layer, list_snapshots

    rows = []
    runs = [r for r in list_snapshots(ws.warehouse, Layer.SHARED) if r != run_id][-(TREND_RUNS - 1) :]
    for r in [*runs, run_id]:
        p = run_summary_path(ws, r)
        s = current if r == run_id else (json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None)
        if s is None:
            continue
        for name, value in trend_figures(s).items():
            rows.append(
                {"run_id": r, "published_at": s.get("published_at", ""), "figure": name, "value": value}
            )
    return pd.DataFrame(rows, columns=["run_id", "published_at", "figure", "value"])


def snapshot_figures(con) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The figures aggregated from the warehouse tables (``con``: DuckDB with one relation per table, as
    :func:`warehouse.connect` gives): binding per street and per level, id_history changes, grids."""
    from gridhub.runreport.grids import grid_households

    by_street, by_level = _binding(con)
    return by_street, by_level, _id_history(con), grid_households(con)


def gather(ws: Workspace, run_id: str, summary: dict) -> ReportData:
    """Every figure of run ``run_id`` (a published snapshot), with ``summary`` its run summary."""
    from gridhub.runreport.grids import GRID_SOURCE
    from warehouse.read import connect

    con = connect(ws.warehouse, snapshot=run_id)  # the shared layer: aggregates need no personal value
    try:
        by_street, by_level, id_history, grids = snapshot_figures(con)
    finally:
        con.close()
    intake, quarantine = _intake(summary)
    validation, failures = _validation(ws, run_id)
    er = _er(ws, run_id)
    notes = []
    if any(v is None for v in er.values()):
        notes.append(
            "Entity-resolution diagnostics are written by the resolve step since issue #16; "
            f"this run's work folder ({ws.work_dir(run_id)}) holds none for some types."
        )
    return ReportData(
        run_id=run_id,
        published_at=str(summary.get("published_at", "")),
        summary=summary,
        intake=intake,
        quarantine=quarantine,
        binding_by_street=by_street,
        binding_by_level=by_level,
        er=er,
        id_history=id_history,
        validation=validation,
        validation_failures=failures,
        trend=_trend(ws, run_id, summary),
        grids=grids,
        grid_source=GRID_SOURCE,
        notes=notes,
        agreement=_agreement(ws, run_id),
    )


def _agreement(ws: Workspace, run_id: str) -> dict | None:
    """The latest ``gridhub evaluate LABELS`` of this run, if any labelled pair went into it."""
    from gridhub.evaluate import agreement_path

    p = agreement_path(ws, run_id)
    if not p.is_file():
        return None
    found = json.loads(p.read_text(encoding="utf-8"))
    if found.get("run_id") != run_id or not any(e.get("labelled") for e in found["entity_types"].values()):
        return None
    return found
