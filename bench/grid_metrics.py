"""How long the grid metrics (``grid_metrics``, 网格指标) take on a city-sized warehouse.

Builds synthetic canonical tables around ``--persons`` residents (default 1,000,000; ``tests/synth_tables.py``,
about one basic grid per 1,200 persons and two micro-grids each), then times
:func:`warehouse.metrics.grid_metrics` (DuckDB over the Arrow tables) and the cast of its rows to the table's
Arrow schema, and prints the rows per level. Usage::

    .venv/bin/python bench/grid_metrics.py               # 1,000,000 persons
    .venv/bin/python bench/grid_metrics.py --quick       # 100,000 persons
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # synth_tables: the synthetic tables are test data, not in warehouse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 persons")
    args = parser.parse_args(argv)
    persons = 100_000 if args.quick else args.persons

    from synth_tables import synthetic_tables

    from warehouse.build import to_arrow
    from warehouse.metrics import grid_metrics
    from warehouse.settings import DEFAULT_GRID_NORMS

    t0 = time.perf_counter()
    tables = synthetic_tables(persons, seed=1)
    generated = time.perf_counter() - t0
    inputs = {n: tables[n] for n in ("person", "house", "organisation", "facility", "grid", "address")}
    t0 = time.perf_counter()
    rows = grid_metrics(**inputs, norms=DEFAULT_GRID_NORMS)
    computed = time.perf_counter() - t0
    t0 = time.perf_counter()
    table = to_arrow("grid_metrics", rows)
    cast = time.perf_counter() - t0
    sizes = ", ".join(f"{n} {t.num_rows:,}" for n, t in inputs.items())
    print(f"synthetic warehouse ({sizes}) in {generated:.1f} s")
    print(f"grid_metrics: {computed:.2f} s, cast to Arrow {cast:.2f} s, {table.num_rows:,} rows")
    print("rows per level:", rows["level"].value_counts().sort_index().to_dict())
    print("grids by size status:", rows["size_status"].value_counts().sort_index().to_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
