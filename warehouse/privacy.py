"""The privacy layer: what every reader sees (``shared``) and what granted readers see (``restricted``).

Columns declared with ``pii=`` in :mod:`warehouse.schema` (resident ID numbers 身份证号, phones 联系电话) are
published twice over:

- in ``restricted`` with the full value, plus a sibling ``<col>_key``;
- in ``shared`` masked (``440***********123X``, ``138****5678``) with the same ``<col>_key``.

``<col>_key`` is HMAC-SHA256 (hex) of the normalised value under a secret key (环境变量, never in the
workspace): equal numbers give equal keys, so ``shared`` readers can still join and count distinct people
across tables and snapshots, but cannot reverse the key without the secret. Keep the key the same across
runs, or keys will not join across snapshots.

Every other text column of ``shared`` is *scrubbed*: a number that looks like an ID number (15 or 18
characters) or a mobile number (11 digits, optionally ``+86``) is replaced by its masked form, however it is
written: in one run or in groups separated by spaces, dashes, dots or slashes (``131 0927 8394``,
``4403 0519 9001 0112 34``), in ASCII or full-width digits. That covers free text (``address_review.address_text``,
messages...) and ids that departments made from ID numbers (``source_xref.source_record_id``). A digit run
glued to Latin letters (``P13812345678a``, a SHA-256) is part of a code, not a number, and is left alone,
which keeps entity ids and file hashes intact.

The original texts of quarantined rows and field issues (``quarantine.original_text``,
``field_issue.original_value``) are whatever the department typed, in any form: they are ``restricted_only``
(below), never scrubbed copies.

Columns declared ``derived_text`` (the pinyin of a name) are scrubbed without the token rule: a number
glued to letters there (``linwu13109278394``, the pinyin of ``林五 13109278394``) is still a number.

Columns declared ``restricted_only`` (personal free text kept for granted readers, such as the address a
department gave for one of its records in ``address_binding``) are *withheld* from ``shared``: same column,
same type, every value null.

Code columns are not scrubbed: columns with a declared ``pattern`` and columns named ``*_code`` (grid,
address, division, building and credit codes) or ``*_codes`` (lists of them, such as a house's department
codes). Their values are validated codes of the reference data (a
15-digit grid code has the digit shape of a legacy ID number, an 18-digit micro-grid code that of a new one);
masking them would break every join on them.

Caveat: scrubbing can make two different record ids look the same in ``shared`` (same first 3 and last 4
digits). Exact lineage per record is a ``restricted`` use.
"""

from __future__ import annotations

import hmac
import logging
import re
import unicodedata
from hashlib import sha256

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.errors import UserError
from warehouse.schema import TABLES, Layer, PIIKind, Table, arrow_schema

log = logging.getLogger(__name__)

KEY_SUFFIX = "_key"
MASK = "*"
KEEP_HEAD = 3
KEEP_TAIL = 4


class PrivacyKeyError(UserError, ValueError):
    """The HMAC key for the privacy layer is missing or empty."""


# --------------------------------------------------------------------------------------------------------------
# Layer schemas
# --------------------------------------------------------------------------------------------------------------
def _table(table: str | Table) -> Table:
    return TABLES[table] if isinstance(table, str) else table


def key_column(column: str) -> str:
    """Name of the keyed-hash sibling of a PII column (``id_number`` → ``id_number_key``)."""
    return column + KEY_SUFFIX


def layer_schema(table: str | Table, layer: Layer | str = Layer.SHARED) -> pa.Schema:
    """Arrow schema of a table as published in a layer: the canonical columns, each PII column followed by
    its ``<col>_key``. Both layers have the same column names and types; only the values differ (a
    ``restricted_only`` column is all null in shared)."""
    t = _table(table)
    layer = Layer(layer)
    base = arrow_schema(t)
    fields: list[pa.Field] = []
    for col, f in zip(t.columns, base, strict=True):
        if col.pii is None:
            if col.restricted_only and layer is Layer.SHARED:
                f = f.with_metadata({"doc": f"{col.doc} Withheld in shared: always null here."})
            fields.append(f)
            continue
        if layer is Layer.SHARED:
            f = f.with_metadata({"doc": f"{col.doc} Masked in shared (first 3 and last 4 characters kept)."})
        fields.append(f)
        fields.append(
            pa.field(
                key_column(col.name),
                pa.string(),
                nullable=True,
                metadata={"doc": f"HMAC-SHA256 (hex) of the normalised {col.name}: joins without the value."},
            )
        )
    return pa.schema(fields, metadata={**(base.metadata or {}), b"layer": str(layer).encode()})


