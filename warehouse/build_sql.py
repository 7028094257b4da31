"""Record-level tables built in DuckDB, streamed in record batches (``source_xref``, ``address_binding``,
``address_review``): the tables with one row per source record or address field, the largest of the warehouse
(millions of rows in a city), which pandas would hold whole.

A query builder (registered with :func:`~warehouse.build.builds_query`) returns SQL over the inputs as
:class:`Inputs` names them: ``mentions_<type>``, ``assignments_<type>``, ``bindings``, each with ``_rn``, the
row's position in its input (a Parquet file's row number, a frame's position). DuckDB reads a Parquet input
in place, larger than memory and on every core; a frame (the tests, :func:`~warehouse.build.assemble_tables`)
is scanned where it is. Each query gives the rows the pandas operations it replaces gave, in the table's key
order, ties in the order pandas kept them (``_rn``), so the table is the same whichever path built it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.schema import ENTITY_TYPES, TABLES

#: Rows per record batch fetched from DuckDB and cast to the table's schema.
BATCH_ROWS = 200_000
#: DuckDB's memory limit in the table assembly (what it holds beyond spills to disk).
DUCKDB_MEMORY = "1GB"
#: The mention columns ``source_xref`` takes (the rest of a mention stays in its file).
XREF_MENTION_COLUMNS = ("record_key", "feed", "source_record_id", "raw_sha256", "line")


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _order(columns: tuple[str, ...] | list[str]) -> str:
    """ORDER BY text: pandas' ``sort_values(na_position="last")`` over text keys (code point order = UTF-8
    byte order, DuckDB's default collation)."""
    return ", ".join(f"{quoted(c)} NULLS LAST" for c in columns)


@dataclass
class Inputs:
    """The inputs of the query builders: a Parquet file or a frame per name (``mentions_person``, ``bindings``…)."""

    files: Mapping[str, Path] = field(default_factory=dict)
    frames: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    #: Tables already built (``house``, ``person_house``…): their Parquet file, or the table in memory.
    built: dict[str, Path | pa.Table] = field(default_factory=dict)
    #: Where DuckDB spills what passes its memory limit (a temporary folder when None).
    spill: Path | None = None

    def has(self, name: str) -> bool:
        return name in self.files or name in self.frames

    def columns(self, name: str) -> list[str]:
        if name in self.files:
            return list(pq.read_schema(self.files[name]).names)
        return [str(c) for c in self.frames[name].columns]

    def register(self, con: Any, names: list[str]) -> None:
        """Make each of ``names`` a view of ``con`` (a connection or a cursor of its own) with the input's
        columns and ``_rn``; a built table's name, with its columns."""
        for name in names:
            if name in self.built:
                built = self.built[name]
                if isinstance(built, Path):
                    con.execute(
                        f"CREATE OR REPLACE TEMP VIEW {quoted(name)} AS "
                        f"SELECT * FROM read_parquet('{_literal(built)}')"
                    )
                else:
                    con.register(name, built)
            elif name in self.files:
                con.execute(
                    f"CREATE OR REPLACE TEMP VIEW {quoted(name)} AS SELECT * EXCLUDE (file_row_number), "
                    f"file_row_number AS _rn FROM read_parquet('{_literal(self.files[name])}', "
                    "file_row_number = true)"
                )
            else:
                frame = self.frames[name]
                con.register(f"{name}_frame", frame.assign(_rn=range(len(frame))))
                con.execute(
                    f"CREATE OR REPLACE TEMP VIEW {quoted(name)} AS SELECT * FROM {quoted(name + '_frame')}"
                )


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")


def select_list(name: str, available: list[str], alias: str = "") -> str:
    """The columns of table ``name`` an input has, for a SELECT (``alias.`` before each when given)."""
    prefix = f"{alias}." if alias else ""
    cols = [c for c in TABLES[name].column_names if c in available]
    return ", ".join(f"{prefix}{quoted(c)}" for c in cols)


def source_xref_query(inputs: Inputs) -> tuple[str, list[str]]:
    """Each entity type's assignments joined to their mentions (``merge(on="record_key")``), in key order."""
    parts, names = [], []
    for position, t in enumerate(ENTITY_TYPES):
        a_name, m_name = f"assignments_{t}", f"mentions_{t}"
        names += [a_name, m_name]
        from_mentions = [c for c in XREF_MENTION_COLUMNS if c != "record_key"]
        a_cols = [c for c in inputs.columns(a_name) if c not in from_mentions and c != "_rn"]
        m_cols = [c for c in inputs.columns(m_name) if c in from_mentions]
        selected = [
            *(f"a.{quoted(c)}" for c in TABLES["source_xref"].column_names if c in a_cols),
            *(f"m.{quoted(c)}" for c in TABLES["source_xref"].column_names if c in m_cols),
        ]
        parts.append(
            f"SELECT {', '.join(selected)}, '{t}' AS entity_type, {position} AS _t, a._rn AS _rn, "
            f"m._rn AS _mrn FROM {quoted(a_name)} a JOIN {quoted(m_name)} m USING (record_key)"
        )
    key = TABLES["source_xref"].key
    body = " UNION ALL BY NAME ".join(parts)
    return f"SELECT * EXCLUDE (_t, _rn, _mrn) FROM ({body}) ORDER BY {_order(key)}, _t, _rn, _mrn", names


