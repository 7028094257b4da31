"""The department upload portal through FastAPI's TestClient: sign-in, feed isolation, CSRF, size cap, type
sniffing by content, path-traversal names, the immediate report, the audit log; and the dry-run preview."""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from gridhub.config import ConfigError, load_config

PASSWORDS = {"公安": "gongan-Pass-2026", "民政": "minzheng-Pass-2026"}
CAP = 256 * 1024
GONGAN = "gongan_population"
MINZHENG = "minzheng_assistance"
HEADER = "记录编号,姓名,性别,公民身份号码,出生日期,民族,联系电话,户籍地址,现住址,人口类型"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


# ----------------------------------------------------------------------------------------------------------
# helpers shared with test_portal_browser.py
# ----------------------------------------------------------------------------------------------------------
_HASHES: dict[str, str] = {}


def portal_hashes() -> dict[str, str]:
    from gridhub.portal import hash_password

    if not _HASHES:
        _HASHES.update({d: hash_password(p) for d, p in PASSWORDS.items()})
    return _HASHES


def add_portal_section(ws_dir: Path, cap: int = CAP) -> Path:
    """Append a ``portal:`` section (公安 and 民政) to a copy of the sample workspace's gridhub.yaml."""
    section = {
        "portal": {
            "departments": {d: {"password_hash": h} for d, h in portal_hashes().items()},
            "max_upload_bytes": cap,
            "session_secret_env": "GRIDHUB_PORTAL_TEST_SECRET",
        }
    }
    cfg = ws_dir / "gridhub.yaml"
    base = without_portal_section(ws_dir)  # the sample's own demo section gives way to the test's
    cfg.write_text(base + "\n" + yaml.safe_dump(section, allow_unicode=True), encoding="utf-8")
    return ws_dir


def messy_gb18030_csv(sample_ws: Path) -> tuple[bytes, dict[int, str]]:
    """Five good rows of the sample's 公安 file plus messy ones, in GB18030; returns (bytes, line → reason)."""
    src = next((sample_ws / "landing" / GONGAN).glob("*.csv"))
    lines = src.read_bytes().decode("gb18030").splitlines()
    assert lines[0] == HEADER
    good = [ln for ln in lines[1:] if ln.count(",") == HEADER.count(",")][:6]
    rows = [HEADER, *good[:3]]
    bad: dict[int, str] = {}
    # 繁体 name and full-width spaces around it: a good row
    parts = good[3].split(",")
    parts[1] = "\u3000陳曉華\u3000"
    rows.append(",".join(parts))
    # invalid date (30 February)
    parts = good[4].split(",")
    parts[4] = "20230230"
    rows.append(",".join(parts))
    bad[len(rows)] = "invalid_date"
    # ragged row (an extra comma inside the address)
    rows.append(good[5] + ",多出来的一列")
    bad[len(rows)] = "ragged_row"
    # missing record id
    parts = good[0].split(",")
    parts[0] = ""
    rows.append(",".join(parts))
    bad[len(rows)] = "missing_record_id"
    rows.append("")  # a trailing blank line is not a row
    return ("\r\n".join(rows) + "\r\n").encode("gb18030"), bad


def sign_in(client, department: str, password: str):
    page = client.get("/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/login", data={"department": department, "password": password, "csrf": csrf}, follow_redirects=True
    )


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def read_audit(ws_dir: Path) -> list[dict]:
    path = ws_dir / "state" / "portal_audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def landed(ws_dir: Path, feed: str) -> list[Path]:
    return sorted(
        p
        for p in (ws_dir / "landing" / feed).iterdir()
        if p.is_file() and not p.name.startswith((".", "_")) and re.match(r"^\d{8}T", p.name)
    )


# ----------------------------------------------------------------------------------------------------------
# fixtures
# ----------------------------------------------------------------------------------------------------------
@pytest.fixture
def portal_ws(workspace_copy: Path, monkeypatch) -> Path:
    monkeypatch.setenv("GRIDHUB_PORTAL_TEST_SECRET", "s" * 40)
    return add_portal_section(workspace_copy)


@pytest.fixture
def client(portal_ws: Path):
    from fastapi.testclient import TestClient

    from gridhub.portal import create_app

    with TestClient(create_app(portal_ws)) as c:
        yield c


