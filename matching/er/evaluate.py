"""Pairwise quality of a resolution against ground truth: precision, recall and F1 over record pairs.

A pair of records is *predicted* when both got the same entity id and *true* when both have the same truth
id. Counts come from cluster sizes (Σ C(n, 2)), never from listing pairs, so a million records cost a
groupby.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _pairs(sizes: np.ndarray) -> int:
    sizes = sizes.astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_scores(predicted: pd.Series | np.ndarray, truth: pd.Series | np.ndarray) -> dict[str, float]:
    """Precision, recall, F1 and pair counts of predicted cluster labels against true labels (aligned)."""
    p = pd.factorize(pd.Series(np.asarray(predicted)))[0]
    t = pd.factorize(pd.Series(np.asarray(truth)))[0]
    if (p < 0).any() or (t < 0).any():
        raise ValueError("predicted and true labels must not be missing")
    both = pd.DataFrame({"p": p, "t": t}).groupby(["p", "t"]).size().to_numpy()
    tp = _pairs(both)
    pred = _pairs(np.bincount(p))
    true = _pairs(np.bincount(t))
    precision = tp / pred if pred else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_pairs": true,
        "predicted_pairs": pred,
        "true_positive_pairs": tp,
    }


def evaluate_resolution(
    assignments: pd.DataFrame, truth: pd.DataFrame, *, truth_column: str = "true_id"
) -> dict:
    """Pairwise scores of ``assignments`` (record_key, entity_id) against ``truth`` (record_key, truth_column).

    Records without truth are left out.
    """
    merged = assignments[["record_key", "entity_id"]].merge(
        truth[["record_key", truth_column]], on="record_key"
    )
    merged = merged[merged[truth_column].notna()]
    return {"records": len(merged), **pairwise_scores(merged["entity_id"], merged[truth_column])}
