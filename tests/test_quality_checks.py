"""Issue #12's resolution checks (gridhub.quality) on small hand-made frames whose answers are counted by hand:
look-alike pairs merged, two valid identifiers in one entity, one identifier in several entities, legal
representatives linked, rows quarantined for an optional field; and the summary table that prints them."""

from __future__ import annotations

import pandas as pd

from gridhub.quality import (
    code_conflicts,
    legal_rep_links,
    merged_pairs,
    optional_field_quarantine,
)
from gridhub.report import checks_rows, format_summary


def _xref(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["feed", "source_record_id", "entity_type", "entity_id"])


def _records(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["feed", "source_record_id", "entity_type", "entity_key"])


# twins TP1/TP2 and namesakes TP3/TP4, records in two feeds
RECORDS = _records(
    [
        ("ga", "1", "person", "TP1"),
        ("ga", "2", "person", "TP2"),
        ("mz", "1", "person", "TP1"),
        ("mz", "2", "person", "TP2"),
        ("ga", "3", "person", "TP3"),
        ("ga", "4", "person", "TP4"),
        ("mz", "3", "person", "TP4"),
        ("ga", "5", "person", "TP5"),
    ]
)
PAIRS = pd.DataFrame(
    [("TP1", "TP2", "twins"), ("TP3", "TP4", "same_name_birth"), ("TP5", "TP6", "same_name_birth")],
    columns=["person_key_a", "person_key_b", "kind"],
)


def test_a_pair_counts_as_merged_when_any_record_of_one_shares_a_person_with_the_other():
    xref = _xref(
        [
            ("ga", "1", "person", "P1"),
            ("ga", "2", "person", "P2"),
            ("mz", "1", "person", "P9"),
            ("mz", "2", "person", "P9"),  # the twins' 民政 records went to one person
            ("ga", "3", "person", "P3"),
            ("ga", "4", "person", "P4"),
            ("mz", "3", "person", "P4"),
            ("ga", "5", "person", "P5"),  # TP6 has no record: the pair is not counted
        ]
    )
    got = merged_pairs(xref, RECORDS, PAIRS)
    assert got == {"same_name_birth": {"pairs": 1, "merged": 0}, "twins": {"pairs": 1, "merged": 1}}
    # the namesakes merged too once a record of TP3 joins TP4's person
    xref.loc[xref["source_record_id"].eq("3") & xref["feed"].eq("ga"), "entity_id"] = "P4"
    assert merged_pairs(xref, RECORDS, PAIRS)["same_name_birth"] == {"pairs": 1, "merged": 1}


def test_code_conflicts_count_entities_with_two_codes_pairs_of_records_and_split_codes():
    codes = pd.DataFrame(
        [
            ("ga", "1", "person", "A"),
            ("ga", "2", "person", "A"),
            ("ga", "3", "person", "B"),
            ("ga", "4", "person", "C"),
            ("ga", "5", "person", "C"),
            ("ga", "6", "organisation", "X"),
            ("ga", "9", "person", "D"),  # a record the warehouse lost: left out
        ],
        columns=["feed", "source_record_id", "entity_type", "code"],
    )
    xref = _xref(
        [
            ("ga", "1", "person", "E1"),
            ("ga", "2", "person", "E1"),
            ("ga", "3", "person", "E1"),  # E1: A, A, B → 2 pairs with different codes
            ("ga", "4", "person", "E2"),
            ("ga", "5", "person", "E3"),  # C split over two persons
            ("ga", "6", "organisation", "E1"),  # another entity type: never mixed in
        ]
    )
    got = code_conflicts(xref, codes, "person")
    assert got == {
        "records_with_code": 5,
        "codes": 3,
        "entities_with_several_codes": 1,
        "record_pairs_with_different_codes": 2,
        "codes_in_several_entities": 1,
    }
    clean = code_conflicts(xref.assign(entity_id=["E1", "E1", "E2", "E3", "E3", "E1"]), codes, "person")
    assert clean["entities_with_several_codes"] == clean["codes_in_several_entities"] == 0
    assert clean["record_pairs_with_different_codes"] == 0


def test_legal_rep_is_right_only_when_the_org_holds_the_true_org_and_the_person_is_mostly_the_rep():
    records = _records(
        [
            ("sc", "1", "organisation", "TO1"),
            ("sc", "2", "organisation", "TO2"),
            ("sc", "3", "organisation", "TO3"),
            ("sc", "5", "organisation", "TO5"),
            ("sc", "6", "organisation", "TO6"),
            ("ga", "1", "person", "TP1"),
            ("mz", "1", "person", "TP1"),
            ("ga", "2", "person", "TP2"),
            ("rs", "9", "person", "TP3"),
        ]
    )
    xref = _xref(
        [
            ("sc", "1", "organisation", "O1"),
            ("sc", "2", "organisation", "O2"),
            ("sc", "3", "organisation", "O3"),
            ("sc", "5", "organisation", "O5"),
            ("sc", "6", "organisation", "O6"),
            ("ga", "1", "person", "P1"),
            ("mz", "1", "person", "P1"),
            ("ga", "2", "person", "P2"),
            ("rs", "9", "person", "P2"),  # P2: TP2 and TP3 once each → the smaller key, TP2
        ]
    )
    orgs = pd.DataFrame(
        [("TO1", "TP1"), ("TO2", "TP3"), ("TO3", "TP2"), ("TO4", "TP1"), ("TO5", "TR1"), ("TO6", "TR2")],
        columns=["org_key", "legal_rep_key"],
    )  # TO4 has no record in the feeds read: not counted; TR1, TR2 live outside: no person record
    rel = pd.DataFrame(
        [
            ("P1", "O1", "法定代表人"),
            ("P2", "O2", "法定代表人"),
            ("P2", "O3", "就业"),
            ("P1", "O5", "法定代表人"),
        ],
        columns=["person_id", "org_id", "relation"],
    )
    got = legal_rep_links(xref, records, orgs, rel)
    assert got == {
        "organisations": 3,  # representatives some person feed lists: the rate's denominator
        "linked_right": 1,
        "linked_wrong_only": 1,
        "rate": 1 / 3,
        "not_in_person_feeds": 2,
        "not_in_person_feeds_linked": 1,  # TO5's outsider linked to the namesake P1: wrong by definition
        "precision": 1 / 3,
    }
    none = legal_rep_links(xref, records, orgs, rel.iloc[0:0])
    assert none["linked_right"] == 0 and none["rate"] == 0.0 and none["not_in_person_feeds_linked"] == 0


