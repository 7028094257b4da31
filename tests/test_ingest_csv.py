"""CSV feeds end to end: raw zone, staging, quarantine, accounting (GB18030, 繁体, full-width, line breaks)."""

from __future__ import annotations

import codecs
import stat

import pandas as pd
import pyarrow.parquet as pq
import pytest
from ingest_helpers import HEADER, feed, land, make_workspace

import connectors.staging as staging_mod
from connectors import (
    FeedFileError,
    export_quarantine_csv,
    ingest_feed,
    load_field_issues,
    load_quarantine,
    load_staging,
    raw_manifest,
)
from gridhub.ingest_cli import ingest_command
from warehouse.files import sha256_file
from warehouse.schema import arrow_schema, staging_schema

GOOD = (
    HEADER + "\n"
    "P001,張三,11010519491231002X,男,1949-12-31,深圳市南山区桃源街道十二号楼三单元501,85.5,是\n"
    'P002,\u00a0李四\u200b ,440305198001011234,2,19800101,"南山区\n大冲村3号",１２０,否\n'
    'P003,王　五,440305199002021235,女,1990年2月2日,,"1,024.5",\n'
)


@pytest.fixture
def ws(tmp_path):
    return make_workspace(tmp_path / "ws")


def test_gb18030_file_is_staged_typed_with_source_lines(ws):
    land(ws, "人口.csv", GOOD)
    result = ingest_feed(ws, "police")
    result.check_accounting()
    [f] = result.files
    assert (f.rows_read, f.rows_staged, f.rows_quarantined) == (3, 3, 0)
    assert f.encoding == "gb18030"
    df = load_staging(ws, "police")
    assert list(df["source_record_id"]) == ["P001", "P002", "P003"]
    # 繁体 kept as given (matching normalises); NBSP and zero-width trimmed; ideographic space inside kept
    assert list(df["name"]) == ["張三", "李四", "王　五"]
    assert list(df["sex"]) == ["M", "F", "F"]
    assert [d.isoformat() for d in df["birth_date"]] == ["1949-12-31", "1980-01-01", "1990-02-02"]
    assert list(df["house_area"]) == [85.5, 120.0, 1024.5]
    assert df["rented"].tolist()[:2] == [True, False] and pd.isna(df["rented"].iloc[2])
    assert df["address"].iloc[1] == "南山区\n大冲村3号"
    # the record with a line break inside a value starts on line 3 and spans two lines: the next is line 5
    assert list(df["_line"]) == [2, 3, 5]
    assert set(df["_raw_sha256"]) == {f.sha256} and set(df["_feed"]) == {"police"}
    staged = pq.read_schema(ws.staging_dir("police") / f"{f.sha256}.parquet")
    assert staged.equals(staging_schema(ws.config.feed("police").fields), check_metadata=False)


@pytest.mark.parametrize(
    "encoding",
    ["utf-8", "utf-8-sig", "utf-16", "gb18030"],
)
def test_encoding_auto_detects(ws, encoding):
    land(ws, f"p-{encoding}.csv", GOOD.replace("\n", "\r\n"), encoding=encoding)
    result = ingest_feed(ws, "police")
    [f] = result.files
    assert f.rows_staged == 3, f
    df = load_staging(ws, "police")
    assert df["name"].iloc[0] == "張三"
    assert df["address"].iloc[1] == "南山区\r\n大冲村3号"
    assert list(df["_line"]) == [2, 3, 5]


def test_raw_zone_keeps_file_unchanged_and_resend_is_noop(ws):
    p = land(ws, "a.csv", GOOD)
    original = p.read_bytes()
    sha = sha256_file(p)
    land(ws, "_READY", b"")
    land(ws, ".a.csv.swp", b"junk")
    land(ws, "b.csv.part", b"junk")
    result = ingest_feed(ws, "police")
    assert [f.file_name for f in result.files] == ["a.csv"]
    blob = ws.raw / sha[:2] / sha
    assert blob.read_bytes() == original
    assert not blob.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert (ws.landing_dir("police") / "_done" / "a.csv").exists()
    assert not p.exists()
    m = raw_manifest(ws)
    row = m.iloc[0]
    assert (row["feed"], row["sha256"], row["size"], row["status"], row["rows_read"]) == (
        "police",
        sha,
        len(original),
        "staged",
        3,
    )
    assert row["origin"].endswith("a.csv") and row["received_at"]

    # the same content again under another name: a no-op that says so
    land(ws, "a-again.csv", GOOD)
    again = ingest_feed(ws, "police")
    [f] = again.files
    assert (
        f.skipped_duplicate and f.rows_read == 0 and "identical content was already received" in f.warnings[0]
    )
    assert "a.csv" in f.warnings[0]  # when, and under which name, it came first
    assert (ws.landing_dir("police") / "_duplicates" / "a-again.csv").exists()  # filed away, not left waiting
    explicit = ingest_feed(ws, "police", [ws.landing_dir("police") / "_duplicates" / "a-again.csv"])
    [f] = explicit.files
    assert f.skipped_duplicate and f.rows_read == 0 and "identical" in f.warnings[0]
    assert len(raw_manifest(ws)) == 1
    assert len(load_staging(ws, "police")) == 3


