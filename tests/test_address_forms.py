"""Address forms of issue 13: a library in its own forms, community / village forms, typo'd roads, estates
after the house number; and the library check (``library_problems``)."""

from __future__ import annotations

import pandas as pd
import pytest

from matching.address import AddressLibrary, library_problems, match_addresses

STREET = {"445399001": "东湖街道", "445399002": "滨江街道", "445399101": "石岭镇"}
COMMUNITY = {
    "445399001001": "桂园社区",
    "445399001002": "湖滨社区",
    "445399002001": "江南社区",
    "445399101201": "石岭村",
    "445399101202": "岭南村",
}
#: No aliases at all: every form must come from the names and the suffix rules.
DIVISIONS = pd.DataFrame(
    [
        ("440000", "广东省", "province", "", ""),
        ("445300", "云江市", "city", "440000", ""),
        ("445399", "青石区", "district", "445300", ""),
        *[(c, n, "street", "445399", "") for c, n in STREET.items()],
        *[(c, n, "community", c[:9], "") for c, n in COMMUNITY.items()],
    ],
    columns=["code", "name", "level", "parent_code", "aliases"],
)
ELEMENTS = ("road", "villager_group", "house_number", "estate", "building", "unit", "floor", "room")


def _rows() -> list[dict]:
    rows: list[dict] = []

    def add(comm: str, bkey: str, **kw: str) -> None:
        r = {
            "address_code": f"{comm}{len(rows):06d}",
            "division_code": comm,
            "building_code": f"B{comm}{bkey}",
        }
        r |= {"province": "广东省", "city": "云江市", "district": "青石区"}
        r |= {"street": STREET[comm[:9]], "community": COMMUNITY[comm], "grid_code": f"G{comm}"}
        r |= {e: kw.get(e, "") for e in ELEMENTS}
        group = f"{r['villager_group']}组" if r["villager_group"] else ""
        detail = "".join(
            f"{r[k]}{m}" for k, m in (("building", "栋"), ("unit", "单元"), ("room", "室")) if r[k]
        )
        number = f"{r['house_number']}号{r['estate']}"
        r["standard_text"] = f"{r['street']}{r['community']}{r['road']}{group}{number}{detail}"
        rows.append(r)

    def estate(comm: str, road: str, number: str, name: str, buildings: int) -> None:
        for b in range(1, buildings + 1):
            for u in (1, 2):
                for f in range(1, 7):
                    for k in (1, 2):
                        kw = dict(building=str(b), unit=str(u), floor=str(f), room=f"{f}{k:02d}")
                        add(
                            comm,
                            f"{road}{number}{name}{b}",
                            road=road,
                            house_number=number,
                            estate=name,
                            **kw,
                        )

    estate("445399001001", "芙蓉路", "11", "桂园小区", 3)
    estate("445399001001", "芙蓉路", "15", "丹桂苑", 3)  # the same buildings and rooms as 桂园小区
    estate("445399001001", "新围路", "7", "", 1)
    add("445399001001", "禾田路5", road="禾田路", house_number="5")
    estate("445399001002", "新园路", "7", "", 1)  # one character from 新围路, in the other community
    add("445399001002", "河田路5", road="河田路", house_number="5")  # sounds like 禾田路
    estate("445399001002", "湖滨路", "8", "紫荆花园", 2)
    estate("445399001002", "湖滨路", "9", "翠苑", 2)
    estate("445399001002", "湖滨路", "10", "江南花园", 1)  # its bare name 江南 is also a community's
    estate("445399002001", "江南大道", "3", "金沙湾", 2)
    for comm in ("445399101201", "445399101202"):
        for g in (1, 2, 3):
            for h in range(1, 11):
                add(comm, f"{g}-{h}", villager_group=str(g), house_number=str(h))
    return rows


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.DataFrame(_rows())


