"""Dates (日期) the ways departments write them: one parser for staging (:mod:`connectors.rules`) and matching.

A value is first tried, as written (trimmed), against the formats a feed lists (its ``date_formats``): that is
a *listed* date. Then the text is normalised and tried again, by the listed formats and (with ``common``) by
the common Chinese forms of :data:`COMMON_DATE_FORMATS`:

- full-width digits and punctuation (``２０２３－０５－０１``) as ASCII (NFKC), zero-width characters removed;
- Chinese numerals before 年/月/日/号 (``二〇二三年五月一日``, ``二〇二三年十二月三十一日``) as digits;
- ``号`` / ``號`` read as ``日`` (``2023年5月1号``);
- a trailing time of day dropped (``2023-05-01 00:00:00``, ``2023-05-01T00:00:00``, ``2023-05-01 14:30``).

A date found only that way parses by a form the feed does not list (``listed`` is False): staging keeps it and
tells the department (``date_format_not_listed``). Every format accepts months and days with or without a
leading zero (``2023/5/1``). Work is done once per distinct value of a batch.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.text import INVISIBLE_RE

#: The common Chinese date forms tried after a feed's own ``date_formats``.
COMMON_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
#: What ``excel_serial`` counts from: Excel's day 0 (with its 1900 leap-year bug folded in).
EXCEL_EPOCH = pd.Timestamp("1899-12-30")

_TIME_OF_DAY = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$"
_CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "Ｏ": 0, "O": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_CN_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMERAL = re.compile(f"([{''.join(_CN_DIGITS)}十]+)(?=[年月日号])")


@dataclass
class ParsedDates:
    """The outcome for each value: the date (``date32``, null where none), whether a listed format read it as
    written, and which format read it (``excel_serial`` for a spreadsheet serial day)."""

    dates: pa.Array
    listed: np.ndarray
    formats: np.ndarray  # object: the format string, or None


def _cn_number(text: str) -> str:
    """A date part in Chinese numerals as digits: a year digit by digit (二〇二三), a month or day with 十."""
    if "十" not in text:
        return "".join(str(_CN_DIGITS[c]) for c in text)
    tens, _, ones = text.partition("十")
    if "十" in ones or len(tens) > 1 or len(ones) > 1:
        return text  # not a month or a day: left for the formats to refuse
    return str((_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0))


def normalise_date_text(arr: pa.Array) -> pa.Array:
    """The text a date is read from after the listed formats failed (see the module docstring)."""
    arr = pc.utf8_normalize(arr.cast(pa.string()), form="NFKC")
    arr = pc.replace_substring_regex(arr, INVISIBLE_RE, "")
    arr = pc.utf8_trim_whitespace(arr)
    arr = pc.replace_substring_regex(arr, _TIME_OF_DAY, "")
    arr = pc.replace_substring_regex(arr, r"[号號]$", "日")
    arr = pc.utf8_trim_whitespace(arr)
    has = pc.fill_null(pc.match_substring_regex(arr, f"[{''.join(_CN_DIGITS)}十]"), False)
    if pc.any(has).as_py():
        values = arr.to_numpy(zero_copy_only=False).astype(object)
        idx = np.flatnonzero(has.to_numpy(zero_copy_only=False))
        values[idx] = [_CN_NUMERAL.sub(lambda m: _cn_number(m.group(1)), v) for v in values[idx]]
        arr = pa.array(values, type=pa.string())
    return arr


def _try_formats(
    text: pd.Series, todo: np.ndarray, formats: Sequence[str], out: np.ndarray, used: np.ndarray
):
    """Parse the ``todo`` values of ``text`` by each format in turn; fill ``out`` / ``used``, clear ``todo``."""
    for fmt in formats:
        if not todo.any():
            return
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        ok = parsed.notna().to_numpy()
        if ok.any():
            where = np.flatnonzero(todo)[ok]
            out[where] = parsed[ok].to_numpy().astype("datetime64[D]")
            used[where] = fmt
            todo[where] = False


def parse_date_strings(
    values: pa.Array,
    formats: Sequence[str] = (),
    *,
    common: bool = True,
    excel_serial: bool = False,
    earliest: dt.date | None = None,
    latest: dt.date | None = None,
) -> ParsedDates:
    """Read a string array as dates (see the module docstring); empty and null values give null.

    ``formats`` are tried as written, then on the normalised text, then (``common``) the
    :data:`COMMON_DATE_FORMATS`; with ``excel_serial`` a 5-digit number is a spreadsheet serial day
    (``44927`` → 2023-01-01). Dates outside ``earliest``..``latest`` are not dates.
    """
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    enc = pc.dictionary_encode(arr.cast(pa.string()))
    uniq = enc.dictionary
    n = len(uniq)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    used = np.full(n, None, dtype=object)
    as_written = pd.Series(pc.utf8_trim_whitespace(uniq).to_numpy(zero_copy_only=False), dtype=object)
    todo = (as_written.str.len() > 0).to_numpy(dtype=bool, na_value=False).copy()
    _try_formats(as_written, todo, formats, out, used)
    listed = ~np.isnat(out)
    if todo.any():
        norm = pd.Series(normalise_date_text(uniq).to_numpy(zero_copy_only=False), dtype=object)
        todo &= (norm.str.len() > 0).to_numpy(dtype=bool, na_value=False)
        more = [f for f in COMMON_DATE_FORMATS if f not in formats] if common else []
        _try_formats(norm, todo, list(formats) + more, out, used)
        if excel_serial and todo.any():
            serial = todo & norm.str.fullmatch(r"\d{5}(?:\.0+)?").to_numpy(dtype=bool, na_value=False)
            if serial.any():
                days = pd.to_numeric(norm[serial]).to_numpy().astype("int64")
                out[serial] = (EXCEL_EPOCH.to_datetime64() + days.astype("timedelta64[D]")).astype(
                    "datetime64[D]"
                )
                used[serial] = "excel_serial"
    if earliest is not None or latest is not None:
        lo = np.datetime64(earliest or dt.date.min, "D")
        hi = np.datetime64(latest or dt.date.max, "D")
        outside = ~np.isnat(out) & ((out < lo) | (out > hi))
        out[outside] = np.datetime64("NaT")
        used[outside] = None
        listed &= ~outside
    idx = enc.indices
    dates = pa.array(out, type=pa.date32(), from_pandas=True).take(idx)
    taken = pc.fill_null(idx, 0).to_numpy(zero_copy_only=False) if len(idx) else np.zeros(0, dtype=np.int64)
    present = idx.is_valid().to_numpy(zero_copy_only=False)
    if not n:  # nothing but nulls
        return ParsedDates(dates, np.zeros(len(idx), dtype=bool), np.full(len(idx), None, dtype=object))
    row_used = used[taken]
    row_used[~present] = None
    row_listed: np.ndarray = listed[taken] & present
    return ParsedDates(dates=dates, listed=row_listed, formats=row_used)


__all__ = ["COMMON_DATE_FORMATS", "EXCEL_EPOCH", "ParsedDates", "normalise_date_text", "parse_date_strings"]
