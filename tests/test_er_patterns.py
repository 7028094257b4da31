"""Training's level patterns (matching.er.scoring._patterns) are hashed, not sorted, since issue #19: the same
patterns in the same order with the same counts as ``np.unique`` gave, so EM sums in the same order and the
model is the same to the last bit."""

from __future__ import annotations

import numpy as np
import pytest

from matching.er.scoring import _patterns


def _by_sorting(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    shifted = levels.astype(np.int64) + 1
    radix = shifted.max(axis=0) + 1
    code = np.zeros(len(levels), dtype=np.int64)
    for k in range(levels.shape[1]):
        code = code * radix[k] + shifted[:, k]
    _, first, counts = np.unique(code, return_index=True, return_counts=True)
    return levels[first], counts.astype(np.float64)


@pytest.mark.parametrize("n", [1, 7, 50_000])
def test_patterns_same_as_sorting(n):
    rng = np.random.default_rng(n)
    levels = rng.integers(-1, 5, size=(n, 6)).astype(np.int8)
    levels[:, 1] = -1  # a comparison never present
    levels[: n // 2, 3] = rng.integers(-1, 1, n // 2)
    got, want = _patterns(levels), _by_sorting(levels)
    assert got[0].dtype == want[0].dtype and got[0].shape == want[0].shape
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
