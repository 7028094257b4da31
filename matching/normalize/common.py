"""Pieces the normalisers share: code cleaning, byte matrices, and results mapped back onto the rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from matching.text import arrow_to_series, as_string_array, normalize_text

#: "No value" for ``np.where``'s other branch (what a plain ``None`` becomes there, spelled so numpy's type
#: stubs accept it).
NO_VALUE = np.array(None, dtype=object)


def digits_matrix(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) matrix of the ASCII codes of ``n`` strings that all have length ``width``."""
    if len(values) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    buf = "".join(values.tolist()).encode("ascii")
    return np.frombuffer(buf, dtype=np.uint8).reshape(len(values), width)


def clean_code(s: pd.Series) -> pd.Series:
    """normalize_text, upper-case, separators and an Excel leading apostrophe removed."""
    t = normalize_text(s)
    arr = as_string_array(t)
    arr = pc.replace_substring_regex(arr, r"[\s\-_.'’‘\"/]", "")
    arr = pc.utf8_upper(arr)
    out = arrow_to_series(arr, s.index)
    return out.mask(out.str.len() == 0)


class DistinctValues:
    """The distinct values of a column (``pd.factorize`` codes) and how to map per-value results back.

    Normalisers work once per distinct value (feeds repeat values a lot); :meth:`mapped` puts a per-value
    result back onto every row of the column, missing where the row had no value.
    """

    def __init__(self, s: pd.Series):
        self.index = s.index
        self.codes, self.uniques = pd.factorize(s, use_na_sentinel=True)
        self.missing = self.codes < 0
        self._take = np.where(self.missing, 0, self.codes)

    def mapped(self, values: np.ndarray, dtype: str | pd.ArrowDtype) -> pd.Series:
        """Per-distinct-value ``values`` as a column aligned to the rows, NA where a row had no value."""
        if len(self.uniques) == 0:
            return pd.Series(pd.NA, index=self.index, dtype=dtype)
        out = pd.Series(np.asarray(values, dtype=object)[self._take], index=self.index, dtype=object)
        out[self.missing] = None
        return out.astype(dtype)
