"""Comparisons of identifiers and dates: ``code`` (身份证号, 手机号, 统一社会信用代码) and ``date`` (出生日期)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz.distance import OSA, Hamming

from matching.er import text
from matching.er.comparison_base import Comparison, column_or_missing, exact_then_rest, pair_scores
from matching.er.settings import SettingsError


class Code(Comparison):
    """Identifiers (身份证号, 手机号, 统一社会信用代码): exact, one character wrong, two neighbours swapped, else.

    With more than one column the first present value is compared: persons compare ``id_number_given`` (the
    number as given, its check character right or not, so that a typo stays evidence) and fall back to
    ``id_number`` (valid numbers only) for mentions that lack the given one.

    ``within`` adds a level for an edit distance up to that many (e.g. 2). ``checksum`` (``resident_id``:
    GB 11643; ``credit_code``: GB 32100) adds a ``conflict`` level before ``else``: both values carry a valid
    check character and still differ — two real, different numbers, not a typo (a typo almost always breaks the
    check character). Its m is not learnt but fixed (``conflict_m``, default 1e-4: a true match whose two
    numbers are both valid and more than a typo apart): left to EM, people who share a name and a birth date
    (同名同生日) make it look common among matches, and EM then joins exactly those people.
    """

    def __init__(self, spec):
        super().__init__(spec)
        self.within = tuple(int(x) for x in self.options.get("within", []))
        self.checksum = self.options.get("checksum")
        if self.checksum not in (None, "resident_id", "credit_code"):
            raise SettingsError(
                f"comparison {self.name}: unknown checksum {self.checksum!r} (resident_id or credit_code)"
            )
        self.levels = (
            "exact",
            "one_char",
            "transposition",
            *[f"edits<={w}" for w in self.within],
            *(["conflict"] if self.checksum else []),
            "else",
        )

    def fixed_m(self):
        out = super().fixed_m()
        if self.checksum:
            out.setdefault(self.levels.index("conflict"), float(self.options.get("conflict_m", 1e-4)))
        return out

    def values(self, df):
        """The first column, filled from the next ones where it is missing (``[id_number_given, id_number]``:
        the number as given, else the valid one)."""
        s = text.as_string(column_or_missing(df, self.spec.columns[0]))
        for other in self.spec.columns[1:]:
            if s.isna().any() and other in df.columns:
                s = s.fillna(text.as_string(df[other]))
        return s

    def tf_key(self, df):
        s = self.values(df)
        null_values = self.options.get("null_values")
        return s.mask(s.isin(list(null_values))) if null_values else s

    def prepare(self, df):
        code, obj = self._strings(self.values(df))
        prep = {"code": code, "obj": obj}
        if self.checksum:
            prep["valid"] = _valid_check_characters(obj, self.checksum)
        return prep

    def compare(self, prep, left, right):
        out, rest, last = exact_then_rest(prep["code"], left, right, len(self.levels))
        if len(rest):
            fl, fr = prep["obj"][left[rest]], prep["obj"][right[rest]]
            osa = pair_scores(OSA.distance, fl, fr)
            ham = pair_scores(Hamming.distance, fl, fr)  # unequal lengths: length difference counts
            lv = np.full(len(rest), last, dtype=np.int8)
            lv[(osa == 1) & (ham == 2)] = 2  # an adjacent swap: two positions differ, one edit apart
            lv[(osa == 1) & (ham != 2)] = 1
            for k, w in enumerate(self.within):
                lv[(lv == last) & (osa <= w)] = 3 + k
            if self.checksum:
                both_valid = prep["valid"][left[rest]] & prep["valid"][right[rest]]
                lv[(lv == last) & both_valid] = last - 1
            out[rest] = lv
        return out


def _valid_check_characters(obj: np.ndarray, kind: str) -> np.ndarray:
    """Per value: an 18-character code whose check character is right (GB 11643 or GB 32100)."""
    from warehouse.checkchars import CREDIT_VALUE, credit_code_check_chars, resident_id_check_chars

    s = pd.Series(obj, dtype="string")
    pattern = r"\d{17}[\dX]" if kind == "resident_id" else r"[0-9A-HJ-NPQRTUWXY]{18}"
    ok = s.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)
    out = np.zeros(len(obj), dtype=bool)
    if ok.any():
        m = np.frombuffer("".join(s[ok].tolist()).encode("ascii"), dtype=np.uint8).reshape(-1, 18)
        check = (
            resident_id_check_chars(m) if kind == "resident_id" else credit_code_check_chars(CREDIT_VALUE[m])
        )
        out[ok] = check == m[:, 17]
    return out


def _date_digits(s: pd.Series) -> pd.Series:
    """Dates as 'YYYYMMDD' strings: date/datetime values are formatted, strings keep their digits."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        out = s.dt.strftime("%Y%m%d").astype("string")
    else:
        first = s.dropna().head(1)
        if isinstance(s.dtype, pd.StringDtype) or (len(first) and isinstance(first.iloc[0], str)):
            out = text.as_string(s.astype("string")).str.replace(r"\D", "", regex=True)
        else:
            out = pd.to_datetime(s, errors="coerce").dt.strftime("%Y%m%d").astype("string")
    return out.mask(out.str.len() != 8)


