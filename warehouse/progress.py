"""Progress of long work (进度): counts, elapsed time and ETA, for a person watching a terminal or a task log.

The libraries (connectors, matching, warehouse) report here and never draw anything themselves::

    with progress("ingest gongan_population: 户籍.csv", total=size, unit="bytes") as task:
        for batch in batches:
            task.update(done=position, rows=len(batch))  # counts add up: rows=+len(batch)

Where it goes is the application's choice (:func:`set_display`). By default (:class:`LogDisplay`) each task
logs INFO lines on the ``warehouse.progress`` logger: when it starts, every ``interval`` seconds while it runs
(how far, the counts, elapsed time, ETA) and when it ends; that is what an Airflow task log or a redirected
terminal shows. ``gridhub``'s command line installs a live bar (rich) instead when stderr is a terminal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)

#: Seconds between two progress lines of one running task in the log.
DEFAULT_INTERVAL = 10.0

Clock = Callable[[], float]


def _scale(task_total: float | None, unit: str) -> tuple[float, str]:
    """Bytes are shown in kB or MB, whichever suits the task's total; other units as counted."""
    if unit != "bytes":
        return 1, unit
    return (1_000_000, "MB") if (task_total or 0) >= 1_000_000 else (1_000, "kB")


def _amount(value: float, scale: float) -> str:
    return f"{value / scale:,.1f}" if scale > 1 else f"{value:,.0f}"


def seconds_text(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


@dataclass
class Task:
    """One piece of long work: how much of ``total`` (in ``unit``) is ``done``, plus named counts (rows...)."""

    description: str
    total: float | None = None
    unit: str = ""
    done: float = 0
    counts: dict[str, int] = field(default_factory=dict)
    clock: Clock = time.monotonic
    started: float = 0.0
    display: Display | None = field(default=None, repr=False)
    #: False once the work stopped on an error (the ``with`` block raised).
    ok: bool = True

    def update(self, *, done: float | None = None, advance: float = 0, **counts: int) -> None:
        """Set how far the work is (``done``) or move it on (``advance``); ``counts`` are added to the task's
        own (``rows=1000`` adds a thousand rows)."""
        if done is not None:
            self.done = done
        self.done += advance
        for name, n in counts.items():
            self.counts[name] = self.counts.get(name, 0) + int(n)
        if self.display is not None:
            self.display.update(self)

    @property
    def elapsed(self) -> float:
        return max(0.0, self.clock() - self.started)

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)

    def eta(self) -> float | None:
        """Seconds left at the pace so far; None before there is a pace or without a total."""
        fraction = self.fraction
        if fraction is None or fraction <= 0:
            return None
        return self.elapsed * (1 - fraction) / fraction

    def counts_text(self) -> str:
        """``12.3/27.1 MB · 150,000 rows`` (what is done, of what total, and the counts)."""
        parts = []
        scale, unit = _scale(self.total, self.unit)
        if self.total:
            parts.append(f"{_amount(self.done, scale)}/{_amount(self.total, scale)} {unit}")
        elif self.done:
            parts.append(f"{_amount(self.done, scale)} {unit}")
        parts += [f"{n:,} {name}" for name, n in self.counts.items()]
        return " · ".join(p.strip() for p in parts)

    def status(self) -> str:
        """One readable line: percent, counts, elapsed time and ETA."""
        parts = []
        if (fraction := self.fraction) is not None:
            parts.append(f"{fraction:.0%}")
        if counts := self.counts_text():
            parts.append(counts)
        parts.append(f"{seconds_text(self.elapsed)} elapsed")
        if (eta := self.eta()) is not None:
            parts.append(f"ETA {seconds_text(eta)}")
        return ", ".join(parts)


class Display(Protocol):
    """Where tasks are shown: told when a task starts, moves and ends."""

    def start(self, task: Task) -> None: ...

    def update(self, task: Task) -> None: ...

    def stop(self, task: Task) -> None: ...


class LogDisplay:
    """Progress as INFO log lines: a task's start, a line every ``interval`` seconds while it moves, its end."""

    def __init__(self, interval: float = DEFAULT_INTERVAL, logger: logging.Logger = log) -> None:
        self.interval = interval
        self.logger = logger
        self._last: dict[int, float] = {}

    def start(self, task: Task) -> None:
        self._last[id(task)] = task.clock()
        scale, unit = _scale(task.total, task.unit)
        total = f" ({_amount(task.total, scale)} {unit})".replace(" )", ")") if task.total else ""
        self.logger.info("%s: started%s", task.description, total)

    def update(self, task: Task) -> None:
        now = task.clock()
        if now - self._last.get(id(task), task.started) >= self.interval:
            self._last[id(task)] = now
            self.logger.info("%s: %s", task.description, task.status())

    def stop(self, task: Task) -> None:
        self._last.pop(id(task), None)
        counts = task.counts_text()
        self.logger.info(
            "%s: %s %s%s",
            task.description,
            "done in" if task.ok else "stopped on an error after",
            seconds_text(task.elapsed),
            f" ({counts})" if counts else "",
        )


_display: Display = LogDisplay()


def set_display(display: Display | None) -> Display:
    """Show every task from now on in ``display`` (None: log lines again); returns the previous display."""
    global _display
    previous, _display = _display, display if display is not None else LogDisplay()
    return previous


def current_display() -> Display:
    return _display


@contextmanager
def progress(
    description: str, total: float | None = None, unit: str = "", clock: Clock = time.monotonic
) -> Iterator[Task]:
    """A task shown while the ``with`` block runs (see the module doc); ended also when the block raises."""
    display = _display
    task = Task(description, total=total, unit=unit, clock=clock, started=clock(), display=display)
    display.start(task)
    try:
        yield task
    except BaseException:
        task.ok = False
        raise
    finally:
        display.stop(task)


class Progress:
    """A step that works partition by partition (a feed, a chunk of distinct address texts, a table, a 街道/镇
    folder): one task of the current display, started here and ended after the last partition. Its total is
    the rows the step will read when given (a better ETA when partitions differ in size), else the partitions;
    its counts are the partitions done and the rows written."""

    def __init__(
        self, step: str, total: int, *, total_rows: int | None = None, clock: Clock | None = None
    ) -> None:
        self.total, self.done, self.by_rows = total, 0, bool(total_rows)
        self.display = _display
        unit = "rows" if total_rows else "partitions"
        clock = clock or time.monotonic
        self.task = Task(
            step, total=total_rows or total, unit=unit, clock=clock, started=clock(), display=self.display
        )
        self.display.start(self.task)
        if total <= 0:
            self.display.stop(self.task)

    def advance(self, partition: str, rows_in: int, rows_out: int) -> None:
        """One partition done (``partition`` names it; it shows in the task's line): count it."""
        self.done += 1
        self.task.description = f"{self.task.description.split(' [', 1)[0]} [{partition}]"
        self.task.update(advance=rows_in if self.by_rows else 1, partitions=1, rows_out=rows_out)
        if self.done == self.total:
            self.display.stop(self.task)


__all__ = [
    "DEFAULT_INTERVAL",
    "Display",
    "LogDisplay",
    "Progress",
    "Task",
    "current_display",
    "progress",
    "set_display",
]
