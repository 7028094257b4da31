"""One table's suite run by Great Expectations in bounded batches, the outcomes merged into one per check.

A table of up to :data:`VALIDATE_ROWS` rows is one pandas batch of the columns its checks read. A larger one
(``source_xref`` has ≈ 4 M rows per million residents) would be a pandas frame of millions of rows, held several
times over inside Great Expectations while its metrics run; so it is read :data:`VALIDATE_ROWS` rows at a time
and its checks are split by what they need to see:

- **row checks** (not-null, patterns, check digits, value sets, bounds, references): a row's verdict depends on
  that row alone (and on the referenced key sets, registered once per validation), so any split will do;
- **key uniqueness** (``expect_column_values_to_be_unique``, ``expect_compound_columns_to_be_unique``): two rows
  with the same key must be in the same batch. A table file in key order (every table ``build_tables``
  writes; checked once on its key columns, :meth:`~warehouse.tablefiles.TableFiles.key_ordered`) has equal keys
  next to each other: it is read in file order and each batch's trailing rows that share the last row's key
  move to the next batch, so the row and key checks run together, one Great Expectations run per batch and one
  read of the file. Otherwise the key columns are split by ``hash(key) % parts`` (DuckDB, reading only the
  key columns) and each part is validated on its own: every duplicate is in one part with its twins;
- **row count** (the drift bound): a frame of the table's row count and no column.

Every check is still run by Great Expectations on every row; the outcomes of a check's batches are merged: it
succeeds when every batch does, counts add up, the examples are the first distinct ones in batch order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.build_sql import connect, quoted
from warehouse.expectations import Check
from warehouse.gx_runner import run_suite, used_columns
from warehouse.schema import Table
from warehouse.tablefiles import TableFiles, table_columns, table_rows, table_schema
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
    :data:`VALIDATE_ROWS` rows (a few more where equal keys straddle a batch's end)."""
    name = table.name
    rows = table_rows(tables, name)
    if rows <= VALIDATE_ROWS:
        frame = table_columns(tables, name, used_columns(checks, table.key)).to_pandas()
        return [merge_outcomes(o) for o in run_suite(ns, ctx, source, name, [frame], checks)]
    ordered = isinstance(tables, TableFiles) and tables.key_ordered(name, table.key)
    groups = {
        "rows": [
            i
            for i, c in enumerate(checks)
            if c.expectation not in COUNT_CHECKS and (ordered or c.expectation not in KEY_CHECKS)
        ],
        "key": [] if ordered else [i for i, c in enumerate(checks) if c.expectation in KEY_CHECKS],
        "count": [i for i, c in enumerate(checks) if c.expectation in COUNT_CHECKS],
    }
    merged: dict[int, ExpectationOutcome] = {}
    for group, indices in groups.items():
        if not indices:
            continue
        group_checks = [checks[i] for i in indices]
        if group == "rows" and ordered:
            assert isinstance(tables, TableFiles)
            frames = key_run_frames(tables.path(name), used_columns(group_checks, table.key), list(table.key))
        elif group == "rows":
            frames = row_frames(tables, name, used_columns(group_checks, ()), rows)
        elif group == "key":
            frames = key_frames(tables, name, list(table.key), rows)
        else:
            frames = iter([pd.DataFrame(index=pd.RangeIndex(rows))])
        parts = run_suite(ns, ctx, source, f"{name}.{group}", frames, group_checks)
        merged |= {i: merge_outcomes(p) for i, p in zip(indices, parts, strict=True)}
    return [merged[i] for i in range(len(checks))]


def key_run_frames(path: Path, columns: list[str], key: list[str]) -> Iterator[pd.DataFrame]:
    """A key-ordered table file's ``columns`` in file order, about :data:`VALIDATE_ROWS` rows at a time, as
    pandas frames; rows with equal keys (adjacent in such a file) are always in the same frame."""
    carry: pa.Table | None = None
    with pq.ParquetFile(path) as f:
        for batch in f.iter_batches(batch_size=VALIDATE_ROWS, columns=columns):
            data = pa.Table.from_batches([batch])
            if carry is not None:
                data = pa.concat_tables([carry, data])
            cut = data.num_rows - _last_key_run(data, key)
            carry = data.slice(cut)
            if cut:
                yield data.slice(0, cut).to_pandas()
    if carry is not None and carry.num_rows:
        yield carry.to_pandas()


def _last_key_run(data: pa.Table, key: list[str]) -> int:
    """How many rows at the end of ``data`` (sorted by ``key``) have the last row's key (nulls equal nulls)."""
    if data.num_rows == 0:
        return 0
    same = None
    for k in key:
        column = data.column(k)
        last = column[data.num_rows - 1]
        equal = pc.is_null(column) if not last.is_valid else pc.fill_null(pc.equal(column, last), False)
        same = equal if same is None else pc.and_(same, equal)
    return int(pc.sum(same).as_py() or 0) if same is not None else data.num_rows


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
