"""The builder of ``grid_metrics`` (网格指标): governance figures per grid, community, street and district.

Every figure is defined once, with how it is computed, in ``docs/metrics.md``; the columns are declared in
:mod:`warehouse.schema_metrics`. The computation is DuckDB group-bys over the built tables (Arrow, read in
place), so it scales with the warehouse, not with the number of grids:

1. every person, house, organisation and facility becomes one *fact* row: its grid and address, and 0/1
   indicators (resident, 户籍, bound to a house with a standard address, occupied, ...);
2. each fact gets its community (the grid's, else its address's division), its 街道/镇
   (:func:`warehouse.schema.street_codes`, as the partition column of the entity tables) and its district;
3. the grid rows sum the facts of each grid and of every grid below it (a basic grid holds its micro-grids:
   a recursive query lists each grid's ancestors); the community, street and district rows group the facts;
4. rates and each grid's size against its type's norm (:data:`warehouse.settings.DEFAULT_GRID_NORMS`, or the
   workspace's ``grid_norms``) are column arithmetic over the result, one row per unit.

There is no loop over grids, persons or houses: the only Python loop runs over the configured norms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import pyarrow as pa

from warehouse.build import Assembly, builds
from warehouse.schema import street_codes
from warehouse.schema_metrics import UNKNOWN_UNIT
from warehouse.settings import SizeRange

#: The counts summed per unit (``address_bound`` / ``address_total`` give ``address_coverage``).
COUNTS = (
    "persons",
    "residents",
    "residents_huji",
    "residents_liudong",
    "residents_jingwai",
    "residents_unknown_type",
    "separated_persons",
    "households",
    "houses",
    "occupied_houses",
    "organisations",
    "facilities",
    "persons_bound",
    "address_bound",
    "address_total",
)
#: A grid hierarchy deeper than this is a cycle in ``parent_grid_code`` (micro → basic is 2 levels).
MAX_GRID_DEPTH = 8

_FACTS = """
WITH home AS (
    SELECT p.*, h.address_code AS home_address,
           (p.grid_code IS NOT NULL OR h.address_code IS NOT NULL) AS lives_here
    FROM person p LEFT JOIN house h ON h.house_id = p.residence_house_id
), used AS (
    SELECT DISTINCT COALESCE(business_address_code, address_code) AS address_code FROM organisation
)
SELECT CASE WHEN lives_here THEN home.grid_code ELSE hukou.grid_code END AS grid_code,
       CASE WHEN lives_here THEN home_address ELSE hukou_address_code END AS address_code,
       1 AS persons, lives_here::INT AS residents,
       (lives_here AND population_type = '户籍')::INT AS residents_huji,
       (lives_here AND population_type = '流动')::INT AS residents_liudong,
       (lives_here AND population_type = '境外')::INT AS residents_jingwai,
       (lives_here AND population_type = '未知')::INT AS residents_unknown_type,
       (lives_here AND (separated OR population_type = '流动'))::INT AS separated_persons,
       (home_address IS NOT NULL)::INT AS persons_bound
FROM home LEFT JOIN address hukou ON hukou.address_code = home.hukou_address_code
UNION ALL BY NAME
SELECT h.grid_code, h.address_code, 1 AS houses, (lived.house_id IS NOT NULL)::INT AS households,
       (lived.house_id IS NOT NULL OR used.address_code IS NOT NULL)::INT AS occupied_houses,
       (h.address_code IS NOT NULL)::INT AS address_bound, 1 AS address_total
FROM house h
LEFT JOIN (SELECT DISTINCT residence_house_id AS house_id FROM person) lived ON lived.house_id = h.house_id
LEFT JOIN used ON used.address_code = h.address_code
UNION ALL BY NAME
SELECT grid_code, CASE WHEN grid_basis = '经营' THEN business_address_code ELSE address_code END AS address_code,
       1 AS organisations,
       (address_code IS NOT NULL OR business_address_code IS NOT NULL)::INT AS address_bound, 1 AS address_total
