"""Text normalisation shared by every normaliser and by the address matcher (文本规范化).

Department extracts write the same thing many ways: full-width digits and letters (１２３, ＡＢＣ), 繁体
characters (臺灣, 號, 棟), ideographic spaces, tabs, zero-width spaces, and Chinese numerals (十八号, 三栋,
二单元). :func:`normalize_text` is the one base every other normaliser builds on:

1. Unicode NFKC, which folds full-width forms to half-width (``１２３`` → ``123``, ``　`` → space);
2. whitespace folded (runs of spaces, tabs, newlines, zero-width characters → one space, trimmed);
3. 繁→简 with OpenCC (``t2s``).

All functions work on the *distinct* values of a column (feeds repeat values a lot) with Arrow compute
kernels, and map the results back with ``take``; the only per-value Python work is OpenCC, which is handed
all distinct values at once as one newline-joined string.

Chinese numerals are converted only where they count something (:func:`convert_numerals_before`), because a
blanket conversion rewrites place names (四川 → 4川, 五一路 → 51路).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.errors import GridhubError

log = logging.getLogger(__name__)

#: Characters removed outright: zero-width space / joiners, BOM, soft hyphen.
_INVISIBLE = r"[\x{200B}-\x{200D}\x{2060}\x{FEFF}\x{00AD}]"
#: Whitespace after NFKC (NFKC already maps U+3000 and U+00A0 to a plain space).
_WHITESPACE = r"[\s\x{0085}\x{2028}\x{2029}]+"

_DIGITS = {
    "零": 0,
    "〇": 0,
    "○": 0,
    "Ｏ": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "壹": 1,
    "贰": 2,
    "叁": 3,
    "肆": 4,
    "伍": 5,
    "陆": 6,
    "柒": 7,
    "捌": 8,
    "玖": 9,
}
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
#: Characters a Chinese numeral is made of (as a regex character class body).
NUMERAL_CHARS = "".join(_DIGITS) + "".join(_UNITS)


class NumeralError(GridhubError, ValueError):
    """A string that is not a Chinese numeral was given to :func:`chinese_to_int`."""


def as_string_array(values: pd.Series | pa.Array | Iterable[str | None]) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        arr = values
    elif isinstance(values, pd.Series):
        arr = pa.array(values.astype("string").to_numpy(dtype=object, na_value=None), type=pa.string())
    else:
        arr = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def map_distinct(s: pd.Series, func: Callable[[pa.Array], pa.Array]) -> pd.Series:
    """Apply an Arrow-array function to the distinct non-null values of ``s`` and map back onto ``s``.

    ``func`` receives a string array without nulls and must return an array of the same length. The result
    has the index of ``s`` and pandas' ``string`` dtype (missing values stay ``<NA>``).
    """
    codes, uniques = pd.factorize(s.astype("string"), use_na_sentinel=True)
    done = func(as_string_array(pd.Series(uniques, dtype="string")))
    if isinstance(done, pa.ChunkedArray):
        done = done.combine_chunks()
    if len(done) != len(uniques):
        raise ValueError("map_distinct: the function changed the number of values")
    take = pa.array(np.where(codes < 0, 0, codes), mask=codes < 0) if len(uniques) else None
    if take is None:
        return pd.Series(pd.NA, index=s.index, dtype="string")
    return arrow_to_series(pc.take(done, take), s.index)


def arrow_to_series(arr: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    """A string Arrow array as a pandas ``string`` Series on ``index`` (positional, no alignment)."""
    values = arr.to_numpy(zero_copy_only=False)
    return pd.Series(pd.array(values, dtype="string"), index=index)


@lru_cache(maxsize=4)
def _opencc(config: str):
    import opencc

    return opencc.OpenCC(config)


def to_simplified(arr: pa.Array, config: str = "t2s") -> pa.Array:
    """繁→简 with OpenCC over a whole string array in one call (values must not contain newlines)."""
    if len(arr) == 0:
        return arr
    values = arr.to_pylist()
    present = [v if v is not None else "" for v in values]
    converter = _opencc(config)
    joined = converter.convert("\n".join(present))
    parts = joined.split("\n")
    if len(parts) != len(present):  # a value carried a newline after all: convert one by one
        log.debug("to_simplified: falling back to per-value conversion")
        parts = [converter.convert(v) for v in present]
    return pa.array([None if v is None else p for v, p in zip(values, parts, strict=True)], type=pa.string())


def _normalize_array(arr: pa.Array) -> pa.Array:
    arr = pc.utf8_normalize(arr, form="NFKC")
    arr = pc.replace_substring_regex(arr, _INVISIBLE, "")
    arr = pc.replace_substring_regex(arr, _WHITESPACE, " ")
    arr = pc.utf8_trim_whitespace(arr)
    return to_simplified(arr)


def normalize_text(s: pd.Series) -> pd.Series:
    """NFKC full→half width, whitespace folded to single spaces and trimmed, 繁→简 (OpenCC ``t2s``).

    The shared base of every normaliser. Missing values stay missing; empty strings stay empty (callers decide
    whether empty means missing). Returns pandas ``string`` dtype with the index of ``s``.

    >>> normalize_text(pd.Series(["濱江路１８號　３棟"])).iloc[0]
    '滨江路18号 3栋'
    """
    return map_distinct(s, _normalize_array)


# ----------------------------------------------------------------------------------------------------------
# Chinese numerals (中文数字)
# ----------------------------------------------------------------------------------------------------------
def chinese_to_int(text: str) -> int:
    """Value of a Chinese numeral: ``十八`` → 18, ``一百零五`` → 105, ``二十`` → 20, ``五零一`` → 501.

    A numeral without 十/百/千 is read digit by digit (``五零一`` → 501, room numbers are spoken that way);
    one with them is read positionally. Raises :class:`NumeralError` for anything else.
    """
    if not text or any(ch not in _DIGITS and ch not in _UNITS for ch in text):
        raise NumeralError(f"not a Chinese numeral: {text!r}")
    if not any(ch in _UNITS for ch in text):
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total, digit, last_unit = 0, None, 10_000
    for ch in text:
        if ch in _DIGITS:
            if digit is not None and _DIGITS[ch] != 0:
                raise NumeralError(f"two digits in a row in positional numeral {text!r}")
            digit = _DIGITS[ch] if _DIGITS[ch] != 0 else None
        else:
            unit = _UNITS[ch]
            if unit >= last_unit:
                raise NumeralError(f"units out of order in {text!r}")
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
    if digit is not None:
        if last_unit >= 100 and text[-2] not in "零〇○" and text[-2] in _UNITS:
            # 一百五 means 150, 三千二 means 3200 (spoken shorthand)
            total += digit * (last_unit // 10)
        else:
            total += digit
    return total


@lru_cache(maxsize=64)
def _numeral_pattern(markers: tuple[str, ...], not_followed_by: str) -> re.Pattern[str]:
    alternation = "|".join(re.escape(m) for m in sorted(markers, key=len, reverse=True))
    tail = f"(?![{re.escape(not_followed_by)}])" if not_followed_by else ""
    return re.compile(f"([{NUMERAL_CHARS}]+)(?=(?:{alternation}){tail})")


def convert_numerals_before(s: pd.Series, markers: Iterable[str], not_followed_by: str = "") -> pd.Series:
    """Replace Chinese numerals that stand right before one of ``markers`` by Arabic digits.

    ``convert_numerals_before(s, ["号", "栋", "单元"])`` turns ``十八号三栋二单元`` into ``18号3栋2单元`` and
    leaves ``五一路`` and ``四川`` alone. ``not_followed_by`` lists characters that, right after the marker,
    cancel the conversion. Only values that contain a numeral character are touched (a regex filter in Arrow
    first), so clean columns cost one vectorised scan.
    """
    pattern = _numeral_pattern(tuple(markers), not_followed_by)
    return map_distinct(s, lambda arr: convert_numerals_array(arr, pattern))


def _numeral_value(m: re.Match[str]) -> str:
    try:
        return str(chinese_to_int(m.group(1)))
    except NumeralError:
        return m.group(1)


def convert_numerals_array(arr: pa.Array, pattern: re.Pattern[str], chars: str = NUMERAL_CHARS) -> pa.Array:
    """Replace group 1 of every ``pattern`` match by its Arabic value (left as is when not a numeral).

    Only values with one of ``chars`` are touched (a regex filter in Arrow first); ``arr`` has no nulls.
    """
    has = pc.match_substring_regex(arr, f"[{chars}]").to_numpy(zero_copy_only=False)
    if not has.any():
        return arr
    values = arr.to_numpy(zero_copy_only=False).astype(object)
    idx = np.flatnonzero(has)
    values[idx] = [pattern.sub(_numeral_value, v) for v in values[idx]]
    return pa.array(values, type=pa.string())


__all__ = [
    "NUMERAL_CHARS",
    "NumeralError",
    "chinese_to_int",
    "convert_numerals_array",
    "convert_numerals_before",
    "arrow_to_series",
    "as_string_array",
    "map_distinct",
    "normalize_text",
    "to_simplified",
]
