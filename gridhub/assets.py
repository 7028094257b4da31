"""Asset names and URIs, in one place, and the cheap facts DAG files need at parse time.

DAG files import this module while Airflow parses them, so it must stay light: it reads ``gridhub.yaml``
with PyYAML only (no pandas, pyarrow or pydantic); full validation happens inside the tasks.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

WORKSPACE_ENV = "GRIDHUB_WORKSPACE"
WAREHOUSE_ASSET = "gridhub_warehouse"


def workspace_root() -> Path | None:
    root = os.environ.get(WORKSPACE_ENV)
    return Path(root).expanduser().resolve() if root else None


def staging_asset_name(feed: str) -> str:
    return f"gridhub_staging_{feed}"


def staging_asset_uri(root: Path, feed: str) -> str:
    return (root / "staging" / feed).as_uri()


def warehouse_asset_uri(root: Path) -> str:
    return (root / "warehouse").as_uri()


def configured_feeds(root: Path | None = None) -> list[dict]:
    """Name, department and description of every feed in the workspace, for DAG generation.

    Returns an empty list when no workspace is configured, so the DAG folder always parses.
    """
    root = root or workspace_root()
    if root is None:
        return []
    path = root / "gridhub.yaml"
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
    """Task defaults shared by every gridhub DAG: two retries with exponential backoff.

    ``GRIDHUB_RETRY_DELAY_SECONDS`` (default 30) sets the first delay; tests set it low.
    """
    from datetime import timedelta

    return {
        "owner": "gridhub",
        "retries": 2,
        "retry_delay": timedelta(seconds=float(os.environ.get("GRIDHUB_RETRY_DELAY_SECONDS", "30"))),
        "retry_exponential_backoff": True,
    }