@pytest.fixture
def gongan(client):
    r = sign_in(client, "公安", PASSWORDS["公安"])
    assert r.status_code == 200 and "上传数据文件" in r.text
    return client


def upload(client, feed: str, name: str, data: bytes, csrf: str | None = None):
    if csrf is None:
        csrf = csrf_of(client.get("/").text)
    return client.post(
        "/upload",
        data={"csrf": csrf, "feed": feed},
        files={"file": (name, io.BytesIO(data), "application/octet-stream")},
    )


# ----------------------------------------------------------------------------------------------------------
# passwords and config
# ----------------------------------------------------------------------------------------------------------
def test_password_hash_roundtrip_and_formats():
    from gridhub.portal.auth import PasswordHashError, hash_password, verify_password

    h = hash_password("密码Ｐａｓｓ-1")
    assert h.startswith("scrypt$") and "密码" not in h
    assert verify_password("密码Ｐａｓｓ-1", h)
    assert not verify_password("密码Pass-1", h)  # full-width letters are different characters
    assert hash_password("x" * 8) != hash_password("x" * 8)  # salted
    salt = b"0123456789abcdef"
    dk = hashlib.pbkdf2_hmac("sha256", b"pw-123456", salt, 1000)
    import base64

    b = lambda x: base64.urlsafe_b64encode(x).decode().rstrip("=")  # noqa: E731
    assert verify_password("pw-123456", f"pbkdf2_sha256$1000${b(salt)}${b(dk)}")
    with pytest.raises(PasswordHashError):
        verify_password("x", "md5$abc")


def without_portal_section(workspace: Path) -> str:
    """The workspace's gridhub.yaml with the sample's demo portal section taken out (and written back)."""
    import yaml

    cfg_path = workspace / "gridhub.yaml"
    raw = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    raw.pop("portal", None)
    text = yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)
    cfg_path.write_text(text, encoding="utf-8")
    return text


