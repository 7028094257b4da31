"""Which exceptions are a user's to fix (printed as one sentence) rather than a bug (traceback).

Every error gridhub raises on purpose derives from :class:`warehouse.errors.GridhubError`; those a person fixes
derive from :class:`warehouse.errors.UserError`. Both are re-exported here for the application.
"""

from __future__ import annotations

from warehouse.errors import GridhubError, UserError


def is_user_error(exc: BaseException) -> bool:
    """True for the errors whose message already tells a person what is wrong and what to do.

    A missing file named on the command line is one too, though the operating system raised it.
    """
    return isinstance(exc, UserError | FileNotFoundError)


__all__ = ["GridhubError", "UserError", "is_user_error"]
