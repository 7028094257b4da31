"""What the portal's report says (issue 14, problems 7, 8, 9): the real problem in both languages, Chinese
first; identical content said as such and not landed again; a header-only file taken as empty; suspicious
names noted, stored as sent, shown escaped."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from test_portal import (
    GONGAN,
    HEADER,
    PASSWORDS,
    add_portal_section,
    landed,
    messy_gb18030_csv,
    read_audit,
    sign_in,
    upload,
)


@pytest.fixture
def portal_ws(workspace_copy: Path, monkeypatch) -> Path:
    monkeypatch.setenv("GRIDHUB_PORTAL_TEST_SECRET", "s" * 40)
    return add_portal_section(workspace_copy)


@pytest.fixture
def gongan(portal_ws: Path):
    from fastapi.testclient import TestClient

    from gridhub.portal import create_app

    with TestClient(create_app(portal_ws)) as c:
        assert sign_in(c, "公安", PASSWORDS["公安"]).status_code == 200
        yield c


def _text(r) -> str:
    return html.unescape(r.text)


def _in_order(text: str, *words: str) -> None:
    at = 0
    for w in words:
        assert w in text[at:], (w, text[at : at + 2000])
        at = text.index(w, at)


def test_identical_content_is_said_and_not_landed_again(gongan, portal_ws, sample_workspace):
    data, _ = messy_gb18030_csv(sample_workspace)
    assert upload(gongan, GONGAN, "实有人口_6月.csv", data).status_code == 200
    [first] = landed(portal_ws, GONGAN)
    r = upload(gongan, GONGAN, "又发了一次.csv", data)
    assert r.status_code == 200
    _in_order(
        _text(r),
        "内容完全相同的文件已于",
        "（实有人口_6月.csv）",
        "identical content was already received on",
    )
    assert "文件已接收" not in r.text and landed(portal_ws, GONGAN) == [first]
    rec = read_audit(portal_ws)[-1]
    assert rec["result"] == "duplicate" and rec["first_name"] == "实有人口_6月.csv"
    assert not any((portal_ws / "state" / "portal_tmp").iterdir())


def test_content_staged_before_is_said_with_its_date(gongan, portal_ws, sample_workspace):
    from connectors import ingest_feed, raw_manifest
    from gridhub.workspace import Workspace

    data, _ = messy_gb18030_csv(sample_workspace)
    upload(gongan, GONGAN, "实有人口_6月.csv", data)
    ws = Workspace(portal_ws)
    ingest_feed(ws, GONGAN)
    m = raw_manifest(ws, GONGAN)
    at = m.loc[m["file_name"] == "实有人口_6月.csv", "received_at"].iloc[0]
    r = upload(gongan, GONGAN, "七月.csv", data)
    _in_order(_text(r), f"内容完全相同的文件已于 {at[:10]}", "（实有人口_6月.csv）", "identical content")
    assert landed(portal_ws, GONGAN) == []  # nothing waits in landing for good


def test_header_only_file_is_accepted_as_empty_with_a_warning(gongan, portal_ws):
    r = upload(gongan, GONGAN, "本月无新增.csv", (HEADER + "\r\n").encode("gb18030"))
    assert r.status_code == 200
    _in_order(_text(r), "文件已接收", "文件只有表头，没有数据行，按空文件接收", "accepted as empty")
    assert len(landed(portal_ws, GONGAN)) == 1
    assert read_audit(portal_ws)[-1]["rows_accepted"] == 0


def test_a_housing_extract_sent_to_the_police_feed_is_told_so(gongan, portal_ws, sample_workspace):
    houses = next((sample_workspace / "landing" / "zhujian_houses").glob("*.csv")).read_bytes()
    r = upload(gongan, GONGAN, "房屋信息.csv", houses)
    assert r.status_code == 422
    _in_order(
        _text(r),
        "文件未接收",
        "这些列属于另一个数据源（住建 zhujian_houses）",
        "these columns belong to another feed (住建 zhujian_houses)",
    )
    assert "编码" not in re.search(r'id="status">([^<]*)<', r.text).group(1)
    assert landed(portal_ws, GONGAN) == []


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "utf-16"])
def test_utf8_and_utf16_files_are_read_not_told_to_save_as_utf8(gongan, portal_ws, sample_workspace, codec):
    data, _ = messy_gb18030_csv(sample_workspace)  # the sample feed is configured gb18030
    r = upload(gongan, GONGAN, "名单.csv", data.decode("gb18030").encode(codec))
    assert r.status_code == 200, _text(r)
    text = _text(r)
    assert "请另存为UTF-8或GB18030" not in text and "文件已接收" in text
    _in_order(text, "文件实际为", "the file is")


def test_a_program_is_not_a_text_table(gongan, portal_ws):
    program = Path("/bin/ls")
    if not program.is_file():
        pytest.skip("no /bin/ls")
    r = upload(gongan, GONGAN, "名单.csv", program.read_bytes()[: 200 * 1024])
    assert r.status_code in (415, 422)
    _in_order(_text(r), "不是文本表格", "not a text table")
    assert "另存为UTF-8" not in _text(r)


def test_suspicious_names_are_noted_stored_as_sent_and_shown_escaped(gongan, portal_ws, sample_workspace):
    data, _ = messy_gb18030_csv(sample_workspace)
    lines = data.decode("gb18030").split("\r\n")
    names = ['=HYPERLINK("http://x")', "<script>alert(1)</script>", "王; DROP TABLE persons;--", "李四😀"]
    for i, name in enumerate(names, start=1):
        parts = lines[i].split(",")
        parts[1] = name.replace(",", "")
        lines[i] = ",".join(parts)
    body = "\r\n".join(lines).encode("utf-8")
    r = upload(gongan, GONGAN, "名单.csv", body)
    assert r.status_code == 200
    assert "<script>alert(1)</script>" not in r.text  # escaped in the page
    text = _text(r)
    _in_order(text, "可疑名称", "suspicious name")
    table = text[text.index('id="suspicious"') :]
    for name in names:
        assert name in table
    for what in ("公式", "网页代码", "数据库命令", "表情符号"):
        assert what in text
    rec = read_audit(portal_ws)[-1]
    assert rec["suspicious_names"] == {"emoji": 1, "formula": 1, "markup": 1, "sql": 1}
    [f] = landed(portal_ws, GONGAN)
    assert f.read_bytes() == body  # stored as sent


def test_pages_and_refusals_speak_both_languages(portal_ws):
    from fastapi.testclient import TestClient

    from gridhub.portal import create_app

    with TestClient(create_app(portal_ws)) as c:
        page = c.get("/").text
        _in_order(page, "部门登录", "Department sign-in")
        r = sign_in(c, "公安", "wrong-password")
        _in_order(_text(r), "部门或密码不正确", "Wrong department or password")
        sign_in(c, "公安", PASSWORDS["公安"])
        r = upload(c, "minzheng_assistance", "a.csv", b"x")
        _in_order(_text(r), "无权", "may not upload")


def test_the_clerks_own_name_goes_to_the_sidecar_and_manifest(gongan, portal_ws, sample_workspace):
    from connectors import ingest_feed, raw_manifest
    from gridhub.landing import original_name_of
    from gridhub.workspace import Workspace

    data, _ = messy_gb18030_csv(sample_workspace)
    upload(gongan, GONGAN, "实有人口（六月）.txt", data)
    [f] = landed(portal_ws, GONGAN)
    assert f.suffix == ".csv" and original_name_of(f) == "实有人口（六月）.txt"
    ingest_feed(Workspace(portal_ws), GONGAN)
    names = raw_manifest(Workspace(portal_ws), GONGAN)["file_name"].tolist()
    assert "实有人口（六月）.txt" in names and f.name not in names
