"""What a department feed is (the ``feeds:`` entries of a workspace's ``gridhub.yaml``), and the folders
ingest reads and writes.

The feed models live beside the connectors that read them; ``gridhub.config`` assembles them into the
workspace model. Connectors never import the application: they take a :class:`Zones` (the application's
``Workspace`` is one) and the :class:`Feed` specs through it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import urlsplit

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.limits import ValueRuleSpec, XlsxLimits, check_value_rules
from warehouse.schema import STAGING_FIELDS
from warehouse.staging import staging_schema

FEED_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
#: staging column of a ``delta`` feed with a ``deletion_marker``: the row says its record was deleted
DELETED_COLUMN = "_deleted"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileSource(_Strict):
    kind: Literal["file"] = Field(
        "file",
        description="A file feed: departments hand in files (portal, `gridhub land`, the landing folder).",
    )
    glob: str = Field(description="Glob under the feed's landing folder, e.g. '*.csv'.")
    format: Literal["csv", "xlsx", "auto"] = Field(
        "auto", description="csv | xlsx | auto (decided per file by its name and first bytes)."
    )
    encoding: str = Field("auto", description="auto | utf-8 | utf-8-sig | gb18030 | gbk | utf-16")
    delimiter: str = Field(",", description="Field separator of CSV files (a full-width ，is not one).")
    header_row: int = Field(1, ge=1, description="1-based line of the header.")
    sheet: str | int | None = Field(None, description="Sheet name or 0-based index for xlsx.")
    limits: XlsxLimits = Field(
        default_factory=XlsxLimits,
        description="Bounds on an xlsx workbook (inflated sizes, rows, columns, shared strings, cell length), "
        "checked while it streams; a workbook past one is refused. Defaults suit any department extract.",
    )


class SqlSource(_Strict):
    kind: Literal["sql"] = Field("sql", description="A database feed: rows pulled from a table or query.")
    url: str = Field(description="SQLAlchemy URL; use ${ENV} for credentials.")
    table: str | None = Field(None, description="Table to pull (give this or `query`).")
    query: str | None = Field(None, description="SELECT to pull (give this or `table`).")
    watermark: str | None = Field(None, description="Column that grows with every insert/update.")
    overlap_seconds: int = Field(
        300,
        ge=0,
        description="With a date-time watermark, each pull starts this many seconds before the last one's newest "
        "value, so a row committed late with an earlier value, or updated again within the same second, is "
        "not missed; rows already staged unchanged are dropped (by record id and content). 0 turns it off.",
    )
    batch_size: int = Field(50_000, ge=1, description="Rows fetched per round trip.")

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlSource:
        if bool(self.table) == bool(self.query):
            raise ValueError("give exactly one of 'table' or 'query'")
        return self


class DeletionMarker(_Strict):
    column: str = Field(description="Source column that says a record was deleted (注销标志, 删除标记).")
    values: list[str] = Field(
        min_length=1,
        description="Values of that column that mean deleted (1, 是, Y); any other value keeps it.",
    )

    @field_validator("values")
    @classmethod
    def _values(cls, v: list[str]) -> list[str]:
        blank = [x for x in v if not str(x).strip()]
        if blank:
            raise ValueError(f"deletion_marker values must not be empty: {blank}")
        return [str(x).strip() for x in v]


class Feed(_Strict):
    name: str = Field(description="Feed name: lower-case ascii, digits, `_` (used in paths and DAG ids).")
    department: str = Field(description="公安 / 民政 / 人社 / 市场监管 / 住建 / 应急管理 ...")
    description: str = Field(
        "",
        description="What the extract holds, shown in the portal and the DAG docs; its head (before the first "
        "bracket or comma) and the department name the feed's DAG in the Airflow UI (公安 · 实有人口).",
    )
    contact: str | None = Field(
        None,
        description="The department's data contact, a `mailto:` or http(s) link: the owner link of the feed's "
        "DAG in the Airflow UI.",
    )
    source: FileSource | SqlSource = Field(
        discriminator="kind", description="Where rows come from: a file source or a sql source (by `kind`)."
    )
    entities: list[Literal["person", "organisation", "house", "facility"]] = Field(
        description="The entity types one row carries (a 人社 row: a person and their employer)."
    )
    record_id: str = Field(description="Source column holding the record id.")
    columns: dict[str, str] = Field(description="Source header → canonical staging field.")
    value_maps: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Per staging field, source value → canonical value (性别 男 → M)."
    )
    date_formats: list[str] = Field(
        default_factory=lambda: ["%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y年%m月%d日"],
        description="The export's date formats (strptime), tried first; the common Chinese forms are tried "
        "after them, and a date read only by one of those is staged and noted as a field issue.",
    )
    required: list[str] = Field(default_factory=list, description="Canonical fields that must not be empty.")
    address_relation: Literal["户籍", "居住", "产权"] | None = Field(
        None, description="How persons relate to `address` when the feed has no address_relation column."
    )
    owner_kind: Literal["person", "organisation", "auto"] = Field(
        "person",
        description="What the row's person fields (name, id_number) name: a person, an organisation, or "
        "`auto` — decided per row by the shape of the ID (a credit code or 组织机构代码 is an organisation) "
        "and of the name (有限公司, 中心, 合作社 …). A 住建 产权人 column holds both.",
    )
    no_organisation: list[str] | None = Field(
        None,
        description="org_name values that mean the row names no organisation (个人参保, 灵活就业人员 …); "
        "such rows keep their person and get no employer. Omitted: the built-in list; [] turns it off.",
    )
    mode: Literal["delta", "full"] = Field(
        "delta",
        description="`delta`: each file adds or updates records (the latest row per record id wins; a "
        "`deletion_marker` removes one). `full`: each file is the whole table, and records absent from the "
        "latest full file are no longer current (the next run retires their entities).",
    )
    deletion_marker: DeletionMarker | None = Field(
        None,
        description="Delta feeds only: a source column and the values that mark a record as deleted; the "
        "record's latest row carrying one removes it from the current rows.",
    )
    priority: int = Field(50, description="Survivorship: higher wins when sources disagree.")
    max_field_length: int = Field(4096, ge=16, description="Longer values are a field issue (nulled).")
    number_units: list[str] = Field(
        default_factory=list,
        description="Units a number may end with, stripped before it is read (added to the area units "
        "㎡, m², m2, 平方米, 平米, 平方).",
    )
    value_rules: dict[str, ValueRuleSpec] = Field(
        default_factory=dict,
        description="Per date or number field, overrides of its sanity rule (`min`, `max`, `above`; dates "
        "also `max: today`): a value outside is nulled and noted as a field issue. Defaults: dates from "
        "1900-01-01 to today, house_area above 0 and at most 100000 m².",
    )
    attributes: list[str] | dict[str, str] = Field(
        default_factory=list,
        description="Other source columns to keep: a list of headers, or header → attribute name; staged "
        "as one JSON object text in the `attributes` column.",
    )

    @field_validator("contact")
    @classmethod
    def _contact(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = urlsplit(v.strip())
        if not (
            parts.path if parts.scheme == "mailto" else parts.scheme in ("http", "https") and parts.netloc
        ):
            raise ValueError(
                f"contact {v!r} must be a mailto: or http(s):// link (mailto:shuju@example.gov.cn)"
            )
        return v.strip()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not FEED_NAME.match(v):
            raise ValueError("feed names are lower-case ascii, digits and '_' (used in paths and DAG ids)")
        return v

    @model_validator(mode="after")
    def _fields(self) -> Feed:
        unknown = sorted(set(self.columns.values()) - set(STAGING_FIELDS))
        if unknown:
            raise ValueError(
                f"columns map to unknown canonical fields {unknown}; known: {sorted(STAGING_FIELDS)}"
            )
        if self.record_id not in self.columns:
            raise ValueError(f"record_id column {self.record_id!r} must also appear in 'columns'")
        if self.columns[self.record_id] != "source_record_id":
            raise ValueError(f"record_id column {self.record_id!r} must map to 'source_record_id'")
        targets = list(self.columns.values())
        dupes = sorted({t for t in targets if targets.count(t) > 1})
        if dupes:
            raise ValueError(f"several columns map to the same field {dupes}")
        for f in self.value_maps:
            if f not in targets:
                raise ValueError(f"value_maps names field {f!r}, which no column maps to")
        for f in self.required:
            if f not in targets:
                raise ValueError(f"required field {f!r} is not mapped by any column")
        check_value_rules(self.value_rules, targets)
        both = sorted(set(self.attribute_columns) & set(self.columns))
        if both:
            raise ValueError(f"attributes name columns already mapped in 'columns': {both}")
        names = list(self.attribute_columns.values())
        dupes = sorted({a for a in names if names.count(a) > 1 or not a.strip()})
        if dupes:
            raise ValueError(f"attribute names must be unique and not empty: {dupes}")
        return self

    @model_validator(mode="after")
    def _owner_and_employer(self) -> Feed:
        targets = set(self.columns.values())
        if self.owner_kind != "person":
            if "person" not in self.entities:
                raise ValueError(
                    f"owner_kind {self.owner_kind!r} reads the owner from the person fields (name, id_number): "
                    "add 'person' to entities, or leave owner_kind out"
                )
            if not targets & {"name", "id_number"}:
                raise ValueError(
                    f"owner_kind {self.owner_kind!r}: map the owner columns (产权人, 产权人证件号) to name and "
                    "id_number"
                )
            if "organisation" in self.entities:
                raise ValueError(
                    f"owner_kind {self.owner_kind!r} with 'organisation' in entities would give a row whose owner "
                    "is a company two organisations: describe the organisation columns in a feed of their own, "
                    "or set owner_kind: person"
                )
        self._check_mode()
        if self.no_organisation:
            if "org_name" not in targets:
                raise ValueError(
                    "no_organisation lists org_name values that mean 'no organisation', but no column maps to "
                    "org_name: map the employer column (单位名称) or leave no_organisation out"
                )
            blank = [v for v in self.no_organisation if not v.strip()]
            if blank:
                raise ValueError(
                    f"no_organisation: empty values {blank}; list the texts that mean no organisation "
                    "(个人参保, 灵活就业人员 …), or [] to turn the built-in list off"
                )
        return self

    def _check_mode(self) -> None:
        if self.mode == "full" and self.deletion_marker is not None:
            raise ValueError(
                "deletion_marker is for mode: delta; a full feed deletes a record by leaving it out of the next "
                "file: drop deletion_marker, or set mode: delta"
            )
        if self.mode == "full" and isinstance(self.source, SqlSource) and self.source.watermark:
            raise ValueError(
                "mode: full with a watermark: a pull by watermark holds only new and changed rows, not the whole "
                "table; drop the watermark (each pull is then the whole table), or set mode: delta"
            )
        if self.deletion_marker is not None and self.deletion_marker.column == self.record_id:
            raise ValueError(
                f"deletion_marker column {self.record_id!r} is the record id: name the column that marks a "
                "deleted record (注销标志)"
            )

    @property
    def attribute_columns(self) -> dict[str, str]:
        """Source header → attribute name of the columns kept in ``attributes`` (a list keeps the header)."""
        if isinstance(self.attributes, dict):
            return dict(self.attributes)
        return {h: h for h in self.attributes}

    @property
    def fields(self) -> list[str]:
        """Canonical fields this feed stages, in contract order."""
        mapped = set(self.columns.values())
        return [f for f in STAGING_FIELDS if f in mapped]

    @property
    def staging_schema(self) -> pa.Schema:
        """The Arrow schema of this feed's staged Parquet (its fields, and ``attributes`` when it keeps some)."""
        schema = staging_schema(self.fields, attributes=bool(self.attributes))
        if self.deletion_marker is not None:
            schema = schema.append(pa.field(DELETED_COLUMN, pa.bool_()))
        return schema


class Zones(Protocol):
    """The workspace folders ingest reads and writes, and the configured feeds.

    Implemented by the application's ``gridhub.workspace.Workspace``, the one place every path comes from.
    """

    @property
    def raw(self) -> Path: ...

    @property
    def locks(self) -> Path: ...

    @property
    def watermarks(self) -> Path: ...

    def landing_dir(self, feed: str) -> Path: ...

    def staging_dir(self, feed: str) -> Path: ...

    def quarantine_dir(self, feed: str) -> Path: ...

    def field_issue_dir(self, feed: str) -> Path: ...

    @property
    def feeds(self) -> Sequence[Feed]: ...

    def feed(self, name: str) -> Feed: ...


__all__ = ["DELETED_COLUMN", "FEED_NAME", "DeletionMarker", "Feed", "FileSource", "SqlSource", "Zones"]
