"""A run's warehouse tables as Parquet files, read one at a time (what ``publish`` validates and writes).

:class:`TableFiles` is a read-only mapping table name → ``pa.Table`` over ``<folder>/<name>.parquet``: a table
is read when asked for and only the last one read is kept, so validating and writing a snapshot (table after
table) holds one table in memory, not the whole warehouse. Row counts, schemas and single columns (the key
sets of referential checks) come from the files without reading the whole table: use :func:`table_rows`,
:func:`table_schema` and :func:`table_column`, which work the same on a plain ``dict`` of tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: Rows read at a time when checking a file's key order.
ORDER_BATCH_ROWS = 128 * 1024


class TableFiles(Mapping[str, pa.Table]):
    """``tables[name]`` reads ``<folder>/<name>.parquet`` (the last table read is kept) for each of ``names``."""

    def __init__(self, folder: Path, names: Iterable[str]) -> None:
        self.folder = Path(folder)
        self.names = list(names)
        self._last: tuple[str, pa.Table] | None = None
        self._ordered: dict[tuple[str, tuple[str, ...]], bool] = {}

    def path(self, name: str) -> Path:
        if name not in self.names:
            raise KeyError(name)
        return self.folder / f"{name}.parquet"

    def __getitem__(self, name: str) -> pa.Table:
        if self._last is None or self._last[0] != name:
            self._last = None  # let the previous table go before reading the next
            self._last = (name, pq.read_table(self.path(name)))
        return self._last[1]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def rows(self, name: str) -> int:
        return pq.ParquetFile(self.path(name)).metadata.num_rows

    def schema(self, name: str) -> pa.Schema:
        return pq.read_schema(self.path(name))

    def column(self, name: str, column: str) -> pa.ChunkedArray:
        return pq.read_table(self.path(name), columns=[column]).column(column)

    def columns(self, name: str, columns: list[str]) -> pa.Table:
        """Only ``columns`` of table ``name`` (the last whole table read is kept if it is that one)."""
        if self._last is not None and self._last[0] == name:
            return self._last[1].select(columns)
        return pq.read_table(self.path(name), columns=columns)

    def key_ordered(self, name: str, key: tuple[str, ...]) -> bool:
        """:func:`in_key_order` of the table's file, checked once per table (validation and writing ask)."""
        if (name, key) not in self._ordered:
            self._ordered[(name, key)] = in_key_order(self.path(name), key)
        return self._ordered[(name, key)]


def identity(order: pa.Array) -> bool:
    """Whether sort indices are ``0, 1, 2, ...`` (the rows already were in that order)."""
    return bool((order.to_numpy() == np.arange(len(order))).all())


def in_key_order(path: Path, key: tuple[str, ...]) -> bool:
    """Whether a table file's rows are in key order (ascending, nulls last, as the snapshot writer sorts),
    reading only the key columns a batch at a time (each batch checked with the last row of the one before)."""
    sort_keys = [(k, "ascending", "at_end") for k in key]
    previous: pa.Table | None = None
    with pq.ParquetFile(path) as f:
        for batch in f.iter_batches(batch_size=ORDER_BATCH_ROWS, columns=list(key)):
            keys = pa.Table.from_batches([batch])
            if previous is not None:
                keys = pa.concat_tables([previous, keys])
            if not identity(pc.sort_indices(keys, sort_keys=sort_keys)):
                return False
            previous = keys.slice(keys.num_rows - 1)
    return True


def table_rows(tables: Mapping[str, pa.Table], name: str) -> int:
    """Rows of table ``name`` (from the file's metadata for :class:`TableFiles`)."""
    return tables.rows(name) if isinstance(tables, TableFiles) else tables[name].num_rows


def table_schema(tables: Mapping[str, pa.Table], name: str) -> pa.Schema:
    """Schema of table ``name`` (from the file's footer for :class:`TableFiles`)."""
    return tables.schema(name) if isinstance(tables, TableFiles) else tables[name].schema


def table_columns(tables: Mapping[str, pa.Table], name: str, columns: list[str]) -> pa.Table:
    """Only ``columns`` of table ``name`` (only those are read for :class:`TableFiles`)."""
    return tables.columns(name, columns) if isinstance(tables, TableFiles) else tables[name].select(columns)


def table_column(tables: Mapping[str, pa.Table], name: str, column: str) -> pa.ChunkedArray:
    """One column of table ``name`` (only that column is read for :class:`TableFiles`)."""
    return tables.column(name, column) if isinstance(tables, TableFiles) else tables[name].column(column)
