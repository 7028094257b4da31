"""Data return (数据回流, issue 17): a department downloads its own records from the portal with the standard
address code, grid code and entity id attached, and the list of its values that disagree with the published
golden records; through the real FastAPI app (TestClient) and through the warehouse API.

The sample district is published once, after three of 民政's records were changed so that they disagree with
公安's (a birth date, a name, a phone), the person still found by the ID number."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from test_portal import PASSWORDS, add_portal_section, read_audit, sign_in

from gridhub import pipeline
from gridhub.workspace import Workspace
from warehouse.read import current_run_id, read_table

MINZHENG = "minzheng_assistance"
GONGAN = "gongan_population"
NEW_PHONE = "13900001111"


def _rows(path: Path, encoding: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a sample file's well-formed lines (the sample files hold messy lines on purpose)."""
    lines = path.read_bytes().decode(encoding).splitlines()
    header = lines[0].lstrip("\ufeff").split(",")
    return header, [ln.split(",") for ln in lines[1:] if ln.count(",") == len(header) - 1 and '"' not in ln]


def _inject_disagreements(root: Path) -> dict[tuple[str, str], str]:
    """Change three 民政 records of people 公安 also lists (same ID number and name); return
    {(record id, golden field): the value now in 民政's file} for the birth date and the name, which 公安's
    record keeps in the golden record (priority). The phone is the most recent one's (民政's, by its 登记日期):
    there it is 公安's record that disagrees, under its own record id."""
    mz_path = next((root / "landing" / MINZHENG).glob("*.csv"))
    ga_header, ga_rows = _rows(next((root / "landing" / GONGAN).glob("*.csv")), "gb18030")
    ga = pd.DataFrame(ga_rows, columns=ga_header)
    ga = ga[(ga["公民身份号码"].str.fullmatch(r"\d{17}[\dX]")) & (ga["联系电话"].str.fullmatch(r"1\d{10}"))]
    ga = ga[ga["出生日期"].str.fullmatch(r"\d{8}")]
    ga = ga.drop_duplicates("公民身份号码", keep=False).set_index("公民身份号码")
    header, rows = _rows(mz_path, "utf-8-sig")
    col = {h: i for i, h in enumerate(header)}
    both = [
        r
        for r in rows
        if r[col["身份证号"]] in ga.index and r[col["姓名"]] == ga.at[r[col["身份证号"]], "姓名"]
    ]
    assert len(both) >= 3, "the sample should have people in both 公安 and 民政"
    old = {r[col["救助编号"]]: ",".join(r) for r in both[:3]}
    first, second, third = both[:3]
    born = dt.datetime.strptime(ga.at[first[col["身份证号"]], "出生日期"], "%Y%m%d").date()
    later = born.replace(year=born.year + 1, day=min(born.day, 28)).isoformat()
    first[col["出生日期"]] = later
    second[col["姓名"]] = second[col["姓名"]][0] + ("某" if second[col["姓名"]][-1] != "某" else "甲")
    third[col["联系电话"]] = NEW_PHONE
    text = mz_path.read_bytes().decode("utf-8-sig")
    for r in (first, second, third):
        assert text.count(old[r[col["救助编号"]]]) == 1
        text = text.replace(old[r[col["救助编号"]]], ",".join(r))
    mz_path.write_bytes(text.encode("utf-8-sig"))
    return {
        (first[col["救助编号"]], "birth_date"): later,
        (second[col["救助编号"]], "name"): second[col["姓名"]],
        (ga.at[third[col["身份证号"]], "记录编号"], "phone"): ga.at[third[col["身份证号"]], "联系电话"],
    }


@pytest.fixture(scope="module")
def published(sample_workspace: Path, tmp_path_factory):
    from connectors import ingest_feed

    root = tmp_path_factory.mktemp("data-return") / "ws"
    shutil.copytree(sample_workspace, root)
    add_portal_section(root)
    changed = _inject_disagreements(root)
    ws = Workspace(root)
    for feed in ws.config.feeds:
        ingest_feed(ws, feed.name).check_accounting()
    pipeline.run_all(ws)
    return ws, changed


