"""The reference data's files (四标: standard addresses, grids, divisions): their names and columns, in one place.

The address matcher (:mod:`matching.address`), the grid index (:mod:`matching.grids`), the application's reference
loader (``gridhub/reference.py``, which applies a workspace's column mapping and builds the frames the warehouse's
address and grid tables come from) and the sample district's generator all take the file names and columns from
here. The contract a city's files must meet: ``docs/reference-data.md``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ADDRESSES_FILE = "standard_addresses.csv"
GRIDS_FILE = "grids.csv"
DIVISIONS_FILE = "divisions.csv"

#: Columns of the standard address library (``standard_addresses.csv``), in order.
ADDRESS_LIBRARY_COLUMNS = (
    "address_code",
    "division_code",
    "province",
    "city",
    "district",
    "street",
    "community",
    "road",
    "villager_group",
    "house_number",
    "estate",
    "building",
    "unit",
    "floor",
    "room",
    "standard_text",
    "building_code",
    "grid_code",
    "lon",
    "lat",
)
#: Columns of the grid file (``grids.csv``; ``wkt`` is the polygon in the reference CRS), in order.
GRID_COLUMNS = (
    "grid_code",
    "name",
    "grid_type",
    "parent_grid_code",
    "community_code",
    "street_code",
    "district_code",
    "wkt",
    "valid_from",
    "valid_to",
)
#: Columns of the division file (``divisions.csv``), in order.
DIVISION_COLUMNS = ("code", "name", "level", "parent_code", "aliases")


def read_reference_csv(path: Path) -> pd.DataFrame:
    """A reference CSV as text columns, exactly as written: an empty cell is ``""``, never NaN."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


__all__ = [
    "ADDRESSES_FILE",
    "ADDRESS_LIBRARY_COLUMNS",
    "DIVISIONS_FILE",
    "DIVISION_COLUMNS",
    "GRIDS_FILE",
    "GRID_COLUMNS",
    "read_reference_csv",
]
