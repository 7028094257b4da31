"""The dry run the upload portal shows a clerk: same answers as the real ingest, nothing written."""

from __future__ import annotations

import pytest
from ingest_helpers import HEADER, make_workspace

from connectors import ConnectorError, ingest_feed, preview_file, raw_manifest
from connectors.text import safe_file_name


@pytest.fixture
def ws(tmp_path):
    return make_workspace(tmp_path / "ws")


def test_preview_counts_lines_and_writes_nothing(ws, tmp_path):
    rows = [f"P{i},名{i},x,男,2023-01-01,地址,50,是" for i in range(30)]
    rows[4] = "P4,名4,x,男,20230230,地址,50,是"
    rows[9] = "P9,名9,x,未知,2023-01-01,地址,50,是"
    rows[19] = "P19,名19,x,男,20230231,地址,50,是"
    rows[14] = "P14,,x,男,2023-01-01,地址,50,是"  # the required name is empty
    rows[24] = "P24,,x,男,2023-01-01,地址,50,是"
    rows[26] = "P26,,x,男,2023-01-01,地址,50,是"
    path = tmp_path / "upload.bin"
    path.write_bytes((HEADER + "\n" + "\n".join(rows) + "\n").encode("gb18030"))
    preview = preview_file(ws, "police", path, original_name="人口.csv", detail_limit=2)
    r = preview.result
    assert preview.problem is None
    assert (r.rows_read, r.rows_staged, r.rows_quarantined) == (30, 27, 3)
    assert r.reasons == {"missing_required": 3}
    assert preview.lines_by_reason() == {"missing_required": [16, 26, 28]}
    assert preview.quarantine.num_rows == 2 and preview.quarantine_entries == 3 and preview.detail_truncated
    assert set(preview.quarantine.column_names) >= {"line", "column", "reason_code", "original_text"}
    # optional values that are dropped: field issues, the rows are staged
    assert r.field_issues == {"invalid_date": 2, "unmapped_value": 1}
    assert preview.issue_lines_by_reason() == {"invalid_date": [6, 21], "unmapped_value": [11]}
    assert preview.field_issues.num_rows == 2 and preview.field_issue_entries == 3
    assert set(preview.field_issues.column_names) >= {"line", "column", "reason_code", "original_value"}
    assert raw_manifest(ws).empty and not list(ws.raw.rglob("*"))
    assert not list(ws.staging.rglob("*.parquet")) and not list(ws.quarantine.rglob("*.parquet"))
    # the real ingest agrees
    [f] = ingest_feed(ws, "police", [path]).files
    assert (f.rows_read, f.rows_staged, f.reasons) == (r.rows_read, r.rows_staged, r.reasons)
    assert f.field_issues == r.field_issues


def test_preview_reports_whole_file_problem(ws, tmp_path):
    path = tmp_path / "x"
    path.write_bytes("编号,名字\n1,张三\n".encode())
    preview = preview_file(ws, "police", path, original_name="名单.csv")
    assert preview.problem is not None and preview.problem.code == "missing_columns"
    assert "名单.csv" in preview.problem.message and preview.result.error
    path.write_text("not,a,workbook\n", encoding="utf-8")
    assert preview_file(ws, "police", path, original_name="a.xlsx").problem.code == "wrong_format"
    assert safe_file_name("../a.csv") == "a.csv"


def test_preview_of_a_database_feed_is_a_connector_error(tmp_path):
    from test_connectors_sql import sql_feed

    ws = make_workspace(tmp_path / "ws", sql_feed(f"sqlite:///{tmp_path / 'x.db'}", table="people"))
    with pytest.raises(ConnectorError):
        preview_file(ws, "hukou", tmp_path / "whatever.csv")
