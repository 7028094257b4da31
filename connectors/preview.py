"""Dry run of a feed's parse on one file: what would be staged, quarantined and noted as field issues, writing
nothing.

The upload portal calls this before it lands a file, so a clerk sees at once "read 1,982, accepted 1,980,
2 rows need fixing: line 396 身份证号 ..., 3 values were dropped: line 12 出生日期 20230230 ..." or the
whole-file problem, in the same words and by the
same code as the real ingest (:mod:`connectors.ingest`): same format sniffing, encoding detection, tokeniser
and row rules. Nothing is copied to raw, staged, quarantined or written to the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from connectors.errors import ConnectorError, FileProblem, FileRejected
from connectors.feeds import FileSource, Zones
from connectors.file_feed import explain_rejection
from connectors.results import FileResult
from connectors.sources import stage_file
from connectors.staging import BatchSink, StagingWriter, StoredFile
from connectors.text import safe_file_name
from warehouse.files import sha256_file
from warehouse.schema import arrow_schema
from warehouse.staging import STAGED_ISSUE_SCHEMA

LINES_PER_REASON = 1000


class _Discard:
    """Stands in for the staging output: keeps nothing."""

    def write(self, table: pa.Table) -> None:
        pass


class _KeepFirst:
    """Stands in for the quarantine (or field issue) output: keeps the first ``limit`` entries, counts all,
    lines per reason."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[pa.Table] = []
        self.kept = 0
        self.rows = 0
        self.lines: dict[str, list[int]] = {}

    def write(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        if self.kept < self.limit:
            part = table.slice(0, self.limit - self.kept)
            self.parts.append(part)
            self.kept += part.num_rows
        for code, line in zip(table["reason_code"].to_pylist(), table["line"].to_pylist(), strict=True):
            seen = self.lines.setdefault(code, [])
            if len(seen) < LINES_PER_REASON:
                seen.append(line)


@dataclass
class FilePreview:
    """The outcome of a dry run: the counts (``result``), or the whole-file ``problem``, and the first entries
    of the quarantine and of the field issues (:data:`warehouse.staging.STAGED_ISSUE_SCHEMA`)."""

    result: FileResult
    problem: FileProblem | None = None
    quarantine: pa.Table = field(default_factory=lambda: arrow_schema("quarantine").empty_table())
    quarantine_entries: int = 0
    _lines: dict[str, list[int]] = field(default_factory=dict)
    field_issues: pa.Table = field(default_factory=STAGED_ISSUE_SCHEMA.empty_table)
    field_issue_entries: int = 0
    _issue_lines: dict[str, list[int]] = field(default_factory=dict)

    @property
    def detail_truncated(self) -> bool:
        """True when not every quarantine entry is in :attr:`quarantine`."""
        return self.quarantine_entries > self.quarantine.num_rows

    def lines_by_reason(self) -> dict[str, list[int]]:
        """Reason code → sorted source lines quarantined with that problem (at most 1,000 per reason)."""
        return {code: sorted(set(lines)) for code, lines in self._lines.items()}

    def issue_lines_by_reason(self) -> dict[str, list[int]]:
        """Reason code → sorted source lines of staged rows with a field issue of that reason (at most 1,000)."""
        return {code: sorted(set(lines)) for code, lines in self._issue_lines.items()}


def preview_file(
    workspace: Zones,
    feed: str,
    path: Path,
    *,
    original_name: str | None = None,
    detail_limit: int = 200,
    staged: BatchSink | None = None,
) -> FilePreview:
    """Parse ``path`` as feed ``feed`` would, without writing anything; ``original_name`` decides the format
    by its extension like a landed file's name does. The staged rows go to ``staged`` if given (the portal
    looks at them), else nowhere. Raises :class:`ConnectorError` for a database feed."""
    cfg = workspace.feed(feed)
    if not isinstance(cfg.source, FileSource):
        raise ConnectorError(f"feed '{feed}' reads a database; there is no file to preview")
    path = Path(path)
    file_name = safe_file_name(original_name or path.name)
    sha = sha256_file(path)
    quarantined, issues = _KeepFirst(detail_limit), _KeepFirst(detail_limit)
    out = StagingWriter(StoredFile(path, sha, file_name), staged or _Discard(), quarantined, issues=issues)
    try:
        stage_file(cfg, cfg.source, out.stored, out)
        result = out.finish()
    except FileRejected as rejected:
        e = explain_rejection(workspace.feeds, cfg, rejected)
        problem = FileProblem(cfg.name, file_name, e.code, e.detail, headline=e.headline)
        return FilePreview(
            result=FileResult(file_name=file_name, sha256=sha, error=problem.message, error_code=str(e.code)),
            problem=problem,
        )
    return FilePreview(
        result=result,
        quarantine=_kept(quarantined, arrow_schema("quarantine")),
        quarantine_entries=quarantined.rows,
        _lines=quarantined.lines,
        field_issues=_kept(issues, STAGED_ISSUE_SCHEMA),
        field_issue_entries=issues.rows,
        _issue_lines=issues.lines,
    )


def _kept(sink: _KeepFirst, schema: pa.Schema) -> pa.Table:
    return pa.concat_tables([p.cast(schema) for p in sink.parts]) if sink.parts else schema.empty_table()
