"""Field issues: a bad optional value costs the value, not the row (connectors.rules).

Only the record id, a feed's required fields, an encoding error in the row and rows the reader cannot shape
quarantine a row; any other problem nulls the value in the staged row and is kept as a field issue with the
original text, written beside the staged file and published in the warehouse's ``field_issue`` table.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from ingest_helpers import HEADER, feed, land, make_workspace

from connectors import ingest_feed, load_field_issues, load_quarantine, load_staging
from warehouse.build import BUILDERS
from warehouse.reasons import REASON_TEXT, ReasonCode
from warehouse.schema import TABLES
from warehouse.staging import STAGED_ISSUE_SCHEMA


def row(rid: str, birth: str = "1990-01-01", area: str = "50", rented: str = "是", name: str = "张三") -> str:
    return ",".join([rid, name, "440305199001011234", "男", birth, "南山区", area, rented])


def ingest(ws, *rows: str, name: str = "a.csv"):
    land(ws, name, HEADER + "\n" + "\n".join(rows) + "\n")
    [f] = ingest_feed(ws, "police").files
    assert f.rows_read == f.rows_staged + f.rows_quarantined  # the accounting holds
    return f, load_staging(ws, "police").set_index("source_record_id"), load_field_issues(ws, "police")


@pytest.fixture
def ws(tmp_path):
    return make_workspace(tmp_path / "ws")


def test_optional_date_typo_area_with_unit_and_bad_bool_keep_the_row(ws):
    f, staged, issues = ingest(
        ws,
        row("A1", birth="1990-02-30"),  # no 30 February
        row("A2", area="89.56㎡"),
        row("A3", rented="也许"),
        row("A4"),
    )
    assert (f.rows_read, f.rows_staged, f.rows_quarantined) == (4, 4, 0)
    assert f.reasons == {} and f.field_issues == {"invalid_date": 1, "invalid_bool": 1}
    assert pd.isna(staged.loc["A1", "birth_date"]) and staged.loc["A1", "name"] == "张三"
    assert staged.loc["A2", "house_area"] == 89.56
    assert pd.isna(staged.loc["A3", "rented"]) and staged.loc["A3", "house_area"] == 50.0
    got = issues[["source_record_id", "field", "reason_code", "original_value", "line", "column"]]
    assert got.values.tolist() == [
        ["A1", "birth_date", "invalid_date", "1990-02-30", 2, "出生日期"],
        ["A3", "rented", "invalid_bool", "也许", 4, "出租"],
    ]
    assert issues.columns.tolist() == STAGED_ISSUE_SCHEMA.names
    assert set(issues["feed"]) == {"police"} and set(issues["raw_sha256"]) == {f.sha256}
    assert all(REASON_TEXT[ReasonCode.INVALID_DATE][0] in m for m in issues["message"][:1])
    assert load_quarantine(ws, "police").empty


def test_a_required_fields_bad_value_still_quarantines(tmp_path):
    ws = make_workspace(tmp_path / "ws", feed(required=["name", "birth_date"]))
    f, staged, issues = ingest(ws, row("R1", birth="1990-02-30"), row("R2", birth=""), row("R3"))
    assert (f.rows_read, f.rows_staged, f.rows_quarantined) == (3, 1, 2)
    assert f.reasons == {"invalid_date": 1, "missing_required": 1} and f.field_issues == {}
    q = load_quarantine(ws, "police")
    assert q[["line", "reason_code", "original_text"]].values.tolist() == [
        [2, "invalid_date", "1990-02-30"],
        [3, "missing_required", ""],
    ]
    assert staged.index.tolist() == ["R3"] and issues.empty


def test_a_quarantined_row_reports_its_optional_problems_in_quarantine_not_as_field_issues(ws):
    f, staged, issues = ingest(ws, row("Q1", name="", area="八十"), row("Q2"))
    assert (f.rows_staged, f.rows_quarantined) == (1, 1)
    assert f.reasons == {"invalid_number": 1, "missing_required": 1} and f.field_issues == {}
    assert sorted(load_quarantine(ws, "police")["reason_code"]) == ["invalid_number", "missing_required"]
    assert issues.empty


def test_an_encoding_error_in_an_optional_field_still_quarantines_the_row(ws):
    body = (HEADER + "\n" + "".join(row(f"G{i}") + "\n" for i in range(60))).encode("utf-8")
    body += "B1,王五,x,男,1990-01-01,".encode() + "南山区".encode("gb18030") + ",50,是\n".encode()
    land(ws, "mixed.csv", body)
    [f] = ingest_feed(ws, "police").files
    assert (f.rows_read, f.rows_staged, f.rows_quarantined) == (61, 60, 1)
    assert f.reasons == {"encoding_error": 1}
    assert load_field_issues(ws, "police").empty


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("89.56㎡", 89.56),
        ("89.56 平方米", 89.56),
        ("89.56m²", 89.56),
        ("89.56 m2", 89.56),
        ("89.56平米", 89.56),
        ("89.56 M2", 89.56),
        ("８９．５６㎡", 89.56),
        ("1,234.5", 1234.5),
        ("12,345", 12345.0),
        ("1,234,567.25平方米", 1234567.25),
        ("-3.5", -3.5),
    ],
)
def test_areas_with_units_full_width_digits_and_thousands_separators(tmp_path, text, value):
    # reading only: the area's sanity bounds are turned off here (they have their own tests)
    ws = make_workspace(tmp_path / "ws", feed(value_rules={"house_area": {"above": None, "max": None}}))
    f, staged, issues = ingest(ws, row("N1", area=f'"{text}"'))
    assert staged.loc["N1", "house_area"] == value and issues.empty and f.rows_staged == 1


@pytest.mark.parametrize(
    "text",
    [
        "89,5",
        "89,50",
        "1,23",
        "1,2345",
        "12,34,567",
        "89.5.6",
        "五十",
        "89.56公顷",
        "８９，５",
        "89，5㎡",
        "+89,5",
    ],
)
def test_a_decimal_comma_or_other_non_number_is_refused_never_guessed(ws, text):
    f, staged, issues = ingest(ws, row("C1", area=f'"{text}"'))
    assert f.rows_staged == 1 and pd.isna(staged.loc["C1", "house_area"])  # never 895
    assert issues[["field", "reason_code", "original_value"]].values.tolist() == [
        ["house_area", "invalid_number", text]
    ]


def test_a_feed_adds_its_own_units(tmp_path):
    ws = make_workspace(tmp_path / "ws", feed(number_units=["公顷", "亩"]))
    _, staged, issues = ingest(ws, row("U1", area="2.5公顷"), row("U2", area="3 亩"), row("U3", area="40㎡"))
    assert staged["house_area"].tolist() == [2.5, 3.0, 40.0] and issues.empty


def test_a_date_in_an_unlisted_common_form_is_staged_and_noted(tmp_path):
    ws = make_workspace(tmp_path / "ws", feed(date_formats=["%Y-%m-%d"]))
    forms = [
        "1990.05.01",
        "1990年5月1日",
        "19900501",
        "1990-05-01 00:00:00",
        "1990-05-01T00:00:00",
        "一九九〇年五月一日",
        "１９９０－０５－０１",
        "1990/5/1",
    ]
    rows = [row(f"D{i}", birth=v) for i, v in enumerate(forms)] + [row("D9", birth="1990-5-1")]
    f, staged, issues = ingest(ws, *rows)
    assert (f.rows_staged, f.rows_quarantined) == (9, 0)
    assert staged["birth_date"].tolist() == [dt.date(1990, 5, 1)] * 9
    assert f.field_issues == {"date_format_not_listed": len(forms)}  # 1990-5-1 is the listed form
    by_id = issues.set_index("source_record_id")
    assert sorted(by_id.index) == [f"D{i}" for i in range(len(forms))]
    assert by_id.loc["D0", "original_value"] == "1990.05.01" and "%Y.%m.%d" in by_id.loc["D0", "message"]
    assert by_id.loc["D5", "original_value"] == "一九九〇年五月一日"
    assert set(by_id["reason_code"]) == {"date_format_not_listed"}
    zh, en = REASON_TEXT[ReasonCode.DATE_FORMAT_NOT_LISTED]
    assert zh and en and zh in by_id.loc["D0", "message"]


def test_attributes_keep_other_source_columns_as_json(tmp_path):
    header = HEADER + ",房屋编号备注,楼层,网格员"
    ws = make_workspace(
        tmp_path / "ws", feed(attributes={"楼层": "floor", "房屋编号备注": "note", "无此列": "x"})
    )
    land(
        ws,
        "a.csv",
        header + "\n" + row("T1") + ',"说""明\\一",3,\n' + row("T2") + ",,,李四\n" + row("T3") + ",,,\n",
    )
    [f] = ingest_feed(ws, "police").files
    assert any("无此列" in w for w in f.warnings)
    staged = load_staging(ws, "police").set_index("source_record_id")
    assert staged.columns[-1] == "attributes"
    t1 = staged.loc["T1", "attributes"]
    assert t1 == '{"floor":"3","note":"说\\"明\\\\一"}'  # sorted keys, UTF-8 as is, valid JSON
    assert json.loads(t1) == {"floor": "3", "note": '说"明\\一'}
    assert pd.isna(staged.loc["T2", "attributes"]) and pd.isna(staged.loc["T3", "attributes"])


def test_attributes_as_a_list_keep_the_header_as_the_key(tmp_path):
    ws = make_workspace(tmp_path / "ws", feed(attributes=["网格员"]))
    land(ws, "a.csv", HEADER + ",网格员\n" + row("L1") + ",李四\n")
    ingest_feed(ws, "police")
    assert json.loads(load_staging(ws, "police")["attributes"].iloc[0]) == {"网格员": "李四"}


def test_only_the_current_staged_rows_have_field_issues(ws):
    ingest(ws, row("S1", birth="1990-02-30"), row("S2", rented="也许"), name="v1.csv")
    _, _, issues = ingest(ws, row("S1", birth="1990-02-28"), name="v2.csv")  # S1 sent again, fixed
    assert issues[["source_record_id", "reason_code"]].values.tolist() == [["S2", "invalid_bool"]]


def test_the_warehouse_publishes_staged_and_mention_issues_together():
    key = list(TABLES["field_issue"].key)
    mention = pd.DataFrame(
        [["police", "A1", "id_number", "invalid_id_number", "1101"]],
        columns=TABLES["field_issue"].column_names,
    )
    staged = pd.DataFrame(
        {
            "feed": ["police", "police", "police"],
            "source_record_id": ["A1", "A2", "A1"],
            "field": ["birth_date", "rented", "id_number"],
            "reason_code": ["invalid_date", "invalid_bool", "invalid_id_number"],
            "original_value": ["1990-02-30", "也许", "1101"],
            "line": [2, 3, 2],
        }
    )

    class Inputs:
        issues = mention
        staged_issues = staged

    out = BUILDERS["field_issue"](Inputs())  # type: ignore[arg-type]
    assert out.columns.tolist() == TABLES["field_issue"].column_names
    assert sorted(map(tuple, out[key].values.tolist())) == [
        ("police", "A1", "birth_date", "invalid_date"),
        ("police", "A1", "id_number", "invalid_id_number"),
        ("police", "A2", "rented", "invalid_bool"),
    ]
