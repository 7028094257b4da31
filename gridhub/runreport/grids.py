"""Grids against their size norm, for the run report's map and its table of grids outside the norm.

:func:`grid_households` is the one function the report calls. Until the grid-metrics tables of issue #16 are
in the warehouse it is :func:`grid_households_from_snapshot`, which counts households from the snapshot's
``house`` and ``person_house`` tables with the norms of docs/domain.md; switching the report to the metrics
tables means pointing :func:`grid_households` at a function returning the same :data:`GRID_COLUMNS`.
"""

from __future__ import annotations

import pandas as pd

#: What :func:`grid_households` returns, one row per grid.
GRID_COLUMNS = [
    "grid_code",
    "name",
    "grid_type",
    "parent_grid_code",
    "households",
    "residents",
    "norm_low",
    "norm_high",
    "size_status",  # below / within / above / no norm
    "wkt",
]

#: Households a grid of each type should hold (docs/domain.md: a basic grid 300–500, a micro-grid 50–80).
#: A dedicated grid (专属网格) is sized by people or organisations, not households: it gets "no norm" here.
FALLBACK_HOUSEHOLD_NORMS: dict[str, tuple[int, int]] = {"基础网格": (300, 500), "微网格": (50, 80)}

SIZE_STATUSES = ("below", "within", "above", "no norm")

#: Named in the report, so a reader knows where the households were counted.
GRID_SOURCE = (
    "households counted from the snapshot (grid_households_from_snapshot): a household is a house with at least "
    "one current 居住 or 户籍 resident in person_house; a basic grid counts its own houses and its "
    "micro-grids'; norms: 基础网格 300–500, 微网格 50–80 households (docs/domain.md)"
)

_SQL = """
WITH g AS (SELECT grid_code, name, grid_type, parent_grid_code, wkt FROM grid),
resident AS (
    SELECT ph.house_id, ph.person_id, h.grid_code
    FROM person_house ph JOIN house h USING (house_id)
    WHERE coalesce(ph.is_current, ph.valid_to IS NULL) AND ph.relation IN ('居住', '户籍')
      AND h.grid_code IS NOT NULL
),
bucket AS (  -- each resident's house in its own grid and in that grid's parent (a micro-grid's basic grid)
    SELECT house_id, person_id, grid_code FROM resident
    UNION ALL
    SELECT r.house_id, r.person_id, g.parent_grid_code FROM resident r JOIN g USING (grid_code)
    WHERE g.parent_grid_code IS NOT NULL
)
SELECT g.grid_code, g.name, g.grid_type, g.parent_grid_code,
       count(DISTINCT b.house_id) AS households, count(DISTINCT b.person_id) AS residents, g.wkt
FROM g LEFT JOIN bucket b USING (grid_code)
GROUP BY ALL ORDER BY g.grid_code
"""


def size_status(values: pd.Series, low: pd.Series, high: pd.Series) -> pd.Series:
    """below / within / above the norm [low, high]; "no norm" where the grid's type has none."""
    low, high = (
        low.astype("float64"),
        high.astype("float64"),
    )  # NaN where there is no norm: no comparison holds
    status = pd.Series("within", index=values.index, dtype=object)
    status[values < low] = "below"
    status[values > high] = "above"
    status[low.isna() | high.isna()] = "no norm"
    return status


def grid_households_from_snapshot(con) -> pd.DataFrame:
    """Households and residents per grid counted from a snapshot (``con``: :func:`warehouse.connect`), with
    the fallback norms :data:`FALLBACK_HOUSEHOLD_NORMS`."""
    df = con.sql(_SQL).df()
    norms = df["grid_type"].map(FALLBACK_HOUSEHOLD_NORMS)
    df["norm_low"] = norms.map(lambda n: n[0] if isinstance(n, tuple) else None).astype("Float64")
    df["norm_high"] = norms.map(lambda n: n[1] if isinstance(n, tuple) else None).astype("Float64")
    df["size_status"] = size_status(df["households"], df["norm_low"], df["norm_high"])
    return df[GRID_COLUMNS]


def grid_households(con) -> pd.DataFrame:
    """Per grid: households, residents, the norm of its type and where it stands (:data:`GRID_COLUMNS`)."""
    return grid_households_from_snapshot(con)
