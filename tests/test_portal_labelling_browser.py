"""Blind labelling (盲标) in a real browser (issue 17, measured agreement): headless Chromium at a phone viewport.
A labeller (a reviewer with ``blind_labelling: true``) is told to run ``gridhub evaluate`` while the run has no
sample; once it has one, labels pairs one at a time without ever seeing a score, band, stratum, link status or
entity id; the answers land in the sample's labels.csv, and ``gridhub evaluate`` reads that very file."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import yaml
from review_cases import REVIEWER_PASSWORDS, add_reviewers, ingest_and_run
from test_portal import add_portal_section, csrf_of, read_audit, sign_in
from test_portal_browser import ARGS, CHROMIUM, _need_browser, serve_portal
from test_portal_review_browser import PHONE, _fits

from gridhub import cli
from gridhub.evaluate import draw_sample
from gridhub.labelling import load_sample, pair_token
from gridhub.workspace import Workspace

LABELLER = "公安盲标员"
LABELLER_PASSWORD = "gongan-Label-2026"


def _add_labeller(ws_dir) -> None:
    """A 公安-scoped grid-staff account allowed to label (the review tests' accounts are not)."""
    from gridhub.portal import hash_password

    cfg = ws_dir / "gridhub.yaml"
    raw = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    raw["portal"]["reviewers"][LABELLER] = {
        "password_hash": hash_password(LABELLER_PASSWORD),
        "department": "公安",
        "blind_labelling": True,
    }
    cfg.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _progress(page) -> tuple[int, int]:
    el = page.query_selector("#progress")
    return int(el.get_attribute("data-done")), int(el.get_attribute("data-total"))


@pytest.mark.slow
def test_a_labeller_labels_pairs_blind_and_evaluate_reads_the_labels(workspace_copy, monkeypatch, tmp_path):
    _need_browser()
    from playwright.sync_api import sync_playwright

    ws = workspace_copy
    monkeypatch.setenv("GRIDHUB_PORTAL_TEST_SECRET", "v" * 40)
    add_portal_section(ws)
    add_reviewers(ws)
    _add_labeller(ws)
    run_id = ingest_and_run(ws)["run_id"]
    w = Workspace(ws)
    folder = ws / "state" / "evaluation" / run_id

    with serve_portal(ws) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_context(locale="zh-CN", **PHONE).new_page()
            page.goto(url + "/")
            page.fill("#department", LABELLER)
            page.fill("#password", LABELLER_PASSWORD)
            page.click("#sign-in")
            page.click("#to-labelling")
            # no sample for the current run yet: the page says what to run, and names the run
            banner = page.inner_text("#no-sample")
            assert "gridhub evaluate" in banner and run_id in banner

            sample = draw_sample(w, per_stratum=4)
            assert sample.folder == folder
            design = pd.read_parquet(folder / "design.parquet")
            secrets = _what_must_not_show(w, run_id, design)
            page.reload()
            done, total = _progress(page)
            assert done == 0 and 4 <= total <= len(design)
            answered = {}
            for answer in ("same", "different", "not-sure", "different"):
                pair_id = page.get_attribute("#pair-title", "data-pair")
                row = design.set_index("pair_id").loc[pair_id]
                html = page.content()
                text = page.inner_text("main")
                assert not re.search(r"概率|probability|weight|权重|stratum|linked|band", text, re.I)
                score = {f"{row['probability']:.3f}"} if pd.notna(row["probability"]) else set()
                leaked = [s for s in secrets | score | {row["stratum"]} if s in html]
                assert not leaked, leaked
                fields = {r.get_attribute("data-field"): r for r in page.query_selector_all("#pair tr.field")}
                assert {"feed", "record"} <= set(fields)
                if "id_number_given" in fields:  # grid staff: ID numbers masked, as in the review queue
                    for side in (".left", ".right"):
                        value = fields["id_number_given"].query_selector(side).inner_text()
                        assert not re.fullmatch(r"\d{17}[\dX]", value)
                assert _fits(page)
                if answer == "same":
                    page.screenshot(path=str(tmp_path / "label-phone.png"), full_page=True)
                page.click(f"#answer-{answer}")
                page.wait_for_selector("#progress")
                answered[pair_id] = answer
                assert _progress(page) == (len(answered), total)
                assert page.get_attribute("#pair-title", "data-pair") not in answered
        finally:
            browser.close()

    # the answers are in the sample's labels.csv, with who and when, the other pairs still blank
    labels = pd.read_csv(folder / "labels.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert (folder / "labels.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    got = labels.set_index("pair_id")
    words = {"same": "same", "different": "different", "not-sure": "unsure"}
    assert {p: got.at[p, "label"] for p in answered} == {p: words[a] for p, a in answered.items()}
    assert set(got.loc[list(answered), "labelled_by"]) == {LABELLER}
    assert (got.drop(index=list(answered))["label"] == "").all()
    # every answer audited with what was shown (and no score in it)
    audit = [e for e in read_audit(ws) if e["event"] == "blind_label"]
    assert [(e["pair_id"], e["answer"]) for e in audit] == [(p, words[a]) for p, a in answered.items()]
    assert all(e["reviewer"] == LABELLER and e["shown"]["rows"] for e in audit)
    assert "probability" not in json.dumps(audit)

    # gridhub evaluate reads the very file: three labelled (not sure is no label), estimates, the report again
    assert cli.main(["-w", str(ws), "evaluate", str(folder / "labels.csv")]) == 0
    result = json.loads((folder / "agreement.json").read_text(encoding="utf-8"))
    assert result["run_id"] == run_id
    assert sum(e["labelled"] for e in result["entity_types"].values()) == 3
    assert sum(s["labelled"] for s in result["strata"]) == 3
    from gridhub.runreport import report_path

    assert 'id="agreement"' in report_path(w, run_id).read_text(encoding="utf-8")

    # refusals: a reviewer without blind_labelling, another's pair, a stale token, a pair labelled already
    from fastapi.testclient import TestClient

    cfg = ws / "gridhub.yaml"  # 民政's data steward may label too: values unmasked, and that is audited
    raw = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    raw["portal"]["reviewers"]["民政复核员"]["blind_labelling"] = True
    cfg.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")

    from gridhub.portal import create_app

    with TestClient(create_app(ws)) as c:
        sign_in(c, "东湖网格员", REVIEWER_PASSWORDS["东湖网格员"])
        assert c.get("/label").status_code == 403
        assert 'id="to-labelling"' not in c.get("/review").text
        sign_in(c, "民政复核员", REVIEWER_PASSWORDS["民政复核员"])
        steward = c.get("/label").text
        assert 'id="pair"' in steward and "*" * 4 not in steward.split('id="pair"')[1]
        sign_in(c, LABELLER, LABELLER_PASSWORD)
        form = c.get("/label").text
        pair_id = re.search(r'data-pair="([^"]+)"', form).group(1)
        data = {"csrf": csrf_of(form), "token": re.search(r'name="token" value="([^"]+)"', form).group(1)}
        assert c.post(f"/label/{pair_id}", data={**data, "answer": "maybe"}).status_code == 400
        assert c.post(f"/label/{pair_id}", data={**data, "token": "x", "answer": "same"}).status_code == 409
        first = next(iter(answered))  # labelled already: not labelled again, even with its own token
        own = {**data, "token": pair_token(load_sample(w, ("department", "公安")), first)}
        assert c.post(f"/label/{first}", data={**own, "answer": "different"}).status_code == 409
        outside = set(labels["pair_id"]) - _share(w, run_id)
        if outside:  # a pair with no 公安 record: not this labeller's
            assert c.post(f"/label/{min(outside)}", data={**data, "answer": "same"}).status_code == 403
    reveals = [e for e in read_audit(ws) if e["event"] == "blind_label_reveal"]
    assert [e["reviewer"] for e in reveals] == ["民政复核员"]
    again = pd.read_csv(folder / "labels.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert again.set_index("pair_id").at[first, "label"] == words[answered[first]]


def _share(w: Workspace, run_id: str) -> set[str]:
    return set(load_sample(w, ("department", "公安")).pair_ids)


def _what_must_not_show(w: Workspace, run_id: str, design: pd.DataFrame) -> set[str]:
    """Entity ids of the sampled records: the page shows none of them."""
    out: set[str] = set()
    for t, d in design.groupby("entity_type"):
        a = pd.read_parquet(w.work_dir(run_id) / "resolved" / f"{t}_assignments.parquet")
        ids = a.set_index("record_key")["entity_id"]
        out |= set(ids.reindex(pd.concat([d["record_key_l"], d["record_key_r"]])).dropna().astype(str))
    return out
