"""Lane addresses (弄, 上海-style 长乐路123弄4号502室): the lane is the house number, the 号 inside it the
building, in department text and in a library that writes them its own way (门牌 `123弄`, 楼栋 `4号`)."""

from __future__ import annotations

import pandas as pd
import pytest

from gridhub.reference import complete
from matching.address import AddressLibrary, canonical_address_text, library_problems, match_addresses
from matching.address.canonical import library_element

COMMUNITY = "330219001001"
DIVISIONS = pd.DataFrame(
    [
        ("330200", "明州市", "city", "", ""),
        ("330219", "江澜区", "district", "330200", ""),
        ("330219001", "长乐街道", "street", "330219", ""),
        (COMMUNITY, "长乐社区", "community", "330219001", ""),
    ],
    columns=["code", "name", "level", "parent_code", "aliases"],
)


@pytest.fixture(scope="module")
def library() -> AddressLibrary:
    rows = []
    for lane in ("123", "127"):
        for number in ("1", "4"):
            for room in ("501", "502"):
                rows.append(("长乐路", f"{lane}弄", f"{number}号", f"{room}室"))
    rows.append(("长乐路", "130号", "", ""))  # a shop on the road itself
    rows.append(("砖桥弄", "5号", "", ""))  # a road whose name ends in 弄
    frame = pd.DataFrame(rows, columns=["road", "house_number", "building", "room"])
    frame.insert(0, "address_code", [f"A{i:03d}" for i in range(len(frame))])
    frame["division_code"] = COMMUNITY
    frame["grid_code"] = COMMUNITY + "001"
    return AddressLibrary.from_frames(complete("addresses", frame), DIVISIONS)


def _code(library: AddressLibrary, lane: str, number: str, room: str) -> str:
    a = library.addresses
    hit = a[(a.house_number == lane) & (a.building == number) & (a.room == room)]
    assert len(hit) == 1
    return str(hit.address_code.iloc[0])


def test_lane_text_is_read_as_house_number_and_building():
    texts = pd.Series(["长乐路123弄4号502室", "长乐路123弄", "长乐路一百二十三弄4号502室"])
    assert canonical_address_text(texts).tolist() == [
        "长乐路123号4栋502室",
        "长乐路123号",
        "长乐路123号4栋502室",
    ]


def test_library_lane_and_lane_building_forms_are_numbers(library):
    assert library_element(pd.Series(["123弄", "7号", "七弄"]), "house_number").tolist() == ["123", "7", "7"]
    assert library_element(pd.Series(["4号", "4幢", "四号"]), "building").tolist() == ["4", "4", "4"]
    assert library_problems(library) == []


@pytest.mark.parametrize(
    "text",
    [
        "长乐路123弄4号502室",
        "长乐路123弄4号502",
        "長樂路１２３弄４號５０２室",
        "长乐路123弄4号楼502室",
        "长乐路123弄4-502",
        "长乐路123弄4号-502",
        "长乐路123弄4号5楼502",
        "明州市江澜区长乐街道长乐社区长乐路123弄4号502室",
    ],
)
def test_lane_addresses_bind_to_their_room(library, text):
    got = match_addresses(library, pd.Series([text])).iloc[0]
    assert (got.status, got.level, got.address_code) == ("matched", "room", _code(library, "123", "4", "502"))


def test_lane_building_that_does_not_exist_is_not_bound_confidently(library):
    got = match_addresses(library, pd.Series(["长乐路123弄9号502室"])).iloc[0]
    assert got.status != "matched" or got.address_code is pd.NA


def test_road_named_with_lane_word_keeps_its_house_number(library):
    got = match_addresses(library, pd.Series(["砖桥弄5号"])).iloc[0]
    assert got.status == "matched" and got.address_code == "A009"