def test_only_rows_without_a_record_id_required_or_row_level_problem_count_as_lost_for_an_optional_field():
    q = pd.DataFrame(
        [
            ("ga", "s", 2, "出生日期", "invalid_date"),  # optional: lost for it
            ("ga", "s", 3, "记录编号", "missing_record_id"),
            ("ga", "s", 4, "公民身份号码", "missing_required"),  # required (by header)
            ("ga", "s", 5, None, "ragged_row"),
            ("ga", "s", 6, "出生日期", "invalid_date"),  # also a required problem: the row is lost anyway
            ("ga", "s", 6, "id_number", "missing_required"),  # required (by staging field)
            ("zj", "t", 2, "建筑面积", "invalid_number"),  # optional
            ("zj", "t", 2, "出生日期", "invalid_date"),  # same row: counted once, under both columns
        ],
        columns=["feed", "raw_sha256", "line", "column", "reason_code"],
    )
    allowed = {"ga": {"记录编号", "公民身份号码", "id_number"}, "zj": {"登记编号"}}
    got = optional_field_quarantine(q, allowed)
    assert got == {"rows": 2, "by_column": {"出生日期": 2, "建筑面积": 1}}
    assert optional_field_quarantine(q.iloc[1:6], allowed)["rows"] == 0
    assert optional_field_quarantine(q.iloc[0:0], allowed) == {"rows": 0, "by_column": {}}


def test_summary_prints_the_checks_with_their_targets_and_source():
    s = {
        "quality": {
            "person": {"records": 9, "mentions": 9, "precision": 0.99, "recall": 0.95, "f1": 0.97},
            "organisation": {"records": 5, "mentions": 5, "precision": 1.0, "recall": 0.67, "f1": 0.8},
            "house": {"records": 3, "mentions": 0, "precision": None, "recall": None, "f1": None},
        },
        "resolution_checks": {
            "truth": "/ws/truth",
            "look_alike_pairs": {"twins": {"pairs": 40, "merged": 11}},
            "person_ids": {"entities_with_several_codes": 7, "record_pairs_with_different_codes": 9},
            "organisation_credit_codes": {"codes_in_several_entities": 3, "entities_with_several_codes": 0},
            "legal_representatives": {
                "organisations": 4,
                "linked_right": 0,
                "rate": 0.0,
                "not_in_person_feeds": 3,
                "not_in_person_feeds_linked": 1,
            },
            "optional_field_quarantine": {"rows": 2, "by_column": {"出生日期": 2}},
        },
    }
    rows = {r[0]: r[1:] for r in checks_rows(s)}
    assert rows["person F1 (all person mentions)"] == ["0.9700", ">= 0.995"]
    assert rows["twin pairs merged into one person"] == ["11 of 40", "0"]
    assert rows["persons holding two different valid IDs"][0] == "7 (9 record pairs)"
    assert rows["credit codes found in more than one organisation"][0] == 3
    assert rows["house F1 (all house mentions, derived included)"][0] == "-"
    assert rows["legal representatives linked to the right person"][0] == "0.00% (0 of 4 in a person feed)"
    assert rows["legal representatives in no person feed, linked to someone"] == ["1 of 3", "0"]
    assert rows["rows quarantined for an optional field"][0] == 2
    text = format_summary(
        {"workspace": "/ws", "warehouse": "/ws/wh", "feeds": [], "published": True, **s, "entities": {}}
    )
    assert "Resolution checks (issue #12) against the ground truth in /ws/truth" in text
    assert "11 of 40" in text


def test_summary_prints_how_many_legal_representative_links_are_wrong():
    """Recall alone hides a wrong link: the summary counts them, outsiders included, with the precision."""
    lr = {
        "organisations": 10,
        "linked_right": 8,
        "linked_wrong_only": 1,
        "rate": 0.8,
        "not_in_person_feeds": 3,
        "not_in_person_feeds_linked": 1,
        "precision": 0.8,
    }
    rows = {r[0]: r[1:] for r in checks_rows({"resolution_checks": {"legal_representatives": lr}})}
    assert rows["legal representative links to a wrong person"] == ["2 of 10 (precision 0.8000)", "0"]
    lr.update(linked_right=0, linked_wrong_only=0, not_in_person_feeds_linked=0, precision=None)
    rows = {r[0]: r[1:] for r in checks_rows({"resolution_checks": {"legal_representatives": lr}})}
    assert "legal representative links to a wrong person" not in rows  # no link at all: nothing to say
