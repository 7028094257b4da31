"""Assemble the canonical warehouse tables from resolved entities (the "marts" of the warehouse).

Inputs are the bound mentions, the entity assignments and golden records from entity resolution, the links
between mentions of one record, and the reference data. The output is one ``pa.Table`` per table in
``warehouse.schema.TABLES``, each with exactly its Arrow schema and rows sorted by key, so the same inputs
always give byte-identical Parquet.

**One table, one builder.** Each table of :data:`~warehouse.schema.TABLES` has one builder here, a function
registered with ``@builds("<table>")`` that returns the table's rows as a DataFrame (missing columns become
null, extra ones are dropped). A builder reads the inputs from the :class:`Assembly` it is given, and another
table with ``assembly.frame("<table>")`` or, in its exact Arrow schema, ``assembly.table("<table>")`` (built
once, on first use). A new table is a schema entry plus a builder; :func:`assemble_tables` refuses to run
while a table has no builder.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa

from warehouse.columns import arrow_column, sorted_distinct
from warehouse.errors import UserError
from warehouse.geo import wkb_from_wkt
from warehouse.house_relations import house_relations
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
#: Which address gives an organisation its grid (``org_grid_from``): ``operating`` = 经营地址 when bound, else
#: 注册地址 (the default: where the unit really is); ``registered`` = the other way round.
ORG_GRID_FROM = ("operating", "registered")


class BuildSettingError(UserError, ValueError):
    """A setting of the table assembly is not one of its allowed values."""


#: The builder of each table, by table name (filled by :func:`builds`).
BUILDERS: dict[str, Builder] = {}
_ISSUE_COLUMNS = TABLES["field_issue"].column_names
_LEGAL_REP_COLUMNS = ["org_id", "legal_rep_person_id", "legal_rep_link", "feed"]


def builds(table: str) -> Callable[[Builder], Builder]:
    """Register the decorated function as the builder of ``table`` (a name in ``TABLES``, one builder each)."""

    def register(builder: Builder) -> Builder:
        if table not in TABLES:
            raise KeyError(f"@builds({table!r}): no such table in warehouse.schema.TABLES")
        if table in BUILDERS:
            raise ValueError(
                f"table {table} has two builders: {BUILDERS[table].__name__}, {builder.__name__}"
            )
        BUILDERS[table] = builder
        return builder

    return register


def to_arrow(name: str, df: pd.DataFrame) -> pa.Table:
    """Cast a frame to the canonical table's exact schema, sorted by key (missing columns become null)."""
    table = TABLES[name]
    df = df.copy()
    for col in table.columns:
        if col.name not in df.columns:
            df[col.name] = None
    df = df[table.column_names]
    if len(df):
        df = df.sort_values(list(table.key), kind="stable", na_position="last").reset_index(drop=True)
    arrays = [arrow_column(df[col.name], col.type) for col in table.columns]
    return pa.Table.from_arrays(arrays, schema=arrow_schema(table))


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
    if org_grid_from not in ORG_GRID_FROM:
        raise BuildSettingError(
            f"organisation grid from {org_grid_from!r}: use one of {', '.join(ORG_GRID_FROM)} "
            "(operating = 经营地址 first, else 注册地址)"
        )
    missing = [name for name in TABLES if name not in BUILDERS]
    if missing:
        raise LookupError(f"tables without a builder in warehouse.build: {missing}")
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

    def __post_init__(self) -> None:
        self._frames: dict[str, pd.DataFrame] = {}
        self._tables: dict[str, pa.Table] = {}

    def frame(self, table: str) -> pd.DataFrame:
        """The rows of ``table`` as its builder returns them (built on first use, then shared)."""
        if table not in self._frames:
            self._frames[table] = BUILDERS[table](self)
        return self._frames[table]

    def table(self, name: str) -> pa.Table:
        """``name`` in its exact Arrow schema, ``field_sources`` as JSON text (cast on first use, then shared)."""
        if name not in self._tables:
            df = self.frame(name)
            if "field_sources" in df.columns:
                json_text = (
                    v if isinstance(v, str) or v is None else json.dumps(v, ensure_ascii=False)
                    for v in df["field_sources"]
                )
                df = df.assign(field_sources=list(json_text))
            self._tables[name] = to_arrow(name, df)
        return self._tables[name]

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
        """For each entity type: record key → the entity id it was resolved to."""
        return {
            t: dict(zip(self.assignments[t]["record_key"], self.assignments[t]["entity_id"], strict=True))
            for t in ENTITY_TYPES
        }

    def golden_records(self, entity_type: str) -> pd.DataFrame:
        """The golden records of an entity type, the id under its table's id column, with their ``sources``."""
        id_col = ENTITY_ID_COLUMN[entity_type]
        g = self.golden[entity_type].rename(columns={"entity_id": id_col}).copy()
        m = self.mentions[entity_type][["record_key", "feed"]].merge(
            self.assignments[entity_type][["record_key", "entity_id"]], on="record_key"
        )
        g["sources"] = g[id_col].map(sorted_distinct(m, "entity_id", "feed"))
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


