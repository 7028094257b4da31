"""Excel (xlsx) feeds: streamed with openpyxl's read-only mode, one sheet, typed cells kept typed.

Before openpyxl reads anything, the workbook and the sheet are streamed once and checked against the
feed's ``source.limits`` (:mod:`connectors.xlsx_limits`): a zip bomb, two million rows or a cell of a billion
spaces are refused (``workbook_too_large``) with memory bounded, and the batches are sized by the widest and
longest row the check saw. The sheet's declared dimensions are not trusted (openpyxl would pad every row to a
forged width, or stop early at a wrong one).

The "line" of a row is its row number in the sheet (what the clerk sees in Excel). Cells keep their types:
a date cell stages as that date whatever the feed's ``date_formats`` say; a number cell in a text field
reads as the number without ``.0``. An ID number, credit code, phone or record id in a number cell of more
than 15 digits has already lost digits in Excel: its row is quarantined (``numeric_cell_lost_digits``, telling
the department to format the column as text), never staged as a wrong ID. Formula cells give the value Excel
cached when the file was saved; nothing is evaluated here. Rows wider than the header with values beyond it
are ragged; shorter rows are normal in xlsx (trailing empty cells are not stored).
"""

from __future__ import annotations

import warnings
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import ParseError

import numpy as np
import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from connectors.cells import SourceColumn, cell_text
from connectors.errors import FileRejected
from connectors.feeds import Feed, FileSource
from connectors.rules import Reject, RowRules
from connectors.staging import StagingWriter, StoredFile
from connectors.xlsx_limits import SheetShape, check_sheet, check_workbook
from warehouse.progress import Task, progress
from warehouse.reasons import REASON_TEXT, ReasonCode
from warehouse.schema import STAGING_FIELDS, FieldKind

_OPEN_ERRORS = (
    zipfile.BadZipFile,
    InvalidFileException,
    KeyError,
    OSError,
    ValueError,
    ParseError,
    EOFError,
    zlib.error,
    TypeError,  # openpyxl's descriptors on a malformed part (a fill that is not a fill)
)
_READ_ERRORS = (zipfile.BadZipFile, OSError, ParseError, EOFError, zlib.error)
#: What one batch may hold, whatever the batch_rows: cells (a row tuple of 16,384 columns is 128 KiB of
#: pointers) and characters (8 cells of 32,767 characters are 256 KiB of text, copied again into Arrow).
BATCH_CELLS = 4_000_000
BATCH_CHARS = 32_000_000
#: Characters of a ragged row's original text kept (the rest is beyond any header anyway).
RAGGED_TEXT_CHARS = 8192


def batch_rows(shape: SheetShape, default: int) -> int:
    """Rows per batch for a sheet of ``shape``: ``default``, fewer when its rows are wide or long."""
    by_cells = BATCH_CELLS // max(1, shape.max_row_cells)
    by_chars = BATCH_CHARS // max(1, shape.max_row_chars)
    return max(1, min(default, by_cells, by_chars))


