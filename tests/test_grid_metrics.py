"""grid_metrics (网格指标, issue 16) on the sample district, against counts made without warehouse.metrics.

Two independent references: a recount from the published person, house and grid tables, written as plain loops
over rows (exact agreement), and the sample's ground truth under ``truth/`` (agreement within what entity
resolution can lose). The sizing norms are set in the test workspace's gridhub.yaml from the truth, so the
district has grids below, within and above their norm.
"""

from __future__ import annotations

import csv
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import yaml

from gridhub import pipeline
from gridhub.workspace import Workspace
from warehouse.read import read_table

#: A grid's household count may differ from the truth by this much: a household is lost only when no feed
#: names any of its members, a house can be split or merged by entity resolution.
TOLERANCE = 2


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _ancestors(grid: str | None, parent: dict[str, str | None]) -> list[str]:
    out = []
    while grid:
        out.append(grid)
        grid = parent.get(grid)
    return out


def _truth_households(ws: Path) -> dict[str, int]:
    """Households per grid from truth/persons.csv (one home per household), micro-grids counted in their parent."""
    parent = {g["grid_code"]: g["parent_grid_code"] or None for g in _rows(ws / "reference" / "grids.csv")}
    homes: dict[str, set[str]] = defaultdict(set)
    for p in _rows(ws / "truth" / "persons.csv"):
        for g in _ancestors(p["grid_code"], parent):
            homes[g].add(p["residence_address_code"])
    return {g: len(homes[g]) for g in parent}


def _grid_types(ws: Path) -> dict[str, str]:
    return {g["grid_code"]: g["grid_type"] for g in _rows(ws / "reference" / "grids.csv")}


