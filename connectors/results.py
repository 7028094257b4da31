"""What one ingest run reports: per-file row accounting and whole-file errors.

The accounting invariant of the hub is ``rows read = rows staged + rows quarantined`` for every file; it is
checked after every ingest (:meth:`IngestResult.check_accounting`) and shown in every summary. Blank lines
(rows with no value at all) are not rows and are counted apart in ``rows_blank``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from warehouse.errors import GridhubError


class AccountingError(GridhubError, AssertionError):
    """Rows went missing: read != staged + quarantined for a file. Always a bug, never the data's fault."""


@dataclass
class FileResult:
    """The outcome for one received file or database extract."""

    file_name: str
    sha256: str
    rows_read: int = 0
    rows_staged: int = 0
    rows_quarantined: int = 0
    rows_blank: int = 0
    #: reason → quarantined rows with a problem of that reason
    reasons: dict[str, int] = field(default_factory=dict)
    #: reason → field issues of staged rows (values nulled, or noted) of that reason; they remove no row
    field_issues: dict[str, int] = field(default_factory=dict)
    skipped_duplicate: bool = False
    error: str | None = None
    error_code: str | None = None
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_staged + self.rows_quarantined

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class IngestResult:
    """All files of one ``ingest_feed`` call, in the order they were processed."""

    feed: str
    files: list[FileResult] = field(default_factory=list)

    def totals(self) -> dict:
        """JSON-able totals over the files (what the DAG task returns and the CLI prints last)."""
        reasons: dict[str, int] = {}
        issues: dict[str, int] = {}
        for f in self.files:
            for k, v in f.reasons.items():
                reasons[k] = reasons.get(k, 0) + v
            for k, v in f.field_issues.items():
                issues[k] = issues.get(k, 0) + v
        return {
            "files": len(self.files),
            "files_staged": sum(1 for f in self.files if not f.error and not f.skipped_duplicate),
            "files_duplicate": sum(1 for f in self.files if f.skipped_duplicate),
            "files_failed": sum(1 for f in self.files if f.error),
            "rows_read": sum(f.rows_read for f in self.files),
            "rows_staged": sum(f.rows_staged for f in self.files),
            "rows_quarantined": sum(f.rows_quarantined for f in self.files),
            "rows_blank": sum(f.rows_blank for f in self.files),
            "reasons": dict(sorted(reasons.items())),
            "field_issues": dict(sorted(issues.items())),
            "sha256": [f.sha256 for f in self.files if f.sha256],
        }

    def check_accounting(self) -> None:
        """Raise :class:`AccountingError` if any file read a row that was neither staged nor quarantined."""
        bad = [f for f in self.files if not f.balanced]
        if bad:
            detail = "; ".join(
                f"{f.file_name}: read {f.rows_read} != staged {f.rows_staged} + quarantined {f.rows_quarantined}"
                for f in bad
            )
            raise AccountingError(f"feed {self.feed}: row accounting does not balance: {detail}")

    def to_dict(self) -> dict:
        return {"feed": self.feed, "files": [f.to_dict() for f in self.files], "totals": self.totals()}
