"""Bytes to text: sniffing a file's real format, detecting its encoding, and cleaning values.

Departments send GB18030/GBK or UTF-8 (with or without BOM), sometimes UTF-16 from Excel's "Unicode text".
Detection (``encoding: auto``) is deterministic and explainable:

1. a BOM decides (UTF-8-BOM, UTF-16 LE/BE);
2. NUL bytes in every other position without a BOM mean UTF-16;
3. otherwise the first bytes that are not ASCII are decoded as UTF-8; if they decode (or nearly all of them do,
   so a few broken bytes become row-level ``encoding_error``\\ s) the file is UTF-8;
4. otherwise as GB18030 (a superset of GBK and GB2312), with the same tolerance;
5. otherwise the file is rejected as ``unreadable_encoding``.

Content is sniffed before the name is trusted: a zip (xlsx), an OLE2 (.xls), a PDF or an image behind a
``.csv`` name is a whole-file error, not a million rows of garbage.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.errors import FileRejected
from warehouse.reasons import ReasonCode

SAMPLE_BYTES = 1 << 20
_ASCII_SCAN_LIMIT = 64 << 20  # look this far for the first non-ASCII byte when the start is pure ASCII

# Encodings a feed may name, to the Python codec used. GBK and GB2312 are read as GB18030, their superset.
ENCODING_ALIASES = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "utf-8-bom": "utf-8-sig",
    "gb18030": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "cp936": "gb18030",
    "utf-16": "utf-16",
    "utf-16le": "utf-16-le",
    "utf-16-le": "utf-16-le",
    "utf-16be": "utf-16-be",
    "utf-16-be": "utf-16-be",
}

_MAGIC = (
    (b"PK\x03\x04", ReasonCode.WRONG_FORMAT, "zip / xlsx content"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ReasonCode.WRONG_FORMAT, "old Excel .xls / OLE2 content"),
    (b"%PDF", ReasonCode.BINARY_CONTENT, "PDF content"),
    (b"\x89PNG", ReasonCode.BINARY_CONTENT, "PNG image"),
    (b"\xff\xd8\xff", ReasonCode.BINARY_CONTENT, "JPEG image"),
    (b"GIF8", ReasonCode.BINARY_CONTENT, "GIF image"),
    (b"\x1f\x8b", ReasonCode.BINARY_CONTENT, "gzip archive"),
    (b"Rar!", ReasonCode.BINARY_CONTENT, "RAR archive"),
    (b"7z\xbc\xaf", ReasonCode.BINARY_CONTENT, "7z archive"),
    (b"SQLite format 3\x00", ReasonCode.BINARY_CONTENT, "SQLite database"),
)

# Characters trimmed from both ends of every value, besides ordinary whitespace.
TRIM_CHARS = " \t\r\n\v\f\u00a0\u3000\u2002\u2003\u2009\u202f\u200b\u200c\u200d\u2060\ufeff"
#: Invisible characters (Unicode category Cf, "format"): zero-width spaces and joiners (U+200B–U+200D, U+2060,
#: U+FEFF), direction marks and bidi embeddings, overrides and isolates (U+200E/F, U+202A–U+202E,
#: U+2066–U+2069), the soft hyphen U+00AD and the rest. Never meaningful in these records, often pasted in from
#: web pages and chat apps (``\u200e19087571367`` is a valid mobile), and a bidi override makes a value read
#: backwards: removed anywhere in a value (RE2 syntax, for Arrow kernels). Variation selectors (category Mn)
#: are kept: they choose the glyph of a rare character in a name.
INVISIBLE_RE = r"\p{Cf}"
# C0 controls except tab / LF / CR, DEL, and C1 controls.
CONTROL_RE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
REPLACEMENT_CHAR = "\ufffd"
# Leading characters a spreadsheet would evaluate (CSV injection, OWASP).
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def sniff_format(head: bytes) -> tuple[str, ReasonCode | None, str]:
    """Classify a file by its first bytes: ``("xlsx"|"text"|"binary", problem code or None, description)``."""
    for magic, code, what in _MAGIC:
        if head.startswith(magic):
            return ("xlsx" if magic == b"PK\x03\x04" else "binary"), code, what
    return "text", None, ""


def _bom(head: bytes) -> str | None:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return None  # never seen from departments; left to the ordinary checks (and rejected as binary)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _looks_utf16(sample: bytes) -> str | None:
    """UTF-16 without a BOM: ASCII-range text has NUL in every other byte."""
    n = min(len(sample), 4096) & ~1
    if n < 4:
        return None
    even, odd = sample[0:n:2], sample[1:n:2]
    half = n // 2
    # ASCII punctuation and digits between Chinese characters: NULs on one side only (5% is plenty; text in
    # UTF-8 or GB18030 has none at all)
    if odd.count(0) > max(2, 0.05 * half) and even.count(0) <= 0.01 * half:
        return "utf-16-le"
    if even.count(0) > max(2, 0.05 * half) and odd.count(0) <= 0.01 * half:
        return "utf-16-be"
    return None


def _error_rate(sample: bytes, codec: str) -> tuple[int, int]:
    """(invalid sequences, non-ASCII characters decoded) when decoding ``sample`` (last partial char ignored)."""
    dec = codecs.getincrementaldecoder(codec)(errors="replace")
    text = dec.decode(sample, final=False)
    bad = text.count(REPLACEMENT_CHAR)
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return bad, non_ascii - bad


def _non_ascii_sample(path: Path, head: bytes) -> bytes:
    """The first stretch of the file that holds non-ASCII bytes (the head itself in the usual case)."""
    if any(b > 127 for b in head):
        return head
    with path.open("rb") as f:
        f.seek(len(head))
        scanned = len(head)
        while scanned < _ASCII_SCAN_LIMIT:
            block = f.read(SAMPLE_BYTES)
            if not block:
                return head
            scanned += len(block)
            for i, b in enumerate(block):
                if b > 127:
                    start = max(0, i - 64)
                    return block[start:] + f.read(SAMPLE_BYTES // 4)
    return head


def detect_encoding(path: Path, configured: str = "auto") -> str:
    """The Python codec to read ``path`` with; raises :class:`FileRejected` when no encoding reads it.

    ``configured`` is the feed's ``encoding`` key; anything but ``auto`` is taken as given (GBK as GB18030,
    UTF-8 as UTF-8-with-optional-BOM), after a check that the file does decode with it.
    """
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES)
    key = configured.strip().lower()
    if key != "auto":
        if key not in ENCODING_ALIASES:
            try:
                codec = codecs.lookup(key).name
            except LookupError:
                raise FileRejected(
                    ReasonCode.UNREADABLE_ENCODING, f"unknown encoding {configured!r}"
                ) from None
        else:
            codec = ENCODING_ALIASES[key]
        if codec == "utf-8":
            codec = "utf-8-sig"
        bad, good = _error_rate(_non_ascii_sample(path, head), codec)
        if bad and bad > max(3, good // 20):
            raise FileRejected(ReasonCode.UNREADABLE_ENCODING, f"the file does not decode as {configured}")
        return codec
    bom = _bom(head)
    if bom:
        return bom
    utf16 = _looks_utf16(head)
    if utf16:
        return utf16
    sample = _non_ascii_sample(path, head)
    for codec in ("utf-8-sig", "gb18030"):
        bad, good = _error_rate(sample, codec)
        if bad == 0 or bad * 20 <= good:  # up to 5% broken: row-level encoding_error, not a bad file
            return codec
    raise FileRejected(ReasonCode.UNREADABLE_ENCODING, "neither UTF-8 nor GB18030 (GBK) nor UTF-16")


_BINARY_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")


def check_text_sample(head: bytes, codec: str) -> None:
    """Reject binary content that slipped past the magic numbers: more than 2% controls or undecodable bytes.

    Text tables have next to none; a few NULs in a row are that row's problem (``control_characters``).
    """
    if not head:
        return
    text = codecs.getincrementaldecoder(codec)(errors="replace").decode(head[:65536], final=False)
    if not text:
        return
    controls = len(_BINARY_CHARS.findall(text))
    if controls > max(16, 0.02 * len(text)):
        raise FileRejected(
            ReasonCode.BINARY_CONTENT,
            f"{controls} control or undecodable characters in the first {len(text)}",
        )


# ----------------------------------------------------------------------------------------------------------
# value cleaning (vectorised)
# ----------------------------------------------------------------------------------------------------------


def is_invisible(ch: str) -> bool:
    """Is ``ch`` an invisible format character (category Cf; see :data:`INVISIBLE_RE`)?"""
    return unicodedata.category(ch) == "Cf"


def sanitise_text(value: str) -> str:
    """THE text-value sanitiser of gridhub, for one value: invisible characters (:data:`INVISIBLE_RE`) removed,
    whitespace incl. NBSP and the ideographic space trimmed. :func:`clean_text` is the same over a column."""
    return "".join(ch for ch in value if not is_invisible(ch)).strip(TRIM_CHARS)


def _data(arr: pa.Array) -> np.ndarray:
    """The UTF-8 bytes behind a string array, zero-copy (a superset for a slice): for 'does any value hold X'."""
    buf = arr.buffers()[2] if arr.type == pa.string() else None
    return np.frombuffer(buf, dtype=np.uint8) if buf is not None else np.zeros(0, dtype=np.uint8)


def any_contains(arr: pa.Array, needles: tuple[bytes, ...]) -> bool:
    """Does any value hold one of ``needles`` (UTF-8 byte strings of 1–3 bytes)? One vectorised pass."""
    b = _data(arr)
    for needle in needles:
        if len(b) < len(needle):
            continue
        first = np.flatnonzero(b[: len(b) - len(needle) + 1] == needle[0])
        if len(first) == 0:
            continue
        hit = np.ones(len(first), dtype=bool)
        for k in range(1, len(needle)):
            hit &= b[first + k] == needle[k]
        if hit.any():
            return True
    return False


def any_control(arr: pa.Array) -> bool:
    """Does any value hold a C0 control other than tab/LF/CR, DEL, or a C1 control (UTF-8 C2 80–C2 9F)?"""
    b = _data(arr)
    if not len(b):
        return False
    if ((b < 32) & (b != 9) & (b != 10) & (b != 13)).any() or (b == 127).any():
        return True
    c2 = np.flatnonzero(b[:-1] == 0xC2)
    return bool(len(c2)) and bool(((b[c2 + 1] >= 0x80) & (b[c2 + 1] <= 0x9F)).any())


def any_non_ascii(arr: pa.Array) -> bool:
    return bool((_data(arr) >= 0x80).any())


FULL_WIDTH_BYTES = (b"\xef\xbc", b"\xef\xbd", "\u3000".encode())  # U+FF01–U+FF5E forms, ideographic space


def clean_text(arr: pa.Array) -> pa.Array:
    """THE text-value sanitiser over a column (every text cell of every connector goes through it): invisible
    characters removed (:data:`INVISIBLE_RE`), whitespace incl. NBSP and the ideographic space trimmed, empty →
    null. Vectorised: only a batch holding non-ASCII text is searched for invisible characters."""
    if any_non_ascii(arr) and pc.any(pc.match_substring_regex(arr, INVISIBLE_RE)).as_py():
        arr = pc.replace_substring_regex(arr, INVISIBLE_RE, "")
    arr = pc.utf8_trim(arr, characters=TRIM_CHARS)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def normalise_header(name: object) -> str:
    """Header text as matched against the feed's ``columns``: NFKC (full-width → half-width), trimmed."""
    s = "" if name is None else str(name)
    return sanitise_text(unicodedata.normalize("NFKC", sanitise_text(s)))


