"""Which exceptions are a user's to fix (printed as one sentence) rather than a bug (traceback)."""

from __future__ import annotations


def is_user_error(exc: BaseException) -> bool:
    """True for the typed errors whose message already tells a person what is wrong and what to do."""
    from gridhub.config import ConfigError
    from gridhub.pipeline import PipelineError

    user_types: list[type[BaseException]] = [ConfigError, PipelineError, FileNotFoundError]
    try:
        from connectors import FeedFileError

        user_types.append(FeedFileError)
    except ImportError:  # connectors not importable: nothing of theirs to recognise
        pass
    try:
        from warehouse import PublishBlocked

        user_types.append(PublishBlocked)
    except ImportError:
        pass
    return isinstance(exc, tuple(user_types))