def first_per_key_query(name: str, inputs: Inputs, where: str = "") -> tuple[str, list[str]]:
    """``bindings`` (filtered by ``where``), the first row of each key of table ``name`` that the input has
    (``drop_duplicates(keep="first")``), in the table's key order."""
    available = inputs.columns("bindings")
    dedupe = [c for c in TABLES[name].key if c in available]
    order = [c for c in TABLES[name].key if c in available]
    partition = ", ".join(quoted(c) for c in dedupe)
    qualify = f"QUALIFY row_number() OVER (PARTITION BY {partition} ORDER BY _rn) = 1" if dedupe else ""
    query = (
        f"SELECT {select_list(name, available)} FROM bindings {f'WHERE {where}' if where else ''} {qualify} "
        f"ORDER BY {_order(order) + ', ' if order else ''}_rn"
    )
    return query, ["bindings"]


def connect(spill: Path | None = None) -> Any:
    """A DuckDB database whose memory is bounded (:data:`DUCKDB_MEMORY`): larger sorts and joins spill to
    ``spill`` (a temporary folder when None), which DuckDB removes. Streams read side by side each use a
    cursor of it (``con.cursor()``): they share the one memory limit."""
    import duckdb

    spill = spill or Path(tempfile.gettempdir()) / f"gridhub-duckdb-{os.getpid()}"
    return duckdb.connect(
        config={
            "preserve_insertion_order": True,
            "memory_limit": DUCKDB_MEMORY,
            "temp_directory": str(spill),
        }
    )


def run_batches(
    query: str, inputs: Inputs, names: list[str], rows: int = 0, con: Any = None
) -> Iterator[pa.RecordBatch]:
    """The query's rows, ``rows`` (default :data:`BATCH_ROWS`) at a time (DuckDB spills a sort larger than
    its memory limit to disk), on a cursor of ``con`` (a database of its own when None)."""
    cur = connect(inputs.spill) if con is None else con.cursor()
    try:
        inputs.register(cur, names)
        yield from cur.sql(query).to_arrow_reader(rows or BATCH_ROWS)
    finally:
        cur.close()


def grouped(batches: Iterable[pa.RecordBatch], key: str, rows: int) -> Iterator[pa.Table]:
    """Batches in ``key`` order (no nulls) as tables of about ``rows`` rows or more, each ending where a key
    does: all the rows of a key are in one table."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        if held < rows:
            continue
        data = pa.Table.from_batches(pending)
        cut = pc.index(data.column(key), data.column(key)[-1]).as_py()
        if cut > 0:  # else one key holds every row so far: wait for its end
            yield data.slice(0, cut)
            pending, held = data.slice(cut).to_batches(), data.num_rows - cut
    if held:
        yield pa.Table.from_batches(pending)


class KeyedStream:
    """A stream of rows in ``key`` order (no nulls) read alongside another in that order: :meth:`upto` takes
    the rows up to a key, so the two are merged holding one chunk of each."""

    def __init__(self, batches: Iterator[pa.RecordBatch], key: str) -> None:
        self.batches, self.key = batches, key
        self._held: list[pa.RecordBatch] = []
        self._done = False

    def _last(self) -> Any:
        return self._held[-1].column(self.key)[-1].as_py()

    def upto(self, last: str | None) -> pa.Table | None:
        """The next rows whose key is at most ``last`` (all the rest when None); None when there are none."""
        while not self._done and (last is None or not self._held or self._last() <= last):
            batch = next(self.batches, None)
            if batch is None:
                self._done = True
            elif batch.num_rows:
                self._held.append(batch)
        if not self._held:
            return None
        data = pa.Table.from_batches(self._held)
        n = (
            data.num_rows
            if last is None
            else int(pc.sum(pc.less_equal(data.column(self.key), last)).as_py() or 0)
        )
        self._held = data.slice(n).to_batches()
        return data.slice(0, n)

    def close(self) -> None:
        close = getattr(self.batches, "close", None)
        if close is not None:
            close()


def in_key_order(path: Path, key: str) -> bool:
    """Whether a Parquet file's rows are already in ``key`` order (no nulls, never decreasing): only the key
    column is read."""
    keys = pq.read_table(path, columns=[key]).column(key)
    if keys.null_count or len(keys) < 2:
        return not keys.null_count
    return bool(pc.all(pc.greater_equal(keys[1:], keys[:-1])).as_py())


def sorted_batches(path: Path, key: str, rows: int, con: Any = None) -> Iterator[pa.Table]:
    """A Parquet file's rows in ``key`` order (nulls last, ties in file order), ``rows`` at a time, each in
    the file's own Arrow schema. A file already in key order (entity resolution writes its golden records
    so) is streamed as it is; another is sorted by DuckDB, spilling what passes its memory limit."""
    schema = pq.read_schema(path)
    source = str(path).replace("'", "''")
    order = "" if in_key_order(path, key) else f"ORDER BY {quoted(key)} NULLS LAST, file_row_number"
    con = connect() if con is None else con.cursor()
    try:
        query = f"SELECT * EXCLUDE (file_row_number) FROM read_parquet('{source}', file_row_number = true) {order}"
        for batch in con.sql(query).to_arrow_reader(rows):
            yield pa.Table.from_batches([batch]).cast(schema)
    finally:
        con.close()


__all__ = [
    "BATCH_ROWS",
    "Inputs",
    "KeyedStream",
    "grouped",
    "first_per_key_query",
    "run_batches",
    "sorted_batches",
    "source_xref_query",
]
