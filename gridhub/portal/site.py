"""What the portal's request handlers share: the workspace, its config (re-read when the file changes), the
session cookie, the templates.

Every page is rendered through :meth:`PortalSite.render`, which also refreshes the session cookie. Paths are
relative to the app's ``root_path`` (:func:`base_path`), so the same app works at ``/`` and mounted inside the
Airflow API server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment

from gridhub.config import ConfigError, Portal, PortalReviewer, WorkspaceConfig
from gridhub.portal.auth import SignInThrottle, client_address
from gridhub.portal.sessions import Sessions, password_fingerprint
from gridhub.workspace import Workspace

log = logging.getLogger(__name__)

COOKIE = "gridhub_portal"
TEMPLATES = Path(__file__).with_name("templates")


class PortalConfigError(ConfigError):
    """The workspace has no ``portal:`` section (or it is unusable): the portal cannot start."""


def base_path(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


@dataclass
class PortalSite:
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
        path = self.ws.config_file
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

    def settings(self) -> Portal:
        """The config's ``portal:`` section (a config without one is never taken, see :meth:`config`)."""
        portal = self.config().portal
        if portal is None:  # pragma: no cover - create_app and config() keep only configs with a portal
            raise PortalConfigError(f"{self.ws.config_file} has no 'portal:' section")
        return portal

    def password_fp(self, department: str) -> str | None:
        """The fingerprint of the account's (a department's or a reviewer's) current password hash; None if it
        has no sign-in (any more)."""
        p = self.settings()
        d = p.departments.get(department) or p.reviewers.get(department)
        return password_fingerprint(d.password_hash) if d is not None else None

    def reviewer(self, name: str | None) -> PortalReviewer | None:
        """The reviewer account ``name`` signed in as (None: a department, or nobody)."""
        return self.settings().reviewers.get(name) if name else None

    def client(self, request: Request) -> str:
        """The client's address: the peer, or what a configured trusted proxy forwards (``trusted_proxies``)."""
        peer = request.client.host if request.client else None
        return client_address(peer, request.headers.get("x-forwarded-for"), self.settings().trusted_proxies)

    def session_of(self, request: Request) -> dict:
        """The request's session (signed in or not), or a new anonymous one."""
        return self.sessions.load(request.cookies.get(COOKIE)) or Sessions.anonymous()

    def signed_in(self, request: Request) -> tuple[dict, str | None]:
        """(session, department) for a live signed-in session; (an anonymous session, None) otherwise."""
        s = self.session_of(request)
        dept = s.get("dept")
        if dept:
            return s, dept
        return s, None

    def render(
        self, request: Request, template: str, session: dict, status: int = 200, **ctx: object
    ) -> HTMLResponse:
        cfg = self.config()
        html = self.env.get_template(template).render(
            base=base_path(request),
            csrf=session["csrf"],
            department=session.get("dept"),
            workspace_name=cfg.name,
            **ctx,
        )
        resp = HTMLResponse(html, status_code=status)
        self.set_cookie(request, resp, session)
        return resp

    def set_cookie(self, request: Request, resp: Response, session: dict) -> None:
        resp.set_cookie(
            COOKIE,
            self.sessions.dump(session),
            max_age=self.sessions.max_age,
            path=base_path(request) or "/",
            httponly=True,
            samesite="strict",
            secure=self.settings().secure_cookies,
        )


__all__ = ["COOKIE", "TEMPLATES", "PortalConfigError", "PortalSite", "base_path"]
