"""The 四标 reference data of the sample district: divisions, grids and the standard address library.

Geometry is simple on purpose and exact by construction: every community (社区/村) is a rectangle of the
district; its basic grids (基础网格) are vertical strips of that rectangle and their micro grids (微网格)
horizontal strips of each basic grid, so the polygons never overlap and cover each community. A building is
a point inside one micro grid, kept away from the edges, and every address of the building (its rooms) shares
that point: the grid an address is bound to is the micro grid its point falls in.

Urban addresses follow 街道-社区-路-号-(小区)-栋-单元-室, rural ones 镇-村-村民小组-号. Besides homes the library
holds street-front shops (门牌 addresses on the roads) and rooms in office towers, the premises of the
district's organisations, and some of both stay empty.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridhub.sample import names as N
from matching.reference import ADDRESS_LIBRARY_COLUMNS, DIVISION_COLUMNS, GRID_COLUMNS

#: South-west corner of the district and the size of one community cell, in degrees (about 1.2 × 1.1 km).
ORIGIN_LON, ORIGIN_LAT = 112.0400, 22.9100
CELL_LON, CELL_LAT = 0.0120, 0.0100
CELLS_PER_ROW = 3
HOUSEHOLDS_PER_BASIC_GRID = 400
HOUSEHOLDS_PER_MICRO_GRID = 65
GRIDS_VALID_FROM = "2023-01-01"
RURAL_SHARE = 0.2
#: Share of estates the library does not name: their addresses are 路-号-栋-单元-室, yet departments often
#: write the estate's common name after the house number (芙蓉路11号桂园小区3栋2单元501室).
ESTATE_UNLISTED_SHARE = 0.2
#: Ground-floor shops and office rooms per organisation (the rest stay empty).
SHOPS_PER_ORG, OFFICES_PER_ORG = 0.85, 0.45


@dataclass
class District:
    """The reference data, as frames with the exact reference-CSV columns plus a few internal ones.

    ``addresses`` carries besides :data:`matching.reference.ADDRESS_LIBRARY_COLUMNS`: ``kind`` (home / shop /
    office), ``street_code``, ``rural``, ``community_short`` and ``estate_alias`` (the common name of an
    estate the library leaves unnamed, else empty); ``communities`` one row per 社区/村 with its names and roads.
    """

    divisions: pd.DataFrame
    grids: pd.DataFrame
    addresses: pd.DataFrame
    communities: pd.DataFrame


def _fmt(x: float) -> str:
    return f"{x:.6f}"


def _rect_wkt(x0: float, y0: float, x1: float, y1: float) -> str:
    a, b, c, d = _fmt(x0), _fmt(y0), _fmt(x1), _fmt(y1)
    return f"POLYGON (({a} {b}, {c} {b}, {c} {d}, {a} {d}, {a} {b}))"


def _divisions() -> tuple[list[dict], list[dict]]:
    """Division rows and one dict per community with its codes, names and place in the layout."""
    prov, city, dist = N.PROVINCE, N.CITY, N.DISTRICT
    rows = [
        {"code": prov[0], "name": prov[1], "level": "province", "parent_code": "", "aliases": prov[2]},
        {"code": city[0], "name": city[1], "level": "city", "parent_code": prov[0], "aliases": city[2]},
        {"code": dist[0], "name": dist[1], "level": "district", "parent_code": city[0], "aliases": dist[2]},
    ]
    communities = []
    for s_suffix, s_name, s_short, comms in N.STREETS:
        s_code = dist[0] + s_suffix
        town = int(s_suffix) >= 100
        s_alias = s_short if town else f"{s_short}|{s_short}街"
        rows.append(
            {"code": s_code, "name": s_name, "level": "street", "parent_code": dist[0], "aliases": s_alias}
        )
        for c_suffix, c_name, c_short, roads in comms:
            c_code = s_code + c_suffix
            rural = int(c_suffix) >= 200
            c_alias = f"{c_short}|{c_short}村委会" if rural else f"{c_short}|{c_short}居委会"
            rows.append(
                {
                    "code": c_code,
                    "name": c_name,
                    "level": "community",
                    "parent_code": s_code,
                    "aliases": c_alias,
                }
            )
            communities.append(
                {
                    "community_code": c_code,
                    "community": c_name,
                    "community_short": c_short,
                    "street_code": s_code,
                    "street": s_name,
                    "rural": rural,
                    "roads": roads,
                }
            )
    return rows, communities


def _split(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainders), each ≥ 1."""
    raw = weights / weights.sum() * total
    parts = np.maximum(np.floor(raw).astype(int), 1)
    rest = total - parts.sum()
    if rest > 0:
        order = np.argsort(-(raw - np.floor(raw)), kind="stable")
        parts[order[:rest]] += 1
    return parts


