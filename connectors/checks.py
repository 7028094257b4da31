"""Value checks after typing, vectorised: values that make no sense, and text that looks like an attack.

- **Out of range** (``date_out_of_range``, ``number_out_of_range``): a typed date or number outside its field's
  :class:`warehouse.staging.ValueRule` (the contract's default, or the feed's ``value_rules``): a birth date
  in 2099 or 1090, an area of −89.5, 0 or 1e9 m². The value is nulled and recorded as a field issue (the row
  is quarantined only when the field is the record id or required), exactly like an unreadable value.
- **Suspicious text** (``suspicious_text``, a notice): a text value that a spreadsheet would evaluate
  (``=HYPERLINK(…)``, ``+cmd|…``, ``@SUM(…)``), that is markup or script (``<script>``, ``javascript:``), an
  SQL statement (``'; DROP TABLE …``, ``' OR 1=1``), or that holds emoji. Such values are data, stored as
  given (the warehouse writes Parquet, never executes them; exports neutralise formulas), and noted as a
  field issue so a person sees who sent them. Code fields (ID numbers, phones, credit codes, record ids) are
  checked by their own rules instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.reasons import ReasonCode
from warehouse.staging import TODAY, ValueRule

#: What makes a text suspicious, by kind: (Chinese, English, RE2 pattern matched anywhere unless anchored). The
#: one definition: staging's field issues and the portal's upload report (``gridhub.portal.suspicious``) read it.
SUSPICIOUS_KINDS: dict[str, tuple[str, str, str]] = {
    "formula": (
        "像电子表格公式(以 = + - @ 开头)",
        "looks like a spreadsheet formula (starts with = + - @)",
        r"^(?:=|[+\-@]\s*[A-Za-z(])",
    ),
    "markup": (
        "含网页代码或脚本(<script>、<a> 等)",
        "holds markup or script (<script>, <a> ...)",
        r"(?i)<\s*/?\s*[a-z!][a-z0-9]*(?:\s|>|/)|javascript\s*:|\bon(?:error|load|click|mouseover)\s*=",
    ),
    "sql": (
        "像数据库命令(DROP TABLE 等)",
        "looks like an SQL command (DROP TABLE ...)",
        r"(?i)\b(?:select\s+.+\s+from|insert\s+into|update\s+\w+\s+set|delete\s+from|drop\s+(?:table|database)"
        r"|union\s+(?:all\s+)?select|alter\s+table|truncate\s+table)\b|'\s*(?:or|and)\s+'?\w+'?\s*=|;\s*--",
    ),
    "emoji": (
        "含表情符号",
        "holds emoji",
        r"[\x{1F000}-\x{1FAFF}\x{2600}-\x{27BF}\x{2B00}-\x{2BFF}\x{1F1E6}-\x{1F1FF}]",
    ),
}
#: (label, pattern) per kind, in order; the label goes into the field issue's message.
SUSPICIOUS_PATTERNS: tuple[tuple[str, str], ...] = tuple(
    (f"{zh} / {en}", pattern) for zh, en, pattern in SUSPICIOUS_KINDS.values()
)
_ANY_SUSPICIOUS = "|".join(f"(?:{p})" for _, p in SUSPICIOUS_PATTERNS)


def _mask(arr: pa.Array) -> np.ndarray:
    return pc.fill_null(arr, False).to_numpy(zero_copy_only=False)


def suspicious_text(value: pa.Array) -> Iterator[tuple[np.ndarray, str]]:
    """(rows, kind) for each kind of suspicious text in a cleaned text column; a row is in one kind only."""
    if not len(value) or not pc.any(pc.match_substring_regex(value, _ANY_SUSPICIOUS)).as_py():
        return
    taken = np.zeros(len(value), dtype=bool)
    for kind, pattern in SUSPICIOUS_PATTERNS:
        rows = _mask(pc.match_substring_regex(value, pattern)) & ~taken
        if rows.any():
            taken |= rows
            yield rows, kind


def _bound(value: float | dt.date | str | None, today: dt.date) -> float | dt.date | None:
    return today if value == TODAY else value  # type: ignore[return-value]


def out_of_range(
    typed: pa.Array, rule: ValueRule | None, today: dt.date | None = None
) -> Iterator[tuple[np.ndarray, ReasonCode, str]]:
    """(rows, reason, detail) for the typed values (date32 or float64) outside ``rule``."""
    if rule is None or not len(typed) or typed.null_count == len(typed):
        return
    day = today or dt.date.today()
    is_date = pa.types.is_date(typed.type)
    reason = ReasonCode.DATE_OUT_OF_RANGE if is_date else ReasonCode.NUMBER_OUT_OF_RANGE
    lo, hi = _bound(rule.min, day), _bound(rule.max, day)
    scalar_type = typed.type
    bad = np.zeros(len(typed), dtype=bool)
    parts = []
    if rule.above is not None and not is_date:
        bad |= _mask(pc.less_equal(typed, pa.scalar(float(rule.above), scalar_type)))
        parts.append(f"> {rule.above:g}")
    if lo is not None:
        bad |= _mask(pc.less(typed, pa.scalar(lo, scalar_type)))
        parts.append(f">= {lo}" if is_date else f">= {lo:g}")
    if hi is not None:
        bad |= _mask(pc.greater(typed, pa.scalar(hi, scalar_type)))
        shown = f"{hi} (today / 今天)" if rule.max == TODAY else str(hi) if is_date else f"{hi:g}"
        parts.append(f"<= {shown}")
    if not is_date:  # inf and NaN are never sensible measurements
        bad |= _mask(pc.invert(pc.is_finite(typed)))
    if bad.any():
        yield bad, reason, "allowed / 允许: " + ", ".join(parts)


__all__ = ["SUSPICIOUS_KINDS", "SUSPICIOUS_PATTERNS", "out_of_range", "suspicious_text"]
