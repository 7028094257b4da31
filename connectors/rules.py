"""Row rules: turn a batch of source rows into typed staging rows and quarantine entries, vectorised.

Staging only renames and casts (like dbt's ``stg_`` models). For every mapped column of a batch, in order, the
first problem found is reported, with the source line, the source column and the original value:

==========================  ===============================================================================
numeric_cell_lost_digits    a code field (``StagingField.code``: ID number, credit code, phone, record id)
                            is an xlsx number cell of 16 or more digits: Excel kept only 15 of them
encoding_error              the value holds bytes the file's encoding cannot decode (shown as U+FFFD)
control_characters          NUL or another control character (tab and line breaks are allowed)
field_too_long              longer than the feed's ``max_field_length`` after trimming
unmapped_value              the feed has a value map for the field and the value is neither a key nor a target
invalid_date                not a real date in any of the feed's ``date_formats`` (20230230 is not)
invalid_number              not a number (full-width digits and thousands separators are accepted)
invalid_bool                not one of 是/否, 有/无, 1/0, Y/N, yes/no, true/false, √/×
missing_record_id           the record id column is empty
missing_required            a field listed in ``required`` is empty
duplicate_record_id         the record id repeats an earlier row of the same file (the first one is staged)
==========================  ===============================================================================

A row with any problem is quarantined whole (one quarantine entry per problem) and not staged. Every value is
cleaned first: zero-width characters removed, whitespace incl. NBSP and the ideographic space trimmed, empty
→ null. Values starting with ``=``, ``+``, ``-`` or ``@`` are data and stay as they are. Identity numbers and
credit codes are kept as text: ``matching/`` checks them with their check digits. A code typed into a number
cell of a spreadsheet reads as its exact integer text (``13800138000``, no ``.0``) while it has at most 15
digits; from 16 digits on Excel has already replaced the digits after the 15th by zeros (110105199001011234
becomes 110105199001011000), and such a value is quarantined rather than staged as a wrong ID.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.cells import NUMBER_CELL_DIGITS, SourceColumn
from connectors.errors import FileRejected
from connectors.feeds import Feed
from connectors.text import (
    CONTROL_RE,
    FULL_WIDTH_BYTES,
    REPLACEMENT_CHAR,
    any_contains,
    any_control,
    any_non_ascii,
    clean_text,
    normalise_header,
)
from warehouse.reasons import REASON_TEXT, ReasonCode
from warehouse.schema import STAGING_FIELDS, FieldKind, staging_schema

log = logging.getLogger(__name__)

REPLACEMENT_BYTES = REPLACEMENT_CHAR.encode("utf-8")

ORIGINAL_TEXT_LIMIT = 4096

TRUE_WORDS = ("是", "有", "1", "y", "yes", "true", "t", "√", "✓", "✔")
FALSE_WORDS = ("否", "无", "0", "n", "no", "false", "f", "×", "✗", "✘")
_NUMBER_RE = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"


def truncate_original(arr: pa.Array, limit: int = ORIGINAL_TEXT_LIMIT) -> pa.Array:
    """Original text as kept in quarantine: at most ``limit`` characters, with a note of the full length."""
    arr = arr.cast(pa.string())
    lengths = pc.utf8_length(arr)
    long = pc.fill_null(pc.greater(lengths, limit), False)
    if not pc.any(long).as_py():
        return arr
    note = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(arr, 0, limit),
        pc.cast(lengths, pa.string()),
        pa.scalar("…[truncated; full length in characters: ", pa.string()),
    )
    note = pc.binary_join_element_wise(note, "]", "")
    return pc.if_else(long, note, arr)


@dataclass
class Reject:
    """A row that never became a row: ragged, unparseable. Counted as read and quarantined."""

    line: int
    reason: ReasonCode
    message: str
    original_text: str
    column: str | None = None


@dataclass
class BatchOutcome:
    staged: pa.Table
    quarantine: pa.Table
    rows_read: int
    rows_quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)


class _SeenIds:
    """Record ids already met in this file, as sorted runs of 64-bit hashes (8 bytes a row, merged like an LSM)."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []

    def duplicates(self, ids: pd.Series) -> np.ndarray:
        """Mark ids seen before (in earlier batches or earlier in this one); remember the new ones."""
        present = ids.notna().to_numpy()
        dup = np.zeros(len(ids), dtype=bool)
        if not present.any():
            return dup
        h = pd.util.hash_array(ids[present].astype(object).to_numpy())
        seen = np.zeros(len(h), dtype=bool)
        for run in self._runs:
            pos = np.searchsorted(run, h)
            pos[pos == len(run)] = 0
            seen |= run[pos] == h
        seen |= pd.Series(h).duplicated(keep="first").to_numpy()
        dup[np.flatnonzero(present)] = seen
        new = np.sort(h[~seen])  # already unique: within-batch repeats are marked seen
        if len(new):
            self._runs.append(new)
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            last = self._runs.pop()
            merged = np.concatenate([self._runs[-1], last])
            merged.sort(kind="stable")
            self._runs[-1] = merged
        return dup