def _estate_shapes(rng: np.random.Generator, target: int) -> list[tuple[int, int, int]]:
    """(buildings, floors, units) of the estates that give a community about ``target`` homes (2 per floor)."""
    shapes = []
    left = target
    while left > 0:
        high_rise = rng.random() < 0.4 and left > 200
        floors = int(rng.integers(11, 19)) if high_rise else int(rng.integers(5, 8))
        units = int(rng.integers(2, 4)) if high_rise else int(rng.integers(1, 3))
        per_building = floors * units * 2
        buildings = min(max(1, round(left / per_building)), int(rng.integers(4, 13)))
        shapes.append((buildings, floors, units))
        left -= buildings * per_building
    return shapes


def _estate_names(rng: np.random.Generator) -> Iterator[str]:
    """Unique estate names: the real-sounding list first, then composed ones, then later phases (二期...)."""
    base = list(rng.permutation(N.ESTATES)) + list(
        rng.permutation([a + b for a in N.ESTATE_PREFIXES for b in N.ESTATE_SUFFIXES])
    )
    yield from base
    for phase in "二三四五六七八九":
        for name in base:
            yield f"{name}{phase}期"
    raise RuntimeError("ran out of estate names")  # pragma: no cover - over 4,000 estates


#: A building of a community: (kind: home / shop / office, fields common to its addresses, one dict per room).
Building = tuple[str, dict, list[dict]]


@dataclass
class _Plan:
    """What is decided for the whole district before its communities are laid out (in this order)."""

    homes_per: np.ndarray  # homes per community
    shops_per: np.ndarray  # street-front shops per community
    towers_at: set[int]  # the (urban) communities with an office tower
    office_rooms_total: int
    estate_names: Iterator[str]
    tower_names: list[str]
    homes_seen: int = 0
    homes_unlisted: int = 0

    def estate_listed(self, homes: int) -> bool:
        """Whether the library names the next estate (of ``homes`` homes): a quota over the district, not a
        coin per estate, so the share of homes in unnamed estates stays near :data:`ESTATE_UNLISTED_SHARE`."""
        self.homes_seen += homes
        target = ESTATE_UNLISTED_SHARE * self.homes_seen
        listed = abs(self.homes_unlisted + homes - target) >= abs(self.homes_unlisted - target)
        self.homes_unlisted += 0 if listed else homes
        return listed


def _plan(rng: np.random.Generator, communities: list[dict], homes: int, organisations: int) -> _Plan:
    n_comm = len(communities)
    rural_idx = [i for i, c in enumerate(communities) if c["rural"]]
    urban_idx = [i for i, c in enumerate(communities) if not c["rural"]]
    rural_homes = max(len(rural_idx), round(homes * RURAL_SHARE))
    homes_per = np.zeros(n_comm, dtype=int)
    homes_per[urban_idx] = _split(
        max(len(urban_idx), homes - rural_homes), rng.uniform(0.6, 1.4, len(urban_idx))
    )
    homes_per[rural_idx] = _split(rural_homes, rng.uniform(0.7, 1.3, len(rural_idx)))
    shops_per = np.zeros(n_comm, dtype=int)
    shops_per[urban_idx] = _split(
        max(len(urban_idx), math.ceil(organisations * SHOPS_PER_ORG)), rng.uniform(0.6, 1.4, len(urban_idx))
    )
    towers_at = set(rng.choice(urban_idx, size=min(3, len(urban_idx)), replace=False).tolist())
    return _Plan(
        homes_per=homes_per,
        shops_per=shops_per,
        towers_at=towers_at,
        office_rooms_total=math.ceil(organisations * OFFICES_PER_ORG),
        estate_names=_estate_names(rng),  # a generator: it draws its permutations at the first estate
        tower_names=list(rng.permutation(N.TOWERS)),
    )


