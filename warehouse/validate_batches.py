"""One table's suite run by Great Expectations in bounded batches, the outcomes merged into one per check.

A table of up to :data:`VALIDATE_ROWS` rows is one pandas batch, as it always was. A larger one (``source_xref``
has ≈ 4 M rows per million residents) would be a pandas frame of millions of rows, held several times over
inside Great Expectations while its metrics run; so its checks are split by what they need to see:

- **row checks** (not-null, patterns, check digits, value sets, bounds, references): a row's verdict depends on
  that row alone (and on the referenced key sets, registered once per validation), so the table is read
  :data:`VALIDATE_ROWS` rows at a time in file order, one Great Expectations run per batch;
- **key uniqueness** (``expect_column_values_to_be_unique``, ``expect_compound_columns_to_be_unique``): two
  rows with the same key always have the same hash of the key, so the key columns are split by
  ``hash(key) % parts`` (DuckDB, reading only the key columns) and each part is validated on its own: every
  duplicate is in one part with its twins, and the parts hold every row once;
- **row count** (the drift bound): a frame of the table's row count and no column.

Every check is still run by Great Expectations on every row; the outcomes of a check's batches are merged: it
succeeds when every batch does, counts add up, the examples are the first distinct ones in batch order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.build_sql import connect, quoted
from warehouse.expectations import Check
from warehouse.gx_runner import run_suite, used_columns
from warehouse.schema import Table
from warehouse.tablefiles import TableFiles, table_rows, table_schema
from warehouse.validation_report import EXAMPLES, ExpectationOutcome

#: Rows of one Great Expectations batch; a table with more is validated in batches (see the module's text).
VALIDATE_ROWS = 500_000
KEY_CHECKS = frozenset({"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"})
COUNT_CHECKS = frozenset({"expect_table_row_count_to_be_between"})


def table_outcomes(
    ns: SimpleNamespace,
    ctx: Any,
    source: Any,
    table: Table,
    tables: Mapping[str, pa.Table],
    checks: list[Check],
) -> list[ExpectationOutcome]:
    """One outcome per check of ``table`` (in ``checks`` order), validated in batches of at most
    :data:`VALIDATE_ROWS` rows."""
    name = table.name
    rows = table_rows(tables, name)
    if rows <= VALIDATE_ROWS:
        frame = tables[name].select(used_columns(checks, table.key)).to_pandas()
        return [merge_outcomes(o) for o in run_suite(ns, ctx, source, name, [frame], checks)]
    groups = {
        "rows": [i for i, c in enumerate(checks) if c.expectation not in KEY_CHECKS | COUNT_CHECKS],
        "key": [i for i, c in enumerate(checks) if c.expectation in KEY_CHECKS],
        "count": [i for i, c in enumerate(checks) if c.expectation in COUNT_CHECKS],
    }
    merged: dict[int, ExpectationOutcome] = {}
    for group, indices in groups.items():
        if not indices:
            continue
        group_checks = [checks[i] for i in indices]
        if group == "rows":
            frames = row_frames(tables, name, used_columns(group_checks, ()), rows)
        elif group == "key":
            frames = key_frames(tables, name, list(table.key), rows)
        else:
            frames = iter([pd.DataFrame(index=pd.RangeIndex(rows))])
        parts = run_suite(ns, ctx, source, f"{name}.{group}", frames, group_checks)
        merged |= {i: merge_outcomes(p) for i, p in zip(indices, parts, strict=True)}
    return [merged[i] for i in range(len(checks))]


def row_frames(
    tables: Mapping[str, pa.Table], name: str, columns: list[str], rows: int
) -> Iterator[pd.DataFrame]:
    """The table's ``columns`` in file order, :data:`VALIDATE_ROWS` rows at a time, as pandas frames."""
    if isinstance(tables, TableFiles):
        with pq.ParquetFile(tables.path(name)) as f:
            for batch in f.iter_batches(batch_size=VALIDATE_ROWS, columns=columns):
                yield pa.Table.from_batches([batch]).to_pandas()
        return
    data = tables[name].select(columns)
    for start in range(0, rows, VALIDATE_ROWS):
        yield data.slice(start, VALIDATE_ROWS).to_pandas()


def key_frames(
    tables: Mapping[str, pa.Table], name: str, key: list[str], rows: int
) -> Iterator[pd.DataFrame]:
    """The table's key columns split into ``ceil(rows / VALIDATE_ROWS)`` parts by the hash of the whole key:
    rows with equal keys are always in the same part. Each part as a pandas frame, in the file's types."""
    parts = math.ceil(rows / VALIDATE_ROWS)
    schema = pa.schema([table_schema(tables, name).field(k) for k in key])
    cols = ", ".join(quoted(k) for k in key)
    con = connect()
    try:
        if isinstance(tables, TableFiles):
            path = str(tables.path(name)).replace("'", "''")
            con.execute(f"CREATE VIEW keys AS SELECT {cols} FROM read_parquet('{path}')")
        else:
            con.register("keys_data", tables[name].select(key))
            con.execute(f"CREATE VIEW keys AS SELECT {cols} FROM keys_data")
        for part in range(parts):
            got = con.sql(f"SELECT {cols} FROM keys WHERE hash({cols}) % {parts} = {part}").arrow()
            yield pa.table(got).cast(schema).to_pandas()
    finally:
        con.close()


def merge_outcomes(parts: list[ExpectationOutcome]) -> ExpectationOutcome:
    """One check's outcome over all its batches: success only if every batch succeeded; counts summed."""
    first = parts[0]
    if len(parts) == 1:
        return first

    def total(values: list[int | None]) -> int | None:
        return None if all(v is None for v in values) else sum(v or 0 for v in values)

    return replace(
        first,
        success=all(p.success for p in parts),
        element_count=total([p.element_count for p in parts]),
        unexpected_count=total([p.unexpected_count for p in parts]),
        observed_value=next((p.observed_value for p in parts if p.observed_value is not None), None),
        examples=list(dict.fromkeys(e for p in parts for e in p.examples))[:EXAMPLES],
        error=next((p.error for p in parts if p.error), None),
    )
