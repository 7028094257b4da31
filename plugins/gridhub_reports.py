"""Airflow 3 plugin: the run reports of the gridhub warehouse inside the Airflow UI.

Mounts :func:`gridhub.runreport.web.create_reports_app` at ``/gridhub-reports`` (``fastapi_apps``): a list of
the published runs with a link to each run's report and Data Docs; a "运行报告" entry in the nav
(``external_views``) opens it. Every route requires a signed-in Airflow user (the UI's token cookie, or a bearer
token), checked with Airflow's own ``get_user``.

The workspace comes from ``$GRIDHUB_WORKSPACE``; without it the plugin registers nothing and logs why.
"""

from __future__ import annotations

import logging
import os

from airflow.plugins_manager import AirflowPlugin
from starlette.requests import Request  # FastAPI reads the dependency's annotation from this module

from gridhub import env

log = logging.getLogger(__name__)

URL_PREFIX = "/gridhub-reports"


async def _signed_in(request: Request) -> None:
    """Airflow's own check of the caller (``get_user``: a bearer token, else the UI's token cookie): 401 / 403
    without a valid one. Imported on the first request, so task processes that load plugins do not pay for
    Airflow's API modules."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.security import HTTPBearer

    await get_user(request, None, await HTTPBearer(auto_error=False)(request))


def _reports_apps() -> list[dict]:
    root = os.environ.get(env.WORKSPACE)
    if not root:
        log.info("gridhub reports: %s is not set; the run reports are not mounted", env.WORKSPACE)
        return []
    from fastapi import Depends

    from gridhub.runreport.web import create_reports_app

    app = create_reports_app(root, dependencies=[Depends(_signed_in)])
    return [{"app": app, "url_prefix": URL_PREFIX, "name": "gridhub run reports"}]


class GridhubReportsPlugin(AirflowPlugin):
    """The run reports as an Airflow plugin app plus a nav link."""

    name = "gridhub_reports"
    fastapi_apps = _reports_apps()
    external_views = (
        [
            {
                "name": "运行报告 (run reports)",
                "href": URL_PREFIX + "/",
                "destination": "nav",
                "category": "gridhub",
                "url_route": "gridhub-reports",
            }
        ]
        if fastapi_apps
        else []
    )
