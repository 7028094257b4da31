"""Address parsing and matching against a small, hand-built standard address library."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from matching.address import (
    ELEMENTS,
    RESULT_COLUMNS,
    AddressLibrary,
    LibraryError,
    canonical_address_text,
    match_addresses,
    parse_addresses,
    review_table,
)

PROV, CITY, DIST = "广东省", "云江市", "青石区"
DIVISIONS = pd.DataFrame(
    [
        ("440000", "广东省", "province", "", "广东"),
        ("445300", "云江市", "city", "440000", "云江"),
        ("445399", "青石区", "district", "445300", "青石"),
        ("445399001", "东湖街道", "street", "445399", "东湖|东湖街"),
        ("445399001001", "湖滨社区", "community", "445399001", "湖滨|湖滨居委会"),
        ("445399001002", "东湖社区", "community", "445399001", "东湖|东湖居委会"),
        ("445399002", "滨江街道", "street", "445399", "滨江|滨江街"),
        ("445399002001", "滨江社区", "community", "445399002", "滨江|滨江居委会"),
        ("445399101", "石岭镇", "street", "445399", "石岭"),
        ("445399101201", "石岭村", "community", "445399101", "石岭|石岭村委会"),
        ("445399101202", "岭南村", "community", "445399101", "岭南|岭南村委会"),
    ],
    columns=["code", "name", "level", "parent_code", "aliases"],
)
_NAMES = {
    "445399001001": ("东湖街道", "湖滨社区"),
    "445399001002": ("东湖街道", "东湖社区"),
    "445399002001": ("滨江街道", "滨江社区"),
    "445399101201": ("石岭镇", "石岭村"),
    "445399101202": ("石岭镇", "岭南村"),
}


def _row(comm: str, seq: int, bcode: str, grid: str, **kw) -> dict:
    street, community = _NAMES[comm]
    r = {
        "address_code": f"{comm}{seq:06d}",
        "division_code": comm,
        "province": PROV,
        "city": CITY,
        "district": DIST,
        "street": street,
        "community": community,
        "road": "",
        "villager_group": "",
        "house_number": "",
        "estate": "",
        "building": "",
        "unit": "",
        "floor": "",
        "room": "",
        "building_code": bcode,
        "grid_code": grid,
        "lon": 112.05,
        "lat": 22.91,
    }
    r.update(kw)
    if r["villager_group"]:
        detail = f"{r['villager_group']}组{r['house_number']}号"
    else:
        detail = f"{r['road']}{r['house_number']}号{r['estate']}"
        detail += f"{r['building']}栋" if r["building"] else ""
        detail += f"{r['unit']}单元" if r["unit"] else ""
        detail += f"{r['room']}室" if r["room"] else ""
    r["standard_text"] = f"{PROV}{CITY}{DIST}{street}{community}{detail}"
    return r


def _library_rows() -> list[dict]:
    rows, seq = [], {c: 0 for c in _NAMES}

    def add(comm, bcode, grid, **kw):
        seq[comm] += 1
        rows.append(_row(comm, seq[comm], bcode, grid, **kw))

    # 湖滨社区: 滨江路18号阳光花园 1-3栋, 2 units, 6 floors, 2 rooms a floor; a shop at 湖滨路5号
    for b in (1, 2, 3):
        for u in (1, 2):
            for f in range(1, 7):
                for r in (1, 2):
                    add(
                        "445399001001",
                        f"B001001{b:03d}",
                        f"445399001001001{b:03d}",
                        road="滨江路",
                        house_number="18",
                        estate="阳光花园",
                        building=str(b),
                        unit=str(u),
                        floor=str(f),
                        room=f"{f}{r:02d}",
                    )
    add("445399001001", "B001001101", "445399001001002001", road="湖滨路", house_number="5")
    # a second estate on 滨江路 whose building numbers repeat 阳光花园's
    for b in (1, 3):
        for f in range(1, 6):
            add(
                "445399001001",
                f"B001001{200 + b}",
                "445399001001002001",
                road="滨江路",
                house_number="22",
                estate="碧水湾",
                building=str(b),
                unit="1",
                floor=str(f),
                room=f"{f}01",
            )
    # 东湖社区: 东湖大道8号东湖新村 1栋, one unit
    for f in range(1, 4):
        add(
            "445399001002",
            "B001002001",
            "445399001002001001",
            road="东湖大道",
            house_number="8",
            estate="东湖新村",
            building="1",
            unit="1",
            floor=str(f),
            room=f"{f}01",
        )
    # 滨江社区: 滨江东路18号翠湖苑 3栋 (same number and building as 滨江路18号: the similar-road trap)
    for u in (1, 2):
        for f in range(1, 7):
            add(
                "445399002001",
                "B002001003",
                "445399002001001001",
                road="滨江东路",
                house_number="18",
                estate="翠湖苑",
                building="3",
                unit=str(u),
                floor=str(f),
                room=f"{f}01",
            )
    # an office tower: floors and rooms, no building or unit
    for f in (2, 3):
        for r in (1, 2, 3):
            add(
                "445399002001",
                "B002001900",
                "445399002001001002",
                road="滨江东路",
                house_number="20",
                estate="云江金融大厦",
                floor=str(f),
                room=f"{f}{r:02d}",
            )
    # villages: 石岭村 groups 1-3, 岭南村 groups 1-2, 30 houses each (house numbers restart per group)
    for comm, groups in (("445399101201", (1, 2, 3)), ("445399101202", (1, 2))):
        for g in groups:
            for h in range(1, 31):
                add(
                    comm,
                    f"B{comm[6:]}{g}{h:03d}",
                    f"{comm}00{g}001",
                    villager_group=str(g),
                    house_number=str(h),
                )
    return rows


@pytest.fixture(scope="module")
def library_frame() -> pd.DataFrame:
    return pd.DataFrame(_library_rows())


@pytest.fixture(scope="module")
def library(library_frame) -> AddressLibrary:
    return AddressLibrary.from_frames(library_frame, DIVISIONS)


def code_of(frame: pd.DataFrame, **kw) -> str:
    sel = frame
    for k, v in kw.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, kw
    return sel["address_code"].iloc[0]


def building_of(frame: pd.DataFrame, **kw) -> str:
    sel = frame
    for k, v in kw.items():
        sel = sel[sel[k] == v]
    assert sel["building_code"].nunique() == 1, kw
    return sel["building_code"].iloc[0]


# ----------------------------------------------------------------------------------------------------------
# canonical text and parsing
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("濱江路十八號 三幢二單元５０１", "滨江路18号3栋2单元501"),
        ("滨江路18号3号楼2单元501房", "滨江路18号3栋2单元501室"),
        ("滨江路18号A座", "滨江路18号A栋"),  # a letter building (docs/addresses.md)
        ("滨江路18号3座5层501", "滨江路18号3栋5楼501"),
        ("滨江路18号3栋2-501", "滨江路18号3栋2单元501室"),
        ("滨江路18号3-2-501", "滨江路18号3栋2单元501室"),
        ("石岭村第三村民小组25号", "石岭村3组25号"),
        ("石岭村三组二十五号", "石岭村3组25号"),
        ("五一路四川大厦", "五一路四川大厦"),
        ("住址：滨江路（阳光花园）18号", "滨江路阳光花园18号"),
    ],
)
def test_canonical_text(text, canonical):
    assert canonical_address_text(pd.Series([text])).iloc[0] == canonical


def test_parse_urban_elements_without_library():
    out = parse_addresses(
        pd.Series(["广东省云江市青石区东湖街道湖滨社区滨江路十八号阳光花园3幢二单元5楼501"])
    )
    row = out.iloc[0]
    assert list(out.columns[: len(ELEMENTS)]) == list(ELEMENTS)
    assert (row["province"], row["city"], row["district"]) == ("广东省", "云江市", "青石区")
    assert (row["street"], row["community"], row["road"]) == ("东湖街道", "湖滨社区", "滨江路")
    assert (row["house_number"], row["estate"], row["building"], row["unit"], row["floor"], row["room"]) == (
        "18",
        "阳光花园",
        "3",
        "2",
        "5",
        "501",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "石岭镇石岭村第三村民小组25号",
            {"street": "石岭镇", "community": "石岭村", "villager_group": "3", "house_number": "25"},
        ),
        ("石岭村3组", {"community": "石岭村", "villager_group": "3", "house_number": None}),
        ("阳光花园2-501", {"estate": "阳光花园", "unit": "2", "room": "501", "building": None}),
        ("滨江路18号3栋501", {"road": "滨江路", "building": "3", "unit": None, "room": "501"}),
        ("滨江路18号3栋0501室", {"room": "501"}),
        ("滨江路18号３栋２单元５０１室附近", {"room": "501", "rest": "附近"}),
    ],
)
def test_parse_forms(text, expected):
    row = parse_addresses(pd.Series([text])).iloc[0]
    for k, v in expected.items():
        assert pd.isna(row[k]) if v is None else row[k] == v, (k, row[k])


def test_parse_with_library_expands_abbreviations(library):
    out = parse_addresses(
        pd.Series(["湖滨滨江路18号3栋", "石岭镇石岭2组5号", "湖南省邵阳市邵东县廉桥镇石岭村3组25号"]),
        library=library,
    )
    assert out["community"].iloc[0] == "湖滨社区"
    assert out["road"].iloc[0] == "滨江路"
    assert out["community"].iloc[1] == "石岭村"
    assert out["street"].iloc[1] == "石岭镇"
    assert out["outside"].tolist() == [False, False, True]


def test_parse_keeps_index_and_missing(library):
    s = pd.Series(["滨江路18号", None, "", "滨江路18号"], index=["a", "b", "c", "d"])
    out = parse_addresses(s, library=library)
    assert list(out.index) == ["a", "b", "c", "d"]
    assert out.loc["a", "house_number"] == out.loc["d", "house_number"] == "18"
    assert out.loc["b"].isna().all()


# ----------------------------------------------------------------------------------------------------------
# matching
# ----------------------------------------------------------------------------------------------------------


def test_standard_text_matches_every_row_at_finest_level(library, library_frame):
    out = match_addresses(library, library_frame["standard_text"])
    assert list(out.columns) == list(RESULT_COLUMNS)
    assert (out["status"] == "matched").all()
    assert (out["address_code"].to_numpy() == library_frame["address_code"].to_numpy()).all()
    assert (out["grid_code"].to_numpy() == library_frame["grid_code"].to_numpy()).all()
    assert set(out["level"]) == {"room", "house_number"}  # rooms in towns, house numbers in villages / shops
    assert (out["score"] == 1.0).all()


NOISY = [
    # (text as keyed, the library row it means)
    (
        "广东省云江市青石区东湖街道湖滨社区滨江路18号阳光花园3栋2单元501室",
        dict(road="滨江路", house_number="18", building="3", unit="2", room="501"),
    ),
    (
        "濱江路十八號陽光花園三幢二單元５０１室",
        dict(road="滨江路", house_number="18", building="3", unit="2", room="501"),
    ),
    (
        "湖滨滨江路18号3号楼2单元5楼501",
        dict(road="滨江路", house_number="18", building="3", unit="2", room="501"),
    ),
    (
        "湖滨居委会滨江路18号3座2-501",
        dict(road="滨江路", house_number="18", building="3", unit="2", room="501"),
    ),
    (
        "东湖街道滨江路18号3栋2单元501房",
        dict(road="滨江路", house_number="18", building="3", unit="2", room="501"),
    ),
    (
        "阳光花园3栋2单元501",
        dict(road="滨江路", house_number="18", building="3", unit="2", room="501"),
    ),  # road dropped
    (
        "滨江路18号3栋2单元 501",
        dict(road="滨江路", house_number="18", building="3", unit="2", room="501"),
    ),  # estate dropped
    ("滨江路18号3-2-501", dict(road="滨江路", house_number="18", building="3", unit="2", room="501")),
    ("滨江东路18号翠湖苑3栋2单元501室", dict(road="滨江东路", building="3", unit="2", room="501")),
    ("滨江街道滨江东路18号3栋2单元501", dict(road="滨江东路", building="3", unit="2", room="501")),
    ("滨江东路20号云江金融大厦3楼302", dict(road="滨江东路", house_number="20", room="302")),
    ("云江金融大厦302室", dict(road="滨江东路", house_number="20", room="302")),
    ("湖滨路五号", dict(road="湖滨路", house_number="5")),
    ("东湖新村1栋1单元201", dict(road="东湖大道", room="201")),
    (
        "广东省云江市青石区石岭镇石岭村3组25号",
        dict(division_code="445399101201", villager_group="3", house_number="25"),
    ),
    (
        "石岭镇石岭村第三村民小组25号",
        dict(division_code="445399101201", villager_group="3", house_number="25"),
    ),
    ("石岭村三组二十五号", dict(division_code="445399101201", villager_group="3", house_number="25")),
    ("石岭镇石岭第3组25号", dict(division_code="445399101201", villager_group="3", house_number="25")),
    ("岭南村委会2组7号", dict(division_code="445399101202", villager_group="2", house_number="7")),
    # 石岭 is both the town and a village; right before a group it is the village
    ("石岭第二村民小组十　六号", dict(division_code="445399101201", villager_group="2", house_number="16")),
]


@pytest.mark.parametrize(("text", "where"), NOISY)
def test_noisy_forms_bind_to_the_right_address(library, library_frame, text, where):
    out = match_addresses(library, pd.Series([text])).iloc[0]
    assert out["status"] == "matched", out.to_dict()
    assert out["address_code"] == code_of(library_frame, **where)
    assert out["level"] in ("room", "house_number")
    assert out["score"] >= 0.8


def test_building_level_when_the_room_is_not_given(library, library_frame):
    out = match_addresses(library, pd.Series(["滨江路18号3栋", "滨江路18号3栋601"])).iloc[:2]
    assert (out["status"] == "matched").all()
    assert out["level"].tolist() == ["building", "building"]  # 601 exists in units 1 and 2
    assert (
        out["building_code"] == building_of(library_frame, road="滨江路", house_number="18", building="3")
    ).all()
    assert out["address_code"].isna().all()
    assert (out["grid_code"] == "445399001001001003").all()


def test_estate_beside_road_narrows_without_house_number(library, library_frame):
    out = match_addresses(
        library,
        pd.Series(["滨江路阳光花园3栋1单元101室", "滨江路碧水湾3栋1单元101室", "滨江路3栋1单元101室"]),
    )
    assert out["address_code"].iloc[0] == code_of(
        library_frame, estate="阳光花园", building="3", unit="1", room="101"
    )
    assert out["address_code"].iloc[1] == code_of(library_frame, estate="碧水湾", building="3", room="101")
    assert out["status"].iloc[2] == "ambiguous"  # two estates on 滨江路 have a 3栋1单元101室
    assert {c["building_code"] for c in json.loads(out["candidates"].iloc[2])} == {
        building_of(library_frame, estate="阳光花园", building="3"),
        building_of(library_frame, estate="碧水湾", building="3"),
    }


def test_room_that_does_not_exist_backs_off_to_the_unit(library, library_frame):
    out = match_addresses(library, pd.Series(["滨江路18号3栋2单元901室"])).iloc[0]
    assert out["level"] == "unit"
    assert out["building_code"] == building_of(library_frame, road="滨江路", house_number="18", building="3")
    assert pd.isna(out["address_code"])
    assert "backoff" in out["method"]
    assert out["score"] < 1.0


def test_similar_road_is_never_confused(library, library_frame):
    # 滨江路18号3栋 and 滨江东路18号3栋 both exist: each text must go to its own road
    out = match_addresses(library, pd.Series(["滨江路18号3栋1单元101室", "滨江东路18号3栋1单元101室"]))
    assert out["address_code"].iloc[0] == code_of(
        library_frame, road="滨江路", house_number="18", building="3", unit="1", room="101"
    )
    assert out["address_code"].iloc[1] == code_of(library_frame, road="滨江东路", unit="1", room="101")


def test_unknown_similar_road_is_not_bound_confidently(library):
    out = match_addresses(library, pd.Series(["滨江中路18号3栋1单元101室"])).iloc[0]
    assert out["status"] != "matched"
    assert json.loads(out["candidates"])  # but the reviewer sees where it might be


def test_homophone_road_typo_found_by_pinyin(library, library_frame):
    out = match_addresses(library, pd.Series(["宾江路18号3栋1单元101室"])).iloc[0]
    assert out["method"] == "pinyin_road"
    assert out["address_code"] == code_of(
        library_frame, road="滨江路", house_number="18", building="3", unit="1", room="101"
    )


@pytest.mark.parametrize(
    "text",
    [
        "湖南省邵阳市邵东县廉桥镇石岭村3组25号",  # a migrant's 户籍, with a village name the district also has
        "廉桥镇石岭村3组25号",  # same, no province
        "四川省广安市邻水县丰禾镇新田村2组8号",
        "四川省成都市武侯区滨江路18号3栋2单元501室",  # a road name the district also has
        "新疆维吾尔自治区乌鲁木齐市新市区北京路街道新华路8号",
        "湖南邵东滨江路18号",  # short province name
    ],
)
def test_addresses_outside_the_district_are_unmatched(library, text):
    out = match_addresses(library, pd.Series([text])).iloc[0]
    assert out["status"] == "unmatched"
    assert pd.isna(out["address_code"]) and pd.isna(out["building_code"]) and pd.isna(out["grid_code"])


def test_ambiguous_addresses_go_to_review_with_candidates(library, library_frame):
    texts = pd.Series(["滨江路18号501", "石岭镇5组3号", "3组12号", "东湖街道18号3栋", "石岭镇2组7号"])
    out = match_addresses(library, texts)
    assert out["status"].iloc[0] == "ambiguous"  # 501 exists in every building of 阳光花园
    cands = json.loads(out["candidates"].iloc[0])
    assert 1 < len(cands) <= 5
    assert {c["building_code"] for c in cands} <= set(library_frame["building_code"])
    assert all(0 <= c["score"] <= 1 for c in cands)
    assert out["status"].iloc[2] == "ambiguous" or out["status"].iloc[2] == "unmatched"
    assert (out["status"] != "matched").all()
    assert out["address_code"].isna().all()


def test_grid_is_kept_when_all_candidates_share_it(library):
    # 东湖新村 has one building: any room there is in its grid even when the room is unknown
    out = match_addresses(library, pd.Series(["东湖新村1栋1单元901"])).iloc[0]
    assert out["grid_code"] == "445399001002001001"


def test_missing_and_empty_inputs(library):
    out = match_addresses(
        library, pd.Series([None, "", "   ", "滨江路18号3栋1单元101室"], index=[10, 11, 12, 13])
    )
    assert list(out.index) == [10, 11, 12, 13]
    assert out.loc[10, "status"] == "unmatched" and out.loc[10, "level"] == "none"
    assert (out.loc[[10, 11, 12], "status"] == "unmatched").all()
    assert out.loc[13, "status"] == "matched"
    assert out["candidates"].notna().all()


def test_repeated_inputs_are_matched_once_and_mapped_back(library):
    base = ["滨江路18号3栋1单元101室", "石岭村3组25号", "湖南省邵阳市邵东县廉桥镇石岭村3组25号"]
    s = pd.Series(base * 200)
    out = match_addresses(library, s)
    first = out.iloc[:3].reset_index(drop=True)
    for k in range(1, 200):
        block = out.iloc[3 * k : 3 * k + 3].reset_index(drop=True)
        pd.testing.assert_frame_equal(block, first)


def test_review_table(library):
    texts = pd.Series(["滨江路18号501", "滨江路18号3栋1单元101室", "湖南省长沙市芙蓉区五一路1号"])
    m = match_addresses(library, texts)
    b = pd.concat(
        [
            pd.DataFrame(
                {"feed": "f", "source_record_id": ["1", "2", "3"], "field": "address", "address_text": texts}
            ),
            m,
        ],
        axis=1,
    )
    review = review_table(b)
    assert review["source_record_id"].tolist() == ["1", "3"]
    assert set(review["status"]) == {"ambiguous", "unmatched"}


def test_load_from_reference_dir(tmp_path, library_frame):
    library_frame.to_csv(tmp_path / "standard_addresses.csv", index=False)
    DIVISIONS.to_csv(tmp_path / "divisions.csv", index=False)
    lib = AddressLibrary.load(tmp_path)
    assert len(lib) == len(library_frame)
    out = match_addresses(lib, pd.Series(["湖滨滨江路18号3栋1单元101室"])).iloc[0]
    assert out["status"] == "matched"
    with pytest.raises(LibraryError):
        AddressLibrary.load(tmp_path / "nowhere")


def test_library_without_divisions_file_still_reads_full_names(library_frame):
    lib = AddressLibrary.from_frames(library_frame)
    out = match_addresses(
        lib, pd.Series(["青石区东湖街道湖滨社区滨江路18号3栋1单元101室", "四川省成都市滨江路18号"])
    )
    assert out["status"].tolist() == ["matched", "unmatched"]


def _read_feed_addresses(ws) -> pd.DataFrame:
    """Every address field of the sample's landing files, with its feed / record id / field (as the truth)."""
    import yaml

    cfg = yaml.safe_load((ws / "gridhub.yaml").read_text(encoding="utf-8"))
    fields = {"address", "hukou_address", "org_address", "org_business_address"}
    frames = []
    for feed in cfg["feeds"]:
        rid = next(c for c, t in feed["columns"].items() if t == "source_record_id")
        for f in sorted((ws / "landing" / feed["name"]).iterdir()):
            if f.suffix == ".xlsx":
                df = pd.read_excel(f, dtype=str).fillna("")
            else:
                raw = f.read_bytes()
                for enc in ("utf-8-sig", "gb18030"):
                    try:
                        text = raw.decode(enc)
                        break
                    except UnicodeDecodeError:
                        continue
                import io

                df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, on_bad_lines="skip")
            for col, target in feed["columns"].items():
                if target in fields and col in df.columns:
                    frames.append(
                        pd.DataFrame(
                            {
                                "feed": feed["name"],
                                "source_record_id": df[rid],
                                "field": target,
                                "address_text": df[col],
                            }
                        )
                    )
    return pd.concat(frames, ignore_index=True)


