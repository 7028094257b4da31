"""The builder of ``grid_metrics`` (网格指标): governance figures per grid, community, street and district.

Every figure is defined once, with how it is computed, in ``docs/metrics.md``; the columns are declared in
:mod:`warehouse.schema_metrics`. The computation is vectorised end to end, so it costs the same per row at
city scale as on the sample district:

1. every person, house, organisation and facility becomes one *fact* row: its place (grid, community, street,
   district) and 0/1 indicators (resident, 户籍, bound to a house with a standard address, occupied, ...);
2. the grid rows sum the facts of each grid and of its descendants (a basic grid holds its micro-grids): the
   facts are repeated once per ancestor, one ``map`` per level of the grid hierarchy, then grouped;
3. the community, street and district rows group the same facts by those columns;
4. rates and each grid's size against its type's norm (:data:`warehouse.settings.DEFAULT_GRID_NORMS`, or the
   workspace's ``grid_norms``) are column arithmetic over the result.

There is no loop over grids, persons or houses: the only loops run over the levels of the hierarchy and over
the configured norms (a handful).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from warehouse.build import Assembly, builds
from warehouse.schema import TABLES, street_codes
from warehouse.schema_metrics import UNKNOWN_UNIT
from warehouse.settings import SizeRange

#: The counts a fact row carries (summed per unit); ``address_bound`` / ``address_total`` give the coverage.
COUNTS = [
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
]
_HELPERS = ["address_bound", "address_total"]
_PLACE = ["grid_code", "community_code", "street_code", "district_code"]
#: A grid hierarchy deeper than this is a cycle in ``parent_grid_code`` (micro → basic is 2 levels).
_MAX_DEPTH = 8


def grid_metrics(
    *,
    person: pd.DataFrame,
    house: pd.DataFrame,
    organisation: pd.DataFrame,
    facility: pd.DataFrame,
    grid: pd.DataFrame,
    address: pd.DataFrame,
    norms: Mapping[str, Sequence[SizeRange]],
) -> pd.DataFrame:
    """The rows of ``grid_metrics`` from the warehouse's entity tables, the grid table and the address library.

    The frames are the canonical tables (as :mod:`warehouse.build` builds them, or as read from a snapshot);
    ``norms`` is each grid type's sizing norm (a grid is within when any of its type's ranges holds it).
    """
    person, house, organisation, facility, grid, address = (
        _canonical(name, frame)
        for name, frame in (
            ("person", person),
            ("house", house),
            ("organisation", organisation),
            ("facility", facility),
            ("grid", grid),
            ("address", address),
        )
    )
    places = _Places(grid, address)
    facts = pd.concat(
        [
            _person_facts(person, house, places),
            _house_facts(house, person, organisation, places),
            _organisation_facts(organisation, places),
            _facility_facts(facility, places),
        ],
        ignore_index=True,
    )
    sums = COUNTS + _HELPERS
    facts[sums] = facts.reindex(columns=sums).fillna(0).astype("int64")
    rows = pd.concat(
        [
            _grid_rows(facts, places),
            _rollup(facts, "community", places),
            _rollup(facts, "street", places),
            _rollup(facts, "district", places),
        ],
        ignore_index=True,
    )
    rows["persons_unbound"] = rows["persons"] - rows["persons_bound"]
    rows["empty_houses"] = rows["houses"] - rows["occupied_houses"]
    rows["binding_rate"] = _ratio(rows["persons_bound"], rows["persons"])
    rows["address_coverage"] = _ratio(rows["address_bound"], rows["address_total"])
    return _size_against_norm(rows, norms)


def _canonical(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with exactly the columns of the canonical table (a builder's frame may lack the empty ones)."""
    frame = frame.reindex(columns=TABLES[table].column_names).reset_index(drop=True)
    for c in TABLES[table].columns:
        if c.type == pa.string():
            frame[c.name] = frame[c.name].astype(object).where(frame[c.name].notna(), None)
    return frame


def _ratio(part: pd.Series, whole: pd.Series) -> pd.Series:
    return (part / whole.where(whole > 0)).astype("float64")


