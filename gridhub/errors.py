"""Which exceptions are a user's to fix (printed as one sentence) rather than a bug (traceback).

Every error gridhub raises on purpose derives from :class:`warehouse.errors.GridhubError`; those a person fixes
derive from :class:`warehouse.errors.UserError` (``ConfigError``, ``PortalConfigError``, ``LandingError``,
``PipelineError``, ``PublishBlocked``, ``NoSnapshot``, ...).
"""

from __future__ import annotations

from warehouse.errors import UserError

#: The errors whose message already tells a person what is wrong and what to do. A missing file named on
#: the command line is one too, though the operating system raised it.
USER_ERRORS: tuple[type[BaseException], ...] = (UserError, FileNotFoundError)

__all__ = ["USER_ERRORS"]
