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

Great Expectations is imported inside functions only (about 2.5 s); its loggers and progress bars are
silenced. Examples of unexpected values shown in failures and Data Docs are scrubbed of ID numbers and phones.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.errors import GridhubError
from warehouse.privacy import mask_values, scrub_text
from warehouse.schema import (
    CREDIT_CODE_PATTERN,
    ENTITY_TYPES,
    RESIDENT_ID_PATTERN,
    TABLES,
    Table,
    arrow_schema,
)

if TYPE_CHECKING:
    from warehouse.settings import WarehouseSettings

log = logging.getLogger(__name__)

#: Tables whose size is expected to swing: quarantine and review queues shrinking to 0 is the goal, not a
#: fault. They get no row-count drift check.
DRIFT_EXEMPT: frozenset[str] = frozenset({"quarantine", "address_review", "field_issue"})
#: Absolute slack added to the relative drift bound, so that a table of 5 facilities may become 9.
DRIFT_MIN_ROWS = 10
#: How many unexpected values a result keeps as examples.
EXAMPLES = 5
GRID_REFERENCE = "grid.grid_code"


class SchemaMismatch(GridhubError, TypeError):
    """A table handed to validation/publish is missing or its columns differ from ``arrow_schema``."""


# --------------------------------------------------------------------------------------------------------------
# Checks: what will be expected, derived from the schema (pure Python, no GX import)
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """One expectation on one table, as derived from the schema."""

    table: str
    expectation: str  # GX snake-case name, e.g. "expect_column_values_to_be_unique"
    column: str | None  # the column, "a, b" for compound keys, None for table-level
    kwargs: dict[str, Any] = field(default_factory=dict)
    why: str = ""

    def describe(self) -> str:
        shown = {k: v for k, v in self.kwargs.items() if k not in ("column", "column_list")}
        args = ", ".join(f"{k}={_short(v)}" for k, v in shown.items())
        return f"{self.expectation}({args})" if args else self.expectation


def _short(v: object, limit: int = 80) -> str:
    s = json.dumps(v, ensure_ascii=False, default=str) if not isinstance(v, str) else v
    return s if len(s) <= limit else s[: limit - 1] + "…"


def grid_code_regex(width: int) -> str:
    """Basic grids have ``width`` digits, micro-grids ``width + 3`` (a 3-digit sequence under their parent)."""
    return rf"^(?:[0-9]{{{width}}}|[0-9]{{{width + 3}}})$"


def row_count_bounds(previous_rows: int, drift: float) -> tuple[int, int]:
    """Allowed row counts given the previous snapshot's ``previous_rows``: ``N·(1 ± drift)`` widened by
    :data:`DRIFT_MIN_ROWS`, and never 0 when ``N > 0`` (a table emptying out is always a fault)."""
    slack = max(previous_rows * drift, DRIFT_MIN_ROWS)
    low = max(math.ceil(previous_rows - slack), 1 if previous_rows > 0 else 0)
    high = math.floor(previous_rows + slack)
    return low, high


