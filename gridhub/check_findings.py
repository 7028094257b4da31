"""What ``gridhub check`` finds: one :class:`Finding` per problem, and the report a person reads.

A finding names the file, the column and the lines (1 = the header line), says what is wrong and what to do,
Chinese first, English after, like the rest of the command line's messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]
#: Lines listed per finding; the rest are counted.
SHOWN_LINES = 10
_LABEL = {"error": "错误 / ERROR", "warning": "警告 / WARNING"}


@dataclass(frozen=True)
class Finding:
    severity: Severity
    file: str
    zh: str
    en: str
    fix_zh: str = ""
    fix_en: str = ""
    column: str = ""
    lines: tuple[int, ...] = ()

    @property
    def message(self) -> str:
        """What is wrong and what to do, on one line (Chinese, then English)."""
        zh = self.zh + (f"；处理：{self.fix_zh}" if self.fix_zh else "")
        en = self.en + (f"; to do: {self.fix_en}" if self.fix_en else "")
        return f"{zh} / {en}" if en else zh

    def format(self) -> str:
        where = [self.file]
        if self.column:
            where.append(f"列 / column {self.column}")
        if self.lines:
            shown = ", ".join(str(n) for n in self.lines[:SHOWN_LINES])
            more = f" … (共 / in all {len(self.lines):,})" if len(self.lines) > SHOWN_LINES else ""
            where.append(f"行 / line {shown}{more}")
        text = [f"[{_LABEL[self.severity]}] " + " · ".join(where), f"    {self.zh}"]
        if self.en:
            text.append(f"    {self.en}")
        if self.fix_zh or self.fix_en:
            text.append(f"    → {self.fix_zh}" + (f" / {self.fix_en}" if self.fix_en else ""))
        return "\n".join(text)


def error(file: str, zh: str, en: str, fix_zh: str = "", fix_en: str = "", **where) -> Finding:
    return Finding("error", file, zh, en, fix_zh, fix_en, **where)


def warning(file: str, zh: str, en: str, fix_zh: str = "", fix_en: str = "", **where) -> Finding:
    return Finding("warning", file, zh, en, fix_zh, fix_en, **where)


@dataclass
class CheckReport:
    """Every finding of a check, in the order checked, and what was checked."""

    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        """No errors (warnings do not fail a check)."""
        return not self.errors

    def format(self) -> str:
        out = [f"检查 / checked: {c}" for c in self.checked]
        out += ["", *(f.format() + "\n" for f in self.findings)]
        n_err, n_warn = len(self.errors), len(self.warnings)
        verdict = "通过 / passed" if self.ok else "未通过 / failed"
        out.append(f"{verdict}: {n_err} 个错误 / errors, {n_warn} 个警告 / warnings")
        return "\n".join(out)


__all__ = ["CheckReport", "Finding", "Severity", "error", "warning"]
