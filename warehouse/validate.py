"""The validation gate: Great Expectations 1.x suites derived from the canonical schema (质量校验).

Every check comes from :data:`warehouse.schema.TABLES`, never from a hand-written list:

==========================  =========================================================================
schema fact                 expectation
==========================  =========================================================================
``key`` (one column)        ``expect_column_values_to_not_be_null`` + ``expect_column_values_to_be_unique``
``key`` (several columns)   not-null on each + ``expect_compound_columns_to_be_unique``
``nullable=False``          ``expect_column_values_to_not_be_null``
``pattern``                 ``expect_column_values_to_match_regex``
``partition_by`` column     not-null + its pattern: it names the hive folder (``street_code``: 9 digits or ``unknown``)
resident-ID pattern         + ``expect_column_values_to_be_valid_resident_id`` (GB 11643 check digit)
credit-code pattern         + ``expect_column_values_to_be_valid_credit_code`` (GB 32100 check char)
grid codes                  ``expect_column_values_to_match_regex`` ``^(\\d{W}|\\d{W+3})$`` (W = grid width)
``values``                  ``expect_column_values_to_be_in_set``
``bounds``                  ``expect_column_values_to_be_between`` (e.g. a rate in [0, 1], a count ≥ 0)
``references``              ``expect_column_values_to_reference_keys`` (every non-null id exists there)
previous snapshot           ``expect_table_row_count_to_be_between`` (drift bound; N → 0 always fails)
==========================  =========================================================================

A table that was empty in the previous snapshot has no baseline: its feeds had not arrived (only 市场监管's
organisations so far, say), and the first delivery may bring any number of rows, so it gets no drift check,
as on a first publish. In a table that holds several entity types (``source_xref``), the rows of such a type
are likewise new, and the drift bound is moved up by exactly their number.

Great Expectations has no cross-table expectation, and passing a million referenced keys as a value set makes
it serialise them into every result (minutes at 10⁶ rows). So referential integrity is a small custom
``ColumnMapExpectation`` whose metric looks the referenced key set up by name (``"house.house_id"``) for the
duration of one :func:`validate_tables` call; the check itself is one vectorised ``isin``.

The gate is four modules: :mod:`warehouse.expectations` derives the checks (pure Python),
:mod:`warehouse.gx_runner` runs them with Great Expectations (imported lazily, about 2.5 s, silenced),
:mod:`warehouse.validation_report` holds the results (examples of unexpected values scrubbed of ID numbers
and phones), and this module checks the schemas, runs every suite and writes the report. It re-exports the
names of the other three that callers use.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from warehouse.errors import GridhubError
from warehouse.expectations import (
    DRIFT_EXEMPT,
    DRIFT_MIN_ROWS,
    Check,
    build_checks,
    grid_code_regex,
    row_count_bounds,
    rows_without_baseline,
)
from warehouse.gx_runner import load_gx, pandas_source, reference_keys, reference_keysets
from warehouse.progress import Progress
from warehouse.schema import ENTITY_TYPES, TABLES, Table, arrow_schema, entity_type_column
from warehouse.snapshot_reuse import check_identity, validation_fingerprint
from warehouse.tablefiles import table_column, table_rows, table_schema
from warehouse.validate_batches import COUNT_CHECKS, table_outcomes
from warehouse.validation_report import ExpectationOutcome, ValidationReport

if TYPE_CHECKING:
    from warehouse.settings import WarehouseSettings

log = logging.getLogger(__name__)

__all__ = [
    "DRIFT_EXEMPT",
    "DRIFT_MIN_ROWS",
    "Check",
    "ExpectationOutcome",
    "SchemaMismatch",
    "ValidationReport",
    "build_checks",
    "check_schemas",
    "grid_code_regex",
    "row_count_bounds",
    "validate_tables",
]


class SchemaMismatch(GridhubError, TypeError):
    """A table handed to validation/publish is missing or its columns differ from ``arrow_schema``."""


def check_schemas(tables: Mapping[str, pa.Table]) -> None:
    """Raise :class:`SchemaMismatch` unless every table of TABLES is present with its canonical columns."""
    missing = sorted(set(TABLES) - set(tables))
    extra = sorted(set(tables) - set(TABLES))
    if missing or extra:
        raise SchemaMismatch(f"tables missing: {missing}; not in the schema: {extra}")
    for name in tables:
        want = arrow_schema(name)
        got = table_schema(tables, name)
        if got.names != want.names or any(g.type != w.type for g, w in zip(got, want, strict=True)):
            diff = [
                f"{w.name}: want {w.type}"
                + (f", got {got.field(w.name).type}" if w.name in got.names else ", missing")
                for w in want
                if w.name not in got.names or got.field(w.name).type != w.type
            ]
            extra_cols = [n for n in got.names if n not in want.names]
            raise SchemaMismatch(
                f"table {name}: columns differ from warehouse.schema — {diff}; extra {extra_cols}"
            )


def validate_tables(
    tables: Mapping[str, pa.Table],
    *,
    previous: dict | None,
    settings: WarehouseSettings,
    grid_code_width: int,
    report_dir: Path,
    title: str = "gridhub warehouse validation",
    reuse: Mapping[str, list[ExpectationOutcome]] | None = None,
    sources: Mapping[str, str] | None = None,
) -> ValidationReport:
    """Validate every canonical table with Great Expectations; write Data Docs into ``report_dir``.

    ``previous`` is the manifest of the current snapshot (``None`` on first publish: no drift checks).
    Returns a :class:`ValidationReport`; never raises for failed expectations (the caller decides), but
    raises :class:`SchemaMismatch` when a table is missing or has the wrong columns. ``tables`` may be a
    :class:`~warehouse.tablefiles.TableFiles`: a large table is then read in batches
    (:mod:`warehouse.validate_batches`), never whole.

    ``reuse``: per table, the outcomes the previous validation gave the same bytes
    (:func:`warehouse.snapshot_reuse.reusable_outcomes`); when they are those of the same checks, the table's
    checks but the row-count drift bound are taken from them instead of run again. ``sources``: the SHA-256
    of each table file, recorded in the report (what a later publish may reuse it for).
    """
    check_schemas(tables)
    ns = load_gx()  # the one-off import (about 2.5 s) is not counted in ``seconds``
    started = time.perf_counter()
    previous_rows = (previous or {}).get("row_counts") or {}
    outcomes: list[ExpectationOutcome] = []
    table_seconds: dict[str, float] = {}
    reused: list[str] = []
    with reference_keys(reference_keysets(tables)):
        ctx, source = pandas_source(ns)
        progress = Progress("validate", len(TABLES))
        for name, t in TABLES.items():
            table_started = time.perf_counter()
            prev = previous_rows.get(name) if previous is not None else None
            checks = build_checks(
                t,
                grid_code_width=grid_code_width,
                previous_rows=prev,
                drift=settings.row_count_drift,
                new_rows=rows_without_baseline(t, _type_column(tables, t, previous_rows), previous_rows)
                if prev
                else 0,
            )
            earlier = _same_checks(checks, (reuse or {}).get(name))
            if earlier is not None:
                reused.append(name)
                drift = table_outcomes(ns, ctx, source, t, tables, _drift(checks))
                outcomes.extend(_in_order(checks, earlier, drift))
            else:
                outcomes.extend(table_outcomes(ns, ctx, source, t, tables, checks))
            table_seconds[name] = time.perf_counter() - table_started
            rows = table_rows(tables, name)
            progress.advance(name, rows, rows)
    report = ValidationReport(
        success=all(o.success for o in outcomes),
        results=outcomes,
        data_docs_path=None,
        seconds=time.perf_counter() - started,
        row_counts={n: table_rows(tables, n) for n in TABLES},
        table_seconds=table_seconds,
        reused_tables=reused,
        sources=dict(sources or {}),
        fingerprint=validation_fingerprint(),
    )
    _write_report(report, report_dir, title)
    return report


def _drift(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.expectation in COUNT_CHECKS]


def _same_checks(
    checks: list[Check], earlier: list[ExpectationOutcome] | None
) -> list[ExpectationOutcome] | None:
    """``earlier``'s outcomes other than the drift bound, when they are those of exactly ``checks`` (drift bound
    aside) and all passed; else None (the table is validated again)."""
    if not earlier:
        return None
    mine = [
        check_identity(c.expectation, c.column, _shown(c.kwargs)) for c in checks if c not in _drift(checks)
    ]
    kept = [o for o in earlier if o.expectation not in COUNT_CHECKS]
    theirs = [check_identity(o.expectation, o.column, o.kwargs) for o in kept]
    return kept if mine == theirs and all(o.success for o in kept) else None


def _shown(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if k not in ("column", "column_list")}


def _in_order(
    checks: list[Check], kept: list[ExpectationOutcome], drift: list[ExpectationOutcome]
) -> list[ExpectationOutcome]:
    """The reused outcomes and the drift bound's new ones, in ``checks`` order."""
    kept_left, drift_left = iter(kept), iter(drift)
    return [next(drift_left if c.expectation in COUNT_CHECKS else kept_left) for c in checks]


def _type_column(tables: Mapping[str, pa.Table], t: Table, previous_rows: Mapping[str, int]) -> pa.Table:
    """The entity-type column of table ``t`` alone, read without the rest; no column when it has none or when
    every entity type has a baseline (the usual delta: nothing to count, nothing read)."""
    column = entity_type_column(t)
    if column is None or all(previous_rows.get(e) for e in ENTITY_TYPES):
        return pa.table({})
    return pa.table({column: table_column(tables, t.name, column)})


def _write_report(report: ValidationReport, report_dir: Path, title: str) -> None:
    """Data Docs (``index.html``) and ``validation.json`` into ``report_dir``; sets ``report.data_docs_path``."""
    from warehouse.data_docs import write_data_docs

    report.data_docs_path = write_data_docs(report, report_dir, title=title)
    (report_dir / "validation.json").write_text(
        json.dumps(report.to_dict(), ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    log.info(
        "validated %d tables, %d expectations, %d failed in %.2f s; data docs %s",
        len(TABLES),
        len(report.results),
        sum(not o.success for o in report.results),
        report.seconds,
        report.data_docs_path,
    )