def test_row_rules_quarantine_with_reasons_and_accounting(ws):
    body = (
        HEADER + "\n"
        "R1,赵六,x,男,20230230,地址,50,是\n"  # invalid date (no 30 February): optional, a field issue
        "R2,钱七,x,未知,2023-01-01,地址,五十,是\n"  # unmapped sex, invalid number: field issues
        "R3,孙八,x,男,2023-01-01,地址,50,也许\n"  # invalid bool: a field issue
        ",周九,x,男,2023-01-01,地址,50,是\n"  # missing record id
        "R1,吴十,x,男,2023-01-01,地址,50,是\n"  # duplicate id
        "R6,,x,男,2023-01-01,地址,50,是\n"  # missing required name
        "R7,郑\x00一,x,男,2023-01-01,地址,50,是\n"  # NUL in the required name
        "R8,冯二,x,男\n"  # ragged
        'R9,=HYPERLINK("http://x"),+86 138,-1,2023-01-01,@SUM(A1),50,是\n'  # formula-like: staged, noted
        "R10,陈三,x,女,2023-01-01,地址,50,是\n"
    )
    land(ws, "rules.csv", body)
    result = ingest_feed(ws, "police")
    [f] = result.files
    # only the record id and the required fields cost the row; optional values become field issues
    assert (f.rows_read, f.rows_staged, f.rows_quarantined) == (10, 5, 5)
    assert f.reasons == {
        "missing_record_id": 1,
        "duplicate_record_id": 1,
        "missing_required": 1,
        "control_characters": 1,
        "ragged_row": 1,
    }
    assert f.field_issues == {
        "invalid_date": 1,
        "unmapped_value": 2,
        "invalid_number": 1,
        "invalid_bool": 1,
        "suspicious_text": 2,  # R9's name and address, kept as given
    }
    q = load_quarantine(ws, "police")
    assert q.columns.tolist() == arrow_schema("quarantine").names
    by_line = {(r.line, r.reason_code): r for r in q.itertuples()}
    assert by_line[(6, "duplicate_record_id")].original_text == "R1"
    assert by_line[(8, "control_characters")].column == "姓名"
    assert by_line[(9, "ragged_row")].original_text == "R8,冯二,x,男"
    assert set(q["raw_sha256"]) == {f.sha256} and set(q["file_name"]) == {"rules.csv"}
    issues = load_field_issues(ws, "police")
    by_issue = {(r.line, r.reason_code): r for r in issues.itertuples()}
    assert by_issue[(2, "invalid_date")].column == "出生日期"
    assert by_issue[(2, "invalid_date")].original_value == "20230230"
    assert by_issue[(2, "invalid_date")].source_record_id == "R1"
    assert by_issue[(2, "invalid_date")].field == "birth_date"
    assert by_issue[(10, "unmapped_value")].original_value == "-1"
    assert by_issue[(3, "invalid_number")].original_value == "五十"
    assert by_issue[(4, "invalid_bool")].original_value == "也许"
    assert set(issues["raw_sha256"]) == {f.sha256} and set(issues["feed"]) == {"police"}
    # formula-looking values are data: not evaluated, kept verbatim
    assert (issues["original_value"] == "-1").any()
    staged = load_staging(ws, "police").set_index("source_record_id")
    assert staged.index.tolist() == ["R1", "R2", "R3", "R9", "R10"]
    # the bad optional values are nulled, the rest of the row is kept
    assert pd.isna(staged.loc["R1", "birth_date"]) and staged.loc["R1", "name"] == "赵六"
    assert pd.isna(staged.loc["R2", "sex"]) and pd.isna(staged.loc["R2", "house_area"])
    assert pd.isna(staged.loc["R3", "rented"]) and staged.loc["R3", "house_area"] == 50.0
    assert staged.loc["R9", "name"] == '=HYPERLINK("http://x")'


