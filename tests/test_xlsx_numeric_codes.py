"""xlsx feeds: an ID number, credit code, phone or record id typed into a number cell.

Excel stores at most 15 significant digits: 110105199001011234 typed as a number becomes 110105199001011000
(saved as 1.10105199001011E+17). Such a value must never be staged as a wrong ID: it is reported with
``numeric_cell_lost_digits`` (in the record id or a required field its row is quarantined; in an optional field
the value is staged as null and reported as a field issue), and nothing is lost (rows read = staged +
quarantined). Codes of up to 15 digits in number cells are exact and stage as their integer text, without ``.0``.
"""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest
from ingest_helpers import PERSON_FEED, feed, make_workspace

from connectors import ingest_feed, load_field_issues, load_quarantine, load_staging
from warehouse.reasons import ReasonCode, describe
from warehouse.schema import STAGING_FIELDS

LOST = str(ReasonCode.NUMERIC_CELL_LOST_DIGITS)
HEADER = ["编号", "姓名", "身份证号", "电话", "出生日期"]

ORG_FEED = {
    "name": "market",
    "department": "市场监管",
    "source": {"kind": "file", "glob": "*.xlsx", "format": "xlsx"},
    "entities": ["organisation"],
    "record_id": "序号",
    "columns": {
        "序号": "source_record_id",
        "单位名称": "org_name",
        "统一社会信用代码": "credit_code",
        "联系电话": "phone",
    },
    "required": ["org_name"],
}


def _workbook(path, rows: list[list]):
    """A real workbook written by openpyxl: Python ints and floats become number cells."""
    wb = openpyxl.Workbook()
    sheet = wb.active
    for r in rows:
        sheet.append(r)
    wb.save(path)
    return path


@pytest.fixture
def ws(tmp_path):
    person = feed(
        source={"glob": "*.xlsx", "format": "xlsx"}, columns={**PERSON_FEED["columns"], "电话": "phone"}
    )
    return make_workspace(tmp_path / "ws", person, ORG_FEED)


def test_the_code_fields_are_the_identifiers():
    assert {f for f, s in STAGING_FIELDS.items() if s.code} == {
        "source_record_id",
        "id_number",
        "credit_code",
        "phone",
        "house_code",  # 房屋编号: a department's identifier, every digit counts
        "legal_rep_id",  # 法定代表人证件号码: an ID number like id_number
        "org_phone",  # an organisation's 联系电话, like phone
    }


def test_person_codes_in_number_cells(ws):
    rows = [
        HEADER,
        ["P1", "张三", 110105199001011234, "13800138000", "1990-01-01"],  # line 2: 18 digits as a number
        ["P2", "李四", 110105199001011000.0, None, "1990-01-01"],  # line 3: what Excel really keeps
        [
            "P3",
            "王五",
            "110105199001011234",
            13800138000,
            "1990-01-01",
        ],  # line 4: ID as text, phone as a number
        ["P4", "赵六", "11010519491231002X", 13800138000.0, "1949-12-31"],  # line 5: phone as a float
        [1000000000000005, "孙七", "110105199001011234", None, None],  # line 6: 16-digit record id
        ["P6", "周八", 440305800101123, 13912345678, None],  # line 7: 15-digit old ID
        ["P7", "吴九", 1.10105e17, None, "19900230"],  # line 8: two problems, one row
        ["P8", "郑十", "110105199001011234", 1.38001380001e15, None],  # line 9: 16-digit phone
    ]
    _workbook(ws.landing_dir("police") / "人口.xlsx", rows)
    [f] = ingest_feed(ws, "police").files
    assert f.rows_read == len(rows) - 1 == f.rows_staged + f.rows_quarantined

    staged = load_staging(ws, "police").set_index("source_record_id")
    quarantine = load_quarantine(ws, "police")
    issues = load_field_issues(ws, "police")
    # nothing is lost: every input line is staged or quarantined, never both
    staged_lines, quarantined_lines = set(staged["_line"]), set(quarantine["line"])
    assert staged_lines | quarantined_lines == set(range(2, len(rows) + 1))
    assert not staged_lines & quarantined_lines
    # only the record id costs its row; the optional ID numbers and phones are dropped and reported
    assert (f.rows_staged, f.rows_quarantined) == (len(staged_lines), len(quarantined_lines)) == (7, 1)

    assert staged.loc["P3", "id_number"] == "110105199001011234"
    assert staged.loc["P3", "phone"] == "13800138000" and staged.loc["P4", "phone"] == "13800138000"
    assert staged.loc["P6", "id_number"] == "440305800101123" and staged.loc["P6", "phone"] == "13912345678"
    # no staged code is a rounded number, a float's text or in scientific notation
    for col in ("id_number", "phone"):
        assert not staged[col].dropna().str.contains(r"e\+|\.", regex=True).any()
    assert "110105199001011000" not in set(staged["id_number"])
    assert staged.loc[["P1", "P2", "P7"], "id_number"].isna().all() and pd.isna(staged.loc["P8", "phone"])

    in_quarantine = quarantine[quarantine["reason_code"] == LOST]
    assert in_quarantine[["line", "column", "original_text"]].values.tolist() == [
        [6, "编号", "1000000000000005"]
    ]
    lost = issues[issues["reason_code"] == LOST].sort_values("line")
    assert lost[["line", "column", "source_record_id"]].values.tolist() == [
        [2, "身份证号", "P1"],
        [3, "身份证号", "P2"],
        [8, "身份证号", "P7"],
        [9, "电话", "P8"],
    ]
    assert lost["original_value"].tolist() == [
        "1.101051990010112e+17",
        "1.10105199001011e+17",
        "1.10105e+17",
        "1380013800010000",
    ]
    for message in [*lost["message"], *in_quarantine["message"]]:
        assert "15" in message and "文本" in message and "format the column as text" in message
    # the row with two problems has one issue for each
    assert sorted(issues.loc[issues["line"] == 8, "reason_code"]) == ["invalid_date", LOST]
    assert f.reasons == {LOST: 1}
    assert f.field_issues == {LOST: 4, "invalid_date": 1}


def test_credit_code_in_a_number_cell(ws):
    rows = [
        ["序号", "单位名称", "统一社会信用代码", "联系电话"],
        [1, "甲公司", 911101080000000000, 13900139000],  # an all-digit credit code typed as a number
        [2, "乙公司", "91350100M000100Y43", 13900139001],
        [3, "丙公司", "911101085923662400", 2.5e16],
    ]
    _workbook(ws.landing_dir("market") / "单位.xlsx", rows)
    [f] = ingest_feed(ws, "market").files
    # credit code and phone are optional here: the values are dropped and reported, the rows staged
    assert (f.rows_read, f.rows_staged, f.rows_quarantined) == (3, 3, 0)
    staged = load_staging(ws, "market")
    assert staged[["source_record_id", "credit_code", "phone"]].astype(object).fillna("").values.tolist() == [
        ["1", "", "13900139000"],
        ["2", "91350100M000100Y43", "13900139001"],
        ["3", "911101085923662400", ""],
    ]
    issues = load_field_issues(ws, "market").sort_values("line")
    assert issues[["line", "column", "reason_code"]].values.tolist() == [
        [2, "统一社会信用代码", LOST],
        [4, "联系电话", LOST],
    ]


def test_the_reason_says_what_to_do():
    zh, en = describe(LOST), describe(LOST, "en")
    assert "数字" in zh and "15" in zh and "文本格式" in zh
    assert "number cell" in en and "15 significant digits" in en and "format the column as text" in en
