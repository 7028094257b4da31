"""The publish gate outside Airflow (issue 17): its figures, its settings, and `gridhub run` refusing to
publish a held run unless `--approve` is given."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from gate_helpers import enable_gate, land_nameless_rows

from gridhub.cli import main
from gridhub.config import PublishGate
from gridhub.publish_gate import entity_changes, held_reasons, quarantine_shares


def _history(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["entity_type", "old_id", "reason"]).assign(new_id="x", records=1)


def test_entity_changes_count_each_changed_id_once_against_the_published_entities():
    history = _history(
        [
            ("person", "P1", "merge"),
            ("person", "P2", "split"),
            ("person", "P2", "split"),  # one id split in two new ones: one changed id
            ("person", "P3", "retired"),
            ("house", "H1", "merge"),
        ]
    )
    out = entity_changes(history, {"person": 30, "house": 10, "organisation": 5}).set_index("entity_type")
    assert out.loc["person", ["published", "merge", "split", "retired", "changed"]].tolist() == [
        30,
        1,
        1,
        1,
        3,
    ]
    assert out.loc["person", "share"] == pytest.approx(0.1)
    assert out.loc["house", "share"] == pytest.approx(0.1)
    assert out.loc["organisation", "changed"] == 0 and out.loc["facility", "share"] == 0.0


def _files(rows: list[tuple[str, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["feed", "rows_read", "rows_quarantined"])


def test_held_when_an_entity_share_or_a_quarantine_share_passes_its_threshold():
    gate = PublishGate(enabled=True, max_entity_change_share=0.05, max_quarantine_jump=0.05)
    before = quarantine_shares(_files([("police", 100, 1), ("civil", 100, 1)]))
    calm = quarantine_shares(_files([("police", 100, 2), ("civil", 100, 1), ("civil", 50, 0)]))
    changes = entity_changes(_history([("person", "P1", "merge")]), {"person": 100})
    assert held_reasons(changes, calm, before, gate) == []

    jumped = quarantine_shares(_files([("police", 100, 1), ("civil", 100, 1), ("civil", 100, 40)]))
    reasons = held_reasons(changes, jumped, before, gate)
    assert len(reasons) == 2 and "feed civil: 1.0% → 20.5%" in reasons[0] and "all feeds" in reasons[1]
    # a feed the previous run did not read has no share to jump from; it counts in the overall share
    new_feed = quarantine_shares(_files([("police", 100, 1), ("civil", 100, 1), ("tax", 20, 20)]))
    assert [r for r in held_reasons(changes, new_feed, before, gate) if "tax" in r] == []

    many = entity_changes(_history([("person", f"P{i}", "retired") for i in range(6)]), {"person": 100})
    assert "(+19.5 points > 5.0)" in reasons[0]
    assert held_reasons(many, calm, before, gate) == [
        "person: 6 of 100 entities merged/split/retired (6.0% > 5.0%)"
    ]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"enabled": True, "max_entity_change_share": 1.5}, "publish_gate.max_entity_change_share"),
        ({"enabled": True, "max_quarantine_jmp": 0.1}, "publish_gate.max_quarantine_jmp"),
    ],
)
def test_the_publish_gate_section_is_validated(workspace_copy, section, message):
    from gridhub.config import ConfigError, load_config

    assert load_config(workspace_copy).publish_gate.enabled is False  # off unless switched on
    raw = yaml.safe_load((workspace_copy / "gridhub.yaml").read_text(encoding="utf-8"))
    raw["publish_gate"] = section
    (workspace_copy / "gridhub.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(workspace_copy)


@pytest.mark.slow
def test_gridhub_run_refuses_a_held_run_until_approved(workspace_copy, capsys):
    from connectors import ingest_feed
    from gridhub.workspace import Workspace
    from warehouse.read import current_run_id

    ws = Workspace(workspace_copy)
    for feed in ws.config.feeds:
        ingest_feed(ws, feed.name).check_accounting()
    wh = workspace_copy / "warehouse"
    assert main(["-w", str(workspace_copy), "run"]) == 0
    first = current_run_id(wh)
    # with the gate off (the default) a jump in quarantined rows is published without asking
    land_nameless_rows(workspace_copy, "minzheng_assistance", 100)
    ingest_feed(Workspace(workspace_copy), "minzheng_assistance").check_accounting()
    assert main(["-w", str(workspace_copy), "run"]) == 0
    assert current_run_id(wh) not in (None, first)
    first = current_run_id(wh)
    capsys.readouterr()

    enable_gate(workspace_copy, max_quarantine_jump=0.05)
    land_nameless_rows(workspace_copy, "minzheng_assistance", 1000)
    ingest_feed(Workspace(workspace_copy), "minzheng_assistance").check_accounting()
    assert main(["-w", str(workspace_copy), "run"]) == 3
    err = capsys.readouterr().err
    assert "quarantine share of feed minzheng_assistance" in err and f"当前快照 {first}" in err
    assert "gridhub run --approve" in err and "Traceback" not in err
    assert current_run_id(wh) == first

    assert main(["-w", str(workspace_copy), "run", "--approve"]) == 0
    now = current_run_id(wh)
    assert now not in (None, first)
    figures = json.loads((ws.step_dir(now, "gate") / "figures.json").read_text(encoding="utf-8"))
    assert figures["held"] and figures["approved_by"] == "gridhub run --approve"
    assert figures["previous_run"] == first


@pytest.mark.slow
def test_a_run_that_retires_many_persons_is_held_with_the_figures(workspace_copy):
    """A full feed's next file leaves 40 records out: the persons only they described would be retired."""
    from connectors import ingest_feed
    from gridhub import pipeline
    from gridhub.publish_gate import PublishHeld
    from gridhub.workspace import Workspace
    from warehouse.read import current_run_id

    feed = "gongan_population"
    config = workspace_copy / "gridhub.yaml"
    cfg = yaml.safe_load(config.read_text(encoding="utf-8"))
    [spec] = [f for f in cfg["feeds"] if f["name"] == feed]
    spec["mode"] = "full"
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    enable_gate(workspace_copy, max_entity_change_share=0.02, max_quarantine_jump=0.5)
    ws = Workspace(workspace_copy)
    [first_file] = sorted(ws.landing_dir(feed).glob("*.csv"))
    lines = first_file.read_bytes().decode("gb18030").splitlines(keepends=True)
    for f in ws.config.feeds:
        ingest_feed(ws, f.name).check_accounting()
    first = pipeline.run_all(ws)["run_id"]

    (ws.landing_dir(feed) / "next.csv").write_bytes("".join(lines[:1] + lines[41:]).encode("gb18030"))
    ingest_feed(ws, feed).check_accounting()
    with pytest.raises(PublishHeld, match=r"person: \d+ of \d+ entities merged/split/retired") as held:
        pipeline.run_all(ws)
    assert current_run_id(ws.warehouse) == first
    run_id = pipeline.new_run_id(ws)
    figures = json.loads((ws.step_dir(run_id, "gate") / "figures.json").read_text(encoding="utf-8"))
    [person] = [e for e in figures["entities"] if e["entity_type"] == "person"]
    assert person["retired"] >= 1 and person["share"] > 0.02 and figures["held"]
    assert f"| person | {person['published']} |" in str(held.value)
