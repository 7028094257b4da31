"""Record ids already met in one file: the memory behind ``duplicate_record_id`` (:mod:`connectors.rules`)."""

from __future__ import annotations

import numpy as np
import pandas as pd


class SeenIds:
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
