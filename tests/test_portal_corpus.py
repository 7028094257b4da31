"""The malformed-file corpus (tests/ingest_corpus.py) handed in through the portal over HTTP: every case gets
the outcome ``gridhub ingest`` gives it (tests/test_ingest_malformed.py) — the same whole-file reason code, or
the same rows staged, quarantined reasons and field issues — and the report says it in words, Chinese first.
Nothing is landed unless the file is accepted; no case gives a server error."""

from __future__ import annotations

import html
import io
import re

import pytest
import yaml
from ingest_corpus import HOUSES_FEED, corpus
from ingest_helpers import feed, make_workspace

from gridhub.portal import hash_password

CASES = corpus()
PASSWORD = "gongan-Pass-2026"
_HASH: list[str] = []


@pytest.fixture
def portal(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from gridhub.portal import create_app

    monkeypatch.setenv("GRIDHUB_PORTAL_TEST_SECRET", "c" * 40)
    ws = make_workspace(tmp_path / "ws", feed(source={"glob": "*"}), HOUSES_FEED)
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    cfg = yaml.safe_load(ws.config_file.read_text(encoding="utf-8"))
    cfg["portal"] = {
        "departments": {"公安": {"password_hash": _HASH[0]}},
        "session_secret_env": "GRIDHUB_PORTAL_TEST_SECRET",
    }
    ws.config_file.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with TestClient(create_app(ws.root), raise_server_exceptions=False) as c:
        page = c.get("/")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = c.post("/login", data={"department": "公安", "password": PASSWORD, "csrf": csrf})
        assert "上传数据文件" in r.text
        yield ws, c


def _audit(ws) -> dict:
    import json

    lines = (ws.state / "portal_audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if '"event": "upload"' in x][-1]


def _landed(ws) -> list:
    return sorted(p for p in ws.landing_dir("police").iterdir() if p.is_file() and p.name[:1].isdigit())


@pytest.mark.parametrize("case", CASES, ids=[c.name.encode("unicode_escape").decode()[:40] for c in CASES])
def test_corpus_case_through_the_portal(portal, case):
    ws, c = portal
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/").text).group(1)
    r = c.post(
        "/upload",
        data={"csrf": csrf, "feed": "police"},
        files={"file": (case.name, io.BytesIO(case.data), "application/octet-stream")},
    )
    assert r.status_code < 500, r.text
    page = html.unescape(r.text)
    rec = _audit(ws)
    assert "Traceback" not in page
    assert not set(rec["original_name"]) & {"/", "\\", "\n", "\r", "\u202e", "\x00"}

    if case.expects_error and case.portal_staged is None:
        assert r.status_code in (400, 415, 422), page
        assert rec["result"] in ("refused", "rejected") and rec["reason"] in case.error, rec
        assert _landed(ws) == []
        at = 0
        for words in case.message:  # Chinese first, then English, as `gridhub ingest` says it
            assert words in page[at:], (words, page)
            at = page.index(words, at)
        return

    assert r.status_code == 200, page
    assert rec["result"] in ("accepted", "accepted_with_quarantine"), rec
    assert rec["rows_read"] == rec["rows_accepted"] + rec["rows_quarantined"]
    staged = case.portal_staged if case.portal_staged is not None else case.staged
    if staged is not None:
        assert rec["rows_accepted"] == staged, rec
    assert set(rec["reasons"]) >= case.reasons, rec
    if not case.reasons:
        assert rec["rows_quarantined"] == 0, rec
    assert set(rec["field_issues"]) == case.issues, rec
    assert case.warning in page and case.portal_warning in page
    [landed] = _landed(ws)
    assert landed.read_bytes() == case.data
