"""What every comparison shares: the :class:`Comparison` base class and the pair helpers its kinds use.

A comparison turns a pair of records into a small integer, its *level* (0 = best; the last level is
"everything else"; :data:`NULL` = one side is missing, which carries no evidence). Per-record values are
prepared once (:meth:`Comparison.prepare`), then indexed by the pairs' left and right positions
(:meth:`Comparison.compare`). The kinds are in :mod:`matching.er.comparison_strings`,
:mod:`matching.er.comparison_codes` and :mod:`matching.er.comparison_places`; :mod:`matching.er.comparisons`
lists them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import process

from matching.er import text
from matching.er.settings import ComparisonSpec, SettingsError

NULL = np.int8(-1)
_WORKERS = 1  # the machines are small and shared; rapidfuzz's C loop is fast enough single-threaded


def column_or_missing(df: pd.DataFrame, name: str) -> pd.Series:
    """Column ``name`` of ``df``, or an all-missing string column when the mentions do not have it."""
    if name in df.columns:
        return df[name]
    return pd.Series(pd.NA, index=df.index, dtype="string")


def _shown_value(v):
    """A value as a reviewer reads it: a date without its midnight time."""
    if isinstance(v, pd.Timestamp) and v == v.normalize():
        return v.date()
    return v


#: per-record codes: dense, so below the number of records (int32: 4 bytes a record and column, not 8; issue #19)
CODE_DTYPE = np.int32


def factorised_codes(s: pd.Series) -> np.ndarray:
    """Dense codes (:data:`CODE_DTYPE`) of the values as strings (equal values, equal codes); -1 where missing."""
    codes, _ = pd.factorize(text.as_string(s), use_na_sentinel=True)
    return codes.astype(CODE_DTYPE)


def codes_and_objects(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """:func:`factorised_codes` and the values as :func:`matching.er.text.to_object` gives them, one Python
    string per distinct value shared by the records holding it (issue #19: a string per record was 50–140 bytes
    each for names, ID numbers, phones and addresses that repeat)."""
    codes, uniques = pd.factorize(text.as_string(s), use_na_sentinel=True)
    values = np.asarray(uniques.to_numpy(dtype=object, na_value=None), dtype=object)
    out = np.full(len(codes), None, dtype=object)
    present = codes >= 0
    out[present] = values[codes[present]]
    return codes.astype(CODE_DTYPE), out


def exact_then_rest(
    code: np.ndarray, left: np.ndarray, right: np.ndarray, n_levels: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Levels with equal codes at 0, a missing side at NULL and the rest at the last level; the pairs still to
    grade (both present, different); the last level's index. The caller grades only those pairs."""
    a, b = code[left], code[right]
    last = n_levels - 1
    out = np.full(len(left), last, dtype=np.int8)
    out[a == b] = 0
    out[(a < 0) | (b < 0)] = NULL
    return out, np.flatnonzero((a != b) & (a >= 0) & (b >= 0)), last


def pair_scores(scorer, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``scorer`` (a rapidfuzz similarity or distance) of each pair ``a[i]``, ``b[i]``, in one batch call."""
    if len(a) == 0:
        return np.empty(0, dtype=np.float64)
    return process.cpdist(list(a), list(b), scorer=scorer, workers=_WORKERS)


class Comparison:
    """Base class: ``prepare`` per-record arrays once, then ``compare`` arrays of pairs into levels."""

    levels: tuple[str, ...] = ("exact", "else")

    def __init__(self, spec: ComparisonSpec):
        self.spec = spec
        self.name = spec.name
        self.options = spec.options

    # per-record preparation ------------------------------------------------------------------------------
    def prepare(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def compare(self, prep: dict[str, np.ndarray], left: np.ndarray, right: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fixed_m(self) -> dict[int, float]:
        """Levels whose m is known from the domain rather than learnt (level index → m); ``options.fixed_m``
        ({level name: m}) sets them in config."""
        named = {str(k): float(v) for k, v in (self.options.get("fixed_m") or {}).items()}
        unknown = set(named) - set(self.levels)
        if unknown:
            raise SettingsError(
                f"comparison {self.name}: fixed_m names unknown levels {sorted(unknown)}; "
                f"levels are {list(self.levels)}"
            )
        return {self.levels.index(k): v for k, v in named.items()}

    def exact_codes(self, prep: dict[str, np.ndarray]) -> np.ndarray | None:
        """Per-record codes whose equality is level 0 (for u by value frequencies and term frequencies)."""
        return prep.get("code")

    def tf_key(self, df: pd.DataFrame) -> pd.Series:
        """The values whose equality is level 0, for term-frequency counts over all mentions."""
        s = text.as_string(column_or_missing(df, self.spec.columns[0]))
        null_values = self.options.get("null_values")
        return s.mask(s.isin(list(null_values))) if null_values else s

    def tf_keys(self, df: pd.DataFrame) -> dict[int, pd.Series]:
        """Per level whose agreement term frequencies weigh: the values whose equality is that level (level 0:
        :meth:`tf_key`; a kind may count a coarser level by its own values, as ``org_name`` does)."""
        return {0: self.tf_key(df)}

    def display(self, df: pd.DataFrame, position: int) -> str:
        vals = [_shown_value(df[c].iloc[position]) if c in df.columns else None for c in self.spec.columns]
        return " / ".join(
            "∅" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v) for v in vals
        )

    # helpers ---------------------------------------------------------------------------------------------
    def _strings(self, s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        s = text.as_string(s)
        null_values = self.options.get("null_values")
        if null_values:
            s = s.mask(s.isin(list(null_values)))
        return codes_and_objects(s)