QUARANTINE_FIELDS = ("line", "column", "reason_code", "message", "original_text")


class RowRules:
    """The row rules of one feed for one file, bound to that file's header."""

    def __init__(self, feed: Feed, header: list[str], *, raw_sha256: str, file_name: str) -> None:
        self.feed = feed
        self.raw_sha256 = raw_sha256
        self.file_name = file_name
        self.header = [("" if h is None else str(h)) for h in header]
        self.schema = staging_schema(feed.fields)
        self.warnings: list[str] = []
        self._seen = _SeenIds()
        self._check_header()
        self._value_maps = {
            f: {normalise_header(k): v for k, v in m.items()} for f, m in feed.value_maps.items()
        }

    # ---- header -------------------------------------------------------------------------------------------
    def _check_header(self) -> None:
        norm = [normalise_header(h) for h in self.header]
        dupes = sorted({h for h in norm if h and norm.count(h) > 1})
        if dupes:
            raise FileRejected(ReasonCode.DUPLICATE_HEADER, "重复的列 / repeated: " + ", ".join(dupes))
        position = {h: i for i, h in enumerate(norm) if h}
        folded: dict[str, int] = {}
        for i, h in enumerate(norm):
            if h:
                folded.setdefault(h.casefold(), i)
        self.columns: dict[str, tuple[int, str]] = {}  # field -> (source index, source header)
        missing_needed: list[str] = []
        missing_other: list[str] = []
        needed = {self.feed.record_id} | {
            src for src, f in self.feed.columns.items() if f in self.feed.required
        }
        for src, target in self.feed.columns.items():
            key = normalise_header(src)
            at = position.get(key)
            if at is None:
                at = folded.get(key.casefold())  # exact first; XM matches xm
            if at is None:
                (missing_needed if src in needed else missing_other).append(src)
            else:
                self.columns[target] = (at, self.header[at])
        if missing_needed:
            raise FileRejected(
                ReasonCode.MISSING_COLUMNS,
                "缺少 / missing: "
                + ", ".join(missing_needed)
                + "; 表头 / header: "
                + ", ".join(h for h in norm if h)[:500],
            )
        if missing_other:
            msg = (
                f"columns not in this file, staged as empty: {', '.join(missing_other)} "
                f"(本文件缺少这些列，相应字段为空)"
            )
            self.warnings.append(msg)
            log.warning("feed %s, file %s: %s", self.feed.name, self.file_name, msg)

    @property
    def source_indices(self) -> dict[str, int]:
        """Canonical field → index of its source column in a row."""
        return {f: i for f, (i, _) in self.columns.items()}

    # ---- batches ------------------------------------------------------------------------------------------
    def apply(
        self, lines: np.ndarray, columns: dict[str, SourceColumn], rejects: list[Reject]
    ) -> BatchOutcome:
        """Stage one batch. ``columns`` maps canonical field → its source column (aligned with ``lines``)."""
        n = len(lines)
        bad = np.zeros(n, dtype=bool)
        reason_rows: dict[str, np.ndarray] = {}
        q_parts: list[pa.Table] = []
        out: dict[str, pa.Array] = {}

        def flag(
            mask: np.ndarray, fld: str, reason: ReasonCode, original: pa.Array, detail: str = ""
        ) -> None:
            if not mask.any():
                return
            idx = np.flatnonzero(mask)
            zh, en = REASON_TEXT[reason]
            msg = f"{zh} / {en}" + (f" ({detail})" if detail else "")
            q_parts.append(
                pa.table(
                    {
                        "line": pa.array(lines[idx], type=pa.int64()),
                        "column": pa.array([self.columns[fld][1]] * len(idx), type=pa.string()),
                        "reason_code": pa.array([str(reason)] * len(idx), type=pa.string()),
                        "message": pa.array([msg] * len(idx), type=pa.string()),
                        "original_text": truncate_original(original.take(pa.array(idx))),
                    }
                )
            )
            prev = reason_rows.get(str(reason))
            reason_rows[str(reason)] = mask if prev is None else (prev | mask)

        for fld in self.feed.fields:
            if fld not in columns:
                out[fld] = pa.nulls(n, type=self.schema.field(fld).type)
                continue
            out[fld], col_bad = self._column(fld, columns[fld], flag, n)
            bad |= col_bad

        # record id: unique within the file (the first row with an id claims it, even if it is quarantined)
        ids = out.get("source_record_id")
        if ids is not None and "source_record_id" in columns:
            dup = self._seen.duplicates(pd.Series(ids.to_pandas(), dtype=object))
            flag(dup, "source_record_id", ReasonCode.DUPLICATE_RECORD_ID, columns["source_record_id"].text)
            bad |= dup

        quarantine = self._quarantine_table(q_parts, rejects)
        keep = ~bad
        meta = {
            "_feed": pa.array([self.feed.name] * int(keep.sum()), type=pa.string()),
            "_raw_sha256": pa.array([self.raw_sha256] * int(keep.sum()), type=pa.string()),
            "_line": pa.array(lines[keep], type=pa.int64()),
        }
        mask = pa.array(keep)
        staged = pa.table({**meta, **{f: out[f].filter(mask) for f in self.feed.fields}}).cast(self.schema)
        reasons = {k: int(v.sum()) for k, v in reason_rows.items()}
        for r in rejects:
            reasons[str(r.reason)] = reasons.get(str(r.reason), 0) + 1
        reasons = {k: v for k, v in reasons.items() if v}
        return BatchOutcome(
            staged=staged,
            quarantine=quarantine,
            rows_read=n + len(rejects),
            rows_quarantined=int(bad.sum()) + len(rejects),
            reasons=reasons,
        )

    def _quarantine_table(self, parts: list[pa.Table], rejects: list[Reject]) -> pa.Table:
        if rejects:
            parts = parts + [
                pa.table(
                    {
                        "line": pa.array([r.line for r in rejects], type=pa.int64()),
                        "column": pa.array([r.column for r in rejects], type=pa.string()),
                        "reason_code": pa.array([str(r.reason) for r in rejects], type=pa.string()),
                        "message": pa.array([r.message for r in rejects], type=pa.string()),
                        "original_text": truncate_original(
                            pa.array([r.original_text for r in rejects], type=pa.string())
                        ),
                    }
                )
            ]
        if not parts:
            body = pa.table(
                {
                    k: pa.array([], type=t)
                    for k, t in (
                        ("line", pa.int64()),
                        ("column", pa.string()),
                        ("reason_code", pa.string()),
                        ("message", pa.string()),
                        ("original_text", pa.string()),
                    )
                }
            )
        else:
            body = pa.concat_tables(parts)
        k = body.num_rows
        return pa.table(
            {
                "feed": pa.array([self.feed.name] * k, type=pa.string()),
                "raw_sha256": pa.array([self.raw_sha256] * k, type=pa.string()),
                "file_name": pa.array([self.file_name] * k, type=pa.string()),
                **{c: body[c] for c in QUARANTINE_FIELDS},
            }
        )

    # ---- one column -----------------------------------------------------------------------------------------
    def _column(self, fld: str, col: SourceColumn, flag, n: int) -> tuple[pa.Array, np.ndarray]:
        """Clean, check and type one column; returns (typed values, rows flagged in this column)."""
        kind = STAGING_FIELDS[fld].kind
        raw = col.text
        flagged = np.zeros(n, dtype=bool)

        def check(mask_arr: pa.Array | np.ndarray, reason: ReasonCode, detail: str = "") -> None:
            nonlocal flagged
            mask = (
                mask_arr
                if isinstance(mask_arr, np.ndarray)
                else pc.fill_null(mask_arr, False).to_numpy(zero_copy_only=False)
            )
            mask = mask & ~flagged
            flag(mask, fld, reason, raw, detail)
            flagged |= mask

        if col.lost_digits is not None:
            check(
                col.lost_digits,
                ReasonCode.NUMERIC_CELL_LOST_DIGITS,
                f"{NUMBER_CELL_DIGITS + 1}+ digits in a number cell / 数字单元格中超过{NUMBER_CELL_DIGITS}位",
            )
        # whole-buffer byte scans first: the per-value checks run only when a batch holds such bytes at all
        if any_contains(raw, (REPLACEMENT_BYTES,)):
            check(pc.match_substring(raw, REPLACEMENT_CHAR), ReasonCode.ENCODING_ERROR)
        if any_control(raw):
            check(pc.match_substring_regex(raw, CONTROL_RE), ReasonCode.CONTROL_CHARACTERS)
        value = clean_text(raw)
        limit = self.feed.max_field_length
        check(pc.greater(pc.utf8_length(value), limit), ReasonCode.FIELD_TOO_LONG, f"max {limit}")

        vmap = self._value_maps.get(fld)
        if vmap:
            keys = pa.array(list(vmap), type=pa.string())
            targets = pa.array(list(vmap.values()), type=pa.string())
            idx = pc.index_in(value, value_set=keys)
            if pc.any(pc.and_(pc.is_null(idx), pc.is_valid(value))).as_py() and any_non_ascii(value):
                idx = pc.coalesce(idx, pc.index_in(pc.utf8_normalize(value, form="NFKC"), value_set=keys))
            mapped = pc.take(targets, idx)
            is_target = pc.is_in(value, value_set=pa.array(sorted(set(vmap.values())), type=pa.string()))
            mapped = pc.if_else(pc.and_(pc.is_null(idx), is_target), value, mapped)
            unmapped = pc.and_(pc.is_valid(value), pc.is_null(mapped))
            check(unmapped, ReasonCode.UNMAPPED_VALUE, "known: " + ", ".join(list(vmap)[:20]))
            value = mapped

        if kind is FieldKind.TEXT:
            typed = value
        elif kind is FieldKind.DATE:
            typed, invalid = self._dates(value, col.typed)
            check(invalid, ReasonCode.INVALID_DATE, "formats: " + " | ".join(self.feed.date_formats))
        elif kind is FieldKind.FLOAT:
            typed, invalid = _numbers(value, col.typed)
            check(invalid, ReasonCode.INVALID_NUMBER)
        else:
            typed, invalid = _bools(value, col.typed)
            check(invalid, ReasonCode.INVALID_BOOL)

        if fld == "source_record_id":
            check(typed.is_null().to_numpy(zero_copy_only=False), ReasonCode.MISSING_RECORD_ID)
        elif fld in self.feed.required:
            check(typed.is_null().to_numpy(zero_copy_only=False), ReasonCode.MISSING_REQUIRED)
        typed = pc.if_else(pa.array(flagged), pa.scalar(None, typed.type), typed)
        return typed, flagged

    def _dates(self, value: pa.Array, typed: pa.Array | None) -> tuple[pa.Array, np.ndarray]:
        s = pd.Series(value.to_pandas(), dtype=object)
        result = pd.Series(pd.NaT, index=s.index, dtype="datetime64[s]")
        todo = s.notna().to_numpy().copy()
        if typed is not None:
            tv = typed.is_valid().to_numpy(zero_copy_only=False)
            todo &= ~tv
        for fmt in self.feed.date_formats:
            if not todo.any():
                break
            parsed = pd.to_datetime(s[todo], format=fmt, errors="coerce")
            ok = parsed.notna().to_numpy()
            if ok.any():
                where = np.flatnonzero(todo)[ok]
                result.iloc[where] = parsed[ok].astype("datetime64[s]").to_numpy()
                todo[where] = False
        out = pa.array(result, type=pa.timestamp("s")).cast(pa.date32())
        if typed is not None:
            out = pc.coalesce(typed, out)
        return out, todo


