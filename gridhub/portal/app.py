"""The department upload portal (数据上报门户): a small FastAPI app, served beside Airflow or inside it.

A clerk signs in with the department's credentials (``portal:`` in ``gridhub.yaml``), sees only the feeds
its department may hand in, uploads a CSV or xlsx file and at once gets a report in Chinese: rows accepted,
rows quarantined by reason with line numbers, or the whole-file problem in plain words. An accepted file is
landed with :func:`gridhub.landing.land_file` (atomic, generated name, ``_READY`` flag → the feed's DAG). Every
upload and sign-in attempt goes to the audit log (:mod:`gridhub.portal.audit`).

Airflow does not authenticate plugin routes: everything here checks its own signed session. Paths are
relative to the app's ``root_path``, so the same app works at ``/`` (``gridhub portal``) and mounted at
``/gridhub-portal`` in the Airflow API server (``plugins/gridhub_portal.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from connectors.errors import ConnectorError
from connectors.preview import FilePreview, preview_file
from gridhub.config import ConfigError, Feed, WorkspaceConfig
from gridhub.landing import LandingError, land_file, safe_original_name
from gridhub.portal.audit import append_audit, recent_uploads
from gridhub.portal.auth import Sessions, SignInThrottle, check_sign_in, csrf_ok, session_secret
from gridhub.portal.uploads import UploadRejected, format_size, receive_upload, sniff_upload
from gridhub.workspace import Workspace
from warehouse.reasons import describe

log = logging.getLogger(__name__)

COOKIE = "gridhub_portal"
TMP_DIR = "portal_tmp"
DETAIL_ROWS = 200
LINES_SHOWN = 40
_TEMPLATES = Path(__file__).with_name("templates")
RESULT_TEXT = {
    "accepted": "已接收",
    "accepted_with_quarantine": "已接收（部分行隔离）",
    "rejected": "未接收（文件问题）",
    "refused": "已拒绝",
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class PortalConfigError(ConfigError):
    """The workspace has no ``portal:`` section (or it is unusable): the portal cannot start."""


@dataclass
class _Portal:
    """What the request handlers share: the workspace, the config (re-read when the file changes), helpers."""

    ws_root: Path
    sessions: Sessions
    throttle: SignInThrottle
    env: Environment
    _cfg: WorkspaceConfig
    _mtime: float

    @property
    def ws(self) -> Workspace:
        return Workspace(self.ws_root)

    def config(self) -> WorkspaceConfig:
        """The workspace config; reloaded when ``gridhub.yaml`` changes (new departments, new passwords)."""
        path = self.ws_root / "gridhub.yaml"
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return self._cfg
        if mtime != self._mtime:
            try:
                cfg = Workspace(self.ws_root).config
            except ConfigError as e:
                log.error(
                    "portal: gridhub.yaml changed but does not load; keeping the previous config: %s", e
                )
                self._mtime = mtime
                return self._cfg
            if cfg.portal is not None:
                self._cfg, self._mtime = cfg, mtime
        return self._cfg

    def render(
        self, request: Request, template: str, session: dict, status: int = 200, **ctx
    ) -> HTMLResponse:
        cfg = self.config()
        html = self.env.get_template(template).render(
            base=_base(request),
            csrf=session["csrf"],
            department=session.get("dept"),
            workspace_name=cfg.name,
            **ctx,
        )
        resp = HTMLResponse(html, status_code=status)
        self.set_cookie(request, resp, session)
        return resp

    def set_cookie(self, request: Request, resp: Response, session: dict) -> None:
        cfg = self.config()
        resp.set_cookie(
            COOKIE,
            self.sessions.dump(session),
            max_age=self.sessions.max_age,
            path=_base(request) or "/",
            httponly=True,
            samesite="strict",
            secure=bool(cfg.portal and cfg.portal.secure_cookies),
        )


def _base(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _feed_label(feed: Feed) -> str:
    return f"{feed.description or feed.name}（{feed.name}）"


def create_app(workspace_root: str | Path) -> FastAPI:
    """The portal app for the workspace at ``workspace_root``; raises :class:`PortalConfigError` if the
    workspace's ``gridhub.yaml`` has no ``portal:`` section (see docs/portal.md)."""
    ws = Workspace(Path(workspace_root))
    cfg = ws.config
    if cfg.portal is None:
        raise PortalConfigError(
            f"{ws.root / 'gridhub.yaml'} has no 'portal:' section: add departments and "
            f"password hashes (`gridhub portal-passwd`), see docs/portal.md"
        )
    portal = _Portal(
        ws_root=ws.root,
        sessions=Sessions(
            session_secret(cfg.portal.session_secret_env), int(cfg.portal.session_hours * 3600)
        ),
        throttle=SignInThrottle(),
        env=Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html"])),
        _cfg=cfg,
        _mtime=(ws.root / "gridhub.yaml").stat().st_mtime,
    )
    app = FastAPI(title="gridhub 数据上报门户", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = portal

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for k, v in _SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    def session_of(request: Request) -> dict:
        return portal.sessions.load(request.cookies.get(COOKIE)) or Sessions.new()

    def signed_in(request: Request) -> tuple[dict, str | None]:
        s = session_of(request)
        dept = s.get("dept")
        cfg = portal.config()
        if dept and cfg.portal is not None and dept in cfg.portal.departments:
            return s, dept
        return (Sessions.new() if dept else s), None

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        session, dept = signed_in(request)
        if dept is None:
            return portal.render(request, "login.html", session, entered="", error=None)
        cfg = portal.config()
        return portal.render(
            request,
            "home.html",
            session,
            feeds=cfg.portal_feeds(dept),
            max_size=format_size(cfg.portal.max_upload_bytes),
            recent=recent_uploads(portal.ws, dept),
            result_text=RESULT_TEXT,
        )

    @app.get("/login")
    def login_page(request: Request) -> Response:
        return RedirectResponse(_base(request) + "/", status_code=303)

    @app.post("/login")
    async def login(request: Request) -> Response:
        session = session_of(request)
        form = await request.form(max_files=0, max_fields=8, max_part_size=4096)
        entered = str(form.get("department", ""))[:64].strip()
        password = str(form.get("password", ""))[:256]
        client = _client(request)
        if not csrf_ok(session, str(form.get("csrf", ""))):
            return portal.render(
                request,
                "login.html",
                Sessions.new(),
                status=400,
                entered=entered,
                error="页面已过期，请重新登录。",
            )
        if portal.throttle.blocked(client):
            append_audit(
                portal.ws, "sign_in", department=entered, ok=False, reason="throttled", client_ip=client
            )
            return portal.render(
                request,
                "login.html",
                session,
                status=429,
                entered=entered,
                error="登录失败次数过多，请5分钟后再试。",
            )
        cfg = portal.config()
        hashes = {k: v.password_hash for k, v in cfg.portal.departments.items()}
        ok = await run_in_threadpool(check_sign_in, hashes, entered, password)
        append_audit(portal.ws, "sign_in", department=entered, ok=ok, client_ip=client)
        if not ok:
            portal.throttle.failed(client)
            return portal.render(
                request, "login.html", session, status=401, entered=entered, error="部门或密码不正确。"
            )
        portal.throttle.succeeded(client)
        resp = RedirectResponse(_base(request) + "/", status_code=303)
        portal.set_cookie(request, resp, Sessions.new(entered))
        return resp

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        session = session_of(request)
        form = await request.form(max_files=0, max_fields=4, max_part_size=1024)
        if not csrf_ok(session, str(form.get("csrf", ""))):
            return portal.render(
                request, "message.html", session, status=400, message="页面已过期，请刷新后重试。"
            )
        resp = RedirectResponse(_base(request) + "/", status_code=303)
        resp.delete_cookie(COOKIE, path=_base(request) or "/")
        return resp

    @app.post("/upload")
    async def upload(request: Request) -> Response:
        session, dept = signed_in(request)
        if dept is None:
            return portal.render(request, "login.html", session, status=401, entered="", error="请先登录。")
        cfg = portal.config()
        client = _client(request)
        tmp_dir = portal.ws.state / TMP_DIR

        def refuse(
            message: str, code: str, status: int, feed: str = "", name: str = "", size: int = 0, sha: str = ""
        ) -> Response:
            append_audit(
                portal.ws,
                "upload",
                department=dept,
                feed=feed,
                original_name=name,
                size=size,
                sha256=sha,
                result="refused",
                reason=code,
                message=message,
                client_ip=client,
            )
            return portal.render(request, "message.html", session, status=status, message=message)

        try:
            got = await receive_upload(request, tmp_dir, cfg.portal.max_upload_bytes)
        except UploadRejected as e:
            return refuse(e.message, e.code, e.status)
        try:
            shown = safe_original_name(got.client_name or "")
            feed_name = got.fields.get("feed", "")[:64]
            if not csrf_ok(session, got.fields.get("csrf")):
                return refuse(
                    "页面已过期或请求来源不明，请刷新上传页面后重试。", "csrf", 403, feed_name, shown
                )
            allowed = {f.name: f for f in cfg.portal_feeds(dept)}
            if feed_name not in allowed:
                # the same words whether the feed exists or belongs to another department
                return refuse(
                    "没有这个数据源，或本部门无权向它上传。", "feed_not_allowed", 403, feed_name, shown
                )
            if got.client_name is None:
                return refuse("请选择要上传的文件。", "no_file", 400, feed_name)
            if got.too_large:
                return refuse(
                    f"文件过大：{format_size(got.size)}，单个文件不能超过 "
                    f"{format_size(cfg.portal.max_upload_bytes)}。请拆分后分批上传。",
                    "too_large",
                    413,
                    feed_name,
                    shown,
                    got.size,
                )
            return await run_in_threadpool(
                _check_and_land,
                portal,
                request,
                session,
                dept,
                allowed[feed_name],
                got.path,
                shown,
                got.size,
                got.sha256,
                client,
            )
        finally:
            got.discard()

    return app


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


def _reason_text(code: str) -> str:
    try:
        return describe(code)
    except (KeyError, ValueError):
        return code


def _check_and_land(
    portal: _Portal,
    request: Request,
    session: dict,
    dept: str,
    feed: Feed,
    path: Path,
    shown: str,
    size: int,
    sha: str,
    client: str,
) -> Response:
    """Type the file by content, dry-run the feed's parse, land it if the file as a whole is usable, audit."""
    ws = portal.ws
    ctx = {
        "feed_label": _feed_label(feed),
        "original_name": shown,
        "size_text": format_size(size),
        "sha256": sha,
        "r": None,
        "reasons": [],
        "details": [],
        "warnings": [],
        "stored_as": None,
        "error": None,
        "error_detail": None,
        "accepted": False,
        "truncated": False,
    }
    audit = {
        "department": dept,
        "feed": feed.name,
        "original_name": shown,
        "size": size,
        "sha256": sha,
        "client_ip": client,
    }
    try:
        kind = sniff_upload(path)
    except UploadRejected as e:
        append_audit(ws, "upload", **audit, result="refused", reason=e.code, message=e.message)
        return portal.render(request, "message.html", session, status=e.status, message=e.message)
    # the landed name's extension follows the content, not what the clerk's file was called
    stem = shown.rsplit(".", 1)[0] if "." in shown else shown
    land_name = f"{stem or 'upload'}.{kind}"
    try:
        preview = preview_file(ws, feed.name, path, original_name=land_name, detail_limit=DETAIL_ROWS * 5)
    except ConnectorError as e:
        append_audit(ws, "upload", **audit, result="refused", reason="connector_error", message=str(e))
        return portal.render(request, "message.html", session, status=400, message=f"无法检查该文件：{e}")
    r = preview.result
    ctx["r"] = r
    ctx["warnings"] = list(r.warnings)
    if preview.problem is not None:
        ctx["error"] = describe(preview.problem.code)
        ctx["error_detail"] = preview.problem.detail or None
        append_audit(
            ws,
            "upload",
            **audit,
            result="rejected",
            reason=str(preview.problem.code),
            message=preview.problem.message,
            kind=kind,
        )
        return portal.render(request, "report.html", session, status=422, **ctx)
    try:
        landed = land_file(ws, feed.name, path, land_name)
    except LandingError as e:
        ctx["error"] = "该数据源不接收这种文件。"
        ctx["error_detail"] = str(e)
        append_audit(
            ws, "upload", **audit, result="rejected", reason="landing_refused", message=str(e), kind=kind
        )
        return portal.render(request, "report.html", session, status=422, **ctx)
    reasons, details = _reason_rows(preview)
    ctx.update(
        reasons=reasons,
        details=details,
        stored_as=landed.name,
        accepted=True,
        truncated=preview.quarantine_entries > len(details),
    )
    result = "accepted_with_quarantine" if r.rows_quarantined else "accepted"
    append_audit(
        ws,
        "upload",
        **audit,
        result=result,
        kind=kind,
        stored_as=landed.name,
        rows_read=r.rows_read,
        rows_accepted=r.rows_staged,
        rows_quarantined=r.rows_quarantined,
        reasons=dict(sorted(r.reasons.items())),
    )
    log.info("portal: %s uploaded %s to %s as %s (%s)", dept, shown, feed.name, landed.name, result)
    return portal.render(request, "report.html", session, **ctx)


__all__ = ["COOKIE", "PortalConfigError", "create_app"]