def test_sample_district_accuracy(tmp_path):
    """On a small sample district: ≥ 99 % right at building level or finer, < 1 % unmatched, ≤ 0.1 % wrong."""
    generate = pytest.importorskip("gridhub.sample.generate")
    quality = pytest.importorskip("gridhub.quality")
    generate.generate_workspace(tmp_path, 600, 11)
    lib = AddressLibrary.load(tmp_path / "reference")
    bindings = _read_feed_addresses(tmp_path)
    bindings = pd.concat([bindings, match_addresses(lib, bindings["address_text"])], axis=1)
    truth = pd.read_csv(tmp_path / "truth" / "addresses.csv", dtype=str, keep_default_na=False)
    library = pd.read_csv(tmp_path / "reference" / "standard_addresses.csv", dtype=str, keep_default_na=False)
    acc = quality.address_accuracy(bindings, truth, library)
    assert acc.fields > 1000
    assert acc.correct_rate >= 0.99, acc.as_dict()
    assert acc.unmatched_rate < 0.01, acc.as_dict()
    assert acc.wrong_rate <= 0.001, acc.as_dict()
    assert acc.outside_library > 0 and acc.outside_bound == 0


def test_empty_input(library):
    out = match_addresses(library, pd.Series([], dtype="string"))
    assert out.empty and list(out.columns) == list(RESULT_COLUMNS)
    assert parse_addresses(pd.Series([], dtype="string"), library).empty


