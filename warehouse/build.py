"""Assemble the canonical warehouse tables from resolved entities (the "marts" of the warehouse).

Inputs are the bound mentions, the entity assignments and golden records from entity resolution, the links
between mentions of one record, and the reference data. The output is one ``pa.Table`` per table in
``warehouse.schema.TABLES``, each with exactly its Arrow schema and rows sorted by key, so the same inputs
always give byte-identical Parquet.

**One table, one builder.** Each table of :data:`~warehouse.schema.TABLES` has one builder, here or in
:mod:`warehouse.build_entities`, :mod:`warehouse.build_relations`, :mod:`warehouse.build_records`,
:mod:`warehouse.id_history`, :mod:`warehouse.metrics`: a function registered with ``@builds("<table>")`` that returns the table's rows as a
DataFrame (missing columns become null, extra ones are dropped), or, for the record-level tables of millions
of rows, with ``@builds_query("<table>")``: SQL that DuckDB runs over the inputs, streamed in record batches
(:mod:`warehouse.build_sql`). A builder reads the inputs from the :class:`Assembly` it is given, and another
table with ``assembly.frame("<table>")`` or, in its exact Arrow schema, ``assembly.table("<table>")`` (built
once, on first use). A new table is a schema entry plus a builder; :func:`assemble_tables` refuses to run
while a table has no builder.

:func:`assemble_tables` returns every table in memory; :func:`warehouse.build_files.write_tables` (what the
pipeline runs) builds the same tables from the run's Parquet files one at a time, each written before the
next is built. Both run the same builders the same way: an entity table (:data:`CHUNKED`) on chunks of golden
records, a relation table (``builds(table, rows=...)``, :data:`ROWS`) on chunks of its row query's rows, both
with what they look up by entity id read from DuckDB in id order (:mod:`warehouse.build_keyed`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.build_keyed import ENTITY_KEY, entity_lists_query
from warehouse.build_sql import BATCH_ROWS, Inputs, KeyedStream, connect, grouped, run_batches, sorted_batches
from warehouse.columns import arrow_column, sorted_distinct
from warehouse.errors import UserError
from warehouse.geo import wkb_from_wkt
from warehouse.progress import Progress
from warehouse.schema import (
    ENTITY_ID_COLUMN,
    ENTITY_TYPES,
    TABLES,
    arrow_schema,
    street_codes,
)
from warehouse.settings import DEFAULT_GRID_NORMS, SizeRange

log = logging.getLogger(__name__)
Builder = Callable[["Assembly"], pd.DataFrame]
#: A query builder: the table's SQL over :class:`~warehouse.build_sql.Inputs` and the inputs it reads.
QueryBuilder = Callable[["Inputs"], tuple[str, list[str]]]
#: Which address gives an organisation its grid (``org_grid_from``): ``operating`` = 经营地址 when bound, else
#: 注册地址 (the default: where the unit really is); ``registered`` = the other way round.
ORG_GRID_FROM = ("operating", "registered")


class BuildSettingError(UserError, ValueError):
    """A setting of the table assembly is not one of its allowed values."""


#: The builder of each table, by table name (filled by :func:`builds`).
BUILDERS: dict[str, Builder] = {}
#: The query builders (:mod:`warehouse.build_sql`), by table name (filled by :func:`builds_query`).
QUERIES: dict[str, QueryBuilder] = {}
#: The entity tables, built a chunk of golden records at a time (their builders read :meth:`Assembly.chunk`).
CHUNKED = tuple(ENTITY_TYPES)
#: The row query of each table built from one (``builds(table, rows=...)``): its rows in the order of the
#: table's first key; the builder is run on chunks that never split the rows of one key value.
ROWS: dict[str, Callable[[Inputs], tuple[str, list[str]] | None]] = {}
#: The order the tables are built in: ``TABLES``', but ``person`` after the tables it looks up (its home in
#: ``person_house``, that house in ``house``, its employer in ``person_organisation``).
BUILD_ORDER = (*[n for n in TABLES if n != "person"],)
BUILD_ORDER = (*BUILD_ORDER[: BUILD_ORDER.index("person_organisation") + 1], "person",
               *BUILD_ORDER[BUILD_ORDER.index("person_organisation") + 1 :])  # fmt: skip
_ISSUE_COLUMNS = TABLES["field_issue"].column_names
_LEGAL_REP_COLUMNS = ["org_id", "legal_rep_person_id", "legal_rep_link", "feed"]


def _register(registry: dict, kind: str, table: str) -> Callable:
    """A decorator registering its function in ``registry`` (:data:`BUILDERS` or :data:`QUERIES`) for ``table``."""

    def register(builder: Callable) -> Callable:
        if table not in TABLES:
            raise KeyError(f"@{kind}({table!r}): no such table in warehouse.schema.TABLES")
        if table in BUILDERS or table in QUERIES:
            raise ValueError(f"table {table} has two builders: {builder.__name__} and another")
        registry[table] = builder
        return builder

    return register


def builds(
    table: str, rows: Callable[[Inputs], tuple[str, list[str]] | None] | None = None
) -> Callable[[Builder], Builder]:
    """Register the decorated function as the builder of ``table`` (a name in ``TABLES``, one builder each);
    with ``rows``, the table's row query (:data:`ROWS`): the builder reads a chunk of its rows at a time."""
    if rows is not None:
        ROWS[table] = rows
    return _register(BUILDERS, "builds", table)