@pytest.fixture(scope="module")
def library(frame) -> AddressLibrary:
    return AddressLibrary.from_frames(frame, DIVISIONS)


def code(frame: pd.DataFrame, **kw: str) -> str:
    sel = frame
    for k, v in kw.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, kw
    return str(sel["address_code"].iloc[0])


def match_one(library: AddressLibrary, text: str) -> pd.Series:
    return match_addresses(library, pd.Series([text])).iloc[0]


# ---- 1. a library in its own forms ----------------------------------------------------------------------
_CN = "零一二三四五六七八九"
_FULL = str.maketrans("0123456789", "０１２３４５６７８９")


def _styled(frame: pd.DataFrame) -> pd.DataFrame:
    """The library as a city writes it: 11号, 1栋 / 一栋 / 1幢 / 1号楼 / 1座 / 1#, 2单元, 501室 / 501房, 5层,
    communities without 社区, villager groups inside the road column, full-width digits."""
    s = frame.copy()
    i = pd.Series(range(len(s)), index=s.index)
    s["house_number"] = s["house_number"].where(s["house_number"] == "", s["house_number"] + "号")
    b_forms = ("{}栋", "{}幢", "{}号楼", "{}座", "{}#", "CN栋")
    s["building"] = [
        "" if v == "" else b_forms[k % 6].replace("CN", _CN[int(v)]).format(v)
        for v, k in zip(s["building"], i, strict=True)
    ]
    s["unit"] = s["unit"].where(s["unit"] == "", s["unit"] + "单元")
    s["room"] = [
        "" if v == "" else (v + "室" if k % 3 == 0 else v + "房" if k % 3 == 1 else v.translate(_FULL))
        for v, k in zip(s["room"], i, strict=True)
    ]
    s["floor"] = s["floor"].where(s["floor"] == "", s["floor"] + "层")
    s["community"] = s["community"].str.replace("社区", "", regex=False)
    group = s["villager_group"] != ""
    s.loc[group, "road"] = [
        f"{c}{g}组" if k % 2 else f"第{_CN[int(g)]}村民小组"
        for c, g, k in zip(s.loc[group, "community"], s.loc[group, "villager_group"], i[group], strict=True)
    ]
    s.loc[group, "villager_group"] = ""
    return s


TEXTS = [
    "东湖街道桂园社区芙蓉路11号桂园小区3栋2单元501室",
    "芙蓉路11号3栋2-501",
    "芙蓉路十一号三幢二单元五楼五零一",
    "桂园新围路7号1栋1单元101",
    "湖滨路8号紫荆花园2栋1单元602室",
    "湖滨路8号2栋",
    "石岭镇石岭村第三村民小组7号",
    "岭南村2组10号",
    "禾田路5号",
    "芙蓉路11号9栋1单元101室",
    "四川省成都市芙蓉路11号3栋2单元501室",
]


def test_styled_library_binds_like_the_canonical_one(frame, library):
    styled = AddressLibrary.from_frames(_styled(frame), DIVISIONS)
    cols = ["address_code", "building_code", "status", "level", "score"]
    a = match_addresses(library, pd.Series(TEXTS))[cols]
    b = match_addresses(styled, pd.Series(TEXTS))[cols]
    pd.testing.assert_frame_equal(a, b)
    assert (a["status"].iloc[:9] == "matched").all()
    # and every standard address of the library binds to itself through the styled library
    out = match_addresses(styled, frame["standard_text"])
    assert (out["address_code"] == frame["address_code"]).all()


def test_styled_library_elements_are_the_parser_digits(frame):
    styled = AddressLibrary.from_frames(_styled(frame), DIVISIONS).addresses
    for c in ("house_number", "building", "unit", "floor", "room", "villager_group"):
        assert styled[c].tolist() == frame[c].tolist(), c
    assert styled["road"].tolist() == frame["road"].tolist()