@pytest.fixture
def client(published, monkeypatch):
    from fastapi.testclient import TestClient

    from gridhub.portal import create_app

    monkeypatch.setenv("GRIDHUB_PORTAL_TEST_SECRET", "r" * 40)
    with TestClient(create_app(published[0].root)) as c:
        yield c


def _staged(ws: Workspace, feed: str) -> pd.DataFrame:
    """The feed's staged rows, read straight from its staged Parquet files (latest row per record id)."""
    files = sorted((ws.staging_dir(feed)).glob("*.parquet"))
    frame = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    return frame.drop_duplicates("source_record_id", keep="last").set_index("source_record_id")


def _csv(response) -> pd.DataFrame:
    assert response.status_code == 200, response.text[:500]
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads the Chinese
    return pd.read_csv(io.BytesIO(response.content), dtype=str, encoding="utf-8-sig", keep_default_na=False)


def _download(client, feed: str, fmt: str = "csv", part: str = "records", **kw):
    return client.get(f"/data-return/download?feed={feed}&format={fmt}&part={part}", **kw)


def test_a_department_downloads_exactly_its_own_records_with_codes(published, client):
    ws, _ = published
    assert sign_in(client, "民政", PASSWORDS["民政"]).status_code == 200
    page = client.get("/data-return")
    assert page.status_code == 200 and MINZHENG in page.text and GONGAN not in page.text
    assert current_run_id(ws.warehouse) in page.text
    got = _csv(_download(client, MINZHENG))

    staged = _staged(ws, MINZHENG)
    assert sorted(got["救助编号"]) == sorted(staged.index)  # exactly its own records, each once
    assert set(got["数据源(feed)"]) == {MINZHENG}
    got = got.set_index("救助编号")
    assert (got["姓名"] == staged.loc[got.index, "name"].astype(str)).all()  # its own values, as staged
    assert (got["联系电话"] == staged.loc[got.index, "phone"].fillna("").astype(str)).all()

    xref = read_table(ws.warehouse, "source_xref", layer="restricted").to_pandas()
    xref = xref[(xref["feed"] == MINZHENG) & (xref["entity_type"] == "person")].set_index("source_record_id")
    assert (got["人员ID(person_id)"] == xref.loc[got.index, "entity_id"]).all()
    binding = read_table(ws.warehouse, "address_binding", layer="restricted").to_pandas()
    binding = binding[(binding["feed"] == MINZHENG) & (binding["field"] == "address")]
    binding = binding.set_index("source_record_id")
    matched = binding.index[binding["status"] == "matched"]
    assert len(matched) > len(got) / 2
    assert (got.loc[matched, "家庭住址_标准地址编码"] == binding.loc[matched, "address_code"]).all()
    assert (got.loc[matched, "家庭住址_网格编码"] == binding.loc[matched, "grid_code"].fillna("")).all()
    assert (got.loc[matched, "家庭住址_地址绑定"] == "已匹配").all()
    assert got.loc[matched, "家庭住址_标准地址编码"].str.fullmatch(r"\d{18}").all()  # codes kept as text