def builds_query(table: str) -> Callable[[QueryBuilder], QueryBuilder]:
    """Register the decorated function as the query builder of ``table`` (its rows streamed from DuckDB)."""
    return _register(QUERIES, "builds_query", table)


def to_arrow(name: str, df: pd.DataFrame, *, sort: bool = True) -> pa.Table:
    """Cast a frame to the canonical table's exact schema, sorted by key unless ``sort`` is false (rows
    already in key order); missing columns become null."""
    table = TABLES[name]
    df = df.copy()
    for col in table.columns:
        if col.name not in df.columns:
            df[col.name] = None
    df = df[table.column_names]
    if len(df) and sort:
        df = df.sort_values(list(table.key), kind="stable", na_position="last").reset_index(drop=True)
    arrays = [arrow_column(df[col.name], col.type) for col in table.columns]
    return pa.Table.from_arrays(arrays, schema=arrow_schema(table))


def check_assembly(org_grid_from: str) -> None:
    """Refuse an unknown ``org_grid_from`` and a table without a builder."""
    if org_grid_from not in ORG_GRID_FROM:
        raise BuildSettingError(
            f"organisation grid from {org_grid_from!r}: use one of {', '.join(ORG_GRID_FROM)} "
            "(operating = 经营地址 first, else 注册地址)"
        )
    missing = [name for name in TABLES if name not in BUILDERS and name not in QUERIES]
    if missing:
        raise LookupError(f"tables without a builder in warehouse.build: {missing}")


def assemble_tables(
    *,
    addresses: pd.DataFrame,
    grids: pd.DataFrame,
    priority: dict[str, int],
    mentions: dict[str, pd.DataFrame],
    assignments: dict[str, pd.DataFrame],
    golden: dict[str, pd.DataFrame],
    links: pd.DataFrame,
    issues: pd.DataFrame,
    bindings: pd.DataFrame,
    quarantine: pd.DataFrame,
    staged_issues: pd.DataFrame | None = None,
    org_grid_from: str = "operating",
    legal_reps: pd.DataFrame | None = None,
    id_history: pd.DataFrame | None = None,
    previous_id_history: pd.DataFrame | None = None,
    grid_norms: Mapping[str, Sequence[SizeRange]] | None = None,
) -> dict[str, pa.Table]:
    """Every canonical table, from the outputs of the earlier steps, in ``TABLES`` order.

    ``addresses`` and ``grids`` are the reference files (``standard_addresses.csv``, ``grids.csv``) as
    ``matching.reference.read_reference_csv`` reads them: every column text, ``""`` for an empty cell.
    ``priority`` is each feed's survivorship priority (``{feed name: priority}``, higher wins).
    ``issues`` are the field issues the mentions step found, ``staged_issues`` those staging found
    (``connectors.load_field_issues``: values staging nulled or noted); both are published in ``field_issue``.
    ``org_grid_from`` (one of :data:`ORG_GRID_FROM`) says which address gives an organisation its grid.
    ``legal_reps`` is each organisation's legal representative linked to a person (``matching.roles``:
    ``org_id``, ``legal_rep_person_id``, ``legal_rep_link``, ``feed``); without it those columns are null.
    ``id_history`` are this run's id changes (``matching.er``'s ``id_history`` frames of every entity type),
    ``previous_id_history`` the previous snapshot's table (:func:`warehouse.id_history.published_id_history`);
    ``grid_norms`` each grid type's sizing norm for ``grid_metrics`` (default ``DEFAULT_GRID_NORMS``).
    """
    check_assembly(org_grid_from)
    assembly = Assembly(
        addresses=addresses,
        grids=grids,
        priority=priority,
        mentions=mentions,
        assignments=assignments,
        golden=golden,
        links=links,
        issues=issues,
        bindings=bindings,
        quarantine=quarantine,
        staged_issues=staged_issues if staged_issues is not None else pd.DataFrame(columns=_ISSUE_COLUMNS),
        org_grid_from=org_grid_from,
        legal_reps=legal_reps,
        id_history=id_history,
        previous_id_history=previous_id_history,
        grid_norms=DEFAULT_GRID_NORMS if grid_norms is None else grid_norms,
    )
    progress, tables = Progress("build_tables", len(TABLES)), {}
    try:
        for name in BUILD_ORDER:  # one table at a time; a table's builder may use earlier ones
            tables[name] = assembly.table(name)
            assembly.built(name)
            progress.advance(name, tables[name].num_rows, tables[name].num_rows)
    finally:
        assembly.close()
    return {name: tables[name] for name in TABLES}


