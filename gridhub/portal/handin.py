"""The upload route: receive the file, check it as its feed would read it, land it if usable, report, audit.

Every outcome is one audit record and one page (Chinese first, then English): refused before the rows are
looked at (no sign-in, CSRF, a feed the department may not use, no file, too large, not a CSV or xlsx by
content), identical content the feed already has ("already received on <date> (<name>)", nothing landed),
rejected as a whole file (the report names the real problem), or accepted — possibly with quarantined rows,
listed by reason and line, and with suspicious names noted (:mod:`gridhub.portal.suspicious`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from connectors.errors import ConnectorError
from connectors.preview import FilePreview, preview_file
from connectors.text import safe_file_name
from gridhub.config import Feed
from gridhub.landing import DuplicateContent, LandingError, land_file, refuse_known_content
from gridhub.portal.audit import append_audit
from gridhub.portal.auth import csrf_ok
from gridhub.portal.site import PortalSite
from gridhub.portal.suspicious import SuspiciousNames
from gridhub.portal.uploads import UploadRejected, format_size, receive_upload, sniff_upload
from warehouse.reasons import REASON_TEXT, describe

log = logging.getLogger(__name__)

DETAIL_ROWS = 200
LINES_SHOWN = 40
RESULT_TEXT = {
    "accepted": "已接收 / accepted",
    "accepted_with_quarantine": "已接收（部分行隔离） / accepted, some rows quarantined",
    "rejected": "未接收（文件问题） / not accepted (file problem)",
    "refused": "已拒绝 / refused",
    "duplicate": "内容相同，未重复接收 / identical content, not taken again",
}
SIGN_IN_FIRST = "请先登录。 / Please sign in first."


def upload_routes(site: PortalSite) -> APIRouter:
    """``POST /upload``: one file for one of the signed-in department's feeds."""
    router = APIRouter()

    @router.post("/upload")
    async def upload(request: Request) -> Response:
        session, dept = site.signed_in(request)
        if dept is None:
            return site.render(request, "login.html", session, status=401, entered="", error=SIGN_IN_FIRST)
        return await _receive_and_check(_Attempt(site, request, session, dept, site.client(request)))

    return router


@dataclass
class _Attempt:
    """One signed-in upload request: who sent it, and what the audit log and the pages need to say."""

    site: PortalSite
    request: Request
    session: dict
    dept: str
    client: str

    def refuse(
        self,
        message: str,
        code: str,
        status: int,
        feed: str = "",
        name: str = "",
        size: int = 0,
        sha: str = "",
    ) -> Response:
        """Audit a refusal made before the file was checked, and say why."""
        append_audit(
            self.site.ws,
            "upload",
            department=self.dept,
            feed=feed,
            original_name=name,
            size=size,
            sha256=sha,
            result="refused",
            reason=code,
            message=message,
            client_ip=self.client,
        )
        return self.message(message, status)

    def message(self, message: str, status: int) -> Response:
        return self.site.render(self.request, "message.html", self.session, status=status, message=message)


async def _receive_and_check(attempt: _Attempt) -> Response:
    """Stream the form in, refuse what cannot be checked, then check and land the file in a worker thread."""
    max_bytes = attempt.site.settings().max_upload_bytes
    try:
        got = await receive_upload(attempt.request, attempt.site.ws.portal_uploads, max_bytes)
    except UploadRejected as e:
        return attempt.refuse(e.message, e.code, e.status)
    try:
        shown = safe_file_name(got.client_name or "")
        feed_name = got.fields.get("feed", "")[:64]
        if not csrf_ok(attempt.session, got.fields.get("csrf")):
            return attempt.refuse(
                "页面已过期或请求来源不明，请刷新上传页面后重试。 / The page has expired or the request's "
                "origin is unknown: reload the upload page and try again.",
                "csrf",
                403,
                feed_name,
                shown,
            )
        allowed = {f.name: f for f in attempt.site.config().portal_feeds(attempt.dept)}
        if feed_name not in allowed:
            # the same words whether the feed exists or belongs to another department
            return attempt.refuse(
                "没有这个数据源，或本部门无权向它上传。 / No such feed, or your department may not upload to it.",
                "feed_not_allowed",
                403,
                feed_name,
                shown,
            )
        if got.client_name is None:
            return attempt.refuse(
                "请选择要上传的文件。 / Choose a file to upload.", "no_file", 400, feed_name
            )
        if got.too_large:
            return attempt.refuse(
                f"文件过大：{format_size(got.size)}，单个文件不能超过 "
                f"{format_size(max_bytes)}。请拆分后分批上传。 / The file is too large ({format_size(got.size)}): "
                f"at most {format_size(max_bytes)} per file; split it and upload the parts.",
                "too_large",
                413,
                feed_name,
                shown,
                got.size,
            )
        assert got.path is not None  # a file was received and kept (it is not too large)
        handin = _Handin(attempt, allowed[feed_name], got.path, shown, got.size, got.sha256)
        return await run_in_threadpool(_check_and_land, handin)
    finally:
        got.discard()