class _Places:
    """Lookups from the grid table and the address library: where a grid or an address lies."""

    def __init__(self, grid: pd.DataFrame, address: pd.DataFrame) -> None:
        g = grid.replace({"": None}).drop_duplicates("grid_code").set_index("grid_code")
        self.grid = g
        self.parent = g["parent_grid_code"].dropna()
        self.grid_community = g["community_code"].dropna()
        a = address.replace({"": None}).drop_duplicates("address_code").set_index("address_code")
        self.division = a["division_code"].dropna()
        self.address_grid = a["grid_code"].dropna()
        div = a.dropna(subset=["division_code"])
        self.names = {
            "community": _first_name(div, div["division_code"], "community"),
            "street": _first_name(div, div["division_code"].str[:9], "street"),
            "district": _first_name(div, div["division_code"].str[:6], "district"),
        }

    def of(self, grid_code: pd.Series, address_code: pd.Series) -> pd.DataFrame:
        """The place of each row: its grid, and the community, street and district of the grid, else of the
        address's division code (``unknown`` when neither is known)."""
        grid_code = grid_code.astype(object).where(grid_code.notna(), None)
        division = address_code.map(self.division)
        community = grid_code.map(self.grid_community).fillna(division)
        street = street_codes(
            *(pa.array(s.astype(object), pa.string(), from_pandas=True) for s in (grid_code, division))
        ).to_numpy(zero_copy_only=False)
        district = np.where(street == UNKNOWN_UNIT, UNKNOWN_UNIT, pd.Series(street).str[:6])
        return pd.DataFrame(
            {
                "grid_code": grid_code.to_numpy(),
                "community_code": community.fillna(UNKNOWN_UNIT).to_numpy(),
                "street_code": street,
                "district_code": district,
            }
        )


def _first_name(frame: pd.DataFrame, code: pd.Series, column: str) -> pd.Series:
    """code → the first name the address library gives it (the library is sorted by code: deterministic)."""
    named = pd.DataFrame({"code": code, "name": frame[column]}).dropna().sort_values(["code", "name"])
    return named.drop_duplicates("code").set_index("code")["name"]


def _facts(place: pd.DataFrame, **counts: pd.Series | np.ndarray | int) -> pd.DataFrame:
    return place.assign(
        **{k: np.asarray(v, dtype="int64") if not isinstance(v, int) else v for k, v in counts.items()}
    )


def _person_facts(person: pd.DataFrame, house: pd.DataFrame, places: _Places) -> pd.DataFrame:
    """A person lies where they live (居住); without a residence with a grid or an address, where their 户籍 is."""
    home = person["residence_house_id"].map(house.set_index("house_id")["address_code"])
    lives_here = person["grid_code"].notna() | home.notna()
    hukou = person["hukou_address_code"]
    grid_code = person["grid_code"].where(lives_here, hukou.map(places.address_grid))
    place = places.of(grid_code, home.where(lives_here, hukou))
    kind = person["population_type"]
    separated = person["separated"].eq(True) | kind.eq("流动")
    return _facts(
        place,
        persons=1,
        residents=lives_here,
        residents_huji=lives_here & kind.eq("户籍"),
        residents_liudong=lives_here & kind.eq("流动"),
        residents_jingwai=lives_here & kind.eq("境外"),
        residents_unknown_type=lives_here & kind.eq("未知"),
        separated_persons=lives_here & separated,
        persons_bound=home.notna(),
    )


def _house_facts(
    house: pd.DataFrame, person: pd.DataFrame, organisation: pd.DataFrame, places: _Places
) -> pd.DataFrame:
    """A house is lived in when a person's current residence is it, used when an organisation operates at its
    address (经营地址, else the only address given)."""
    lived_in = house["house_id"].isin(person["residence_house_id"].dropna())
    operating = organisation["business_address_code"].fillna(organisation["address_code"]).dropna()
    used = house["address_code"].isin(operating)
    return _facts(
        places.of(house["grid_code"], house["address_code"]),
        households=lived_in,
        houses=1,
        occupied_houses=lived_in | used,
        address_bound=house["address_code"].notna(),
        address_total=1,
    )


def _organisation_facts(organisation: pd.DataFrame, places: _Places) -> pd.DataFrame:
    """An organisation lies in its grid, on the address that gave it (``grid_basis``: 经营 / 注册)."""
    basis = organisation["business_address_code"].where(
        organisation["grid_basis"].eq("经营"), organisation["address_code"]
    )
    bound = organisation["address_code"].notna() | organisation["business_address_code"].notna()
    return _facts(
        places.of(organisation["grid_code"], basis),
        organisations=1,
        address_bound=bound,
        address_total=1,
    )


