"""
### Department feed ingest (one DAG per feed)

Generated from the feeds in the workspace's `gridhub.yaml` (`$GRIDHUB_WORKSPACE`): there is no file per
department. Each DAG takes the files waiting in `landing/<feed>/` (or pulls the feed's database table since
its watermark), keeps every received file unchanged in `raw/` (content-addressed by SHA-256), stages the
parsed, typed rows in `staging/<feed>/` and puts every row it cannot stage in `quarantine/<feed>/` with a
reason code. Rows read = rows staged + rows quarantined is checked after every file.

On success the task updates the feed's staging **asset**, which schedules `gridhub_resolve_publish`.
A file that cannot be read at all (wrong encoding, xlsx behind a .csv name, missing columns...) fails the
run with one message naming the file and the problem; the file stays in raw and nothing published changes.
"""

from __future__ import annotations

from airflow.sdk import DAG, Asset, task

from gridhub.assets import (
    configured_feeds,
    default_args,
    staging_asset_name,
    staging_asset_uri,
    workspace_root,
)


def ingest_dag(feed: dict, root) -> DAG:
    """One ingest DAG for one configured feed."""
    staged = Asset(name=staging_asset_name(feed["name"]), uri=staging_asset_uri(root, feed["name"]))
    with DAG(
        dag_id=f"gridhub_ingest_{feed['name']}",
        description=f"{feed['department']} · {feed['description'] or feed['name']}: landing → raw → staging",
        doc_md=__doc__,
        schedule=None,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
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
for _feed in configured_feeds(_root):
    globals()[f"gridhub_ingest_{_feed['name']}"] = ingest_dag(_feed, _root)
