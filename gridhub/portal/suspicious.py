"""Names that deserve a second look, for the upload report: formula-like, markup or script, database commands,
emoji.

A name such as ``=HYPERLINK(...)``, ``<script>…``, ``x'; DROP TABLE persons;--`` or ``张三😀`` is stored exactly
as sent (it is data, and every output escapes it), but a clerk should know the file holds it: most are typing
accidents or a pasted cell, a few are probes. :class:`SuspiciousNames` is a staging sink for the portal's dry
run (:func:`connectors.preview.preview_file`): each batch's name fields (``name``, ``org_name``,
``facility_name`` ...) are checked with vectorised regular expressions, counts are kept per kind, and the
first examples with their line numbers. The same values are recorded in staging as field issues with reason
code ``suspicious_text`` (:mod:`warehouse.reasons`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

SUSPICIOUS_TEXT = "suspicious_text"  # the reason code staging records such values under
EXAMPLES = 50
_NAME_FIELD = re.compile(r"(^|_)name$")

#: kind → (Chinese, English, RE2 pattern)
KINDS: dict[str, tuple[str, str, str]] = {
    "formula": (
        "像电子表格公式(以 = + - @ 开头)",
        "looks like a spreadsheet formula (starts with = + - @)",
        r"^[=+\-@]",
    ),
    "markup": (
        "含网页代码或脚本(<script>、<a> 等)",
        "holds markup or script (<script>, <a> ...)",
        r"(?i)<\s*/?\s*(script|a|iframe|img|svg|object|embed|style|body|html|form|input|link|meta)\b"
        r"|(?i)javascript\s*:|(?i)\bon[a-z]+\s*=",
    ),
    "sql": (
        "像数据库命令(DROP TABLE 等)",
        "looks like a database command (DROP TABLE ...)",
        r"(?i)\b(drop|truncate|alter)\s+(table|database)\b|(?i)\bdelete\s+from\b|(?i)\binsert\s+into\b"
        r"|(?i)\bunion\s+(all\s+)?select\b|;\s*--|(?i)'\s*or\s+'?\d+'?\s*=\s*'?\d+",
    ),
    "emoji": (
        "含表情符号",
        "holds emoji",
        "[\\x{1F000}-\\x{1FAFF}\\x{2600}-\\x{27BF}\\x{1F1E6}-\\x{1F1FF}\\x{FE0F}\\x{200D}\\x{2B50}\\x{2B55}]",
    ),
}


@dataclass
class SuspiciousNames:
    """A staging sink (``write(table)``) that notes suspicious names in the staged rows it is given."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: list[dict] = field(default_factory=list)

    def write(self, table: pa.Table) -> None:
        if not table.num_rows or "_line" not in table.column_names:
            return
        for column in (c for c in table.column_names if _NAME_FIELD.search(c)):
            values = table.column(column)
            if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
                continue
            values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
            for kind, (_zh, _en, pattern) in KINDS.items():
                hit = pc.fill_null(pc.match_substring_regex(values, pattern), False)
                n = pc.sum(hit).as_py() or 0
                if not n:
                    continue
                self.counts[kind] = self.counts.get(kind, 0) + n
                room = EXAMPLES - len(self.examples)
                if room > 0:
                    picked = pc.filter(table.select(["_line", column]), hit).slice(0, room)
                    for line, value in zip(
                        picked.column(0).to_pylist(), picked.column(1).to_pylist(), strict=True
                    ):
                        self.examples.append({"line": line, "column": column, "kind": kind, "value": value})

    def warnings(self) -> list[str]:
        """One line per kind found, Chinese first, then English."""
        out = []
        for kind, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])):
            zh, en, _ = KINDS[kind]
            lines = sorted({e["line"] for e in self.examples if e["kind"] == kind})
            shown = "、".join(str(x) for x in lines[:20]) + (
                " 等" if len(lines) > 20 or n > len(lines) else ""
            )
            out.append(
                f"可疑名称 {n} 个：{zh}，已原样保存，请核对（行 {shown}） / "
                f"{n} suspicious name(s): {en}; stored as sent, please check (lines {shown.replace('、', ', ')})"
            )
        return out

    def rows(self) -> list[dict]:
        """The examples for the report's table, by line: line, column, what, value (shortened)."""
        rows = []
        for e in sorted(self.examples, key=lambda e: (e["line"], e["column"], e["kind"])):
            zh, en, _ = KINDS[e["kind"]]
            value = str(e["value"])
            rows.append(
                {
                    "line": e["line"],
                    "column": e["column"],
                    "what": f"{zh} / {en}",
                    "value": value if len(value) <= 80 else value[:79] + "…",
                }
            )
        return rows


__all__ = ["KINDS", "SUSPICIOUS_TEXT", "SuspiciousNames"]