def test_library_problems(frame, library):
    assert library_problems(library) == []
    assert library_problems(AddressLibrary.from_frames(_styled(frame), DIVISIONS)) == []
    bad = frame.copy()
    bad["house_number"] = bad["house_number"].where(bad["house_number"] == "", "甲")
    bad["road"] = bad["road"].where(bad["road"] == "", bad["road"] + "11号")
    problems = library_problems(AddressLibrary.from_frames(bad, DIVISIONS))
    assert len(problems) == 2
    assert problems[0].startswith("house_number:") and "'甲'" in problems[0]
    assert problems[1].startswith("road:")
    assert library_problems(AddressLibrary.from_frames(frame.iloc[0:0], DIVISIONS))


# ---- 2. community and village forms ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "community",
    [
        "桂园社区",
        "桂园",
        "桂园居委会",
        "桂园居委",
        "桂园社区居委会",
        "桂园居民委员会",
        "桂园社区居委会居委会",
    ],
)
def test_community_forms_between_street_and_road(frame, library, community):
    out = match_one(library, f"广东省云江市青石区东湖街道{community}芙蓉路11号桂园小区3栋2单元501室")
    assert out["status"] == "matched", out.to_dict()
    assert out["address_code"] == code(
        frame, road="芙蓉路", house_number="11", building="3", unit="2", room="501"
    )
    assert out["score"] == 1.0


@pytest.mark.parametrize("village", ["石岭村", "石岭村委会", "石岭村民委员会", "石岭村委"])
def test_village_forms(frame, library, village):
    out = match_one(library, f"石岭镇{village}3组7号")
    assert out["status"] == "matched", out.to_dict()
    assert out["address_code"] == code(
        frame, division_code="445399101201", villager_group="3", house_number="7"
    )


def test_village_name_without_suffix_is_read_by_its_code(frame):
    lib = AddressLibrary.from_frames(frame.assign(community=frame["community"].str.replace("村", "")))
    out = match_one(lib, "石岭镇岭南村委会2组10号")
    assert out["status"] == "matched"
    assert out["address_code"] == code(
        frame, division_code="445399101202", villager_group="2", house_number="10"
    )


@pytest.mark.parametrize(
    "text",
    [
        "滨江街道桂园居委会芙蓉路11号桂园小区3栋2单元501室",  # 桂园 lies in 东湖街道
        "东湖街道江南居委会芙蓉路11号桂园小区3栋2单元501室",  # 江南 lies in 滨江街道
        "湖滨居委会芙蓉路11号桂园小区3栋2单元501室",  # 芙蓉路 is not in 湖滨
    ],
)
def test_community_of_another_street_is_not_bound_confidently(library, text):
    assert match_one(library, text)["status"] != "matched"


@pytest.mark.parametrize(
    "text",
    [
        "湖南省长沙市芙蓉区桂园居委会芙蓉路11号3栋2单元501室",
        "长沙市桂园社区居委会芙蓉路11号",
        "四川省成都市武侯区和田路5号",
        "邵东县廉桥镇石岭村委会3组7号",
    ],
)
def test_outside_addresses_stay_unmatched(library, text):
    assert match_one(library, text)["status"] == "unmatched"


# ---- 3. homophone and one-character typos in road names ------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "road", "number", "method"),
    [
        ("桂园社区和田路5号", "禾田路", "5", "pinyin_road"),  # 河田路 sounds the same but lies in 湖滨
        ("东湖街道桂园欣围路7号1栋1单元101室", "新围路", "7", "pinyin_road"),
        ("欣围路7号1栋1单元101室", "新围路", "7", "pinyin_road"),  # no division named: the sound alone
        ("东湖街道桂园社区新国路7号1栋1单元101室", "新围路", "7", "typo_road"),
        ("桂园居委会新国路七号一栋一单元101", "新围路", "7", "typo_road"),
        ("湖滨社区和田路5号", "河田路", "5", "pinyin_road"),  # in 湖滨 it is 河田路 that sounds the same
    ],
)
def test_typo_road_binds_when_everything_else_agrees(frame, library, text, road, number, method):
    out = match_one(library, text)
    assert out["status"] == "matched", out.to_dict()
    assert out["method"] == method
    room = {"unit": "1", "room": "101"} if "101" in text else {}
    assert out["address_code"] == code(frame, road=road, house_number=number, **room)
    assert 0.8 <= out["score"] < 1.0  # lower than the exact road


