"""The checks of the validation gate, derived from the canonical schema (pure Python, no Great Expectations).

:func:`build_checks` turns the facts :mod:`warehouse.schema` declares about a table (key, ``nullable``,
``pattern``, ``values``, ``references``, ``partition_by``) and the previous snapshot's row count into
:class:`Check` objects, each naming one Great Expectations expectation and its arguments; the table of which
fact gives which expectation is in :mod:`warehouse.validate`. :mod:`warehouse.gx` runs them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from warehouse.schema import (
    CREDIT_CODE_PATTERN,
    ENTITY_TYPES,
    RESIDENT_ID_PATTERN,
    TABLES,
    Table,
    entity_type_column,
)

#: Tables whose size is expected to swing: quarantine and review queues shrinking to 0 is the goal, not a
#: fault; ``id_history`` only grows, by however many ids a run merges, splits or retires. They get no
#: row-count drift check.
DRIFT_EXEMPT: frozenset[str] = frozenset({"quarantine", "address_review", "field_issue", "id_history"})
#: Absolute slack added to the relative drift bound, so that a table of 5 facilities may become 9.
DRIFT_MIN_ROWS = 10
GRID_REFERENCE = "grid.grid_code"


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


def _bounds_text(low: float | None, high: float | None) -> str:
    """``bounds [0, 1]``, ``bounds ≥ 0``, ``bounds ≤ 9``."""
    if low is not None and high is not None:
        return f"bounds [{low}, {high}]"
    return f"bounds ≥ {low}" if low is not None else f"bounds ≤ {high}"


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
        if c.bounds:
            lo, hi = c.bounds
            add(
                "expect_column_values_to_be_between", c.name, _bounds_text(lo, hi), min_value=lo, max_value=hi
            )
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


def rows_without_baseline(table: Table, data: pa.Table, previous_rows: dict[str, int]) -> int:
    """Rows of ``data`` that belong to an entity type whose table (named after the type) was empty or absent in
    the previous snapshot: they came with a feed that had not arrived before, so no drift bound applies to them."""
    column = entity_type_column(table)
    new_types = [e for e in ENTITY_TYPES if not previous_rows.get(e)]
    if column is None or not new_types:
        return 0
    return int(pc.sum(pc.is_in(data.column(column), value_set=pa.array(new_types))).as_py() or 0)