def _norms_from_truth(truth: dict[str, int], types: dict[str, str]) -> dict[str, list[dict]]:
    """A households norm per grid type around the middle of its grids' true sizes: some grids fall below it,
    some inside, some above."""
    norms = {}
    for grid_type in ("基础网格", "微网格"):
        sizes = sorted(n for g, n in truth.items() if types[g] == grid_type)
        low, high = sizes[len(sizes) // 3], sizes[(2 * len(sizes)) // 3]
        norms[grid_type] = [{"measure": "households", "min": low, "max": high}]
    return norms


def _status(value: int, low: int, high: int) -> str:
    return "below" if value < low else "above" if value > high else "within"


@pytest.fixture(scope="module")
def published(sample_workspace: Path, tmp_path_factory) -> tuple[Workspace, dict]:
    from connectors import ingest_feed

    root = tmp_path_factory.mktemp("grid-metrics") / "ws"
    shutil.copytree(sample_workspace, root)
    norms = _norms_from_truth(_truth_households(root), _grid_types(root))
    config = yaml.safe_load((root / "gridhub.yaml").read_text(encoding="utf-8"))
    config["grid_norms"] = norms
    (root / "gridhub.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    ws = Workspace(root)
    for feed in ws.config.feeds:
        ingest_feed(ws, feed.name).check_accounting()
    pipeline.run_all(ws)
    return ws, norms


def _table(ws: Workspace, name: str) -> list[dict]:
    return read_table(ws.warehouse, name, layer="restricted").to_pylist()


def _grid_rows(ws: Workspace) -> dict[str, dict]:
    return {r["code"]: r for r in _table(ws, "grid_metrics") if r["level"] == "grid"}


def test_households_per_grid_match_a_recount_of_the_published_tables(published):
    ws, _ = published
    parent = {g["grid_code"]: g["parent_grid_code"] for g in _table(ws, "grid")}
    grid_of_house = {h["house_id"]: h["grid_code"] for h in _table(ws, "house")}
    homes: dict[str, set[str]] = defaultdict(set)
    for p in _table(ws, "person"):
        house = p["residence_house_id"]
        for g in _ancestors(grid_of_house.get(house) if house else None, parent):
            homes[g].add(house)
    rows = _grid_rows(ws)
    assert set(rows) == set(parent)  # every grid of the reference has its row
    assert {g: r["households"] for g, r in rows.items()} == {g: len(homes[g]) for g in parent}
    assert sum(len(h) for g, h in homes.items() if not parent[g]) > 50


def test_households_per_grid_match_the_truth(published):
    ws, _ = published
    truth = _truth_households(ws.root)
    rows = _grid_rows(ws)
    off = {
        g: (rows[g]["households"], n) for g, n in truth.items() if abs(rows[g]["households"] - n) > TOLERANCE
    }
    assert not off, f"grid: (published, truth) {off}"


def test_binding_rate_matches_a_recount_per_grid_and_for_the_district(published):
    """人房绑定率: persons whose current residence is a house with a standard address, over the persons a grid
    answers for (those living there, and those without a residence whose 户籍 address is there)."""
    ws, _ = published
    parent = {g["grid_code"]: g["parent_grid_code"] for g in _table(ws, "grid")}
    address_grid = {a["address_code"]: a["grid_code"] for a in _table(ws, "address")}
    houses = {h["house_id"]: h for h in _table(ws, "house")}
    persons = _table(ws, "person")
    total: Counter[str] = Counter()
    bound: Counter[str] = Counter()
    for p in persons:
        home = houses.get(p["residence_house_id"] or "", {}).get("address_code")
        grid = p["grid_code"] if (p["grid_code"] or home) else address_grid.get(p["hukou_address_code"] or "")
        for g in _ancestors(grid, parent):
            total[g] += 1
            bound[g] += home is not None
    for g, row in _grid_rows(ws).items():
        want = bound[g] / total[g] if total[g] else None
        assert row["binding_rate"] == pytest.approx(want), g
        assert row["persons_unbound"] == total[g] - bound[g], g
    district = [r for r in _table(ws, "grid_metrics") if r["level"] == "district"]
    assert sum(r["persons"] for r in district) == len(persons)
    all_bound = sum(
        houses.get(p["residence_house_id"] or "", {}).get("address_code") is not None for p in persons
    )
    assert sum(r["persons_bound"] for r in district) == all_bound
    # the truth puts every person in a home of the address library: the published rate is near 1
    assert all_bound / len(persons) > 0.95


def test_grids_outside_the_norm_match_the_truth(published):
    """size_status against the configured norm, classified here from the truth's households; a grid whose true
    size is within the tolerance of a bound may fall either side."""
    ws, norms = published
    truth, types = _truth_households(ws.root), _grid_types(ws.root)
    rows = _grid_rows(ws)
    statuses = Counter()
    for g, n in truth.items():
        (norm,) = norms[types[g]]
        low, high = norm["min"], norm["max"]
        row = rows[g]
        assert (row["norm_measure"], row["norm_min"], row["norm_max"]) == ("households", low, high)
        assert row["size_status"] == _status(row["households"], low, high), g  # the published count
        statuses[row["size_status"]] += 1
        if min(abs(n - low), abs(n - high)) > TOLERANCE:
            assert row["size_status"] == _status(n, low, high), (g, row["households"], n)
    assert set(statuses) == {"below", "within", "above"}, statuses


def test_rollups_add_up_and_residents_by_type_follow_the_truth(published):
    ws, _ = published
    rows = _table(ws, "grid_metrics")
    by_level = defaultdict(list)
    for r in rows:
        by_level[r["level"]].append(r)
    basic = [r for r in by_level["grid"] if not r["parent_grid_code"]]
    for column in ("households", "houses", "organisations", "facilities", "residents"):
        grids = sum(r[column] for r in basic)
        for level in ("community", "street", "district"):
            known = sum(r[column] for r in by_level[level] if r["code"] != "unknown")
            assert known == grids, (column, level)
    for r in rows:
        kinds = ("huji", "liudong", "jingwai", "unknown_type")
        assert sum(r[f"residents_{k}"] for k in kinds) == r["residents"]
        assert r["occupied_houses"] + r["empty_houses"] == r["houses"]
        assert r["households"] <= r["occupied_houses"]
    truth = Counter(p["population_type"] for p in _rows(ws.root / "truth" / "persons.csv"))
    district = next(r for r in by_level["district"] if r["code"] != "unknown")
    assert district["residents_huji"] == pytest.approx(truth["户籍"], rel=0.05)
    assert district["residents_liudong"] == pytest.approx(truth["流动"], rel=0.1)
    assert {r["name"] for r in by_level["street"]} >= {"东湖街道", "石岭镇"}


# ---- the rules on a handmade district (no pipeline) ------------------------------------------------------------
GRIDS = {  # code: (type, parent)
    "445399001001001": ("基础网格", None),
    "445399001001001001": ("微网格", "445399001001001"),
    "445399001001002": ("专属网格", None),
    "445399001001003": ("专属网格", None),
}


def _handmade(persons: list[dict], houses: list[dict], organisations: list[dict] = ()) -> dict:
    """Canonical tables of a tiny district: one community, four grids, the given rows."""
    import pandas as pd

    from warehouse.build import to_arrow

    grid = pd.DataFrame(
        [
            {
                "grid_code": c,
                "name": c,
                "grid_type": t,
                "parent_grid_code": p,
                "community_code": "445399001001",
            }
            for c, (t, p) in GRIDS.items()
        ]
    )
    address = pd.DataFrame(
        [
            {
                "address_code": f"A{i}",
                "division_code": "445399001001",
                "standard_text": f"{i}号",
                "grid_code": g,
            }
            for i, g in enumerate(GRIDS)
        ]
        + [
            {
                "address_code": "B0",
                "division_code": "445399001001",
                "standard_text": "无网格",
                "grid_code": None,
            }
        ]
    )
    frames = {
        "person": pd.DataFrame(
            persons,
            columns=[
                "person_id",
                "name",
                "residence_house_id",
                "grid_code",
                "hukou_address_code",
                "population_type",
                "separated",
            ],
        ),
        "house": pd.DataFrame(houses, columns=["house_id", "address_code", "grid_code"]),
        "organisation": pd.DataFrame(
            list(organisations),
            columns=["org_id", "name", "address_code", "business_address_code", "grid_code", "grid_basis"],
        ),
        "facility": pd.DataFrame(columns=["facility_id", "facility_type", "grid_code"]),
        "grid": grid,
        "address": address,
    }
    return {
        n: to_arrow(n, f.assign(street_code="445399001") if n in ("person", "house", "organisation") else f)
        for n, f in frames.items()
    }


def _person(
    i: int, house: str | None, grid: str | None, hukou: str | None = None, kind: str = "户籍"
) -> dict:
    return {
        "person_id": f"P{i}",
        "name": "张三",
        "residence_house_id": house,
        "grid_code": grid,
        "hukou_address_code": hukou,
        "population_type": kind,
        "separated": None,
    }


def test_micro_grids_count_in_their_basic_grid_and_the_unhoused_count_where_their_hukou_is():
    from warehouse.metrics import grid_metrics
    from warehouse.settings import DEFAULT_GRID_NORMS

    basic, micro = "445399001001001", "445399001001001001"
    houses = [
        {"house_id": "H1", "address_code": "A1", "grid_code": micro},
        {"house_id": "H2", "address_code": "A0", "grid_code": basic},
        {"house_id": "H3", "address_code": "A0", "grid_code": basic},
    ]  # nobody lives here
    persons = [
        _person(1, "H1", micro),
        _person(2, "H1", micro, kind="流动"),
        _person(3, "H2", basic),
        _person(4, None, None, hukou="A1"),  # no residence: answered for where the 户籍 is
        _person(5, None, None),
    ]  # no place at all
    rows = grid_metrics(**_handmade(persons, houses), norms=DEFAULT_GRID_NORMS).set_index(["level", "code"])
    m, b = rows.loc[("grid", micro)], rows.loc[("grid", basic)]
    assert (m.households, m.residents, m.persons, m.persons_bound, m.separated_persons) == (1, 2, 3, 2, 1)
    assert (b.households, b.residents, b.persons, b.houses, b.empty_houses) == (2, 3, 4, 3, 1)
    assert b.binding_rate == pytest.approx(3 / 4) and m.residents_liudong == 1
    assert rows.loc[("community", "unknown")].persons == 1 and rows.loc[("district", "445399")].persons == 4


def test_a_dedicated_grid_is_within_when_either_of_its_ranges_holds_it():
    from warehouse.metrics import grid_metrics
    from warehouse.settings import SizeRange

    dedicated_a, dedicated_b = "445399001001002", "445399001001003"
    houses = [{"house_id": "H1", "address_code": "A2", "grid_code": dedicated_a}]
    persons = [_person(i, "H1", dedicated_a) for i in range(5)]  # 5 residents: above the residents range
    orgs = [
        {
            "org_id": f"O{i}",
            "name": "某公司",
            "address_code": "A3",
            "grid_code": dedicated_b,
            "grid_basis": "注册",
        }
        for i in range(3)
    ]
    norms = {
        "专属网格": (
            SizeRange(measure="residents", min=2, max=4),
            SizeRange(measure="organisations", min=3, max=9),
        ),
        "基础网格": (SizeRange(measure="households", min=1, max=1),),
        "微网格": (),
    }
    rows = grid_metrics(**_handmade(persons, houses, orgs), norms=norms).set_index(["level", "code"])
    a, b = rows.loc[("grid", dedicated_a)], rows.loc[("grid", dedicated_b)]
    assert (a.size_status, a.norm_measure, a.norm_max) == ("above", "residents", 4)
    assert (b.size_status, b.norm_measure, b.norm_min) == (
        "within",
        "organisations",
        3,
    )  # 0 residents, 3 units
    assert rows.loc[("grid", "445399001001001")].size_status == "below"
    assert rows.loc[("grid", "445399001001001001")].size_status is None  # 微网格: no norm configured


@pytest.mark.parametrize(
    ("norms", "message"),
    [
        ("{村网格: [{measure: households, min: 1, max: 2}]}", "not a grid type"),
        ("{微网格: [{measure: households, min: 90, max: 50}]}", "min 90 is above max 50"),
        ("{微网格: [{measure: people, min: 1, max: 2}]}", "measure"),
        (
            "{专属网格: [{measure: residents, min: 1, max: 2}, {measure: residents, min: 3, max: 4}]}",
            "one range per measure",
        ),
    ],
)
def test_grid_norms_are_checked_when_the_config_loads(tmp_path, sample_workspace, norms, message):
    from gridhub.config import ConfigError, load_config

    text = (sample_workspace / "gridhub.yaml").read_text(encoding="utf-8") + f"\ngrid_norms: {norms}\n"
    (tmp_path / "gridhub.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path)


def test_a_grid_type_in_grid_norms_replaces_only_its_own_default(tmp_path, sample_workspace):
    from gridhub.config import load_config
    from warehouse.settings import DEFAULT_GRID_NORMS

    text = (sample_workspace / "gridhub.yaml").read_text(encoding="utf-8")
    (tmp_path / "gridhub.yaml").write_text(
        text + "\ngrid_norms: {微网格: [{measure: households, min: 40, max: 90}], 专属网格: []}\n",
        encoding="utf-8",
    )
    norms = load_config(tmp_path).grid_norms_in_force
    assert [(r.min, r.max) for r in norms["微网格"]] == [(40, 90)]
    assert norms["专属网格"] == () and norms["基础网格"] == DEFAULT_GRID_NORMS["基础网格"]


def test_the_validation_gate_checks_the_metrics_of_a_synthetic_warehouse(tmp_path):
    """Great Expectations passes the metrics computed from a consistent warehouse and stops a rate above 1, a
    negative count, an unknown size status and a grid that is not in the grid table."""
    import pyarrow as pa
    from synth_tables import synthetic_tables

    from warehouse.build import to_arrow
    from warehouse.metrics import grid_metrics
    from warehouse.settings import DEFAULT_GRID_NORMS, WarehouseSettings
    from warehouse.validate import validate_tables

    tables = synthetic_tables(600, seed=3)
    names = ("person", "house", "organisation", "facility", "grid", "address")
    metrics = to_arrow(
        "grid_metrics", grid_metrics(**{n: tables[n] for n in names}, norms=DEFAULT_GRID_NORMS)
    )
    assert metrics.num_rows > 3
    settings = WarehouseSettings(row_count_drift=0.5)

    def failures(table: pa.Table) -> set[tuple[str, str | None]]:
        report = validate_tables(
            {**tables, "grid_metrics": table},
            previous=None,
            settings=settings,
            grid_code_width=15,
            report_dir=tmp_path,
        )
        return {(r.expectation, r.column) for r in report.results if not r.success}

    assert failures(metrics) == set()
    frame = metrics.to_pandas()
    grid_row = frame.index[frame["level"] == "grid"][0]
    frame.loc[grid_row, ["binding_rate", "households", "size_status"]] = [1.5, -1, "huge"]
    frame.loc[grid_row, "grid_code"] = "445399999999999"
    assert failures(to_arrow("grid_metrics", frame)) == {
        ("expect_column_values_to_be_between", "binding_rate"),
        ("expect_column_values_to_be_between", "households"),
        ("expect_column_values_to_be_in_set", "size_status"),
        ("expect_column_values_to_reference_keys", "grid_code"),
    }