@builds("organisation")
def build_organisation(a: Assembly) -> pd.DataFrame:
    """Golden organisations; ``former_names``: every other name their mentions carry; ``grid_code``,
    ``grid_basis`` and ``street_code`` from the operating or the registered address (``org_grid_from``)."""
    org = a.golden_records("organisation").rename(columns={"org_name": "name", "org_status": "status"})
    names = a.mentions["organisation"][["record_key", "org_name"]].copy()
    names["org_id"] = names["record_key"].map(a.entity_of["organisation"])
    all_names = sorted_distinct(names, "org_id", "org_name")
    org["former_names"] = [
        [n for n in all_names.get(i, []) if n != cur]
        for i, cur in zip(org["org_id"], org["name"], strict=True)
    ]
    org["grid_code"], org["grid_basis"], place = _organisation_place(org, a.org_grid_from)
    org["street_code"] = a.street_code(org, place)
    reps = a.legal_rep_links.set_index("org_id")
    org["legal_rep_person_id"] = org["org_id"].map(reps["legal_rep_person_id"])
    org["legal_rep_link"] = org["org_id"].map(reps["legal_rep_link"])
    return org


def _organisation_place(org: pd.DataFrame, grid_from: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Each organisation's grid, the relation of the address it comes from (经营 / 注册) and that address's
    code: the preferred address (``grid_from``) when it is bound (to an address or a grid), else the other."""
    none = pd.Series(None, index=org.index, dtype=object)
    addresses = {
        "注册": (org.get("address_code", none), org.get("grid_code", none)),
        "经营": (org.get("business_address_code", none), org.get("business_grid_code", none)),
    }
    first, second = ("经营", "注册") if grid_from == "operating" else ("注册", "经营")
    (code_1, grid_1), (code_2, grid_2) = addresses[first], addresses[second]
    use_1 = code_1.notna() | grid_1.notna()
    use_2 = ~use_1 & (code_2.notna() | grid_2.notna())

    def choose(one: pd.Series, two: pd.Series) -> pd.Series:
        chosen = one.astype(object).where(use_1, two.astype(object).where(use_2))
        return chosen.where(chosen.notna(), None)

    basis = pd.Series(None, index=org.index, dtype=object).mask(use_2, second).mask(use_1, first)
    return choose(grid_1, grid_2), basis, choose(code_1, code_2)


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
    person_house, house = a.frame("person_house"), a.frame("house")
    current_home = person_house[
        (person_house["relation"] == "居住") & person_house["is_current"].astype(bool)
    ]
    home = dict(zip(current_home["person_id"], current_home["house_id"], strict=True))
    person["residence_house_id"] = person["person_id"].map(home)
    house_addr = dict(zip(house["house_id"], house["address_code"], strict=True))
    residence_address = person["residence_house_id"].map(house_addr)
    person["grid_code"] = person["residence_house_id"].map(
        dict(zip(house["house_id"], house["grid_code"], strict=True))
    )
    if "hukou_address_code" not in person.columns:
        person["hukou_address_code"] = None
    res_street = residence_address.map(a.township_of)
    hukou_street = person["hukou_address_code"].map(a.township_of)
    both = res_street.notna() & hukou_street.notna()
    person["separated"] = (both & (res_street != hukou_street)).where(both)
    person["population_type"] = _population_type(person)
    person["id_type"] = np.where(person["id_number"].notna(), "居民身份证", "其他")
    jobs = a.frame("person_organisation")
    employer = (
        jobs[jobs["relation"] == "就业"].sort_values(["person_id", "org_id"]).drop_duplicates("person_id")
    )
    person["employer_org_id"] = person["person_id"].map(
        dict(zip(employer["person_id"], employer["org_id"], strict=True))
    )
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


@builds("person_house")
def build_person_house(a: Assembly) -> pd.DataFrame:
    """Person–house relations over every feed that states them. A person has one current residence (居住): the
    one stated by the most authoritative, most recent source; the others get ``valid_to``."""
    return _house_relations(a, "person")


@builds("organisation_house")
def build_organisation_house(a: Assembly) -> pd.DataFrame:
    """Houses organisations own (产权), from owner columns that name companies; built like ``person_house``."""
    return _house_relations(a, "organisation")


def _house_relations(a: Assembly, owner_type: str) -> pd.DataFrame:
    table, house = f"{owner_type}_house", a.frame("house")
    return house_relations(
        a.links[a.links["kind"] == table],
        owner_of=a.entity_of[owner_type],
        house_of=a.entity_of["house"],
        priority=a.priority,
        owner_id=ENTITY_ID_COLUMN[owner_type],
        columns=TABLES[table].column_names,
        house_street=dict(zip(house["house_id"], house["street_code"], strict=True)),
    )


@builds("person_organisation")
def build_person_organisation(a: Assembly) -> pd.DataFrame:
    """就业 from the mention links (人社), and 法定代表人 for every organisation whose legal representative was
    linked to a person (``legal_reps``), with the feed that named the representative as its source."""
    po = a.links[a.links["kind"] == "person_organisation"].copy()
    po["person_id"] = po["from_key"].map(a.entity_of["person"])
    po["org_id"] = po["to_key"].map(a.entity_of["organisation"])
    reps = a.legal_rep_links.rename(columns={"legal_rep_person_id": "person_id"})
    reps = reps.dropna(subset=["person_id"]).assign(relation="法定代表人")
    both = pd.concat([po, reps[["person_id", "org_id", "relation", "feed"]]], ignore_index=True)
    return _sources_of(both.dropna(subset=["person_id", "org_id"]), ["person_id", "org_id", "relation"])


@builds("organisation_address")
def build_organisation_address(a: Assembly) -> pd.DataFrame:
    """Every bound address of every organisation mention: ``address_code`` as 注册, ``business_address_code``
    as 经营 (an address that is both gives two rows)."""
    om = a.mentions["organisation"]
    frames = [
        om[["record_key", "feed", column]].rename(columns={column: "address_code"}).assign(relation=relation)
        for column, relation in (("address_code", "注册"), ("business_address_code", "经营"))
        if column in om.columns
    ]
    if not frames:
        return pd.DataFrame(columns=TABLES["organisation_address"].column_names)
    rel = pd.concat(frames, ignore_index=True).dropna(subset=["address_code"])
    rel["org_id"] = rel["record_key"].map(a.entity_of["organisation"])
    return _sources_of(rel.dropna(subset=["org_id"]), ["org_id", "address_code", "relation"])


# builders of their own modules, registered when imported
from warehouse import build_records as _build_records  # noqa: E402, F401
from warehouse import id_history as _id_history  # noqa: E402, F401
from warehouse import metrics as _metrics  # noqa: E402, F401
