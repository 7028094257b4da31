"""DAG integrity over the DagBag, and the whole DAG chain run with dag.test() on a small sample."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from gridhub.assets import configured_feeds

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_dag_folder_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}


def test_one_ingest_dag_per_configured_feed(dagbag, sample_workspace):
    feeds = {f["name"] for f in configured_feeds(sample_workspace)}
    ingest = {d.removeprefix("gridhub_ingest_") for d in dagbag.dag_ids if d.startswith("gridhub_ingest_")}
    assert feeds and ingest == feeds
    assert "gridhub_resolve_publish" in dagbag.dag_ids


def test_every_dag_is_documented_tagged_and_retried(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md, dag_id
        assert "gridhub" in dag.tags, dag_id
        for t in dag.tasks:
            assert t.retries >= 2, (dag_id, t.task_id)
            assert t.doc_md, (dag_id, t.task_id)


def test_resolve_dag_is_scheduled_on_every_feed_asset(dagbag, sample_workspace):
    dag = dagbag.get_dag("gridhub_resolve_publish")
    names = {a.name for a in dag.timetable.asset_condition.objects}
    feeds = {f["name"] for f in configured_feeds(sample_workspace)}
    assert names == {f"gridhub_staging_{f}" for f in feeds}


def test_dags_and_assets_are_named_and_described_in_chinese(dagbag, sample_workspace):
    """Display names 部门 · 标题, a doc per feed with its columns, owners with links, assets grouped and described."""
    from gridhub.assets import STAGING_GROUP, WAREHOUSE_GROUP

    feeds = configured_feeds(sample_workspace)
    assert dagbag.get_dag("gridhub_ingest_gongan_population").dag_display_name == "公安 · 实有人口"
    for feed in feeds:
        dag = dagbag.get_dag(f"gridhub_ingest_{feed['name']}")
        assert dag.dag_display_name.startswith(f"{feed['department']} · "), dag.dag_display_name
        assert feed["description"] in dag.doc_md
        assert feed["columns"] and all(
            f"| {src} | `{field}` |" in dag.doc_md for src, field in feed["columns"].items()
        )
        assert dag.owner == feed["department"]
        assert dag.owner_links == {feed["department"]: feed["contact"]} and feed["contact"].startswith(
            "mailto:"
        )
        landing = dag.timetable.asset_condition
        (staged,) = dag.get_task("ingest").outlets
        for asset in (landing, staged):
            assert asset.group.startswith("gridhub-") and dag.dag_display_name in asset.extra["description"]
        assert staged.group == STAGING_GROUP
    docs = {d.doc_md for d in dagbag.dags.values()}
    assert len(docs) == len(dagbag.dags)  # no two DAGs share one generic doc
    resolve = dagbag.get_dag("gridhub_resolve_publish")
    assert resolve.dag_display_name == "四标四实 · 融合与发布"
    (warehouse,) = resolve.get_task("publish").outlets
    assert warehouse.group == WAREHOUSE_GROUP and warehouse.extra["description"]
    # the resolve DAG is scheduled on the very assets the ingest DAGs update (same group and description)
    staged = {a.name: a for a in resolve.timetable.asset_condition.objects}
    for feed in feeds:
        (outlet,) = dagbag.get_dag(f"gridhub_ingest_{feed['name']}").get_task("ingest").outlets
        assert staged[outlet.name] == outlet


def _asset_events(asset_name: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == asset_name)
        ).all()
        return [dict(e.extra or {}) for e in rows]


def sync_dags_to_db(dagbag) -> None:
    """Every DAG of the bag serialised into the metadata DB and unpaused (what `airflow dags test` and the
    DAG processor of `make airflow` leave), so asset events queue their consumers and the UI lists them."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    (bundle,) = manager.get_all_dag_bundles()
    sync_bag_to_db(dagbag, bundle.name, None)
    with create_session() as session:  # unpaused, as make demo's Airflow has them: a paused DAG is not queued
        session.execute(update(DagModel).where(DagModel.dag_id.in_(dagbag.dag_ids)).values(is_paused=False))


def _queued_for(dag_id: str) -> int:
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(select(func.count()).where(AssetDagRunQueue.target_dag_id == dag_id)) or 0