@dataclass
class _Handin:
    """A received file for one feed, on its way to being checked and landed."""

    attempt: _Attempt
    feed: Feed
    path: Path
    shown: str
    size: int
    sha: str

    def audit(self, result: str, **fields: object) -> None:
        a = self.attempt
        append_audit(
            a.site.ws,
            "upload",
            department=a.dept,
            feed=self.feed.name,
            original_name=self.shown,
            size=self.size,
            sha256=self.sha,
            client_ip=a.client,
            result=result,
            **fields,
        )

    def report(self, ctx: dict[str, Any], status: int = 200) -> Response:
        a = self.attempt
        return a.site.render(a.request, "report.html", a.session, status=status, **ctx)


def _check_and_land(h: _Handin) -> Response:
    """Type the file by content, dry-run the feed's parse, land it if the file as a whole is usable, audit."""
    ws = h.attempt.site.ws
    try:
        kind = sniff_upload(h.path)
    except UploadRejected as e:
        h.audit("refused", reason=e.code, message=e.message)
        return h.attempt.message(e.message, e.status)
    try:
        refuse_known_content(ws, h.feed.name, h.sha)
    except DuplicateContent as e:
        return _duplicate(h, e, kind)
    # the landed name's extension follows the content, not what the clerk's file was called
    stem = h.shown.rsplit(".", 1)[0] if "." in h.shown else h.shown
    land_name = f"{stem or 'upload'}.{kind}"
    names = SuspiciousNames()
    try:
        preview = preview_file(
            ws, h.feed.name, h.path, original_name=land_name, detail_limit=DETAIL_ROWS * 5, staged=names
        )
    except ConnectorError as e:
        h.audit("refused", reason="connector_error", message=str(e))
        return h.attempt.message(f"无法检查该文件 / the file cannot be checked：{e}", 400)
    ctx = _report_context(h, preview)
    if preview.problem is not None:
        zh, en = preview.problem.headline or REASON_TEXT[preview.problem.code]
        ctx["error"] = f"{zh} / {en}"
        ctx["error_detail"] = preview.problem.detail or None
        h.audit("rejected", reason=str(preview.problem.code), message=preview.problem.message, kind=kind)
        return h.report(ctx, 422)
    try:
        landed = land_file(ws, h.feed.name, h.path, land_name, shown_name=h.shown)
    except DuplicateContent as e:  # the same content arrived from elsewhere while this one was checked
        return _duplicate(h, e, kind)
    except LandingError as e:
        ctx["error"] = "该数据源不接收这种文件。 / This feed does not take this kind of file."
        ctx["error_detail"] = str(e)
        h.audit("rejected", reason="landing_refused", message=str(e), kind=kind)
        return h.report(ctx, 422)
    return _accepted(h, preview, ctx, kind, landed, names)


def _duplicate(h: _Handin, e: DuplicateContent, kind: str) -> Response:
    """Content the feed already has: said, with when and under which name; nothing is landed."""
    ctx = _report_context(h, None)
    ctx["duplicate"] = str(e)
    h.audit(
        "duplicate",
        reason="duplicate_content",
        message=str(e),
        kind=kind,
        first_received_at=e.received_at,
        first_name=e.original_name,
    )
    return h.report(ctx)


