"""Grid binding: point in polygon, GCJ-02, address vs point grids, hierarchy."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from matching.grids import GridError, GridIndex, bind_grids, gcj02_to_wgs84, wgs84_to_gcj02

COMM = "445399001001"
STREET, DISTRICT = "445399001", "445399"


def rect(x0: float, y0: float, x1: float, y1: float) -> str:
    return f"POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"


def grid(code: str, kind: str, parent: str, wkt: str, valid_to: str = "", comm: str = COMM) -> dict:
    return {
        "grid_code": code,
        "name": f"网格{code[-3:]}",
        "grid_type": kind,
        "parent_grid_code": parent,
        "community_code": comm,
        "street_code": comm[:9],
        "district_code": comm[:6],
        "wkt": wkt,
        "valid_from": "2023-01-01",
        "valid_to": valid_to,
    }


# community 湖滨: x 112.00-112.02, y 22.90-22.91; two basic grids (west/east), each with two micro grids
GRIDS = pd.DataFrame(
    [
        grid(f"{COMM}001", "基础网格", "", rect(112.00, 22.90, 112.01, 22.91)),
        grid(f"{COMM}001001", "微网格", f"{COMM}001", rect(112.00, 22.90, 112.01, 22.905)),
        grid(f"{COMM}001002", "微网格", f"{COMM}001", rect(112.00, 22.905, 112.01, 22.91)),
        grid(f"{COMM}002", "基础网格", "", rect(112.01, 22.90, 112.02, 22.91)),
        grid(f"{COMM}002001", "微网格", f"{COMM}002", rect(112.01, 22.90, 112.02, 22.905)),
        grid(f"{COMM}002002", "微网格", f"{COMM}002", rect(112.01, 22.905, 112.02, 22.91)),
        # a retired grid overlapping the east half: must never be returned
        grid(f"{COMM}009", "基础网格", "", rect(112.01, 22.90, 112.02, 22.91), valid_to="2024-01-01"),
        # the neighbouring community, basic grid only
        grid("445399001002001", "基础网格", "", rect(112.02, 22.90, 112.03, 22.91), comm="445399001002"),
    ]
)
DIVISIONS = pd.DataFrame(
    [
        ("445399", "青石区", "district", ""),
        (STREET, "东湖街道", "street", "445399"),
        (COMM, "湖滨社区", "community", STREET),
        ("445399001002", "东湖社区", "community", STREET),
    ],
    columns=["code", "name", "level", "parent_code"],
)


@pytest.fixture(scope="module")
def index() -> GridIndex:
    return GridIndex(GRIDS, DIVISIONS, as_of=dt.date(2025, 6, 1))


def test_locate_finest_grid(index):
    lon = pd.Series([112.005, 112.005, 112.015, 112.015, 112.025, 113.0], index=list("abcdef"))
    lat = pd.Series([22.902, 22.908, 22.902, 22.908, 22.905, 22.9])
    out = index.locate(lon, lat)
    assert list(out.index) == list("abcdef")
    assert out.tolist()[:5] == [
        f"{COMM}001001",
        f"{COMM}001002",
        f"{COMM}002001",
        f"{COMM}002002",
        "445399001002001",
    ]
    assert pd.isna(out["f"])  # outside every grid


def test_locate_basic_grids_only(index):
    out = index.locate(np.array([112.005, 112.015]), np.array([22.902, 22.908]), finest=False)
    assert out.tolist() == [f"{COMM}001", f"{COMM}002"]


def test_locate_bad_coordinates(index):
    out = index.locate(
        pd.Series([None, np.nan, 500.0, "abc", 112.005]), pd.Series([22.9, 22.9, 22.9, 22.9, None])
    )
    assert out.isna().all()


def test_point_on_shared_edge_goes_to_lowest_code(index):
    out = index.locate(np.array([112.01]), np.array([22.902]))
    assert out.iloc[0] == f"{COMM}001001"


def test_retired_grid_is_ignored_but_current_before_valid_to():
    old = GridIndex(GRIDS, as_of=dt.date(2023, 6, 1))
    # both basic grids cover the point; the micro grid is finer and wins either way
    assert old.locate(np.array([112.015]), np.array([22.902])).iloc[0] == f"{COMM}002001"
    now = GridIndex(GRIDS, as_of=dt.date(2025, 6, 1))
    assert now.locate(np.array([112.015]), np.array([22.902]), finest=False).iloc[0] == f"{COMM}002"


def test_gcj02_round_trip_and_conversion():
    lon = np.array([112.0453, 116.397, 121.4737])
    lat = np.array([22.9151, 39.909, 31.2304])
    glon, glat = wgs84_to_gcj02(lon, lat)
    # GCJ-02 shifts points in China by a few hundred metres
    assert (np.abs(glon - lon) > 1e-3).all() or (np.abs(glat - lat) > 1e-3).all()
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert np.abs(wlon - lon).max() < 1e-6 and np.abs(wlat - lat).max() < 1e-6
    # outside China: unchanged
    assert wgs84_to_gcj02(np.array([2.35]), np.array([48.85]))[0][0] == 2.35


def test_locate_gcj02_coordinates(index):
    wgs_lon, wgs_lat = np.array([112.0095, 112.0105]), np.array([22.902, 22.902])
    glon, glat = wgs84_to_gcj02(wgs_lon, wgs_lat)
    assert index.locate(glon, glat, crs="GCJ-02").tolist() == [f"{COMM}001001", f"{COMM}002001"]
    # read as if WGS-84, the shifted points fall elsewhere
    assert index.locate(glon, glat).fillna("").tolist() != [f"{COMM}001001", f"{COMM}002001"]
    with pytest.raises(GridError):
        index.locate(glon, glat, crs="BD-09")


def test_bind_grids(index):
    a = pd.Series([f"{COMM}001001", f"{COMM}001001", None, f"{COMM}001001", None, f"{COMM}001"])
    p = pd.Series([f"{COMM}001001", f"{COMM}001", f"{COMM}002001", f"{COMM}002002", None, f"{COMM}001002"])
    for idx in (index, None):  # with the index, and from the code layout alone
        out = bind_grids(a, p, idx)
        assert out["grid_code"].tolist()[:4] == [
            f"{COMM}001001",
            f"{COMM}001001",
            f"{COMM}002001",
            f"{COMM}001001",
        ]
        assert pd.isna(out["grid_code"].iloc[4])
        assert out["grid_code"].iloc[5] == f"{COMM}001002"  # the finer grid, inside the address's basic grid
        assert out["grid_source"].tolist()[:4] == ["both", "both", "point", "address"]
        assert out["grid_conflict"].tolist() == [False, False, False, True, False, False]


def test_bind_grids_prefer_point(index):
    out = bind_grids(pd.Series([f"{COMM}001001"]), pd.Series([f"{COMM}002002"]), index, prefer="point")
    assert out["grid_code"].iloc[0] == f"{COMM}002002"
    assert bool(out["grid_conflict"].iloc[0])


def test_hierarchy_queries(index):
    micro = f"{COMM}001002"
    chain = index.parents(micro)
    assert [c["level"] for c in chain] == ["grid", "community", "street", "district"]
    assert [c["code"] for c in chain] == [f"{COMM}001", COMM, STREET, DISTRICT]
    assert chain[1]["name"] == "湖滨社区" and chain[3]["name"] == "青石区"
    assert index.children(f"{COMM}001") == [f"{COMM}001001", f"{COMM}001002"]
    assert index.children(STREET) == [COMM, "445399001002"]
    assert index.children(COMM) == [f"{COMM}001", f"{COMM}002", f"{COMM}009"]
    below = index.children(STREET, grids_only=True)
    assert len(below) == 8 and f"{COMM}002002" in below
    assert index.community_of(micro) == COMM and index.street_of(micro) == STREET
    assert index.district_of(micro) == DISTRICT
    h = index.hierarchy(pd.Series([micro, f"{COMM}002", "nope", None]))
    assert h["basic_grid_code"].tolist()[:2] == [f"{COMM}001", f"{COMM}002"]
    assert h["community_code"].iloc[0] == COMM
    assert h.iloc[2:, 1:].isna().all().all()
    with pytest.raises(GridError):
        index.parents("nope")


def test_load_and_errors(tmp_path):
    GRIDS.to_csv(tmp_path / "grids.csv", index=False)
    idx = GridIndex.load(tmp_path)
    assert idx.locate(np.array([112.005]), np.array([22.902])).iloc[0] == f"{COMM}001001"
    with pytest.raises(GridError):
        GridIndex.load(tmp_path / "missing")
    bad = GRIDS.copy()
    bad.loc[0, "wkt"] = "POLYGON ((nonsense"
    with pytest.raises(GridError):
        GridIndex(bad)
    with pytest.raises(GridError):
        GridIndex(pd.concat([GRIDS, GRIDS.iloc[:1]]))


def test_locate_many_points_matches_brute_force(index):
    rng = np.random.default_rng(3)
    lon = rng.uniform(111.995, 112.035, 5000)
    lat = rng.uniform(22.895, 22.915, 5000)
    got = index.locate(lon, lat).fillna("").to_numpy()
    # brute force over the current micro grids and the neighbour's basic grid
    want = np.full(5000, "", dtype=object)
    for code, x0, x1, y0, y1 in [
        (f"{COMM}001001", 112.00, 112.01, 22.90, 22.905),
        (f"{COMM}001002", 112.00, 112.01, 22.905, 22.91),
        (f"{COMM}002001", 112.01, 112.02, 22.90, 22.905),
        (f"{COMM}002002", 112.01, 112.02, 22.905, 22.91),
        ("445399001002001", 112.02, 112.03, 22.90, 22.91),
    ]:
        inside = (lon > x0) & (lon < x1) & (lat > y0) & (lat < y1) & (want == "")
        want[inside] = code
    assert (got == want).all()
