"""Portal sessions that end and sign-in throttles that hold (issue 14, problems 1 and 2).

Sessions live on the server: 退出 and a password change end them, an idle timeout and the absolute lifetime
too, and a cookie copied before any of these is worth nothing after. The throttle counts per (department,
client) and per client; the client is the peer unless a configured trusted proxy forwards it, so a fresh
``X-Forwarded-For`` header per attempt starts nothing afresh — checked on a live ``gridhub portal`` too.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from test_portal import (
    GONGAN,
    PASSWORDS,
    add_portal_section,
    csrf_of,
    landed,
    messy_gb18030_csv,
    read_audit,
    sign_in,
    upload,
)

from gridhub.portal import COOKIE, create_app, hash_password


def _set_portal(ws_dir: Path, **keys) -> None:
    """Change keys of the ``portal:`` section of the workspace's gridhub.yaml (and its mtime, surely)."""
    path = ws_dir / "gridhub.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["portal"].update(keys)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


@pytest.fixture
def portal_ws(workspace_copy: Path, monkeypatch) -> Path:
    monkeypatch.setenv("GRIDHUB_PORTAL_TEST_SECRET", "s" * 40)
    return add_portal_section(workspace_copy)


def _client(ws: Path, peer: str = "testclient"):
    from fastapi.testclient import TestClient

    return TestClient(create_app(ws), client=(peer, 50000))


def _copied_cookie_uploads(ws: Path, sample_workspace: Path, cookie: str) -> int:
    """Upload with a cookie copied earlier (a second browser, an attacker): the HTTP status."""
    with _client(ws) as other:
        other.cookies.set(COOKIE, cookie)
        data, _ = messy_gb18030_csv(sample_workspace)
        page = other.get("/")
        csrf = csrf_of(page.text)
        return upload(other, GONGAN, "名单.csv", data, csrf=csrf).status_code


# ----------------------------------------------------------------------------------------------------------
# sessions
# ----------------------------------------------------------------------------------------------------------
def test_a_cookie_copied_before_sign_out_is_refused_after(portal_ws, sample_workspace):
    with _client(portal_ws) as c:
        assert sign_in(c, "公安", PASSWORDS["公安"]).status_code == 200
        copied = c.cookies.get(COOKIE)
        csrf = csrf_of(c.get("/").text)
        assert _copied_cookie_uploads(portal_ws, sample_workspace, copied) == 200  # the copy works while live
        c.post("/logout", data={"csrf": csrf})
    assert _copied_cookie_uploads(portal_ws, sample_workspace, copied) == 401
    with _client(portal_ws) as other:
        other.cookies.set(COOKIE, copied)
        assert "部门登录" in other.get("/").text
    assert [e["event"] for e in read_audit(portal_ws)].count("sign_out") == 1


def test_the_session_store_holds_no_usable_cookie(portal_ws):
    with _client(portal_ws) as c:
        sign_in(c, "公安", PASSWORDS["公安"])
        cookie = c.cookies.get(COOKIE)
    store = (portal_ws / "state" / "portal_sessions.sqlite").read_bytes()
    from itsdangerous import URLSafeTimedSerializer

    sid = URLSafeTimedSerializer("s" * 40, salt="gridhub-portal-session").loads(cookie)["sid"]
    assert sid.encode() not in store


def test_a_password_change_ends_the_departments_sessions(portal_ws, sample_workspace):
    with _client(portal_ws) as c, _client(portal_ws) as mz:
        sign_in(c, "公安", PASSWORDS["公安"])
        sign_in(mz, "民政", PASSWORDS["民政"])
        copied = c.cookies.get(COOKIE)
        raw = yaml.safe_load((portal_ws / "gridhub.yaml").read_text(encoding="utf-8"))
        depts = raw["portal"]["departments"]
        depts["公安"]["password_hash"] = hash_password("a-new-password-2026")
        _set_portal(portal_ws, departments=depts)
        assert "部门登录" in c.get("/").text  # signed out by the change
        assert _copied_cookie_uploads(portal_ws, sample_workspace, copied) == 401
        assert "上传数据文件" in mz.get("/").text  # another department's sign-in is untouched
        assert sign_in(c, "公安", PASSWORDS["公安"]).status_code == 401
        assert "上传数据文件" in sign_in(c, "公安", "a-new-password-2026").text


def test_an_idle_session_ends(portal_ws):
    _set_portal(portal_ws, session_idle_minutes=0.02)  # 1.2 s
    with _client(portal_ws) as c:
        sign_in(c, "公安", PASSWORDS["公安"])
        for _ in range(3):  # kept alive by use ...
            time.sleep(0.5)
            assert "上传数据文件" in c.get("/").text
        time.sleep(1.6)  # ... and gone after a pause longer than the idle timeout
        assert "部门登录" in c.get("/").text


def test_an_active_session_still_ends_at_its_absolute_lifetime(portal_ws):
    _set_portal(portal_ws, session_hours=2.0 / 3600)  # 2 s, however busy
    with _client(portal_ws) as c:
        sign_in(c, "公安", PASSWORDS["公安"])
        assert "上传数据文件" in c.get("/").text
        deadline = time.time() + 6
        while "上传数据文件" in c.get("/").text:
            assert time.time() < deadline, "the session outlived its absolute lifetime"
            time.sleep(0.3)


