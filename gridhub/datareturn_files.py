"""A data return (:mod:`gridhub.datareturn`) as files a department opens: CSV (UTF-8 with BOM, so Excel reads
the Chinese) and xlsx (openpyxl's write-only mode: rows are streamed, never a whole workbook in memory).

Columns carry the department's own headers (its feed's ``columns``, reversed) and Chinese names for what the
warehouse adds (``现住址_标准地址编码``, ``人员ID(person_id)``...), so a clerk recognises the file.

Spreadsheets run formulas: in xlsx every text cell is written as text (a value starting with ``=`` is never
a formula); in CSV a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return and is
not a plain number (a phone ``+86 138…`` stays as it is) gets a leading ``'`` (the OWASP rule for CSV
injection).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from gridhub.datareturn import GOLDEN_FIELD

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

    from connectors.feeds import Feed

ENTITY_LABELS = {"person": "人员", "organisation": "单位", "house": "房屋", "facility": "设施"}
_ID_LABELS = {"person_id": "人员ID", "org_id": "单位ID", "house_id": "房屋ID", "facility_id": "设施ID"}
_ADDED = {"code": "标准地址编码", "grid_code": "网格编码", "status": "地址绑定"}
STATUS_TEXT = {"matched": "已匹配", "ambiguous": "多个候选(待核)", "unmatched": "未匹配"}
DISAGREEMENT_LABELS = {
    "feed": "数据源(feed)",
    "source_record_id": "记录编号(source_record_id)",
    "entity_type": "实体类型(entity_type)",
    "entity_id": "实体ID(entity_id)",
    "field": "字段(field)",
    "value": "本部门的值(your value)",
    "golden_value": "标准记录的值(golden value)",
    "golden_feed": "标准值来源(golden value from)",
}
RECORDS_SHEET = "记录 records"
DISAGREEMENTS_SHEET = "不一致 disagreements"
XLSX_MAX_ROWS = 1_048_576  # rows of one worksheet, the header included
_CHUNK = 20_000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"[+-]?[0-9][0-9 ().-]*"


def _headers(feeds: list[Feed]) -> dict[str, str]:
    """Staging field → the department's own column header (the first feed that maps it wins)."""
    out: dict[str, str] = {}
    for feed in feeds:
        for header, field in feed.columns.items():
            out.setdefault(field, header)
    return out


def record_labels(columns: list[str], feeds: list[Feed]) -> dict[str, str]:
    """Column → header of the records file: the department's headers, then the added codes in Chinese."""
    own = _headers(feeds)
    labels = {"feed": "数据源(feed)"}
    for c in columns:
        if c in own:
            labels[c] = own[c]
        elif c in _ID_LABELS:
            labels[c] = f"{_ID_LABELS[c]}({c})"
        else:
            for suffix, text in _ADDED.items():
                field = c.removesuffix(f"_{suffix}")
                if field != c and field in own:
                    labels[c] = f"{own[field]}_{text}"
                    break
    return {c: labels.get(c, c) for c in columns}


def labelled_records(records: pd.DataFrame, feeds: list[Feed]) -> pd.DataFrame:
    """The records with the department's headers and the binding statuses in words."""
    out = records.copy()
    for c in out.columns:
        if c.endswith("_status"):
            out[c] = out[c].map(lambda s: STATUS_TEXT.get(s, s) if isinstance(s, str) else s)
    return out.rename(columns=record_labels(list(out.columns), feeds))


def labelled_disagreements(disagreements: pd.DataFrame, feeds: list[Feed]) -> pd.DataFrame:
    """The disagreement list with Chinese headers, entity types in words, fields under the department's
    own header, and the golden value's feed with its department."""
    own = _headers(feeds)
    back = {(t, g): m for t, fields in GOLDEN_FIELD.items() for m, g in fields.items()}
    out = disagreements.copy()
    out["field"] = [
        own.get(back.get((t, f), f), f) for t, f in zip(out["entity_type"], out["field"], strict=True)
    ]
    out["entity_type"] = out["entity_type"].map(lambda t: ENTITY_LABELS.get(t, t))
    return out.rename(columns=DISAGREEMENT_LABELS)


def _csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula, with a leading ``'`` (numbers stay as they are)."""
    out = frame.copy()
    for c in out.columns:
        if not (pd.api.types.is_object_dtype(out[c]) or pd.api.types.is_string_dtype(out[c])):
            continue
        text = out[c].astype("string")
        risky = text.str.startswith(_FORMULA_START).fillna(False) & ~text.str.fullmatch(_PLAIN_NUMBER).fillna(
            False
        )
        if risky.any():
            out[c] = out[c].astype(object).where(~risky, "'" + text)
    return out


def csv_chunks(frame: pd.DataFrame) -> Iterator[bytes]:
    """``frame`` as CSV bytes (UTF-8 with BOM, CRLF), in chunks: the header first, then rows."""
    yield "\ufeff".encode()
    yield frame.head(0).to_csv(index=False, lineterminator="\r\n").encode("utf-8")
    for start in range(0, len(frame), _CHUNK):
        part = _csv_safe(frame.iloc[start : start + _CHUNK])
        yield part.to_csv(index=False, header=False, lineterminator="\r\n").encode("utf-8")


def _cell(value: object, sheet: WriteOnlyWorksheet) -> object:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date() if value == value.normalize() else value.to_pydatetime()
    if isinstance(value, (bool, int, float, dt.date)):
        return value
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    if text.startswith("="):  # openpyxl would write it as a formula
        cell = WriteOnlyCell(sheet, value=text)
        cell.data_type = "s"
        return cell
    return text


def _write_sheets(book: Workbook, title: str, frame: pd.DataFrame) -> None:
    """``frame`` into one or more write-only sheets (a sheet holds at most 1,048,575 rows under its header)."""
    per_sheet = XLSX_MAX_ROWS - 1
    parts = max(1, -(-len(frame) // per_sheet))
    for i in range(parts):
        sheet = book.create_sheet(title if i == 0 else f"{title} ({i + 1})")
        sheet.append([str(c) for c in frame.columns])
        for start in range(i * per_sheet, min(len(frame), (i + 1) * per_sheet), _CHUNK):
            stop = min(start + _CHUNK, (i + 1) * per_sheet)
            for row in frame.iloc[start:stop].astype(object).itertuples(index=False, name=None):
                sheet.append([_cell(v, sheet) for v in row])


def write_xlsx(path: Path, records: pd.DataFrame, disagreements: pd.DataFrame) -> Path:
    """A workbook with the records and the disagreement list, each on its own sheet (write-only mode)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    _write_sheets(book, RECORDS_SHEET, records)
    _write_sheets(book, DISAGREEMENTS_SHEET, disagreements)
    book.save(path)
    return path


__all__ = [
    "DISAGREEMENTS_SHEET",
    "RECORDS_SHEET",
    "csv_chunks",
    "labelled_disagreements",
    "labelled_records",
    "record_labels",
    "write_xlsx",
]
