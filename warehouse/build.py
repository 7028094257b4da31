"""Assemble the canonical warehouse tables from resolved entities (the "marts" of the warehouse).

Inputs are the bound mentions, the entity assignments and golden records from entity resolution, the links
between mentions of one record, and the reference data. The output is one ``pa.Table`` per table in
``warehouse.schema.TABLES``, each with exactly its Arrow schema and rows sorted by key, so the same inputs
always give byte-identical Parquet.

**One table, one builder.** Each table of :data:`~warehouse.schema.TABLES` has one builder, here or in
:mod:`warehouse.build_relations`, :mod:`warehouse.build_records`, :mod:`warehouse.id_history`,
:mod:`warehouse.metrics`: a function registered with ``@builds("<table>")`` that returns the table's rows as a
DataFrame (missing columns become null, extra ones are dropped), or, for the record-level tables of millions
of rows, with ``@builds_query("<table>")``: SQL that DuckDB runs over the inputs, streamed in record batches
(:mod:`warehouse.build_sql`). A builder reads the inputs from the :class:`Assembly` it is given, and another
table with ``assembly.frame("<table>")`` or, in its exact Arrow schema, ``assembly.table("<table>")`` (built
once, on first use). A new table is a schema entry plus a builder; :func:`assemble_tables` refuses to run
while a table has no builder.

:func:`assemble_tables` returns every table in memory; :func:`warehouse.build_files.write_tables` (what the
pipeline runs) builds the same tables from the run's Parquet files one at a time, each written before the
next is built, and lets inputs go once no later table needs them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.build_sql import Inputs, run_batches, sorted_batches
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
#: The tables built a chunk of golden records at a time when the assembly has ``chunk_rows``.
CHUNKED = ("person",)
#: The mention columns the frame builders read (``source_xref`` reads its own from the file).
MENTION_COLUMNS = ("record_key", "feed", "house_code", "org_name", "address_code", "business_address_code")
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


def builds(table: str) -> Callable[[Builder], Builder]:
    """Register the decorated function as the builder of ``table`` (a name in ``TABLES``, one builder each)."""
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
    for name in TABLES:  # one table at a time, in TABLES order; a table's builder may use earlier frames
        tables[name] = assembly.table(name)
        progress.advance(name, tables[name].num_rows, tables[name].num_rows)
    return tables


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

    #: Build the tables of :data:`CHUNKED` this many golden records at a time (0: whole; needs the golden
    #: files among ``inputs``).
    chunk_rows: int = 0

    def __post_init__(self) -> None:
        self._frames: dict[str, pd.DataFrame] = {}
        self._tables: dict[str, pa.Table] = {}
        self._golden_chunk: dict[str, pd.DataFrame] = {}
        self._sources: dict[str, pd.Series] = {}
        if self.inputs is None:  # the query builders scan the frames given
            frames = {f"mentions_{t}": self.mentions[t] for t in ENTITY_TYPES}
            frames |= {f"assignments_{t}": self.assignments[t] for t in ENTITY_TYPES}
            self.inputs = Inputs(frames={**frames, "bindings": self.bindings})

    def frame(self, table: str) -> pd.DataFrame:
        """The rows of ``table`` as its builder returns them (built on first use, then shared)."""
        if table not in self._frames:
            if table in QUERIES or table in self.written:
                return self.table(table).to_pandas()
            self._frames[table] = BUILDERS[table](self)
        return self._frames[table]

    def batches(self, name: str) -> Iterator[pa.Table]:
        """Table ``name`` a batch of rows at a time, each in its exact Arrow schema, in key order: streamed from
        its query builder, else the whole table (:meth:`table`) as one batch."""
        if name in CHUNKED and self.chunk_rows and f"golden_{name}" in self.inputs.files:  # type: ignore[union-attr]
            yield from self._chunks(name)
            return
        if name not in QUERIES:
            yield self.table(name)
            return
        assert self.inputs is not None
        query, names = QUERIES[name](self.inputs)
        yielded = False
        for batch in run_batches(query, self.inputs, names):
            yielded = True
            yield to_arrow(name, batch.to_pandas(), sort=False)
        if not yielded:
            yield to_arrow(name, pd.DataFrame())

    def _chunks(self, name: str) -> Iterator[pa.Table]:
        """Table ``name`` built ``chunk_rows`` golden records at a time, read from the golden file in key order
        (its builder's rows depend on their own golden record and on lookups made once)."""
        assert self.inputs is not None
        path, yielded = self.inputs.files[f"golden_{name}"], False
        key = ENTITY_ID_COLUMN[name] if ENTITY_ID_COLUMN[name] in pq.read_schema(path).names else "entity_id"
        try:
            for chunk in sorted_batches(path, key, self.chunk_rows):
                self._golden_chunk[name] = chunk.to_pandas()
                yielded = True
                yield self._cast(name, BUILDERS[name](self))
        finally:
            self._golden_chunk.pop(name, None)
        if not yielded:
            yield self.table(name)

    def _cast(self, name: str, df: pd.DataFrame) -> pa.Table:
        """A builder's rows in the table's exact Arrow schema, ``field_sources`` as JSON text."""
        if "field_sources" in df.columns:
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
            if name in QUERIES:
                self._tables[name] = pa.concat_tables(list(self.batches(name)))
                return self._tables[name]
            self._tables[name] = self._cast(name, self.frame(name))
        return self._tables[name]

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

    @cached_property
    def entity_of(self) -> dict[str, dict[str, str]]:
        """For each entity type: record key → the entity id it was resolved to (made on first use of a type)."""
        return _EntityOf(self.assignments)

    def golden_records(self, entity_type: str) -> pd.DataFrame:
        """The golden records of an entity type (the chunk being built, in a chunked build), the id under its
        table's id column, with their ``sources``."""
        id_col = ENTITY_ID_COLUMN[entity_type]
        golden = self._golden_chunk.get(entity_type)
        g = (
            (self.golden[entity_type] if golden is None else golden)
            .rename(columns={"entity_id": id_col})
            .copy()
        )
        if entity_type not in self._sources:
            m = self.mentions[entity_type][["record_key", "feed"]].merge(
                self.assignments[entity_type][["record_key", "entity_id"]], on="record_key"
            )
            self._sources[entity_type] = sorted_distinct(m, "entity_id", "feed")
        g["sources"] = g[id_col].map(self._sources[entity_type])
        return g

    @cached_property
    def person_lookups(self) -> tuple[dict, dict, dict, dict]:
        """person → current home (居住) house, house → address code, house → grid, person → employer (就业,
        the first org id): what ``build_person`` looks up, made once."""
        person_house, house = self.frame("person_house"), self.frame("house")
        current_home = person_house[
            (person_house["relation"] == "居住") & person_house["is_current"].astype(bool)
        ]
        home = dict(zip(current_home["person_id"], current_home["house_id"], strict=True))
        house_addr = dict(zip(house["house_id"], house["address_code"], strict=True))
        house_grid = dict(zip(house["house_id"], house["grid_code"], strict=True))
        jobs = self.frame("person_organisation")
        employer = (
            jobs[jobs["relation"] == "就业"].sort_values(["person_id", "org_id"]).drop_duplicates("person_id")
        )
        return home, house_addr, house_grid, dict(zip(employer["person_id"], employer["org_id"], strict=True))

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


class _EntityOf(dict):
    """entity type → {record key → entity id}, each type's mapping made when first asked for."""

    def __init__(self, assignments: Mapping[str, pd.DataFrame]) -> None:
        super().__init__()
        self.assignments = assignments

    def __missing__(self, entity_type: str) -> dict[str, str]:
        a = self.assignments[entity_type]
        self[entity_type] = dict(zip(a["record_key"], a["entity_id"], strict=True))
        return self[entity_type]


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


@builds("house")
def build_house(a: Assembly) -> pd.DataFrame:
    """Golden houses; ``source_house_codes``: every department code (房屋编号) of their records, sorted."""
    house = a.golden_records("house").rename(columns={"house_use": "use", "house_area": "area"})
    mentions = a.mentions["house"]
    if "house_code" in mentions.columns:
        codes = mentions.loc[mentions["house_code"].notna(), ["record_key", "house_code"]].copy()
        codes["house_id"] = codes["record_key"].map(a.entity_of["house"])
        lists = sorted_distinct(codes, "house_id", "house_code")
        house["source_house_codes"] = house["house_id"].map(lists)
    house["street_code"] = a.street_code_by_address(house)
    return house


@builds("facility")
def build_facility(a: Assembly) -> pd.DataFrame:
    fac = a.golden_records("facility").rename(columns={"facility_name": "name", "facility_status": "status"})
    fac["street_code"] = a.street_code_by_address(fac)
    return fac


@builds("person")
def build_person(a: Assembly) -> pd.DataFrame:
    """Golden persons with their current residence (and its grid), 人户分离, population type, id type and
    current employer."""
    person = a.golden_records("person")
    home, house_addr, house_grid, employer = a.person_lookups
    person["residence_house_id"] = person["person_id"].map(home)
    residence_address = person["residence_house_id"].map(house_addr)
    person["grid_code"] = person["residence_house_id"].map(house_grid)
    if "hukou_address_code" not in person.columns:
        person["hukou_address_code"] = None
    res_street = residence_address.map(a.township_of)
    hukou_street = person["hukou_address_code"].map(a.township_of)
    both = res_street.notna() & hukou_street.notna()
    person["separated"] = (both & (res_street != hukou_street)).where(both)
    person["population_type"] = _population_type(person)
    person["id_type"] = np.where(person["id_number"].notna(), "居民身份证", "其他")
    person["employer_org_id"] = person["person_id"].map(employer)
    person["street_code"] = a.street_code(person, residence_address)
    return person


def _population_type(person: pd.DataFrame) -> pd.Series:
    """The stated 户籍 / 流动 / 境外, else 户籍 with a bound hukou address, 流动 with an unbound one, else 未知."""
    given = person.get("population_type", pd.Series(None, index=person.index)).where(
        lambda s: s.isin(["户籍", "流动", "境外"])
    )
    hukou_text = person.get("hukou_address_text", pd.Series(None, index=person.index))
    derived = np.where(
        person["hukou_address_code"].notna(), "户籍", np.where(pd.notna(hukou_text), "流动", "未知")
    )
    return given.fillna(pd.Series(derived, index=person.index))


# builders of their own modules, registered when imported
from warehouse import build_records as _build_records  # noqa: E402, F401
from warehouse import build_relations as _build_relations  # noqa: E402, F401
from warehouse import id_history as _id_history  # noqa: E402, F401
from warehouse import metrics as _metrics  # noqa: E402, F401