def test_the_disagreement_list_holds_the_values_that_differ_from_the_golden_record(published, client):
    ws, changed = published
    sign_in(client, "民政", PASSWORDS["民政"])
    got = _csv(_download(client, MINZHENG, part="disagreements"))
    assert set(got["数据源(feed)"]) == {MINZHENG}
    assert set(got["记录编号(source_record_id)"]) <= set(_staged(ws, MINZHENG).index)
    person = read_table(ws.warehouse, "person", layer="restricted").to_pandas().set_index("person_id")
    shared = read_table(ws.warehouse, "person").to_pandas().set_index("person_id")
    header = {"birth_date": "出生日期", "name": "姓名"}
    for (record, field), value in changed.items():
        if field not in header:
            continue
        row = got[(got["记录编号(source_record_id)"] == record) & (got["字段(field)"] == header[field])]
        assert len(row) == 1, (record, field, got)
        row = row.iloc[0]
        assert row["本部门的值(your value)"] == value and row["实体类型(entity_type)"] == "人员"
        golden = person.loc[row["实体ID(entity_id)"], field]
        assert str(golden)[:10] != value and row["标准值来源(golden value from)"] == GONGAN
        assert row["标准记录的值(golden value)"] == str(golden)[:10]
    # 公安's phone is older than 民政's: 公安 sees the golden phone masked, as the shared layer publishes it
    sign_in(client, "公安", PASSWORDS["公安"])
    theirs = _csv(_download(client, GONGAN, part="disagreements"))
    (record, _), value = next((k, v) for k, v in changed.items() if k[1] == "phone")
    row = theirs[(theirs["记录编号(source_record_id)"] == record) & (theirs["字段(field)"] == "联系电话")]
    assert len(row) == 1, theirs
    row = row.iloc[0]
    assert row["本部门的值(your value)"] == value and row["标准值来源(golden value from)"] == MINZHENG
    assert row["标准记录的值(golden value)"] == shared.loc[row["实体ID(entity_id)"], "phone"] == "139****1111"
    assert NEW_PHONE not in theirs.to_csv()
    # every row listed really differs from the golden record
    for _, row in got[got["字段(field)"].isin(["姓名", "出生日期"])].iterrows():
        field = {"姓名": "name", "出生日期": "birth_date"}[row["字段(field)"]]
        assert row["本部门的值(your value)"] != str(person.loc[row["实体ID(entity_id)"], field])[:10]