def _numbers(value: pa.Array, typed: pa.Array | None) -> tuple[pa.Array, np.ndarray]:
    norm = value
    if any_contains(value, FULL_WIDTH_BYTES):  # full-width digits １２３．５
        norm = pc.utf8_normalize(norm, form="NFKC")
    if any_contains(norm, (b",", b" ", b"\t")):  # thousands separators, spaces
        norm = pc.replace_substring_regex(norm, r"[,\s]", "")
    ok = pc.fill_null(pc.match_substring_regex(norm, _NUMBER_RE), False)
    num = pc.if_else(ok, norm, pa.scalar(None, pa.string())).cast(pa.float64())
    invalid = pc.and_(pc.is_valid(value), pc.invert(ok))
    if typed is not None:
        num = pc.coalesce(typed, num)
        invalid = pc.and_(invalid, pc.is_null(typed))
    return num, pc.fill_null(invalid, False).to_numpy(zero_copy_only=False)


def _bools(value: pa.Array, typed: pa.Array | None) -> tuple[pa.Array, np.ndarray]:
    norm = pc.utf8_lower(
        pc.utf8_normalize(value, form="NFKC") if any_contains(value, FULL_WIDTH_BYTES) else value
    )
    is_true = pc.is_in(norm, value_set=pa.array(TRUE_WORDS))
    is_false = pc.is_in(norm, value_set=pa.array(FALSE_WORDS))
    out = pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))
    invalid = pc.and_(pc.is_valid(value), pc.is_null(out))
    if typed is not None:
        out = pc.coalesce(typed, out)
        invalid = pc.and_(invalid, pc.is_null(typed))
    return out, pc.fill_null(invalid, False).to_numpy(zero_copy_only=False)
