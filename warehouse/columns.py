"""Column helpers of the table assembly (:mod:`warehouse.build`), vectorised for tables of millions of rows.

:func:`sorted_distinct` is ``groupby(by)[value].agg(lambda s: sorted(set(s)))`` without a Python call per
group; :func:`arrow_column` turns a pandas column into an Arrow array of a schema type through Arrow when the
values allow it, else value by value (:func:`python_values`), with the same result either way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa


def sorted_distinct(frame: pd.DataFrame, by: str | list[str], value: str) -> pd.Series:
    """Per group of ``by`` (groups with a null key left out, as ``groupby`` does): the sorted distinct
    non-null values of ``value``, as a list. Indexed like ``frame.groupby(by)``; a group whose values are all
    null is left out."""
    keys = [by] if isinstance(by, str) else list(by)
    d = frame[[*keys, value]].dropna().drop_duplicates()
    d = d.sort_values([*keys, value], kind="stable")
    index = pd.MultiIndex.from_frame(d[keys]) if len(keys) > 1 else pd.Index(d[keys[0]])
    if d.empty:
        return pd.Series([], index=index, dtype=object, name=value)
    # sorted by the keys: a group starts where any key differs from the row before
    new_group = np.zeros(len(d), dtype=bool)
    new_group[0] = True
    for k in keys:
        column = d[k].to_numpy(dtype=object)
        new_group[1:] |= column[1:] != column[:-1]
    starts = np.flatnonzero(new_group)
    ends = np.r_[starts[1:], len(d)]
    values = d[value].to_numpy(dtype=object)
    lists = [values[s:e].tolist() for s, e in zip(starts, ends, strict=True)]
    return pd.Series(lists, index=index[starts], dtype=object, name=value)


def python_values(values: pd.Series, type_: pa.DataType) -> list[Any]:
    """A column's values as Python objects of the Arrow type, every kind of missing value as ``None``."""
    if pa.types.is_list(type_):
        return [list(v) if isinstance(v, list | tuple | np.ndarray) else None for v in values]
    if pa.types.is_date(type_):
        dates = pd.to_datetime(values, errors="coerce").dt.date.astype(object).where(values.notna(), None)
        return [
            None if (v is None or v is pd.NaT or (isinstance(v, float) and np.isnan(v))) else v for v in dates
        ]
    if pa.types.is_floating(type_):
        floats = pd.to_numeric(values, errors="coerce").astype("float64")
        return [None if np.isnan(v) else float(v) for v in floats]
    if pa.types.is_integer(type_):
        return [None if pd.isna(v) else int(v) for v in values]
    if pa.types.is_boolean(type_):
        return [None if pd.isna(v) else bool(v) for v in values]
    if pa.types.is_binary(type_):  # WKB geometry (GeoParquet)
        return [v if isinstance(v, bytes) else None for v in values]
    return [None if pd.isna(v) else str(v) for v in values]


_SEQUENCES = (list, tuple, np.ndarray)


def _fast(values: pd.Series, type_: pa.DataType) -> pa.Array | None:
    """The column through Arrow when that gives exactly :func:`python_values`, else ``None``."""
    kind = values.dtype.kind if isinstance(values.dtype, np.dtype) else None
    if pa.types.is_list(type_) and kind == "O":
        # lists (tuples, arrays) and None / NaN only: Arrow would read a text value as a list of characters
        if not all(
            isinstance(v, _SEQUENCES) or v is None or (isinstance(v, float) and v != v) for v in values
        ):
            return None
        try:
            return pa.array(values, type=type_, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
    if pa.types.is_date(type_) and kind == "M" and getattr(values.dt, "tz", None) is None:
        try:  # dates at midnight (any time of day would be refused: safe cast) and NaT only
            return pa.array(values, from_pandas=True).cast(type_)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return None
    if pa.types.is_float64(type_):
        floats = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
        return pa.array(floats, type=type_, from_pandas=True)  # NaN → null, as python_values
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        if not (kind == "O" or pd.api.types.is_string_dtype(values.dtype)):
            return None
        try:  # text and missing values only; anything else (numbers, lists) goes value by value
            return pa.array(values, type=type_, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
    if pa.types.is_integer(type_) and (kind in ("i", "u") or pd.api.types.is_integer_dtype(values.dtype)):
        return pa.array(values, type=type_, from_pandas=True)
    if pa.types.is_boolean(type_) and (kind == "b" or pd.api.types.is_bool_dtype(values.dtype)):
        return pa.array(values, type=type_, from_pandas=True)
    return None


def arrow_column(values: pd.Series, type_: pa.DataType) -> pa.Array:
    """``values`` as an Arrow array of ``type_``: the values of :func:`python_values`, through Arrow when the
    column's dtype allows it (text, numbers, booleans), value by value otherwise (lists, dates, mixed)."""
    fast = _fast(values, type_)
    return fast if fast is not None else pa.array(python_values(values, type_), type=type_)
