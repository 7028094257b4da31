"""The library's lookup indexes on integer codes: compact, built once, shared by forked matching processes.

Matching joins (text × candidate block) rows to the library on a block and the detail elements a text gives
(house number, building, unit, room, estate): :class:`Aggregate` finds the library's rows of each key (how many,
the first one, how many buildings and grids) and :class:`RowGroups` the first rows of a key's first buildings
(the review candidates). Both used to be pandas frames and MultiIndexes over the library's strings, built
lazily by each matching process for the key sets its texts needed (≈ 0.3 GB a process at 469,000 addresses).

Here a key is one ``int64`` per library row: each key column is coded (a block id as it is, a text column by
its distinct values, :class:`KeyCoder`) and the codes are combined in mixed radix; the groups are the sorted
distinct keys, looked up with ``searchsorted``. An index is a few numpy arrays (≈ 24 bytes a group), so
:meth:`~matching.address.library.AddressLibrary.prepare_lookups` builds every key set matching can ask for in
the parent process before it forks the matchers, which share them (numpy buffers hold no Python objects whose
reference counts would copy the pages). A lookup finds what the frames found: the same first row (library
order), counts and rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Codes combined above this are renumbered densely first (mixed radix stays inside int64).
_RADIX_LIMIT = 1 << 62


class KeyCoder:
    """Integer codes of the library's key columns: a block column (ints, −1 for none) as it is, shifted to
    start at 0; a text column by its distinct values (a value the library lacks codes to −1: no group)."""

    def __init__(self, addresses: pd.DataFrame) -> None:
        self._lib = addresses
        self._codes: dict[str, np.ndarray] = {}
        self._values: dict[str, pd.Index | None] = {}
        self._cards: dict[str, int] = {}

    def _column(self, col: str) -> np.ndarray:
        if col not in self._codes:
            values = self._lib[col]
            if pd.api.types.is_integer_dtype(values.dtype):
                codes = values.to_numpy(dtype=np.int64) + 1  # block ids: −1 (none) → 0
                self._values[col] = None
                self._cards[col] = int(codes.max(initial=0)) + 1
            else:
                codes, uniques = pd.factorize(values, use_na_sentinel=True)
                codes = codes.astype(np.int64)
                self._values[col] = pd.Index(uniques)
                self._cards[col] = len(uniques)
            self._codes[col] = codes
        return self._codes[col]

    def prepare(self) -> None:
        """Build the hash tables of the text columns coded so far (each is built on its first lookup)."""
        for uniques in self._values.values():
            if uniques is not None and len(uniques):
                uniques.get_indexer(uniques[:1])

    def library(self, col: str) -> tuple[np.ndarray, int]:
        """The library rows' codes of ``col`` and how many codes there are."""
        return self._column(col), self._cards[col]

    def query(self, col: str, values: pd.Series) -> np.ndarray:
        """Codes of ``values`` of ``col`` (−1: a value no library row has)."""
        self._column(col)
        uniques = self._values[col]
        if uniques is None:
            codes = values.to_numpy(dtype=np.int64) + 1
            return np.where((codes >= 0) & (codes < self._cards[col]), codes, -1)
        return uniques.get_indexer(pd.Index(values.to_numpy(dtype=object)))


@dataclass(frozen=True)
class _Stage:
    """Combined keys renumbered densely before column ``at`` (when the radix would leave int64)."""

    at: int
    distinct: np.ndarray


class KeyCodes:
    """Library rows' combined keys over the columns ``keys``, and the same combination for query values."""

    def __init__(self, coder: KeyCoder, keys: tuple[str, ...]) -> None:
        self.coder, self.keys = coder, keys
        stages: list[_Stage] = []
        combined = np.zeros(len(coder._lib), dtype=np.int64)
        top = 1
        for i, col in enumerate(keys):
            codes, card = coder.library(col)
            if top * max(card, 1) >= _RADIX_LIMIT:
                distinct = np.unique(combined)
                stages.append(_Stage(i, distinct))
                combined = np.searchsorted(distinct, combined).astype(np.int64)
                top = len(distinct)
            combined = combined * max(card, 1) + codes
            top *= max(card, 1)
        self.stages = tuple(stages)
        self._rows: np.ndarray | None = combined  # let go once the index is built (:meth:`take_rows`)

    def take_rows(self) -> np.ndarray:
        """The library rows' combined keys, handed over once (an index keeps only its groups)."""
        rows, self._rows = self._rows, None
        assert rows is not None, "the rows' keys were handed over already"
        return rows

    def query(self, values: pd.DataFrame) -> np.ndarray:
        """The combined key of each row of ``values`` (columns in key order), −1 when one of its values is
        not the library's."""
        combined = np.zeros(len(values), dtype=np.int64)
        missing = np.zeros(len(values), dtype=bool)
        stages = {s.at: s.distinct for s in self.stages}
        for i, col in enumerate(self.keys):
            if i in stages:
                distinct = stages[i]
                pos = np.minimum(np.searchsorted(distinct, combined), max(len(distinct) - 1, 0))
                missing |= distinct[pos] != combined if len(distinct) else True
                combined = pos.astype(np.int64)
            codes = self.coder.query(col, values.iloc[:, i])
            _, card = self.coder.library(col)
            missing |= codes < 0
            combined = combined * max(card, 1) + np.maximum(codes, 0)
        return np.where(missing, -1, combined)


