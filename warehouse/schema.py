"""The canonical schema of gridhub, defined once.

Every table the warehouse publishes, every column of it, its Arrow type, whether it is a key, which privacy
layer it belongs to and what it means is declared here and nowhere else. Writers take their Arrow schemas
from :func:`arrow_schema`; ``docs/warehouse.md`` is generated from :data:`TABLES`; the validation suites read
keys, references and code formats from the same objects. The building blocks (``Column``, ``Table``, layers,
code formats) are :mod:`warehouse.schema_base`, re-exported here.

The staging contract (``STAGING_FIELDS``: what a department feed may map its columns to) is
:mod:`warehouse.staging`; its names are re-exported here. Staging only renames and casts (like dbt's ``stg_``
models); the warehouse tables hold the resolved entities.
"""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa

from warehouse.geo import geo_metadata

# the building blocks, re-exported: the tables below are made of them, readers import them from here
from warehouse.schema_base import CREDIT_CODE_PATTERN as CREDIT_CODE_PATTERN
from warehouse.schema_base import DEFAULT_GRID_CODE_WIDTH as DEFAULT_GRID_CODE_WIDTH
from warehouse.schema_base import DIVISION_CODE_PATTERN as DIVISION_CODE_PATTERN
from warehouse.schema_base import GRID_TYPES as GRID_TYPES
from warehouse.schema_base import LIST_S as LIST_S
from warehouse.schema_base import RESIDENT_ID_PATTERN as RESIDENT_ID_PATTERN
from warehouse.schema_base import STREET_CODE_PATTERN as STREET_CODE_PATTERN
from warehouse.schema_base import UNKNOWN_STREET as UNKNOWN_STREET
from warehouse.schema_base import B as B
from warehouse.schema_base import Column as Column
from warehouse.schema_base import D as D
from warehouse.schema_base import F as F
from warehouse.schema_base import I as I  # noqa: E741
from warehouse.schema_base import Layer as Layer
from warehouse.schema_base import PIIKind as PIIKind
from warehouse.schema_base import S as S
from warehouse.schema_base import Table as Table
from warehouse.schema_base import house_relation_table
from warehouse.schema_base import street_code_column as _street_code
from warehouse.schema_base import street_codes as street_codes
from warehouse.schema_ids import id_history_table
from warehouse.schema_metrics import GRID_METRICS as GRID_METRICS
from warehouse.schema_records import ADDRESS_BINDING as ADDRESS_BINDING
from warehouse.schema_records import ADDRESS_REVIEW as ADDRESS_REVIEW
from warehouse.schema_records import BINDING_STATUSES as BINDING_STATUSES
from warehouse.schema_records import ENTITY_TYPES as ENTITY_TYPES
from warehouse.schema_records import FIELD_ISSUE as FIELD_ISSUE
from warehouse.schema_records import QUARANTINE as QUARANTINE
from warehouse.schema_records import column

# the staging contract, re-exported: feeds and connectors import it from here
from warehouse.staging import STAGING_FIELDS as STAGING_FIELDS
from warehouse.staging import FieldKind as FieldKind
from warehouse.staging import staging_schema as staging_schema

_c = column


SEX = ("M", "F", "U")
#: A grid polygon's WKT (``gridhub check`` parses each one with shapely before a run).
WKT_POLYGON_PATTERN = r"(?i)^\s*(?:MULTI)?POLYGON\b"
HOUSE_RELATIONS = ("户籍", "居住", "产权")
POPULATION_TYPES = ("户籍", "流动", "境外", "未知")
ORG_ADDRESS_RELATIONS = ("注册", "经营")
#: Evidence that a namesake is an organisation's 法定代表人, strongest first (see `matching.roles`), and how an
#: organisation's legal representative was linked to a person, or why not (`organisation.legal_rep_link`).
LEGAL_REP_EVIDENCE = (
    "id_typo",
    "id_birth",
    "id_masked",
    "address",
    "employment",
    "phone",
    "household_phone",
    "building",
    "grid",
)
_UNLINKED = "ambiguous_id no_person_with_id name_not_found ambiguous_name no_supporting_evidence"
LEGAL_REP_LINKS = ("id", *(f"name_and_{e}" for e in LEGAL_REP_EVIDENCE))
_WEAK = ("household_phone", "building", "grid")  # never support a name that only sounds the same
LEGAL_REP_LINKS += tuple(f"homophone_and_{e}" for e in LEGAL_REP_EVIDENCE if e not in _WEAK)
LEGAL_REP_LINKS += (*_UNLINKED.split(), "no_legal_rep")