def test_whole_chain_runs_with_dag_test(dagbag, workspace_copy, monkeypatch, caplog):
    """Every ingest DAG, then resolve-and-publish, through Airflow's dag.test(), on a private workspace; then the
    queue the ingest runs left is cleared as `make demo` does, and a rerun on the same inputs is a green no-op."""
    from airflow.utils.state import DagRunState

    from gridhub.airflow_queue import clear_queued_events
    from gridhub.pipeline import reused_message
    from warehouse import current_manifest, read_table
    from warehouse.schema import TABLES

    monkeypatch.setenv("GRIDHUB_WORKSPACE", str(workspace_copy))
    sync_dags_to_db(
        dagbag
    )  # as `airflow dags test` does: every DAG known, so asset events queue their consumers
    clear_queued_events("gridhub_resolve_publish", dt.datetime.now(dt.UTC))  # events of earlier tests
    for dag_id in sorted(d for d in dagbag.dag_ids if d.startswith("gridhub_ingest_")) + [
        "gridhub_resolve_publish"
    ]:
        started = dt.datetime.now(dt.UTC)
        run = dagbag.get_dag(dag_id).test()
        assert run.state == DagRunState.SUCCESS, dag_id

    # asset events carry the counts: rows staged per feed, rows published per table
    feed = "gongan_population"
    (staged_event,) = [e for e in _asset_events(f"gridhub_staging_{feed}") if e.get("rows_staged")][-1:]
    assert staged_event["feed"] == feed and staged_event["rows_read"] == (
        staged_event["rows_staged"] + staged_event["rows_quarantined"] + staged_event["rows_blank"]
    )
    published = _asset_events("gridhub_warehouse")[-1]
    assert published["rows"] == current_manifest(workspace_copy / "warehouse")["row_counts"]

    # the ingest runs queued their events for the resolve DAG; the resolve run covered them: cleared, none left
    assert _queued_for("gridhub_resolve_publish") > 0
    assert clear_queued_events("gridhub_resolve_publish", started) > 0
    assert _queued_for("gridhub_resolve_publish") == 0

    # a resolve run on unchanged inputs succeeds without recomputing a step (its intermediates stay untouched)
    run_id = published["run_id"]
    work = workspace_copy / "work" / run_id
    before = {p: p.stat().st_mtime_ns for p in work.rglob("*.parquet")}
    assert before
    warehouse_events = len(_asset_events("gridhub_warehouse"))
    with caplog.at_level(logging.INFO, logger="gridhub"):
        rerun = dagbag.get_dag("gridhub_resolve_publish").test()
    assert rerun.state == DagRunState.SUCCESS
    assert reused_message(run_id) in caplog.text  # the CLI's one line, in the task log
    # the reused publish is skipped: no second warehouse event for the same snapshot; summary skipped after it
    assert len(_asset_events("gridhub_warehouse")) == warehouse_events
    states = {ti.task_id: ti.state for ti in rerun.get_task_instances()}
    assert states.pop("publish") == "skipped" and states.pop("summary") == "skipped", states
    assert states.pop("approve_publish") == "skipped", states  # the publish gate is off: nobody is asked
    assert set(states.values()) == {"success"}, states
    assert {p: p.stat().st_mtime_ns for p in work.rglob("*.parquet")} == before
    assert current_manifest(workspace_copy / "warehouse")["run_id"] == run_id

    wh = workspace_copy / "warehouse"
    manifest = current_manifest(wh)
    assert manifest is not None
    for name in TABLES:
        table = read_table(wh, name)
        assert table.num_rows == manifest["row_counts"][name]
    persons = read_table(wh, "person", layer="restricted").to_pandas()
    assert len(persons) > 100 and persons["person_id"].is_unique
    assert persons["grid_code"].notna().mean() > 0.9
    # every canonical table is one plain Parquet dataset, readable without gridhub
    import duckdb
    import pyarrow.dataset as ds

    for name in TABLES:
        folder = wh / "shared" / "current" / name
        assert ds.dataset(folder, format="parquet").count_rows() == manifest["row_counts"][name], name
        n = duckdb.sql(f"select count(*) from read_parquet('{folder}/**/*.parquet')").fetchall()[0][0]
        assert n == manifest["row_counts"][name], name
    assert all(pq.ParquetFile(f).metadata.num_rows >= 0 for f in wh.rglob("*.parquet"))
    # the warehouse asset event links the run report the publish task wrote (issue #16)
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        event = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == "gridhub_warehouse")
            .order_by(AssetEvent.id.desc())
        ).first()
        extra = dict(event.extra)
    assert Path(extra["report"]) == wh / "runs" / manifest["run_id"] / "report.html"
    assert Path(extra["report"]).is_file()


def test_failed_validation_fails_the_dag_run_and_publishes_nothing(dagbag, workspace_copy, monkeypatch):
    """A duplicated person_id reaching the publish task fails the run; no snapshot becomes current."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from airflow.utils.state import DagRunState

    import warehouse.build_files
    from warehouse import current_manifest

    real = warehouse.build_files.write_tables

    def with_duplicate_person(out, files, **kwargs):
        rows = real(out, files, **kwargs)
        persons = pq.read_table(out / "person.parquet")
        pq.write_table(pa.concat_tables([persons, persons.slice(0, 1)]), out / "person.parquet")
        return rows

    monkeypatch.setenv("GRIDHUB_WORKSPACE", str(workspace_copy))
    monkeypatch.setattr(warehouse.build_files, "write_tables", with_duplicate_person)
    for dag_id in sorted(d for d in dagbag.dag_ids if d.startswith("gridhub_ingest_")):
        assert dagbag.get_dag(dag_id).test().state == DagRunState.SUCCESS
    run = dagbag.get_dag("gridhub_resolve_publish").test()
    assert run.state == DagRunState.FAILED
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["build_tables"] == "success" and states["publish"] == "failed", states
    assert current_manifest(workspace_copy / "warehouse") is None
    assert not list((workspace_copy / "warehouse").rglob("person/**/*.parquet"))