@pytest.mark.parametrize(
    "text",
    [
        "东湖街道和田路5号",  # 禾田路 (桂园) and 河田路 (湖滨) sound the same: could be either
        "东湖街道新国路7号1栋1单元101室",  # 新围路 (桂园) and 新园路 (湖滨) are both one character away
        "新国路7号1栋1单元101室",  # one character away and no division named
        "桂园社区新国路7号3栋1单元101室",  # 新围路7号 has no 3栋: the typo'd road must carry the whole detail
        "桂园社区和田路6号",  # 禾田路 has no 6号
        "桂园社区芙蓉东路11号3栋2单元501室",  # a direction makes another road, not a typo
        "桂园社区芙蓉中路11号3栋2单元501室",
    ],
)
def test_typo_road_that_is_not_safe_is_not_matched(library, text):
    out = match_one(library, text)
    assert out["status"] != "matched", out.to_dict()
    assert pd.isna(out["address_code"]) and pd.isna(out["building_code"])


def test_typo_road_right_after_a_full_division_name(frame, library):
    # 湖滨社区 + 湖槟路 used to be read as one unknown road 湖滨社区湖槟路, so the pinyin fallback never ran
    out = match_one(library, "东湖街道湖滨社区湖槟路8号紫荆花园1栋1单元101室")
    assert out["status"] == "matched" and out["method"] == "pinyin_road"
    assert out["address_code"] == code(
        frame, road="湖滨路", house_number="8", building="1", unit="1", room="101"
    )


# ---- 4. estates after the house number ------------------------------------------------------------------------
@pytest.mark.parametrize("estate", ["桂园小区", "桂园", "桂园花园", "桂园花园小区", "(桂园小区)"])
def test_estate_after_the_house_number(frame, library, estate):
    out = match_one(library, f"芙蓉路11号{estate}3栋2单元501室")
    assert out["status"] == "matched", out.to_dict()
    assert out["address_code"] == code(
        frame, road="芙蓉路", house_number="11", building="3", unit="2", room="501"
    )
    assert out["score"] == 1.0


@pytest.mark.parametrize("estate", ["紫荆花园", "紫荆", "紫荆小区", "紫荆花园小区"])
def test_estate_form_tells_two_estates_of_a_road_apart(frame, library, estate):
    # 湖滨路8号紫荆花园 and 湖滨路9号翠苑 have the same buildings and rooms: without a number the estate decides
    out = match_one(library, f"湖滨路{estate}2栋1单元301室")
    assert out["status"] == "matched", out.to_dict()
    assert out["address_code"] == code(
        frame, road="湖滨路", estate="紫荆花园", building="2", unit="1", room="301"
    )


def test_estate_of_another_number_is_not_bound_to_this_one(library):
    # 丹桂苑 is at 芙蓉路15号: 11号 with 丹桂苑 contradicts itself, and must not be bound to 桂园小区 confidently
    out = match_one(library, "芙蓉路11号丹桂苑3栋2单元501室")
    assert out["status"] != "matched" or out["score"] < 1.0


def test_bare_estate_name_that_is_a_community_reads_as_the_community(frame, library):
    # 江南 = 江南社区 and 江南花园 (in 湖滨): before another estate it is the community
    out = match_one(library, "滨江街道江南金沙湾1栋1单元101室")
    assert out["status"] == "matched", out.to_dict()
    assert out["address_code"] == code(frame, estate="金沙湾", building="1", unit="1", room="101")
