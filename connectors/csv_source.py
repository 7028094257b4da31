"""Streaming CSV reader that knows the physical line of every record and survives malformed quoting.

Why not ``pyarrow.csv`` or ``pandas.read_csv``: both are faster tokenisers, but neither says on which physical
line a record starts once values hold line breaks, and both give up (or silently glue rows together) on an
unbalanced quote. Quarantine must point a clerk to the exact line, so records are split by Python's C
``csv`` tokeniser; everything after the split (cleaning, typing, rules) is vectorised in
:mod:`connectors.rules`.

The decoded text is read in blocks of about 4 MB and cut into lines in C (``io.StringIO``); the tokeniser
pulls lines through ``itertools.chain``, so no Python code runs per line. A record's first line is the line
after the previous record's last (``csv.reader.line_num``).

Recovery: ``strict`` quoting turns a stray quote into an error instead of a glued row. When a record fails
to parse, or runs over more than ``max_record_lines`` lines (an unclosed quote that a later quote happened to
"close"), or one value outgrows the tokeniser's limit, only the record's first physical line is quarantined
as ``unparseable_row`` and reading resumes on the next line: one bad quote costs one row, not the rest of
the file. Memory stays bounded by the batch size and the value limit (:data:`FIELD_SIZE_LIMIT`).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import TextIO

import numpy as np

from connectors.cells import SourceColumn
from connectors.errors import FileRejected
from connectors.feeds import Feed, FileSource
from connectors.rules import Reject, RowRules
from connectors.staging import StagingWriter, StoredFile
from connectors.text import SAMPLE_BYTES, check_text_sample, detect_encoding
from warehouse.progress import progress
from warehouse.reasons import REASON_TEXT, ReasonCode

DEFAULT_MAX_RECORD_LINES = 1000
BLOCK_CHARS = 1 << 22
# One value may be long (the feed's max_field_length decides what is quarantined) but the tokeniser must not
# swallow a 2 GB file behind an unclosed quote: past this many characters in one value it gives up on the
# record. Process-wide (the csv module has one limit), raised if lower, never lowered.
FIELD_SIZE_LIMIT = 1 << 25
if csv.field_size_limit() < FIELD_SIZE_LIMIT:
    csv.field_size_limit(FIELD_SIZE_LIMIT)


class _Lines:
    """The physical lines of a text stream, block by block, numbered from 1, kept while they may be replayed."""

    def __init__(self, text: TextIO, block_chars: int = BLOCK_CHARS) -> None:
        self._text = text
        self._block_chars = block_chars
        self._blocks: deque[tuple[int, list[str]]] = deque()  # (number of first line, lines)
        self._next_number = 1

    def blocks(self) -> Iterator[list[str]]:
        carry = ""
        while True:
            chunk = self._text.read(self._block_chars)
            if not chunk:
                if carry:
                    yield self._register([carry])
                return
            lines = list(io.StringIO(carry + chunk, newline=""))
            last = lines[-1]
            # a line without its end (or ending in '\r' that may be half of '\r\n') waits for the next block
            carry = lines.pop() if not last.endswith("\n") else ""
            if lines:
                yield self._register(lines)

    def _register(self, lines: list[str]) -> list[str]:
        self._blocks.append((self._next_number, lines))
        self._next_number += len(lines)
        return lines

    def get(self, first: int, last: int) -> list[str]:
        """Lines ``first``..``last`` (1-based, inclusive), from the blocks still kept."""
        out: list[str] = []
        for start, lines in self._blocks:
            end = start + len(lines) - 1
            if end < first or start > last:
                continue
            out.extend(lines[max(first, start) - start : min(last, end) - start + 1])
        return out

    def forget_before(self, number: int) -> None:
        """Drop blocks that end before line ``number`` (they will never be replayed)."""
        while self._blocks and self._blocks[0][0] + len(self._blocks[0][1]) <= number:
            self._blocks.popleft()


@dataclass
class CsvBatch:
    """Well-shaped rows (lists of strings, header width) with the line each starts on, plus rejected rows."""

    lines: np.ndarray
    rows: list[list[str]]
    rejects: list[Reject] = field(default_factory=list)
    blank: int = 0


class CsvRecords:
    """Records of one CSV file: ``header`` after :meth:`open`, then :meth:`batches`."""

    def __init__(
        self,
        path: Path,
        *,
        encoding: str,
        delimiter: str = ",",
        header_row: int = 1,
        max_record_lines: int = DEFAULT_MAX_RECORD_LINES,
        block_chars: int | None = None,
    ) -> None:
        self.path = path
        self.encoding = encoding
        self.delimiter = "\t" if delimiter in ("\\t", "tab", "TAB") else delimiter
        self.header_row = header_row
        self.max_record_lines = max_record_lines
        self.block_chars = block_chars or BLOCK_CHARS
        self.header: list[str] = []
        self.header_line = 0
        self._text: TextIO | None = None

    # ---- lifecycle ------------------------------------------------------------------------------------------
    def __enter__(self) -> CsvRecords:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        self._text = open(self.path, encoding=self.encoding, errors="replace", newline="")  # noqa: SIM115
        self._lines = _Lines(self._text, self.block_chars)
        self._source = chain.from_iterable(self._lines.blocks())
        self._base = 0  # line number before the current reader's first line
        self._last = 0  # last line of the previous record
        self._reader = self._new_reader(self._source)
        self._read_header()

    def close(self) -> None:
        if self._text is not None:
            self._text.close()
            self._text = None

    def bytes_read(self) -> int:
        """How far into the file the reader is, in bytes (its read-ahead included): for progress."""
        return self._text.buffer.tell() if self._text is not None else 0

    def _new_reader(self, lines):
        return csv.reader(lines, delimiter=self.delimiter, quotechar='"', doublequote=True, strict=True)

    # ---- records --------------------------------------------------------------------------------------------
    def _set_aside(self, start: int, end: int, detail: str) -> Reject:
        """Quarantine line ``start`` of a record that could not be parsed; re-read ``start+1``..``end``."""
        lines = self._lines.get(start, end)
        replay = lines[1:]
        self._base = start
        self._last = start
        self._reader = self._new_reader(chain(replay, self._source) if replay else self._source)
        zh, en = REASON_TEXT[ReasonCode.UNPARSEABLE_ROW]
        original = lines[0].rstrip("\r\n") if lines else ""
        return Reject(start, ReasonCode.UNPARSEABLE_ROW, f"{zh} / {en} ({detail})", original)

    def _next(self) -> tuple[int, list[str] | None, Reject | None]:
        """(first line, row, None) or (first line, None, reject); raises StopIteration at the end."""
        start = self._last + 1
        try:
            row = next(self._reader)
        except csv.Error as e:
            end = self._base + self._reader.line_num
            if end < start:
                raise StopIteration from None
            return start, None, self._set_aside(start, end, str(e))
        end = self._base + self._reader.line_num
        if end - start >= self.max_record_lines:
            return (
                start,
                None,
                self._set_aside(
                    start, end, f"a quoted value runs over {end - start + 1} lines: an unclosed quote?"
                ),
            )
        self._last = end
        return start, row, None

    def _read_header(self) -> None:
        while True:
            try:
                start, row, reject = self._next()
            except StopIteration:
                raise FileRejected(ReasonCode.EMPTY_FILE, "no header line found") from None
            if start < self.header_row:
                continue
            if reject is not None:
                raise FileRejected(
                    ReasonCode.UNREADABLE_FILE,
                    f"the header (line {start}) cannot be parsed: {reject.message}",
                )
            if not row or not "".join(row).strip():
                continue
            self.header = row
            self.header_line = start
            return

    def batches(self, batch_rows: int = 50_000) -> Iterator[CsvBatch]:
        """Rows after the header in batches; ragged and unparseable rows come back as rejects."""
        done = False
        while not done:
            batch = CsvBatch(np.zeros(0, dtype=np.int64), [])
            starts: list[int] = []
            # The rows are lists of strings: no reference cycles, but the cyclic GC would rescan every live
            # row on each collection (a third of the tokenising time). Paused per batch, back on before yield.
            paused = gc.isenabled()
            gc.disable()
            try:
                done = self._fill(batch_rows, starts, batch)
            finally:
                if paused:
                    gc.enable()
            self._lines.forget_before(self._last + 1)
            if batch.rows or batch.rejects or batch.blank:
                batch.lines = np.asarray(starts, dtype=np.int64)
                yield batch

    def _fill(self, batch_rows: int, starts: list[int], batch: CsvBatch) -> bool:
        """Read up to ``batch_rows`` records into ``batch``; True at the end of the file."""
        width = len(self.header)
        limit = self.max_record_lines
        rows, rejects = batch.rows, batch.rejects
        room = batch_rows
        while room > 0:
            reader, base, last = self._reader, self._base, self._last
            try:
                # the hot loop: one iteration per record, nothing but bookkeeping in Python
                for row in reader:
                    end = base + reader.line_num
                    if end - last > limit:
                        raise csv.Error(f"a quoted value runs over {end - last} lines: an unclosed quote?")
                    start = last + 1
                    last = end
                    if len(row) == width:
                        if (not row[0] or row[0].isspace()) and not "".join(row).strip():
                            batch.blank += 1
                            continue
                    else:
                        row = self._odd_width(row, width, start, end, batch)
                        if row is None:
                            continue
                    if row:
                        starts.append(start)
                        rows.append(row)
                    room -= 1
                    if room == 0:
                        break
                else:
                    self._last = last
                    return True
                self._last = last
            except csv.Error as e:
                end = base + reader.line_num
                if end <= last:  # nothing consumed: nothing to set aside
                    self._last = last
                    return True
                self._last = last
                rejects.append(self._set_aside(last + 1, end, str(e)))
                room -= 1
        return False

    def _odd_width(
        self, row: list[str], width: int, start: int, end: int, batch: CsvBatch
    ) -> list[str] | None:
        """A row whose width is not the header's: cut to width if only empty values stick out; None for a blank
        row (counted); [] after recording it as ragged."""
        n = len(row)
        if not n or not "".join(row).strip():
            batch.blank += 1
            return None
        if n > width and not "".join(row[width:]).strip():
            return row[:width]
        zh, en = REASON_TEXT[ReasonCode.RAGGED_ROW]
        text = "".join(self._lines.get(start, end)).rstrip("\r\n") or self.delimiter.join(row)
        batch.rejects.append(
            Reject(start, ReasonCode.RAGGED_ROW, f"{zh} / {en} (expected {width}, found {n})", text)
        )
        return []


# ----------------------------------------------------------------------------------------------------------
# the CSV reader of a file feed (connectors.sources.FILE_FORMATS["csv"])
# ----------------------------------------------------------------------------------------------------------
class CsvReader:
    """Stages a stored CSV file: encoding detection, the tokeniser above, the feed's row rules."""

    def stage(self, feed: Feed, source: FileSource, stored: StoredFile, out: StagingWriter) -> None:
        path = stored.path
        with path.open("rb") as f:
            head = f.read(SAMPLE_BYTES)
        _refuse_programs(head)
        encoding, note = _encoding(path, source.encoding)
        check_text_sample(head, encoding)
        with CsvRecords(
            path, encoding=encoding, delimiter=source.delimiter, header_row=source.header_row
        ) as records:
            rules = _rules_for(feed, records.header, stored, source.delimiter)
            out.describe(encoding=encoding, warnings=([note] if note else []) + list(rules.warnings))
            getters = {f: itemgetter(i) for f, i in rules.source_indices.items()}
            kept = {a: itemgetter(i) for a, i in rules.attribute_indices.items()}
            size = path.stat().st_size
            with progress(f"ingest {feed.name}: {stored.file_name}", total=size, unit="bytes") as task:
                for batch in records.batches(out.batch_rows):
                    out.count_blank(batch.blank)
                    # one C-level pass per mapped column (unmapped columns are never touched)
                    columns = {
                        f: SourceColumn.from_strings(list(map(g, batch.rows))) for f, g in getters.items()
                    }
                    attributes = {
                        a: SourceColumn.from_strings(list(map(g, batch.rows))) for a, g in kept.items()
                    }
                    out.add(rules.apply(batch.lines, columns, batch.rejects, attributes))
                    task.update(
                        done=min(size, records.bytes_read()), rows=len(batch.rows) + len(batch.rejects)
                    )
                task.update(done=size)