def build_district(rng: np.random.Generator, homes: int, organisations: int) -> District:
    """Make divisions, grids and about ``homes`` homes plus premises for ``organisations`` organisations."""
    division_rows, communities = _divisions()
    plan = _plan(rng, communities, homes, organisations)
    pieces = []  # a frame per community: the Python objects of one community at a time
    grid_rows: list[dict] = []
    for ci, comm in enumerate(communities):
        if comm["rural"]:
            buildings = _village_houses(rng, int(plan.homes_per[ci]))
        else:
            buildings = _urban_buildings(rng, ci, comm["roads"], plan)
        micro = _grids(ci, comm, [len(rooms) for _, _, rooms in buildings], grid_rows)
        addr_cols: dict[str, list] = {c: [] for c in ADDRESS_COLUMNS}
        _address_rows(rng, comm, buildings, micro, addr_cols)
        pieces.append(pd.DataFrame(addr_cols))
        del buildings, addr_cols
    addresses = pd.concat(pieces, ignore_index=True)
    del pieces
    return District(
        divisions=pd.DataFrame(division_rows, columns=list(DIVISION_COLUMNS)),
        grids=pd.DataFrame(grid_rows, columns=list(GRID_COLUMNS)),
        addresses=addresses,
        communities=pd.DataFrame(communities),
    )


def _village_houses(rng: np.random.Generator, homes: int) -> list[Building]:
    """A village's houses: numbered within its villager groups (村民小组) of about 40 homes."""
    n_groups = max(1, round(homes / 40))
    per_group = _split(homes, rng.uniform(0.7, 1.3, n_groups))
    return [
        ("home", {"villager_group": str(g), "house_number": str(h)}, [{}])
        for g, count in enumerate(per_group, start=1)
        for h in range(1, int(count) + 1)
    ]


def _urban_buildings(rng: np.random.Generator, ci: int, roads: list[str], plan: _Plan) -> list[Building]:
    """A community's estates (小区, buildings of rooms), street-front shops and maybe an office tower."""
    buildings: list[Building] = []
    next_number = {r: int(rng.integers(1, 12)) for r in roads}

    def take_number(road: str) -> str:
        n = next_number[road]
        next_number[road] = n + int(rng.integers(1, 4))
        return str(n)

    for b_count, floors, units in _estate_shapes(rng, int(plan.homes_per[ci])):
        road = roads[int(rng.integers(0, len(roads)))]
        number = take_number(road)
        estate = next(plan.estate_names)
        listed = plan.estate_listed(b_count * floors * units * 2)
        named = {"estate": estate, "estate_alias": ""} if listed else {"estate": "", "estate_alias": estate}
        for b in range(1, b_count + 1):
            rooms = [
                {"unit": str(u), "floor": str(f), "room": f"{f}{r:02d}"}
                for u in range(1, units + 1)
                for f in range(1, floors + 1)
                for r in (1, 2)
            ]
            common = {"road": road, "house_number": number, **named, "building": str(b)}
            buildings.append(("home", common, rooms))
    for _ in range(int(plan.shops_per[ci])):
        road = roads[int(rng.integers(0, len(roads)))]
        buildings.append(("shop", {"road": road, "house_number": take_number(road)}, [{}]))
    if ci in plan.towers_at:
        share = plan.office_rooms_total // len(plan.towers_at) + 1
        floors = max(3, math.ceil(share / 8))
        road = roads[0]
        tower = plan.tower_names.pop()
        rooms = [{"floor": str(f), "room": f"{f}{r:02d}"} for f in range(2, floors + 2) for r in range(1, 9)]
        common = {"road": road, "house_number": take_number(road), "estate": tower}
        buildings.append(("office", common, rooms[:share]))
    return buildings


@dataclass
class _MicroGrids:
    """A community's micro grids (codes and rectangles) and which one each of its buildings lies in."""

    codes: list[str]
    rects: list[tuple[float, float, float, float]]
    of_building: np.ndarray


def _grid_row(code: str, name: str, grid_type: str, parent: str, comm: dict, wkt: str) -> dict:
    return {
        "grid_code": code,
        "name": name,
        "grid_type": grid_type,
        "parent_grid_code": parent,
        "community_code": comm["community_code"],
        "street_code": comm["street_code"],
        "district_code": N.DISTRICT[0],
        "wkt": wkt,
        "valid_from": GRIDS_VALID_FROM,
        "valid_to": "",
    }


