from __future__ import annotations

import pandas as pd
import pytest

from gridhub.quality import (
    accuracy_of,
    address_accuracy,
    address_accuracy_by,
    address_outcomes,
    entity_scores,
    pairwise_scores,
)


def test_pairwise_scores_count_pairs():
    # truth: {a,b,c} {d}; predicted: {a,b} {c,d}
    idx = list("abcd")
    s = pairwise_scores(
        pd.Series(["1", "1", "2", "2"], index=idx), pd.Series(["x", "x", "x", "y"], index=idx)
    )
    assert (s.true_pairs, s.predicted_pairs, s.true_positive_pairs) == (3, 2, 1)
    assert s.precision == pytest.approx(0.5)
    assert s.recall == pytest.approx(1 / 3)
    assert s.f1 == pytest.approx(0.4)


def test_perfect_and_all_singletons():
    idx = list("abc")
    t = pd.Series(["x", "x", "y"], index=idx)
    assert pairwise_scores(t.rename(None), t).f1 == 1.0
    singletons = pairwise_scores(pd.Series(["1", "2", "3"], index=idx), t)
    assert singletons.recall == 0.0 and singletons.predicted_pairs == 0


def test_entity_scores_counts_lost_records_against_recall():
    truth = pd.DataFrame(
        {
            "feed": ["f", "f", "g"],
            "source_record_id": ["1", "2", "1"],
            "entity_type": "person",
            "entity_key": ["TP1", "TP1", "TP1"],
        }
    )
    xref = pd.DataFrame(
        {
            "feed": ["f", "f"],
            "source_record_id": ["1", "2"],
            "entity_type": "person",
            "entity_id": ["P1", "P1"],
        }
    )
    s = entity_scores(xref, truth)["person"]
    assert s.records == 3 and s.true_pairs == 3 and s.true_positive_pairs == 1


def test_address_accuracy_levels():
    library = pd.DataFrame({"address_code": ["A1", "A2", "A3"], "building_code": ["B1", "B1", "B2"]})
    truth = pd.DataFrame(
        {
            "feed": "f",
            "source_record_id": ["1", "2", "3", "4", "5", "6"],
            "field": "address",
            "address_code": ["A1", "A1", "A1", "A3", "", "A2"],
        }
    )
    bindings = pd.DataFrame(
        {
            "feed": "f",
            "source_record_id": ["1", "2", "3", "4", "5", "6"],
            "field": "address",
            "address_code": ["A1", None, "A3", None, "A2", "A1"],
            "building_code": ["B1", "B1", "B2", None, "B1", "B1"],
            "level": ["room", "building", "room", "none", "room", "room"],
            "status": ["matched", "matched", "matched", "unmatched", "matched", "matched"],
        }
    )
    a = address_accuracy(bindings, truth, library)
    # 1 exact room; 2 right building at building level; 3 wrong building; 4 unmatched; 5 outside yet bound;
    # 6 right building but wrong room at room level
    assert (a.fields, a.correct, a.unmatched, a.outside_library, a.outside_bound) == (5, 2, 1, 1, 1)
    assert a.wrong_confident == 3


def test_address_accuracy_by_field_and_by_written_form():
    library = pd.DataFrame({"address_code": ["A1", "A2", "A3"], "building_code": ["B1", "B1", "B2"]})
    truth = pd.DataFrame(
        {
            "feed": "f",
            "source_record_id": ["1", "1", "2", "3"],
            "field": ["org_address", "org_business_address", "org_address", "org_business_address"],
            "address_code": ["A1", "A3", "A2", "A3"],
            "forms": ["road_typo|community_committee", "", "road_typo", "community_committee"],
        }
    )
    bindings = pd.DataFrame(
        {
            "feed": "f",
            "source_record_id": ["1", "1", "2"],
            "field": ["org_address", "org_business_address", "org_address"],
            "address_code": ["A1", "A3", "A3"],
            "building_code": ["B1", "B2", "B2"],
            "level": "room",
            "status": "matched",
        }
    )
    outcomes = address_outcomes(bindings, truth, library)
    assert accuracy_of(outcomes) == address_accuracy(bindings, truth, library)
    by_field = address_accuracy_by(outcomes, "field")
    assert list(by_field) == ["org_address", "org_business_address"]
    assert (by_field["org_address"].correct, by_field["org_address"].wrong_confident) == (1, 1)
    # the business address of record 3 was never bound: unmatched
    assert (by_field["org_business_address"].correct, by_field["org_business_address"].unmatched) == (1, 1)
    by_form = address_accuracy_by(outcomes, "forms")
    assert list(by_form) == ["community_committee", "road_typo"]  # a field counts under each of its forms
    assert (by_form["road_typo"].fields, by_form["road_typo"].correct) == (2, 1)
    assert (by_form["community_committee"].correct, by_form["community_committee"].unmatched) == (1, 1)
    assert address_accuracy_by(outcomes.drop(columns="forms"), "forms") == {}