def _blank(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _open_sheet(path: Path, sheet: str | int | None):
    """(workbook, sheet); the workbook is opened from a file object since raw blobs have no extension."""
    fh = path.open("rb")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except _OPEN_ERRORS as e:
        fh.close()
        raise FileRejected(
            ReasonCode.UNREADABLE_FILE, f"not a readable xlsx workbook: {type(e).__name__}"
        ) from None
    names = wb.sheetnames
    if sheet is None:
        if not names:
            wb.close()
            raise FileRejected(ReasonCode.EMPTY_FILE, "the workbook has no sheets")
        return wb, wb[names[0]]
    if isinstance(sheet, int):
        if 0 <= sheet < len(names):
            return wb, wb[names[sheet]]
    elif sheet in names:
        return wb, wb[sheet]
    wb.close()
    raise FileRejected(ReasonCode.SHEET_NOT_FOUND, f"{sheet!r}; sheets: {', '.join(names)}")


def _find_header(rows: Iterator[tuple], header_row: int) -> tuple[list, int]:
    """The header (first non-blank row from ``header_row`` on, trailing blank cells dropped) and its row."""
    for line, values in enumerate(rows, start=1):
        if line >= header_row and values and not all(_blank(v) for v in values):
            header = list(values)
            while header and _blank(header[-1]):
                header.pop()
            return header, line
    raise FileRejected(ReasonCode.EMPTY_FILE, "no header row in the sheet")


def _ragged(line: int, values: tuple, width: int) -> Reject:
    zh, en = REASON_TEXT[ReasonCode.RAGGED_ROW]
    return Reject(
        line,
        ReasonCode.RAGGED_ROW,
        f"{zh} / {en} (values beyond the {width} header columns)",
        "\t".join("" if v is None else cell_text(v) or "" for v in values)[:RAGGED_TEXT_CHARS],
    )


class _SheetBatches:
    """The rows after the header, collected into batches of typed cells and sent through the rules."""

    def __init__(self, rules: RowRules, width: int, out: StagingWriter, rows: int, task: Task) -> None:
        self.task = task  # progress: sheet lines read
        self.rules = rules
        self.width = width
        self.out = out
        self.batch_rows = rows
        self.fields = list(rules.source_indices.items())
        self.kinds = {f: STAGING_FIELDS[f].kind for f, _ in self.fields}
        self.codes = {f: STAGING_FIELDS[f].code for f, _ in self.fields}
        self.starts: list[int] = []
        self.rows: list[tuple] = []
        self.rejects: list[Reject] = []

    def read(self, rows: Iterator[tuple], first_line: int) -> None:
        width = self.width
        for line, values in enumerate(rows, start=first_line):
            if not values or all(_blank(v) for v in values):
                self.out.count_blank()
                continue
            if len(values) > width and not all(_blank(v) for v in values[width:]):
                self.rejects.append(_ragged(line, values, width))
            else:
                self.starts.append(line)
                self.rows.append(values[:width])
            if len(self.rows) + len(self.rejects) >= self.batch_rows:
                self.task.update(done=line, rows=len(self.rows) + len(self.rejects))
                self._flush()
        self.task.update(rows=len(self.rows) + len(self.rejects))
        if self.rows or self.rejects:
            self._flush()

    def _flush(self) -> None:
        rows = self.rows
        cols = {
            f: SourceColumn.from_cells(
                [r[i] if i < len(r) else None for r in rows], self.kinds[f], code=self.codes[f]
            )
            for f, i in self.fields
            if rows
        }
        kept = {
            a: SourceColumn.from_cells([r[i] if i < len(r) else None for r in rows], FieldKind.TEXT)
            for a, i in self.rules.attribute_indices.items()
            if rows
        }
        lines = np.asarray(self.starts, dtype=np.int64)
        self.out.add(self.rules.apply(lines, cols, self.rejects, kept))
        self.starts, self.rows, self.rejects = [], [], []


class XlsxReader:
    """Stages one sheet of a stored xlsx workbook (``FileSource.sheet``, header at ``header_row`` or below)."""

    def stage(self, feed: Feed, source: FileSource, stored: StoredFile, out: StagingWriter) -> None:
        shared = check_workbook(stored.path, source.limits)  # before openpyxl parses any of it
        wb, sheet = _open_sheet(stored.path, source.sheet)
        try:
            part = getattr(sheet, "_worksheet_path", None)  # openpyxl's read-only sheets know their part
            if not isinstance(part, str):
                raise FileRejected(ReasonCode.UNREADABLE_FILE, f"{sheet.title!r} is not a worksheet")
            shape = check_sheet(stored.path, part, source.limits, shared)
            sheet.reset_dimensions()  # the declared size is not trusted: no padding, no cut-off rows
            rows = sheet.iter_rows(values_only=True)
            header, header_line = _find_header(rows, source.header_row)
            names = [cell_text(h) or "" for h in header]
            rules = RowRules(feed, names, raw_sha256=stored.sha256, file_name=stored.file_name)
            out.describe(encoding="xlsx", warnings=rules.warnings)
            with progress(f"ingest {feed.name}: {stored.file_name}", total=shape.rows, unit="lines") as task:
                _SheetBatches(rules, len(header), out, batch_rows(shape, out.batch_rows), task).read(
                    rows, header_line + 1
                )
                task.update(done=shape.rows)
        except _READ_ERRORS as e:
            raise FileRejected(
                ReasonCode.UNREADABLE_FILE, f"the sheet cannot be read: {type(e).__name__}"
            ) from None
        finally:
            wb.close()


READER = XlsxReader()
