"""Scoring (打分): Fellegi–Sunter match weights with m and u estimated from the data, no labels needed.

For every comparison level ℓ, ``m = P(level ℓ | same entity)`` and ``u = P(level ℓ | different entities)``;
a pair's match weight is ``log2(prior odds) + Σ log2(m/u)`` and its match probability ``2^w / (1 + 2^w)``.

* **u** comes from random record pairs (almost all of which are non-matches). For levels that mean "the
  values are equal" u is computed exactly from value frequencies (Σ c_v(c_v−1) / N(N−1)), which is also what
  a random sample estimates, without its noise for rare values.
* **m** comes from expectation–maximisation over the candidate pairs with u held fixed. As in Splink, EM runs
  once per blocking rule over the pairs that satisfy that rule, leaving out the comparisons that read the
  rule's own columns (pairs blocked on the ID number all agree on the ID number, whatever they are); each
  comparison's m is the mean over the rules that could estimate it, each weighted by the matches EM found
  among its pairs (λ × pairs).
* **prior**: the share of candidate pairs EM takes for matches, times the number of candidate pairs, over the
  number of all record pairs — the probability that two random records match, assuming blocking keeps
  (nearly) every match.
* **term frequencies**: on the exact level of a comparison with ``tf: true`` the weight uses the value's own
  frequency instead of the average: two records that are both 张伟 are weaker evidence than two 欧阳雪芬.

* **identity evidence** (``requires_any``): Fellegi–Sunter assumes the comparisons independent given the
  match status. Within a household they are not: two members share a phone, an address and a surname, so
  three agreements that are each rare among random pairs add up (+16.9 for the phone, +14.8 for the address)
  and outweigh a different given name and birth date. The settings name the comparisons that carry a person's
  own identity and the levels at which they agree; a pair without any of them is *held back*: its probability
  is capped halfway between ``cannot_link`` and ``review`` (:func:`hold_back`) — not a match, not a review
  item, and not evidence against either.

Training aggregates pairs into distinct level patterns first, so EM costs nothing even for tens of millions
of pairs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching.er.blocking import CandidatePairs, key_columns
from matching.er.comparisons import PreparedComparisons
from matching.er.settings import EntitySettings
from matching.er.u_sample import _every_pair, _total_pairs, u_pairs  # noqa: F401 - _every_pair: tests
from warehouse.errors import GridhubError

log = logging.getLogger(__name__)

_M_FLOOR = 1e-6
_U_FLOOR = 1e-10


class TrainingError(GridhubError, RuntimeError):
    """The model could not be estimated (e.g. too few records or pairs)."""


@dataclass
class Model:
    """Fellegi–Sunter parameters of one entity type."""

    comparisons: list[str]
    levels: list[list[str]]
    m: list[np.ndarray]
    u: list[np.ndarray]
    prior: float
    tf: list[bool]
    info: dict = field(default_factory=dict)
    # exact-level u as measured on random pairs, before the match correction: the base of term-frequency
    # adjustments (value frequencies are measured on the same mixed population); None = same as ``u``
    u_random_exact: list[float] | None = None

    def tf_base(self, k: int) -> float:
        """The exact-level probability a value's frequency is compared with (term-frequency adjustment)."""
        if self.u_random_exact is not None:
            return max(float(self.u_random_exact[k]), _U_FLOOR)
        return max(float(self.u[k][0]), _U_FLOOR)

    def weights(self) -> list[np.ndarray]:
        """Per comparison: log2(m/u) per level."""
        return [
            np.log2(np.maximum(m, _M_FLOOR) / np.maximum(u, _U_FLOOR))
            for m, u in zip(self.m, self.u, strict=True)
        ]

    @property
    def prior_weight(self) -> float:
        return float(np.log2(self.prior / (1 - self.prior)))

    def to_dict(self) -> dict:
        return {
            "comparisons": self.comparisons,
            "levels": self.levels,
            "m": [list(map(float, m)) for m in self.m],
            "u": [list(map(float, u)) for u in self.u],
            "prior": float(self.prior),
            "tf": list(self.tf),
            "info": self.info,
            **(
                {"u_random_exact": [float(x) for x in self.u_random_exact]}
                if self.u_random_exact is not None
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Model:
        return cls(
            comparisons=list(d["comparisons"]),
            levels=[list(x) for x in d["levels"]],
            m=[np.asarray(x, dtype=np.float64) for x in d["m"]],
            u=[np.asarray(x, dtype=np.float64) for x in d["u"]],
            prior=float(d["prior"]),
            tf=list(d.get("tf", [False] * len(d["comparisons"]))),
            info=dict(d.get("info", {})),
            u_random_exact=[float(x) for x in d["u_random_exact"]]
            if d.get("u_random_exact") is not None
            else None,
        )


# ---- u --------------------------------------------------------------------------------------------------
def _exact_u(codes: np.ndarray, source: np.ndarray | None) -> float | None:
    """P(two random records agree exactly | both present), from value frequencies."""
    ok = codes >= 0
    if ok.sum() < 2:
        return None
    # dense codes (a date's yyyymmdd bincount was 330 MB); integer sums < 2⁵³ are exact: the same result, bit for bit
    dense = pd.factorize(codes)[0]  # only the present records' codes are counted (``ok``)
    if source is None:
        c = np.bincount(dense[ok]).astype(np.float64)
        n = c.sum()
        return float((c * (c - 1)).sum() / (n * (n - 1)))
    agree, total = 0.0, 0.0
    srcs = np.unique(source[ok])
    per = {
        s: np.bincount(dense[ok & (source == s)], minlength=dense.max() + 1).astype(np.float64) for s in srcs
    }
    for a_i, a in enumerate(srcs):
        for b in srcs[a_i + 1 :]:
            agree += float((per[a] * per[b]).sum())
            total += per[a].sum() * per[b].sum()
    return agree / total if total else None


def estimate_u(
    prepared: PreparedComparisons,
    settings: EntitySettings,
    source: np.ndarray | None,
    levels: np.ndarray | None = None,
) -> list[np.ndarray]:
    """u per comparison level from random pairs (exact levels from value frequencies); ``levels``: the
    :func:`u_pairs`' levels when the caller compared them already."""
    if levels is None:
        levels = prepared.levels(*u_pairs(len(prepared.df), settings, source))
    out = []
    for k, comp in enumerate(prepared.comparisons):
        n_levels = len(comp.levels)
        lv = levels[:, k]
        lv = lv[lv >= 0]
        counts = np.bincount(lv, minlength=n_levels).astype(np.float64)
        total = max(counts.sum(), 1.0)
        floor = 0.5 / total
        u = np.maximum(counts / total, floor)
        codes = prepared.exact_codes(k)
        exact = _exact_u(codes, source) if codes is not None else None
        if exact is not None:
            exact = float(np.clip(exact, _U_FLOOR, 1 - floor))
            rest = u[1:] / u[1:].sum() if u[1:].sum() > 0 else np.full(n_levels - 1, 1 / (n_levels - 1))
            u = np.r_[exact, rest * (1 - exact)]
        else:
            u = u / u.sum()
        out.append(u)
    return out


# ---- EM -------------------------------------------------------------------------------------------------
def _patterns(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a level matrix and how often each occurs."""
    if len(levels) == 0:
        return np.empty((0, levels.shape[1]), dtype=np.int8), np.empty(0, dtype=np.float64)
    # levels + 1 (missing → 0) a column at a time: no int64 copy of the matrix (0.7 GB at 7.3 M pairs, issue #19)
    radix, code = levels.max(axis=0).astype(np.int64) + 2, np.zeros(len(levels), dtype=np.int64)
    for k in range(levels.shape[1]):
        code *= radix[k]
        code += levels[:, k] + np.int64(1)
    # hashed, not sorted (millions of pairs, a few hundred patterns): then the few patterns sorted, the order
    # np.unique gave, and each decoded from its code
    at, uniq = pd.factorize(code)
    order = np.argsort(uniq, kind="stable")
    counts = np.bincount(at, minlength=len(uniq))[order]
    rest = np.asarray(uniq, dtype=np.int64)[order]
    patterns = np.empty((len(rest), levels.shape[1]), dtype=levels.dtype)
    for k in reversed(range(levels.shape[1])):
        patterns[:, k] = rest % radix[k] - 1
        rest = rest // radix[k]
    return patterns, counts.astype(np.float64)


def _log_bf(patterns: np.ndarray, m: list[np.ndarray], u: list[np.ndarray], active: list[int]) -> np.ndarray:
    out = np.zeros(len(patterns))
    for k in active:
        w = np.log(np.maximum(m[k], _M_FLOOR)) - np.log(np.maximum(u[k], _U_FLOOR))
        w = np.r_[w, 0.0]  # level -1 (missing) indexes the appended 0
        out += w[patterns[:, k]]
    return out


def _posterior(log_bf: np.ndarray, lam: float) -> np.ndarray:
    z = np.log(lam) - np.log1p(-lam) + log_bf
    return 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))


def run_em(
    patterns: np.ndarray,
    counts: np.ndarray,
    m: list[np.ndarray],
    u: list[np.ndarray],
    active: list[int],
    *,
    lam: float = 0.3,
    max_iterations: int = 30,
    update_m: bool = True,
    tol: float = 1e-5,
    supported: set[int] | None = None,
    fixed: dict[int, dict[int, float]] | None = None,
) -> tuple[list[np.ndarray], float, int]:
    """EM over level patterns with u fixed: returns m (updated for ``active``), λ and iterations run.

    ``supported`` (if given) collects the comparisons that were present on at least one pair; ``fixed``
    (comparison → {level: m}) holds levels whose m is known and not re-estimated."""
    fixed = fixed or {}
    m = [_pin(x, fixed.get(k, {})) for k, x in enumerate(m)]
    it = 0
    for it in range(1, max_iterations + 1):  # noqa: B007 - the count is returned
        p = _posterior(_log_bf(patterns, m, u, active), lam)
        pc = p * counts
        new_lam = float(np.clip(pc.sum() / counts.sum(), 1e-9, 1 - 1e-9))
        delta = abs(new_lam - lam)
        lam = new_lam
        if update_m:
            for k in active:
                lv = patterns[:, k]
                ok = lv >= 0
                num = np.bincount(lv[ok], weights=pc[ok], minlength=len(m[k]))
                den = num.sum()
                if den <= 0:
                    continue
                if supported is not None:
                    supported.add(k)
                new_m = np.maximum(num / den, _M_FLOOR)
                new_m = _pin(new_m / new_m.sum(), fixed.get(k, {}))
                delta = max(delta, float(np.abs(new_m - m[k]).max()))
                m[k] = new_m
        if delta < tol:
            break
    return m, lam, it


def _pin(m: np.ndarray, fixed: dict[int, float]) -> np.ndarray:
    """``m`` with the fixed levels set and the others scaled to share what is left."""
    if not fixed:
        return m
    out = m.astype(np.float64).copy()
    idx = np.fromiter(fixed, dtype=np.int64)
    vals = np.fromiter(fixed.values(), dtype=np.float64)
    free = np.ones(len(out), dtype=bool)
    free[idx] = False
    rest = out[free].sum()
    if rest > 0:
        out[free] *= (1.0 - vals.sum()) / rest
    out[idx] = vals
    return out


def _initial_m(n_levels: int) -> np.ndarray:
    if n_levels == 1:
        return np.ones(1)
    rest = 0.5 ** np.arange(1, n_levels)
    return np.r_[0.9, 0.1 * rest / rest.sum()]


# With ``correct_u_for_duplicates`` set, the correction is made when a record has, on average, at least this many other matching records
# (prior × (records − 1)): mentions that repeat like employers in 人社 (dozens per 单位), not people seen in two
# or three feeds, where random pairs are non-matches to within noise and u from them stands.
_CORRECTION_MIN_DUPLICATES = 3.0
_CORRECTION_MAX_FACTOR = 20.0  # the correction lowers a level's u by at most this factor (≈ 4.3 bits)


def match_corrected_u(u_random: list[np.ndarray], m: list[np.ndarray], prior: float) -> list[np.ndarray]:
    """u of non-matching pairs from u of random pairs: solves u_random = prior·m + (1 − prior)·u for u.

    Used when ``correct_u_for_duplicates`` is set and records repeat often enough that random pairs are not
    all non-matches. Each level's u is lowered at most ``_CORRECTION_MAX_FACTOR`` times, floored, and every
    comparison's u renormalised to sum to 1.
    """
    out = []
    for ur, mk in zip(u_random, m, strict=True):
        uc = (ur - prior * mk) / (1.0 - prior)
        uc = np.maximum(uc, ur / _CORRECTION_MAX_FACTOR)
        out.append(np.maximum(uc, _U_FLOOR) / np.maximum(uc, _U_FLOOR).sum())
    return out


def _fit(
    comps: list,
    pairs: CandidatePairs,
    levels: np.ndarray,
    settings: EntitySettings,
    u: list[np.ndarray],
    total: float,
) -> tuple[list[np.ndarray], float, float, float, dict]:
    """m by EM per blocking rule with ``u`` fixed, then the prior: (m, prior, λ over candidates, expected, info)."""
    fixed = {k: c.fixed_m() for k, c in enumerate(comps)}
    m_init = [_pin(_initial_m(len(c.levels)), fixed[k]) for k, c in enumerate(comps)]
    estimates: list[list[np.ndarray]] = [[] for _ in comps]
    # each rule's estimate counts with the matches it saw (λ × pairs): a rule that found three matches among
    # fifty pairs (organisations sharing an address) does not outvote one that found forty thousand
    support: list[list[float]] = [[] for _ in comps]
    info: dict = {"rules": {}}
    for r_i, rule in enumerate(settings.blocking):
        sel = pairs.satisfies(r_i)
        if sel.sum() < 20:
            continue
        cols = set().union(*(key_columns(e) for e in rule.on))
        active = [k for k, c in enumerate(comps) if not (set(c.spec.columns) & cols)]
        if not active:
            continue
        pats, cnt = _patterns(levels[sel])
        seen: set[int] = set()
        m_r, lam_r, it = run_em(
            pats,
            cnt,
            m_init,
            u,
            active,
            max_iterations=settings.em_max_iterations,
            supported=seen,
            fixed=fixed,
        )
        active = [k for k in active if k in seen]
        info["rules"][rule.name] = {
            "pairs": int(sel.sum()),
            "lambda": lam_r,
            "iterations": it,
            "estimated": [comps[k].name for k in active],
        }
        for k in active:
            estimates[k].append(m_r[k])
            support[k].append(max(lam_r * float(sel.sum()), 1e-9))
    missing = [k for k, e in enumerate(estimates) if not e]
    if missing and len(levels):
        pats, cnt = _patterns(levels)
        seen = set()
        m_all, _, _ = run_em(
            pats,
            cnt,
            m_init,
            u,
            list(range(len(comps))),
            max_iterations=settings.em_max_iterations,
            supported=seen,
            fixed=fixed,
        )
        for k in missing:
            if k in seen:
                estimates[k].append(m_all[k])
                support[k].append(1.0)
        info["fallback_all_pairs"] = [comps[k].name for k in missing if k in seen]
    m = []
    for k, e in enumerate(estimates):
        # a comparison never present on any candidate pair carries no evidence: m = u (weight 0)
        mk = np.average(e, axis=0, weights=support[k]) if e else u[k].copy()
        m.append(_pin(mk / mk.sum(), fixed[k]) if e else mk / mk.sum())
    # the share of candidate pairs that match, with m and u fixed → the prior over all record pairs
    if len(levels):
        pats, cnt = _patterns(levels)
        _, lam_c, _ = run_em(pats, cnt, m, u, list(range(len(comps))), update_m=False, max_iterations=100)
        expected = lam_c * len(levels)
    else:
        lam_c, expected = 0.0, 0.0
    prior = float(np.clip(expected / max(total, 1.0), 1e-12, 0.5))
    return m, prior, lam_c, expected, info


def train(
    prepared: PreparedComparisons,
    pairs: CandidatePairs,
    levels: np.ndarray,
    settings: EntitySettings,
    source: np.ndarray | None,
    u_levels: np.ndarray | None = None,
) -> Model:
    """Estimate u (random pairs), m (EM per blocking rule) and the prior; see the module docstring.
    ``u_levels``: the levels of :func:`u_pairs` when the caller compared them already."""
    n = len(prepared.df)
    if n < 2:
        raise TrainingError(f"{settings.entity_type}: need at least two records to train, got {n}")
    comps = prepared.comparisons
    u_random = estimate_u(prepared, settings, source, u_levels)
    total = _total_pairs(n, source)
    m, prior, lam_c, expected, info = _fit(comps, pairs, levels, settings, u_random, total)
    u = u_random
    if settings.correct_u_for_duplicates and prior * (n - 1) >= _CORRECTION_MIN_DUPLICATES:
        # Random pairs are a mixture: a share ``prior`` of them are matches. When records repeat a lot (每个
        # 参保人 names his employer, so one 单位 appears dozens of times) that share is large enough that "two
        # random records agree" overstates u for agreeing levels, and a name or credit code agreeing weighs
        # almost nothing. Remove the matches' part (u = (u_random − prior·m) / (1 − prior)) and refit m once.
        u = match_corrected_u(u_random, m, prior)
        m, prior, lam_c, expected, info = _fit(comps, pairs, levels, settings, u, total)
        info["u_corrected_for_prior"] = True
    info.update(
        {
            "records": n,
            "candidate_pairs": int(len(levels)),
            "lambda_candidates": float(lam_c),
            "expected_matches": float(expected),
        }
    )
    log.info(
        "%s: trained on %d pairs; prior %.3g; expected matching pairs %.0f",
        settings.entity_type,
        len(levels),
        prior,
        expected,
    )
    return Model(
        comparisons=[c.name for c in comps],
        levels=[list(c.levels) for c in comps],
        m=m,
        u=u,
        prior=prior,
        tf=[bool(c.spec.tf) for c in comps],
        info=info,
        u_random_exact=[float(x[0]) for x in u_random],
    )


# ---- scoring --------------------------------------------------------------------------------------------
def score(
    levels: np.ndarray,
    model: Model,
    left: np.ndarray | None = None,
    tf: dict[tuple[int, int], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Match weight (bits) and match probability for every pair's level row; ``tf``: term-frequency
    adjustments per (comparison, level) and record, read at ``left`` (:func:`~matching.er.term_frequencies.tf_adjustments`)."""
    w = np.full(len(levels), model.prior_weight)
    for k, wk in enumerate(model.weights()):
        table = np.r_[wk, 0.0]
        w += table[levels[:, k]]
    for (k, level), adjustment in (tf or {}).items():
        if left is not None:
            agree = levels[:, k] == level
            w[agree] += adjustment[left[agree]]
    prob = 1.0 / (1.0 + np.exp2(-np.clip(w, -1000, 1000)))
    return w, prob
