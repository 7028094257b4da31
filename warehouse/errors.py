"""The root of every exception gridhub raises.

- :class:`GridhubError`: anything gridhub raises on purpose. Catch it to tell gridhub's own errors from bugs.
- :class:`UserError`: a problem a person fixes (a config key, a reference file, a department's file, a step run
  out of order). Its message already says what is wrong and what to do, so the command line and the DAG tasks
  show it as it is, without a traceback.

The classes live in the lowest package (``warehouse``) so that every layer, connectors and matching included,
can derive from them without importing the application. Each concrete error keeps the built-in base it always
had (``ValueError``, ``FileNotFoundError``...), so ``except ValueError`` in a caller's code still works.
"""

from __future__ import annotations


class GridhubError(Exception):
    """Raised by gridhub on purpose (a bug raises anything else)."""


class UserError(GridhubError):
    """A problem for a person to fix; the message is shown without a traceback."""


__all__ = ["GridhubError", "UserError"]