def build_checks(
    table: Table | str,
    *,
    grid_code_width: int,
    previous_rows: int | None = None,
    drift: float | None = None,
    new_rows: int = 0,
) -> list[Check]:
    """Every check of one table. ``previous_rows`` None (first publish, or a new table) or 0 (the table was
    empty: no baseline) skips drift; ``new_rows`` of the table have no baseline either (they belong to entity
    types that were empty in the previous snapshot) and move both drift bounds up."""
    t = TABLES[table] if isinstance(table, str) else table
    checks: list[Check] = []

    def add(expectation: str, column: str | None, why: str, **kwargs: Any) -> None:
        if column is not None and "column_list" not in kwargs:
            kwargs = {"column": column, **kwargs}
        checks.append(Check(t.name, expectation, column, kwargs, why))

    # A key part the schema declares nullable (quarantine.column: a ragged row blames no column) may be null;
    # a single-column key never may.
    not_null = [c.name for c in t.columns if not c.nullable or (t.key == (c.name,))]
    for name in not_null:
        why = (
            "key column"
            if name in t.key
            else "partition column"
            if name in t.partition_by
            else "nullable=False"
        )
        add("expect_column_values_to_not_be_null", name, why)
    if len(t.key) == 1:
        add("expect_column_values_to_be_unique", t.key[0], "key")
    else:
        add("expect_compound_columns_to_be_unique", ", ".join(t.key), "compound key", column_list=list(t.key))
    for c in t.columns:
        is_grid = c.references == GRID_REFERENCE or f"{t.name}.{c.name}" == GRID_REFERENCE
        if c.pattern:
            why = "pattern (it names the partition folder)" if c.name in t.partition_by else "pattern"
            add("expect_column_values_to_match_regex", c.name, why, regex=c.pattern)
        if c.pattern == RESIDENT_ID_PATTERN:
            add("expect_column_values_to_be_valid_resident_id", c.name, "GB 11643 check digit")
        if c.pattern == CREDIT_CODE_PATTERN:
            add("expect_column_values_to_be_valid_credit_code", c.name, "GB 32100 check character")
        if is_grid:
            add(
                "expect_column_values_to_match_regex",
                c.name,
                "grid code format",
                regex=grid_code_regex(grid_code_width),
            )
        if c.values:
            add("expect_column_values_to_be_in_set", c.name, "value set", value_set=list(c.values))
        if c.references:
            add(
                "expect_column_values_to_reference_keys",
                c.name,
                "referential integrity",
                reference=c.references,
            )
    if previous_rows and drift is not None and t.name not in DRIFT_EXEMPT:
        low, high = row_count_bounds(previous_rows, drift)
        why = f"row-count drift vs previous snapshot ({previous_rows} rows, ±{drift:.0%})"
        if new_rows:
            why += f" + {new_rows} rows of entity types that had none"
        add(
            "expect_table_row_count_to_be_between",
            None,
            why,
            min_value=low + new_rows,
            max_value=high + new_rows,
        )
    return checks


def _entity_type_column(table: Table) -> str | None:
    """The column that names each row's entity type (``source_xref.entity_type``), if the table has one."""
    return next((c.name for c in table.columns if c.values == ENTITY_TYPES), None)


def _rows_without_baseline(table: Table, data: pa.Table, previous_rows: dict[str, int]) -> int:
    """Rows of ``data`` that belong to an entity type whose table (named after the type) was empty or absent in
    the previous snapshot: they came with a feed that had not arrived before, so no drift bound applies to them."""
    column = _entity_type_column(table)
    new_types = [e for e in ENTITY_TYPES if not previous_rows.get(e)]
    if column is None or not new_types:
        return 0
    return int(pc.sum(pc.is_in(data.column(column), value_set=pa.array(new_types))).as_py() or 0)


# --------------------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------------------
@dataclass
class ExpectationOutcome:
    """The result of one expectation, reduced to what a person reading a failure needs."""

    table: str
    expectation: str
    column: str | None
    success: bool
    detail: str  # the expectation with its arguments
    why: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    element_count: int | None = None
    unexpected_count: int | None = None
    observed_value: Any = None
    examples: list[str] = field(default_factory=list)
    error: str | None = None

    def message(self) -> str:
        """One line naming table, expectation, column and example values."""
        where = f"{self.table}: {self.expectation}"
        if self.column:
            where += f" on column {self.column}"
        if self.error:
            return f"{where} could not run: {self.error}"
        if self.expectation == "expect_table_row_count_to_be_between":
            low, high = self.kwargs.get("min_value"), self.kwargs.get("max_value")
            return f"{where} failed — {self.observed_value:,} rows; {self.why} allows {low:,}–{high:,}"
        parts = [f"{where} failed"]
        if self.unexpected_count is not None:
            parts.append(f"— {self.unexpected_count:,} of {self.element_count or 0:,} rows unexpected")
        if self.examples:
            parts.append("e.g. " + ", ".join(self.examples))
        if self.expectation == "expect_column_values_to_reference_keys":
            parts.append(f"(not found in {self.kwargs.get('reference')})")
        return " ".join(parts)


