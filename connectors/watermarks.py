"""The watermark of a database feed: where the next pull starts, and which rows it has already.

State (``state/watermarks/<feed>.json``, written atomically after the extract is staged):

- ``value``: the largest watermark value staged so far;
- ``window``: every row staged with a watermark value in the **overlap window** ``[value - overlap_seconds,
  value]`` (a date-time watermark; for a date or a number the window is the value itself), as a hash of the
  row's whole content (record id included) and its watermark value;
- ``ids_at_value``: the record ids at ``value`` (for people reading the file; a state written before the
  window existed is still read through it).

The next pull asks for ``watermark >= value - overlap_seconds`` and drops the rows whose content hash is in
the window. So

- a row **committed late** (its transaction began before the last pull, with an earlier ``updated_at``, and
  committed after) is pulled, if its value is at most ``overlap_seconds`` older than the last pull's newest;
- a row **updated again within the same second** as the watermark (MariaDB ``DATETIME`` has whole seconds) has
  new content, so a new hash: it is pulled; an unchanged row re-read in the window is dropped, so nothing is
  staged twice.

Limits: a transaction open longer than ``overlap_seconds`` (or a clock skew larger than it between the writers
and the database) still loses its rows; a row changed and changed back within the window to content staged in
it is not pulled again (its content is the one staged); a number or date watermark has no overlap (a sequence
is assigned at insert, so a long transaction can still commit a smaller number late). The window grows with
the rows changed in ``overlap_seconds`` (a bulk update giving one timestamp to a million rows keeps a million
hashes, ~40 MB, until newer changes pass it).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.cells import cell_text
from connectors.feeds import Zones
from warehouse.files import atomic_write_text

log = logging.getLogger(__name__)


def _encode(value: Any) -> dict:
    if isinstance(value, dt.datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, bool):
        return {"type": "bool", "value": value}
    if isinstance(value, int):
        return {"type": "int", "value": value}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    if isinstance(value, Decimal):
        return {"type": "decimal", "value": str(value)}
    return {"type": "str", "value": str(value)}


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "decimal": Decimal,
    "int": int,
    "float": float,
    "bool": bool,
}


def _decode(obj: dict) -> Any:
    return _DECODERS.get(obj["type"], str)(obj["value"])


@dataclass
class Since:
    """Where a pull starts: the last value staged, the ids at it, and the hashes of the rows in the window."""

    value: Any
    ids_at_value: set[str] = field(default_factory=set)
    #: row content hash → its watermark value; None for a state written before the window existed
    window: dict[str, Any] | None = None

    def lower_bound(self, overlap_seconds: int) -> Any:
        """The smallest watermark value the next pull asks for (no overlap for a state without a window: it
        could not tell the rows it has in it)."""
        if self.window is not None and isinstance(self.value, dt.datetime) and overlap_seconds > 0:
            return self.value - dt.timedelta(seconds=overlap_seconds)
        return self.value


def row_hashes(table: pa.Table) -> np.ndarray:
    """A 64-bit hash of each row's whole content (every column as text, so a column typed differently by
    another pull hashes the same), as 16 hex digits. Vectorised (pandas' keyed, process-independent hash)."""
    if table.num_rows == 0:
        return np.array([], dtype=object)
    cols = {}
    for i, col in enumerate(table.columns):
        if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
            cols[i] = col.to_pandas()
        else:
            cols[i] = pc.cast(col, pa.string()).to_pandas()
    hashed = pd.util.hash_pandas_object(pd.DataFrame(cols), index=False).to_numpy(dtype=np.uint64)
    return np.char.mod("%016x", hashed).astype(object)


def new_rows(table: pa.Table, since: Since | None, watermark: str, record_id: str) -> np.ndarray:
    """Which rows of a pulled batch the feed does not have yet (a boolean mask)."""
    if since is None or table.num_rows == 0:
        return np.ones(table.num_rows, dtype=bool)
    if since.window is not None:
        keep = ~np.isin(row_hashes(table), list(since.window))
    else:  # a state from before the window: the ids at the value were taken
        at_value = np.asarray(
            pc.fill_null(pc.equal(table[watermark], pa.scalar(since.value)), False).to_numpy(
                zero_copy_only=False
            ),
            dtype=bool,
        )
        ids = np.array([cell_text(v) for v in table[record_id].to_pylist()], dtype=object)
        keep = ~(at_value & np.isin(ids, list(since.ids_at_value)))
    return np.asarray(keep, dtype=bool)


class WatermarkStore:
    """The per-feed watermark, written atomically (:func:`warehouse.files.atomic_write_text`)."""

    def __init__(self, ws: Zones, feed: str) -> None:
        self.path = ws.watermarks / f"{feed}.json"

    def load(self, column: str) -> Since | None:
        """Where the next pull starts, or None for a first (full) pull."""
        if not self.path.exists():
            return None
        state = json.loads(self.path.read_text(encoding="utf-8"))
        if state.get("column") != column:
            log.warning(
                "watermark column changed from %s to %s: pulling everything again",
                state.get("column"),
                column,
            )
            return None
        window = state.get("window")
        return Since(
            _decode(state["value"]),
            set(state.get("ids_at_value", [])),
            None if window is None else {h: _decode(v) for h, v in window.items()},
        )

    def save(self, column: str, since: Since, sha256: str) -> None:
        state = {
            "column": column,
            "value": _encode(since.value),
            "ids_at_value": sorted(since.ids_at_value),
            "window": {h: _encode(v) for h, v in sorted((since.window or {}).items())},
            "extract_sha256": sha256,
            "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        atomic_write_text(self.path, json.dumps(state, ensure_ascii=False, indent=1))

    def read(self) -> dict | None:
        return json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else None


def advanced(
    previous: Since | None, extract: pa.Table, watermark: str, record_id: str, overlap_seconds: int
) -> Since | None:
    """The state after staging ``extract`` (its rows at or above the previous lower bound; only the columns
    are needed, the rows may be all of them): the newest value, and the window's rows from it and before."""
    col = extract[watermark]
    top = pc.max(col)
    if not top.is_valid:
        return None
    value = top.as_py()
    if previous is not None and previous.value is not None and previous.value > value:
        value = previous.value  # an extract of late rows only: the watermark does not go back
    window: dict[str, Any] = {}
    since = Since(value, window=window)
    floor = since.lower_bound(overlap_seconds)
    in_window = pc.fill_null(pc.greater_equal(col, pa.scalar(floor, col.type)), False)
    rows = extract.filter(in_window)
    for h, v in zip(row_hashes(rows), rows[watermark].to_pylist(), strict=True):
        window[h] = v
    if previous is not None and previous.window:
        window.update({h: v for h, v in previous.window.items() if v >= floor})
    at_top = pc.fill_null(pc.equal(col, pa.scalar(value, col.type)), False)
    since.ids_at_value = {t for v in extract[record_id].filter(at_top).to_pylist() if (t := cell_text(v))}
    if previous is not None and previous.value == value:
        since.ids_at_value |= previous.ids_at_value
    return since


__all__ = ["Since", "WatermarkStore", "advanced", "new_rows", "row_hashes"]
