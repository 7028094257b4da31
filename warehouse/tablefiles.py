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

import pyarrow as pa
import pyarrow.parquet as pq


class TableFiles(Mapping[str, pa.Table]):
    """``tables[name]`` reads ``<folder>/<name>.parquet`` (the last table read is kept) for each of ``names``."""

    def __init__(self, folder: Path, names: Iterable[str]) -> None:
        self.folder = Path(folder)
        self.names = list(names)
        self._last: tuple[str, pa.Table] | None = None

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


def table_rows(tables: Mapping[str, pa.Table], name: str) -> int:
    """Rows of table ``name`` (from the file's metadata for :class:`TableFiles`)."""
    return tables.rows(name) if isinstance(tables, TableFiles) else tables[name].num_rows


def table_schema(tables: Mapping[str, pa.Table], name: str) -> pa.Schema:
    """Schema of table ``name`` (from the file's footer for :class:`TableFiles`)."""
    return tables.schema(name) if isinstance(tables, TableFiles) else tables[name].schema


def table_column(tables: Mapping[str, pa.Table], name: str, column: str) -> pa.ChunkedArray:
    """One column of table ``name`` (only that column is read for :class:`TableFiles`)."""
    return tables.column(name, column) if isinstance(tables, TableFiles) else tables[name].column(column)
