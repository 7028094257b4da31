"""The review queue in a real browser (issue 17, done-when 1): headless Chromium at a desktop and a phone
viewport. A reviewer scoped to one grid signs in, sees exactly that grid's cases, decides a pair and an
address; after the next run (in this process) the pair is one entity and the address binds to the chosen
building; a reviewer of another grid sees none of it."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from review_cases import (
    BUILDING,
    GRID,
    OTHER_GRID,
    REVIEWER_PASSWORDS,
    UNBOUND_TEXT,
    add_reviewers,
    binding_of,
    entity_of,
    ingest_and_run,
    inject_cases,
    two_residents,
)
from test_portal import PASSWORDS, add_portal_section, csrf_of, read_audit, sign_in
from test_portal_browser import ARGS, CHROMIUM, _need_browser, serve_portal

from gridhub.review_queue import build_queue
from gridhub.review_store import record_pair_decision
from gridhub.workspace import Workspace

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {
    "viewport": {"width": 375, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


def _sign_in(page, url: str, name: str) -> None:
    page.goto(url + "/")
    page.fill("#department", name)
    page.fill("#password", REVIEWER_PASSWORDS[name])
    page.click("#sign-in")
    page.wait_for_selector("#scope")


def _listed(page) -> dict[str, str]:
    """The open cases on the queue page: case id → its title."""
    return {
        li.get_attribute("data-case"): li.inner_text()
        for li in page.query_selector_all("#open-cases li.case")
    }


def _fits(page) -> bool:
    """Nothing on the page is wider than the viewport (no sideways scrolling on a phone)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _in_grid(ws: Path, record_keys: list[str]) -> bool:
    from gridhub.workspace import Workspace
    from warehouse.read import current_run_id

    w = Workspace(ws)
    run = current_run_id(w.warehouse)
    assert run is not None
    bound = (
        w.work_dir(run) / "bound"
    )  # a case may pair persons, organisations or houses: every type's bindings
    m = pd.concat(
        pd.read_parquet(bound / f"{t}.parquet", columns=["record_key", "grid_code"])
        for t in ("person", "organisation", "house")
    )
    grids = m.drop_duplicates("record_key").set_index("record_key")["grid_code"].reindex(record_keys)
    return bool(grids.str.startswith(GRID).fillna(False).any())