def test_a_division_file_with_a_cycle_still_loads(library_frame):
    """A malformed division file (a code that is its own parent, two codes each other's) must not hang the
    library's build; the matcher still binds through the library's own columns."""
    bad = DIVISIONS.copy()
    bad.loc[bad["code"] == "445399001", "parent_code"] = "445399001"
    bad.loc[bad["code"] == "445399002", "parent_code"] = "445399002001"
    lib = AddressLibrary.from_frames(library_frame, bad)
    out = match_addresses(
        lib, pd.Series(["青石区东湖街道湖滨社区湖滨路2号紫荆花园1栋1单元101室"], dtype="string")
    )
    assert out["status"].iloc[0] in {"matched", "ambiguous"}


def _candidates_from_every_row(library: AddressLibrary, q: pd.DataFrame, n: int) -> pd.Series:
    """The review candidates by definition: every library row of each text's blocks compared with the
    elements the text gives; the rows agreeing with the most, best block first, first buildings first."""
    from matching.address.library import BLOCK_COLUMN

    given_cols = ["house_number", "building", "unit", "room"]
    lib = library.addresses
    rows = []
    for _, r in q.iterrows():
        block = lib[lib[BLOCK_COLUMN[r["kind"]]] == r["block"]]
        given = [c for c in given_cols if r[c] != ""]
        agree = sum((block[c] == r[c]).to_numpy().astype(int) for c in given) if given else 0
        rows.append(
            block.assign(uid=r["uid"], bscore=r["bscore"], agree=agree, share=agree / max(len(given), 1))
        )
    c = pd.concat(rows, ignore_index=True)
    c = c[c["agree"] == c.groupby("uid")["agree"].transform("max")]
    c = c.sort_values(["uid", "bscore"], ascending=[True, False], kind="stable")
    c = c.drop_duplicates(["uid", "building_code"]).groupby("uid", sort=False).head(5)
    out = pd.Series("[]", index=range(n), dtype=object)
    for uid, g in c.groupby("uid", sort=False):
        text = g["building_code"].map(library.building_texts).fillna(g["standard_text"])
        score = (g["bscore"] * (0.5 + 0.5 * g["share"])).round(3)
        out.iloc[int(uid)] = json.dumps(
            [
                {"building_code": b, "grid_code": gr, "text": t, "score": float(s)}
                for b, gr, t, s in zip(g["building_code"], g["grid_code"], text, score, strict=True)
            ],
            ensure_ascii=False,
        )
    return out