def test_formula_values_neutralised_only_in_people_csv(ws, tmp_path):
    land(ws, "f.csv", HEADER + "\nF1,=1+1,@x,男,2023-01-01,+86,-5,是\n")
    ingest_feed(ws, "police")
    df = load_staging(ws, "police")
    assert df["name"].iloc[0] == "=1+1" and df["id_number"].iloc[0] == "@x" and df["address"].iloc[0] == "+86"
    q = pd.DataFrame(
        {"original_text": ["=cmd|' /C calc'!A0", "普通", "-1", "@SUM(1)", None], "line": [1, 2, 3, 4, 5]}
    )
    out = export_quarantine_csv(q, tmp_path / "out" / "q.csv")
    raw = out.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    back = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert back["original_text"].tolist()[:4] == ["'=cmd|' /C calc'!A0", "普通", "'-1", "'@SUM(1)"]


def test_unbalanced_quote_costs_one_row(ws):
    body = (
        HEADER
        + "\n"
        + 'U1,甲,x,男,2023-01-01,"未闭合的引号,50,是\n'
        + "".join(f"U{i},乙{i},x,女,2023-01-01,地址,50,否\n" for i in range(2, 12))
    )
    land(ws, "quote.csv", body)
    [f] = ingest_feed(ws, "police").files
    assert f.rows_read == 11 and f.rows_staged == 10 and f.reasons == {"unparseable_row": 1}
    q = load_quarantine(ws, "police")
    assert q["line"].tolist() == [2]
    assert load_staging(ws, "police")["_line"].tolist() == list(range(3, 13))


def test_duplicates_found_across_batches(ws, monkeypatch):
    monkeypatch.setattr(staging_mod, "BATCH_ROWS", 3)
    rows = [f"D{i % 7},名{i},x,男,2023-01-01,地址,50,是" for i in range(20)]
    land(ws, "dups.csv", HEADER + "\n" + "\n".join(rows) + "\n")
    [f] = ingest_feed(ws, "police").files
    assert f.rows_read == 20 and f.rows_staged == 7 and f.reasons == {"duplicate_record_id": 13}
    assert sorted(load_staging(ws, "police")["_line"].tolist()) == list(range(2, 9))


def test_whole_file_error_keeps_raw_and_other_files_still_staged(ws):
    land(ws, "good.csv", GOOD)
    land(ws, "empty.csv", b"")
    land(ws, "nocols.csv", "姓名,性别\n张三,男\n")
    with pytest.raises(FeedFileError) as err:
        ingest_feed(ws, "police")
    msg = str(err.value)
    assert "empty.csv" in msg and "文件为空" in msg and "the file is empty" in msg
    assert "nocols.csv" in msg and "编号" in msg and "missing" in msg
    result = err.value.result
    assert [f.file_name for f in result.files if not f.error] == ["good.csv"]
    m = raw_manifest(ws).set_index("file_name")
    assert m.loc["empty.csv", "status"] == "failed" and m.loc["empty.csv", "error_code"] == "empty_file"
    assert m.loc["nocols.csv", "error_code"] == "missing_columns"
    for name in ("empty.csv", "nocols.csv"):
        sha = m.loc[name, "sha256"]
        assert (ws.raw / sha[:2] / sha).exists()
        assert not (ws.staging_dir("police") / f"{sha}.parquet").exists()
        assert (ws.landing_dir("police") / "_failed" / name).exists()
    assert len(load_staging(ws, "police")) == 3
    # the failed files are in the manifest: a later landing scan does not retry them
    assert ingest_feed(ws, "police").files == []


def test_latest_file_wins_per_record_id(ws):
    land(ws, "full-1.csv", HEADER + "\nA,旧名,x,男,2023-01-01,旧地址,1,是\nB,乙,x,女,2023-01-01,地址,1,否\n")
    ingest_feed(ws, "police")
    land(ws, "delta-2.csv", HEADER + "\nA,新名,x,男,2023-01-01,新地址,1,是\nC,丙,x,女,2023-01-01,地址,1,否\n")
    ingest_feed(ws, "police")
    df = load_staging(ws, "police").set_index("source_record_id")
    assert sorted(df.index) == ["A", "B", "C"]
    assert df.loc["A", "name"] == "新名" and df.loc["B", "name"] == "乙"


