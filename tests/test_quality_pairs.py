"""gridhub.quality's pairwise scores: index alignment and missing labels, checked against listing every pair."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from gridhub.quality import pairwise_scores


def _by_listing_pairs(predicted: pd.Series, truth: pd.Series) -> tuple[int, int, int]:
    both = pd.DataFrame({"p": predicted, "t": truth}).dropna()
    pairs = list(combinations(both.itertuples(index=False), 2))
    pred = sum(a.p == b.p for a, b in pairs)
    true = sum(a.t == b.t for a, b in pairs)
    tp = sum(a.p == b.p and a.t == b.t for a, b in pairs)
    return true, pred, tp


def test_series_are_aligned_on_their_index_and_unlabelled_records_left_out():
    predicted = pd.Series(["1", "1", "2", None], index=["a", "b", "c", "d"])
    truth = pd.Series(["x", "x", "x", "y", "z"], index=["c", "b", "a", "e", "d"])  # other order, "e" unknown
    s = pairwise_scores(predicted, truth, "person")
    # scored records: a, b, c (d has no prediction, e no prediction either)
    assert (s.entity_type, s.records) == ("person", 3)
    assert (s.true_pairs, s.predicted_pairs, s.true_positive_pairs) == (3, 1, 1)
    assert (s.precision, s.recall) == (1.0, pytest.approx(1 / 3))
    assert s.as_dict() == {
        "entity_type": "person",
        "records": 3,
        "true_pairs": 3,
        "predicted_pairs": 1,
        "true_positive_pairs": 1,
        "precision": 1.0,
        "recall": pytest.approx(1 / 3),
        "f1": pytest.approx(0.5),
    }


def test_empty_input_scores_perfectly():
    s = pairwise_scores(pd.Series([], dtype=object), pd.Series([], dtype=object))
    assert (s.records, s.true_pairs, s.predicted_pairs, s.precision, s.recall, s.f1) == (
        0,
        0,
        0,
        1.0,
        1.0,
        1.0,
    )


@pytest.mark.parametrize("seed", range(5))
def test_counts_agree_with_listing_every_pair(seed):
    rng = np.random.default_rng(seed)
    n = 40
    idx = [f"r{i}" for i in range(n)]
    predicted = pd.Series(rng.integers(0, 8, n).astype(str), index=idx, dtype=object)
    truth = pd.Series(rng.integers(0, 6, n).astype(float), index=list(rng.permutation(idx)))
    predicted.iloc[rng.integers(0, n, 4)] = None
    truth.iloc[rng.integers(0, n, 3)] = np.nan
    s = pairwise_scores(predicted, truth)
    true, pred, tp = _by_listing_pairs(predicted, truth)
    assert (s.true_pairs, s.predicted_pairs, s.true_positive_pairs) == (true, pred, tp)
    assert s.precision == pytest.approx(tp / pred if pred else 1.0)
    assert s.recall == pytest.approx(tp / true if true else 1.0)