def neutralise_formula(value: object) -> object:
    """A value a spreadsheet would evaluate (``=cmd|...``, ``+1``, ``-1``, ``@SUM``) prefixed with ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


_CONTROL_RUN = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_PATH_SEPARATORS = re.compile(r"[/\\]")
_EDGES = re.compile(r"^[\s.]+|[\s.]+$")
_LINE_SEPARATORS = ("Zl", "Zp")
#: Trailing characters a shortened name keeps: an extension of up to 8 characters and its dot.
_KEPT_TAIL = 9


def safe_file_name(name: str, limit: int = 200) -> str:
    """THE file-name sanitiser of gridhub: a sent file's name made fit to record and show, never a path.

    - Unicode NFC (the same name typed on macOS and Windows reads the same);
    - only the last path component: ``/`` and ``\\`` both separate (``..\\..\\a.csv`` → ``a.csv``), trailing
      separators are ignored (``a/b/`` → ``b``);
    - every run of control characters (C0, DEL, C1) becomes ``_``; every invisible format character
      (:func:`is_invisible`, the set :func:`sanitise_text` removes from values: bidi overrides, direction marks,
      zero-width characters, the soft hyphen) and line separator becomes ``_`` each, so a name can neither
      read backwards (``名单\u202egnp.csv`` would show as ``名单vsc.png``) nor hide a character;
    - leading and trailing whitespace (any Unicode space) and dots are dropped (no hidden ``.name``);
    - longer than ``limit`` characters: cut in the middle to exactly ``limit``, keeping the last 9 characters
      (so an extension of up to 8 characters survives: ``人人…人.xlsx``);
    - never empty: ``unnamed``.

    Full-width and traditional characters stay as they are.
    """
    if limit < 2 * _KEPT_TAIL:
        raise ValueError(f"limit must be at least {2 * _KEPT_TAIL}, got {limit}")
    text = unicodedata.normalize("NFC", str(name))
    base = next((part for part in reversed(_PATH_SEPARATORS.split(text)) if part), "")
    base = _CONTROL_RUN.sub("_", base)
    base = "".join(
        "_" if is_invisible(ch) or unicodedata.category(ch) in _LINE_SEPARATORS else ch for ch in base
    )
    base = _EDGES.sub("", base) or "unnamed"
    if len(base) <= limit:
        return base
    return base[: limit - _KEPT_TAIL - 1] + "…" + base[-_KEPT_TAIL:]


def display_width(text: str) -> int:
    """Terminal columns of ``text``: East Asian Wide and Fullwidth characters (汉字, ，（）, ａ) take two,
    combining marks none, everything else one (Unicode TR 11, the rule terminals follow). The one measure the
    summary, ``gridhub snapshots`` and ``explain`` align their columns by."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )
