"""What one resolution run looked like, aggregated for a run report: no record appears in it.

The figures a data engineer checks after a run (the ones Splink draws for its users): candidate pairs per
blocking rule, the distribution of match weights with the thresholds on it, m and u per comparison level,
cluster sizes and the components the guard split (merges and splits are in the ``id_history`` table). Each is aggregated where it
is computed (the weights of every candidate pair become a histogram in :func:`weight_histogram` before the
pairs are let go), so the diagnostics of a city of a million people stay a few kilobytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matching.er.engine import Resolution
    from matching.er.settings import EntitySettings

#: Width of a match-weight bin, in bits; weights beyond ±``WEIGHT_RANGE`` fall in the outermost bins.
WEIGHT_BIN = 1.0
WEIGHT_RANGE = 60.0


def weight_histogram(weights: np.ndarray) -> dict:
    """Counts of match weights per bin of ``WEIGHT_BIN`` bits: ``first_bin`` is the lower edge of
    ``counts[0]``. Infinite or missing weights are left out."""
    w = np.asarray(weights, dtype=np.float64)
    w = np.clip(w[np.isfinite(w)], -WEIGHT_RANGE, WEIGHT_RANGE - 1e-9)
    if not len(w):
        return {"bin_width": WEIGHT_BIN, "first_bin": 0.0, "counts": []}
    bins = np.floor(w / WEIGHT_BIN).astype(np.int64)
    lo = int(bins.min())
    return {
        "bin_width": WEIGHT_BIN,
        "first_bin": lo * WEIGHT_BIN,
        "counts": [int(c) for c in np.bincount(bins - lo)],
    }


def probability_weight(p: float) -> float:
    """The match weight (bits) of match probability ``p``: log2(p / (1 − p)), as :func:`scoring.score` uses."""
    return float(np.log2(p / (1.0 - p)))


def _thresholds(settings: EntitySettings) -> dict:
    t = settings.thresholds
    probs = {"match": t.match, "review": t.review, "keep_pairs": t.keep_pairs}
    return {
        name: {"probability": p, "weight": probability_weight(p)} for name, p in probs.items() if 0 < p < 1
    }


def _m_u(resolution: Resolution) -> list[dict]:
    model = resolution.model
    if model is None:
        return []
    rows = []
    for k, name in enumerate(model.comparisons):
        weights = model.weights()[k]
        for j, level in enumerate(model.levels[k]):
            rows.append(
                {
                    "comparison": name,
                    "level": level,
                    "m": float(model.m[k][j]),
                    "u": float(model.u[k][j]),
                    "weight": float(weights[j]),
                }
            )
    return rows


def _cluster_sizes(assignments: pd.DataFrame) -> list[dict]:
    if not len(assignments):
        return []
    sizes = assignments["entity_id"].value_counts().value_counts().sort_index()
    return [{"size": int(s), "clusters": int(n)} for s, n in sizes.items()]


def _guard_splits(oversized: pd.DataFrame, top: int = 20) -> dict:
    """The components the anti-chaining guard split: how many per reason, and the largest ones (sizes only)."""
    if not len(oversized):
        return {"components": 0, "by_reason": {}, "largest": []}
    cols = ["component_size", "parts", "largest_part", "edges_cut", "reason"]
    largest = oversized.sort_values(["component_size", "parts"], ascending=False, kind="stable").head(top)
    return {
        "components": len(oversized),
        "by_reason": {str(k): int(v) for k, v in oversized["reason"].value_counts().sort_index().items()},
        "largest": [
            {c: (v.item() if hasattr(v, "item") else v) for c, v in r.items()}
            for r in largest[cols].to_dict("records")
        ],
    }


_STATS = ("records", "candidate_pairs", "edges", "held_back_pairs", "identity_conflicts", "incremental")


def resolution_diagnostics(resolution: Resolution, settings: EntitySettings) -> dict:
    """The aggregated diagnostics of one entity type's run (JSON-able)."""
    stats = resolution.stats
    return {
        "entity_type": resolution.entity_type,
        "mentions": int(len(resolution.assignments)),
        "entities": int(resolution.assignments["entity_id"].nunique()) if len(resolution.assignments) else 0,
        "stats": {k: (v.item() if hasattr(v, "item") else v) for k, v in stats.items() if k in _STATS},
        "thresholds": _thresholds(settings),
        "blocking": resolution.blocking_report.to_dict("records"),
        "weight_histogram": stats.get("weight_histogram") or weight_histogram(np.empty(0)),
        "m_u": _m_u(resolution),
        "cluster_sizes": _cluster_sizes(resolution.assignments),
        "guard_splits": _guard_splits(resolution.oversized),
    }


def empty_diagnostics(entity_type: str, settings: EntitySettings) -> dict:
    """The diagnostics of a type with no mentions (none of its feeds has arrived): thresholds, nothing else."""
    return {
        "entity_type": entity_type,
        "mentions": 0,
        "entities": 0,
        "stats": {},
        "thresholds": _thresholds(settings),
        "blocking": [],
        "weight_histogram": weight_histogram(np.empty(0)),
        "m_u": [],
        "cluster_sizes": [],
        "guard_splits": _guard_splits(pd.DataFrame()),
    }