# Programs and scripts sent as a table: told "not a text table", never given encoding advice.
_PROGRAMS = (
    (b"\x7fELF", "Linux程序(ELF)", "a Linux program (ELF)"),
    (b"MZ", "Windows程序(.exe/.dll)", "a Windows program (.exe/.dll)"),
    (b"\xcf\xfa\xed\xfe", "macOS程序(Mach-O)", "a macOS program (Mach-O)"),
    (b"\xce\xfa\xed\xfe", "macOS程序(Mach-O)", "a macOS program (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "Java类文件或macOS程序", "a Java class or macOS program"),
    (b"#!", "脚本程序", "a script"),
)
_NOT_A_TABLE = ("这不是文本表格", "this is not a text table")
_CODEC_NAMES = {
    "utf-8-sig": "UTF-8",
    "utf-8": "UTF-8",
    "gb18030": "GB18030(GBK)",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16",
    "utf-16-be": "UTF-16",
}


def _refuse_programs(head: bytes) -> None:
    for magic, zh, en in _PROGRAMS:
        if head.startswith(magic) and (magic != b"MZ" or b"\x00" in head[:256]):
            raise FileRejected(
                ReasonCode.BINARY_CONTENT,
                f"文件内容是{zh} / the content is {en}",
                headline=(f"{_NOT_A_TABLE[0]}，而是程序文件", f"{_NOT_A_TABLE[1]} but a program"),
            )


def _encoding(path: Path, configured: str) -> tuple[str, str | None]:
    """The codec to read ``path`` with, and a note when it is not the configured one.

    A file that is not in the feed's configured encoding but plainly in another one (a BOM, UTF-16, clean UTF-8)
    is read in that one, with a warning: telling a clerk whose file is UTF-8 to "save it as UTF-8" helps no one.
    Bytes that no encoding reads are binary content ("not a text table"), or, if they look like text, text in
    an encoding the hub does not read (Big5, Shift-JIS ...), with advice that fits."""
    key = configured.strip().lower()
    if key != "auto" and not key.startswith("utf-16") and not key.startswith("utf16"):
        # UTF-16 (a BOM, or NUL in every other byte) decodes "cleanly" as GB18030 into NUL-ridden garbage
        with contextlib.suppress(FileRejected):
            found = detect_encoding(path, "auto")
            if found.startswith("utf-16"):
                return found, _other_encoding_note(found, configured)
    try:
        return detect_encoding(path, configured), None
    except FileRejected as e:
        if e.code is not ReasonCode.UNREADABLE_ENCODING:
            raise
        first = e
    if configured.strip().lower() != "auto":
        try:
            found = detect_encoding(path, "auto")
        except FileRejected:
            pass
        else:
            return found, _other_encoding_note(found, configured)
    with path.open("rb") as f:
        head = f.read(65536)
    if _mostly_binary(head):
        raise FileRejected(
            ReasonCode.BINARY_CONTENT,
            "没有任何字符编码能把它读成文字 / no character encoding reads it as text",
            headline=(
                f"{_NOT_A_TABLE[0]}(可能是程序、图片、压缩包或已损坏)",
                f"{_NOT_A_TABLE[1]} (a program, an image, an archive or a damaged file?)",
            ),
        ) from None
    raise FileRejected(
        ReasonCode.UNREADABLE_ENCODING,
        first.detail,
        headline=(
            "文件是文字，但不是UTF-8、GB18030(GBK)或UTF-16编码(可能是Big5等其他编码)：请在Excel中另存为"
            "“CSV UTF-8”后重新上传",
            "the file is text, but neither UTF-8 nor GB18030 (GBK) nor UTF-16 (Big5 or another code page?): "
            'save it from Excel as "CSV UTF-8" and send it again',
        ),
    ) from None


def _other_encoding_note(found: str, configured: str) -> str:
    name = _CODEC_NAMES.get(found, found)
    return (
        f"文件实际为 {name} 编码，与数据源配置的 {configured} 不同，已按 {name} 读取 / "
        f"the file is {name}, not the feed's configured {configured}: read as {name}"
    )


_NOISE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")


def _mostly_binary(head: bytes) -> bool:
    """More than 10% of the bytes are controls (other than tab/CR/LF) or undecodable as GB18030: not text."""
    if not head:
        return False
    text = head.decode("gb18030", errors="replace")
    return len(_NOISE.findall(text)) > 0.1 * len(text)


_FULL_WIDTH_COMMA = "\uff0c"


def _rules_for(feed: Feed, header: list[str], stored: StoredFile, delimiter: str) -> RowRules:
    """The feed's rules for this header; a missing column in a one-column header suggests another delimiter,
    full-width commas in the header say so. The header goes with the rejection (the feed-mismatch check)."""
    try:
        return RowRules(feed, header, raw_sha256=stored.sha256, file_name=stored.file_name)
    except FileRejected as e:
        if e.code is not ReasonCode.MISSING_COLUMNS:
            raise
        hint = ""
        if delimiter == "," and any(_FULL_WIDTH_COMMA in h for h in header):
            hint = (
                "; 表头用全角逗号“，”分隔，请改用半角逗号“,” / the header is separated by full-width commas "
                "'，': separate the columns with ASCII commas ','"
            )
        elif len(header) == 1:
            for d, name in (("\t", "tab"), (";", "';'"), ("|", "'|'"), (",", "','")):
                if d != delimiter and d in header[0]:
                    hint = f"; 分隔符可能不对 / the delimiter may be {name}, not {delimiter!r}"
                    break
        raise FileRejected(e.code, e.detail + hint, headline=e.headline, header=list(header)) from None


READER = CsvReader()
