"""Bounded xlsx: a workbook's parts are streamed and checked against :class:`connectors.limits.XlsxLimits`
before openpyxl reads them, so no upload can make a reader hold more than a bounded amount of memory.

An xlsx file is a zip of XML parts; what makes one dangerous is what it inflates to. A 1 MB file can hold a
gigabyte of spaces in one cell, two million rows, or a styles part of a million formats, and openpyxl, even in
read-only mode, holds a whole text node, a whole row, every shared string and every style in memory. So:

1. the zip's central directory is read first: more than :data:`MAX_PARTS` parts, a part whose declared
   inflated size passes its limit, or one that inflates more than ``max_inflate_ratio`` times its compressed
   size (a zip bomb; Apache POI's ``ZipSecureFile`` checks the same), is refused without inflating anything
   (CPython's ``zipfile`` never inflates a part beyond its declared size, nor reads more than its declared
   compressed size, and a part that inflates to anything else fails its CRC);
2. the parts openpyxl parses whole (content types, relationships, workbook, styles, theme, document
   properties) and the shared strings are streamed through expat, counting bytes, elements, strings and
   characters as they inflate; the sheet to stage is streamed the same way, counting rows, columns, cells and
   characters per cell and per row;
3. every stream also bounds the distance between two ``<``: no tag, attribute or text node can be larger
   than a cell may be, so neither expat nor openpyxl ever buffers more than that.

The first limit passed raises :class:`~connectors.errors.FileRejected` (``workbook_too_large``) with a
message naming the limit, in Chinese and English. A pass costs about a sixth of openpyxl's own read.
"""

from __future__ import annotations

import struct
import zipfile
from array import array
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

import numpy as np

from connectors.errors import FileRejected
from connectors.limits import XlsxLimits
from warehouse.reasons import ReasonCode

#: Most parts a workbook zip may have: a department extract has a dozen; the central directory of a zip with
#: a million tiny parts alone would take hundreds of MB to read.
MAX_PARTS = 10_000
#: Parts inflating to less than this are not held to ``max_inflate_ratio`` (small parts compress very well).
RATIO_GRACE = 16 << 20
_CHUNK = 1 << 16
_LT = ord("<")
#: Bytes one character of a cell can take in XML at most (``&#x1F600;``): bounds the gap between two ``<``.
_BYTES_PER_CHAR = 12


def too_large(zh: str, en: str) -> FileRejected:
    """The whole-file error for a workbook past a limit, bilingual (Chinese first)."""
    return FileRejected(ReasonCode.WORKBOOK_TOO_LARGE, f"{zh} / {en}")


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def _column_index(ref: str) -> int:
    """1-based column of a cell reference (``XFD7`` → 16384); 0 when it has no letters."""
    col = 0
    for ch in ref:
        if "A" <= ch <= "Z":
            col = col * 26 + ord(ch) - 64
        elif "a" <= ch <= "z":
            col = col * 26 + ord(ch) - 96
        else:
            break
    return col


def _row_number(value: str | None, previous: int) -> int:
    if value and value.isdigit():
        return int(value)
    return previous + 1


@dataclass
class SheetShape:
    """What the streamed sheet holds at most in one row: it sizes the reader's batches."""

    rows: int = 0
    max_row_cells: int = 0
    max_row_chars: int = 0


class _Scan:
    """One part streamed through expat with every count checked as it grows."""

    def __init__(
        self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: XlsxLimits, byte_limit: int
    ) -> None:
        self.zf, self.info, self.limits, self.byte_limit = zf, info, limits, byte_limit
        self.max_gap = _BYTES_PER_CHAR * limits.max_cell_chars + 4096
        self.run = 0  # characters of the current text run (reset by every tag)
        self.elements = 0
        self.parser = expat.ParserCreate()
        self.parser.buffer_text = False
        self.parser.CharacterDataHandler = self.chars
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.StartDoctypeDeclHandler = self.doctype

    def doctype(self, *args: object) -> None:
        """Office Open XML parts never declare a DTD (ECMA-376 Part 2): one is an entity-expansion attempt."""
        raise FileRejected(
            ReasonCode.UNREADABLE_FILE,
            f"{self.info.filename} declares a DTD, which no workbook part does / 工作簿部件中不应有DTD声明",
        )

    # handlers, overridden by the sheet and the shared strings
    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.run = 0
        self.elements += 1

    def end(self, name: str) -> None:
        self.run = 0

    def chars(self, data: str) -> None:
        self.run += len(data)
        if self.run > self.limits.max_cell_chars:
            raise too_large(
                f"{self.info.filename} 中有一段文字超过 {self.limits.max_cell_chars:,} 个字符",
                f"a text run in {self.info.filename} is longer than {self.limits.max_cell_chars:,} characters",
            )

    def run_through(self) -> None:
        done = 0
        gap = 0  # bytes since the last '<'
        try:
            with self.zf.open(self.info) as fh:
                while chunk := fh.read(_CHUNK):
                    done += len(chunk)
                    if done > self.byte_limit:
                        raise too_large(
                            f"{self.info.filename} 解压后超过 {self.byte_limit:,} 字节",
                            f"{self.info.filename} inflates to more than {self.byte_limit:,} bytes",
                        )
                    gap = self._gaps(chunk, gap)
                    self.parser.Parse(chunk, False)
                self.parser.Parse(b"", True)
        except expat.ExpatError as e:
            raise FileRejected(
                ReasonCode.UNREADABLE_FILE, f"{self.info.filename} is not well-formed XML: {e}"
            ) from None

    def _gaps(self, chunk: bytes, gap: int) -> int:
        """Bytes since the last ``<`` after ``chunk``; refuses a gap longer than any cell can need."""
        at = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == _LT)
        if len(at):
            longest = gap + int(at[0])
            if len(at) > 1:
                longest = max(longest, int(np.diff(at).max()))
            gap = len(chunk) - int(at[-1]) - 1
        else:
            longest = gap = gap + len(chunk)
        if max(longest, gap) > self.max_gap:
            raise too_large(
                f"{self.info.filename} 中有一个标签或一段文字超过 {self.max_gap:,} 字节",
                f"a tag or text in {self.info.filename} is longer than {self.max_gap:,} bytes",
            )
        return gap


