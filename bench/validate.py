"""How long Great Expectations takes to validate a large warehouse, next to writing it (publish).

Builds synthetic canonical tables around a person table of ``--persons`` rows (default 1,000,000; valid
GB 11643 IDs, valid credit codes, every reference resolving; vectorised), then

1. imports Great Expectations (once per process),
2. validates every table with :func:`warehouse.validate_tables` (the gate),
3. publishes them with :func:`warehouse.publish` into a temporary warehouse — which validates again and then
   writes both privacy layers to Parquet, fsyncs, writes the manifest and switches ``CURRENT``.

and prints a table: validation, the rest of publish (privacy transform + Parquet + fsync + switch), and the
share of validation in the publish step. Usage::

    .venv/bin/python bench/validate.py               # 1,000,000 persons
    .venv/bin/python bench/validate.py --quick       # 100,000 persons
    .venv/bin/python bench/validate.py --persons 250000 --keep  # keep the warehouse folder to look at
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # synth_tables: the synthetic tables are test data, not in warehouse


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(
        c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 persons")
    parser.add_argument("--keep", action="store_true", help="keep the temporary warehouse")
    args = parser.parse_args(argv)
    persons = 100_000 if args.quick else args.persons
    logging.basicConfig(level=logging.WARNING)

    from synth_tables import synthetic_tables

    from warehouse import publish, validate_tables
    from warehouse.gx_runner import load_gx
    from warehouse.settings import WarehouseSettings

    t0 = time.perf_counter()
    tables = synthetic_tables(persons, seed=1)
    t_gen = time.perf_counter() - t0
    rows = sum(t.num_rows for t in tables.values())

    t0 = time.perf_counter()
    load_gx()
    t_import = time.perf_counter() - t0

    work = Path(tempfile.mkdtemp(prefix="gridhub-bench-"))
    settings = WarehouseSettings()
    try:
        report = validate_tables(
            tables, previous=None, settings=settings, grid_code_width=15, report_dir=work / "report"
        )
        if not report.success:
            sys.stderr.write("\n".join(report.failures) + "\n")
            return 1
        t0 = time.perf_counter()
        snap = publish(
            work / "warehouse",
            tables,
            run_id="bench",
            lineage={"bench": True},
            settings=settings,
            grid_code_width=15,
            hmac_key=b"bench-key-" + b"x" * 22,
        )
        t_publish = time.perf_counter() - t0
        t_publish_validation = snap.report.seconds
        t_write = t_publish - t_publish_validation
        size = sum(p.stat().st_size for p in (work / "warehouse").rglob("*.parquet"))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print(
        f"\ngridhub bench/validate.py — person table {persons:,} rows, all 13 tables {rows:,} rows "
        f"({len(report.results)} expectations); synthetic data built in {t_gen:.1f} s\n"
    )
    widths = [58, 10, 10]
    print(_row(["step", "seconds", "share"], widths))
    print(_row(["-" * 58, "-" * 10, "-" * 10], widths))
    print(_row(["import great_expectations (once per process)", f"{t_import:.2f}", ""], widths))
    print(_row(["validate_tables (GX, every table)", f"{report.seconds:.2f}", ""], widths))
    print(_row(["  of which the person suite", f"{report.table_seconds.get('person', 0):.2f}", ""], widths))
    print(
        _row(
            [
                "publish: validation (the gate, second run)",
                f"{t_publish_validation:.2f}",
                f"{t_publish_validation / t_publish:.0%}",
            ],
            widths,
        )
    )
    print(
        _row(
            [
                "publish: privacy layers + Parquet + fsync + switch",
                f"{t_write:.2f}",
                f"{t_write / t_publish:.0%}",
            ],
            widths,
        )
    )
    print(_row(["publish total", f"{t_publish:.2f}", "100%"], widths))
    print(
        f"\nParquet written: {size / 1e6:.0f} MB in 2 layers; validation / writing = "
        f"{t_publish_validation / t_write:.2f}"
    )
    if args.keep:
        print(f"warehouse kept in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