@dataclass
class ValidationReport:
    """Everything one validation produced; ``failures`` are the human messages of the failed ones."""

    success: bool
    results: list[ExpectationOutcome]
    data_docs_path: Path | None
    seconds: float
    row_counts: dict[str, int]
    table_seconds: dict[str, float] = field(default_factory=dict)  # GX time per suite

    @property
    def failures(self) -> list[str]:
        return [r.message() for r in self.results if not r.success]

    def for_table(self, table: str) -> list[ExpectationOutcome]:
        return [r for r in self.results if r.table == table]

    def to_dict(self) -> dict:
        return {
            "success": self.success,
            "seconds": round(self.seconds, 3),
            "expectations": len(self.results),
            "failed": sum(not r.success for r in self.results),
            "failures": self.failures,
            "row_counts": self.row_counts,
            "table_seconds": {k: round(v, 3) for k, v in self.table_seconds.items()},
            "data_docs": str(self.data_docs_path) if self.data_docs_path else None,
            "results": [asdict(r) for r in self.results],
        }


# --------------------------------------------------------------------------------------------------------------
# Great Expectations, imported lazily
# --------------------------------------------------------------------------------------------------------------
_REFERENCE_KEYS: dict[str, pa.Array] = {}
_REFERENCE_LOCK = threading.Lock()


