"""The staging writer every source reader sends its rows to: staged rows, quarantine entries, field issues,
row accounting.

A reader (:mod:`connectors.sources`) turns one stored file into batches of :class:`connectors.rules.BatchOutcome`
and hands each to :meth:`StagingWriter.add`. The writer sends the staged rows, the quarantine entries and the
field issues of staged rows to three sinks and keeps the file's :class:`connectors.results.FileResult` (rows
read, staged, quarantined, blank, reasons, field issues). :meth:`StagingWriter.finish` checks the accounting:
a file with no rows (``header_only``) is accepted as empty with a warning, and ``read = staged + quarantined`` must hold (field issues are about
staged rows and remove none).

For a real ingest the sinks are ``staging/<feed>/<sha>.parquet``, ``quarantine/<feed>/<sha>.parquet`` and
``<Zones.field_issue_dir(feed)>/<sha>.parquet`` (:meth:`StagingWriter.to_parquet`), each written to a temporary
file and moved into place only when the whole file is staged and accounted
(:func:`warehouse.files.atomic_write`), so a crash leaves no half file and nothing already staged changes. The
upload portal's dry run (:mod:`connectors.preview`) passes sinks that keep nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from connectors.errors import FileProblem, FileRejected
from connectors.feeds import Feed, Zones
from connectors.raw import RawZone
from connectors.results import AccountingError, FileResult
from connectors.rules import BatchOutcome
from warehouse.files import atomic_write
from warehouse.reasons import REASON_TEXT, ReasonCode
from warehouse.schema import arrow_schema
from warehouse.staging import STAGED_ISSUE_SCHEMA

#: Rows a reader puts in one batch (source rows held in memory at once, per file).
BATCH_ROWS = 25_000


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredFile:
    """One file as a reader sees it: where its bytes are, their SHA-256, and the (safe) name to record and show."""

    path: Path
    sha256: str
    file_name: str


class BatchSink(Protocol):
    """Where the staged rows or the quarantine entries of one file go, one Arrow table at a time."""

    def write(self, table: pa.Table) -> None: ...


class ParquetSink:
    """A Parquet file being written batch by batch (open one with :func:`parquet_sink`)."""

    def __init__(self, writer: pq.ParquetWriter, schema: pa.Schema) -> None:
        self._writer = writer
        self._schema = schema

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table.cast(self._schema))


@contextmanager
def parquet_sink(dest: Path, schema: pa.Schema) -> Iterator[ParquetSink]:
    """A zstd Parquet file at ``dest`` that appears only when the block ends normally (whole or not at all)."""
    with atomic_write(dest) as tmp:
        writer = pq.ParquetWriter(tmp, schema, compression="zstd")
        try:
            yield ParquetSink(writer, schema)
        finally:
            writer.close()


class StagingWriter:
    """Receives one file's batches from its reader, sends them to two sinks and keeps the row accounting."""

    def __init__(
        self,
        stored: StoredFile,
        staged: BatchSink,
        quarantined: BatchSink,
        *,
        issues: BatchSink | None = None,
        batch_rows: int | None = None,
    ) -> None:
        self.stored = stored
        #: rows per batch the reader should use
        self.batch_rows = batch_rows or BATCH_ROWS
        self.result = FileResult(file_name=stored.file_name, sha256=stored.sha256)
        self._staged = staged
        self._quarantined = quarantined
        self._issues = issues

    @classmethod
    @contextmanager
    def to_parquet(cls, zones: Zones, feed: Feed, stored: StoredFile) -> Iterator[StagingWriter]:
        """A writer to the feed's staging, quarantine and field issue Parquet files for ``stored`` (named by its
        SHA-256).

        When the block ends normally the accounting is checked (:meth:`finish`) and the three files are moved
        into place; on an exception (a :class:`~connectors.errors.FileRejected`
        included) none appears.
        """
        name = f"{stored.sha256}.parquet"
        with (
            parquet_sink(zones.field_issue_dir(feed.name) / name, STAGED_ISSUE_SCHEMA) as issues,
            parquet_sink(zones.quarantine_dir(feed.name) / name, arrow_schema("quarantine")) as quarantined,
            parquet_sink(zones.staging_dir(feed.name) / name, feed.staging_schema) as staged,
        ):
            writer = cls(stored, staged, quarantined, issues=issues)
            yield writer
            writer.finish()

    def describe(self, *, encoding: str, warnings: Iterable[str] = ()) -> None:
        """Record how the file was read (its encoding, or ``xlsx`` / ``parquet``) and warnings about it."""
        self.result.encoding = encoding
        self.result.warnings.extend(warnings)

    def count_blank(self, rows: int = 1) -> None:
        """Count rows with no value at all: not rows, neither staged nor quarantined."""
        self.result.rows_blank += rows

    def add(self, outcome: BatchOutcome) -> None:
        """Write one batch's staged rows, quarantine entries and field issues; add its counts to the file's."""
        result = self.result
        self._staged.write(outcome.staged)
        self._quarantined.write(outcome.quarantine)
        if self._issues is not None:
            self._issues.write(outcome.field_issues)
        for k, v in outcome.issue_reasons.items():
            result.field_issues[k] = result.field_issues.get(k, 0) + v
        result.rows_read += outcome.rows_read
        result.rows_staged += outcome.staged.num_rows
        result.rows_quarantined += outcome.rows_quarantined
        for k, v in outcome.reasons.items():
            result.reasons[k] = result.reasons.get(k, 0) + v

    def finish(self) -> FileResult:
        """The file's result once every batch is in; a file without rows is taken as empty, with a warning.

        Raises :class:`~connectors.results.AccountingError` if read != staged + quarantined (always a bug).
        """
        result = self.result
        if result.rows_read == 0:
            # a department with nothing to report this time sends its header alone: taken, and said
            zh, en = REASON_TEXT[ReasonCode.HEADER_ONLY]
            blank = (
                f"（另有 {result.rows_blank} 个空行） / ({result.rows_blank} blank rows)"
                if result.rows_blank
                else ""
            )
            result.warnings.append(f"{zh}，按空文件接收{blank} / {en}: accepted as empty")
        if not result.balanced:
            raise AccountingError(
                f"{result.file_name}: read {result.rows_read} != staged {result.rows_staged} + quarantined "
                f"{result.rows_quarantined}"
            )
        return result


