"""Whole-file messages that say the real problem (issue 14, problem 7), Chinese first, then English, with the
department's own file name: the right encoding advice, "not a text table" for programs, another feed's
columns, full-width commas; and the department's name (not the generated landing name) in the messages, the
raw manifest and the quarantine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ingest_corpus import HOUSES_FEED, good_rows, row
from ingest_helpers import HEADER, feed, land, make_workspace

from connectors import FeedFileError, ingest_feed, load_quarantine, raw_manifest
from gridhub.ingest_cli import ingest_command
from gridhub.landing import land_file


@pytest.fixture
def ws(tmp_path):
    return make_workspace(tmp_path / "ws", feed(source={"glob": "*", "encoding": "gb18030"}), HOUSES_FEED)


@pytest.mark.parametrize(
    ("codec", "name"), [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8"), ("utf-16", "UTF-16")]
)
def test_a_readable_file_in_another_encoding_is_read_with_a_note(ws, codec, name):
    land(ws, "名单.csv", HEADER + "\n" + good_rows(3), encoding=codec)
    [f] = ingest_feed(ws, "police").files
    assert f.error is None and f.rows_staged == 3
    [note] = [w for w in f.warnings if "编码" in w]
    assert note.index(f"文件实际为 {name} 编码") < note.index(
        f"the file is {name}, not the feed's configured"
    )


def test_text_in_no_readable_encoding_gets_advice_that_fits(ws, capsys):
    text = (HEADER + "\n").encode("gb18030") + b"1,abc\x80def,x,y,z,w,v,u\n" * 50
    land(ws, "big5.csv", text)
    assert ingest_command(ws, "police") == 1
    out = capsys.readouterr().out
    assert "不是UTF-8、GB18030(GBK)或UTF-16编码" in out and "neither UTF-8 nor GB18030" in out
    assert "CSV UTF-8" in out and "请另存为UTF-8或GB18030" not in out


@pytest.mark.parametrize("program", ["/bin/ls", "/usr/bin/env"])
def test_a_program_is_not_a_text_table(ws, program, capsys):
    if not Path(program).is_file():
        pytest.skip(f"{program} not on this machine")
    shutil.copy(program, ws.landing_dir("police") / "名单.csv")
    assert ingest_command(ws, "police") == 1
    out = capsys.readouterr().out
    assert "这不是文本表格，而是程序文件" in out and "this is not a text table but a program" in out
    assert "编码" not in out.split("FAILED")[1].split("/")[0]  # no encoding advice
    assert raw_manifest(ws, "police")["error_code"].tolist() == ["binary_content"]


def test_another_feeds_columns_are_named_as_such(ws):
    text = "登记编号,房屋编号,房屋坐落,用途,建筑面积,是否出租,产权人,产权人证件号\nDJ1,FW1,南山区,住宅,80,否,王五,x\n"
    land(ws, "房屋信息.csv", text)
    with pytest.raises(FeedFileError) as err:
        ingest_feed(ws, "police")
    said = str(err.value)
    assert said.index("这些列属于另一个数据源（住建 zhujian_houses）") < said.index(
        "these columns belong to another feed (住建 zhujian_houses)"
    )
    expects = said.split("本数据源（公安 police）需要的列是：")[1].split(" (")[0]
    assert {"编号", "姓名", "身份证号"} <= set(expects.split("、"))
    assert "缺少必需的列" not in said  # the generic words are replaced by the real problem


def test_a_header_that_is_partly_right_is_still_missing_columns(ws):
    land(ws, "名单.csv", "编号,居住地址,房屋坐落\n1,南山区,x\n")  # more police columns than houses
    with pytest.raises(FeedFileError) as err:
        ingest_feed(ws, "police")
    assert "缺少必需的列" in str(err.value) and "另一个数据源" not in str(err.value)


def test_full_width_commas_get_a_delimiter_hint(ws):
    land(ws, "名单.csv", HEADER.replace(",", "，") + "\n" + good_rows(1).replace(",", "，"))
    with pytest.raises(FeedFileError) as err:
        ingest_feed(ws, "police")
    assert "表头用全角逗号“，”分隔，请改用半角逗号“,”" in str(err.value)
    assert "full-width commas" in str(err.value)


def test_messages_manifest_and_quarantine_show_the_departments_file_name(ws, capsys):
    bad = HEADER + "\n" + good_rows(2) + row("R1", name="") + "\n"
    dest = land_file(ws, "police", bad.encode("gb18030"), "实有人口（6月）.csv")
    assert ingest_command(ws, "police") == 0
    out = capsys.readouterr().out
    assert "实有人口（6月）.csv" in out and dest.name not in out
    assert raw_manifest(ws, "police")["file_name"].tolist() == ["实有人口（6月）.csv"]
    q = load_quarantine(ws, "police")
    assert len(q) and set(q["file_name"]) == {"实有人口（6月）.csv"}

    land_file(ws, "police", "编号,名字\n1,张三\n".encode("gb18030"), "错误的表.csv")
    assert ingest_command(ws, "police") == 1
    out = capsys.readouterr().out
    assert "文件 错误的表.csv：" in out and "file '错误的表.csv'" in out