def _find(sorted_keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Position of each of ``query`` in ``sorted_keys`` (distinct), −1 when absent (or −1 itself)."""
    if not len(sorted_keys):
        return np.full(len(query), -1, dtype=np.intp)
    pos = np.minimum(np.searchsorted(sorted_keys, query), len(sorted_keys) - 1)
    return np.where((sorted_keys[pos] == query) & (query >= 0), pos, -1).astype(np.intp)


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stable order of ``keys``, the distinct keys (sorted), and each row's group (position among them)."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    start = np.concatenate([[True], ordered[1:] != ordered[:-1]]) if len(ordered) else np.zeros(0, bool)
    group = np.empty(len(keys), dtype=np.int64)
    group[order] = np.cumsum(start) - 1
    return order, ordered[start], group


def _distinct_per_group(group: np.ndarray, codes: np.ndarray, groups: int) -> np.ndarray:
    """How many distinct ``codes`` each group has (a sort, not a hash: numpy's hashing ``unique`` is slower)."""
    card = int(codes.max(initial=0)) + 1
    pairs = np.sort(group * card + codes)
    distinct = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])] if len(pairs) else pairs
    return np.bincount(distinct // card, minlength=groups)


class Aggregate:
    """Library rows grouped by a key set: per group its row count, first row (library order), and how many
    distinct buildings and grids it holds."""

    def __init__(self, codes: KeyCodes, buildings: np.ndarray, grids: np.ndarray) -> None:
        order, self.keys, group = _runs(codes.take_rows())
        self.codes = codes
        starts = np.flatnonzero(np.concatenate([[True], np.diff(group[order]) != 0])) if len(order) else order
        self.first = order[starts].astype(np.int32)  # stable sort: the group's first row in library order
        self.n = np.bincount(group, minlength=len(self.keys)).astype(np.int32)
        self.n_building = _distinct_per_group(group, buildings, len(self.keys)).astype(np.int32)
        self.n_grid = _distinct_per_group(group, grids, len(self.keys)).astype(np.int32)

    def find(self, values: pd.DataFrame) -> np.ndarray:
        """Each row of ``values`` (columns in key order) → its group, −1 when no library row has its key."""
        if values.empty:
            return np.empty(0, dtype=np.intp)
        return _find(self.keys, self.codes.query(values))

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.keys, self.first, self.n, self.n_building, self.n_grid))


@dataclass(frozen=True)
class RowGroups:
    """Library rows grouped by a key: the distinct keys (sorted codes) and each key's rows
    (``rows[starts[k]:starts[k + 1]]``, library positions in library order)."""

    codes: KeyCodes
    keys: np.ndarray
    rows: np.ndarray
    starts: np.ndarray

    def find(self, values: pd.DataFrame) -> np.ndarray:
        """The key of each row of ``values`` (columns in key order) → its group, −1 when no library row has it."""
        if values.empty:
            return np.empty(0, dtype=np.intp)
        return _find(self.keys, self.codes.query(values))

    def expand(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each of ``groups`` (found ones), its rows: (position in ``groups`` of each row, library row)."""
        counts = self.starts[groups + 1] - self.starts[groups]
        total = int(counts.sum())
        owner = np.repeat(np.arange(len(groups)), counts)
        offset = np.repeat(self.starts[groups] - (np.cumsum(counts) - counts), counts)
        return owner, self.rows[offset + np.arange(total)]

    def nbytes(self) -> int:
        return self.keys.nbytes + self.rows.nbytes + self.starts.nbytes

    @classmethod
    def first_buildings(cls, codes: KeyCodes, buildings: np.ndarray, limit: int) -> RowGroups:
        """Per key, the first row of each of its first ``limit`` buildings, in library order."""
        _, keys, group = _runs(codes.take_rows())
        card = int(buildings.max(initial=0)) + 1
        pairs = group * card + buildings
        order = np.argsort(pairs, kind="stable")
        ordered = pairs[order]
        first = order[np.concatenate([[True], ordered[1:] != ordered[:-1]])] if len(order) else order
        first = np.sort(first)  # library order
        by_key = np.argsort(group[first], kind="stable")
        first = first[by_key]
        g = group[first]
        starts_all = np.concatenate([[0], np.cumsum(np.bincount(g, minlength=len(keys)))])
        rank = np.arange(len(first)) - starts_all[g]
        keep = rank < limit
        rows, g = first[keep], g[keep]
        starts = np.concatenate([[0], np.cumsum(np.bincount(g, minlength=len(keys)))])
        return cls(codes, keys, rows.astype(np.int32), starts.astype(np.int64))


__all__ = ["Aggregate", "KeyCoder", "KeyCodes", "RowGroups"]
