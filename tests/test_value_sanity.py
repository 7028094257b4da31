"""Values that make sense, one sanitiser for invisible characters, and suspicious text noted (issue 14: 5, 6, 9).

- A date or number outside its field's value rule is nulled and kept as a field issue (``date_out_of_range``,
  ``number_out_of_range``); a feed's ``value_rules`` move the bounds.
- Every text cell goes through one sanitiser that removes invisible format characters (direction marks, bidi
  overrides, the soft hyphen …), so ``\\u200e19087571367`` is a phone.
- Text that looks like a formula, markup, SQL or holds emoji is staged as given and noted (``suspicious_text``).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest
from ingest_helpers import feed, land, make_workspace
from pydantic import ValidationError

from connectors import ingest_feed, load_field_issues, load_staging
from connectors.feeds import Feed
from connectors.text import clean_text, normalise_header, safe_file_name, sanitise_text
from warehouse.reasons import REASON_TEXT, ReasonCode

HEADER = "编号,姓名,身份证号,性别,出生日期,居住地址,面积,出租,电话"
PHONE_FEED = feed(columns={**feed()["columns"], "电话": "phone"})


def row(rid: str, birth: str = "1990-01-01", area: str = "50", name: str = "张三", phone: str = "") -> str:
    return ",".join([rid, name, "440305199001011234", "男", birth, "南山区", area, "是", phone])


def ingest(ws, *rows: str):
    land(ws, "a.csv", HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    [f] = ingest_feed(ws, "police").files
    assert f.rows_read == f.rows_staged + f.rows_quarantined
    return f, load_staging(ws, "police").set_index("source_record_id"), load_field_issues(ws, "police")


@pytest.fixture
def ws(tmp_path):
    return make_workspace(tmp_path / "ws", PHONE_FEED)


# ---- 5: values that make sense --------------------------------------------------------------------------
def test_birth_dates_in_the_future_or_before_1900_are_nulled_and_noted(ws):
    today = dt.date.today()
    f, staged, issues = ingest(
        ws,
        row("D1", birth="2030-01-01"),
        row("D2", birth="2099-12-31"),
        row("D3", birth="3000-01-01"),
        row("D4", birth="1899-12-31"),
        row("D5", birth="1900-01-01"),
        row("D6", birth=today.isoformat()),  # born today: possible
        row("D7", birth=(today + dt.timedelta(days=1)).isoformat()),
    )
    assert f.rows_staged == 7 and f.rows_quarantined == 0  # birth_date is optional: the rows stay
    assert staged["birth_date"].isna().tolist() == [True, True, True, True, False, False, True]
    assert f.field_issues == {"date_out_of_range": 5}
    got = issues.set_index("source_record_id")
    assert got.loc["D3", "original_value"] == "3000-01-01" and got.loc["D3", "field"] == "birth_date"
    assert (
        "1900-01-01" in got.loc["D3", "message"]
        and REASON_TEXT[ReasonCode.DATE_OUT_OF_RANGE][0] in (got.loc["D3", "message"])
    )


@pytest.mark.parametrize("area", ["-89.5", "0", "1e9", "-0", "100000.5"])
def test_areas_must_be_positive_and_below_the_bound(ws, area):
    f, staged, issues = ingest(ws, row("A1", area=area), row("A2", area="89.5"), row("A3", area="100000"))
    assert pd.isna(staged.loc["A1", "house_area"])
    assert staged.loc["A2", "house_area"] == 89.5 and staged.loc["A3", "house_area"] == 100000.0
    assert issues[["source_record_id", "field", "reason_code", "original_value"]].values.tolist() == [
        ["A1", "house_area", "number_out_of_range", area]
    ]


@pytest.mark.parametrize("text", ["89,5", "８９，５", "89，5㎡"])
def test_a_decimal_comma_never_becomes_895(ws, text):
    f, staged, issues = ingest(ws, row("C1", area=f'"{text}"'))
    assert pd.isna(staged.loc["C1", "house_area"])
    assert issues["reason_code"].tolist() == ["invalid_number"]


def test_a_feed_moves_the_bounds(tmp_path):
    rules = {"house_area": {"max": 500_000}, "birth_date": {"min": "1850-01-01"}}
    ws = make_workspace(tmp_path / "ws", {**PHONE_FEED, "value_rules": rules})
    f, staged, issues = ingest(
        ws,
        row("B1", area="250000"),
        row("B2", birth="1870-05-01"),
        row("B3", area="0"),
        row("B4", area="6e5"),
    )
    assert staged.loc["B1", "house_area"] == 250_000.0 and staged.loc["B2", "birth_date"] == dt.date(
        1870, 5, 1
    )
    assert pd.isna(staged.loc["B3", "house_area"])  # the default 'above 0' still holds
    assert sorted(issues["source_record_id"]) == ["B3", "B4"]


def test_a_required_date_out_of_range_costs_the_row(tmp_path):
    ws = make_workspace(tmp_path / "ws", {**PHONE_FEED, "required": ["name", "birth_date"]})
    f, staged, _ = ingest(ws, row("R1", birth="2099-01-01"), row("R2"))
    assert (f.rows_staged, f.rows_quarantined) == (1, 1) and f.reasons == {"date_out_of_range": 1}


@pytest.mark.parametrize(
    ("rules", "says"),
    [
        ({"name": {"max": 3}}, "only date and number fields"),
        ({"house_area": {"max": "today"}}, "must be numbers"),
        ({"birth_date": {"above": 0}}, "'above' is for numbers"),
        ({"birth_date": {"max": 2000}}, "must be dates"),
        ({"house_area": {"min": 5, "max": 1}}, "greater than max"),
        ({"lat": {"max": 90}}, "no column maps to"),
        ({"house_area": {"maximum": 1}}, "maximum"),
    ],
)
def test_value_rules_are_validated_with_a_clear_message(rules, says):
    with pytest.raises(ValidationError, match=says):
        Feed(**{**PHONE_FEED, "value_rules": rules})


# ---- 6: one sanitiser -----------------------------------------------------------------------------------
INVISIBLE = [
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202e",
    "\u2066",
    "\u2069",
    "\ufeff",
    "\u00ad",
    "\u200b",
    "\u2060",
]


@pytest.mark.parametrize("ch", INVISIBLE)
def test_every_invisible_character_is_removed_from_values(ch):
    assert sanitise_text(f"{ch}190{ch}87571367{ch}") == "19087571367"
    assert clean_text(pa.array([f"{ch}张{ch}三 ", ch, None])).to_pylist() == ["张三", None, None]
    assert normalise_header(f"{ch}姓名") == "姓名"
    assert ch not in safe_file_name(f"名单{ch}.csv")


def test_variation_selectors_of_rare_characters_are_kept():
    assert sanitise_text("\u845b\U000e0100") == "\u845b\U000e0100"  # 葛 with an ideographic variation


def test_a_phone_behind_a_direction_mark_is_staged_clean(ws):
    f, staged, issues = ingest(
        ws,
        row("P1", phone="\u200e19087571367", name="张\u00ad三"),
        row("P2", phone="\u202a13800138000\u202c"),
    )
    assert staged.loc["P1", "phone"] == "19087571367" and staged.loc["P1", "name"] == "张三"
    assert staged.loc["P2", "phone"] == "13800138000" and issues.empty


# ---- 9: suspicious text -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ('=HYPERLINK("http://evil","点我")', "formula"),
        ("+cmd|' /C calc'!A0", "formula"),
        ("@SUM(A1:A9)", "formula"),
        ("-(1+1)", "formula"),
        ("<script>alert(1)</script>", "markup"),
        ("<img src=x onerror=alert(1)>", "markup"),
        ("Robert'); DROP TABLE person;--", "SQL"),
        ("' OR '1'='1", "SQL"),
        ("张三 UNION SELECT password FROM users", "SQL"),
        ("李四😀", "emoji"),
        ("王五🇨🇳", "emoji"),
    ],
)
def test_suspicious_names_are_staged_verbatim_and_noted(ws, name, kind):
    quoted = '"' + name.replace('"', '""') + '"'
    f, staged, issues = ingest(ws, row("S1", name=quoted), row("S2"))
    assert staged.loc["S1", "name"] == name and f.rows_staged == 2
    assert issues[["source_record_id", "field", "reason_code", "original_value"]].values.tolist() == [
        ["S1", "name", "suspicious_text", name]
    ]
    assert kind in issues["message"].iloc[0]


@pytest.mark.parametrize(
    "name", ["张三", "O'Brien", "-", "欧阳·娜娜", "@地址", "陈-李", "Select Comfort 公司", "1+1"]
)
def test_ordinary_names_are_not_suspicious(ws, name):
    _, staged, issues = ingest(ws, row("S1", name=name))
    assert staged.loc["S1", "name"] == name and issues.empty
