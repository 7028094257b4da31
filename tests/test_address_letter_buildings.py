"""Letter buildings (A座, B栋, 甲栋): a building designator like a number, in department text and in a library's
楼栋 column."""

from __future__ import annotations

import pandas as pd
import pytest
from test_address_lanes import COMMUNITY, DIVISIONS  # the same 长乐社区 of 江澜区

from gridhub.reference import complete
from matching.address import AddressLibrary, canonical_address_text, library_problems, match_addresses
from matching.address.canonical import extract_detail, library_element


@pytest.fixture(scope="module")
def library() -> AddressLibrary:
    rows = [
        ("长乐路", "88号", "阳光花园", building, "2单元", room)
        for building in ("A座", "B座", "甲栋", "3幢")
        for room in ("501室", "502室")
    ]
    frame = pd.DataFrame(rows, columns=["road", "house_number", "estate", "building", "unit", "room"])
    frame.insert(0, "address_code", [f"L{i:03d}" for i in range(len(frame))])
    frame["division_code"] = COMMUNITY
    frame["grid_code"] = COMMUNITY + "001"
    return AddressLibrary.from_frames(complete("addresses", frame), DIVISIONS)


def _code(library: AddressLibrary, building: str, room: str) -> str:
    a = library.addresses
    hit = a[(a.building == building) & (a.room == room)]
    assert len(hit) == 1
    return str(hit.address_code.iloc[0])


def test_letter_buildings_are_read_as_buildings():
    assert library_element(pd.Series(["A座", "b栋", "甲栋", "C号楼", "3幢"]), "building").tolist() == [
        "A",
        "B",
        "甲",
        "C",
        "3",
    ]
    detail = extract_detail(
        canonical_address_text(pd.Series(["阳光花园A座2单元501室", "长乐路88号阳光花园b幢2-502"]))
    )
    assert detail["building"].tolist() == ["A", "B"]
    assert detail["estate_text"].tolist() == ["", "阳光花园"] and detail["place"].tolist()[0] == "阳光花园"
    assert detail["unit"].tolist() == ["2", "2"] and detail["room"].tolist() == ["501", "502"]


def test_library_of_letter_buildings_has_no_problem(library):
    assert set(library.addresses["building"]) == {"A", "B", "甲", "3"}
    assert library_problems(library) == []


@pytest.mark.parametrize(
    ("text", "building", "room"),
    [
        ("长乐路88号阳光花园A座2单元501室", "A", "501"),
        ("明州市江澜区长乐路88号阳光花园B栋2单元502", "B", "502"),
        ("长乐路88号阳光花园甲栋2-501", "甲", "501"),
        ("长乐路88号阳光花园a座2单元502室", "A", "502"),
        ("长乐路88号阳光花园3幢2单元501室", "3", "501"),
    ],
)
def test_letter_building_addresses_bind_to_their_room(library, text, building, room):
    got = match_addresses(library, pd.Series([text])).iloc[0]
    assert (got.status, got.level, got.address_code) == ("matched", "room", _code(library, building, room))


def test_another_letter_is_another_building(library):
    got = match_addresses(library, pd.Series(["长乐路88号阳光花园C座2单元501室"])).iloc[0]
    assert got.address_code not in {_code(library, b, "501") for b in ("A", "B", "甲", "3")}
