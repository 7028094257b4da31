"""Typed values from cleaned source text, vectorised: numbers (with units), yes/no, attributes as JSON, and the
original text as kept in quarantine and field issues. Dates are :mod:`connectors.dates`.

Numbers: full-width digits (``１２０``) are read, a unit at the end is stripped (:data:`DEFAULT_NUMBER_UNITS`
plus a feed's ``number_units``: ``89.56㎡``, ``89.56 平方米``, ``89.56m²``), and a comma or a space is a
thousands separator only in groups of three digits after one to three leading digits (``1,234.5``,
``12 345``). Anything else with a comma is refused, never guessed: ``89,5`` is a decimal comma in some
spreadsheets and must not become 895.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.text import any_control, any_non_ascii, clean_text

ORIGINAL_TEXT_LIMIT = 4096

TRUE_WORDS = ("是", "有", "1", "y", "yes", "true", "t", "√", "✓", "✔")
FALSE_WORDS = ("否", "无", "0", "n", "no", "false", "f", "×", "✗", "✘")
#: Units a number may end with in any feed (areas, as 住建 and 公安 write them); a feed adds its own.
DEFAULT_NUMBER_UNITS = ("㎡", "m²", "m2", "平方米", "平米", "平方", "平方公尺")
NUMBER_RE = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_GROUPED_RE = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$|^[+-]?\d{1,3}(?: \d{3})+(?:\.\d+)?$"
NUMBER_HINT = "如 89.56、89.56㎡、1,234.5；小数点请用“.”(89,5 不会被读作 895) / e.g. 89.56, 89.56㎡, 1,234.5"


def truncate_original(arr: pa.Array, limit: int = ORIGINAL_TEXT_LIMIT) -> pa.Array:
    """Original text as kept in quarantine: at most ``limit`` characters, with a note of the full length."""
    arr = arr.cast(pa.string())
    lengths = pc.utf8_length(arr)
    long = pc.fill_null(pc.greater(lengths, limit), False)
    if not pc.any(long).as_py():
        return arr
    note = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(arr, 0, limit),
        pc.cast(lengths, pa.string()),
        pa.scalar("…[truncated; full length in characters: ", pa.string()),
    )
    note = pc.binary_join_element_wise(note, "]", "")
    return pc.if_else(long, note, arr)


def unit_pattern(units: Sequence[str]) -> str:
    """A regex matching one of ``units`` (NFKC-folded, longest first) at the end, with spaces before it."""
    folded = sorted({unicodedata.normalize("NFKC", u).strip().casefold() for u in units if u.strip()})
    folded.sort(key=len, reverse=True)
    return r"\s*(?:" + "|".join(re.escape(u) for u in folded) + r")$" if folded else ""


def parse_numbers(value: pa.Array, typed: pa.Array | None, units: str = "") -> tuple[pa.Array, np.ndarray]:
    """(numbers, invalid) of cleaned text ``value``; ``units`` is a :func:`unit_pattern`; a typed cell wins."""
    norm = value
    if any_non_ascii(value):  # full-width digits １２３．５, ㎡ → m2, the ideographic space
        norm = pc.utf8_normalize(norm, form="NFKC")
    if units:
        norm = pc.replace_substring_regex(pc.utf8_lower(norm), units, "")
    norm = pc.utf8_trim_whitespace(norm)
    grouped = pc.fill_null(pc.match_substring_regex(norm, _GROUPED_RE), False)
    if pc.any(grouped).as_py():
        norm = pc.if_else(grouped, pc.replace_substring_regex(norm, r"[, ]", ""), norm)
    ok = pc.fill_null(pc.match_substring_regex(norm, NUMBER_RE), False)
    num = pc.if_else(ok, norm, pa.scalar(None, pa.string())).cast(pa.float64())
    invalid = pc.and_(pc.is_valid(value), pc.invert(ok))
    if typed is not None:
        num = pc.coalesce(typed, num)
        invalid = pc.and_(invalid, pc.is_null(typed))
    return num, pc.fill_null(invalid, False).to_numpy(zero_copy_only=False)


def parse_bools(value: pa.Array, typed: pa.Array | None) -> tuple[pa.Array, np.ndarray]:
    """(booleans, invalid) of cleaned text ``value`` (:data:`TRUE_WORDS` / :data:`FALSE_WORDS`)."""
    norm = pc.utf8_lower(pc.utf8_normalize(value, form="NFKC") if any_non_ascii(value) else value)
    is_true = pc.is_in(norm, value_set=pa.array(TRUE_WORDS))
    is_false = pc.is_in(norm, value_set=pa.array(FALSE_WORDS))
    out = pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))
    invalid = pc.and_(pc.is_valid(value), pc.is_null(out))
    if typed is not None:
        out = pc.coalesce(typed, out)
        invalid = pc.and_(invalid, pc.is_null(typed))
    return out, pc.fill_null(invalid, False).to_numpy(zero_copy_only=False)


def _json_string(arr: pa.Array) -> pa.Array:
    """Each value as a JSON string literal (quotes included), escaped as ``json.dumps(ensure_ascii=False)``."""
    arr = pc.replace_substring(arr, "\\", "\\\\")
    arr = pc.replace_substring(arr, '"', '\\"')
    for ch, esc in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), ("\b", "\\b"), ("\f", "\\f")):
        arr = pc.replace_substring(arr, ch, esc)
    if any_control(arr):
        for ch in map(chr, range(0x20)):
            if ch not in "\n\r\t\b\f":
                arr = pc.replace_substring(arr, ch, f"\\u{ord(ch):04x}")
    return pc.binary_join_element_wise('"', arr, '"', "")


def attributes_json(values: dict[str, pa.Array], n: int) -> pa.Array:
    """One JSON object text per row of the given attribute columns (keys sorted, empty values left out, UTF-8
    as is); null for a row where every attribute is empty."""
    parts = []
    for name in sorted(values):
        arr = values[name]
        key = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '":'
        parts.append(pc.binary_join_element_wise(key, _json_string(arr), ""))
    body = pa.nulls(n, type=pa.string())
    for part in parts:  # joined with ',' skipping empty ones (null_handling="skip" drops all-null rows)
        body = pc.coalesce(pc.binary_join_element_wise(body, part, ","), body, part)
    return pc.binary_join_element_wise("{", body, "}", "")


__all__ = [
    "deletion_flags",
    "DEFAULT_NUMBER_UNITS",
    "FALSE_WORDS",
    "NUMBER_HINT",
    "ORIGINAL_TEXT_LIMIT",
    "TRUE_WORDS",
    "attributes_json",
    "parse_bools",
    "parse_numbers",
    "truncate_original",
    "unit_pattern",
]


def deletion_flags(marker: pa.Array | None, values: list[str], n: int) -> np.ndarray:
    """Rows whose deletion-marker text (cleaned, NFKC: a full-width １ is 1) is one of ``values``."""
    if marker is None or not values:
        return np.zeros(n, dtype=bool)
    text = pc.utf8_normalize(clean_text(marker), "NFKC")
    hit = pc.is_in(text, value_set=pa.array([unicodedata.normalize("NFKC", v) for v in values]))
    return np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), dtype=bool)
