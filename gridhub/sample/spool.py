"""Bounded-memory stores for writing a sample district of millions of persons.

The feeds of a large district do not fit in memory as Python objects (a dict per person, a list per row,
a tuple per truth row: about 10 KB per resident). These stores keep what the generator needs small:

- :class:`RowSource`: the rows of a frame (kept in Arrow) as plain dicts, materialised a block at a time;
- :class:`AddressBook`: random access to standard addresses by code, one shared tuple per address;
- :class:`RowFile`: a feed's rows rendered to a spool file as they are made, with random read-back;
- :class:`SpillList`: an append-only list of truth tuples that spills to a spool file in blocks.

None of them changes a value or an order: the files written are byte-for-byte what the in-memory generator
wrote for the same seed.
"""

from __future__ import annotations

import csv
import ctypes
import io
import shutil
from array import array
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa

#: Rows materialised at a time by :meth:`RowSource.blocks` and truth tuples kept before spilling.
BLOCK = 32_768


def frame_rows(frame: pd.DataFrame) -> list[dict]:
    """The rows of ``frame`` as plain dicts of Python values (much faster than ``to_dict`` on Arrow strings)."""
    columns = list(frame.columns)
    return [
        dict(zip(columns, values, strict=True))
        for values in zip(*(frame[c].tolist() for c in columns), strict=True)
    ]


def group_lists(keys: Sequence | np.ndarray | pd.Series, values: pd.Series) -> dict:
    """``values`` grouped by ``keys`` as lists in row order, by key (missing keys left out): what
    ``values.groupby(keys).agg(list).to_dict()`` gives, without a Python call per group."""
    codes, uniques = pd.factorize(pd.Series(np.asarray(keys, dtype=object)))
    lists: list[list] = [[] for _ in range(len(uniques))]
    for code, value in zip(codes.tolist(), values.tolist(), strict=True):
        if code >= 0:
            lists[code].append(value)
    return dict(zip(uniques.tolist(), lists, strict=True))


def release_memory() -> None:
    """Hand memory freed by the last step back to the system (glibc's and Arrow's allocators keep it)."""
    try:
        pa.default_memory_pool().release_unused()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


class RowSource:
    """The rows of a frame as dicts, made when asked for (a block of rows at a time), never all at once."""

    def __init__(self, frame: pd.DataFrame, columns: Sequence[str] | None = None):
        self.frame = frame if columns is None else frame[list(columns)]  # only the columns asked for

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, pos: int) -> dict:
        return self.rows([pos])[0]

    def rows(self, positions: Sequence[int] | np.ndarray) -> list[dict]:
        """The rows at ``positions`` (in that order)."""
        return frame_rows(self.frame.take(np.asarray(positions, dtype=np.int64)))

    def blocks(self, order: np.ndarray, size: int = BLOCK) -> Iterator[list[dict]]:
        """The rows at the positions ``order``, a block of ``size`` rows at a time."""
        for start in range(0, len(order), size):
            yield self.rows(order[start : start + size])


def take_rows(items: Sequence[dict] | RowSource, order: np.ndarray) -> Iterator[list[dict]]:
    """The items at the positions ``order``, in blocks: from a :class:`RowSource` or a list of dicts."""
    if isinstance(items, RowSource):
        yield from items.blocks(order)
    else:
        yield [items[int(i)] for i in order]


class AddressBook:
    """Standard addresses by code, as dicts of ``columns``: one tuple per address whose values are shared
    (each distinct value one Python object), turned into a dict when looked up."""

    def __init__(self, addresses: pd.DataFrame, columns: Sequence[str]):
        self.columns = tuple(columns)
        values = []
        for c in self.columns:
            codes, uniques = pd.factorize(addresses[c])
            values.append(np.asarray(uniques.tolist() + [None], dtype=object)[codes])
        self._rows = list(zip(*values, strict=True))
        self._at = dict(zip(addresses["address_code"].tolist(), range(len(addresses)), strict=True))

    def __getitem__(self, code: str) -> dict:
        return dict(zip(self.columns, self._rows[self._at[code]]))  # noqa: B905 - same length by construction


class _Counted:
    """A binary file whose :meth:`write` encodes text and remembers where each write ended."""

    def __init__(self, raw: IO[bytes], encoding: str, ends: array):
        self.raw, self.encoding, self.ends = raw, encoding, ends
        self.pos = 0

    def write(self, text: str) -> int:
        data = text.encode(self.encoding)
        self.raw.write(data)
        self.pos += len(data)
        self.ends.append(self.pos)
        return len(data)