def record_failed(
    raw: RawZone, feed: Feed, stored: StoredFile, e: FileRejected
) -> tuple[FileResult, FileProblem]:
    """A whole-file problem (a landed file or a database extract): the file stays in raw, marked ``failed`` in
    the manifest, and the result and problem a person reads are returned."""
    problem = FileProblem(feed.name, stored.file_name, e.code, e.detail, stored.sha256, e.headline)
    raw.record_outcome(
        feed.name,
        stored.sha256,
        status="failed",
        error_code=str(e.code),
        error=problem.message,
        file_name=stored.file_name,
    )
    log.warning("%s", problem.message)
    result = FileResult(
        file_name=stored.file_name, sha256=stored.sha256, error=problem.message, error_code=str(e.code)
    )
    return result, problem


#: said when a full feed's earlier table, received again, is its current one again
CURRENT_AGAIN = (
    "全量数据源：此前的全表再次成为当前数据 / full feed: this earlier table is the current one again"
)


def current_again(raw: RawZone, feed: Feed, previous: dict) -> bool:
    """A ``full`` feed received content it staged before: make it the latest staged (its current table) again.

    A delta feed's repeat changes nothing (its rows are staged); a full feed's earlier table sent again after a
    newer one means the table went back to it. True when the manifest's receipt order was changed."""
    if feed.mode != "full":
        return False
    m = raw.manifest(feed.name)
    if previous.get("seq") == m.loc[m["status"] == "staged", "seq"].max():
        return False
    counts = ("encoding", "rows_read", "rows_staged", "rows_quarantined", "rows_blank", "file_name")
    raw.record_outcome(feed.name, previous["sha256"], status="staged", **{k: previous[k] for k in counts})
    return True


__all__ = [
    "CURRENT_AGAIN",
    "current_again",
    "record_failed",
    "BATCH_ROWS",
    "BatchSink",
    "ParquetSink",
    "StagingWriter",
    "StoredFile",
    "parquet_sink",
]
