"""The declaration of ``grid_metrics`` (网格指标): the governance figures of every grid, community, street
and district, one row per unit and level.

It lives beside :mod:`warehouse.schema` (which lists it in ``TABLES`` like every other table) because that
module is full. The figures are defined once, with how each is computed, in ``docs/metrics.md``; the builder
is :mod:`warehouse.metrics`.

**One table with a ``level`` column, not three.** A grid, a community, a street and a district carry the same
figures with the same definitions, so one declaration, one validation suite and one file serve them all, and a
reader picks a level with one filter (``level = 'grid'``). The columns that only a grid has (its type, parent
and size against the norm) are null on the other levels.
"""

from __future__ import annotations

from warehouse.schema_base import (
    DIVISION_CODE_PATTERN,
    GRID_TYPES,
    STREET_CODE_PATTERN,
    Column,
    F,
    I,
    S,
    Table,
)

#: The levels of ``grid_metrics``, finest first: a grid (its micro-grids included), a community / village
#: (社区/村), a 街道/镇, a district (区/县).
METRIC_LEVELS = ("grid", "community", "street", "district")
#: A grid's size against its type's norm (``grid_norms`` in gridhub.yaml).
SIZE_STATUSES = ("below", "within", "above")
#: What a norm measures (the columns of ``grid_metrics`` it compares).
NORM_MEASURES = ("households", "residents", "organisations")
#: The code of a unit whose place is not known (a person with neither a bound residence nor a bound 户籍).
UNKNOWN_UNIT = "unknown"


def _count(name: str, doc: str) -> Column:
    return Column(name, I, doc, nullable=False, bounds=(0, None))


GRID_METRICS = Table(
    name="grid_metrics",
    chinese="网格指标",
    doc="Governance figures per grid (its micro-grids included), rolled up per community, street and district: "
    "households, residents by type, 人户分离, houses occupied and empty, organisations, facilities, 人房绑定 "
    "and address binding, and each grid's size against its type's norm. Every figure is defined in "
    "docs/metrics.md. One row per (`level`, `code`); the grid rows include every grid of the reference, "
    "empty ones with zeros.",
    key=("level", "code"),
    columns=(
        Column("level", S, "grid / community / street / district.", nullable=False, values=METRIC_LEVELS),
        Column(
            "code",
            S,
            "The unit's code: grid code, 12-digit community, 9-digit 街道/镇 or 6-digit district code; "
            f"'{UNKNOWN_UNIT}' for the persons and things whose place at that level is not known.",
            nullable=False,
        ),
        Column("name", S, "The unit's name (grid name, or the division's name from the address library)."),
        Column("grid_code", S, "The grid (grid rows only).", references="grid.grid_code"),
        Column("grid_type", S, "基础网格 / 微网格 / 专属网格 (grid rows only).", values=GRID_TYPES),
        Column(
            "parent_grid_code",
            S,
            "The grid a micro-grid belongs to (grid rows only).",
            references="grid.grid_code",
        ),
        Column(
            "community_code",
            S,
            "Community / village of the unit (grid and community rows).",
            pattern=DIVISION_CODE_PATTERN,
        ),
        Column(
            "street_code",
            S,
            "街道/镇 of the unit (grid, community and street rows; 'unknown' when not known).",
            pattern=STREET_CODE_PATTERN,
        ),
        _count(
            "persons",
            "实有人口 the unit answers for: residents, plus persons without a residence whose 户籍 is here.",
        ),
        _count("residents", "Persons whose current residence (居住) is in the unit."),
        _count("residents_huji", "Residents of population type 户籍."),
        _count("residents_liudong", "Residents of population type 流动."),
        _count("residents_jingwai", "Residents of population type 境外."),
        _count("residents_unknown_type", "Residents of population type 未知."),
        _count(
            "separated_persons",
            "人户分离 residents: 户籍 township known and not the residence's, or 流动 (户籍 outside the district). "
            "The feeds give no date of moving in, so the six-month condition is not checked.",
        ),
        _count("households", "户: houses of the unit with at least one current resident."),
        _count("houses", "实有房屋 of the unit."),
        _count("occupied_houses", "Houses with a current resident or an organisation operating there."),
        _count("empty_houses", "Houses neither lived in nor used by an organisation."),
        _count("organisations", "实有单位 whose grid (operating, else registered address) is in the unit."),
        _count("facilities", "实有设施 of the unit."),
        _count(
            "persons_bound", "Persons whose current residence is a house with a standard address (人房绑定)."
        ),
        _count("persons_unbound", "Persons without a bound residence: `persons` − `persons_bound`."),
        Column(
            "binding_rate",
            F,
            "人房绑定率: `persons_bound` / `persons`; null when the unit has no persons.",
            bounds=(0, 1),
        ),
        Column(
            "address_coverage",
            F,
            "Address-binding coverage: share of the unit's houses, organisations and facilities bound to a "
            "standard address; null when it has none.",
            bounds=(0, 1),
        ),
        Column(
            "norm_measure",
            S,
            "What the grid's size is measured in for its norm (grid rows with a norm only).",
            values=NORM_MEASURES,
        ),
        Column("norm_min", I, "Lower bound of that norm.", bounds=(0, None)),
        Column("norm_max", I, "Upper bound of that norm.", bounds=(0, None)),
        Column(
            "size_status",
            S,
            "The grid against its type's norm: below / within / above; null without a norm (other levels, or "
            "a type with no norm configured).",
            values=SIZE_STATUSES,
        ),
    ),
)
