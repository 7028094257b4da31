"""
### Department feed ingest (one DAG per feed)

Generated from the feeds in the workspace's `gridhub.yaml` (`$GRIDHUB_WORKSPACE`): there is no file per
department. Each DAG takes the files waiting in `landing/<feed>/` (or pulls the feed's database table since
its watermark), keeps every received file unchanged in `raw/` (content-addressed by SHA-256), stages the
parsed, typed rows in `staging/<feed>/` and puts every row it cannot stage in `quarantine/<feed>/` with a
reason code. Rows read = rows staged + rows quarantined is checked after every file.

**When it runs.** A file feed's DAG is scheduled on the feed's *landing* asset, which an asset watcher keeps
an eye on: `gridhub land --feed NAME FILE` (or the upload portal) writes the file into `landing/<feed>/` under a
generated name and then a ready flag `landing/_ready/<feed>`; the triggerer sees the flag (one directory scan
for all feeds, every `$GRIDHUB_LANDING_POKE_SECONDS`, default 5 s), deletes it and starts this DAG. Runs by
hand ("Trigger DAG") or with `airflow dags test` work the same: the run ingests whatever is waiting.
Database feeds have no landing folder and run by hand.

On success the task updates the feed's staging **asset**, which schedules `gridhub_resolve_publish`.
A file that cannot be read at all (wrong encoding, xlsx behind a .csv name, missing columns...) fails the
run with one message naming the file and the problem; the file stays in raw and nothing published changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import DAG, Asset, task

from gridhub.assets import (
    configured_feeds,
    default_args,
    feed_display_name,
    feed_doc_md,
    feed_owner,
    landing_asset_name,
    landing_asset_spec,
    landing_poke_seconds,
    owner_links,
    ready_dir,
    ready_flag_name,
    staging_asset_spec,
    workspace_root,
)

if TYPE_CHECKING:
    from pathlib import Path


def landing_asset(feed: dict, root: Path) -> Asset | None:
    """The asset "a file was handed in for this feed", watched through its ready flag; None for database feeds."""
    if feed["source_kind"] != "file":
        return None
    from airflow.providers.standard.triggers.file import DirectoryFileDeleteTrigger
    from airflow.sdk import AssetWatcher

    trigger = DirectoryFileDeleteTrigger(
        directory=str(ready_dir(root)),
        filename=ready_flag_name(feed["name"]),
        poke_interval=landing_poke_seconds(),
    )
    return Asset(
        **landing_asset_spec(feed),
        watchers=[AssetWatcher(name=f"{landing_asset_name(feed['name'])}_ready", trigger=trigger)],
    )


def ingest_dag(feed: dict, root: Path) -> DAG:
    """One ingest DAG for one configured feed."""
    staged = Asset(**staging_asset_spec(feed))
    with DAG(
        dag_id=f"gridhub_ingest_{feed['name']}",
        dag_display_name=feed_display_name(feed),
        description=f"{feed['department']} · {feed['description'] or feed['name']}: landing → raw → staging",
        doc_md=feed_doc_md(feed, __doc__ or ""),
        schedule=landing_asset(feed, root),
        catchup=False,
        max_active_runs=1,
        default_args=default_args(feed_owner(feed)),
        owner_links=owner_links(feed),
        tags=["gridhub", "ingest", feed["department"] or "feed"],
    ) as dag:

        @task(outlets=[staged], doc_md="Raw zone → staging + quarantine for every new file of the feed.")
        def ingest(**context) -> dict:
            from gridhub.tasks import ingest_task

            result = ingest_task(feed["name"])
            context["outlet_events"][staged].extra = result
            return result

        ingest()
    return dag


_root = workspace_root()
if _root is not None:
    for _feed in configured_feeds(_root):
        globals()[f"gridhub_ingest_{_feed['name']}"] = ingest_dag(_feed, _root)