def one_digit_apart(a: np.ndarray, b: np.ndarray, width: int = 8) -> np.ndarray:
    """Per pair of ``width``-digit numbers (YYYYMMDD): one digit different, or two neighbouring digits swapped.

    The same as an optimal-string-alignment distance of 1 between the zero-padded digit strings, done with
    integer arithmetic: no strings, no per-pair Python objects (it runs on millions of pairs).
    """
    da = np.empty((width, len(a)), dtype=np.int8)
    db = np.empty((width, len(b)), dtype=np.int8)
    for p in range(width):
        da[p] = (a // 10**p) % 10
        db[p] = (b // 10**p) % 10
    differ = da != db
    n_diff = differ.sum(axis=0)
    swapped = np.zeros(len(a), dtype=bool)
    for p in range(width - 1):
        swapped |= differ[p] & differ[p + 1] & (da[p] == db[p + 1]) & (da[p + 1] == db[p])
    return (n_diff == 1) | ((n_diff == 2) & swapped)


class DateComparison(Comparison):
    """出生日期: exact, day and month swapped (03-04 ↔ 04-03), one digit off, ``within_days``, else."""

    def __init__(self, spec):
        super().__init__(spec)
        self.within = tuple(int(x) for x in self.options.get("within_days", []))
        self.levels = ("exact", "day_month_swap", "one_digit", *[f"within_{d}d" for d in self.within], "else")

    def prepare(self, df):
        s = column_or_missing(df, self.spec.columns[0])
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            ymd = (s.dt.year * 10000 + s.dt.month * 100 + s.dt.day).astype("float64").to_numpy()
        else:
            digits = _date_digits(s)
            ymd = pd.to_numeric(digits, errors="coerce").astype("float64").to_numpy()
        ok = ~np.isnan(ymd)
        # yyyymmdd, its year, month and day fit int32 (issue #19: 4 bytes a record each, not 8)
        ymd_i = np.where(ok, ymd, 0).astype(np.int32)
        code = np.where(ok, ymd_i, np.int32(-1))
        prep = {"code": code, "y": ymd_i // 10000, "m": ymd_i // 100 % 100, "d": ymd_i % 100}
        if self.within:  # days since 1900 only where a ``within_days`` level reads them
            days = pd.to_datetime(pd.Series(ymd_i).astype(str), format="%Y%m%d", errors="coerce")
            prep["ordinal"] = ((days - pd.Timestamp("1900-01-01")).dt.days).astype("float64").to_numpy()
        return prep

    def tf_key(self, df):
        return pd.Series(self.prepare(df)["code"], index=df.index).astype("Int64").mask(lambda x: x < 0)

    def compare(self, prep, left, right):
        out, rest, last = exact_then_rest(prep["code"], left, right, len(self.levels))
        if len(rest):
            li, ri = left[rest], right[rest]
            swap = (
                (prep["y"][li] == prep["y"][ri])
                & (prep["m"][li] == prep["d"][ri])
                & (prep["d"][li] == prep["m"][ri])
            )
            lv = np.full(len(rest), last, dtype=np.int8)
            lv[one_digit_apart(prep["code"][li], prep["code"][ri])] = 2
            lv[swap] = 1
            if self.within:
                gap = np.abs(prep["ordinal"][li] - prep["ordinal"][ri])
                for k, w in enumerate(self.within):
                    lv[(lv == last) & (gap <= w)] = 3 + k
            out[rest] = lv
        return out
