"""A buffered stream of seeded uniforms for the many small scalar decisions of the generator.

A call to a numpy Generator for one number costs about a microsecond; the generator takes millions of small
decisions for 100,000 persons. :class:`Draws` takes uniforms from the Generator 64 Ki at a time and serves
them one by one, so the stream stays fully determined by the seed and costs a fraction of that.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import TypeVar

import numpy as np

T = TypeVar("T")


class Draws:
    """Seeded scalar decisions: uniforms, coin flips, integers, picks, weighted picks."""

    def __init__(self, rng: np.random.Generator, block: int = 1 << 16):
        self._rng = rng
        self._block = block
        self._buf: list[float] = []
        self._i = 0
        self._cum: dict[int, tuple[list[float], float]] = {}

    def u(self) -> float:
        """A uniform in [0, 1)."""
        i = self._i
        if i >= len(self._buf):
            self._buf = self._rng.random(self._block).tolist()
            i = 0
        self._i = i + 1
        return self._buf[i]

    def hit(self, p: float) -> bool:
        """True with probability ``p`` (draws nothing when ``p`` ≤ 0)."""
        if p <= 0:
            return False
        i = self._i  # u(), inlined: the generator's most frequent call
        if i >= len(self._buf):
            self._buf = self._rng.random(self._block).tolist()
            i = 0
        self._i = i + 1
        return self._buf[i] < p

    def integer(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi)."""
        return lo + int(self.u() * (hi - lo))

    def pick(self, seq: Sequence[T]) -> T:
        """One element of ``seq``, uniformly."""
        return seq[int(self.u() * len(seq))]

    def two(self, seq: Sequence[T]) -> tuple[T, T]:
        """Two different elements of ``seq`` (by position), uniformly."""
        n = len(seq)
        a = int(self.u() * n)
        b = int(self.u() * (n - 1))
        return seq[a], seq[b + 1 if b >= a else b]

    def weighted(self, table: Sequence[tuple[T, float]]) -> T:
        """A value of ``table`` ((value, weight) pairs) with probability proportional to its weight."""
        key = id(table)
        if key not in self._cum:
            cum = list(accumulate(w for _, w in table))
            self._cum[key] = (cum, cum[-1])
        cum, total = self._cum[key]
        return table[min(bisect_right(cum, self.u() * total), len(table) - 1)][0]