@dataclass
class Assembly:
    """The inputs of one :func:`assemble_tables` call, what several builders derive from them, and the frames
    built so far (:meth:`frame`)."""

    addresses: pd.DataFrame
    grids: pd.DataFrame
    priority: dict[str, int]
    mentions: dict[str, pd.DataFrame]
    assignments: dict[str, pd.DataFrame]
    golden: dict[str, pd.DataFrame]
    links: pd.DataFrame
    issues: pd.DataFrame
    bindings: pd.DataFrame
    quarantine: pd.DataFrame
    staged_issues: pd.DataFrame
    org_grid_from: str = "operating"
    legal_reps: pd.DataFrame | None = None
    id_history: pd.DataFrame | None = None
    previous_id_history: pd.DataFrame | None = None
    grid_norms: Mapping[str, Sequence[SizeRange]] = field(default_factory=lambda: DEFAULT_GRID_NORMS)

    inputs: Inputs | None = None
    #: Tables already written (``name → Parquet file``): :meth:`table` reads them back when asked again.
    written: dict[str, Path] = field(default_factory=dict)

    #: Golden records per chunk of an entity table (:data:`CHUNKED`; 0: the whole golden frame, or file, at
    #: once), and rows per chunk of a table built from its row query (:data:`ROWS`; 0: ``BATCH_ROWS``).
    chunk_rows: int = 0

    def __post_init__(self) -> None:
        self._frames: dict[str, pd.DataFrame] = {}
        self._tables: dict[str, pa.Table] = {}
        self._chunk: dict[str, pd.DataFrame | None] = {}
        self._streams: dict[tuple[str, str], KeyedStream] = {}
        self._db: Any = None
        if self.inputs is None:  # the query builders scan the frames given
            frames = {f"mentions_{t}": self.mentions[t] for t in ENTITY_TYPES}
            frames |= {f"assignments_{t}": self.assignments[t] for t in ENTITY_TYPES}
            self.inputs = Inputs(frames={**frames, "bindings": self.bindings, "links": self.links})
        self.inputs.frames = {**self.inputs.frames, "legal_reps": self.legal_rep_links}

    @property
    def db(self) -> Any:
        """The DuckDB database the streams of this assembly read from, each with a cursor of its own."""
        if self._db is None:
            assert self.inputs is not None
            self._db = connect(self.inputs.spill)
        return self._db

    def close(self) -> None:
        """Close every open stream and the database."""
        for stream in self._streams.values():
            stream.close()
        self._streams.clear()
        if self._db is not None:
            self._db.close()
            self._db = None

    def frame(self, table: str) -> pd.DataFrame:
        """The rows of ``table`` as its builder returns them (built on first use, then shared)."""
        if table not in self._frames:
            if table in QUERIES or table in self.written or table in CHUNKED or table in ROWS:
                return self.table(table).to_pandas()
            self._frames[table] = BUILDERS[table](self)
        return self._frames[table]

    def batches(self, name: str) -> Iterator[pa.Table]:
        """Table ``name`` a batch of rows at a time, each in its exact Arrow schema, in key order: an entity
        table a chunk of golden records at a time, a relation table a chunk of owners at a time, a query
        builder's table streamed from DuckDB, any other the whole table (:meth:`table`) as one batch."""
        if name in CHUNKED:
            yield from self._built_by_chunks(name, self._golden_chunks(name))
        elif name in ROWS:
            yield from self._built_by_chunks(name, self._row_chunks(name))
        elif name not in QUERIES:
            yield self.table(name)
        else:
            assert self.inputs is not None
            query, names = QUERIES[name](self.inputs)
            yielded = False
            for batch in run_batches(query, self.inputs, names, con=self.db):
                yielded = True
                yield to_arrow(name, batch.to_pandas(), sort=False)
            if not yielded:
                yield to_arrow(name, pd.DataFrame())

    def _built_by_chunks(self, name: str, chunks: Iterator[pd.DataFrame | None]) -> Iterator[pa.Table]:
        """Table ``name``, its builder run on each chunk of its driving rows in turn (:meth:`chunk`): the
        chunks follow the table's first key, so the tables come out in key order."""
        try:
            for chunk in chunks:
                self._chunk[name] = chunk
                yield self._cast(name, BUILDERS[name](self))
        finally:
            self._chunk.pop(name, None)
            for key in [k for k in self._streams if k[0] == name]:
                self._streams.pop(key).close()

    def chunk(self, name: str) -> pd.DataFrame | None:
        """The rows table ``name`` is being built from: a chunk of its golden records, or of its row query's
        rows (None: the query has no rows)."""
        return self._chunk[name]

    def _golden_chunks(self, name: str) -> Iterator[pd.DataFrame]:
        """The golden records of entity type ``name``, ``chunk_rows`` at a time in id order, read from the
        golden file (the whole frame when there is none, or no ``chunk_rows``), at least one chunk."""
        assert self.inputs is not None
        path = self.inputs.files.get(f"golden_{name}")
        if path is None or not self.chunk_rows:
            yield self.golden[name] if path is None else pq.read_table(path).to_pandas()
            return
        key = ENTITY_ID_COLUMN[name] if ENTITY_ID_COLUMN[name] in pq.read_schema(path).names else "entity_id"
        yielded = False
        for chunk in sorted_batches(path, key, self.chunk_rows, con=self.db):
            yielded = True
            yield chunk.to_pandas()
        if not yielded:
            yield pq.read_schema(path).empty_table().to_pandas()

    def _row_chunks(self, name: str) -> Iterator[pd.DataFrame | None]:
        """The rows of table ``name``'s row query, a chunk of about ``chunk_rows`` at a time that never splits
        the rows of one value of the table's first key (None once when the query has no rows)."""
        assert self.inputs is not None
        made = ROWS[name](self.inputs)
        if made is None:
            yield None
            return
        query, names = made
        yielded = False
        batches = run_batches(query, self.inputs, names, con=self.db)
        for rows in grouped(batches, TABLES[name].key[0], self.chunk_rows or BATCH_ROWS):
            yielded = True
            yield rows.to_pandas()
        if not yielded:
            yield None

    def keyed(self, table: str, what: str, made: tuple[str, list[str]]) -> dict[str, list]:
        """The rows of the per-entity query ``made`` (``_id`` order) for the entities of ``table``'s current
        chunk, as ``column → values``: those up to its last id (every row when the chunk is the whole golden
        frame; no columns when there are none). ``what`` names the stream among the table's."""
        stream = self._streams.get((table, what))
        if stream is None:
            assert self.inputs is not None
            query, names = made
            stream = KeyedStream(run_batches(query, self.inputs, names, con=self.db), ENTITY_KEY)
            self._streams[(table, what)] = stream
        chunk = self.chunk(table)
        assert chunk is not None  # an entity table's chunk: golden records
        id_col = ENTITY_ID_COLUMN[table] if ENTITY_ID_COLUMN[table] in chunk.columns else "entity_id"
        whole = not (self.chunk_rows and f"golden_{table}" in self.inputs.files)  # type: ignore[union-attr]
        rows = stream.upto(None if whole or not len(chunk) else chunk[id_col].iloc[-1])
        return {} if rows is None else rows.to_pydict()

    def _cast(self, name: str, df: pd.DataFrame) -> pa.Table:
        """A builder's rows in the table's exact Arrow schema, ``field_sources`` as JSON text."""
        text = df.get("field_sources")
        if text is not None and not (isinstance(text.dtype, pd.StringDtype) and not text.isna().any()):
            json_text = (
                v if isinstance(v, str) or v is None else json.dumps(v, ensure_ascii=False)
                for v in df["field_sources"]
            )
            df = df.assign(field_sources=list(json_text))
        return to_arrow(name, df)

    def table(self, name: str) -> pa.Table:
        """``name`` in its exact Arrow schema, ``field_sources`` as JSON text (cast on first use, then shared)."""
        if name not in self._tables:
            if name in self.written:
                return pq.read_table(self.written[name])
            if name in QUERIES or name in CHUNKED or name in ROWS:
                self._tables[name] = pa.concat_tables(list(self.batches(name)))
                return self._tables[name]
            self._tables[name] = self._cast(name, self.frame(name))
        return self._tables[name]

    def built(self, name: str) -> None:
        """Make table ``name`` (built: written, or in memory) one the queries of later tables read."""
        assert self.inputs is not None
        self.inputs.built[name] = self.written[name] if name in self.written else self.table(name)

    def scan(self, name: str) -> Any:
        """A built table for DuckDB to scan: its file as a dataset (read a column at a time), or the table."""
        if name in self.written:
            import pyarrow.dataset as ds

            return ds.dataset(self.written[name])
        return self.table(name)

    def forget(self, names: Sequence[str]) -> None:
        """Let the built frames and tables of ``names`` go (a streaming build, once no later table needs them)."""
        for name in names:
            self._frames.pop(name, None)
            self._tables.pop(name, None)

    @cached_property
    def legal_rep_links(self) -> pd.DataFrame:
        """``legal_reps`` with its columns, also when none was given."""
        return pd.DataFrame(self.legal_reps).reindex(columns=_LEGAL_REP_COLUMNS)

    @cached_property
    def reference_addresses(self) -> pd.DataFrame:
        """The standard address library with ``None`` for empty cells and numeric ``lon``/``lat``."""
        df = self.addresses.replace({"": None})
        for c in ("lon", "lat"):
            df[c] = pd.to_numeric(df[c], errors="coerce")
        return df

    @cached_property
    def division_of(self) -> dict[str, str]:
        """address code → its 12-digit division code."""
        a = self.reference_addresses
        return dict(zip(a["address_code"], a["division_code"], strict=True))

    @cached_property
    def township_of(self) -> dict[str, str]:
        """address code → its 9-digit 街道/镇 (the division code's first 9 digits)."""
        a = self.reference_addresses
        return dict(zip(a["address_code"], a["division_code"].str[:9], strict=True))

    def golden_records(self, entity_type: str, lists: Mapping[str, str] | None = None) -> pd.DataFrame:
        """The golden records of the chunk of an entity type being built, the id under its table's id column,
        with their ``sources`` (the sorted distinct feeds of their records) and, per ``output → mention
        column`` of ``lists``, the sorted distinct values of that column over their records (a list, or NaN
        when none)."""
        id_col = ENTITY_ID_COLUMN[entity_type]
        g = self.chunk(entity_type).rename(columns={"entity_id": id_col}).copy()  # type: ignore[union-attr]
        wanted = {"sources": "feed", **(lists or {})}
        assert self.inputs is not None
        found = self.keyed(entity_type, "lists", entity_lists_query(self.inputs, entity_type, wanted))
        for out in wanted:
            if out in found:
                lists = {i: v for i, v in zip(found[ENTITY_KEY], found[out], strict=True) if v is not None}
                g[out] = g[id_col].map(lists)
            elif out == "sources":
                g[out] = np.nan
        return g

    def street_code(self, frame: pd.DataFrame, address_code: pd.Series) -> list[str]:
        """The partition column ``street_code`` (街道/镇) of each row: from the row's ``grid_code``, else from
        the division code of ``address_code`` (see :func:`warehouse.schema.street_codes`)."""
        grid_code = frame["grid_code"] if "grid_code" in frame.columns else pd.Series(None, index=frame.index)
        division = address_code.map(self.division_of)
        return street_codes(
            *(pa.array(s.astype(object), pa.string(), from_pandas=True) for s in (grid_code, division))
        ).to_pylist()

    def street_code_by_address(self, frame: pd.DataFrame) -> list[str]:
        """:meth:`street_code` of a frame with an optional ``address_code`` column of its own."""
        no_address = pd.Series(None, index=frame.index, dtype=object)
        return self.street_code(frame, frame.get("address_code", no_address))


def _sources_of(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """One row per ``by`` group with the sorted distinct feeds of its rows as ``sources``."""
    return sorted_distinct(frame, by, "feed").reset_index().rename(columns={"feed": "sources"})


# ---- The builders, one per table ------------------------------------------------------------------------------
@builds("address")
def build_address(a: Assembly) -> pd.DataFrame:
    address = a.reference_addresses.copy()
    address["street_code"] = a.street_code(address, address["address_code"])
    return address


@builds("grid")
def build_grid(a: Assembly) -> pd.DataFrame:
    """The reference grids; ``geometry``: their WKT polygons as WKB (GeoParquet, :mod:`warehouse.geo`)."""
    grids = a.grids.replace({"": None})
    return grids.assign(geometry=wkb_from_wkt(grids.get("wkt", pd.Series(None, grids.index, object))))


# builders of their own modules, registered when imported
from warehouse import build_entities as _build_entities  # noqa: E402, F401
from warehouse import build_records as _build_records  # noqa: E402, F401
from warehouse import build_relations as _build_relations  # noqa: E402, F401
from warehouse import id_history as _id_history  # noqa: E402, F401
from warehouse import metrics as _metrics  # noqa: E402, F401