def _report_context(h: _Handin, preview: FilePreview | None) -> dict[str, Any]:
    """What report.html shows before the outcome is known (the outcome fills in the rest)."""
    return {
        "feed_label": f"{h.feed.description or h.feed.name}（{h.feed.name}）",
        "original_name": h.shown,
        "size_text": format_size(h.size),
        "sha256": h.sha,
        "r": preview.result if preview is not None else None,
        "reasons": [],
        "details": [],
        "warnings": list(preview.result.warnings) if preview is not None else [],
        "suspicious": [],
        "duplicate": None,
        "stored_as": None,
        "error": None,
        "error_detail": None,
        "accepted": False,
        "truncated": False,
    }


def _accepted(
    h: _Handin, preview: FilePreview, ctx: dict[str, Any], kind: str, landed: Path, names: SuspiciousNames
) -> Response:
    """The report of a landed file, with its quarantined rows by reason and line, and suspicious names."""
    r = preview.result
    reasons, details = _reason_rows(preview)
    ctx.update(
        issues=_issue_rows(preview),
        reasons=reasons,
        details=details,
        stored_as=landed.name,
        accepted=True,
        truncated=preview.quarantine_entries > len(details),
        warnings=ctx["warnings"] + names.warnings(),
        suspicious=names.rows(),
    )
    result = "accepted_with_quarantine" if r.rows_quarantined else "accepted"
    h.audit(
        result,
        kind=kind,
        stored_as=landed.name,
        rows_read=r.rows_read,
        rows_accepted=r.rows_staged,
        rows_quarantined=r.rows_quarantined,
        reasons=dict(sorted(r.reasons.items())),
        field_issues=dict(sorted(r.field_issues.items())),
        suspicious_names=dict(sorted(names.counts.items())),
    )
    log.info(
        "portal: %s uploaded %s to %s as %s (%s)", h.attempt.dept, h.shown, h.feed.name, landed.name, result
    )
    return h.report(ctx)


def _reason_rows(preview: FilePreview) -> tuple[list[dict], list[dict]]:
    """(per-reason rows with counts and line lists, per-row details) for the report page."""
    lines = preview.lines_by_reason()
    reasons = []
    for code, count in sorted(preview.result.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
        shown = lines.get(code, [])
        text = "、".join(str(n) for n in shown[:LINES_SHOWN])
        if len(shown) > LINES_SHOWN or preview.detail_truncated:
            text += " 等"
        reasons.append({"code": code, "text": _reason_text(code), "count": count, "lines": text})
    details = []
    rows = preview.quarantine.slice(0, DETAIL_ROWS).to_pylist()
    for row in sorted(rows, key=lambda r: r["line"]):
        value = row.get("original_text") or ""
        details.append(
            {
                "line": row["line"],
                "column": row.get("column") or "（整行）",
                "reason": _reason_text(row["reason_code"]),
                "value": value if len(value) <= 80 else value[:79] + "…",
            }
        )
    return reasons, details


def _issue_rows(preview: FilePreview) -> list[dict]:
    """Per-reason rows for the values staging nulled or noted (the records themselves are accepted)."""
    lines = preview.issue_lines_by_reason()
    rows = []
    for code, count in sorted(preview.result.field_issues.items(), key=lambda kv: (-kv[1], kv[0])):
        shown = lines.get(code, [])
        text = "、".join(str(n) for n in shown[:LINES_SHOWN]) + (" 等" if len(shown) > LINES_SHOWN else "")
        rows.append({"code": code, "text": _reason_text(code), "count": count, "lines": text})
    return rows


def _reason_text(code: str) -> str:
    try:
        return f"{describe(code)} / {describe(code, 'en')}"
    except (KeyError, ValueError):
        return code


__all__ = ["DETAIL_ROWS", "RESULT_TEXT", "upload_routes"]