FROM organisation
UNION ALL BY NAME
SELECT grid_code, address_code, 1 AS facilities, (address_code IS NOT NULL)::INT AS address_bound,
       1 AS address_total
FROM facility
"""

_PLACED = """
SELECT f.*, COALESCE(g.community_code, a.division_code, '{unknown}') AS community_code,
       a.division_code AS division_code
FROM facts f
LEFT JOIN grid g ON g.grid_code = f.grid_code
LEFT JOIN address a ON a.address_code = f.address_code
"""

_SUMS = ", ".join(f"COALESCE(SUM({c}), 0)::BIGINT AS {c}" for c in COUNTS)

_GRID_ROWS = f"""
WITH RECURSIVE up(grid_code, ancestor, depth) AS (
    SELECT grid_code, grid_code, 0 FROM grid
    UNION ALL
    SELECT up.grid_code, g.parent_grid_code, up.depth + 1
    FROM up JOIN grid g ON g.grid_code = up.ancestor
    WHERE g.parent_grid_code IS NOT NULL AND up.depth < {MAX_GRID_DEPTH}
), per_grid AS (
    SELECT grid_code, {_SUMS} FROM placed WHERE grid_code IS NOT NULL GROUP BY grid_code
), lifted AS (
    SELECT up.ancestor AS grid_code, {_SUMS} FROM per_grid JOIN up USING (grid_code) GROUP BY up.ancestor
)
SELECT 'grid' AS level, g.grid_code AS code, g.grid_code, g.name, g.grid_type, g.parent_grid_code,
       g.community_code, {", ".join(f"COALESCE(lifted.{c}, 0)::BIGINT AS {c}" for c in COUNTS)}
FROM grid g LEFT JOIN lifted USING (grid_code)
"""

_ROLLUP = """
WITH per_unit AS (SELECT {column} AS code, {sums} FROM placed GROUP BY {column}),
named AS (SELECT {name_key} AS code, MIN({name_column}) AS name FROM address
          WHERE division_code IS NOT NULL GROUP BY 1),
