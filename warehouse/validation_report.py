"""What a validation produced: one :class:`ExpectationOutcome` per expectation, and the :class:`ValidationReport`.

Outcomes are reduced to what a person reading a failure needs; examples of unexpected values are scrubbed of
ID numbers and phones (masked outright in a PII column) before they reach a message or the Data Docs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from warehouse.expectations import Check
from warehouse.privacy import mask_values, scrub_text
from warehouse.schema import TABLES

#: How many unexpected values a result keeps as examples.
EXAMPLES = 5


@dataclass
class ExpectationOutcome:
    """The result of one expectation, reduced to what a person reading a failure needs."""

    table: str
    expectation: str
    column: str | None
    success: bool
    detail: str  # the expectation with its arguments
    why: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    element_count: int | None = None
    unexpected_count: int | None = None
    observed_value: Any = None
    examples: list[str] = field(default_factory=list)
    error: str | None = None

    def message(self) -> str:
        """One line naming table, expectation, column and example values."""
        where = f"{self.table}: {self.expectation}"
        if self.column:
            where += f" on column {self.column}"
        if self.error:
            return f"{where} could not run: {self.error}"
        if self.expectation == "expect_table_row_count_to_be_between":
            low, high = self.kwargs.get("min_value"), self.kwargs.get("max_value")
            return f"{where} failed — {self.observed_value:,} rows; {self.why} allows {low:,}–{high:,}"
        parts = [f"{where} failed"]
        if self.unexpected_count is not None:
            parts.append(f"— {self.unexpected_count:,} of {self.element_count or 0:,} rows unexpected")
        if self.examples:
            parts.append("e.g. " + ", ".join(self.examples))
        if self.expectation == "expect_column_values_to_reference_keys":
            parts.append(f"(not found in {self.kwargs.get('reference')})")
        return " ".join(parts)


@dataclass
class ValidationReport:
    """Everything one validation produced; ``failures`` are the human messages of the failed ones."""

    success: bool
    results: list[ExpectationOutcome]
    data_docs_path: Path | None
    seconds: float
    row_counts: dict[str, int]
    table_seconds: dict[str, float] = field(default_factory=dict)  # GX time per suite
    #: tables whose checks (but the drift bound) were taken from the previous validation of the same bytes
    reused_tables: list[str] = field(default_factory=list)
    #: the SHA-256 of each table file validated, and of the checking code (:mod:`warehouse.snapshot_reuse`)
    sources: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""

    @property
    def failures(self) -> list[str]:
        return [r.message() for r in self.results if not r.success]

    def for_table(self, table: str) -> list[ExpectationOutcome]:
        return [r for r in self.results if r.table == table]

    def to_dict(self) -> dict:
        return {
            "success": self.success,
            "seconds": round(self.seconds, 3),
            "expectations": len(self.results),
            "failed": sum(not r.success for r in self.results),
            "failures": self.failures,
            "row_counts": self.row_counts,
            "table_seconds": {k: round(v, 3) for k, v in self.table_seconds.items()},
            "reused_tables": self.reused_tables,
            "sources": self.sources,
            "fingerprint": self.fingerprint,
            "data_docs": str(self.data_docs_path) if self.data_docs_path else None,
            "results": [asdict(r) for r in self.results],
        }


def _example(value: object, pii: bool) -> str:
    if isinstance(value, dict):
        return "(" + ", ".join(_example(v, pii) for v in value.values()) + ")"
    text = "null" if value is None else str(value)
    if pii:
        return mask_values(pa.array([text])).to_pylist()[0]
    return scrub_text(text)


def outcome_of(check: Check, res: Any) -> ExpectationOutcome:
    """The outcome of ``check`` from its Great Expectations validation result ``res``."""
    t = TABLES[check.table]
    pii = bool(check.column and check.column in t.column_names and t.column(check.column).pii)
    result = res.result or {}
    info = res.exception_info or {}
    error = None
    if info.get("raised_exception"):
        error = str(info.get("exception_message") or "exception")
    examples = list(dict.fromkeys(_example(v, pii) for v in result.get("partial_unexpected_list") or []))[
        :EXAMPLES
    ]
    return ExpectationOutcome(
        table=check.table,
        expectation=check.expectation,
        column=check.column,
        success=bool(res.success) and error is None,
        detail=check.describe(),
        why=check.why,
        kwargs={k: v for k, v in check.kwargs.items() if k not in ("column", "column_list")},
        element_count=result.get("element_count"),
        unexpected_count=result.get("unexpected_count"),
        observed_value=result.get("observed_value"),
        examples=examples,
        error=error,
    )