def _facility_facts(facility: pd.DataFrame, places: _Places) -> pd.DataFrame:
    return _facts(
        places.of(facility["grid_code"], facility["address_code"]),
        facilities=1,
        address_bound=facility["address_code"].notna(),
        address_total=1,
    )


def _grid_rows(facts: pd.DataFrame, places: _Places) -> pd.DataFrame:
    """One row per grid of the reference: the sums over the facts of the grid and of every grid below it."""
    sums = COUNTS + _HELPERS
    level = facts.loc[facts["grid_code"].notna(), ["grid_code", *sums]]
    lifted = [level]
    for _ in range(_MAX_DEPTH):
        level = level.assign(grid_code=level["grid_code"].map(places.parent)).dropna(subset=["grid_code"])
        if level.empty:
            break
        lifted.append(level)
    per_grid = pd.concat(lifted).groupby("grid_code")[sums].sum()
    g = places.grid
    rows = per_grid.reindex(g.index, fill_value=0).reset_index()
    rows["level"] = "grid"
    rows["code"] = rows["grid_code"]
    for column in ("name", "grid_type", "parent_grid_code", "community_code"):
        rows[column] = rows["grid_code"].map(g[column]).to_numpy()
    rows["street_code"] = street_codes(
        *(pa.array(s, pa.string(), from_pandas=True) for s in (rows["grid_code"], rows["community_code"]))
    ).to_numpy(zero_copy_only=False)
    return rows


def _rollup(facts: pd.DataFrame, level: str, places: _Places) -> pd.DataFrame:
    """One row per community / street / district: every one the grids name, and any other the facts lie in."""
    sums = COUNTS + _HELPERS
    column = f"{level}_code"
    per_unit = facts.groupby(column)[sums].sum()
    from_grids = {
        "community": places.grid["community_code"],
        "street": pd.Series(places.grid.index.str[:9]),
        "district": pd.Series(places.grid.index.str[:6]),
    }[level].dropna()
    codes = sorted(set(per_unit.index) | set(from_grids))
    rows = per_unit.reindex(pd.Index(codes, dtype=object, name="code"), fill_value=0).reset_index()
    rows["level"] = level
    rows["name"] = rows["code"].map(places.names[level])
    known = rows["code"].ne(UNKNOWN_UNIT)
    if level == "community":
        rows["community_code"] = rows["code"].where(known, None)
        rows["street_code"] = rows["code"].str[:9].where(known, UNKNOWN_UNIT)
    elif level == "street":
        rows["street_code"] = rows["code"]
    return rows


def _size_against_norm(rows: pd.DataFrame, norms: Mapping[str, Sequence[SizeRange]]) -> pd.DataFrame:
    """``size_status`` of every grid row whose type has a norm: within when any of the type's ranges holds
    the grid, else above when it passes any range's max, else below. ``norm_*`` name the deciding range: the
    first that holds it, else the first it passes, else the type's first."""
    rows = rows.assign(size_status=None, norm_measure=None, norm_min=np.nan, norm_max=np.nan)
    is_grid = rows["level"].eq("grid")
    for grid_type, ranges in norms.items():
        of_type = is_grid & rows["grid_type"].eq(grid_type)
        if not ranges or not of_type.any():
            continue
        decided = pd.Series(False, index=rows.index)
        for status in ("within", "above", "below"):
            for r in ranges:
                value = rows[r.measure]
                hit = {"within": value.between(r.min, r.max), "above": value > r.max, "below": value < r.min}
                take = of_type & ~decided & hit[status]
                rows.loc[take, ["size_status", "norm_measure"]] = [status, r.measure]
                rows.loc[take, ["norm_min", "norm_max"]] = [r.min, r.max]
                decided |= take
    return rows


@builds("grid_metrics")
def build_grid_metrics(a: Assembly) -> pd.DataFrame:
    """网格指标 from the entity tables of this build (see :func:`grid_metrics`)."""
    return grid_metrics(
        person=a.frame("person"),
        house=a.frame("house"),
        organisation=a.frame("organisation"),
        facility=a.frame("facility"),
        grid=a.frame("grid"),
        address=a.frame("address"),
        norms=a.grid_norms,
    )


__all__ = ["COUNTS", "build_grid_metrics", "grid_metrics"]
