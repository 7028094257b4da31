"""Grids against their size norm, for the run report's map and its table of grids outside the norm.

The figures are the grid rows of the snapshot's ``grid_metrics`` table (:mod:`warehouse.metrics`, defined in
docs/metrics.md: households, residents, the norm the grid was judged by and where it stands), joined to the
polygons of the ``grid`` table. Nothing is counted here: the report shows what the warehouse publishes.
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
    "organisations",
    "binding_rate",
    "norm_measure",
    "norm_min",
    "norm_max",
    "size_status",  # below / within / above / no norm
    "wkt",
]

#: Named in the report, so a reader knows where the figures come from.
GRID_SOURCE = (
    "From the snapshot's grid_metrics table (docs/metrics.md): a grid includes its micro-grids; a household "
    "is a house that is some person's current residence; each grid type is judged by its norm (grid_norms "
    "in gridhub.yaml), in the measure named per grid."
)

_SQL = """
SELECT m.grid_code, m.name, m.grid_type, m.parent_grid_code, m.households, m.residents, m.organisations,
       m.binding_rate, m.norm_measure, m.norm_min, m.norm_max, coalesce(m.size_status, 'no norm') AS size_status,
       g.wkt
FROM grid_metrics m LEFT JOIN grid g USING (grid_code)
WHERE m.level = 'grid'
ORDER BY m.grid_code
"""


def grid_households(con) -> pd.DataFrame:
    """Per grid (``con``: :func:`warehouse.connect` on the snapshot): its figures, its type's norm and where
    it stands (:data:`GRID_COLUMNS`)."""
    return con.sql(_SQL).df()[GRID_COLUMNS]
