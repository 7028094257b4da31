"""Asset names and URIs, in one place, and the cheap facts DAG files need at parse time.

DAG files import this module while Airflow parses them, so it must stay light: it reads ``gridhub.yaml``
with PyYAML only (no pandas, pyarrow or pydantic); full validation happens inside the tasks. The folder and
file names come from :mod:`gridhub.layout`, the environment variables' names from :mod:`gridhub.env` (both
import nothing).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from gridhub import env
from gridhub.layout import CONFIG_FILE, LANDING_DIR, READY_DIR

WAREHOUSE_ASSET = "gridhub_warehouse"
WAREHOUSE_ASSET_URI = "gridhub://warehouse/current"
RESOLVE_DAG_ID = "gridhub_resolve_publish"
RESOLVE_DISPLAY_NAME = "四标四实 · 融合与发布"
#: Asset groups, one per zone (ASCII: Airflow refuses other names on a MySQL metadata DB).
LANDING_GROUP, STAGING_GROUP, WAREHOUSE_GROUP = "gridhub-landing", "gridhub-staging", "gridhub-warehouse"
OWNER = "gridhub"


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
    """Name, department, description, columns and contact of every feed in the workspace, for DAG generation.

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
                    "columns": {str(k): str(v) for k, v in (f.get("columns") or {}).items()},
                    "contact": str(f.get("contact") or ""),
                }
            )
    return feeds


def default_args(owner: str = OWNER) -> dict:
    """Task defaults shared by every gridhub DAG: the owner, two retries with exponential backoff (they apply to
    transient errors only: a deterministic one fails the task at once, :mod:`gridhub.taskfail`), and the
    failure alert of the workspace's ``alerts:`` section (:func:`gridhub.alerts.on_task_failure`).

    ``GRIDHUB_RETRY_DELAY_SECONDS`` (default 30) sets the first delay; tests set it low.
    """
    from datetime import timedelta

    from gridhub.alerts import on_task_failure

    return {
        "owner": owner,
        "retries": 2,
        "retry_delay": timedelta(seconds=float(os.environ.get(env.RETRY_DELAY_SECONDS, "30"))),
        "retry_exponential_backoff": True,
        "on_failure_callback": on_task_failure,
    }


# ----------------------------------------------------------------------------------------------------------
# what the Airflow UI shows: display names, docs, owners and the assets' groups and descriptions
# ----------------------------------------------------------------------------------------------------------
_CUT = re.compile(r"[(（,，;；:：]")  # the head of a description: before its first bracket, comma or colon


def feed_title(feed: dict) -> str:
    """The feed's short Chinese title: its description up to the first bracket or comma (``实有人口``)."""
    head = _CUT.split(feed.get("description") or "", maxsplit=1)[0].strip()
    return head or feed["name"]


def feed_display_name(feed: dict) -> str:
    """The ingest DAG's name in the UI: department and title, ``公安 · 实有人口``."""
    department = feed.get("department") or ""
    return f"{department} · {feed_title(feed)}" if department else feed_title(feed)


def feed_owner(feed: dict) -> str:
    """The ingest DAG's owner: the department that sends the feed (``公安``), else gridhub."""
    return feed.get("department") or OWNER


def _is_link(value: str) -> bool:
    """What Airflow accepts as an owner link: ``mailto:`` with an address, or a scheme and a host."""
    parts = urlsplit(value)
    return bool(parts.path) if parts.scheme == "mailto" else bool(parts.scheme and parts.netloc)


def owner_links(feed: dict | None = None) -> dict[str, str]:
    """Owner → link on the DAG list: the department's ``contact`` from the feed's config (a URL or
    ``mailto:``), and ``$GRIDHUB_OWNER_LINK`` for the ``gridhub`` owner. A malformed link is left out here
    (Airflow would refuse the whole DAG file); ``gridhub check`` reports it through the feed's config."""
    links = {}
    if feed is not None and feed_owner(feed) != OWNER:
        links[feed_owner(feed)] = feed.get("contact") or ""
    links[OWNER] = os.environ.get(env.OWNER_LINK, "")
    return {owner: link for owner, link in links.items() if link and _is_link(link)}


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def feed_doc_md(feed: dict, flow: str) -> str:
    """The ingest DAG's page: the feed's description and its columns (source header → staging field), then the
    ``flow`` every ingest DAG shares (the DAG file's docstring)."""
    kind = "文件 / file" if feed["source_kind"] == "file" else "数据库 / database"
    lines = [
        f"## {feed_display_name(feed)}",
        "",
        feed.get("description") or feed["name"],
        "",
        f"- **Feed** `{feed['name']}` · **部门 / department** {feed.get('department') or '-'} · "
        f"**来源 / source** {kind}",
        f"- **实体 / entities** {', '.join(feed.get('entities') or []) or '-'}",
        f"- **Staging asset** `{staging_asset_name(feed['name'])}`",
    ]
    if feed.get("contact"):
        lines.append(f"- **联系人 / contact** {feed['contact']}")
    columns = feed.get("columns") or {}
    if columns:
        lines += [
            "",
            f"### 字段 / columns ({len(columns)})",
            "",
            "| 源表头 / source column | staging field |",
        ]
        lines.append("|---|---|")
        lines += [f"| {_md_cell(src)} | `{_md_cell(field)}` |" for src, field in columns.items()]
    return "\n".join(lines) + "\n\n---\n" + flow


def _feed_asset_spec(feed: dict, name: str, uri: str, group: str, what: str) -> dict:
    """Name, URI and group of one of a feed's assets, and in ``extra`` what it is, the feed and its department."""
    extra = {
        "description": f"{feed_display_name(feed)}: {what}",
        "feed": feed["name"],
        "department": feed.get("department") or "",
    }
    return {"name": name, "uri": uri, "group": group, "extra": extra}


def landing_asset_spec(feed: dict) -> dict:
    """``Asset(**spec)`` of the feed's landing asset: name, URI, group and a description in ``extra``."""
    what = f"新文件到达 / a file was handed in (landing/{feed['name']}/)"
    return _feed_asset_spec(
        feed, landing_asset_name(feed["name"]), landing_asset_uri(feed["name"]), LANDING_GROUP, what
    )


def staging_asset_spec(feed: dict) -> dict:
    """``Asset(**spec)`` of the feed's staged rows (the same in the ingest and the resolve DAG files)."""
    what = f"已入库的规范化记录 / staged, typed rows (staging/{feed['name']}/)"
    return _feed_asset_spec(
        feed, staging_asset_name(feed["name"]), staging_asset_uri(feed["name"]), STAGING_GROUP, what
    )


def warehouse_asset_spec() -> dict:
    """``Asset(**spec)`` of the published warehouse snapshot."""
    return {
        "name": WAREHOUSE_ASSET,
        "uri": WAREHOUSE_ASSET_URI,
        "group": WAREHOUSE_GROUP,
        "extra": {
            "description": "四标四实数据仓库当前快照 / the current validated warehouse snapshot "
            "(warehouse/current, Parquet)"
        },
    }
