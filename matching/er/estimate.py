"""Precision and recall of a resolution estimated from a labelled stratified sample of record pairs.

The population is a set of record pairs split into strata (score bands, each either *linked* — both records
got the same entity — or *apart*). Every linked pair of the resolution must be in a linked stratum, so the
number of predicted pairs ``P`` is known exactly; a person labels a random sample of each stratum (same /
different; "not sure" is left out). With ``q_h`` the share of true matches in stratum ``h`` of size ``N_h``:

    precision = Σ_linked N_h q_h / P          (a stratified proportion: weights N_h / P)
    TP = P · precision,   FN = Σ_apart N_h q_h,   recall = TP / (TP + FN)

Intervals: each stratum's share gets a **Wilson score interval** with a finite-population correction (a
stratum labelled in full is known exactly); strata are combined by **MOVER** (method of variance estimates
recovery, Zou & Donner 2008): ``L = p − √Σ w_h²(p_h − l_h)²``, ``U = p + √Σ w_h²(u_h − p_h)²``, which keeps
Wilson's good behaviour for strata where every label agrees (0/n, n/n). Precision's interval is at the
requested level. Recall is increasing in TP and decreasing in FN: its interval takes TP's and FN's intervals,
each at ``1 − (1 − level)/2``, so both hold together at least at ``level`` (Bonferroni). A stratum with no label
counts as fully unknown (share 0.5, interval [0, 1]).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

#: Columns of the per-stratum frame :func:`estimate_agreement` takes.
STRATUM_COLUMNS = ["stratum", "linked", "population", "labelled", "same"]


def wilson_interval(same: int, labelled: int, population: int, z: float) -> tuple[float, float, float]:
    """(share, lower, upper) of true matches in one stratum: Wilson score interval with a finite-population
    correction (the effective sample size grows to infinity as the sample reaches the whole stratum)."""
    if labelled <= 0:
        return 0.5, 0.0, 1.0
    p = same / labelled
    if labelled >= population:
        return p, p, p
    n = labelled * (population - 1) / (population - labelled)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # exact at the edges: all labels "same" → upper bound 1, all "different" → lower bound 0
    lower = 0.0 if same == 0 else max(0.0, centre - half)
    upper = 1.0 if same == labelled else min(1.0, centre + half)
    return p, lower, upper


def _combined(strata: pd.DataFrame, z: float) -> tuple[float, float, float, int]:
    """(share, lower, upper, size) over ``strata`` weighted by their population (MOVER on Wilson bounds)."""
    size = int(strata["population"].sum())
    if size == 0:
        return 0.0, 0.0, 0.0, 0
    rows = [
        wilson_interval(int(s.same), int(s.labelled), int(s.population), z)
        for s in strata.itertuples(index=False)
    ]
    shares = np.array(rows, dtype=float).reshape(-1, 3)
    n = strata["population"].to_numpy(dtype=float)
    # one division each, so that strata that all agree give exactly 0 or 1 (no rounding drift)
    p = float((n * shares[:, 0]).sum()) / size
    lower = p - math.sqrt(float((n**2 * (shares[:, 0] - shares[:, 1]) ** 2).sum())) / size
    upper = p + math.sqrt(float((n**2 * (shares[:, 2] - shares[:, 0]) ** 2).sum())) / size
    return p, max(0.0, lower), min(1.0, upper), size


@dataclass(frozen=True)
class AgreementEstimate:
    """Estimated pairwise precision and recall of one entity type, with confidence intervals."""

    entity_type: str
    level: float
    predicted_pairs: int
    pairs_in_population: int
    labelled: int
    precision: float
    precision_low: float
    precision_high: float
    recall: float
    recall_low: float
    recall_high: float
    true_positive_pairs: float
    missed_pairs: float

    def as_dict(self) -> dict:
        return asdict(self)


def estimate_agreement(strata: pd.DataFrame, entity_type: str = "", level: float = 0.95) -> AgreementEstimate:
    """Precision and recall with intervals from per-stratum counts (:data:`STRATUM_COLUMNS`: ``linked``
    bool, ``population`` pairs in the stratum, ``labelled`` pairs labelled same or different, ``same``)."""
    z = NormalDist().inv_cdf(0.5 + level / 2)
    z_each = NormalDist().inv_cdf(0.5 + (1 - (1 - level) / 2) / 2)
    linked = strata[strata["linked"].astype(bool)]
    apart = strata[~strata["linked"].astype(bool)]
    precision, p_low, p_high, predicted = _combined(linked, z)
    if predicted == 0:
        precision = p_low = p_high = 1.0  # no pair claimed: nothing claimed wrongly (as quality.py counts it)
    _, tp_low, tp_high, _ = _combined(linked, z_each)
    miss, miss_low, miss_high, outside = _combined(apart, z_each)
    tp = predicted * precision
    fn = outside * miss

    def ratio(found: float, missed: float) -> float:
        return found / (found + missed) if found + missed > 0 else 1.0

    tp_low, tp_high = (predicted * tp_low, predicted * tp_high) if predicted else (0.0, 0.0)
    return AgreementEstimate(
        entity_type=entity_type,
        level=level,
        predicted_pairs=predicted,
        pairs_in_population=predicted + outside,
        labelled=int(strata["labelled"].sum()),
        precision=precision,
        precision_low=p_low,
        precision_high=p_high,
        recall=ratio(tp, fn),
        recall_low=ratio(tp_low, outside * miss_high),
        recall_high=ratio(tp_high, outside * miss_low),
        true_positive_pairs=tp,
        missed_pairs=fn,
    )


__all__ = ["STRATUM_COLUMNS", "AgreementEstimate", "estimate_agreement", "wilson_interval"]
