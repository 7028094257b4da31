"""Source values as columns: how a typed cell (xlsx, database) reads as text, and one source column of a batch.

A CSV value is text as received. An xlsx cell or a database value has a type: it reads as text the way a person
would type it (:func:`cell_text`: ``13800138000`` not ``13800138000.0``, dates in ISO), and a date, number or
boolean cell stays typed for a field of that kind, whatever the feed's ``date_formats`` say.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.schema import FieldKind

#: Significant digits an Excel number cell stores (IEEE double, as Excel rounds it): a code of more digits typed
#: as a number has lost the rest.
NUMBER_CELL_DIGITS = 15


def cell_text(value: object) -> str | None:
    """How a typed cell (xlsx / database) reads as text: integral floats without '.0', dates in ISO."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, dt.datetime):
        return (
            value.isoformat(sep=" ")
            if (value.hour, value.minute, value.second, value.microsecond) != (0, 0, 0, 0)
            else value.date().isoformat()
        )
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


@dataclass
class SourceColumn:
    """One source column of a batch: its text (as received) and, for typed sources, the typed values."""

    text: pa.Array  # string
    typed: pa.Array | None = None  # date32 / float64 / bool, null where the cell was not of that type
    lost_digits: np.ndarray | None = None  # code fields: True where a number cell was too long to be exact

    @classmethod
    def from_strings(cls, values: list) -> SourceColumn:
        return cls(pa.array(values, type=pa.string()))

    @classmethod
    def from_cells(cls, values: list, kind: FieldKind, *, code: bool = False) -> SourceColumn:
        """Typed cells (openpyxl): keep dates / numbers / booleans typed for fields of that kind.

        For a ``code`` field, number cells of more than :data:`NUMBER_CELL_DIGITS` digits are marked in
        ``lost_digits``: the spreadsheet kept only the first 15 of them.
        """
        texts = [cell_text(v) for v in values]
        lost = None
        if code:
            limit = 10**NUMBER_CELL_DIGITS
            lost = np.fromiter(
                (
                    isinstance(v, int | float | Decimal) and not isinstance(v, bool) and abs(v) >= limit
                    for v in values
                ),
                dtype=bool,
                count=len(values),
            )
        typed = None
        if kind is FieldKind.DATE:
            typed = pa.array(
                [
                    v.date() if isinstance(v, dt.datetime) else v if isinstance(v, dt.date) else None
                    for v in values
                ],
                type=pa.date32(),
            )
        elif kind is FieldKind.FLOAT:
            typed = pa.array(
                [
                    float(v) if isinstance(v, int | float | Decimal) and not isinstance(v, bool) else None
                    for v in values
                ],
                type=pa.float64(),
            )
        elif kind is FieldKind.BOOL:
            typed = pa.array([v if isinstance(v, bool) else None for v in values], type=pa.bool_())
        return cls(
            pa.array(texts, type=pa.string()), typed, lost if lost is not None and lost.any() else None
        )

    @classmethod
    def from_arrow(cls, arr: pa.Array, kind: FieldKind) -> SourceColumn:
        """A column of a database extract (Arrow-typed)."""
        t = arr.type
        typed = None
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            text = arr.cast(pa.string())
        elif pa.types.is_timestamp(t) or pa.types.is_date(t):
            as_date = arr.cast(pa.date32())
            if pa.types.is_timestamp(t):
                midnight = pc.equal(arr.cast(pa.date32()).cast(t), arr)
                text = pc.if_else(
                    midnight, as_date.cast(pa.string()), pc.strftime(arr, format="%Y-%m-%d %H:%M:%S")
                )
            else:
                text = as_date.cast(pa.string())
            typed = as_date if kind is FieldKind.DATE else None
        elif pa.types.is_boolean(t):
            text = pc.if_else(arr, "true", "false")
            typed = arr if kind is FieldKind.BOOL else None
        elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            as_float = arr.cast(pa.float64())
            if pa.types.is_floating(t):
                as_float = pc.if_else(pc.is_nan(as_float), pa.scalar(None, pa.float64()), as_float)
            text = arr.cast(pa.string())
            if pa.types.is_floating(t):
                text = pa.array([cell_text(v) for v in arr.to_pylist()], type=pa.string())
            typed = as_float if kind is FieldKind.FLOAT else None
        elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
            text = pa.array([cell_text(v) for v in arr.to_pylist()], type=pa.string())
        else:
            text = pa.array([cell_text(v) for v in arr.to_pylist()], type=pa.string())
        return cls(text, typed)


__all__ = ["NUMBER_CELL_DIGITS", "SourceColumn", "cell_text"]