ADDRESS = Table(
    name="address",
    chinese="标准地址",
    doc="The standard address library (标准地址库) as bound into this warehouse: one row per finest address "
    "(户室 in towns, 门牌 in villages).",
    key=("address_code",),
    partition_by=("street_code",),
    columns=(
        _c("address_code", S, "Standard address code from the workspace's address library.", nullable=False),
        _c(
            "division_code",
            S,
            "12-digit statistical code of the community / village (社区/村).",
            nullable=False,
            pattern=DIVISION_CODE_PATTERN,
        ),
        _c("province", S, "省"),
        _c("city", S, "市"),
        _c("district", S, "区/县"),
        _c("street", S, "街道/镇/乡"),
        _c("community", S, "社区/村"),
        _c("road", S, "街路巷 (urban) — empty in villages."),
        _c("villager_group", S, "村民小组 (rural) — empty in towns."),
        _c("house_number", S, "门牌号, digits only (e.g. '12')."),
        _c("estate", S, "小区 name, where there is one."),
        _c("building", S, "楼栋 number, digits only ('3' for 3栋/3幢/3号楼)."),
        _c("unit", S, "单元 number, digits only."),
        _c("floor", S, "楼层."),
        _c("room", S, "户室 number ('501')."),
        _c("standard_text", S, "The standard address written out in full.", nullable=False),
        _c("building_code", S, "Standard building code (标准建筑物编码)."),
        _c("grid_code", S, "Basic or micro grid the address lies in.", references="grid.grid_code"),
        _street_code(f"of the grid, else of `division_code` ('{UNKNOWN_STREET}' without either)"),
        _c("lon", F, "Longitude, WGS-84."),
        _c("lat", F, "Latitude, WGS-84."),
    ),
)

GRID = Table(
    name="grid",
    chinese="标准网格",
    doc="Standard grids: 基础网格 and 微网格 with their polygons and place in the hierarchy.",
    key=("grid_code",),
    columns=(
        _c(
            "grid_code",
            S,
            "Grid code: county 6 + street 3 + community 3 + sequence (width configurable).",
            nullable=False,
        ),
        _c("name", S, "Grid name.", nullable=False),
        _c("grid_type", S, "基础网格 / 微网格 / 专属网格.", values=GRID_TYPES),
        _c("parent_grid_code", S, "The basic grid a micro-grid belongs to.", references="grid.grid_code"),
        _c("community_code", S, "12-digit community / village code.", pattern=DIVISION_CODE_PATTERN),
        _c("street_code", S, "9-digit street / township code."),
        _c("district_code", S, "6-digit county / district code."),
        _c(
            "geometry",
            pa.binary(),
            "Polygon as WKB, WGS-84 lon/lat (OGC:CRS84): the GeoParquet geometry column, read as geometry by "
            "GeoPandas and DuckDB spatial.",
            geometry_types=("Polygon", "MultiPolygon"),
        ),
        _c(
            "wkt",
            S,
            "The same polygon in WKT text, for readers without GeoParquet (prefer `geometry`).",
            pattern=WKT_POLYGON_PATTERN,  # also keeps long coordinates from the shared layer's number scrubbing
        ),
        _c("valid_from", D, "Date the grid came into force."),
        _c("valid_to", D, "Date the grid was retired; null while current."),
    ),
)