def test_review_candidates_looked_up_are_those_of_every_row_of_the_blocks(
    library, library_frame, monkeypatch
):
    """The candidates are looked up by the subsets of the elements a text gives (the cost grows with the
    texts, not the blocks); they must be what comparing the text with every row of its blocks gives."""
    import matching.address.match as match

    seen = []
    looked_up = match.review_candidates

    def capture(lib, q, n):
        seen.append((q, n))
        return looked_up(lib, q, n)

    monkeypatch.setattr(match, "review_candidates", capture)
    standard = library_frame["standard_text"]
    texts = pd.Series(
        [
            *standard.str.replace(r"\d.*$", "", regex=True).unique()[:40],  # a road or a community: agree 0
            *standard.str.replace(r"\d+号.*$", "77号", regex=True).unique()[:40],
            *standard.str.replace(r"\d+号", "77号", regex=True).unique()[:60],  # building, unit, room agree
            *standard.str.replace(r"\d+栋", "9栋", regex=True).unique()[:60],
            "某某路99号",
            None,
        ],
        dtype="string",
    )
    match.match_addresses(library, texts)
    q, n = seen[0]
    assert q["uid"].nunique() > 50
    found = looked_up(library, q, n)
    assert (found != "[]").sum() > 50
    pd.testing.assert_series_equal(found, _candidates_from_every_row(library, q, n))