class _PartScan(_Scan):
    """A part openpyxl parses whole: its elements are counted."""

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.run = 0
        self.elements += 1
        if self.elements > self.limits.max_other_part_elements:
            raise too_large(
                f"{self.info.filename} 含有超过 {self.limits.max_other_part_elements:,} 个元素(如样式过多)",
                f"{self.info.filename} holds more than {self.limits.max_other_part_elements:,} elements "
                "(e.g. too many cell styles)",
            )


class _SharedStringScan(_Scan):
    """``sharedStrings.xml``: strings counted, their characters summed and each one bounded."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.strings = 0
        self.total = 0
        self.current = 0
        #: characters of each shared string, by index (a cell that refers to one holds that many)
        self.lengths = array("l")

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.run = 0
        if _local(name) == "si":
            self.strings += 1
            self.current = 0
            if self.strings > self.limits.max_shared_strings:
                raise too_large(
                    f"共享字符串超过 {self.limits.max_shared_strings:,} 个",
                    f"more than {self.limits.max_shared_strings:,} shared strings",
                )

    def end(self, name: str) -> None:
        self.run = 0
        if _local(name) == "si":
            self.lengths.append(self.current)

    def chars(self, data: str) -> None:
        super().chars(data)
        n = len(data)
        self.current += n
        self.total += n
        if self.current > self.limits.max_cell_chars:
            raise too_large(
                f"第 {self.strings} 个共享字符串超过 {self.limits.max_cell_chars:,} 个字符",
                f"shared string {self.strings} is longer than {self.limits.max_cell_chars:,} characters",
            )
        if self.total > self.limits.max_shared_string_chars:
            raise too_large(
                f"共享字符串合计超过 {self.limits.max_shared_string_chars:,} 个字符",
                f"the shared strings hold more than {self.limits.max_shared_string_chars:,} characters",
            )


class _SheetScan(_Scan):
    """The sheet to stage: rows, columns, cells per row and characters per cell and per row."""

    def __init__(self, *args, shared: array | None = None) -> None:
        super().__init__(*args)
        self.shared_lengths = shared if shared is not None else array("l")
        self.shared = False  # the current cell refers to a shared string
        self.index = ""  # ... by this index
        self.shape = SheetShape()
        self.row = 0
        self.column = 0
        self.cells = 0
        self.row_chars = 0
        self.cell_chars = 0
        self.in_cell = False

    def _row_done(self) -> None:
        shape = self.shape
        shape.max_row_cells = max(shape.max_row_cells, self.cells, self.column)
        shape.max_row_chars = max(shape.max_row_chars, self.row_chars)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.run = 0
        tag = _local(name)
        lim = self.limits
        if tag == "c":
            ref = attrs.get("r")
            self.column = _column_index(ref) if ref else self.column + 1
            self.cells += 1
            self.in_cell = True
            self.cell_chars = 0
            self.shared = attrs.get("t") == "s"
            self.index = ""
            if self.column > lim.max_columns or self.cells > lim.max_columns:
                raise too_large(
                    f"第 {self.row} 行超过 {lim.max_columns:,} 列",
                    f"row {self.row} has more than {lim.max_columns:,} columns",
                )
        elif tag == "row":
            self._row_done()
            self.row = _row_number(attrs.get("r"), self.row)
            self.column = self.cells = self.row_chars = 0
            self.shape.rows = max(self.shape.rows, self.row)
            if self.row > lim.max_rows:
                raise too_large(
                    f"工作表超过 {lim.max_rows:,} 行", f"the sheet has more than {lim.max_rows:,} rows"
                )

    def end(self, name: str) -> None:
        self.run = 0
        if _local(name) == "c":
            self.in_cell = False
            if self.shared and self.index.strip().isdigit():
                at = int(self.index)
                self.row_chars += self.shared_lengths[at] if at < len(self.shared_lengths) else 0

    def chars(self, data: str) -> None:
        super().chars(data)
        if self.in_cell:
            if self.shared:
                self.index += data[:32]
            n = len(data)
            self.cell_chars += n
            self.row_chars += n
            if self.cell_chars > self.limits.max_cell_chars:
                raise too_large(
                    f"第 {self.row} 行有单元格超过 {self.limits.max_cell_chars:,} 个字符",
                    f"a cell in row {self.row} is longer than {self.limits.max_cell_chars:,} characters",
                )


def _entry_count(path: Path) -> int | None:
    """Parts listed in the zip's end-of-central-directory record (None when it cannot be found)."""
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - (1 << 16) - 22))
        tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None
    return struct.unpack("<H", tail[at + 10 : at + 12])[0]


