"""Check characters of resident IDs and credit codes, vectorised over Arrow arrays (校验码).

The check-character algorithms are those of :mod:`warehouse.checkchars` (GB 11643 / GB 32100, one place for
the algorithm, written over byte matrices); this module only turns whole Arrow columns into an ``(n, 18)``
byte matrix without copying values into Python, as the warehouse validation and the privacy scrubber need:
one numpy matrix product per column, no Python loop per value.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.checkchars import (
    CREDIT_VALUE,
    credit_code_check_chars,
    resident_id_check_chars,
)
from warehouse.schema import CREDIT_CODE_PATTERN, RESIDENT_ID_PATTERN


def _as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.string())
    return values


def _byte_matrix(values: pa.Array, usable: np.ndarray, width: int) -> np.ndarray:
    """``(n, width)`` uint8 matrix of the values; rows not ``usable`` (wrong length) are filled with ``'0'``."""
    filled = pc.if_else(pa.array(usable, pa.bool_()), pc.fill_null(values, "0" * width), "0" * width)
    binary = filled.cast(pa.large_binary())
    n = len(binary)
    if n == 0:
        return np.zeros((0, width), dtype=np.uint8)
    offsets = np.frombuffer(binary.buffers()[1], dtype=np.int64)[binary.offset : binary.offset + n + 1]
    data = np.frombuffer(binary.buffers()[2], dtype=np.uint8)
    return data[offsets[0] : offsets[-1]].reshape(n, width)


def _result(ok: np.ndarray, values: pa.Array) -> pa.BooleanArray:
    return pa.array(ok, pa.bool_(), mask=values.is_null().to_numpy(zero_copy_only=False))


def resident_id_valid(values: pa.Array | pa.ChunkedArray) -> pa.BooleanArray:
    """True where a value is an 18-character resident ID (GB 11643) whose check character is right.

    Null stays null (absent is not invalid). Upper-case ``X`` only, as the canonical tables store it.
    """
    arr = _as_array(values)
    fmt = pc.fill_null(pc.match_substring_regex(arr, RESIDENT_ID_PATTERN), False).to_numpy(
        zero_copy_only=False
    )
    m = _byte_matrix(arr, fmt, 18)
    return _result(fmt & (resident_id_check_chars(m) == m[:, 17]), arr)


def credit_code_valid(values: pa.Array | pa.ChunkedArray) -> pa.BooleanArray:
    """True where a value is an 18-character unified social credit code (GB 32100) with the right check char."""
    arr = _as_array(values)
    fmt = pc.fill_null(pc.match_substring_regex(arr, CREDIT_CODE_PATTERN), False).to_numpy(
        zero_copy_only=False
    )
    m = _byte_matrix(arr, fmt, 18)
    vals = np.where(fmt[:, None], CREDIT_VALUE[m], 0)
    return _result(fmt & (credit_code_check_chars(vals) == m[:, 17]), arr)
