"""The department upload portal (数据上报门户): a small FastAPI app, served beside Airflow or inside it.

A clerk signs in with the department's credentials (``portal:`` in ``gridhub.yaml``), sees only the feeds
its department may hand in, uploads a CSV or xlsx file and at once gets a report in Chinese: rows accepted,
rows quarantined by reason with line numbers, or the whole-file problem in plain words. An accepted file is
landed with :func:`gridhub.landing.land_file` (atomic, generated name, ``_READY`` flag → the feed's DAG). Every
upload and sign-in attempt goes to the audit log (:mod:`gridhub.portal.audit`).

Airflow does not authenticate plugin routes: everything here checks its own signed session. Paths are
relative to the app's ``root_path``, so the same app works at ``/`` (``gridhub portal``) and mounted at
``/gridhub-portal`` in the Airflow API server (``plugins/gridhub_portal.py``).

The routes come in groups: the pages and sign-in here, the upload in :mod:`gridhub.portal.handin`, the
department's data return (数据回流) in :mod:`gridhub.portal.data_return`, the reviewers' queue (复核) in
:mod:`gridhub.portal.review`, blind labelling (盲标) in :mod:`gridhub.portal.labelling`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from gridhub.portal.audit import append_audit, recent_uploads
from gridhub.portal.auth import SignInThrottle, check_sign_in, csrf_ok, session_secret
from gridhub.portal.data_return import data_return_routes
from gridhub.portal.handin import RESULT_TEXT, upload_routes
from gridhub.portal.labelling import labelling_routes
from gridhub.portal.review import review_routes
from gridhub.portal.sessions import Sessions
from gridhub.portal.site import COOKIE, TEMPLATES, PortalConfigError, PortalSite, base_path
from gridhub.portal.uploads import format_size
from gridhub.workspace import Workspace

SESSION_STORE = "portal_sessions.sqlite"
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(workspace_root: str | Path) -> FastAPI:
    """The portal app for the workspace at ``workspace_root``; raises :class:`PortalConfigError` if the
    workspace's ``gridhub.yaml`` has no ``portal:`` section (see docs/portal.md)."""
    ws = Workspace(Path(workspace_root))
    cfg = ws.config
    if cfg.portal is None:
        raise PortalConfigError(
            f"{ws.config_file} has no 'portal:' section: add departments and "
            f"password hashes (`gridhub portal-passwd`), see docs/portal.md"
        )
    p = cfg.portal
    site = PortalSite(
        ws_root=ws.root,
        sessions=Sessions(
            session_secret(p.session_secret_env),
            ws.state / SESSION_STORE,
            max_age_seconds=int(p.session_hours * 3600),
            idle_seconds=p.session_idle_minutes * 60,
            password_fp=lambda dept: site.password_fp(dept),
        ),
        throttle=SignInThrottle(
            per_account=p.sign_in_failures_per_account,
            per_client=p.sign_in_failures_per_client,
            window=p.sign_in_window_minutes * 60,
        ),
        env=Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"])),
        _cfg=cfg,
        _mtime=ws.config_file.stat().st_mtime,
    )
    app = FastAPI(title="gridhub 数据上报门户", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = site
    app.middleware("http")(_security_headers)
    app.include_router(_page_routes(site))
    app.include_router(upload_routes(site))
    app.include_router(data_return_routes(site))
    app.include_router(review_routes(site))
    app.include_router(labelling_routes(site))
    return app


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for k, v in _SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    return response


EXPIRED_PAGE = "页面已过期，请刷新后重试。 / The page has expired: reload it and try again."
EXPIRED_SIGN_IN = "页面已过期，请重新登录。 / The page has expired: sign in again."


def _page_routes(site: PortalSite) -> APIRouter:
    """Health check, the home page (sign-in form or the department's feeds) and signing in and out."""
    router = APIRouter()

    @router.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        session, dept = site.signed_in(request)
        if dept is None:
            return site.render(request, "login.html", session, entered="", error=None)
        if site.reviewer(dept) is not None:
            return RedirectResponse(base_path(request) + "/review", status_code=303)
        return site.render(
            request,
            "home.html",
            session,
            feeds=site.config().portal_feeds(dept),
            max_size=format_size(site.settings().max_upload_bytes),
            recent=recent_uploads(site.ws, dept),
            result_text=RESULT_TEXT,
        )

    @router.get("/login")
    def login_page(request: Request) -> Response:
        return RedirectResponse(base_path(request) + "/", status_code=303)

    @router.post("/login")
    async def login(request: Request) -> Response:
        return await _sign_in(site, request)

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        session = site.session_of(request)
        form = await request.form(max_files=0, max_fields=4, max_part_size=1024)
        if not csrf_ok(session, str(form.get("csrf", ""))):
            return site.render(request, "message.html", session, status=400, message=EXPIRED_PAGE)
        site.sessions.end(session)  # the server forgets it: a copy of the cookie is worth nothing now
        if session.get("dept"):
            append_audit(site.ws, "sign_out", department=session["dept"], client_ip=site.client(request))
        resp = RedirectResponse(base_path(request) + "/", status_code=303)
        resp.delete_cookie(COOKIE, path=base_path(request) or "/")
        return resp

    return router


async def _sign_in(site: PortalSite, request: Request) -> Response:
    """Check the posted department and password (CSRF, throttle, audit) and start a signed-in session."""
    session = site.session_of(request)
    form = await request.form(max_files=0, max_fields=8, max_part_size=4096)
    entered = str(form.get("department", ""))[:64].strip()
    password = str(form.get("password", ""))[:256]
    client = site.client(request)

    def again(session: dict, status: int, error: str) -> Response:
        return site.render(request, "login.html", session, status=status, entered=entered, error=error)

    if not csrf_ok(session, str(form.get("csrf", ""))):
        return again(Sessions.anonymous(), 400, EXPIRED_SIGN_IN)
    if site.throttle.blocked(entered, client):
        append_audit(site.ws, "sign_in", department=entered, ok=False, reason="throttled", client_ip=client)
        minutes = f"{site.settings().sign_in_window_minutes:g}"
        return again(
            session,
            429,
            f"登录失败次数过多，请{minutes}分钟后再试。 / Too many failed sign-ins: try again in {minutes} minutes.",
        )
    hashes = {k: v.password_hash for k, v in site.settings().departments.items()}
    hashes.update({k: v.password_hash for k, v in site.settings().reviewers.items()})
    ok = await run_in_threadpool(check_sign_in, hashes, entered, password)
    append_audit(site.ws, "sign_in", department=entered, ok=ok, client_ip=client)
    if not ok:
        site.throttle.failed(entered, client)
        return again(session, 401, "部门或密码不正确。 / Wrong department or password.")
    site.throttle.succeeded(entered, client)
    site.sessions.end(session)  # a session from before (another department's) ends with the new sign-in
    resp = RedirectResponse(base_path(request) + "/", status_code=303)
    site.set_cookie(request, resp, site.sessions.start(entered))
    return resp


__all__ = ["COOKIE", "PortalConfigError", "create_app"]
