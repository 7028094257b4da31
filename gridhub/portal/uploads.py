"""Receiving an upload safely: streamed to a temporary file under a size cap, then typed by its content.

The multipart body is parsed as it arrives (:mod:`python_multipart`), never buffered whole: file bytes go
straight to a private temporary file with a generated name, and counting stops keeping them the moment the
cap is passed. The rest of an oversize body is read and dropped (up to a hard limit) so the browser gets the
"文件过大" page instead of a reset connection.

What a file *is* comes from its bytes, never from its name (``照片.png`` renamed ``名单.csv`` is a PNG): an
xlsx is a zip holding ``[Content_Types].xml`` and ``xl/``; a CSV is text that decodes as UTF-8, GB18030 or
UTF-16 (the connectors' own detection) without binary noise. Everything else is refused with a message a
department clerk can act on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from connectors.errors import FileRejected
from connectors.text import SAMPLE_BYTES, check_text_sample, detect_encoding, sniff_format
from warehouse.errors import UserError
from warehouse.reasons import ReasonCode, describe

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

log = logging.getLogger(__name__)

MAX_FIELD_BYTES = 4096


class UploadRejected(UserError):
    """An upload refused before its rows are looked at; ``message`` is for the clerk (Chinese, then English)."""

    def __init__(self, message: str, code: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


@dataclass
class ReceivedUpload:
    """The form as received: small text fields, and the file (in a temp file) with its hash and size."""

    fields: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    client_name: str | None = None
    size: int = 0
    sha256: str = ""
    too_large: bool = False

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _drain_limit(max_bytes: int) -> int:
    return max(2 * max_bytes, max_bytes + 32 * 1024 * 1024)


class _FormReader:
    """The multipart parser's callbacks: small fields into ``out.fields``, the one file into a temp file."""

    def __init__(self, out: ReceivedUpload, tmp_dir: Path, max_bytes: int, file_field: str) -> None:
        self.out = out
        self.tmp_dir = tmp_dir
        self.max_bytes = max_bytes
        self.file_field = file_field
        self.digest = hashlib.sha256()
        self.fh: BinaryIO | None = None
        self.problems: list[UploadRejected] = []
        self.on_part_begin()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    def on_part_begin(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.hname = b""
        self.hvalue = b""
        self.name: str | None = None
        self.is_file = False
        self.buf = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.hname += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.hvalue += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.hname.lower()] = self.hvalue
        self.hname, self.hvalue = b"", b""

    def on_headers_finished(self) -> None:
        _, opts = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        self.name = name
        if b"filename" in opts:
            if name != self.file_field or self.out.path is not None:
                self.problems.append(
                    UploadRejected("一次只能上传一个文件。 / One file per upload.", "bad_form")
                )
                return
            self.is_file = True
            self.out.client_name = opts[b"filename"].decode("utf-8", "replace")
            fd, tmp = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=self.tmp_dir)
            self.out.path = Path(tmp)
            self.fh = os.fdopen(fd, "wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        out = self.out
        if self.is_file:
            out.size += len(chunk)
            if out.size > self.max_bytes:
                out.too_large = True
            if not out.too_large and self.fh is not None:
                self.digest.update(chunk)
                self.fh.write(chunk)
        else:
            self.buf += chunk
            if len(self.buf) > MAX_FIELD_BYTES:
                self.problems.append(UploadRejected("表单字段过长。 / A form field is too long.", "bad_form"))
                self.buf = bytearray()

    def on_part_end(self) -> None:
        if not self.is_file and self.name:
            self.out.fields[self.name] = bytes(self.buf).decode("utf-8", "replace")


async def receive_upload(
    request: Request, tmp_dir: Path, max_bytes: int, file_field: str = "file"
) -> ReceivedUpload:
    """Parse the multipart body of ``request`` as it streams in; the one file goes to a temp file in ``tmp_dir``.

    Sets ``too_large`` (and keeps no bytes) when the file passes ``max_bytes``. Raises :class:`UploadRejected`
    for a body that is not a multipart form, has several files, oversized text fields, or is far beyond the
    cap (then the connection is not drained).
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise UploadRejected(
            "请求格式不正确：请通过上传页面提交文件。 / Malformed request: send the file from the upload page.",
            "bad_form",
        )
    declared = request.headers.get("content-length")
    hard_limit = _drain_limit(max_bytes)
    if declared and declared.isdigit() and int(declared) > hard_limit:
        raise UploadRejected(_too_large_text(max_bytes), "too_large", 413)

    tmp_dir.mkdir(parents=True, exist_ok=True)
    out = ReceivedUpload()
    reader = _FormReader(out, tmp_dir, max_bytes, file_field)
    parser = MultipartParser(boundary, reader.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > hard_limit:
                raise UploadRejected(_too_large_text(max_bytes), "too_large", 413)
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except UploadRejected:
        out.discard()
        raise
    except ValueError as e:  # python_multipart.exceptions.MultipartParseError is a ValueError
        out.discard()
        raise UploadRejected(
            "上传的表单已损坏，请重新选择文件上传。 / The upload form arrived damaged: choose the file again.",
            "bad_form",
        ) from e
    finally:
        if reader.fh is not None:
            reader.fh.close()
    if reader.problems:
        out.discard()
        raise reader.problems[0]
    if out.too_large:
        out.discard()
        out.path = None
    out.sha256 = reader.digest.hexdigest() if not out.too_large else ""
    return out


def _too_large_text(max_bytes: int) -> str:
    return (
        f"文件过大：单个文件不能超过 {format_size(max_bytes)}。请拆分后分批上传。 / The file is too large: "
        f"at most {format_size(max_bytes)} per file; split it and upload the parts."
    )


def format_size(n: int) -> str:
    """``1536`` → ``1.5 KB``; sizes for people."""
    size = float(n)
    for unit in ("字节", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "字节" else f"{size:.1f} {unit}".replace(".0 ", " ")
        size /= 1024
    return f"{n} 字节"


# ----------------------------------------------------------------------------------------------------------
# what the file is, by content
# ----------------------------------------------------------------------------------------------------------
_KIND = {
    "PDF content": ("PDF文档", "a PDF document"),
    "PNG image": ("PNG图片", "a PNG image"),
    "JPEG image": ("JPEG图片", "a JPEG image"),
    "GIF image": ("GIF图片", "a GIF image"),
    "gzip archive": ("gzip压缩包", "a gzip archive"),
    "RAR archive": ("RAR压缩包", "a RAR archive"),
    "7z archive": ("7z压缩包", "a 7z archive"),
    "SQLite database": ("SQLite数据库文件", "an SQLite database"),
    "old Excel .xls / OLE2 content": ("旧版Excel(.xls)或Word文件", "an old Excel (.xls) or Word file"),
}
_ACCEPTED = "请上传CSV文本表格或Excel(.xlsx)工作簿。"
_ACCEPTED_EN = "Upload a CSV text table or an Excel (.xlsx) workbook."


def _unsupported(what: tuple[str, str], code: ReasonCode) -> UploadRejected:
    """A refusal by content; ``code`` is the reason code ``gridhub ingest`` gives the same file."""
    zh, en = what
    return UploadRejected(
        f"文件类型不支持：该文件的内容是{zh}（按文件内容判断，与文件名无关），不是文本表格。{_ACCEPTED} / "
        f"Unsupported file type: the content is {en} (judged by content, not by name), not a text table. "
        f"{_ACCEPTED_EN}",
        str(code),
        415,
    )


def sniff_upload(path: Path) -> str:
    """``"csv"`` or ``"xlsx"`` from the file's bytes; raises :class:`UploadRejected` for anything else.

    The refusal's ``code`` is the reason code ingest gives the same file (``binary_content``, ``wrong_format``,
    ``empty_file``, ``unreadable_file``). Text the sniff cannot place (an encoding no detection reads) is left
    to the feed's own reader, whose message says what the real problem is."""
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES)
    if not head:
        raise UploadRejected(
            f"{describe(ReasonCode.EMPTY_FILE)}：没有任何内容。 / {describe(ReasonCode.EMPTY_FILE, 'en')}.",
            str(ReasonCode.EMPTY_FILE),
        )
    kind, problem, what = sniff_format(head)
    if kind == "xlsx":
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError, EOFError):
            code = ReasonCode.UNREADABLE_FILE
            raise UploadRejected(
                f"{describe(code)}：压缩结构已损坏。 / {describe(code, 'en')}: its zip structure is broken.",
                str(code),
                415,
            ) from None
        if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
            return "xlsx"
        if "[Content_Types].xml" in names and any(n.startswith("word/") for n in names):
            raise _unsupported(("Word文档(.docx)", "a Word document (.docx)"), ReasonCode.WRONG_FORMAT)
        raise _unsupported(
            ("ZIP压缩包（不是Excel工作簿）", "a ZIP archive (not an Excel workbook)"), ReasonCode.WRONG_FORMAT
        )
    if kind == "binary":
        raise _unsupported(
            _KIND.get(what, ("二进制数据", "binary data")), problem or ReasonCode.BINARY_CONTENT
        )
    try:
        codec = detect_encoding(path, "auto")
    except FileRejected:
        return "csv"  # the feed's reader says what is wrong (another encoding, a program, not text)
    try:
        check_text_sample(head, codec)
    except FileRejected as e:
        if e.code is ReasonCode.BINARY_CONTENT:
            raise _unsupported(
                (
                    "二进制数据（可能是程序、图片、压缩包或已损坏）",
                    "binary data (a program, an image, an archive or a damaged file?)",
                ),
                ReasonCode.BINARY_CONTENT,
            ) from None
        raise
    return "csv"


__all__ = ["ReceivedUpload", "UploadRejected", "format_size", "receive_upload", "sniff_upload"]
