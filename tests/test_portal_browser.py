"""The upload portal in a real browser: headless Chromium (Debian's, installed by .ci/browser.sh) driven by
Playwright, against the portal served by uvicorn on a free 127.0.0.1 port. In CI (``CI=true``) a missing
browser fails the test; elsewhere it skips with the command to install it."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_portal import (
    GONGAN,
    MINZHENG,
    PASSWORDS,
    PNG,
    add_portal_section,
    landed,
    messy_gb18030_csv,
    read_audit,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BROWSER_CAP = 64 * 1024


def _need_browser() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(CHROMIUM)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package")
    if missing:
        msg = f"{' and '.join(missing)} missing: run `bash .ci/browser.sh` (as root)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_portal(workspace: Path) -> Iterator[str]:
    """The portal of ``workspace`` served by uvicorn on a free 127.0.0.1 port, for the block: its URL."""
    import uvicorn

    from gridhub.portal import create_app

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(workspace), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def portal_url(workspace_copy: Path, monkeypatch):
    _need_browser()
    monkeypatch.setenv("GRIDHUB_PORTAL_TEST_SECRET", "b" * 40)
    add_portal_section(workspace_copy, cap=BROWSER_CAP)
    with serve_portal(workspace_copy) as url:
        yield url, workspace_copy


@pytest.fixture
def page(portal_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser.new_context(locale="zh-CN").new_page()
        finally:
            browser.close()


def _sign_in(page, url: str, department: str, password: str) -> None:
    page.goto(url + "/")
    page.fill("#department", department)
    page.fill("#password", password)
    page.click("#sign-in")


def _upload(page, name: str, data: bytes, mime: str = "text/csv") -> None:
    page.set_input_files("#file", files=[{"name": name, "mimeType": mime, "buffer": data}])
    page.click("#upload")
    page.wait_for_selector("#status")


@pytest.mark.slow
def test_department_clerk_in_a_browser(page, portal_url, sample_workspace, tmp_path):
    url, ws = portal_url

    # a wrong password is refused, in words that do not say which part was wrong
    _sign_in(page, url, "公安", "not-the-password")
    assert "部门或密码不正确" in page.inner_text("#error")
    assert page.locator("#upload-form").count() == 0

    # 公安 signs in and sees its own feed only
    _sign_in(page, url, "公安", PASSWORDS["公安"])
    options = page.eval_on_selector_all("#feed option", "els => els.map(e => e.value)")
    assert options == [GONGAN]
    assert MINZHENG not in page.content()

    # the messy GB18030 file: rows accepted, quarantined rows with their line numbers and reasons
    data, bad = messy_gb18030_csv(sample_workspace)
    _upload(page, "实有人口_六月.csv", data)
    assert "文件已接收" in page.inner_text("#status")
    # the impossible birth date is an optional value: its row is accepted and the value listed as a field issue
    assert page.inner_text("#rows-accepted").strip() == "5"
    assert page.inner_text("#rows-quarantined").strip() == "2"
    reasons = page.inner_text("#reasons") + page.inner_text("#field-issues")
    for line, text in ((line, code) for line, code in bad.items()):
        from warehouse.reasons import describe

        assert describe(text) in reasons and str(line) in reasons
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert len(landed(ws, GONGAN)) == 1

    # another department's feed cannot be uploaded to, even by editing the form
    page.goto(url + "/")
    page.eval_on_selector("#feed option", f"e => e.value = '{MINZHENG}'")
    _upload(page, "x.csv", data)
    assert "无权" in page.inner_text("#status")
    assert landed(ws, MINZHENG) == []

    # oversize: refused with the cap in the message
    page.goto(url + "/")
    big = ("\n".join(["记录编号,姓名"] + [f"{i},张三" for i in range(12000)])).encode("gb18030")
    assert len(big) > BROWSER_CAP
    _upload(page, "大文件.csv", big)
    assert "文件过大" in page.inner_text("#status") and "64 KB" in page.inner_text("#status")

    # a PNG renamed .csv: refused by content
    page.goto(url + "/")
    _upload(page, "名单.csv", PNG)
    status = page.inner_text("#status")
    assert "文件类型不支持" in status and "PNG图片" in status

    # a path-traversal file name lands inside the feed's landing folder under a generated name
    page.goto(url + "/")
    _upload(page, "../../../../tmp/穿越.csv", data.replace(b"\r\n", b"\n"))
    assert "文件已接收" in page.inner_text("#status")
    files = landed(ws, GONGAN)
    assert len(files) == 2 and all(f.parent == ws / "landing" / GONGAN for f in files)
    assert not Path("/tmp/穿越.csv").exists()

    uploads = [e for e in read_audit(ws) if e["event"] == "upload"]
    assert [e["result"] for e in uploads] == [
        "accepted_with_quarantine",
        "refused",
        "refused",
        "refused",
        "accepted_with_quarantine",
    ]
    assert uploads[-1]["original_name"] == "穿越.csv"