PERSON = Table(
    name="person",
    chinese="实有人口",
    doc="Actual population: one golden record per resolved real person.",
    key=("person_id",),
    partition_by=("street_code",),
    columns=(
        _c("person_id", S, "Stable gridhub person id (P + 12 hex).", nullable=False),
        _c(
            "id_type",
            S,
            "Kind of identity document: 居民身份证 / 护照 / 其他.",
            values=("居民身份证", "护照", "其他"),
        ),
        _c(
            "id_number",
            S,
            "Resident ID number, 18 characters, check digit valid.",
            pii=PIIKind.RESIDENT_ID,
            pattern=RESIDENT_ID_PATTERN,
        ),
        _c("name", S, "Name, simplified Chinese, half-width.", nullable=False),
        _c(
            "name_pinyin",
            S,
            "Tone-less pinyin of the name, a fuzzy key for homophones.",
            derived_text=True,
        ),
        _c("sex", S, "M / F / U.", values=SEX),
        _c("birth_date", D, "Date of birth."),
        _c("ethnicity", S, "民族."),
        _c("phone", S, "Phone, normalised (mobile 11 digits, landline with area code).", pii=PIIKind.PHONE),
        _c("hukou_address_code", S, "户籍 address.", references="address.address_code"),
        _c("residence_house_id", S, "Current residence (居住).", references="house.house_id"),
        _c("population_type", S, "户籍 / 流动 / 境外 / 未知.", values=POPULATION_TYPES),
        _c("assistance_type", S, "救助类型 (民政): the assistance the person receives (低保, 特困, ...)."),
        _c("separated", B, "人户分离: living away from the hukou township."),
        _c("employer_org_id", S, "Current employer.", references="organisation.org_id"),
        _c("grid_code", S, "Grid of the current residence (进网入格).", references="grid.grid_code"),
        _street_code(f"of the grid, else of the residence's address ('{UNKNOWN_STREET}' without either)"),
        _c("sources", LIST_S, "Feeds that describe this person."),
        _c("field_sources", S, "JSON: for every surviving field, the feed and record it came from."),
    ),
)

HOUSE = Table(
    name="house",
    chinese="实有房屋",
    doc="Actual houses: one row per resolved house, bound to a standard address.",
    key=("house_id",),
    partition_by=("street_code",),
    columns=(
        _c("house_id", S, "Stable gridhub house id (H + 12 hex).", nullable=False),
        _c("address_code", S, "Standard address of the house.", references="address.address_code"),
        _c("address_text", S, "Best address text for the house (standard text where bound)."),
        _c("building_code", S, "Standard building code."),
        _c(
            "source_house_codes",
            LIST_S,
            "The departments' own codes for this house (房屋编号), sorted: every code any feed gives for a "
            "record resolved to the house, so a department finds its houses by its own code. Codes of "
            "different departments stand side by side; `source_xref` tells which feed and record each house "
            "came from.",
        ),
        _c("use", S, "Use of the house (住宅, 商业, ...)."),
        _c("area", F, "Floor area in m²."),
        _c("rented", B, "出租屋."),
        _c("grid_code", S, "Grid of the house.", references="grid.grid_code"),
        _street_code(f"of the grid, else of the address ('{UNKNOWN_STREET}' without either)"),
        _c("bind_level", S, "Finest level the address was matched to."),
        _c("sources", LIST_S, "Feeds that describe this house."),
    ),
)