# ----------------------------------------------------------------------------------------------------------
# throttling
# ----------------------------------------------------------------------------------------------------------
def test_failures_against_one_department_do_not_lock_out_another_behind_the_same_address(portal_ws):
    with _client(portal_ws, "10.1.2.3") as c:
        for _ in range(10):
            assert sign_in(c, "公安", "nope-nope").status_code == 401
        assert sign_in(c, "公安", PASSWORDS["公安"]).status_code == 429
        c.cookies.clear()
        assert "上传数据文件" in sign_in(c, "民政", PASSWORDS["民政"]).text
    with _client(portal_ws, "10.9.9.9") as elsewhere:  # the pair is paused, not the department everywhere
        assert "上传数据文件" in sign_in(elsewhere, "公安", PASSWORDS["公安"]).text


def test_one_address_guessing_many_departments_is_paused(portal_ws):
    _set_portal(portal_ws, sign_in_failures_per_client=12)
    with _client(portal_ws, "10.1.2.4") as c:
        for i in range(12):
            assert sign_in(c, f"部门{i}", "nope-nope").status_code == 401
        assert sign_in(c, "民政", PASSWORDS["民政"]).status_code == 429


def test_forwarded_for_is_believed_only_from_trusted_proxies(portal_ws):
    with _client(portal_ws, "127.0.0.1") as c:  # no trusted proxies: the header is ignored
        for i in range(10):
            r = sign_in_from(c, "公安", "nope-nope", f"203.0.113.{i}")
            assert r.status_code == 401
        assert sign_in_from(c, "公安", PASSWORDS["公安"], "198.51.100.7").status_code == 429
    assert {e["client_ip"] for e in read_audit(portal_ws)} == {"127.0.0.1"}

    _set_portal(portal_ws, trusted_proxies=["10.0.0.0/24"])
    with _client(portal_ws, "10.0.0.5") as proxied:
        sign_in_from(proxied, "公安", "nope-nope", "6.6.6.6, 198.51.100.7")  # the client wrote "6.6.6.6"
    assert read_audit(portal_ws)[-1]["client_ip"] == "198.51.100.7"


def sign_in_from(client, department: str, password: str, forwarded_for: str):
    page = client.get("/", headers={"X-Forwarded-For": forwarded_for})
    return client.post(
        "/login",
        data={"department": department, "password": password, "csrf": csrf_of(page.text)},
        headers={"X-Forwarded-For": forwarded_for},
        follow_redirects=True,
    )


@pytest.mark.parametrize(
    ("peer", "header", "trusted", "expected"),
    [
        ("127.0.0.1", "1.2.3.4", [], "127.0.0.1"),
        ("10.0.0.5", "1.2.3.4", ["10.0.0.5"], "1.2.3.4"),
        ("10.0.0.5", "9.9.9.9, 1.2.3.4, 10.0.0.7", ["10.0.0.0/24"], "1.2.3.4"),
        ("192.0.2.1", "1.2.3.4", ["10.0.0.0/8"], "192.0.2.1"),
        ("10.0.0.5", "not-an-address", ["10.0.0.5"], "10.0.0.5"),
        ("::1", "2001:db8::1", ["::1"], "2001:db8::1"),
    ],
)
def test_client_address(peer, header, trusted, expected):
    from gridhub.portal.auth import client_address

    assert client_address(peer, header, trusted) == expected


def test_throttle_unit_counts_pairs_and_clients():
    from gridhub.portal.auth import SignInThrottle

    t = SignInThrottle(per_account=2, per_client=3, window=60)
    t.failed("公安", "a")
    t.failed("公安", "a")
    assert t.blocked("公安", "a") and not t.blocked("民政", "a") and not t.blocked("公安", "b")
    t.succeeded("民政", "a")
    t.failed("民政", "a")
    assert t.blocked("住建", "a")  # three failures from "a" in all


def test_trusted_proxies_are_validated(portal_ws):
    from gridhub.config import ConfigError, load_config

    _set_portal(portal_ws, trusted_proxies=["proxy.example"])
    with pytest.raises(ConfigError, match="not an IP address or network"):
        load_config(portal_ws / "gridhub.yaml")


# ----------------------------------------------------------------------------------------------------------
# a live `gridhub portal` (uvicorn): X-Forwarded-For from 127.0.0.1 is not believed
# ----------------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_live_portal_ignores_forwarded_for_from_loopback(portal_ws):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "gridhub.cli", "-w", str(portal_ws), "portal", "--host", "127.0.0.1"]
    proc = subprocess.Popen([*cmd, "--port", str(port)], env=env, stdout=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.time() < deadline and proc.poll() is None, "the portal did not start"
                time.sleep(0.3)
        with httpx.Client(base_url=base) as c:
            for i in range(10):
                assert sign_in_from(c, "公安", "nope-nope", f"203.0.113.{i}").status_code == 401
            assert sign_in_from(c, "公安", PASSWORDS["公安"], "198.51.100.99").status_code == 429
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert {e["client_ip"] for e in read_audit(portal_ws) if e["event"] == "sign_in"} == {"127.0.0.1"}
    assert landed(portal_ws, GONGAN) == []
