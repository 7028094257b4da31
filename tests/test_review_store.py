"""Review decisions kept in the state (issue 17): reviewer accounts in the config, pair decisions in the file
resolution reads, address aliases that make the same text bind next time."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml
from review_cases import BUILDING, UNBOUND_TEXT
from test_portal import add_portal_section

from gridhub.config import ConfigError
from gridhub.workspace import Workspace


def _with_reviewers(ws_dir: Path, reviewers: dict) -> Path:
    add_portal_section(ws_dir)
    cfg = ws_dir / "gridhub.yaml"
    raw = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    hash_ = raw["portal"]["departments"]["公安"]["password_hash"]
    raw["portal"]["reviewers"] = {k: {"password_hash": hash_, **v} for k, v in reviewers.items()}
    cfg.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return ws_dir


@pytest.mark.parametrize(
    ("reviewers", "words"),
    [
        ({"甲": {"grid": "445399001002001", "street": "445399001"}}, "exactly one scope"),
        ({"甲": {}}, "exactly one scope"),
        ({"甲": {"department": "税务"}}, "has no feed"),
        ({"民政": {"grid": "445399001002001"}}, "department's name"),
        (
            {"人社": {"grid": "445399001002001"}},
            "department's name",
        ),  # a feed's department, no portal sign-in
        ({"甲": {"grid": "445399001002001", "role": "admin"}}, "grid_staff"),
    ],
)
def test_reviewer_accounts_are_validated(workspace_copy, reviewers, words):
    _with_reviewers(workspace_copy, reviewers)
    with pytest.raises(ConfigError, match=words):
        Workspace(workspace_copy).config  # noqa: B018


def test_a_valid_reviewer_has_its_scope_and_role(workspace_copy):
    _with_reviewers(
        workspace_copy,
        {"甲": {"community": "445399001002"}, "乙": {"department": "民政", "role": "data_steward"}},
    )
    reviewers = Workspace(workspace_copy).config.portal.reviewers
    assert reviewers["甲"].scope == ("community", "445399001002") and reviewers["甲"].role == "grid_staff"
    assert reviewers["乙"].scope == ("department", "民政") and reviewers["乙"].role == "data_steward"


def test_pair_decisions_land_in_the_file_resolution_reads(workspace_copy):
    from gridhub.review_store import record_pair_decision
    from matching.er import normalise_decisions

    ws = Workspace(workspace_copy)
    threads = [
        threading.Thread(
            target=record_pair_decision,
            args=(ws, f"a:{i}", f"b:{i}", "same" if i % 2 else "different"),
            kwargs={"entity_type": "person", "reviewer": "甲", "run_id": "run-x"},
        )
        for i in range(12)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    raw = pd.read_csv(ws.review_decisions, dtype=str)
    assert len(raw) == 12 and set(raw["reviewer"]) == {"甲"}  # concurrent answers: none lost
    d = normalise_decisions(raw).set_index("record_key_l")["decision"]
    assert d["a:1"] == "match" and d["a:2"] == "non_match"


def test_an_alias_binds_the_same_text_in_any_writing(sample_workspace):
    from gridhub.reference import address_library
    from matching.address import apply_aliases, match_addresses, stale_aliases

    library = address_library(Workspace(sample_workspace))
    fullwidth = UNBOUND_TEXT.replace("10", "１０").replace("402", "四零二")
    texts = pd.Series([UNBOUND_TEXT, fullwidth, "青石区查无此路99号"], dtype="string")
    before = match_addresses(library, texts)
    assert before["status"].iloc[0] == "ambiguous"
    aliases = pd.DataFrame(
        {
            "address_text": [UNBOUND_TEXT, "青石区查无此路99号", "滨江东路1号"],
            "decision": ["standard", "not_in_library", "standard"],
            "building_code": [BUILDING, "", "B-GONE"],
            "address_code": ["", "", ""],
        }
    )
    after = apply_aliases(before, texts, aliases, library)
    assert after["status"].tolist()[:2] == ["matched", "matched"]
    assert after["building_code"].tolist()[:2] == [BUILDING, BUILDING]
    assert (
        after["grid_code"].iloc[0]
        == library.addresses.set_index("building_code").loc[BUILDING, "grid_code"].iloc[0]
    )
    assert after["method"].tolist() == ["reviewed", "reviewed", "reviewed_not_in_library"]
    assert after["status"].iloc[2] == "unmatched"
    assert stale_aliases(aliases, library)["building_code"].tolist() == ["B-GONE"]  # not applied, reported
    # the latest answer for a text wins
    again = pd.concat([aliases, aliases.iloc[[0]].assign(decision="not_in_library")], ignore_index=True)
    assert apply_aliases(before, texts, again, library)["status"].iloc[0] == "unmatched"
