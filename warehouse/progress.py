"""Progress of a step that works partition by partition, as plain ``logging`` lines at INFO.

A step that processes its input in partitions (a feed, a chunk of distinct address texts, a table, a 街道/镇
folder) makes one :class:`Progress` and calls :meth:`Progress.advance` after each partition: one line with the
partitions done, the rows in and out so far and an estimate of the time left (from the rows done, else the
partitions done). Lines come at most every ``every`` seconds, plus the first and the last partition, so a
step of thousands of small partitions does not flood its log. Every line also carries the numbers as
``extra={"progress": {...}}`` (step, done, total, rows_in, rows_out, elapsed_s, eta_s) for a renderer that
draws a bar instead of reading the text.
"""

from __future__ import annotations

import logging
import time


class Progress:
    """Partitions done, rows in/out and ETA of one step, logged at INFO on ``log``.

    ``total`` is the number of partitions; ``total_rows`` (optional) the rows the step will read, which gives
    a better ETA when partitions differ in size.
    """

    def __init__(
        self,
        log: logging.Logger,
        step: str,
        total: int,
        *,
        total_rows: int | None = None,
        every: float = 5.0,
    ) -> None:
        self.log, self.step, self.total, self.total_rows, self.every = log, step, total, total_rows, every
        self.done = self.rows_in = self.rows_out = 0
        self.started = time.monotonic()
        self._last = -float("inf")

    def eta(self, elapsed: float) -> float | None:
        """Seconds left after ``elapsed`` seconds: by rows when their total is known, else by partitions."""
        if self.total_rows and self.rows_in:
            return elapsed * max(self.total_rows - self.rows_in, 0) / self.rows_in
        if self.done:
            return elapsed * max(self.total - self.done, 0) / self.done
        return None

    def advance(self, partition: str, rows_in: int, rows_out: int) -> None:
        """One partition done (``partition`` names it): count it and log a line when one is due."""
        self.done += 1
        self.rows_in += rows_in
        self.rows_out += rows_out
        now = time.monotonic()
        if self.done not in (1, self.total) and now - self._last < self.every:
            return
        self._last = now
        elapsed = now - self.started
        eta = self.eta(elapsed)
        numbers = {
            "step": self.step,
            "done": self.done,
            "total": self.total,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "elapsed_s": round(elapsed, 1),
            "eta_s": None if eta is None else round(eta, 1),
        }
        self.log.info(
            "%s: partition %d/%d (%s) done; rows in %s, out %s; %.0f s elapsed%s",
            self.step,
            self.done,
            self.total,
            partition,
            f"{self.rows_in:,}",
            f"{self.rows_out:,}",
            elapsed,
            "" if eta is None or self.done == self.total else f", about {eta:.0f} s left",
            extra={"progress": numbers},
        )
