"""xlsx feeds: typed cells, the configured sheet and header row, row numbers as Excel shows them."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd
import pytest
from ingest_helpers import feed, make_workspace

from connectors import FeedFileError, ingest_feed, load_field_issues, load_quarantine, load_staging


def _workbook(path, sheets: dict[str, list[list]]):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
        for line in ws.iter_rows():
            for cell in line:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # text typed in Excel as '=..., not a formula
    wb.save(path)
    return path


HEADER = ["编号", "姓名", "身份证号", "性别", "出生日期", "居住地址", "面积", "出租"]


@pytest.fixture
def ws(tmp_path):
    return make_workspace(
        tmp_path / "ws", feed(source={"glob": "*.xlsx", "format": "xlsx", "sheet": "人口", "header_row": 3})
    )


def test_xlsx_typed_cells_and_excel_row_numbers(ws):
    rows = [
        ["南山区实有人口登记表"],
        [],
        HEADER,
        [1001, "張三", "11010519491231002X", "男", dt.datetime(1949, 12, 31), "南山区\n十二号楼", 85.5, True],
        ["1002", "  李四\u200b", 440305800101123, "女", "1980年1月1日", None, "120", "否"],
        [],
        ["1003", "王五", None, "男", "20230230", "大冲村", 12, "是"],
        ["1004", "=SUM(A1:A2)", None, "女", dt.date(2000, 2, 29), "@地址", 1e3, False],
    ]
    _workbook(ws.landing_dir("police") / "人口.xlsx", {"说明": [["忽略"]], "人口": rows})
    [f] = ingest_feed(ws, "police").files
    # the impossible birth date of 1003 is dropped and reported; the row is staged (birth_date is optional)
    assert (f.rows_read, f.rows_staged, f.rows_quarantined, f.rows_blank) == (4, 4, 0, 1)
    df = load_staging(ws, "police").set_index("source_record_id")
    assert list(df.index) == ["1001", "1002", "1003", "1004"]  # integral numbers read without '.0'
    assert df.loc["1001", "birth_date"] == dt.date(1949, 12, 31)
    assert df.loc["1002", "birth_date"] == dt.date(1980, 1, 1)
    assert df.loc["1002", "name"] == "李四"
    # a 15-digit (old-style) ID typed as a number is exact (longer ones: tests/test_xlsx_numeric_codes.py)
    assert df.loc["1002", "id_number"] == "440305800101123"
    assert df.loc["1001", "rented"] == True and df.loc["1004", "rented"] == False  # noqa: E712
    assert df.loc["1002", "house_area"] == 120.0 and df.loc["1004", "house_area"] == 1000.0
    assert df.loc["1004", "name"] == "=SUM(A1:A2)"  # text that looks like a formula stays text
    assert df["_line"].tolist() == [4, 5, 7, 8]
    assert pd.isna(df.loc["1003", "birth_date"]) and df.loc["1003", "house_area"] == 12.0
    assert load_quarantine(ws, "police").empty
    issues = load_field_issues(ws, "police")
    assert sorted(
        issues[["line", "reason_code", "column", "original_value", "source_record_id"]].values.tolist()
    ) == [
        [7, "invalid_date", "出生日期", "20230230", "1003"],
        [8, "suspicious_text", "姓名", "=SUM(A1:A2)", "1004"],  # kept, and noted
    ]


def test_missing_sheet_is_a_whole_file_error(ws):
    _workbook(ws.landing_dir("police") / "wrong.xlsx", {"Sheet1": [HEADER, ["1", "张三"]]})
    with pytest.raises(FeedFileError) as err:
        ingest_feed(ws, "police")
    assert err.value.problems[0].code == "sheet_not_found"
    assert "人口" in str(err.value) and "Sheet1" in str(err.value)


def test_csv_content_in_xlsx_feed_is_rejected(ws):
    (ws.landing_dir("police") / "fake.xlsx").write_text(",".join(HEADER) + "\n1,张三\n", encoding="utf-8")
    with pytest.raises(FeedFileError) as err:
        ingest_feed(ws, "police")
    assert err.value.problems[0].code == "wrong_format"
