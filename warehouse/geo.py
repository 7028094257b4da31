"""Geometry in the warehouse: WKB columns with the GeoParquet ``geo`` file metadata (GeoParquet 1.1).

A column declared with ``geometry_types`` in :mod:`warehouse.schema` (the grid polygons) holds WKB, and every
file of its table says so in its Parquet key-value metadata under ``geo``::

    {"version": "1.1.0", "primary_column": "geometry",
     "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Polygon", "MultiPolygon"]}}}

No ``crs`` means OGC:CRS84 (WGS-84 longitude/latitude), as the spec defines, which is what the reference grids
are in. GeoPandas (``geopandas.read_parquet``) and DuckDB spatial read such a column as geometry; any Parquet
reader still sees a binary column. The WKT text column stays beside it for readers without either.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from warehouse.schema_base import Column

GEOPARQUET_VERSION = "1.1.0"


def geo_metadata(columns: Iterable[Column]) -> dict | None:
    """The GeoParquet ``geo`` metadata of a table with these columns; None when none is a geometry column."""
    geometry = {
        c.name: {"encoding": "WKB", "geometry_types": list(c.geometry_types)}
        for c in columns
        if c.geometry_types is not None
    }
    if not geometry:
        return None
    return {"version": GEOPARQUET_VERSION, "primary_column": next(iter(geometry)), "columns": geometry}


def wkb_from_wkt(wkt: pd.Series) -> pd.Series:
    """WKB (ISO, little-endian) of each WKT text; None where the text is missing or not a geometry."""
    import shapely

    text = wkt.where(wkt.notna() & (wkt.astype("string").str.strip() != ""), None).to_numpy(dtype=object)
    geoms = shapely.from_wkt(text, on_invalid="ignore")
    wkb = shapely.to_wkb(geoms, byte_order=1, flavor="iso")
    return pd.Series(wkb, index=wkt.index, dtype=object)


__all__ = ["GEOPARQUET_VERSION", "geo_metadata", "wkb_from_wkt"]