@cache
def _gx() -> SimpleNamespace:
    """Import GX once, silence it, and define gridhub's three custom expectations."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.execution_engine import PandasExecutionEngine, pandas_execution_engine
    from great_expectations.expectations.expectation import ColumnMapExpectation
    from great_expectations.expectations.metrics.map_metric_provider import (
        ColumnMapMetricProvider,
        column_condition_partial,
    )

    from warehouse._codes import credit_code_valid, resident_id_valid

    _quiet_gx()
    # GX fingerprints every in-memory DataFrame under 1 GB (md5 over pandas' row hashes) for a batch marker
    # that nothing here reads: a quarter of the validation time at 10⁶ rows. A threshold of 0 skips it.
    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0

    def _mask_of(fn, column: pd.Series) -> pd.Series:
        ok = fn(pa.array(column, type=pa.large_string(), from_pandas=True))
        return pd.Series(pc.fill_null(ok, True).to_numpy(zero_copy_only=False), index=column.index)

    class ColumnValuesValidResidentId(ColumnMapMetricProvider):
        condition_metric_name = "column_values.gridhub_valid_resident_id"

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column, **kwargs):
            return _mask_of(resident_id_valid, column)

    class ColumnValuesValidCreditCode(ColumnMapMetricProvider):
        condition_metric_name = "column_values.gridhub_valid_credit_code"

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column, **kwargs):
            return _mask_of(credit_code_valid, column)

    class ColumnValuesReferenceKeys(ColumnMapMetricProvider):
        condition_metric_name = "column_values.gridhub_reference_keys"
        condition_value_keys = ("reference",)

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column, reference, **kwargs):
            keys = _REFERENCE_KEYS.get(reference)
            if keys is None:
                raise KeyError(f"no key set registered for {reference}")
            # pc.is_in directly: pandas' ArrowStringArray.isin builds its value set one scalar at a time
            values = pa.array(column, type=pa.large_string(), from_pandas=True)
            found = pc.is_in(values, value_set=keys)
            return pd.Series(pc.fill_null(found, True).to_numpy(zero_copy_only=False), index=column.index)

    class ExpectColumnValuesToBeValidResidentId(ColumnMapExpectation):
        """Values are 18-character resident ID numbers whose GB 11643 check digit is right."""

        map_metric = "column_values.gridhub_valid_resident_id"
        success_keys = ("mostly",)

    class ExpectColumnValuesToBeValidCreditCode(ColumnMapExpectation):
        """Values are unified social credit codes whose GB 32100 check character is right."""

        map_metric = "column_values.gridhub_valid_credit_code"
        success_keys = ("mostly",)

    class ExpectColumnValuesToReferenceKeys(ColumnMapExpectation):
        """Every non-null value exists as a key of the referenced ``table.column``."""

        reference: str
        map_metric = "column_values.gridhub_reference_keys"
        success_keys = ("reference", "mostly")

    custom = {
        "expect_column_values_to_be_valid_resident_id": ExpectColumnValuesToBeValidResidentId,
        "expect_column_values_to_be_valid_credit_code": ExpectColumnValuesToBeValidCreditCode,
        "expect_column_values_to_reference_keys": ExpectColumnValuesToReferenceKeys,
    }
    builtin = {
        "expect_column_values_to_not_be_null": gxe.ExpectColumnValuesToNotBeNull,
        "expect_column_values_to_be_unique": gxe.ExpectColumnValuesToBeUnique,
        "expect_compound_columns_to_be_unique": gxe.ExpectCompoundColumnsToBeUnique,
        "expect_column_values_to_match_regex": gxe.ExpectColumnValuesToMatchRegex,
        "expect_column_values_to_be_in_set": gxe.ExpectColumnValuesToBeInSet,
        "expect_table_row_count_to_be_between": gxe.ExpectTableRowCountToBeBetween,
    }
    return SimpleNamespace(
        gx=gx,
        classes={**builtin, **custom},
        _keep=(ColumnValuesValidResidentId, ColumnValuesValidCreditCode, ColumnValuesReferenceKeys),
    )


def _quiet_gx() -> None:
    """GX logs at INFO from many modules and sets some of their levels itself: raise them all to ERROR."""
    for name in list(logging.root.manager.loggerDict):
        if name == "great_expectations" or name.startswith("great_expectations."):
            logging.getLogger(name).setLevel(logging.ERROR)


def _context(gx: Any) -> Any:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _quiet_gx()

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


# --------------------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------------------
def check_schemas(tables: dict[str, pa.Table]) -> None:
    """Raise :class:`SchemaMismatch` unless every table of TABLES is present with its canonical columns."""
    missing = sorted(set(TABLES) - set(tables))
    extra = sorted(set(tables) - set(TABLES))
    if missing or extra:
        raise SchemaMismatch(f"tables missing: {missing}; not in the schema: {extra}")
    for name, data in tables.items():
        want = arrow_schema(name)
        got = data.schema
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


def _example(value: object, pii: bool) -> str:
    if isinstance(value, dict):
        return "(" + ", ".join(_example(v, pii) for v in value.values()) + ")"
    text = "null" if value is None else str(value)
    if pii:
        return mask_values(pa.array([text])).to_pylist()[0]
    return scrub_text(text)


def _outcome(check: Check, res: Any) -> ExpectationOutcome:
    t = TABLES[check.table]
    pii = bool(check.column and check.column in t.column_names and t.column(check.column).pii)
    result = res.result or {}
    info = res.exception_info or {}
    error = None
    if info.get("raised_exception"):
        error = str(info.get("exception_message") or "exception")
    examples = list(dict.fromkeys(_example(v, pii) for v in result.get("partial_unexpected_list") or []))[
        :EXAMPLES
    ]
    return ExpectationOutcome(
        table=check.table,
        expectation=check.expectation,
        column=check.column,
        success=bool(res.success) and error is None,
        detail=check.describe(),
        why=check.why,
        kwargs={k: v for k, v in check.kwargs.items() if k not in ("column", "column_list")},
        element_count=result.get("element_count"),
        unexpected_count=result.get("unexpected_count"),
        observed_value=result.get("observed_value"),
        examples=examples,
        error=error,
    )


def _frame(data: pa.Table, checks: list[Check], key: tuple[str, ...]) -> pd.DataFrame:
    """Only the columns some check reads go to pandas (lists and floats stay out)."""
    used: list[str] = list(key)
    for c in checks:
        for name in c.kwargs.get("column_list", [c.kwargs.get("column")]):
            if name and name not in used:
                used.append(name)
    return data.select(used).to_pandas()


def validate_tables(
    tables: dict[str, pa.Table],
    *,
    previous: dict | None,
    settings: WarehouseSettings,
    grid_code_width: int,
    report_dir: Path,
    title: str = "gridhub warehouse validation",
) -> ValidationReport:
    """Validate every canonical table with Great Expectations; write Data Docs into ``report_dir``.

    ``previous`` is the manifest of the current snapshot (``None`` on first publish: no drift checks).
    Returns a :class:`ValidationReport`; never raises for failed expectations (the caller decides), but
    raises :class:`SchemaMismatch` when a table is missing or has the wrong columns.
    """
    check_schemas(tables)
    ns = _gx()  # the one-off import (about 2.5 s) is not counted in ``seconds``
    started = time.perf_counter()
    previous_rows = (previous or {}).get("row_counts") or {}
    keysets: dict[str, pa.Array] = {}
    for t in TABLES.values():
        for c in t.columns:
            if c.references and c.references not in keysets:
                ref_table, ref_col = c.references.split(".")
                keys = pc.unique(tables[ref_table].column(ref_col).drop_null())
                keysets[c.references] = (
                    keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
                ).cast(pa.large_string())

    outcomes: list[ExpectationOutcome] = []
    table_seconds: dict[str, float] = {}
    with _REFERENCE_LOCK:
        _REFERENCE_KEYS.clear()
        _REFERENCE_KEYS.update(keysets)
        try:
            ctx = _context(ns.gx)
            source = ctx.data_sources.add_pandas("gridhub_warehouse")
            for name, t in TABLES.items():
                table_started = time.perf_counter()
                prev = previous_rows.get(name) if previous is not None else None
                new = _rows_without_baseline(t, tables[name], previous_rows) if prev else 0
                checks = build_checks(
                    t,
                    grid_code_width=grid_code_width,
                    previous_rows=prev,
                    drift=settings.row_count_drift,
                    new_rows=new,
                )
                suite = ns.gx.ExpectationSuite(name=f"gridhub.{name}")
                for i, check in enumerate(checks):
                    cls = ns.classes[check.expectation]
                    suite.add_expectation(cls(**check.kwargs, meta={"check": i}))
                suite = ctx.suites.add(suite)
                batch = (
                    source.add_dataframe_asset(name=name)
                    .add_batch_definition_whole_dataframe(f"{name}_all")
                    .get_batch(batch_parameters={"dataframe": _frame(tables[name], checks, t.key)})
                )
                res = batch.validate(
                    suite,
                    result_format={"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES * 4},
                )
                by_check = {r.expectation_config.meta["check"]: r for r in res.results}
                outcomes.extend(_outcome(check, by_check[i]) for i, check in enumerate(checks))
                table_seconds[name] = time.perf_counter() - table_started
        finally:
            _REFERENCE_KEYS.clear()

    report = ValidationReport(
        success=all(o.success for o in outcomes),
        results=outcomes,
        data_docs_path=None,
        seconds=time.perf_counter() - started,
        row_counts={n: tables[n].num_rows for n in TABLES},
        table_seconds=table_seconds,
    )
    from warehouse.data_docs import write_data_docs

    report.data_docs_path = write_data_docs(report, report_dir, title=title)
    (report_dir / "validation.json").write_text(
        json.dumps(report.to_dict(), ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    log.info(
        "validated %d tables, %d expectations, %d failed in %.2f s; data docs %s",
        len(TABLES),
        len(outcomes),
        sum(not o.success for o in outcomes),
        report.seconds,
        report.data_docs_path,
    )
    return report
