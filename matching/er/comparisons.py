"""Comparisons (比对): for every candidate pair, one level per comparison, best level first.

A comparison turns a pair of records into a small integer — its *level* (0 = best, e.g. exact; the last level
is "everything else"; -1 = one side is missing, which carries no evidence). Scoring gives every level a
weight. All comparisons work on arrays of pairs: per-record values are prepared once (factorised codes,
parsed dates, pinyin), then indexed by the pairs' left and right positions and compared with numpy or
rapidfuzz's batch functions (``process.cpdist``); fuzzy scorers run only on pairs that are not exact.

Kinds (``COMPARISON_KINDS``):

=============== ======================================================================================
exact           equal / different (``transform``: digits, lower; ``null_values``)
string          exact, then Jaro-Winkler thresholds (``jaro_winkler``) or edit distances (``levenshtein``)
person_name     姓名: exact, homophone (same pinyin, 同音字), one character different, one character of the
                given name different (same surname: 思雨 / 思琪), else
code            ID numbers, phones, credit codes: exact, one character, adjacent transposition, else
date            exact, day/month swapped, one digit, optional ``within_days``, else
address         same address code (户室), same building (楼栋), similar text, same grid (网格), else
                (``distinct_codes``: two different codes are a ``different_address``)
address_numbers the text's numbered elements (组/号/栋/单元/室, read the parser's way): same, same room,
                fewer, else (``bound_code``: where both are bound, the codes stand for the texts)
address_place   the road / estate / village the text names: same places, same place, other place
                (``bound_code``: silent where both are bound)
org_name        单位名称 after removing 组织形式 and splitting 分支机构: exact, same core other branch,
                similar, related, else
numeric         equal, within ``relative`` / ``absolute`` thresholds, else
geo_distance    within ``meters`` thresholds (haversine on lon/lat), else
=============== ======================================================================================

The base class and its pair helpers are in :mod:`matching.er.comparison_base`; the kinds in
:mod:`matching.er.comparison_strings` (exact, string, person_name, org_name), :mod:`matching.er.comparison_codes`
(code, date) and :mod:`matching.er.comparison_places` (address, numeric, geo_distance).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.er.comparison_base import Comparison
from matching.er.comparison_codes import Code, DateComparison
from matching.er.comparison_places import Address, AddressNumbers, AddressPlace, GeoDistance, Numeric
from matching.er.comparison_strings import Exact, OrgName, PersonName, String
from matching.er.settings import ComparisonSpec, SettingsError

COMPARISON_KINDS: dict[str, type[Comparison]] = {
    "exact": Exact,
    "string": String,
    "person_name": PersonName,
    "code": Code,
    "date": DateComparison,
    "address": Address,
    "address_numbers": AddressNumbers,
    "address_place": AddressPlace,
    "org_name": OrgName,
    "numeric": Numeric,
    "geo_distance": GeoDistance,
}


def build_comparisons(specs: tuple[ComparisonSpec, ...] | list[ComparisonSpec]) -> list[Comparison]:
    """Comparison objects for a settings' specs."""
    out = []
    for spec in specs:
        try:
            out.append(COMPARISON_KINDS[spec.kind](spec))
        except KeyError:
            raise SettingsError(f"comparison {spec.name}: unknown kind {spec.kind!r}") from None
    return out


#: pairs compared at a time (issue #19): bounds the comparisons stage's memory at any number of pairs
PAIR_CHUNK = 1_000_000


class PreparedComparisons:
    """The comparisons of one settings, prepared over one mentions frame.

    ``keep_prepared=False`` (the engine, issue #19): no comparison's per-record values are kept;
    :meth:`levels_one_at_a_time` prepares one comparison, compares every pair set with it and lets it go before
    the next, keeping only its exact-agreement codes (:meth:`exact_codes`). The per-record values of all the
    comparisons (≈ 330 bytes a person mention at 300k) are never in memory together; :attr:`prep` prepares
    them all again if asked.
    """

    def __init__(
        self,
        df: pd.DataFrame,
        specs: tuple[ComparisonSpec, ...] | list[ComparisonSpec],
        *,
        keep_prepared: bool = True,
    ):
        self.df = df
        self.comparisons = build_comparisons(specs)
        self._prep = [c.prepare(df) for c in self.comparisons] if keep_prepared else None
        self._exact: dict[int, np.ndarray | None] = {}

    @property
    def prep(self) -> list[dict[str, np.ndarray]]:
        """Every comparison's per-record values (prepared now if they were not kept)."""
        if self._prep is None:
            self._prep = [c.prepare(self.df) for c in self.comparisons]
        return self._prep

    def exact_codes(self, k: int) -> np.ndarray | None:
        """Comparison ``k``'s per-record codes whose equality is its level 0 (None: it has none)."""
        if k in self._exact:
            return self._exact[k]
        return self.comparisons[k].exact_codes(self.prep[k])

    def levels(self, left: np.ndarray, right: np.ndarray, chunk: int = PAIR_CHUNK) -> np.ndarray:
        """Level matrix (pairs × comparisons, int8; -1 = missing on a side), ``chunk`` pairs at a time: a
        comparison's per-pair intermediates (the two sides' texts, scores) never exceed one chunk, whatever
        the number of pairs (a pair's level depends on that pair alone)."""
        out = np.empty((len(left), len(self.comparisons)), dtype=np.int8)
        for start in range(0, len(left), chunk):
            lo, hi = left[start : start + chunk], right[start : start + chunk]
            for k, (c, p) in enumerate(zip(self.comparisons, self.prep, strict=True)):
                out[start : start + len(lo), k] = c.compare(p, lo, hi)
        return out

    def levels_one_at_a_time(
        self, pair_sets: list[tuple[np.ndarray, np.ndarray]], chunk: int = PAIR_CHUNK
    ) -> list[np.ndarray]:
        """:meth:`levels` of each (left, right) pair set, a comparison at a time: each comparison is prepared,
        compares every set ``chunk`` pairs at a time and is let go (its exact codes kept) before the next is
        prepared. The same levels as :meth:`levels`: a pair's level depends on that pair alone."""
        outs = [np.empty((len(left), len(self.comparisons)), dtype=np.int8) for left, _ in pair_sets]
        for k, c in enumerate(self.comparisons):
            p = self._prep[k] if self._prep is not None else c.prepare(self.df)
            self._exact[k] = c.exact_codes(p)
            for out, (left, right) in zip(outs, pair_sets, strict=True):
                for start in range(0, len(left), chunk):
                    lo, hi = left[start : start + chunk], right[start : start + chunk]
                    out[start : start + len(lo), k] = c.compare(p, lo, hi)
            del p
        return outs