def test_portal_config_validation(workspace_copy: Path):
    cfg_path = workspace_copy / "gridhub.yaml"
    base = without_portal_section(workspace_copy)
    cfg_path.write_text(
        base + "\nportal:\n  departments:\n    公安: {password_hash: 'plain-password'}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="portal-passwd"):
        load_config(cfg_path)
    h = portal_hashes()["公安"]
    cfg_path.write_text(
        base + f"\nportal:\n  departments:\n    公安: {{password_hash: '{h}', feeds: [nope_feed]}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="nope_feed"):
        load_config(cfg_path)
    cfg_path.write_text(base, encoding="utf-8")
    assert load_config(cfg_path).portal is None
    cfg = load_config(add_portal_section(workspace_copy))
    assert [f.name for f in cfg.portal_feeds("公安")] == [GONGAN]
    assert [f.name for f in cfg.portal_feeds("民政")] == [MINZHENG]
    assert cfg.portal_feeds("住建") == []  # no sign-in, no feeds


def test_create_app_refuses_workspace_without_portal(workspace_copy: Path):
    from gridhub.portal import PortalConfigError, create_app

    without_portal_section(workspace_copy)
    with pytest.raises(PortalConfigError, match="portal"):
        create_app(workspace_copy)


# ----------------------------------------------------------------------------------------------------------
# sign-in, sessions, CSRF
# ----------------------------------------------------------------------------------------------------------
def test_wrong_password_and_unknown_department_get_the_same_refusal(client, portal_ws):
    r1 = sign_in(client, "公安", "wrong-password")
    r2 = sign_in(client, "不存在的部门", "wrong-password")
    assert r1.status_code == r2.status_code == 401
    for r in (r1, r2):
        assert "部门或密码不正确" in r.text and "上传数据文件" not in r.text
    events = [e for e in read_audit(portal_ws) if e["event"] == "sign_in"]
    assert [(e["department"], e["ok"]) for e in events] == [("公安", False), ("不存在的部门", False)]
    assert all("password" not in json.dumps(e) for e in events)


def test_sign_in_needs_the_forms_csrf_token(client):
    client.get("/")
    r = client.post("/login", data={"department": "公安", "password": PASSWORDS["公安"], "csrf": "forged"})
    assert r.status_code == 400 and "上传数据文件" not in r.text


def test_session_cookie_is_httponly_strict_and_tamper_proof(client):
    from gridhub.portal import COOKIE

    page = client.get("/")
    csrf = csrf_of(page.text)
    r = client.post(
        "/login",
        data={"department": "公安", "password": PASSWORDS["公安"], "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    value = client.cookies.get(COOKIE)
    client.cookies.set(COOKIE, value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert "部门登录" in client.get("/").text  # a forged cookie is no session


def test_throttle_after_repeated_failures(client):
    for _ in range(10):
        assert sign_in(client, "公安", "nope-nope").status_code == 401
    r = sign_in(client, "公安", PASSWORDS["公安"])
    assert r.status_code == 429 and "过多" in r.text


def test_each_department_sees_only_its_own_feeds(client):
    home = sign_in(client, "公安", PASSWORDS["公安"]).text
    assert GONGAN in home and MINZHENG not in home and "renshe_insured" not in home
    client.cookies.clear()
    home = sign_in(client, "民政", PASSWORDS["民政"]).text
    assert MINZHENG in home and GONGAN not in home


def test_logout_ends_the_session(gongan):
    r = gongan.post("/logout", data={"csrf": csrf_of(gongan.get("/").text)}, follow_redirects=True)
    assert "部门登录" in r.text


# ----------------------------------------------------------------------------------------------------------
# uploads
# ----------------------------------------------------------------------------------------------------------
def test_messy_gb18030_upload_reports_lines_and_lands(gongan, portal_ws, sample_workspace):
    data, bad = messy_gb18030_csv(sample_workspace)
    before = landed(portal_ws, GONGAN)
    r = upload(gongan, GONGAN, "实有人口_六月（修正）.csv", data)
    assert r.status_code == 200, r.text
    html = r.text
    assert "文件已接收" in html
    # the invalid birth date is an optional value: the record is accepted, the value nulled and listed
    assert re.search(r'id="rows-read">\s*7<', html) and re.search(r'id="rows-accepted">\s*5<', html)
    assert re.search(r'id="rows-quarantined">\s*2<', html)
    assert 'id="field-issues"' in html
    for line, code in bad.items():
        from warehouse.reasons import describe

        row = re.search(
            rf"<tr><td>{re.escape(describe(code))} / [^<]*</td><td class=\"num\">1</td><td>([^<]*)</td>", html
        )
        assert row and row.group(1).strip() == str(line), (code, line)
    new = [p for p in landed(portal_ws, GONGAN) if p not in before]
    assert len(new) == 1 and new[0].suffix == ".csv" and new[0].read_bytes() == data
    assert "实有人口" not in new[0].name  # generated name, never the client's
    assert (portal_ws / "landing" / "_ready").is_dir() and any((portal_ws / "landing" / "_ready").iterdir())
    rec = [e for e in read_audit(portal_ws) if e["event"] == "upload"][-1]
    assert rec["department"] == "公安" and rec["feed"] == GONGAN
    assert rec["sha256"] == hashlib.sha256(data).hexdigest() and rec["size"] == len(data)
    assert rec["result"] == "accepted_with_quarantine" and rec["rows_quarantined"] == 2
    assert rec["field_issues"] == {"invalid_date": 1}
    assert rec["original_name"] == "实有人口_六月（修正）.csv" and rec["stored_as"] == new[0].name
    assert rec["client_ip"] and rec["at"].endswith("+00:00")
    assert not any((portal_ws / "state" / "portal_tmp").iterdir())  # temp file cleaned up


def test_cannot_upload_to_another_departments_feed(gongan, portal_ws, sample_workspace):
    data, _ = messy_gb18030_csv(sample_workspace)
    for feed in (MINZHENG, "no_such_feed"):
        r = upload(gongan, feed, "x.csv", data)
        assert r.status_code == 403 and "无权" in r.text
    assert landed(portal_ws, MINZHENG) == []
    recs = [e for e in read_audit(portal_ws) if e["event"] == "upload"]
    assert [e["reason"] for e in recs] == ["feed_not_allowed", "feed_not_allowed"]


def test_upload_needs_sign_in_and_csrf(client, portal_ws, sample_workspace):
    data, _ = messy_gb18030_csv(sample_workspace)
    client.get("/")
    r = upload(client, GONGAN, "x.csv", data, csrf="whatever")
    assert r.status_code == 401 and "请先登录" in r.text
    sign_in(client, "公安", PASSWORDS["公安"])
    r = upload(client, GONGAN, "x.csv", data, csrf="forged-token")
    assert r.status_code == 403 and "页面已过期" in r.text
    assert landed(portal_ws, GONGAN) == []


def test_oversize_file_is_refused_while_streaming(gongan, portal_ws):
    data = ("\n".join([HEADER] + ["x,张三,男,1,2,3,4,5,6,户籍"] * 40000)).encode("gb18030")
    assert len(data) > CAP
    r = upload(gongan, GONGAN, "big.csv", data)
    assert r.status_code == 413 and "文件过大" in r.text and "256 KB" in r.text
    assert landed(portal_ws, GONGAN) == []
    assert not any((portal_ws / "state" / "portal_tmp").iterdir())
    rec = read_audit(portal_ws)[-1]
    assert rec["result"] == "refused" and rec["reason"] == "too_large" and rec["size"] > CAP


def _zip(names: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n in names:
            z.writestr(n, "<x/>")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "words", "code"),
    [
        (PNG, "PNG图片", "binary_content"),
        (b"%PDF-1.7\n" + bytes(300), "PDF", "binary_content"),
        (b"\xff\xd8\xff\xe0" + bytes(300), "JPEG", "binary_content"),
        (_zip(["a.txt", "b/c.txt"]), "ZIP压缩包", "wrong_format"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), ".xls", "wrong_format"),
        (bytes(range(256)) * 20, "二进制", "binary_content"),
    ],
)
def test_types_are_checked_by_content_not_name(gongan, portal_ws, data, words, code):
    r = upload(gongan, GONGAN, "名单.csv", data)
    assert r.status_code == 415, r.text
    assert "文件类型不支持" in r.text and words in r.text and "Unsupported file type" in r.text
    assert landed(portal_ws, GONGAN) == []
    assert read_audit(portal_ws)[-1]["reason"] == code  # the reason code `gridhub ingest` gives it too


@pytest.mark.parametrize(
    "name",
    [
        "../../../../etc/passwd.csv",
        "..\\..\\windows\\x.csv",
        "/tmp/evil.csv",
        "..",
        "名单\u202egnp.csv",
        ".hidden.csv",
    ],
)
def test_path_traversal_names_land_safely(gongan, portal_ws, sample_workspace, name, tmp_path):
    data, _ = messy_gb18030_csv(sample_workspace)
    data = data.replace(b"\r\n", b"\n") + name.encode("utf-8", "replace")[:0]  # same content is fine
    r = upload(gongan, GONGAN, name, data)
    assert r.status_code == 200, r.text
    files = landed(portal_ws, GONGAN)
    assert len(files) == 1 and files[0].parent == portal_ws / "landing" / GONGAN
    assert not (Path("/etc/passwd.csv").exists() or Path("/tmp/evil.csv").exists())
    rec = read_audit(portal_ws)[-1]
    assert "/" not in rec["original_name"] and "\\" not in rec["original_name"]
    assert rec["stored_as"] == files[0].name


def test_whole_file_problem_is_reported_in_words_and_not_landed(gongan, portal_ws):
    data = "编号,名字\n1,张三\n".encode("gb18030")
    r = upload(gongan, GONGAN, "名单.csv", data)
    assert r.status_code == 422 and "文件未接收" in r.text and "缺少必需的列" in r.text
    assert landed(portal_ws, GONGAN) == []
    assert read_audit(portal_ws)[-1]["result"] == "rejected"


def test_xlsx_to_a_csv_feed_is_refused_with_reason(gongan, portal_ws):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(HEADER.split(","))
    buf = io.BytesIO()
    wb.save(buf)
    r = upload(gongan, GONGAN, "名单.xlsx", buf.getvalue())
    assert r.status_code == 422 and "文件未接收" in r.text
    assert landed(portal_ws, GONGAN) == []


def test_recent_uploads_show_on_home_page_for_own_department_only(
    gongan, client, portal_ws, sample_workspace
):
    data, _ = messy_gb18030_csv(sample_workspace)
    upload(gongan, GONGAN, "六月.csv", data)
    assert "六月.csv" in gongan.get("/").text
    client.cookies.clear()
    assert "六月.csv" not in sign_in(client, "民政", PASSWORDS["民政"]).text


# ----------------------------------------------------------------------------------------------------------
# parts
# ----------------------------------------------------------------------------------------------------------
def test_sniff_upload_accepts_text_in_chinese_encodings(tmp_path):
    from gridhub.portal import UploadRejected, sniff_upload

    text = "记录编号,姓名\n1,陳曉華\n2,张三　\n"
    for enc in ("utf-8", "utf-8-sig", "gb18030", "utf-16"):
        p = tmp_path / f"{enc}.bin"
        p.write_bytes(text.encode(enc))
        assert sniff_upload(p) == "csv", enc
    p = tmp_path / "x.bin"
    p.write_bytes(_zip(["[Content_Types].xml", "xl/workbook.xml"]))
    assert sniff_upload(p) == "xlsx"
    p.write_bytes(b"")
    with pytest.raises(UploadRejected, match="文件为空"):
        sniff_upload(p)


def test_audit_lines_never_interleave(portal_ws):
    from gridhub.portal import append_audit
    from gridhub.workspace import Workspace

    ws = Workspace(portal_ws)

    def write(i: int) -> None:
        for j in range(40):
            append_audit(ws, "upload", department="公安", n=i * 100 + j, original_name="名" * 300)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recs = read_audit(portal_ws)
    assert sorted(r["n"] for r in recs) == sorted(i * 100 + j for i in range(4) for j in range(40))


def test_preview_matches_ingest_and_writes_nothing(workspace_copy, sample_workspace, tmp_path):
    from connectors import ingest_feed, preview_file
    from gridhub.workspace import Workspace

    data, bad = messy_gb18030_csv(sample_workspace)
    f = tmp_path / "upload.csv"
    f.write_bytes(data)
    ws = Workspace(workspace_copy)
    pv = preview_file(ws, GONGAN, f, original_name="六月.csv")
    # the invalid birth date (optional) is a field issue on an accepted row; the rest are quarantined
    issues = {line: code for line, code in bad.items() if code == "invalid_date"}
    quarantined = {line: code for line, code in bad.items() if line not in issues}
    assert pv.problem is None and pv.lines_by_reason() == {
        code: [line] for line, code in sorted(quarantined.items(), key=lambda x: x[1])
    }
    assert pv.issue_lines_by_reason() == {code: [line] for line, code in issues.items()}
    assert not (workspace_copy / "raw").exists() and not (workspace_copy / "staging").exists()
    res = ingest_feed(ws, GONGAN, files=[f]).files[0]
    assert (res.rows_read, res.rows_staged, res.rows_quarantined, res.reasons, res.field_issues) == (
        pv.result.rows_read,
        pv.result.rows_staged,
        pv.result.rows_quarantined,
        pv.result.reasons,
        pv.result.field_issues,
    )
    f.write_bytes(PNG)
    bad_pv = preview_file(ws, GONGAN, f)
    assert bad_pv.problem is not None and bad_pv.problem.code == "binary_content"


def test_airflow_plugin_mounts_the_portal_under_its_prefix(portal_ws, monkeypatch):
    import importlib.util

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from gridhub.portal import COOKIE

    monkeypatch.setenv("GRIDHUB_WORKSPACE", str(portal_ws))
    path = Path(__file__).resolve().parents[1] / "plugins" / "gridhub_portal.py"
    spec = importlib.util.spec_from_file_location("gridhub_portal_plugin_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    plugin = mod.GridhubPortalPlugin
    assert [a["url_prefix"] for a in plugin.fastapi_apps] == ["/gridhub-portal"]
    assert plugin.external_views[0]["href"] == "/gridhub-portal/"
    root = FastAPI()
    root.mount("/gridhub-portal", plugin.fastapi_apps[0]["app"])
    with TestClient(root) as c:
        page = c.get("/gridhub-portal/")
        assert 'action="/gridhub-portal/login"' in page.text
        assert (
            f"{COOKIE}=" in page.headers["set-cookie"]
            and "Path=/gridhub-portal" in page.headers["set-cookie"]
        )
        r = c.post(
            "/gridhub-portal/login",
            follow_redirects=True,
            data={"department": "民政", "password": PASSWORDS["民政"], "csrf": csrf_of(page.text)},
        )
        assert MINZHENG in r.text and 'action="/gridhub-portal/upload"' in r.text
    monkeypatch.delenv("GRIDHUB_WORKSPACE")
    spec.loader.exec_module(mod)
    assert mod.GridhubPortalPlugin.fastapi_apps == [] and mod.GridhubPortalPlugin.external_views == []