def _read_whole(name: str) -> bool:
    """Parts openpyxl's read-only mode parses whole when it opens a workbook (it streams the sheets later, and
    never reads calcChain, drawings, pivot caches or the other sheets)."""
    low = name.lower()
    if not low.endswith((".xml", ".rels")):
        return False
    folder, _, base = low.rpartition("/")
    if folder == "xl":
        return base.startswith("workbook") or base == "styles.xml"
    return folder in ("", "_rels", "docprops", "xl/_rels", "xl/theme", "xl/externallinks")


def _is_shared_strings(name: str) -> bool:
    return name.lower().rsplit("/", 1)[-1] == "sharedstrings.xml"


def _check_declared(info: zipfile.ZipInfo, limit: int, limits: XlsxLimits) -> None:
    """A part's sizes as the central directory declares them (``zipfile`` holds the part to them)."""
    if info.file_size > limit:
        raise too_large(
            f"{info.filename} 解压后有 {info.file_size:,} 字节，超过 {limit:,}",
            f"{info.filename} inflates to {info.file_size:,} bytes, more than {limit:,}",
        )
    ratio = info.file_size / max(1, info.compress_size)
    if info.file_size > RATIO_GRACE and ratio > limits.max_inflate_ratio:
        raise too_large(
            f"{info.filename} 压缩比 {ratio:,.0f}:1，超过 {limits.max_inflate_ratio}:1(疑似压缩炸弹)",
            f"{info.filename} inflates {ratio:,.0f} times its size, more than {limits.max_inflate_ratio} "
            "(a zip bomb)",
        )


def check_workbook(path: Path, limits: XlsxLimits) -> array:
    """Everything openpyxl reads when it opens ``path``, streamed and checked (steps 1–2 of the module doc).
    Returns the length of each shared string (for :func:`check_sheet`)."""
    entries = _entry_count(path)
    if entries is not None and entries >= min(MAX_PARTS, 0xFFFF):
        raise too_large(f"压缩包中有 {entries:,} 个部件", f"the zip holds {entries:,} parts")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise FileRejected(
            ReasonCode.UNREADABLE_FILE, f"not a readable xlsx workbook: {type(e).__name__}"
        ) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_PARTS:
            raise too_large(f"压缩包中有 {len(infos):,} 个部件", f"the zip holds {len(infos):,} parts")
        for info in infos:
            shared = _is_shared_strings(info.filename)
            if shared or _read_whole(info.filename):
                _check_declared(
                    info, limits.max_part_bytes if shared else limits.max_other_part_bytes, limits
                )
        lengths = array("l")
        for info in infos:
            if _is_shared_strings(info.filename):
                strings = _SharedStringScan(zf, info, limits, limits.max_part_bytes)
                strings.run_through()
                lengths = strings.lengths
            elif _read_whole(info.filename):
                _PartScan(zf, info, limits, limits.max_other_part_bytes).run_through()
        return lengths


def check_sheet(path: Path, part: str, limits: XlsxLimits, shared: array | None = None) -> SheetShape:
    """The sheet part ``part`` of ``path`` streamed and checked (step 2 for the sheet); its shape. ``shared``:
    the shared strings' lengths from :func:`check_workbook` (a cell referring to one counts its characters)."""
    with zipfile.ZipFile(path) as zf:
        try:
            info = zf.getinfo(part)
        except KeyError:
            raise FileRejected(ReasonCode.UNREADABLE_FILE, f"the workbook has no part {part}") from None
        _check_declared(info, limits.max_part_bytes, limits)
        scan = _SheetScan(zf, info, limits, limits.max_part_bytes, shared=shared)
        scan.run_through()
        scan._row_done()
        return scan.shape


__all__ = ["MAX_PARTS", "SheetShape", "check_sheet", "check_workbook", "too_large"]
