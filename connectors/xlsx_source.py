"""Excel (xlsx) feeds: streamed with openpyxl's read-only mode, one sheet, typed cells kept typed.

The "line" of a row is its row number in the sheet (what the clerk sees in Excel). Cells keep their types:
a date cell stages as that date whatever the feed's ``date_formats`` say; a number cell in a text field
reads as the number without ``.0``. An ID number, credit code, phone or record id in a number cell of more
than 15 digits has already lost digits in Excel: its row is quarantined (``numeric_cell_lost_digits``, telling
the department to format the column as text), never staged as a wrong ID. Formula cells give the value Excel
cached when the file was saved; nothing is evaluated here. Rows wider than the header with values beyond it
are ragged; shorter rows are normal in xlsx (trailing empty cells are not stored).
"""

from __future__ import annotations

import logging
import warnings
import zipfile
import zlib
from pathlib import Path
from xml.etree.ElementTree import ParseError

import numpy as np
import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from connectors.errors import FileRejected
from connectors.feeds import Feed
from connectors.results import FileResult
from connectors.rules import Reject, RowRules, SourceColumn, cell_text
from warehouse.reasons import REASON_TEXT, ReasonCode
from warehouse.schema import STAGING_FIELDS

log = logging.getLogger(__name__)

_OPEN_ERRORS = (
    zipfile.BadZipFile,
    InvalidFileException,
    KeyError,
    OSError,
    ValueError,
    ParseError,
    EOFError,
    zlib.error,
)
_READ_ERRORS = (zipfile.BadZipFile, OSError, ParseError, EOFError, zlib.error)


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


def stage_xlsx(
    feed: Feed, path: Path, sha: str, file_name: str, staged, quarantined, batch_rows: int | None = None
) -> FileResult:
    """Stream one stored xlsx workbook's sheet through the row rules into the two outputs."""
    from connectors.ingest import BATCH_ROWS, _accumulate, _finish

    batch_rows = batch_rows or BATCH_ROWS
    wb, ws = _open_sheet(path, feed.source.sheet)
    result = FileResult(file_name=file_name, sha256=sha, encoding="xlsx")
    try:
        rows = ws.iter_rows(values_only=True)
        header, header_line = None, 0
        line = 0
        for line, values in enumerate(rows, start=1):
            if line >= feed.source.header_row and values and not all(_blank(v) for v in values):
                header, header_line = list(values), line
                break
        if header is None:
            raise FileRejected(ReasonCode.EMPTY_FILE, "no header row in the sheet")
        while header and _blank(header[-1]):
            header.pop()
        width = len(header)
        rules = RowRules(feed, [cell_text(h) or "" for h in header], raw_sha256=sha, file_name=file_name)
        result.warnings.extend(rules.warnings)
        fields = list(rules.source_indices.items())
        kinds = {f: STAGING_FIELDS[f].kind for f, _ in fields}
        codes = {f: STAGING_FIELDS[f].code for f, _ in fields}

        starts: list[int] = []
        batch: list[tuple] = []
        rejects: list[Reject] = []

        def flush() -> None:
            cols = (
                {
                    f: SourceColumn.from_cells(
                        [r[i] if i < len(r) else None for r in batch], kinds[f], code=codes[f]
                    )
                    for f, i in fields
                }
                if batch
                else {}
            )
            _accumulate(
                result,
                rules.apply(np.asarray(starts, dtype=np.int64), cols, list(rejects)),
                staged,
                quarantined,
            )
            starts.clear()
            batch.clear()
            rejects.clear()

        for line, values in enumerate(rows, start=header_line + 1):
            if not values or all(_blank(v) for v in values):
                result.rows_blank += 1
                continue
            if len(values) > width and not all(_blank(v) for v in values[width:]):
                zh, en = REASON_TEXT[ReasonCode.RAGGED_ROW]
                rejects.append(
                    Reject(
                        line,
                        ReasonCode.RAGGED_ROW,
                        f"{zh} / {en} (values beyond the {width} header columns)",
                        "\t".join("" if v is None else cell_text(v) or "" for v in values),
                    )
                )
            else:
                starts.append(line)
                batch.append(values)
            if len(batch) + len(rejects) >= batch_rows:
                flush()
        if batch or rejects:
            flush()
    except _READ_ERRORS as e:
        raise FileRejected(
            ReasonCode.UNREADABLE_FILE, f"the sheet cannot be read: {type(e).__name__}"
        ) from None
    finally:
        wb.close()
    _finish(result)
    return result
