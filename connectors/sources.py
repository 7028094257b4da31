"""The seam for kinds of sources: what a source kind and a file format must provide, and the registries.

Two registries, both imported lazily (a CSV feed never imports openpyxl or SQLAlchemy):

- :data:`SOURCE_KINDS`: a feed's ``source.kind`` → the :class:`SourceKind` that ingests it: ``file`` (files
  landed in the feed's folder, :mod:`connectors.file_feed`) or ``sql`` (a database pull,
  :mod:`connectors.sql`).
- :data:`FILE_FORMATS`: a file feed's format → the :class:`SourceReader` of a stored file of that format and the
  name endings that mean it under ``format: auto``: ``csv`` (:mod:`connectors.csv_source`), ``xlsx``
  (:mod:`connectors.xlsx_source`).

A reader streams one stored file (a landed file, or a database extract kept in raw) through the feed's row rules
into a :class:`connectors.staging.StagingWriter`, which writes the staged and quarantine outputs and keeps the
row accounting. Adding a file format is one module with a reader plus one line in :data:`FILE_FORMATS` (and the
name in ``FileSource.format``); adding a source kind is one module with a :class:`SourceKind` plus one line in
:data:`SOURCE_KINDS` (and its source model in :mod:`connectors.feeds`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar, cast

from connectors.errors import FileRejected
from connectors.feeds import Feed, FileSource, SqlSource, Zones
from connectors.results import IngestResult
from connectors.staging import StagingWriter, StoredFile
from connectors.text import SAMPLE_BYTES, sniff_format
from warehouse.reasons import ReasonCode

S_contra = TypeVar("S_contra", FileSource, SqlSource, contravariant=True)


class SourceReader(Protocol[S_contra]):
    """Reads one stored file of a feed: a landed CSV or xlsx file, a database extract."""

    def stage(self, feed: Feed, source: S_contra, stored: StoredFile, out: StagingWriter) -> None:
        """Stream ``stored`` through the feed's row rules into ``out`` in batches of ``out.batch_rows`` rows.

        Calls ``out.describe`` (encoding, warnings), ``out.add`` per batch and ``out.count_blank`` for empty
        rows; raises :class:`~connectors.errors.FileRejected` for a whole-file problem. The caller finishes
        ``out`` (the accounting check).
        """
        ...


class SourceKind(Protocol):
    """How the rows of a feed arrive, e.g. files in a landing folder or a pull from a database."""

    def ingest(self, zones: Zones, feed: Feed, files: list[Path] | None) -> IngestResult:
        """Receive, keep in raw and stage what is new for ``feed`` (``files``: given files, if the kind takes
        files); raise :class:`~connectors.errors.FeedFileError` after a whole-file problem. The caller holds
        the feed's ingest lock."""
        ...


def _load(target: str) -> object:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class FileFormat:
    """A registered file format: where its reader is (``module:attribute``) and the name endings that mean it."""

    reader: str
    suffixes: tuple[str, ...]

    def load(self) -> SourceReader[FileSource]:
        """The format's reader (its module is imported on first use)."""
        return cast("SourceReader[FileSource]", _load(self.reader))


#: A file feed's ``format`` → its reader and the file name endings that mean it under ``format: auto``.
FILE_FORMATS: dict[str, FileFormat] = {
    "csv": FileFormat("connectors.csv_source:READER", (".csv", ".txt", ".tsv")),
    "xlsx": FileFormat("connectors.xlsx_source:READER", (".xlsx", ".xlsm")),
}

#: A feed's ``source.kind`` → ``module:attribute`` of the :class:`SourceKind` that ingests it.
SOURCE_KINDS: dict[str, str] = {
    "file": "connectors.file_feed:FILE_FEEDS",
    "sql": "connectors.sql:SQL_FEEDS",
}


def source_kind(kind: str) -> SourceKind:
    """The registered :class:`SourceKind` for ``kind`` (its module is imported on first use)."""
    return cast(SourceKind, _load(SOURCE_KINDS[kind]))


def _format_by_name(file_name: str) -> str | None:
    suffix = Path(file_name).suffix.lower()
    return next((name for name, fmt in FILE_FORMATS.items() if suffix in fmt.suffixes), None)


def choose_format(source: FileSource, path: Path, file_name: str) -> str:
    """The format of a stored file (a key of :data:`FILE_FORMATS`) from the feed's ``format``, the name and the
    content; raise if they disagree.

    The content decides first: a zip container is an xlsx workbook, other known binary content is rejected, and
    a file the feed reads as xlsx must be a workbook. A text file is read in the configured format, else the
    format its name ending is registered for, else as CSV.
    """
    size = path.stat().st_size
    if size == 0:
        raise FileRejected(ReasonCode.EMPTY_FILE, "0 bytes")
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES)
    kind, problem, what = sniff_format(head)
    wants = source.format if source.format != "auto" else _format_by_name(file_name)
    if kind == "xlsx":
        if wants in (None, "xlsx"):
            return "xlsx"
        raise FileRejected(ReasonCode.WRONG_FORMAT, f"{what} in a file the feed reads as CSV")
    if problem is not None:
        raise FileRejected(problem, what)
    if wants == "xlsx":
        raise FileRejected(ReasonCode.WRONG_FORMAT, "not an xlsx workbook (no zip container)")
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise FileRejected(ReasonCode.EMPTY_FILE, "only blank lines")
    return wants or "csv"  # text: the configured or named text format, CSV when the name says nothing


def stage_file(feed: Feed, source: FileSource, stored: StoredFile, out: StagingWriter) -> None:
    """Read a stored file of a file feed into ``out`` with the reader of its format (:func:`choose_format`)."""
    fmt = choose_format(source, stored.path, stored.file_name)
    FILE_FORMATS[fmt].load().stage(feed, source, stored, out)


__all__ = [
    "FILE_FORMATS",
    "SOURCE_KINDS",
    "FileFormat",
    "SourceKind",
    "SourceReader",
    "choose_format",
    "source_kind",
    "stage_file",
]
