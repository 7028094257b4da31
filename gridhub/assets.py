"""Asset names and URIs, in one place, and the cheap facts DAG files need at parse time.

DAG files import this module while Airflow parses them, so it must stay light: it reads ``gridhub.yaml``
with PyYAML only (no pandas, pyarrow or pydantic); full validation happens inside the tasks. The folder and
file names come from :mod:`gridhub.layout`, the environment variables' names from :mod:`gridhub.env` (both
import nothing).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from gridhub import env
from gridhub.layout import CONFIG_FILE, LANDING_DIR, READY_DIR

WAREHOUSE_ASSET = "gridhub_warehouse"
WAREHOUSE_ASSET_URI = "gridhub://warehouse/current"


def workspace_root() -> Path | None:
    root = os.environ.get(env.WORKSPACE)
    return Path(root).expanduser().resolve() if root else None


def staging_asset_name(feed: str) -> str:
    return f"gridhub_staging_{feed}"


def staging_asset_uri(feed: str) -> str:
    """A location-free URI: the asset names the feed's staged data whichever folder the workspace is in,
    so a workspace moved or copied (tests, a new disk) keeps the same assets and their history."""
    return f"gridhub://staging/{feed}"


def landing_asset_name(feed: str) -> str:
    """The watched asset that schedules a feed's ingest DAG: "a new file was handed in" (新文件到达)."""
    return f"gridhub_landing_{feed}"


def landing_asset_uri(feed: str) -> str:
    """Location-free, like the staging assets: a copied or moved workspace keeps its assets."""
    return f"gridhub://landing/{feed}"


def ready_dir(root: Path) -> Path:
    """The one flag folder the triggerer scans for every feed of the workspace (N feeds, one scan)."""
    return root / LANDING_DIR / READY_DIR


def ready_flag_name(feed: str) -> str:
    """File name of a feed's ready flag inside :func:`ready_dir`; the file trigger deletes it when it fires."""
    return feed


def landing_poke_seconds() -> float:
    """How often the triggerer lists the flag folder (``GRIDHUB_LANDING_POKE_SECONDS``, default 5 s)."""
    return float(os.environ.get(env.LANDING_POKE_SECONDS, "5"))


def configured_feeds(root: Path | None = None) -> list[dict]:
    """Name, department and description of every feed in the workspace, for DAG generation.

    Returns an empty list when no workspace is configured, so the DAG folder always parses.
    """
    root = root or workspace_root()
    if root is None:
        return []
    path = root / CONFIG_FILE
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    feeds = []
    for f in raw.get("feeds") or []:
        if isinstance(f, dict) and f.get("name"):
            feeds.append(
                {
                    "name": str(f["name"]),
                    "department": str(f.get("department", "")),
                    "description": str(f.get("description", "")),
                    "entities": list(f.get("entities") or []),
                    "source_kind": str((f.get("source") or {}).get("kind", "file")),
                }
            )
    return feeds


def default_args() -> dict:
    """Task defaults shared by every gridhub DAG: two retries with exponential backoff (they apply to transient
    errors only: a deterministic one fails the task at once, :mod:`gridhub.taskfail`), and the failure alert
    of the workspace's ``alerts:`` section (:func:`gridhub.alerts.on_task_failure`).

    ``GRIDHUB_RETRY_DELAY_SECONDS`` (default 30) sets the first delay; tests set it low.
    """
    from datetime import timedelta

    from gridhub.alerts import on_task_failure

    return {
        "owner": "gridhub",
        "retries": 2,
        "retry_delay": timedelta(seconds=float(os.environ.get(env.RETRY_DELAY_SECONDS, "30"))),
        "retry_exponential_backoff": True,
        "on_failure_callback": on_task_failure,
    }
