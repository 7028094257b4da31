"""Row rules: turn a batch of source rows into typed staging rows, quarantine entries and field issues, vectorised.

Staging only renames and casts (like dbt's ``stg_`` models). For every mapped column of a batch, in order, the
first problem found in a value is reported, with the source line, the source column and the original value:

==========================  ===============================================================================
numeric_cell_lost_digits    a code field (``StagingField.code``: ID number, credit code, phone, record id)
                            is an xlsx number cell of 16 or more digits: Excel kept only 15 of them
encoding_error              the value holds bytes the file's encoding cannot decode (shown as U+FFFD)
control_characters          NUL or another control character (tab and line breaks are allowed)
field_too_long              longer than the feed's ``max_field_length`` after trimming
unmapped_value              the feed has a value map for the field and the value is neither a key nor a target
invalid_date                not a real date in the feed's ``date_formats`` nor in a common Chinese form
                            (:mod:`connectors.dates`; 20230230 is not a date)
invalid_number              not a number (:mod:`connectors.values`: full-width digits, units such as ㎡ and
                            thousands separators are read; a decimal comma such as ``89,5`` is refused)
invalid_bool                not one of 是/否, 有/无, 1/0, Y/N, yes/no, true/false, √/×
date_out_of_range           a date outside its field's value rule (default: 1900-01-01 to today) or the feed's
                            ``value_rules`` (:mod:`connectors.checks`)
number_out_of_range         a number outside its field's value rule (``house_area``: above 0, at most 100,000)
missing_record_id           the record id column is empty
missing_required            a field listed in ``required`` is empty
duplicate_record_id         the record id repeats an earlier row of the same file (the first one is staged)
date_format_not_listed      a notice, not a problem: the date was read by a common form the feed does not
                            list (``2023.05.01`` in a ``%Y-%m-%d`` feed); the value is staged as read
suspicious_text             a notice too: a text value that looks like a formula, markup, SQL or holds emoji
                            (:mod:`connectors.checks`); staged as given
==========================  ===============================================================================

**Which problems cost the row.** Only the record and the fields it cannot do without: a row is quarantined
whole (one quarantine entry per problem it has, notices left out) when its record id has any problem or is
empty or repeated, when a field listed in the feed's ``required`` has any problem or is empty, when any
mapped value has an ``encoding_error`` (the row's bytes are not in the file's encoding, so none of its text
can be trusted), or when the reader could not make a row of it at all (``ragged_row``, ``unparseable_row``).
A problem in any other (optional) field does not: the value is staged as null and reported as a *field
issue* (feed, record id, field, reason, original text, line), and the rest of the row is staged. Notices are
field issues too, the value kept. So rows read = rows staged + rows quarantined still holds, and a person is
not lost for a typo in an optional birth date.

Every value is cleaned first (:func:`connectors.text.clean_text`, the one text sanitiser): invisible
characters (zero-width, direction marks, bidi overrides, the soft hyphen: Unicode category Cf) removed, whitespace incl. NBSP and the ideographic space
trimmed, empty → null. Values starting with ``=``, ``+``, ``-`` or ``@`` are data and stay as they are (a
formula-like one is noted as ``suspicious_text``). Dates and numbers are then held to their field's value rule.
Identity numbers and credit codes are kept as text: ``matching/`` checks them with their check digits. A code
typed into a number cell of a spreadsheet reads as its exact integer text (``13800138000``, no ``.0``) while it
has at most 15 digits; from 16 digits on Excel has already replaced the digits after the 15th by zeros
(110105199001011234 becomes 110105199001011000), and such a value is never staged as a wrong ID.

A feed's ``attributes`` (other source columns it keeps) are cleaned and staged as one JSON object text in the
``attributes`` column (:func:`connectors.values.attributes_json`), without further rules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.cells import NUMBER_CELL_DIGITS, SourceColumn
from connectors.checks import out_of_range, suspicious_text
from connectors.dates import parse_date_strings
from connectors.errors import FileRejected
from connectors.feeds import DELETED_COLUMN, Feed
from connectors.limits import effective_rule
from connectors.record_ids import SeenIds
from connectors.text import (
    CONTROL_RE,
    REPLACEMENT_CHAR,
    any_contains,
    any_control,
    clean_text,
    normalise_header,
)
from connectors.values import (
    DEFAULT_NUMBER_UNITS,
    NUMBER_HINT,
    attributes_json,
    deletion_flags,
    parse_bools,
    parse_numbers,
    truncate_original,
    unit_pattern,
)
from warehouse.reasons import REASON_TEXT, ReasonCode
from warehouse.schema import STAGING_FIELDS, FieldKind
from warehouse.staging import ATTRIBUTES, STAGED_ISSUE_SCHEMA

log = logging.getLogger(__name__)

REPLACEMENT_BYTES = REPLACEMENT_CHAR.encode("utf-8")

#: Problems that cost the row whatever field they are in.
ROW_REASONS = frozenset(
    {
        ReasonCode.ENCODING_ERROR,
        ReasonCode.MISSING_RECORD_ID,
        ReasonCode.DUPLICATE_RECORD_ID,
        ReasonCode.MISSING_REQUIRED,
    }
)
#: Field issues that keep the value: never a quarantine entry.
NOTICES = frozenset({ReasonCode.DATE_FORMAT_NOT_LISTED, ReasonCode.SUSPICIOUS_TEXT})


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
    #: reason → quarantined rows with a problem of that reason
    reasons: dict[str, int] = field(default_factory=dict)
    #: the field issues of the staged rows (:data:`warehouse.staging.STAGED_ISSUE_SCHEMA`)
    field_issues: pa.Table = field(default_factory=STAGED_ISSUE_SCHEMA.empty_table)
    #: reason → field issues of that reason
    issue_reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class _Problem:
    """Rows of one batch where one field has one problem."""

    field: str
    reason: ReasonCode
    rows: np.ndarray
    original: pa.Array
    detail: str
    critical: bool  # costs the row


QUARANTINE_FIELDS = ("line", "column", "reason_code", "message", "original_text")


class RowRules:
    """The row rules of one feed for one file, bound to that file's header."""

    def __init__(self, feed: Feed, header: list[str], *, raw_sha256: str, file_name: str) -> None:
        self.feed = feed
        self.raw_sha256 = raw_sha256
        self.file_name = file_name
        self.header = [("" if h is None else str(h)) for h in header]
        self.schema = feed.staging_schema
        self.warnings: list[str] = []
        self._seen = SeenIds()
        self._check_header()
        self._value_maps = {
            f: {normalise_header(k): v for k, v in m.items()} for f, m in feed.value_maps.items()
        }
        self._units = unit_pattern(DEFAULT_NUMBER_UNITS + tuple(feed.number_units))
        self._value_rules = {f: effective_rule(f, feed.value_rules.get(f)) for f in feed.fields}

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

        def find(src: str) -> int | None:
            key = normalise_header(src)
            at = position.get(key)
            return folded.get(key.casefold()) if at is None else at  # exact first; XM matches xm

        self.columns: dict[str, tuple[int, str]] = {}  # field -> (source index, source header)
        missing_needed: list[str] = []
        missing_other: list[str] = []
        needed = {self.feed.record_id} | {
            src for src, f in self.feed.columns.items() if f in self.feed.required
        }
        for src, target in self.feed.columns.items():
            at = find(src)
            if at is None:
                (missing_needed if src in needed else missing_other).append(src)
            else:
                self.columns[target] = (at, self.header[at])
        self.attribute_indices: dict[str, int] = {}  # attribute name -> source index
        for src, name in self.feed.attribute_columns.items():
            at = find(src)
            if at is None:
                missing_other.append(src)
            else:
                self.attribute_indices[name] = at
        marker = self.feed.deletion_marker
        if marker is not None:  # read like an attribute, staged as the _deleted flag
            at = find(marker.column)
            if at is None:
                missing_other.append(marker.column)
            else:
                self.attribute_indices[DELETED_COLUMN] = at
        if missing_needed:
            raise FileRejected(
                ReasonCode.MISSING_COLUMNS,
                "缺少 / missing: "
                + ", ".join(missing_needed)
                + "; 表头 / header: "
                + ", ".join(h for h in norm if h)[:500],
                header=list(self.header),  # for the "another feed's columns" check, whatever the file format
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
        self,
        lines: np.ndarray,
        columns: dict[str, SourceColumn],
        rejects: list[Reject],
        attributes: dict[str, SourceColumn] | None = None,
    ) -> BatchOutcome:
        """Stage one batch. ``columns`` maps canonical field → its source column (aligned with ``lines``),
        ``attributes`` attribute name → its source column (:attr:`attribute_indices`)."""
        n = len(lines)
        problems: list[_Problem] = []
        out: dict[str, pa.Array] = {}
        for fld in self.feed.fields:
            if fld not in columns:
                out[fld] = pa.nulls(n, type=self.schema.field(fld).type)
                continue
            out[fld] = self._column(fld, columns[fld], problems, n)

        # record id: unique within the file (the first row with an id claims it, even if it is quarantined)
        ids = out.get("source_record_id")
        if ids is not None and "source_record_id" in columns:
            dup = self._seen.duplicates(pd.Series(ids.to_pandas(), dtype=object))
            if dup.any():
                text = columns["source_record_id"].text
                problems.append(
                    _Problem("source_record_id", ReasonCode.DUPLICATE_RECORD_ID, dup, text, "", True)
                )

        given = dict(attributes or {})
        marker = given.pop(DELETED_COLUMN, None)
        spec = self.feed.deletion_marker
        deleted = deletion_flags(marker.text if marker else None, spec.values if spec else [], n)
        bad = np.zeros(n, dtype=bool)
        for p in problems:
            if p.critical:
                # a deletion row needs only its record id: the rest of it may be empty
                bad |= p.rows if p.field == "source_record_id" else p.rows & ~deleted
        keep = ~bad
        in_quarantine = [(p, p.rows & bad) for p in problems if p.reason not in NOTICES]
        issues = [(p, p.rows & keep) for p in problems if not p.critical]
        if self.feed.deletion_marker is not None:
            out[DELETED_COLUMN] = pa.array(deleted)
        if self.feed.attributes:
            out[ATTRIBUTES] = attributes_json({a: clean_text(c.text) for a, c in given.items()}, n)
        mask = pa.array(keep)
        staged = pa.table(
            {
                "_feed": pa.array([self.feed.name] * int(keep.sum()), type=pa.string()),
                "_raw_sha256": pa.array([self.raw_sha256] * int(keep.sum()), type=pa.string()),
                "_line": pa.array(lines[keep], type=pa.int64()),
                **{c: out[c].filter(mask) for c in self.schema.names[3:]},
            }
        ).cast(self.schema)
        return BatchOutcome(
            staged=staged,
            quarantine=self._quarantine_table(lines, in_quarantine, rejects),
            rows_read=n + len(rejects),
            rows_quarantined=int(bad.sum()) + len(rejects),
            reasons=_row_counts(in_quarantine, rejects),
            field_issues=self._issue_table(lines, ids, issues),
            issue_reasons=_issue_counts(issues),
        )

    def _entries(
        self, lines: np.ndarray, selected: list[tuple[_Problem, np.ndarray]]
    ) -> tuple[pa.Table, np.ndarray]:
        """Quarantine-shaped entries (``QUARANTINE_FIELDS`` and ``field``) of the selected rows of each problem,
        and the batch positions they come from."""
        parts, at = [], []
        for p, rows in selected:
            if not rows.any():
                continue
            idx = np.flatnonzero(rows)
            zh, en = REASON_TEXT[p.reason]
            msg = f"{zh} / {en}" + (f" ({p.detail})" if p.detail else "")
            k = len(idx)
            parts.append(
                pa.table(
                    {
                        "line": pa.array(lines[idx], type=pa.int64()),
                        "column": pa.array([self.columns[p.field][1]] * k, type=pa.string()),
                        "reason_code": pa.array([str(p.reason)] * k, type=pa.string()),
                        "message": pa.array([msg] * k, type=pa.string()),
                        "original_text": truncate_original(p.original.take(pa.array(idx))),
                        "field": pa.array([p.field] * k, type=pa.string()),
                    }
                )
            )
            at.append(idx)
        if not parts:
            empty = {
                c: pa.array([], type=pa.int64() if c == "line" else pa.string()) for c in QUARANTINE_FIELDS
            }
            return pa.table({**empty, "field": pa.array([], type=pa.string())}), np.zeros(0, dtype=np.int64)
        return pa.concat_tables(parts), np.concatenate(at)

    def _quarantine_table(
        self, lines: np.ndarray, selected: list[tuple[_Problem, np.ndarray]], rejects: list[Reject]
    ) -> pa.Table:
        body, _ = self._entries(lines, selected)
        body = body.select(list(QUARANTINE_FIELDS))
        if rejects:
            body = pa.concat_tables(
                [
                    body,
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
                    ),
                ]
            )
        k = body.num_rows
        return pa.table(
            {
                "feed": pa.array([self.feed.name] * k, type=pa.string()),
                "raw_sha256": pa.array([self.raw_sha256] * k, type=pa.string()),
                "file_name": pa.array([self.file_name] * k, type=pa.string()),
                **{c: body[c] for c in QUARANTINE_FIELDS},
            }
        )

    def _issue_table(
        self, lines: np.ndarray, ids: pa.Array | None, selected: list[tuple[_Problem, np.ndarray]]
    ) -> pa.Table:
        body, at = self._entries(lines, selected)
        k = body.num_rows
        if ids is None or not k:
            return STAGED_ISSUE_SCHEMA.empty_table()
        columns = {
            "feed": pa.array([self.feed.name] * k, type=pa.string()),
            "source_record_id": ids.take(pa.array(at)),
            "field": body["field"],
            "reason_code": body["reason_code"],
            "original_value": body["original_text"],
            "raw_sha256": pa.array([self.raw_sha256] * k, type=pa.string()),
            "file_name": pa.array([self.file_name] * k, type=pa.string()),
            "line": body["line"],
            "column": body["column"],
            "message": body["message"],
        }
        return pa.table(columns).cast(STAGED_ISSUE_SCHEMA)

    # ---- one column -----------------------------------------------------------------------------------------
    def _column(self, fld: str, col: SourceColumn, problems: list[_Problem], n: int) -> pa.Array:
        """Clean, check and type one column; its problems are added to ``problems``, its bad values nulled."""
        kind = STAGING_FIELDS[fld].kind
        raw = col.text
        flagged = np.zeros(n, dtype=bool)
        vital = fld == "source_record_id" or fld in self.feed.required

        def check(mask_arr: pa.Array | np.ndarray, reason: ReasonCode, detail: str = "") -> None:
            nonlocal flagged
            mask = (
                mask_arr
                if isinstance(mask_arr, np.ndarray)
                else pc.fill_null(mask_arr, False).to_numpy(zero_copy_only=False)
            )
            mask = mask & ~flagged
            if mask.any():
                problems.append(_Problem(fld, reason, mask, raw, detail, vital or reason in ROW_REASONS))
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
            value = self._mapped(value, vmap, check)

        if kind is FieldKind.TEXT:
            typed = value
            if not STAGING_FIELDS[fld].code:
                for rows, what in suspicious_text(value):  # a notice: the value is kept
                    problems.append(
                        _Problem(fld, ReasonCode.SUSPICIOUS_TEXT, rows & ~flagged, raw, what, False)
                    )
        elif kind is FieldKind.DATE:
            typed = self._dates(fld, value, col.typed, raw, check, flagged, problems)
        elif kind is FieldKind.FLOAT:
            typed, invalid = parse_numbers(value, col.typed, self._units)
            check(invalid, ReasonCode.INVALID_NUMBER, NUMBER_HINT)
            for rows, reason, detail in out_of_range(typed, self._value_rules.get(fld)):
                check(rows, reason, detail)
        else:
            typed, invalid = parse_bools(value, col.typed)
            check(invalid, ReasonCode.INVALID_BOOL)

        if fld == "source_record_id":
            check(typed.is_null().to_numpy(zero_copy_only=False), ReasonCode.MISSING_RECORD_ID)
        elif fld in self.feed.required:
            check(typed.is_null().to_numpy(zero_copy_only=False), ReasonCode.MISSING_REQUIRED)
        return pc.if_else(pa.array(flagged), pa.scalar(None, typed.type), typed)

    def _mapped(self, value: pa.Array, vmap: dict[str, str], check) -> pa.Array:
        """The value map applied (keys NFKC-tolerant; a target is kept as is); an unmapped value is checked."""
        keys = pa.array(list(vmap), type=pa.string())
        targets = pa.array(list(vmap.values()), type=pa.string())
        idx = pc.index_in(value, value_set=keys)
        if pc.any(pc.and_(pc.is_null(idx), pc.is_valid(value))).as_py():
            idx = pc.coalesce(idx, pc.index_in(pc.utf8_normalize(value, form="NFKC"), value_set=keys))
        mapped = pc.take(targets, idx)
        is_target = pc.is_in(value, value_set=pa.array(sorted(set(vmap.values())), type=pa.string()))
        mapped = pc.if_else(pc.and_(pc.is_null(idx), is_target), value, mapped)
        unmapped = pc.and_(pc.is_valid(value), pc.is_null(mapped))
        check(unmapped, ReasonCode.UNMAPPED_VALUE, "known: " + ", ".join(list(vmap)[:20]))
        return mapped

    def _dates(self, fld, value, typed, raw, check, flagged, problems) -> pa.Array:
        """Dates by the feed's formats, then the common forms (:mod:`connectors.dates`); a date read only by a
        form the feed does not list is kept and noted (``date_format_not_listed``, per form)."""
        listed = self.feed.date_formats
        parsed = parse_date_strings(value, listed)
        dates = parsed.dates if typed is None else pc.coalesce(typed, parsed.dates)
        check(
            pc.and_(pc.is_valid(value), pc.is_null(dates)),
            ReasonCode.INVALID_DATE,
            "formats: " + " | ".join(listed),
        )
        for rows, reason, detail in out_of_range(dates, self._value_rules.get(fld)):
            check(rows, reason, detail)  # before the notice below: a date out of range is not staged
        unlisted = parsed.dates.is_valid().to_numpy(zero_copy_only=False) & ~parsed.listed & ~flagged
        if typed is not None:
            unlisted &= ~typed.is_valid().to_numpy(zero_copy_only=False)
        if unlisted.any():
            for form in sorted(set(parsed.formats[unlisted])):
                rows = unlisted & (parsed.formats == form)
                detail = f"read as {form}; listed: {' | '.join(listed)}"
                problems.append(_Problem(fld, ReasonCode.DATE_FORMAT_NOT_LISTED, rows, raw, detail, False))
        return dates


def _row_counts(selected: list[tuple[_Problem, np.ndarray]], rejects: list[Reject]) -> dict[str, int]:
    """Reason → quarantined rows with a problem of that reason (a row counts once per reason)."""
    rows: dict[str, np.ndarray] = {}
    for p, r in selected:
        key = str(p.reason)
        rows[key] = r if key not in rows else (rows[key] | r)
    counts = {k: int(v.sum()) for k, v in rows.items()}
    for rej in rejects:
        counts[str(rej.reason)] = counts.get(str(rej.reason), 0) + 1
    return {k: v for k, v in counts.items() if v}


def _issue_counts(selected: list[tuple[_Problem, np.ndarray]]) -> dict[str, int]:
    """Reason → field issues of that reason."""
    counts: dict[str, int] = {}
    for p, r in selected:
        counts[str(p.reason)] = counts.get(str(p.reason), 0) + int(r.sum())
    return {k: v for k, v in counts.items() if v}