ORGANISATION = Table(
    name="organisation",
    chinese="实有单位",
    doc="Actual organisations: one golden record per resolved organisation.",
    key=("org_id",),
    partition_by=("street_code",),
    columns=(
        _c("org_id", S, "Stable gridhub organisation id (O + 12 hex).", nullable=False),
        _c(
            "credit_code",
            S,
            "Unified social credit code (GB 32100), check character valid.",
            pattern=CREDIT_CODE_PATTERN,
        ),
        _c("name", S, "Registered name.", nullable=False),
        _c("former_names", LIST_S, "Other names seen in the feeds."),
        _c("org_type", S, "Organisation type from the credit code's first two characters."),
        _c("legal_rep", S, "Legal representative (法定代表人), by name."),
        _c(
            "legal_rep_person_id", S, "The person the legal representative is.", references="person.person_id"
        ),
        _c(
            "legal_rep_link",
            S,
            "How `legal_rep_person_id` was found or why it is null: `id` (a valid 法定代表人证件号码 equal to "
            "the person's), `name_and_<evidence>` (the one namesake with the most evidence: an ID one typo away, "
            "the birth date of the ID, the same address, employed there, the phone of someone living with them, "
            "the same building, the same grid for a name no other person has), `homophone_and_<evidence>`, else the reason "
            "(see docs/entity-resolution.md).",
            values=LEGAL_REP_LINKS,
        ),
        _c(
            "address_code",
            S,
            "Registered address (注册地址), or the only address the feeds give.",
            references="address.address_code",
        ),
        _c(
            "business_address_code",
            S,
            "Operating address (经营地址): where the organisation really is, when a feed gives it apart from "
            "the registered one.",
            references="address.address_code",
        ),
        _c("industry", S, "Industry."),
        _c("status", S, "Registration status."),
        _c("established", D, "Date established."),
        _c(
            "grid_code",
            S,
            "Grid of the organisation (进网入格): by default that of the operating address when it is bound, "
            "else that of the registered address (see `grid_basis`).",
            references="grid.grid_code",
        ),
        _c(
            "grid_basis",
            S,
            "Which address `grid_code` and `street_code` come from: 经营 (operating) / 注册 (registered); "
            "null when neither address is bound.",
            values=ORG_ADDRESS_RELATIONS,
        ),
        _street_code(f"of the grid, else of that address ('{UNKNOWN_STREET}' without either)"),
        _c("sources", LIST_S, "Feeds that describe this organisation."),
    ),
)

FACILITY = Table(
    name="facility",
    chinese="实有设施",
    doc="Actual facilities (hydrants, cameras, shelters...).",
    key=("facility_id",),
    partition_by=("street_code",),
    columns=(
        _c("facility_id", S, "Stable gridhub facility id (F + 12 hex).", nullable=False),
        _c("facility_type", S, "Type of facility.", nullable=False),
        _c("name", S, "Name."),
        _c("address_code", S, "Standard address, where known.", references="address.address_code"),
        _c("lon", F, "Longitude, WGS-84."),
        _c("lat", F, "Latitude, WGS-84."),
        _c("responsible", S, "Responsible party."),
        _c("status", S, "Status."),
        _c("grid_code", S, "Grid, by point-in-polygon or by address.", references="grid.grid_code"),
        _c("grid_conflict", B, "Address grid and coordinate grid disagree."),
        _street_code(f"of the grid, else of the address ('{UNKNOWN_STREET}' without either)"),
        _c("sources", LIST_S, "Feeds that describe this facility."),
    ),
)

PERSON_HOUSE = house_relation_table(
    owner="person",
    owner_id="person_id",
    owner_doc="Person.",
    chinese="人房关联",
    doc="Who is bound to which house, and how (户籍 / 居住 / 产权).",
    relations=HOUSE_RELATIONS,
)
ORGANISATION_HOUSE = house_relation_table(
    owner="organisation",
    owner_id="org_id",
    owner_doc="Organisation.",
    chinese="单位房屋关联",
    doc="Houses an organisation owns (产权), from owner columns that name companies (a feed's `owner_kind`).",
    relations=("产权",),
)