def test_xlsx_has_both_lists_as_text_and_other_departments_are_refused(published, client):
    from openpyxl import load_workbook

    ws, _ = published
    sign_in(client, "民政", PASSWORDS["民政"])
    r = _download(client, MINZHENG, fmt="xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(r.content), read_only=True)
    assert book.sheetnames == ["记录 records", "不一致 disagreements"]
    rows = list(book["记录 records"].iter_rows(values_only=True))
    assert len(rows) - 1 == len(_staged(ws, MINZHENG))
    codes = rows[0].index("家庭住址_标准地址编码")
    assert all(isinstance(r[codes], str) for r in rows[1:] if r[codes] is not None)
    assert len(list(book["不一致 disagreements"].iter_rows())) >= 4
    assert not list(ws.state.glob("portal_tmp/data-return-*"))  # the temp workbook is gone

    # 民政 asking for 公安's feed, or a feed that does not exist: the same 403, audited
    for feed in (GONGAN, "no_such_feed"):
        refused = _download(client, feed)
        assert refused.status_code == 403 and "无权下载" in refused.text
    audit = [a for a in read_audit(ws.root) if a["event"] == "data_return"]
    assert [a["result"] for a in audit[-2:]] == ["refused", "refused"] and audit[-2]["department"] == "民政"
    assert any(a["result"] == "ok" and a["format"] == "xlsx" for a in audit)

    # 公安 gets its own feed, never 民政's
    sign_in(client, "公安", PASSWORDS["公安"])
    assert _download(client, MINZHENG).status_code == 403
    got = _csv(_download(client, GONGAN))
    assert set(got["记录编号"]) == set(_staged(ws, GONGAN).index)


def test_anonymous_users_are_sent_to_sign_in(published, client):
    for path in ("/data-return", f"/data-return/download?feed={MINZHENG}&format=csv"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert "password" in client.get(path).text  # followed: the sign-in form


def test_the_same_through_the_warehouse_api(published):
    import warehouse
    from gridhub.datareturn import department_return, feed_return

    ws, changed = published
    mine = department_return(ws, "民政")
    assert mine.run_id == current_run_id(ws.warehouse)
    assert set(mine.records["source_record_id"]) == set(_staged(ws, MINZHENG).index)
    listed = set(zip(mine.disagreements["source_record_id"], mine.disagreements["field"], strict=True))
    assert {k for k in changed if k[1] != "phone"} <= listed
    # the warehouse function alone: records and values handed in by the caller
    records = mine.records[["feed", "source_record_id"]]
    values = {"person": pd.DataFrame({"feed": [MINZHENG], "source_record_id": [next(iter(changed))[0]]})}
    bare = warehouse.data_return(ws.warehouse, records, values)
    assert bare.records["person_id"].equals(mine.records["person_id"]) and bare.disagreements.empty
    assert feed_return(ws, [MINZHENG]).records.equals(mine.records)


@pytest.mark.slow
def test_a_clerk_downloads_the_data_return_in_a_browser(published, monkeypatch, tmp_path):
    """Headless Chromium (as tests/test_portal_browser.py): sign in, follow the link, download the CSV."""
    from test_portal_browser import ARGS, CHROMIUM, _need_browser, _sign_in, serve_portal

    _need_browser()
    from playwright.sync_api import sync_playwright

    ws, _ = published
    monkeypatch.setenv("GRIDHUB_PORTAL_TEST_SECRET", "d" * 40)
    with serve_portal(ws.root) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_context(locale="zh-CN", accept_downloads=True).new_page()
            _sign_in(page, url, "民政", PASSWORDS["民政"])
            page.click("#data-return-link")
            rows = page.eval_on_selector_all("#return-feeds code", "els => els.map(e => e.textContent)")
            assert rows == [MINZHENG] and GONGAN not in page.content()
            with page.expect_download() as info:
                page.click(f"a[href$='feed={MINZHENG}&format=csv&part=records']")
            saved = tmp_path / info.value.suggested_filename
            info.value.save_as(saved)
            assert saved.name.startswith(f"{MINZHENG}-run-") and saved.suffix == ".csv"
            got = pd.read_csv(saved, dtype=str, encoding="utf-8-sig", keep_default_na=False)
            assert sorted(got["救助编号"]) == sorted(_staged(ws, MINZHENG).index)
            assert saved.read_bytes().startswith(b"\xef\xbb\xbf")
        finally:
            browser.close()


def test_before_anything_is_published_the_page_says_so(workspace_copy, monkeypatch):
    from fastapi.testclient import TestClient

    from gridhub.portal import create_app

    monkeypatch.setenv("GRIDHUB_PORTAL_TEST_SECRET", "u" * 40)
    add_portal_section(workspace_copy)
    with TestClient(create_app(workspace_copy)) as c:
        sign_in(c, "民政", PASSWORDS["民政"])
        assert "还没有发布的数据" in c.get("/data-return").text
        r = _download(c, MINZHENG)
        assert r.status_code == 409 and "gridhub run" in r.text
    last = [a for a in read_audit(workspace_copy) if a["event"] == "data_return"][-1]
    assert last["result"] == "refused" and last["reason"] == "not_available"


def test_spreadsheet_formulas_in_values_are_never_run(tmp_path):
    from openpyxl import load_workbook

    from gridhub.datareturn_files import csv_chunks, write_xlsx

    frame = pd.DataFrame(
        {
            "姓名": ['=HYPERLINK("http://x","点我")', "@SUM(A1)", "王五", None],
            "联系电话": ["+86 138 0013 8000", "-", "13800138000", "+cmd|' /C calc'!A0"],
            "面积": [85.5, -3.0, 1.0, None],
        }
    )
    text = b"".join(csv_chunks(frame)).decode("utf-8-sig")
    rows = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert list(rows["姓名"]) == ['\'=HYPERLINK("http://x","点我")', "'@SUM(A1)", "王五", ""]
    assert list(rows["联系电话"]) == ["+86 138 0013 8000", "'-", "13800138000", "'+cmd|' /C calc'!A0"]
    assert rows["面积"].iloc[1] == "-3.0"  # numbers are not text: left alone
    book = load_workbook(write_xlsx(tmp_path / "x.xlsx", frame, frame.head(0)))
    cell = book["记录 records"]["A2"]
    assert cell.value == frame.iloc[0, 0] and cell.data_type == "s"
