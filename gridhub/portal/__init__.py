"""The department upload portal (数据上报门户). See docs/portal.md.

``create_app(workspace_root)`` builds the FastAPI app (``gridhub portal`` serves it with uvicorn; the Airflow
plugin in ``plugins/gridhub_portal.py`` mounts it at ``/gridhub-portal``); ``hash_password`` makes the
password hashes that go into ``gridhub.yaml``.
"""

from __future__ import annotations

from gridhub.portal.app import COOKIE, PortalConfigError, create_app
from gridhub.portal.audit import append_audit, recent_uploads
from gridhub.portal.auth import hash_password, verify_password
from gridhub.portal.uploads import UploadRejected, sniff_upload

__all__ = [
    "COOKIE",
    "PortalConfigError",
    "UploadRejected",
    "append_audit",
    "create_app",
    "hash_password",
    "recent_uploads",
    "sniff_upload",
    "verify_password",
]
