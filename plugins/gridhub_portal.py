"""Airflow 3 plugin: the gridhub department upload portal inside the Airflow API server.

Mounts :func:`gridhub.portal.create_app` at ``/gridhub-portal`` (``fastapi_apps``) and adds a "数据上报门户"
entry to the Airflow nav (``external_views``). Airflow does not authenticate plugin routes: the portal signs
departments in itself (its own cookie, its own credentials in ``gridhub.yaml``), independent of Airflow users.

The workspace comes from ``$GRIDHUB_WORKSPACE``; without it, or without a ``portal:`` section in its
``gridhub.yaml``, the plugin registers nothing and logs why (Airflow keeps running).
"""

from __future__ import annotations

import logging
import os

from airflow.plugins_manager import AirflowPlugin

from gridhub import env

log = logging.getLogger(__name__)

URL_PREFIX = "/gridhub-portal"


def _portal_apps() -> list[dict]:
    root = os.environ.get(env.WORKSPACE)
    if not root:
        log.warning("gridhub portal: %s is not set; the upload portal is not mounted", env.WORKSPACE)
        return []
    from gridhub.config import ConfigError
    from gridhub.portal import create_app

    try:
        app = create_app(root)
    except ConfigError as e:
        log.warning("gridhub portal: not mounted: %s", e)
        return []
    return [{"app": app, "url_prefix": URL_PREFIX, "name": "gridhub upload portal"}]


class _BuiltOnFirstUse:
    """A class attribute computed the first time it is read, then kept (on the class).

    Airflow loads plugins in every task process too (for macros and listeners), where nothing reads
    ``fastapi_apps``: building the portal there only put its start-up warnings into every task log. Only the
    API server reads the attribute, so only it builds the portal."""

    def __init__(self, build):
        self.build = build

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, obj, owner):
        value = self.build()
        setattr(owner, self.name, value)
        return value


def _nav_views() -> list[dict]:
    if not GridhubPortalPlugin.fastapi_apps:
        return []
    return [
        {
            "name": "数据上报门户 (upload portal)",
            "href": URL_PREFIX + "/",
            "destination": "nav",
            "category": "gridhub",
            "url_route": "gridhub-portal",
        }
    ]


class GridhubPortalPlugin(AirflowPlugin):
    """The upload portal as an Airflow plugin app plus a nav link."""

    name = "gridhub_portal"
    fastapi_apps = _BuiltOnFirstUse(_portal_apps)  # type: ignore[assignment]
    external_views = _BuiltOnFirstUse(_nav_views)  # type: ignore[assignment]
