"""
### Resolve and publish the warehouse

Runs whenever any feed's staging asset is updated (or by hand). Every step is a plain function in
`gridhub.pipeline`; its output goes to `work/<run_id>/<step>/` in the workspace, where the next step reads it,
so any task can be retried alone. The run id is a fingerprint of the inputs: the same inputs give the same
run id and the same snapshot.

1. **prepare_mentions** — every feed's current staged rows → normalised mentions (names 繁→简, IDs checked).
2. **bind_addresses** — address texts → 标准地址 code, building and grid (进网入格); facility points → grid.
3. **resolve_entities** — persons, organisations, houses, facilities → entities with stable ids.
4. **build_tables** — the canonical tables (schema in `warehouse/schema.py`).
5. **publish_gate** — the publish gate (`publish_gate:` in gridhub.yaml, off by default): a run that would
   merge, split or retire more than the configured share of an entity type, or whose quarantine share jumps
   against the current snapshot's, goes to **approve_publish**; any other run goes straight to publish.
6. **approve_publish** — waits in the Required Actions page with the figures. Approve: publish. Reject:
   publish and summary are skipped, the current snapshot stays, the run ends as a success.
7. **publish** — Great Expectations validates every table; only if all pass is a snapshot written and the
   `current` pointer switched (the warehouse asset is updated). A failure leaves the last snapshot current.
   The run report (`<warehouse>/runs/<run_id>/report.html`, charts; docs/report.md) is written next and its
   path is in the asset event's extra (`report`). A run already published (the same inputs again) is *skipped*
   here: no second warehouse event for the same snapshot, and summary is skipped too; the run stays green.
8. **summary** — the run summary (feeds, quarantine, binding rates, quality vs truth) in `reports/`.
"""

from __future__ import annotations

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, Asset, AssetAny, task

from gridhub.assets import (
    RESOLVE_DAG_ID,
    RESOLVE_DISPLAY_NAME,
    configured_feeds,
    default_args,
    owner_links,
    staging_asset_spec,
    warehouse_asset_spec,
    workspace_root,
)

_root = workspace_root()
_feeds = configured_feeds(_root)
_staged = [Asset(**staging_asset_spec(f)) for f in _feeds]
_warehouse = Asset(**warehouse_asset_spec()) if _root else None

if _root is not None:
    with DAG(
        dag_id=RESOLVE_DAG_ID,
        dag_display_name=RESOLVE_DISPLAY_NAME,
        description="staging → mentions → address/grid binding → entity resolution → validation → warehouse",
        doc_md=__doc__,
        schedule=AssetAny(*_staged) if _staged else None,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        owner_links=owner_links(),
        tags=["gridhub", "warehouse"],
    ) as resolve_publish:

        @task(doc_md="Staged rows of every feed → normalised mentions per entity type.")
        def prepare_mentions() -> str:
            from gridhub import pipeline
            from gridhub.tasks import run_step

            return run_step(pipeline.prepare_mentions)["run_id"]

        @task(doc_md="Bind every address field to the standard address library and grids.")
        def bind_addresses(gridhub_run: str) -> str:
            from gridhub import pipeline
            from gridhub.tasks import run_step

            return run_step(pipeline.bind_addresses, gridhub_run)["run_id"]

        @task(doc_md="Resolve mentions into entities with stable ids (state committed only on publish).")
        def resolve_entities(gridhub_run: str) -> str:
            from gridhub import pipeline
            from gridhub.tasks import run_step

            return run_step(pipeline.resolve_entities, gridhub_run)["run_id"]

        @task(doc_md="Assemble the canonical warehouse tables.")
        def build_tables(gridhub_run: str) -> str:
            from gridhub import pipeline
            from gridhub.tasks import run_step

            return run_step(pipeline.build_tables, gridhub_run)["run_id"]

        @task.branch(doc_md="The publish gate: a run above its thresholds waits for approval, others go on.")
        def publish_gate(gridhub_run: str, **context) -> str:
            from gridhub.publish_gate import evaluate_gate
            from gridhub.tasks import run_step

            figures = run_step(evaluate_gate, gridhub_run)
            context["ti"].xcom_push(key="figures", value=figures["text"])
            return "approve_publish" if figures["held"] else "publish"

        approve_publish = ApprovalOperator(
            task_id="approve_publish",
            subject="发布审批 / approve publishing {{ ti.xcom_pull(task_ids='build_tables') }}",
            body="{{ ti.xcom_pull(task_ids='publish_gate', key='figures') }}",
            doc_md="Approve: the run is published. Reject: nothing is published, the current snapshot stays.",
        )

        @task(
            outlets=[_warehouse],
            trigger_rule="none_failed_min_one_success",  # straight from the gate, or after an approval
            doc_md="Validate with Great Expectations; publish a snapshot only if all pass; write its run report.",
        )
        def publish(gridhub_run: str, **context) -> str:
            from gridhub import pipeline
            from gridhub.runreport import report_step
            from gridhub.tasks import run_step, skip_reused_publish

            result = run_step(pipeline.publish_run, gridhub_run)
            skip_reused_publish(result, context["ti"].try_number)  # already published: no second event
            result["report"] = run_step(report_step, gridhub_run)[
                "report"
            ]  # the run report, linked from the event
            context["outlet_events"][_warehouse].extra = result
            return gridhub_run

        @task(doc_md="Write and log the run summary (reports/summary.json).")
        def summary(gridhub_run: str) -> dict:
            from gridhub.tasks import summary_task

            return summary_task()

        # Airflow's stubs type a task call with the function's own parameters (str here); an XComArg passed in
        # is resolved to that str when the task runs
        tables = build_tables(resolve_entities(bind_addresses(prepare_mentions())))  # type: ignore[arg-type]
        published = publish(tables)  # type: ignore[arg-type]
        publish_gate(tables) >> [approve_publish, published]  # type: ignore[arg-type]
        approve_publish >> published
        summary(published)  # type: ignore[arg-type]