def test_cli_summary_and_exit_codes(ws, capsys):
    land(ws, "good.csv", GOOD)
    assert ingest_command(ws, "police", None) == 0
    out = capsys.readouterr().out
    assert "good.csv" in out and "read 3" in out and "staged 3" in out
    land(ws, "bin.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10)
    assert ingest_command(ws, "police", None) == 1
    out = capsys.readouterr().out
    assert "bin.csv" in out and "FAILED" in out and "Traceback" not in out
    assert ingest_command(ws, "no_such_feed", None) == 2
    assert capsys.readouterr().err.startswith("gridhub: no feed named")  # a usage error, on stderr


def _staged_and_quarantined(ws):
    s = load_staging(ws, "police")
    q = load_quarantine(ws, "police")
    return (
        s[["source_record_id", "_line", "address"]].astype(str).values.tolist(),
        sorted(zip(q["line"], q["reason_code"], strict=True)),
    )


def test_tiny_read_blocks_give_the_same_answer(tmp_path, monkeypatch):
    import connectors.csv_source as csv_source

    body = (
        HEADER
        + "\r\n"
        + "".join(
            f'K{i},名{i},x,{"男" if i % 2 else "女"},2023-01-01,"第{i}行\r\n第二行",{i},是\r\n'
            for i in range(40)
        )
        + 'K99,坏,x,男,2023-01-01,"没有结束的引号,1,是\r\n'
        + "".join(f"M{i},名{i},x,男,2023-01-01,地址{i},{i},否\r\n" for i in range(10))
        + "M99,参差,x\r\n"
    )
    answers = []
    for block in (None, 7, 64):
        ws = make_workspace(tmp_path / f"ws{block}")
        if block:
            monkeypatch.setattr(csv_source, "BLOCK_CHARS", block)
        land(ws, "blocks.csv", body)
        [f] = ingest_feed(ws, "police").files
        assert (f.rows_read, f.rows_staged) == (52, 50), block
        answers.append(_staged_and_quarantined(ws))
    assert answers[0] == answers[1] == answers[2]
    staged, quarantined = answers[0]
    assert staged[1][1] == "4" and staged[40][1] == "83"  # two lines per record, then one
    assert quarantined == [(82, "unparseable_row"), (93, "ragged_row")]


def test_failed_resend_leaves_published_staging_untouched(ws):
    land(ws, "v1.csv", GOOD)
    ingest_feed(ws, "police")
    before = {p.name: p.read_bytes() for p in ws.staging_dir("police").iterdir()}
    land(ws, "v2.csv", "编号,名字\n1,张三\n")  # a header without the feed's columns
    with pytest.raises(FeedFileError) as err:
        ingest_feed(ws, "police")
    assert err.value.problems[0].code == "missing_columns" and "police" in str(err.value)
    assert {p.name: p.read_bytes() for p in ws.staging_dir("police").iterdir()} == before
    assert len(load_staging(ws, "police")) == 3


def test_configured_encoding_and_delimiter(tmp_path):
    ws = make_workspace(tmp_path / "ws", feed(source={"encoding": "gbk", "delimiter": "\t"}))
    # written as GB18030 (GBK has no NBSP); a feed that says gbk is read with GB18030, its superset
    land(ws, "tabs.csv", GOOD.replace(",", "\t").replace('"1\t024.5"', "1024.5"))
    [f] = ingest_feed(ws, "police").files
    assert f.rows_staged == 3 and f.encoding == "gb18030"
    assert load_staging(ws, "police")["house_area"].tolist() == [85.5, 120.0, 1024.5]


def test_header_only_file_is_taken_as_empty_with_a_warning(ws):
    land(ws, "nothing-this-month.csv", HEADER + "\n\n")
    result = ingest_feed(ws, "police")
    [f] = result.files
    assert f.error is None and (f.rows_read, f.rows_staged, f.rows_quarantined) == (0, 0, 0)
    assert any("文件只有表头" in w and "accepted as empty" in w for w in f.warnings)
    assert raw_manifest(ws)["status"].tolist() == ["staged"]
    assert (ws.landing_dir("police") / "_done" / "nothing-this-month.csv").exists()