def _grids(ci: int, comm: dict, households: list[int], grid_rows: list[dict]) -> _MicroGrids:
    """Basic grids (vertical strips of the community's cell) and their micro grids (horizontal strips), added
    to ``grid_rows``; buildings go to micro grids in order of their cumulative households."""
    x0 = ORIGIN_LON + (ci % CELLS_PER_ROW) * CELL_LON
    y0 = ORIGIN_LAT + (ci // CELLS_PER_ROW) * CELL_LAT
    c_code = comm["community_code"]
    total = int(sum(households))
    n_basic = max(1, round(total / HOUSEHOLDS_PER_BASIC_GRID))
    n_micro_per = max(1, round(total / n_basic / HOUSEHOLDS_PER_MICRO_GRID))
    n_micro = n_basic * n_micro_per
    bw, mh = CELL_LON / n_basic, CELL_LAT / n_micro_per
    micro = _MicroGrids(codes=[], rects=[], of_building=np.array([]))
    for b in range(n_basic):
        basic_code = f"{c_code}{b + 1:03d}"
        bx0, bx1 = x0 + b * bw, x0 + (b + 1) * bw
        basic_name = f"{comm['community']}第{b + 1}网格"
        grid_rows.append(
            _grid_row(basic_code, basic_name, "基础网格", "", comm, _rect_wkt(bx0, y0, bx1, y0 + CELL_LAT))
        )
        for m in range(n_micro_per):
            code = f"{basic_code}{m + 1:03d}"
            my0, my1 = y0 + m * mh, y0 + (m + 1) * mh
            name = f"{basic_name}第{m + 1}微网格"
            grid_rows.append(_grid_row(code, name, "微网格", basic_code, comm, _rect_wkt(bx0, my0, bx1, my1)))
            micro.codes.append(code)
            micro.rects.append((bx0, my0, bx1, my1))
    # home / shop / office buildings mixed, in the order they were laid out
    counts = np.array(households)
    before = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else np.array([])
    micro.of_building = np.minimum((before / max(total, 1) * n_micro).astype(int), n_micro - 1)
    return micro


#: The columns of :attr:`District.addresses`, in order: the library's and the generator's own.
ADDRESS_COLUMNS = (
    *ADDRESS_LIBRARY_COLUMNS,
    "kind",
    "street_code",
    "rural",
    "community_short",
    "estate_alias",
)


def _address_rows(
    rng: np.random.Generator, comm: dict, buildings: list[Building], micro: _MicroGrids, cols: dict[str, list]
) -> None:
    """One standard address per room of every building, appended to ``cols`` (a list per column of
    :data:`ADDRESS_COLUMNS`); a building is a point inside its micro grid."""
    c_code = comm["community_code"]
    seq = 0
    for bi, (kind, common, rooms) in enumerate(buildings):
        gx0, gy0, gx1, gy1 = micro.rects[micro.of_building[bi]]
        lon = round(float(rng.uniform(gx0 + 0.1 * (gx1 - gx0), gx1 - 0.1 * (gx1 - gx0))), 6)
        lat = round(float(rng.uniform(gy0 + 0.1 * (gy1 - gy0), gy1 - 0.1 * (gy1 - gy0))), 6)
        building_code = f"B{c_code}{bi + 1:05d}"
        for room in rooms:
            seq += 1
            row = {
                "address_code": f"{c_code}{seq:06d}",
                "division_code": c_code,
                "province": N.PROVINCE[1],
                "city": N.CITY[1],
                "district": N.DISTRICT[1],
                "street": comm["street"],
                "community": comm["community"],
                "road": "",
                "villager_group": "",
                "house_number": "",
                "estate": "",
                "building": "",
                "unit": "",
                "floor": "",
                "room": "",
                "building_code": building_code,
                "grid_code": micro.codes[micro.of_building[bi]],
                "lon": lon,
                "lat": lat,
                "kind": kind,
                "street_code": comm["street_code"],
                "rural": comm["rural"],
                "community_short": comm["community_short"],
                "estate_alias": "",
            }
            row.update(common)
            row.update(room)
            row["standard_text"] = standard_text(row)
            for column in ADDRESS_COLUMNS:
                cols[column].append(row[column])


def detail_text(a: dict) -> str:
    """The part of a standard address below the community: 路-号-小区-栋-单元-室 or 组-号."""
    if a.get("villager_group"):
        return f"{a['villager_group']}组{a['house_number']}号"
    text = f"{a['road']}{a['house_number']}号{a['estate']}"
    if a.get("building"):
        text += f"{a['building']}栋"
    if a.get("unit"):
        text += f"{a['unit']}单元"
    if a.get("room"):
        text += f"{a['room']}室"
    return text


def standard_text(a: dict) -> str:
    """The standard address written out in full (广东省云江市青石区东湖街道湖滨社区滨江路18号阳光花园3栋2单元501室)."""
    return f"{a['province']}{a['city']}{a['district']}{a['street']}{a['community']}{detail_text(a)}"
