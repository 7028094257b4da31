"""The run summary when only some feeds have arrived: an entity type without mentions says so instead of
printing scores of an empty clustering (precision 1, recall 0), and the truth of feeds not yet ingested is
not counted as lost."""

from __future__ import annotations

import pandas as pd
import pytest

from gridhub import pipeline
from gridhub.report import build_summary, entity_quality, format_summary
from gridhub.workspace import Workspace

ORGANISATION_FEED = "shichang_orgs"
NOT_YET = ["person", "house", "facility"]


def _er_section(text: str) -> list[str]:
    section = text.split("Entity resolution vs ground truth (pairwise)\n", 1)[1].split("\n\n", 1)[0]
    return section.splitlines()[2:]  # the rows after the header and its rule


def _row(rows: list[str], entity: str) -> list[str]:
    (line,) = [r for r in rows if r.split("|")[0].strip() == entity]
    return [c.strip() for c in line.split("|")]


@pytest.fixture
def orgs_only_published(workspace_copy) -> Workspace:
    from connectors import ingest_feed

    ws = Workspace(workspace_copy)
    ingest_feed(ws, ORGANISATION_FEED).check_accounting()
    pipeline.run_all(ws)
    return ws


def test_summary_of_a_run_with_only_the_organisation_feed(orgs_only_published):
    summary = build_summary(orgs_only_published)
    quality = summary["quality"]
    for t in NOT_YET:
        assert quality[t] == {
            "entity_type": t,
            "records": 0,
            "mentions": 0,
            "precision": None,
            "recall": None,
            "f1": None,
        }
    org = quality["organisation"]
    staged = next(f["rows_staged"] for f in summary["feeds"] if f["feed"] == ORGANISATION_FEED)
    assert org["mentions"] == staged > 0
    # only the organisation feed's own records are compared: those of feeds not yet ingested are not "lost"
    assert org["records"] == staged and org["recall"] == 1.0 and org["precision"] == 1.0
    assert summary["address_accuracy"]["unmatched_rate"] < 0.5

    rows = _er_section(format_summary(summary))
    assert len(rows) == 4
    for t in NOT_YET:
        assert _row(rows, t) == [
            t,
            "0",
            "-",
            "-",
            "-",
            "no mentions: no feed carrying it has been ingested yet",
        ]
    assert _row(rows, "organisation") == ["organisation", str(staged), "1.0000", "1.0000", "1.0000", ""]


def test_a_type_whose_rows_were_all_lost_says_how_many():
    truth = pd.DataFrame(
        {
            "feed": ["f", "f", "f"],
            "source_record_id": ["1", "2", "3"],
            "entity_type": ["person", "person", "organisation"],
            "entity_key": ["TP1", "TP1", "TO1"],
        }
    )
    xref = pd.DataFrame(
        {"feed": ["f"], "source_record_id": ["3"], "entity_type": ["organisation"], "entity_id": ["O1"]}
    )
    quality = entity_quality(xref, truth)
    assert quality["person"]["mentions"] == 0 and quality["person"]["records"] == 2
    assert quality["person"]["recall"] is None
    assert quality["organisation"]["mentions"] == 1 and quality["organisation"]["records"] == 1
    text = format_summary(
        {"workspace": "w", "warehouse": "w", "feeds": [], "published": True, "quality": quality}
    )
    assert _row(_er_section(text), "person")[-1] == (
        "no mentions: none of its 2 records in the ingested feeds reached the warehouse"
    )


def test_a_complete_run_prints_no_note_column():
    types = ["person", "person", "organisation", "organisation", "house", "facility"]
    truth = pd.DataFrame(
        {
            "feed": "f",
            "source_record_id": list("123456"),
            "entity_type": types,
            "entity_key": ["TP1", "TP1", "TO1", "TO2", "TH1", "TF1"],
        }
    )
    xref = pd.DataFrame(
        {
            "feed": "f",
            "source_record_id": list("123456"),
            "entity_type": types,
            "entity_id": ["P1", "P1", "O1", "O1", "H1", "F1"],
        }
    )
    text = format_summary(
        {
            "workspace": "w",
            "warehouse": "w",
            "feeds": [],
            "published": True,
            "quality": entity_quality(xref.assign(entity_id=["P1", "P1", "O1", "O2", "H1", "F1"]), truth),
        }
    )
    assert "note" not in text and "no mentions" not in text
    rows = _er_section(text)
    assert _row(rows, "person") == ["person", "2", "1.0000", "1.0000", "1.0000"]
    assert _row(rows, "organisation") == ["organisation", "2", "1.0000", "1.0000", "1.0000"]
    # one wrong merge, no true pair to find: precision 0, recall 1 (nothing was missed); the note says what it is
    text = format_summary(
        {
            "workspace": "w",
            "warehouse": "w",
            "feeds": [],
            "published": True,
            "quality": entity_quality(xref, truth),
        }
    )
    assert _row(_er_section(text), "organisation") == [
        "organisation",
        "2",
        "0.0000",
        "1.0000",
        "0.0000",
        "no duplicates in the truth: 1 false pair",
    ]


def test_a_type_whose_truth_has_no_duplicates_reports_false_pairs_not_a_zero_f1():
    from gridhub.report import resolution_row

    one_false = {
        "records": 8377,
        "precision": 0.0,
        "recall": 1.0,
        "f1": 0.0,
        "true_pairs": 0,
        "predicted_pairs": 1,
        "true_positive_pairs": 0,
        "mentions": 8377,
    }
    row = resolution_row("house", one_false)
    assert row[-1] == "no duplicates in the truth: 1 false pair"
    clean = {**one_false, "precision": 1.0, "f1": 1.0, "predicted_pairs": 0}
    assert resolution_row("house", clean)[2:] == ["1.0000", "1.0000", "1.0000", ""]
    usual = {
        **one_false,
        "precision": 0.99,
        "recall": 0.98,
        "f1": 0.985,
        "true_pairs": 10,
        "predicted_pairs": 10,
        "true_positive_pairs": 9,
    }
    assert resolution_row("house", usual) == ["house", 8377, "0.9900", "0.9800", "0.9850", ""]


def test_resolution_checks_count_only_what_the_ingested_feeds_hold(orgs_only_published):
    """Issue #12's checks on the organisation feed alone: the legal representatives of its organisations are
    counted as in no person feed (none can be linked: no person feed yet), their credit codes are all there, no look-alike pair has
    records on both sides, and the market feed's clean rows lose nothing for an optional field."""
    ws = orgs_only_published
    c = build_summary(ws)["resolution_checks"]
    truth = ws.root / "truth"
    orgs = pd.read_csv(truth / "records.csv", dtype=str).query(f"feed == '{ORGANISATION_FEED}'")
    codes = pd.read_csv(truth / "codes.csv", dtype=str).query(
        f"feed == '{ORGANISATION_FEED}' and entity_type == 'organisation'"
    )
    # no person feed holds a representative yet: all are counted apart, as in no person feed, and none linked
    reps = c["legal_representatives"]
    assert reps["not_in_person_feeds"] == len(orgs) > 0 and reps["organisations"] == 0
    assert reps["linked_right"] == reps["not_in_person_feeds_linked"] == 0
    assert c["organisation_credit_codes"]["records_with_code"] == len(codes) == len(orgs)
    assert all(v["pairs"] == 0 for v in c["look_alike_pairs"].values())
    assert c["person_ids"]["records_with_code"] == 0
    assert c["optional_field_quarantine"] == {"rows": 0, "by_column": {}}
    assert "Resolution checks (issue #12)" in format_summary(build_summary(ws))
