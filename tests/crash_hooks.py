"""Kill a process at its N-th file-system call: the crash tests' injection (no sleeps, no timing).

:func:`arm` wraps the calls that change files — ``os.replace``, ``os.rename``, ``shutil.move``, ``os.mkdir``,
``os.fsync``, ``os.unlink``/``os.remove``, ``os.rmdir``, ``os.symlink``, ``os.ftruncate``, and ``open``
(builtins, ``io``, ``os.open``) in a writing mode (``os.mkdir`` only when the folder is not there yet: on an
existing one it changes nothing) — and counts the calls made while gridhub code is on the
stack, leaving out Great Expectations' own Data Docs writing (not part of publishing). At call ``kill_at`` the
process ends with ``os._exit(137)`` *before* the call runs, as a SIGKILL would. ``kill_at=0`` only counts.

A killed process loses nothing the kernel already has (its page cache survives), so ``fsync`` matters for power
cuts, not for kills: with ``flush=False`` a counted ``os.fsync`` does not wait for the disk, which makes the
hundreds of kill points fast. The kill points are the same either way.
"""

from __future__ import annotations

import builtins
import io
import os
import shutil
import sys

_OURS = ("/gridhub/", "/warehouse/", "/matching/", "/connectors/")
_FOREIGN = ("great_expectations", "/jinja2/")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class Counter:
    def __init__(self, kill_at: int, watch=None, at_each=None) -> None:
        self.kill_at = kill_at
        self.at_each = at_each
        self.calls = 0
        self.log: list[tuple[str, object]] = []  # (call, what ``watch()`` said just before it)
        self.watch = watch

    busy = False  # set while ``at_each`` runs: its own file-system calls are not the run's

    def hit(self, what: str) -> None:
        if self.busy:
            return
        frame = sys._getframe(2)
        ours = False
        while frame is not None:
            name = frame.f_code.co_filename
            if any(f in name for f in _FOREIGN):
                return
            if any(f in name for f in _OURS) and "/tests/" not in name:
                ours = True
            frame = frame.f_back
        if not ours:
            return
        self.calls += 1
        self.log.append((what, self.watch() if self.watch else None))
        if self.calls == self.kill_at:
            os._exit(137)
        if self.at_each is not None:
            self.busy = True
            try:
                self.at_each(self.calls)
            finally:
                self.busy = False


def arm(kill_at: int, watch=None, *, flush: bool = False, at_each=None) -> Counter:
    """Install the wrappers in this process (meant for a forked child); return the counter. ``watch`` (no
        arguments) is asked before each counted call; its answers go into ``Counter.log``. ``at_each(n)`` is called
    before the n-th counted call runs (its own file-system calls are not counted)."""
    c = Counter(kill_at, watch, at_each)

    def wrap(module, name, label=None, when=None):
        real = getattr(module, name)

        def hooked(*args, **kwargs):
            if when is None or when(*args, **kwargs):
                c.hit(label or name)
            return real(*args, **kwargs)

        setattr(module, name, hooked)

    def writes_mode(*args, **kwargs):
        mode = args[1] if len(args) > 1 else kwargs.get("mode", "r")
        return isinstance(mode, str) and any(ch in mode for ch in "wax+")

    def writes_flags(*args, **kwargs):
        flags = args[1] if len(args) > 1 else kwargs.get("flags", 0)
        return bool(flags & _WRITE_FLAGS)

    if not flush:
        os.fsync = lambda fd: None

    def creates(*args, **kwargs):  # Path.mkdir(exist_ok=True) on an existing folder changes nothing
        return not os.path.isdir(args[0] if args else kwargs["path"])

    for name in ("replace", "rename", "fsync", "unlink", "remove", "rmdir", "symlink", "ftruncate"):
        wrap(os, name)
    wrap(os, "mkdir", "mkdir", creates)
    wrap(shutil, "move")
    wrap(os, "open", "open-for-write", writes_flags)
    wrap(builtins, "open", "open-for-write", writes_mode)
    wrap(io, "open", "open-for-write", writes_mode)
    return c