units AS (SELECT code FROM per_unit UNION SELECT {column} FROM grid_places WHERE {column} IS NOT NULL)
SELECT '{level}' AS level, units.code, named.name, {counts}
FROM units LEFT JOIN per_unit USING (code) LEFT JOIN named USING (code)
"""
_NAME_KEY = {
    "community": ("division_code", "community"),
    "street": ("LEFT(division_code, 9)", "street"),
    "district": ("LEFT(division_code, 6)", "district"),
}


def grid_metrics(
    *,
    person: pa.Table,
    house: pa.Table,
    organisation: pa.Table,
    facility: pa.Table,
    grid: pa.Table,
    address: pa.Table,
    norms: Mapping[str, Sequence[SizeRange]],
) -> pd.DataFrame:
    """The rows of ``grid_metrics`` from the canonical tables (as :mod:`warehouse.build` casts them, or as
    read from a snapshot's restricted layer); ``norms`` is each grid type's sizing norm (a grid is within
    when any of its type's ranges holds it)."""
    import duckdb

    con = duckdb.connect()
    try:
        for name, table in (
            ("person", person),
            ("house", house),
            ("organisation", organisation),
            ("facility", facility),
            ("grid", grid),
            ("address", address),
        ):
            con.register(name, table)
        # one row per (grid, address) from here on: at most the address library's size, whatever the population
        facts = con.sql(f"SELECT grid_code, address_code, {_SUMS} FROM ({_FACTS}) GROUP BY ALL")
        con.register("facts", facts.to_arrow_table())
        placed = con.sql(_PLACED.format(unknown=UNKNOWN_UNIT)).to_arrow_table()
        placed = placed.append_column(
            "street_code", street_codes(placed["grid_code"], placed["division_code"])
        )
        placed = placed.append_column("district_code", _district_codes(placed["street_code"]))
        con.register("placed", placed)
        grid_rows = _with_grid_places(con.sql(_GRID_ROWS).to_arrow_table())
        con.register("grid_places", grid_rows.select(["community_code", "street_code", "district_code"]))
        levels = [grid_rows.to_pandas()]
        for level, (name_key, name_column) in _NAME_KEY.items():
            query = _ROLLUP.format(
                column=f"{level}_code",
                level=level,
                sums=_SUMS,
                name_key=name_key,
                name_column=name_column,
                counts=", ".join(f"COALESCE(per_unit.{c}, 0)::BIGINT AS {c}" for c in COUNTS),
            )
            levels.append(con.sql(query).df())
    finally:
        con.close()
    rows = pd.concat(levels, ignore_index=True)
    return _size_against_norm(_derived(rows), norms)


def _district_codes(street: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The 6-digit district of each 街道/镇 code; ``unknown`` stays ``unknown``."""
    import pyarrow.compute as pc

    known = pc.not_equal(street, UNKNOWN_UNIT)
    found = pc.if_else(known, pc.utf8_slice_codeunits(street, 0, 6), UNKNOWN_UNIT)
    return found.combine_chunks() if isinstance(found, pa.ChunkedArray) else found


def _with_grid_places(rows: pa.Table) -> pa.Table:
    """Grid rows with their 街道/镇 (from the grid code, else the community) and district."""
    street = street_codes(rows["grid_code"], rows["community_code"])
    return rows.append_column("street_code", street).append_column("district_code", _district_codes(street))


def _derived(rows: pd.DataFrame) -> pd.DataFrame:
    """The figures computed from the counts, and the place columns of the rolled-up levels."""
    rows["persons_unbound"] = rows["persons"] - rows["persons_bound"]
    rows["empty_houses"] = rows["houses"] - rows["occupied_houses"]
    rows["binding_rate"] = rows["persons_bound"] / rows["persons"].where(rows["persons"] > 0)
    rows["address_coverage"] = rows["address_bound"] / rows["address_total"].where(rows["address_total"] > 0)
    known = rows["code"].ne(UNKNOWN_UNIT)
    community, street = rows["level"].eq("community"), rows["level"].eq("street")
    rows.loc[community, "community_code"] = rows.loc[community, "code"].where(known, None)
    rows.loc[community, "street_code"] = rows.loc[community, "code"].str[:9].where(known, UNKNOWN_UNIT)
    rows.loc[street, "street_code"] = rows.loc[street, "code"]
    return rows


def _size_against_norm(rows: pd.DataFrame, norms: Mapping[str, Sequence[SizeRange]]) -> pd.DataFrame:
    """``size_status`` of every grid row whose type has a norm: within when any of the type's ranges holds
    the grid, else above when it passes any range's max, else below. ``norm_*`` name the deciding range: the
    first that holds it, else the first it passes, else the type's first."""
    rows = rows.assign(size_status=None, norm_measure=None, norm_min=None, norm_max=None)
    is_grid = rows["level"].eq("grid")
    for grid_type, ranges in norms.items():
        of_type = is_grid & rows["grid_type"].eq(grid_type)
        decided = pd.Series(False, index=rows.index)
        for status in ("within", "above", "below"):
            for r in ranges:
                value = rows[r.measure]
                hit = {"within": value.between(r.min, r.max), "above": value > r.max, "below": value < r.min}
                take = of_type & ~decided & hit[status]
                rows.loc[take, ["size_status", "norm_measure", "norm_min", "norm_max"]] = [
                    status,
                    r.measure,
                    r.min,
                    r.max,
                ]
                decided |= take
    return rows


@builds("grid_metrics")
def build_grid_metrics(a: Assembly) -> pd.DataFrame:
    """网格指标 from the tables of this build, in their Arrow schema (see :func:`grid_metrics`): a written table
    is scanned from its file, only the columns the queries use."""
    names = ("person", "house", "organisation", "facility", "grid", "address")
    return grid_metrics(**{n: a.scan(n) for n in names}, norms=a.grid_norms)


__all__ = ["COUNTS", "MAX_GRID_DEPTH", "build_grid_metrics", "grid_metrics"]
