"""The live progress bars of the ``gridhub`` command (rich), for :mod:`warehouse.progress`.

:func:`install` is called once by the command line: on a terminal it shows every task as a bar with its counts,
elapsed time and ETA, and routes log records through the same console (so a warning prints above the bars
instead of through them); anywhere else (a pipe, a file, CI) the tasks stay plain INFO log lines.
"""

from __future__ import annotations

import logging
from typing import IO

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from warehouse.progress import Task, set_display


class RichDisplay:
    """Every running task as one bar; the bars stay on screen (finished ones show their final counts)."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self._ids: dict[int, TaskID] = {}

    def start(self, task: Task) -> None:
        if not self._ids:
            self._progress.start()
        self._ids[id(task)] = self._progress.add_task(
            task.description, total=task.total, completed=int(task.done), counts=task.counts_text()
        )

    def update(self, task: Task) -> None:
        self._progress.update(
            self._ids[id(task)],
            description=task.description,
            total=task.total,
            completed=task.done,
            counts=task.counts_text(),
        )

    def stop(self, task: Task) -> None:
        self.update(task)
        self._progress.stop_task(self._ids.pop(id(task)))
        if not self._ids:
            self._progress.stop()


def install(stream: IO[str], level: int) -> None:
    """Set up logging at ``level`` and the progress display for a command writing to ``stream`` (stderr)."""
    if stream.isatty():
        console = Console(file=stream)
        handler: logging.Handler = RichHandler(console=console, show_time=False, show_path=False)
        set_display(RichDisplay(console))
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        logging.getLogger("warehouse.progress").setLevel(logging.INFO)  # shown even without -v
        set_display(None)
    logging.basicConfig(level=level, handlers=[handler])  # no-op where logging is set up already (tests)
