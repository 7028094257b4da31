"""Typed errors of the connectors, worded for the person who has to act on them.

A department clerk reads :class:`FeedFileError` (Chinese first, English second); an engineer reads
:class:`SourceError` (a database feed that cannot be reached or queried). Both are user errors: the CLI prints
their message, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

from warehouse.errors import UserError
from warehouse.reasons import REASON_TEXT, ReasonCode


class ConnectorError(UserError):
    """Base of every error the connectors raise on purpose."""


@dataclass(frozen=True)
class FileProblem:
    """One whole-file problem: which file (the department's own name for it), which reason code, the detail
    (e.g. the missing columns), and, when the generic text of the code would mislead, a ``headline`` (Chinese,
    English) that says the real problem ("these columns belong to another feed ...")."""

    feed: str
    file_name: str
    code: ReasonCode
    detail: str = ""
    sha256: str | None = None
    headline: tuple[str, str] | None = None

    @property
    def message(self) -> str:
        zh, en = self.headline or REASON_TEXT[self.code]
        detail = f" ({self.detail})" if self.detail else ""
        kept = (
            " 文件已保存在原始区，未导入任何数据 / the file is kept in raw; nothing of it was staged."
            if self.sha256
            else " 未导入任何数据 / nothing was staged."
        )
        return (
            f"数据源 {self.feed}，文件 {self.file_name}：{zh}{detail}。"
            f" / feed '{self.feed}', file '{self.file_name}': {en}{detail}." + kept
        )


class FileRejected(ConnectorError):
    """Raised inside a reader when a whole file cannot be taken; turned into a :class:`FileProblem`.

    ``headline`` (Chinese, English) replaces the code's generic text when that would not say the real problem;
    ``header`` is the file's header as read, when known (the feed-mismatch check compares it with the other
    feeds' columns, :func:`connectors.file_feed.explain_rejection`).
    """

    def __init__(
        self,
        code: ReasonCode,
        detail: str = "",
        *,
        headline: tuple[str, str] | None = None,
        header: list[str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.headline = headline
        self.header = header


class FeedFileError(ConnectorError):
    """One or more files of a feed run had a whole-file problem (empty, binary, wrong encoding, bad header...).

    Every such file is kept in the raw zone and recorded as ``failed`` in the raw manifest; other files of the
    same run were still processed. ``problems`` lists each file's problem; ``result`` is the run's
    :class:`connectors.results.IngestResult` (so a caller can still show what did get staged).
    """

    def __init__(self, problems: list[FileProblem], result: object | None = None) -> None:
        self.problems = list(problems)
        self.result = result
        super().__init__("\n".join(p.message for p in self.problems))

    @property
    def feed(self) -> str:
        return self.problems[0].feed if self.problems else ""


class SourceError(ConnectorError):
    """A database source cannot be reached or queried; the message names the feed and the (password-free) URL."""


class SourceUnavailable(SourceError):
    """The database did not answer (connection refused or lost, a lock wait timed out): it may pass, so the
    pipeline retries it; every other :class:`SourceError` (a bad URL, a missing table) is for a person to fix."""