@pytest.mark.slow
def test_a_grid_reviewer_decides_in_a_browser_and_the_next_run_follows(workspace_copy, monkeypatch, tmp_path):
    _need_browser()
    from playwright.sync_api import sync_playwright

    ws = workspace_copy
    monkeypatch.setenv("GRIDHUB_PORTAL_TEST_SECRET", "v" * 40)
    add_portal_section(ws)
    add_reviewers(ws)
    keys = inject_cases(ws)
    first = ingest_and_run(ws)["run_id"]
    assert entity_of(ws, "person", keys["pair_l"]) != entity_of(ws, "person", keys["pair_r"])
    assert set(binding_of(ws, UNBOUND_TEXT)["status"]) == {"ambiguous"}

    with serve_portal(ws) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            # desktop: the 东湖 reviewer sees the grid's cases only, oldest first, and decides the pair
            page = browser.new_context(locale="zh-CN", **DESKTOP).new_page()
            _sign_in(page, url, "东湖网格员")
            listed = _listed(page)
            pair_id = next(i for i, t in listed.items() if keys["pair_l"] in t and keys["pair_r"] in t)
            address_id = next(i for i, t in listed.items() if UNBOUND_TEXT in t)
            for cid, title in listed.items():  # every case listed lies in the reviewer's grid
                found = re.findall(r"[a-z_]+:[A-Za-z0-9#]+", title)
                assert cid == address_id or _in_grid(ws, found), title
            since = [s.split("自 / since ")[1][:10] for s in listed.values()]
            assert since == sorted(since)
            page.click(f"li[data-case='{pair_id}'] a")
            rows = page.query_selector_all("#comparisons tr.comparison")
            shown = {r.get_attribute("data-comparison"): r for r in rows}
            assert {"name", "id_number", "phone", "address"} <= set(shown)
            assert shown["name"].query_selector(".level").inner_text() == "exact"
            assert re.fullmatch(r"[+-]\d+\.\d\d", shown["phone"].query_selector(".w").inner_text())
            table = page.inner_text(
                "#comparisons"
            )  # grid staff: identifiers masked as `gridhub explain` does
            assert keys["id_number"] not in table and keys["phone"] not in table
            assert re.search(r"\d{3}\*+[\dX]{4}", shown["id_number"].query_selector(".left").inner_text())
            page.click("#answer-same")
            page.wait_for_selector("#scope")
            assert pair_id not in _listed(page)
            page.screenshot(path=str(tmp_path / "queue-desktop.png"), full_page=True)

            # phone: the same reviewer picks the standard address for the unbound text
            phone = browser.new_context(locale="zh-CN", **PHONE).new_page()
            _sign_in(phone, url, "东湖网格员")
            assert _fits(phone) and address_id in _listed(phone)
            phone.click(f"li[data-case='{address_id}'] a")
            assert phone.inner_text("#address-text") == UNBOUND_TEXT
            assert _fits(phone)
            phone.screenshot(path=str(tmp_path / "address-phone.png"), full_page=True)
            phone.click(f"button.candidate[data-building='{BUILDING}']")
            phone.wait_for_selector("#scope")
            assert address_id not in _listed(phone)

            # the 滨江 reviewer sees none of it, not even by the case's address
            other = browser.new_context(locale="zh-CN", **PHONE).new_page()
            _sign_in(other, url, "滨江网格员")
            assert other.query_selector("#empty") is not None and _listed(other) == {}
            for cid in (pair_id, address_id):
                response = other.goto(f"{url}/review/case/{cid}")
                assert response is not None and response.status == 403
                assert "不在您的范围内" in other.inner_text("#status")
        finally:
            browser.close()

    # every answer is audited: who, when, what they saw
    decisions = [e for e in read_audit(ws) if e["event"] == "review_decision"]
    assert [(e["reviewer"], e["case_id"], e["answer"]) for e in decisions] == [
        ("东湖网格员", pair_id, "same"),
        ("东湖网格员", address_id, f"building:{BUILDING}"),
    ]
    assert decisions[0]["at"] and decisions[0]["shown"]["detail"]["rows"]
    assert decisions[1]["case"]["candidates"][0]["building_code"] == BUILDING
    assert [e["reviewer"] for e in read_audit(ws) if e["event"] == "review_refused"] == ["滨江网格员"] * 2

    # a decision against hard evidence (two different valid ID numbers), as a data steward might write it
    a, b = two_residents(ws, keys["pair_l"])
    record_pair_decision(
        Workspace(ws), a, b, "same", entity_type="person", reviewer="数据管理员", run_id=first
    )

    # the next run follows both decisions
    second = ingest_and_run(ws)["run_id"]
    assert second != first
    assert entity_of(ws, "person", keys["pair_l"]) == entity_of(ws, "person", keys["pair_r"])
    bound = binding_of(ws, UNBOUND_TEXT)
    assert set(bound["status"]) == {"matched"} and set(bound["building_code"]) == {BUILDING}
    assert set(bound["method"]) == {"reviewed"}
    # the decisions the run applied are kept in its state generation
    generation = ws / "state" / "er" / "generations" / second / "review"
    assert (generation / "review_decisions.csv").is_file() and (generation / "address_aliases.csv").is_file()

    # what did not hold is shown in the queue, not dropped: the run kept a and b apart (two ID numbers) ...
    assert entity_of(ws, "person", a) != entity_of(ws, "person", b)
    queue = build_queue(Workspace(ws), ("grid", GRID))
    assert {c.case_id for c in queue.open}.isdisjoint({pair_id, address_id})
    (conflict,) = queue.conflicts
    assert {conflict.record_key_l, conflict.record_key_r} == {a, b} and "id_number" in conflict.conflict
    # ... and a later answer that contradicts the reviewer's is listed with both answers
    record_pair_decision(
        Workspace(ws), keys["pair_l"], keys["pair_r"], "different", entity_type="person", reviewer="民政复核员",
        run_id=second,
    )  # fmt: skip
    queue = build_queue(Workspace(ws), ("grid", GRID))
    disagree = next(c for c in queue.conflicts if c.case_id == pair_id)
    assert [(h["reviewer"], h["answer"]) for h in disagree.history] == [
        ("东湖网格员", "same"),
        ("民政复核员", "different"),
    ]
    assert build_queue(Workspace(ws), ("grid", OTHER_GRID)).conflicts == []
    with serve_portal(ws) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_context(locale="zh-CN", **PHONE).new_page()
            _sign_in(page, url, "东湖网格员")
            shown = {
                li.get_attribute("data-case") for li in page.query_selector_all("#conflicts li.conflict")
            }
            assert shown == {conflict.case_id, pair_id} and _fits(page)
        finally:
            browser.close()

    # refusals, through the app itself: a department is no reviewer; a stale page or a wrong answer is refused
    from fastapi.testclient import TestClient

    from gridhub.portal import create_app

    with TestClient(create_app(ws)) as c:
        sign_in(c, "民政", PASSWORDS["民政"])
        assert c.get("/review").status_code == 403
        sign_in(c, "东湖网格员", REVIEWER_PASSWORDS["东湖网格员"])
        form = {"csrf": csrf_of(c.get(f"/review/case/{conflict.case_id}").text), "run_id": second}
        assert (
            c.post(
                f"/review/case/{conflict.case_id}", data={**form, "run_id": first, "answer": "same"}
            ).status_code
            == 409
        )
        assert (
            c.post(
                f"/review/case/{conflict.case_id}", data={**form, "answer": f"building:{BUILDING}"}
            ).status_code
            == 400
        )
        assert (
            c.post(
                f"/review/case/{conflict.case_id}", data={**form, "csrf": "x", "answer": "same"}
            ).status_code
            == 400
        )
        assert (
            c.post(
                f"/review/case/{conflict.case_id}",
                data={**form, "answer": "different"},
                follow_redirects=False,
            ).status_code
            == 303
        )
        # a scope code nobody uses is said, not shown as an empty queue
        sign_in(c, "错码网格员", REVIEWER_PASSWORDS["错码网格员"])
        assert 'id="unknown-scope"' in c.get("/review").text
        # 民政's data steward sees the pair (one record is 民政's) with the ID number as it is, audited
        sign_in(c, "民政复核员", REVIEWER_PASSWORDS["民政复核员"])
        page = c.get(f"/review/case/{pair_id}")
        assert page.status_code == 200 and keys["id_number"] in page.text
    assert pd.read_csv(Workspace(ws).review_decisions, dtype=str)["decision"].tolist()[-1] == "non_match"
    reveals = [e for e in read_audit(ws) if e["event"] == "review_reveal"]
    assert [(e["reviewer"], e["case_id"]) for e in reveals] == [("民政复核员", pair_id)]
