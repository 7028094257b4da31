"""The staging contract: the canonical input fields a department feed may map its columns to (暂存层).

Staging only renames and casts (like dbt's ``stg_`` models): a feed's ``columns`` map its headers to the fields
of :data:`STAGING_FIELDS`, and its staged Parquet has the schema :func:`staging_schema` gives. The warehouse
tables of :mod:`warehouse.schema` hold the resolved entities; this module holds what comes before them.
:mod:`warehouse.schema` re-exports these names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa

S = pa.string()
D = pa.date32()
F = pa.float64()
I = pa.int64()  # noqa: E741 - a type alias, read as "int"
B = pa.bool_()


class FieldKind(StrEnum):
    TEXT = "text"
    DATE = "date"
    FLOAT = "float"
    BOOL = "bool"


#: A :attr:`ValueRule.max` meaning "the day staging runs": a birth date may be today, not tomorrow.
TODAY = "today"
#: The earliest date any date field may hold by default: older dates are typos (1090 for 1990) or
#: placeholders (0001-01-01).
EARLIEST_DATE = dt.date(1900, 1, 1)
#: The largest building area (m²) accepted by default: well above any single house, shop or plant in a grid;
#: a feed with larger premises raises it (``value_rules: {house_area: {max: ...}}``).
MAX_HOUSE_AREA = 100_000.0


@dataclass(frozen=True)
class ValueRule:
    """What a typed value must be to make sense (合理性): outside it, staging nulls the value and records a
    field issue (``date_out_of_range`` / ``number_out_of_range``). Bounds are inclusive except ``above``; a
    ``None`` bound is not checked. A feed overrides them per field with its ``value_rules`` key."""

    #: smallest allowed value (a date for date fields, a number for number fields)
    min: float | dt.date | None = None
    #: largest allowed value; for dates also :data:`TODAY`
    max: float | dt.date | str | None = None
    #: numbers only: the value must be greater than this (``0``: positive)
    above: float | None = None


@dataclass(frozen=True)
class StagingField:
    name: str
    kind: FieldKind
    doc: str
    #: An identifier written in digits (身份证号, 统一社会信用代码, 电话, record id): every digit counts, so a
    #: spreadsheet number cell holding one must still have all of them (see ``connectors.rules``).
    code: bool = False
    #: The default sanity rule of the field's values (dates and numbers); see :class:`ValueRule`.
    rule: ValueRule | None = None


_PAST_DATE = ValueRule(min=EARLIEST_DATE, max=TODAY)


STAGING_FIELDS: dict[str, StagingField] = {
    f.name: f
    for f in (
        StagingField("source_record_id", FieldKind.TEXT, "The record's id in its source.", code=True),
        StagingField(
            "record_date",
            FieldKind.DATE,
            "When the source last updated the record (for recency).",
            rule=_PAST_DATE,
        ),
        # person
        StagingField("name", FieldKind.TEXT, "姓名"),
        StagingField("id_number", FieldKind.TEXT, "身份证号 as given (normalised later).", code=True),
        StagingField("sex", FieldKind.TEXT, "性别, after the feed's value map (M/F/U)."),
        StagingField("birth_date", FieldKind.DATE, "出生日期", rule=_PAST_DATE),
        StagingField("ethnicity", FieldKind.TEXT, "民族"),
        StagingField("phone", FieldKind.TEXT, "联系电话", code=True),
        StagingField("population_type", FieldKind.TEXT, "人口类型: 户籍/流动/境外"),
        StagingField(
            "address", FieldKind.TEXT, "The address the record's relation points to (居住地址, 房屋地址...)."
        ),
        StagingField(
            "address_relation", FieldKind.TEXT, "户籍 / 居住 / 产权: how the person relates to `address`."
        ),
        StagingField("hukou_address", FieldKind.TEXT, "户籍地址"),
        StagingField("assistance_type", FieldKind.TEXT, "救助类型 (民政): the assistance a person receives."),
        # house
        StagingField("house_use", FieldKind.TEXT, "房屋用途"),
        StagingField(
            "house_area", FieldKind.FLOAT, "建筑面积 m²", rule=ValueRule(above=0.0, max=MAX_HOUSE_AREA)
        ),
        StagingField("rented", FieldKind.BOOL, "是否出租"),
        StagingField(
            "house_code", FieldKind.TEXT, "房屋编号: the department's own code for the house.", code=True
        ),
        # organisation
        StagingField("org_name", FieldKind.TEXT, "单位名称"),
        StagingField("credit_code", FieldKind.TEXT, "统一社会信用代码", code=True),
        StagingField("legal_rep", FieldKind.TEXT, "法定代表人"),
        StagingField(
            "legal_rep_id", FieldKind.TEXT, "法定代表人证件号码 as given (normalised later).", code=True
        ),
        StagingField(
            "org_phone",
            FieldKind.TEXT,
            "联系电话 of the organisation (a sole trader's often the operator's own mobile).",
            code=True,
        ),
        StagingField(
            "org_address",
            FieldKind.TEXT,
            "注册地址: the registered address (or the only address a feed gives).",
        ),
        StagingField(
            "org_business_address",
            FieldKind.TEXT,
            "经营地址: the operating address, where the unit really is.",
        ),
        StagingField("industry", FieldKind.TEXT, "行业"),
        StagingField("org_status", FieldKind.TEXT, "登记状态"),
        StagingField("established", FieldKind.DATE, "成立日期", rule=_PAST_DATE),
        # facility
        StagingField("facility_type", FieldKind.TEXT, "设施类型"),
        StagingField("facility_name", FieldKind.TEXT, "设施名称"),
        StagingField("responsible", FieldKind.TEXT, "责任单位/人"),
        StagingField("facility_status", FieldKind.TEXT, "设施状态"),
        StagingField("lon", FieldKind.FLOAT, "经度"),
        StagingField("lat", FieldKind.FLOAT, "纬度"),
    )
}

# Columns every staged row carries besides its mapped fields.
STAGING_META = (
    ("_feed", S),
    ("_raw_sha256", S),
    ("_line", I),
)

#: The last column of a feed that keeps other source columns (its ``attributes``): a JSON object as text.
ATTRIBUTES = "attributes"

_KIND_TYPES = {FieldKind.TEXT: S, FieldKind.DATE: D, FieldKind.FLOAT: F, FieldKind.BOOL: B}


def staging_schema(fields: list[str] | tuple[str, ...], *, attributes: bool = False) -> pa.Schema:
    """Arrow schema of a feed's staged Parquet: meta columns, then its mapped fields in contract order, then
    (``attributes``) the :data:`ATTRIBUTES` column."""
    unknown = set(fields) - set(STAGING_FIELDS)
    if unknown:
        raise KeyError(f"not staging fields: {sorted(unknown)}")
    ordered = [f for f in STAGING_FIELDS if f in set(fields)]
    return pa.schema(
        [pa.field(n, t) for n, t in STAGING_META]
        + [pa.field(n, _KIND_TYPES[STAGING_FIELDS[n].kind]) for n in ordered]
        + ([pa.field(ATTRIBUTES, S)] if attributes else [])
    )


#: The field issues staging writes beside each staged file: a value of a staged row that was dropped (nulled)
#: or, for ``date_format_not_listed``, kept but noted. The first five columns are the warehouse's
#: ``field_issue`` table; the others say where the value was.
STAGED_ISSUE_SCHEMA = pa.schema(
    [
        pa.field("feed", S, nullable=False),
        pa.field("source_record_id", S, nullable=False),
        pa.field("field", S, nullable=False),
        pa.field("reason_code", S, nullable=False),
        pa.field("original_value", S),
        pa.field("raw_sha256", S, nullable=False),
        pa.field("file_name", S),
        pa.field("line", I, nullable=False),
        pa.field("column", S),
        pa.field("message", S),
    ]
)
