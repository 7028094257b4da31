"""How long the run report takes on a city-sized warehouse, and how long a browser takes to draw it.

Builds the synthetic canonical tables around ``--persons`` residents (``tests/synth_tables.py``, with the
``grid_metrics`` rows computed from them), aggregates them with the report's own queries
(:func:`gridhub.runreport.figures.snapshot_figures`, DuckDB over the Arrow tables), adds entity-resolution
diagnostics of the size a city run gives (a weight histogram over ``--pairs`` scored pairs, ten blocking rules,
thirty comparison levels, cluster sizes up to 60) and ten runs of trend, renders the page, and opens it in
headless Chromium (``/usr/bin/chromium``) until every chart is drawn. Usage::

    .venv/bin/python bench/run_report.py               # 1,000,000 persons
    .venv/bin/python bench/run_report.py --quick       # 100,000 persons
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # synth_tables: the synthetic tables are test data


def _diagnostics(rng, entity_type: str, pairs: int, records: int) -> dict:
    from matching.er.diagnostics import probability_weight, weight_histogram

    weights = rng.normal(-25, 12, pairs)
    weights[: pairs // 20] = rng.normal(25, 8, pairs // 20)
    sizes = list(range(1, 61))
    return {
        "entity_type": entity_type,
        "mentions": records,
        "entities": records // 2,
        "stats": {"candidate_pairs": pairs, "edges": pairs // 20, "held_back_pairs": 0},
        "thresholds": {
            k: {"probability": p, "weight": probability_weight(p)}
            for k, p in (("match", 0.9), ("review", 0.4), ("keep_pairs", 0.05))
        },
        "blocking": [
            {"rule": f"rule_{i}", "candidate_pairs": pairs // (i + 1), "new_pairs": pairs // (i + 1) // 2}
            for i in range(10)
        ],
        "weight_histogram": weight_histogram(weights),
        "m_u": [
            {"comparison": f"c{k}", "level": f"l{j}", "m": 1 / 3, "u": 1 / 3, "weight": 0.0}
            for k in range(10)
            for j in range(3)
        ],
        "cluster_sizes": [{"size": s, "clusters": max(1, records // 2 // s**3)} for s in sizes],
        "guard_splits": {"components": 0, "by_reason": {}, "largest": []},
    }


def _report_data(persons: int, pairs: int):
    import duckdb
    import numpy as np
    import pandas as pd
    from synth_tables import synthetic_tables

    from gridhub.runreport.figures import ReportData, snapshot_figures
    from gridhub.runreport.grids import GRID_SOURCE
    from warehouse.build import to_arrow
    from warehouse.metrics import grid_metrics
    from warehouse.settings import DEFAULT_GRID_NORMS

    tables = synthetic_tables(persons, seed=1)
    inputs = {n: tables[n] for n in ("person", "house", "organisation", "facility", "grid", "address")}
    tables["grid_metrics"] = to_arrow("grid_metrics", grid_metrics(**inputs, norms=DEFAULT_GRID_NORMS))
    con = duckdb.connect()
    for name, table in tables.items():
        con.register(name, table)
    t0 = time.perf_counter()
    by_street, by_level, id_history, grids = snapshot_figures(con)
    aggregated = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    feeds = [f"feed_{i}" for i in range(6)]
    intake = pd.DataFrame(
        {
            "feed": feeds,
            "department": feeds,
            "rows_read": persons,
            "rows_staged": persons,
            "rows_quarantined": 9,
        }
    )
    trend = pd.DataFrame(
        [
            {"run_id": f"run-{r:02d}", "published_at": "", "figure": f, "value": v}
            for r in range(10)
            for f, v in (("person entities", persons + r), ("address binding rate", 0.9))
        ]
    )
    data = ReportData(
        run_id="run-bench",
        published_at="",
        summary={"workspace": "bench", "address_binding_rate": 0.9},
        intake=intake,
        quarantine=pd.DataFrame({"feed": feeds, "reason_code": "ragged_row", "reason": "-", "rows": 9}),
        binding_by_street=by_street,
        binding_by_level=by_level,
        er={t: _diagnostics(rng, t, pairs, persons) for t in ("person", "house", "organisation", "facility")},
        id_history=id_history,
        validation=pd.DataFrame({"table": ["person", "house"], "passed": [20, 10], "failed": [0, 0]}),
        validation_failures=[],
        trend=trend,
        grids=grids,
        grid_source=GRID_SOURCE,
    )
    return data, aggregated, {n: t.num_rows for n, t in tables.items() if n in inputs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=5_000_000, help="scored candidate pairs per entity type")
    parser.add_argument("--quick", action="store_true", help="100,000 persons, 500,000 pairs")
    args = parser.parse_args(argv)
    persons, pairs = (100_000, 500_000) if args.quick else (args.persons, args.pairs)

    from playwright.sync_api import sync_playwright

    from gridhub.runreport.page import render

    data, aggregated, sizes = _report_data(persons, pairs)
    t0 = time.perf_counter()
    page, charts = render(data)
    rendered = time.perf_counter() - t0
    path = Path(tempfile.mkdtemp(prefix="gridhub-report-bench-")) / "report.html"
    path.write_text(page, encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        t0 = time.perf_counter()
        tab.goto(path.as_uri())
        tab.wait_for_function(
            f"document.querySelectorAll('figure.chart svg.main-svg').length >= {charts}", timeout=120_000
        )
        drawn = time.perf_counter() - t0
        browser.close()
    print(f"synthetic warehouse: {', '.join(f'{n} {v:,}' for n, v in sizes.items())}")
    print(f"aggregation (DuckDB): {aggregated:.2f} s; {len(data.grids):,} grids on the map")
    print(f"render: {rendered:.2f} s, {charts} charts, {len(page.encode()) / 1e6:.1f} MB ({path})")
    print(f"Chromium: every chart drawn {drawn:.2f} s after the page was asked for")
    return 0


if __name__ == "__main__":
    sys.exit(main())
