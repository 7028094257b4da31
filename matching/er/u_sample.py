"""The random record pairs u is estimated from (:func:`matching.er.scoring.estimate_u`): every pair when there
are few enough, else a seeded sample; under ``link_only`` only pairs of two sources."""

from __future__ import annotations

import numpy as np

from matching.er.settings import EntitySettings


def _total_pairs(n: int, source: np.ndarray | None) -> float:
    if source is None:
        return n * (n - 1) / 2
    counts = np.bincount(source)
    return float((counts.sum() ** 2 - (counts.astype(np.float64) ** 2).sum()) / 2)


def _every_pair(n: int, source: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i < j, row by row; of two sources when ``source`` is given) when there are few enough.

    Few pairs of two sources can hide among many records: 33,333 facilities of one feed have none, but all
    their pairs (555 million, 8.9 GB) were made before the sources were compared (issue #19). So a row's pairs
    are made a chunk of rows at a time and only those of two sources kept."""
    if source is None:
        return np.triu_indices(n, k=1)
    if len(np.unique(source)) < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    parts_i, parts_j = [], []
    step = max(1, 10_000_000 // max(n, 1))
    for lo in range(0, n - 1, step):
        rows = np.arange(lo, min(lo + step, n - 1))
        cnt = n - 1 - rows
        i = np.repeat(rows, cnt)
        j = i + 1 + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        keep = source[i] != source[j]
        parts_i.append(i[keep])
        parts_j.append(j[keep])
    if not parts_i:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(parts_i), np.concatenate(parts_j)


def _random_pairs(
    n: int, k: int, rng: np.random.Generator, source: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    total = _total_pairs(n, source)
    if total <= k:
        i, j = _every_pair(n, source)
    else:
        draw = int(k * 1.2) + 16
        i = rng.integers(0, n, size=draw)
        j = rng.integers(0, n, size=draw)
        keep = i != j
        i, j = i[keep], j[keep]
    if source is not None:
        keep = source[i] != source[j]
        i, j = i[keep], j[keep]
    return i[:k].astype(np.int64), j[:k].astype(np.int64)


def u_pairs(n: int, settings: EntitySettings, source: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The random record pairs u is estimated from (the same for the same records and settings)."""
    rng = np.random.default_rng(settings.seed)
    return _random_pairs(n, min(settings.u_sample_pairs, max(200_000, 50 * n)), rng, source)