class RowFile:
    """A feed's rows in order, rendered as CSV lines into a spool file as they are appended.

    ``rows[i]`` reads row ``i`` back; ``rows[i] = row`` replaces it (kept aside and written in its place by
    :meth:`copy_to`). The spool file is created at the first row, so an unused one costs nothing."""

    def __init__(self, path: Path | None, encoding: str, newline: str):
        self.path, self.encoding, self.newline = path, encoding, newline
        self._ends = array("q")
        self._raw: IO[bytes] | None = None
        self._writer: Any = None
        self._replaced: dict[int, list[str]] = {}

    def __len__(self) -> int:
        return len(self._ends)

    def _file(self) -> Path:
        if self.path is None:
            raise ValueError("a scratch feed output keeps no rows")
        return self.path

    def append(self, row: list[str]) -> None:
        if self._writer is None:
            path = self._file()
            path.parent.mkdir(parents=True, exist_ok=True)
            self._raw = open(path, "wb")  # noqa: SIM115 - closed by close()
            counted = _Counted(self._raw, self.encoding, self._ends)
            self._writer = csv.writer(counted, lineterminator=self.newline)
        self._writer.writerow(row)

    def __getitem__(self, pos: int) -> list[str]:
        if pos in self._replaced:
            return list(self._replaced[pos])
        if self._raw is not None:
            self._raw.flush()
        start, end = self._offset(pos), self._offset(pos + 1)
        with open(self._file(), "rb") as f:
            f.seek(start)
            text = f.read(end - start).decode(self.encoding)
        return next(csv.reader(io.StringIO(text, newline="")))

    def __setitem__(self, pos: int, row: list[str]) -> None:
        self._replaced[pos] = list(row)

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def copy_range(
        self, target: IO[bytes], start: int, stop: int, write_row: Callable[[list[str]], None]
    ) -> None:
        """Copy rows ``start .. stop-1`` to ``target``; a replaced row goes through ``write_row`` instead."""
        if stop <= start:
            return
        self.close()
        with open(self._file(), "rb") as f:
            pos = start
            for cut in [*sorted(p for p in self._replaced if start <= p < stop), stop]:
                _copy_bytes(f, target, self._offset(pos), self._offset(cut))
                if cut < stop:
                    write_row(self._replaced[cut])
                    pos = cut + 1

    def _offset(self, pos: int) -> int:
        """Byte offset where row ``pos`` starts (``len`` for the end)."""
        return self._ends[pos - 1] if pos else 0


def _copy_bytes(src: IO[bytes], dst: IO[bytes], start: int, end: int, chunk: int = 1 << 22) -> None:
    src.seek(start)
    left = end - start
    while left > 0:
        data = src.read(min(chunk, left))
        if not data:
            raise OSError(f"spool file ended {left} bytes early")
        dst.write(data)
        left -= len(data)


class SpillList:
    """An append-only list of tuples of strings that keeps at most :data:`BLOCK` in memory and writes the
    rest, in blocks, to a CSV spool file, each row led by ``prefix``; iterating gives them back in order, and
    :meth:`copy_to` writes them all, prefixed, as CSV lines (the spool file as it is)."""

    def __init__(self, path: Path | None, prefix: tuple[str, ...] = ()):
        self.path, self.prefix = path, prefix
        self._items: list[tuple] = []
        self._spilled = 0

    def append(self, item: tuple) -> None:
        self._items.append(item)
        if self.path is not None and len(self._items) >= BLOCK:
            self._spill(self.path)

    def _rows(self, items: list[tuple]) -> Iterator[tuple]:
        return ((*self.prefix, *item) for item in items)

    def _spill(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(self._rows(self._items))
        self._spilled += len(self._items)
        self._items = []

    def __len__(self) -> int:
        return self._spilled + len(self._items)

    def __iter__(self) -> Iterator[tuple]:
        if self._spilled and self.path is not None:
            with open(self.path, encoding="utf-8", newline="") as f:
                yield from (tuple(row[len(self.prefix) :]) for row in csv.reader(f))
        yield from list(self._items)

    def spill(self) -> None:
        """Move the items kept in memory to the spool file (a list without one keeps them)."""
        if self.path is not None and self._items:
            self._spill(self.path)

    def copy_to(self, target: IO[bytes]) -> None:
        """Write every item, prefixed, to ``target`` as UTF-8 CSV lines (``\\n``)."""
        if self._spilled and self.path is not None:
            with open(self.path, "rb") as f:
                shutil.copyfileobj(f, target, 1 << 22)
        if self._items:
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows(self._rows(self._items))
            target.write(text.getvalue().encode("utf-8"))

    def keep(self, wanted: Callable[[tuple], bool]) -> None:
        """Drop the items for which ``wanted`` is false (rewrites the spool file)."""
        items = [item for item in self if wanted(item)]
        if self._spilled and self.path is not None:
            self.path.unlink()
        self._items, self._spilled = [], 0
        for item in items:
            self.append(item)
