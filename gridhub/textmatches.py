"""Every distinct address text of a run and its match, held compactly for ``bind_addresses``'s lookups.

:class:`TextMatches` holds the matches as one Arrow table (no Python string per text) and finds a text by the
64-bit hash of its string (sorted hashes, 16 bytes a text), each hit checked against the text itself: it used
to index the texts with a pandas index of Python strings, some 150 bytes a text beside the table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

TEXT = "address_text"


def _match_schema() -> pa.Schema:
    from matching.address import RESULT_COLUMNS

    fields = [pa.field(c, pa.float64() if c == "score" else pa.string()) for c in RESULT_COLUMNS]
    return pa.schema([pa.field(TEXT, pa.string()), *fields])


def _as_pandas(table: pa.Table) -> pd.DataFrame:
    """Match results as :func:`~matching.address.match_addresses` types them: ``string``, score ``Float64``."""
    types = {pa.string(): pd.StringDtype(), pa.float64(): pd.Float64Dtype()}
    return table.to_pandas(types_mapper=types.get)


class TextMatches:
    """Text → match for a set of distinct texts held as one Arrow table (compact), looked up by the 64-bit
    hashes of the texts (sorted, 16 bytes a text; no Python string per text), each hit checked against its
    text."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        texts = table.column(TEXT)
        hashes = np.concatenate(
            [_hashes(c) for c in texts.chunks] if texts.num_chunks else [np.empty(0, np.uint64)]
        )
        self._order = np.argsort(hashes, kind="stable")
        self._hashes = hashes[self._order]

    @classmethod
    def read(cls, path: Path) -> TextMatches:
        return cls(pq.read_table(path, schema=_match_schema()))

    def _positions(self, values: pd.Index) -> np.ndarray:
        """Row of each of ``values`` in the table, −1 when it has none."""
        if not len(values) or not len(self._hashes):
            return np.full(len(values), -1, dtype=np.intp)
        wanted = _hashes(pa.array(values.to_numpy(dtype=object), type=pa.string()))
        at = np.minimum(np.searchsorted(self._hashes, wanted), len(self._hashes) - 1)
        pos = np.where(self._hashes[at] == wanted, self._order[at], -1)
        found = pos >= 0
        texts = self.table.column(TEXT).take(pa.array(pos[found]))
        same = pc.equal(texts, pa.array(values.to_numpy(dtype=object)[found], type=pa.string()))
        if not pc.all(same).as_py():  # two texts with one hash: those looked up by their text
            wrong = np.flatnonzero(found)[~same.to_numpy(zero_copy_only=False)]
            value_set = self.table.column(TEXT)
            exact = pc.index_in(pa.array(values.to_numpy(dtype=object)[wrong]), value_set=value_set)
            pos[wrong] = exact.fill_null(-1).to_numpy()
        return pos

    def rows(self, texts: pd.Series | pd.Index) -> tuple[pd.Series, pd.DataFrame]:
        """Which of ``texts`` (distinct) are held (aligned to them), and their matches indexed by text."""
        values = pd.Index(texts, dtype=object)
        pos = self._positions(values)
        found = pos >= 0
        frame = _as_pandas(self.table.take(pos[found]).drop_columns([TEXT]))
        frame.index = values[found]
        return pd.Series(found), frame


def _hashes(texts: pa.Array) -> np.ndarray:
    """64-bit hashes of the texts (pandas' SipHash of each string), a block of them at a time."""
    out = [np.empty(0, np.uint64)]
    for start in range(0, len(texts), 100_000):
        block = texts.slice(start, 100_000).to_numpy(zero_copy_only=False)
        out.append(pd.util.hash_array(block.astype(object), categorize=False))
    return np.concatenate(out)


__all__ = ["TEXT", "TextMatches"]