# --------------------------------------------------------------------------------------------------------------
# Masking and keyed hashes
# --------------------------------------------------------------------------------------------------------------
def _string_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    return values.cast(pa.string()) if not pa.types.is_string(values.type) else values


def mask_values(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Keep the first 3 and last 4 characters, star the rest (``44010619491231002X`` → ``440***********002X``).

    Values of 7 characters or fewer are starred entirely. Null stays null. Vectorised (Arrow kernels).
    """
    arr = _string_array(values)
    n = pc.utf8_length(arr)
    middle = pc.max_element_wise(pc.subtract(n, KEEP_HEAD + KEEP_TAIL), 0)
    masked = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(arr, 0, KEEP_HEAD),
        pc.binary_repeat(MASK, middle),
        pc.utf8_slice_codeunits(arr, -KEEP_TAIL),
        "",
    )
    short = pc.less_equal(n, KEEP_HEAD + KEEP_TAIL)
    return pc.if_else(short, pc.binary_repeat(MASK, pc.fill_null(n, 0)), masked)


def normalise_identifier(values: pa.Array | pa.ChunkedArray, kind: PIIKind | str) -> pa.Array:
    """The form that is hashed: NFKC (full-width → half-width), trimmed; IDs upper-case (``x`` → ``X``);
    phones digits only with a leading ``86`` country code dropped from 13-digit mobiles."""
    arr = pc.utf8_trim_whitespace(pc.utf8_normalize(_string_array(values), "NFKC"))
    if PIIKind(kind) is PIIKind.RESIDENT_ID:
        return pc.utf8_upper(arr)
    digits = pc.replace_substring_regex(arr, r"[^0-9]", "")
    return pc.replace_substring_regex(digits, r"^86(1[3-9]\d{9})$", r"\1")


def keyed_hash(values: pa.Array | pa.ChunkedArray, kind: PIIKind | str, key: bytes) -> pa.Array:
    """HMAC-SHA256 hex of every normalised value under ``key``; null and empty values give null.

    Hashes are computed once per distinct value (columns repeat values) and spread back with a ``take``.
    """
    if not key:
        raise PrivacyKeyError("the privacy layer needs a non-empty HMAC key")
    norm = normalise_identifier(values, kind)
    norm = pc.if_else(pc.equal(pc.utf8_length(norm), 0), pa.scalar(None, pa.string()), norm)
    encoded = norm.dictionary_encode()
    digests = [hmac.digest(key, v.encode("utf-8"), sha256).hex() for v in encoded.dictionary.to_pylist()]
    return pc.take(pa.array(digests, pa.string()), encoded.indices)


# --------------------------------------------------------------------------------------------------------------
# Scrubbing free text
# --------------------------------------------------------------------------------------------------------------
_DIGIT = "0-9\uff10-\uff19"  # ASCII and full-width digits
_TOKEN = "0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"  # characters that make up one code token
_CHECK_X = "Xx\uff38\uff58"
#: What people write between the digit groups of one number: spaces (incl. NBSP, thin and ideographic),
#: hyphens and dashes (ASCII, Unicode, full-width), dots, middle dots, slashes and underscores.
_SEPARATOR = "[ \u00a0\u2002\u2003\u2009\u202f\u3000\\-\u2010-\u2015\u2212\uff0d.\uff0e\u00b7\u30fb/_]"
_ID18 = f"[{_DIGIT}]{{17}}[{_DIGIT}{_CHECK_X}]"
_ID15 = f"[{_DIGIT}]{{15}}"
#: A run of digit groups with at most one separator between two of them, an optional leading ``+`` and
#: a check character glued to its end, not glued to a letter or digit on either side.
IDENTIFIER_RUN = re.compile(
    f"(?<![{_TOKEN}])[+\uff0b]?[{_DIGIT}](?:{_SEPARATOR}?[{_DIGIT}])*[{_CHECK_X}]?(?![{_TOKEN}])"
)
#: The same run anywhere, glued to letters or not: for ``derived_text`` columns (the pinyin of a name).
GLUED_RUN = re.compile(f"[+\\uff0b]?[{_DIGIT}](?:{_SEPARATOR}?[{_DIGIT}])*[{_CHECK_X}]?")
_GROUP = re.compile(f"[{_DIGIT}]+[{_CHECK_X}]?")
#: The digits of one identifier once separators are gone: an ID number (18, or 15 legacy), a mobile (with its
#: country code 86 or not).
_IDENTIFIER = re.compile(r"\d{17}[\dX]|\d{15}|(?:86)?1[3-9]\d{9}")
#: RE2 (no look-behind) pre-filter: an identifier starts at a token boundary with 11 digits in a row, a
#: separator allowed between two (after an optional '+'); values without one skip Python. Entity ids like
#: ``P000000123456`` are not candidates.
_CANDIDATE = f"(?:^|[^{_TOKEN}+\uff0b])[+\uff0b]?[{_DIGIT}](?:{_SEPARATOR}?[{_DIGIT}]){{10}}"
_GLUED_CANDIDATE = f"[{_DIGIT}](?:{_SEPARATOR}?[{_DIGIT}]){{10}}"
#: Values that are one identifier and nothing else (a record id that is an ID number) are masked in Arrow.
_WHOLE = f"^(?:{_ID18}|{_ID15}|[1\uff11][3-9\uff13-\uff19][{_DIGIT}]{{9}})$"


def _star(chars: list[str], start: int, end: int) -> None:
    """Mask ``chars[start:end]`` in place: its first 3 characters (a leading ``+`` counts) and last 4 digits
    kept, the digits between starred, separators kept."""
    at = [i for i in range(start, end) if chars[i].isdigit() or chars[i] in _CHECK_X + "+\uff0b"]
    for i in at[KEEP_HEAD : len(at) - KEEP_TAIL]:
        chars[i] = MASK


def _identifier(digits: str, groups: int) -> bool:
    """Are ``digits`` (NFKC, separators gone) an identifier? A 15-digit legacy ID counts only when written in
    one run (across groups, 15 digits are as likely a date and a number side by side)."""
    return bool(_IDENTIFIER.fullmatch(digits)) and (groups == 1 or len(digits) != 15)


def _mask_run(m: re.Match) -> str:
    """Mask every identifier in one run of digit groups: for each group in turn, the longest stretch of whole
    groups starting there whose digits (NFKC) are an identifier."""
    s = m.group(0)
    groups = [
        (g.start(), g.end(), unicodedata.normalize("NFKC", g.group(0)).upper()) for g in _GROUP.finditer(s)
    ]
    chars = list(s)
    i = 0
    while i < len(groups):
        best, digits = None, ""
        for j in range(i, len(groups)):
            digits += groups[j][2]
            if len(digits) > 18 or "X" in digits[:-1]:
                break
            if _identifier(digits, j - i + 1):
                best = j
        if best is None:
            i += 1
            continue
        start = 0 if i == 0 else groups[i][0]  # a leading '+' belongs to the first group's number
        _star(chars, start, groups[best][1])
        i = best + 1
    return "".join(chars)


def scrub_text(text: str, *, glued: bool = False) -> str:
    """Mask every ID number and mobile in one string, however it is written: contiguous, in groups separated
    by spaces, dashes, dots or slashes (``131 0927 8394``, ``131-0927-8394``, ``4403 0519 9001 0112 34``), in
    full-width digits (``１３１０９２７８３９４``), with ``+86`` or not (see the module doc for tokens).
    ``glued``: numbers glued to letters too (text derived from a name, never a code)."""
    return (GLUED_RUN if glued else IDENTIFIER_RUN).sub(_mask_run, text)


#: A column of more rows than this is scrubbed per distinct value when fewer than half its values are distinct.
_DISTINCT_MIN_ROWS = 1024


def scrub_values(values: pa.Array | pa.ChunkedArray, *, glued: bool = False) -> pa.Array:
    """:func:`scrub_text` over a string (or list-of-string) column; only candidate values reach Python."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        inner = scrub_values(values.values, glued=glued)
        cls = pa.ListArray if pa.types.is_list(values.type) else pa.LargeListArray
        return cls.from_arrays(values.offsets, inner, type=values.type, mask=values.is_null())
    arr = _string_array(values)
    if len(arr) > _DISTINCT_MIN_ROWS:  # columns repeat values (feeds, types, codes): scrub each value once
        encoded = arr.dictionary_encode()
        if 2 * len(encoded.dictionary) < len(arr):
            return pc.take(_scrub_strings(encoded.dictionary, glued), encoded.indices)
    return _scrub_strings(arr, glued)


def _scrub_strings(arr: pa.Array, glued: bool) -> pa.Array:
    """:func:`scrub_values` of a plain string array."""
    whole = pc.fill_null(pc.match_substring_regex(arr, _WHOLE), False)
    if pc.any(whole).as_py():
        arr = pc.if_else(whole, mask_values(arr), arr)
    candidate = pc.fill_null(pc.match_substring_regex(arr, _GLUED_CANDIDATE if glued else _CANDIDATE), False)
    idx = np.flatnonzero(candidate.to_numpy(zero_copy_only=False))
    if len(idx) == 0:
        return arr
    fixed = pa.array([scrub_text(v, glued=glued) for v in pc.take(arr, idx).to_pylist()], pa.string())
    positions = np.full(len(arr), -1, dtype=np.int64)
    positions[idx] = np.arange(len(idx))
    replacement = pc.take(fixed, pa.array(np.where(positions < 0, 0, positions)))
    return pc.if_else(candidate, replacement, arr)


def scrub_json(value: object) -> object:
    """:func:`scrub_text` over every string of a JSON-like value (used for the shared copy of manifests)."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: scrub_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_json(v) for v in value]
    return value


def is_code_column(table: str | Table, column: str) -> bool:
    """True for columns holding codes of the reference data or registers (``*_code``, or a declared
    ``pattern``; ``*_codes`` for lists of codes), which the shared layer publishes as they are; PII and
    restricted-only columns are never code columns."""
    c = _table(table).column(column)
    if c.pii is not None or c.restricted_only:
        return False
    return c.pattern is not None or c.name.endswith(("_code", "_codes"))


def _is_text(t: pa.DataType) -> bool:
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _is_text(t.value_type)
    return pa.types.is_string(t) or pa.types.is_large_string(t)


# --------------------------------------------------------------------------------------------------------------
# Whole tables
# --------------------------------------------------------------------------------------------------------------
def keyed_hashes(table: str | Table, data: pa.Table, key: bytes) -> dict[str, pa.Array]:
    """``<col>_key`` for every PII column of a canonical table (computed once, shared by both layers)."""
    t = _table(table)
    return {key_column(c.name): keyed_hash(data.column(c.name), c.pii, key) for c in t.columns if c.pii}


def to_layer(
    table: str | Table,
    data: pa.Table,
    layer: Layer | str,
    key: bytes,
    hashes: dict[str, pa.Array] | None = None,
) -> pa.Table:
    """A canonical table (exactly ``arrow_schema``) as published in ``layer``, with ``layer_schema``.

    ``restricted``: values unchanged plus ``<col>_key``. ``shared``: PII columns masked plus ``<col>_key``,
    restricted-only columns null, every other text column scrubbed except code columns. ``hashes`` (from :func:`keyed_hashes`) saves
    hashing twice when both layers are built.
    """
    if not key:
        raise PrivacyKeyError("the privacy layer needs a non-empty HMAC key")
    t = _table(table)
    layer = Layer(layer)
    schema = layer_schema(t, layer)
    hashes = hashes if hashes is not None else keyed_hashes(t, data, key)
    arrays: list[pa.Array | pa.ChunkedArray] = []
    for col in t.columns:
        values = data.column(col.name)
        if col.pii is not None:
            arrays.append(mask_values(values) if layer is Layer.SHARED else values)
            arrays.append(hashes[key_column(col.name)])
        elif layer is Layer.SHARED and col.restricted_only:
            arrays.append(pa.nulls(data.num_rows, col.type))
        elif layer is Layer.SHARED and _is_text(col.type) and not is_code_column(t, col.name):
            arrays.append(scrub_values(values, glued=col.derived_text))
        else:
            arrays.append(values)
    return pa.Table.from_arrays(
        [a.cast(f.type) if a.type != f.type else a for a, f in zip(arrays, schema, strict=True)],
        schema=schema,
    )