PERSON_ORGANISATION = Table(
    name="person_organisation",
    chinese="人员单位关联",
    doc="Employment (就业, from 人社) and legal representatives (法定代表人: the organisation's "
    "`legal_rep_person_id`, linked as its `legal_rep_link` says).",
    key=("person_id", "org_id", "relation"),
    columns=(
        _c("person_id", S, "Person.", nullable=False, references="person.person_id"),
        _c("org_id", S, "Organisation.", nullable=False, references="organisation.org_id"),
        _c("relation", S, "就业 / 法定代表人.", nullable=False, values=("就业", "法定代表人")),
        _c("sources", LIST_S, "Feeds that state the relation."),
    ),
)

ORGANISATION_ADDRESS = Table(
    name="organisation_address",
    chinese="单位地址关联",
    doc="Where an organisation is registered (注册: its `address_code`) or does business (经营: its "
    "`business_address_code`), one row per bound address each feed states.",
    key=("org_id", "address_code", "relation"),
    columns=(
        _c("org_id", S, "Organisation.", nullable=False, references="organisation.org_id"),
        _c("address_code", S, "Address.", nullable=False, references="address.address_code"),
        _c("relation", S, "注册 / 经营.", nullable=False, values=ORG_ADDRESS_RELATIONS),
        _c("sources", LIST_S, "Feeds that state the relation."),
    ),
)

SOURCE_XREF = Table(
    name="source_xref",
    chinese="来源对照",
    doc="Every input record and the entity it was resolved to.",
    key=("feed", "source_record_id", "entity_type"),
    columns=(
        _c("feed", S, "Feed name from gridhub.yaml.", nullable=False),
        _c("source_record_id", S, "The record's id in its source.", nullable=False),
        _c(
            "entity_type", S, "person / organisation / house / facility.", nullable=False, values=ENTITY_TYPES
        ),
        _c("entity_id", S, "Resolved entity id.", nullable=False),
        _c("score", F, "Match score of the record to its entity (1.0 = exact key)."),
        _c("method", S, "How the record was resolved (id_exact, probabilistic, singleton, address ...)."),
        _c("raw_sha256", S, "SHA-256 of the raw file the record came from."),
        _c("line", I, "Line of the record in that file."),
    ),
)

ID_HISTORY = id_history_table(ENTITY_TYPES)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        ADDRESS,
        GRID,
        PERSON,
        HOUSE,
        ORGANISATION,
        FACILITY,
        PERSON_HOUSE,
        ORGANISATION_HOUSE,
        PERSON_ORGANISATION,
        ORGANISATION_ADDRESS,
        SOURCE_XREF,
        QUARANTINE,
        ADDRESS_REVIEW,
        ADDRESS_BINDING,
        FIELD_ISSUE,
        ID_HISTORY,
        GRID_METRICS,
    )
}


#: The id column of each entity type's table (``person`` → ``person_id``): the key of the table of that name.
ENTITY_ID_COLUMN: dict[str, str] = {t: TABLES[t].key[0] for t in ENTITY_TYPES}


def entity_type_column(table: str | Table) -> str | None:
    """The column that names each row's entity type (one of :data:`ENTITY_TYPES`), if the table has one.

    ``source_xref.entity_type`` is such a column: its table holds rows of every entity type. The validation
    moves the row-count drift bound of such a table by the rows of entity types that are new.
    """
    t = TABLES[table] if isinstance(table, str) else table
    return next((c.name for c in t.columns if c.values == ENTITY_TYPES), None)


def arrow_schema(table: str | Table) -> pa.Schema:
    """The Arrow schema a canonical table is written with."""
    t = TABLES[table] if isinstance(table, str) else table
    geo = geo_metadata(t.columns)
    return pa.schema(
        [pa.field(c.name, c.type, nullable=c.nullable, metadata={"doc": c.doc}) for c in t.columns],
        metadata={"table": t.name, "doc": t.doc, **({"geo": json.dumps(geo)} if geo else {})},
    )


def schema_hash() -> str:
    """SHA-256 over every table's column names and types: changes whenever the contract changes."""
    spec = {t.name: [(c.name, str(c.type), c.nullable) for c in t.columns] for t in TABLES.values()}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
