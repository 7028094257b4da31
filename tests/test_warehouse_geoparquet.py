"""Grid polygons are published as GeoParquet geometry (WKB + the ``geo`` file metadata, GeoParquet 1.1) and
read back as geometry by GeoPandas, shapely/pyarrow and DuckDB; the WKT column stays for WKT readers."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from synth_tables import publish_synthetic, synthetic_tables

from warehouse import connect, read_table
from warehouse.build import build_grid
from warehouse.geo import geo_metadata, wkb_from_wkt
from warehouse.read import table_files
from warehouse.schema import TABLES, Layer


def _squares(n: int) -> list[str]:
    """One small square per grid (the last one two squares: a MULTIPOLYGON), lon/lat near 云江市."""
    out = []
    for i in range(n):
        x, y = 112.0 + 0.01 * i, 22.9
        square = f"(({x} {y}, {x + 0.01} {y}, {x + 0.01} {y + 0.01}, {x} {y + 0.01}, {x} {y}))"
        out.append(
            f"MULTIPOLYGON ({square}, (({x} 23.5, {x + 0.01} 23.5, {x} 23.51, {x} 23.5)))"
            if i == n - 1
            else f"POLYGON {square}"
        )
    return out


@pytest.fixture(scope="module")
def wh(tmp_path_factory) -> Path:
    tables = synthetic_tables(200, seed=9)
    grid = tables["grid"]
    wkt = _squares(grid.num_rows)
    wkb = wkb_from_wkt(pd.Series(wkt, dtype=object))
    grid = grid.set_column(grid.schema.get_field_index("wkt"), grid.schema.field("wkt"), pa.array(wkt))
    i = grid.schema.get_field_index("geometry")
    tables["grid"] = grid.set_column(i, grid.schema.field(i), pa.array(list(wkb), pa.binary()))
    wh = tmp_path_factory.mktemp("geo") / "warehouse"
    publish_synthetic(wh, tables)
    return wh


def _file(wh: Path, layer: Layer = Layer.SHARED) -> Path:
    (path,) = table_files(wh, "grid", layer)
    return path


@pytest.mark.parametrize("layer", list(Layer))
def test_the_grid_files_carry_geoparquet_metadata(wh, layer):
    geo = json.loads(pq.read_schema(_file(wh, layer)).metadata[b"geo"])
    assert geo == {
        "version": "1.1.0",
        "primary_column": "geometry",
        "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Polygon", "MultiPolygon"]}},
    }
    assert pq.read_schema(_file(wh, layer)).field("geometry").type == pa.binary()


def test_no_other_table_claims_a_geometry():
    assert [name for name, t in TABLES.items() if geo_metadata(t.columns)] == ["grid"]


def test_geopandas_reads_the_polygons_with_their_crs(wh):
    geopandas = pytest.importorskip("geopandas")
    frame = geopandas.read_parquet(_file(wh))
    assert frame.geometry.name == "geometry" and frame.crs.to_string() == "OGC:CRS84"
    want = shapely.from_wkt(frame["wkt"].to_numpy(dtype=object))
    assert all(shapely.equals(frame.geometry.to_numpy(), want))
    assert (
        frame.geometry.iloc[-1].geom_type == "MultiPolygon" and frame.geometry.iloc[0].geom_type == "Polygon"
    )
    assert frame.geometry.total_bounds[0] == pytest.approx(112.0)


def test_read_table_gives_wkb_that_shapely_reads(wh):
    grid = read_table(wh, "grid")
    assert b"geo" in grid.schema.metadata
    geoms = shapely.from_wkb(grid.column("geometry").to_numpy(zero_copy_only=False))
    assert all(shapely.equals(geoms, shapely.from_wkt(grid.column("wkt").to_numpy(zero_copy_only=False))))


def test_duckdb_reads_the_column_as_geometry(wh):
    con = connect(wh)
    rows = con.sql(
        "SELECT typeof(geometry), ST_AsText(geometry), wkt FROM grid ORDER BY grid_code"
    ).fetchall()
    assert {t for t, _, _ in rows} == {"GEOMETRY('OGC:CRS84')"}
    for _, text, wkt in rows:
        assert shapely.equals(shapely.from_wkt(text), shapely.from_wkt(wkt))
    back = con.sql(
        "SELECT ST_AsText(ST_GeomFromWKB(geometry::BLOB)) = ST_AsText(geometry) FROM grid"
    ).fetchall()
    assert back and all(ok for (ok,) in back)


def _spatial() -> duckdb.DuckDBPyConnection:
    """A connection with the DuckDB spatial extension, from DuckDB's extension repository or from the PyPI
    build of the extension (``duckdb-extension-spatial``, made for one DuckDB version), or a skip saying why
    neither can be had here."""
    con = duckdb.connect()
    try:
        con.execute("INSTALL spatial")
        con.execute("LOAD spatial")
        return con
    except duckdb.Error as e:
        repository = str(e).splitlines()[0]
    try:
        import duckdb_extension_spatial

        path = next(Path(duckdb_extension_spatial.__file__).parent.rglob("spatial.duckdb_extension"))
        con.execute(f"LOAD '{path}'")
        return con
    except (ImportError, StopIteration, duckdb.Error) as e:
        package = str(e).splitlines()[0] if str(e) else type(e).__name__
    pytest.skip(
        f"the DuckDB spatial extension for DuckDB {duckdb.__version__} cannot be obtained here: "
        f"repository: {repository}; PyPI build: {package}"
    )


def test_duckdb_spatial_computes_on_the_polygons(wh):
    con = _spatial()
    file = str(_file(wh)).replace("'", "''")
    area, inside = con.sql(
        f"SELECT sum(ST_Area(geometry)), count(*) FILTER (WHERE ST_Contains(geometry, ST_Point(112.005, 22.905))) "
        f"FROM read_parquet('{file}')"
    ).fetchall()[0]
    assert area > 0 and inside == 1


def test_build_grid_turns_wkt_into_wkb_and_leaves_bad_text_empty():
    class Assembly:
        grids = pd.DataFrame(
            {"grid_code": ["1", "2", "3"], "wkt": ["POLYGON ((0 0, 1 0, 1 1, 0 0))", "", "POLYGON ((0 0"]}
        )

    out = build_grid(Assembly())  # type: ignore[arg-type]
    assert shapely.from_wkb(out["geometry"].iloc[0]).equals(
        shapely.from_wkt("POLYGON ((0 0, 1 0, 1 1, 0 0))")
    )
    assert out["geometry"].iloc[1] is None and out["geometry"].iloc[2] is None
