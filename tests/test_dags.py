"""DAG integrity over the DagBag, and the whole DAG chain run with dag.test() on a small sample."""

from __future__ import annotations

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


def test_whole_chain_runs_with_dag_test(dagbag, workspace_copy, monkeypatch):
    """Every ingest DAG, then resolve-and-publish, through Airflow's dag.test(), on a private workspace."""
    from airflow.utils.state import DagRunState

    from warehouse import current_manifest, read_table
    from warehouse.schema import TABLES

    monkeypatch.setenv("GRIDHUB_WORKSPACE", str(workspace_copy))
    for dag_id in sorted(d for d in dagbag.dag_ids if d.startswith("gridhub_ingest_")) + [
        "gridhub_resolve_publish"
    ]:
        run = dagbag.get_dag(dag_id).test()
        assert run.state == DagRunState.SUCCESS, dag_id

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
    from airflow.utils.state import DagRunState

    import warehouse.build
    from warehouse import current_manifest

    real = warehouse.build.assemble_tables

    def with_duplicate_person(**kwargs):
        tables = real(**kwargs)
        persons = tables["person"]
        tables["person"] = pa.concat_tables([persons, persons.slice(0, 1)])
        return tables

    monkeypatch.setenv("GRIDHUB_WORKSPACE", str(workspace_copy))
    monkeypatch.setattr(warehouse.build, "assemble_tables", with_duplicate_person)
    for dag_id in sorted(d for d in dagbag.dag_ids if d.startswith("gridhub_ingest_")):
        assert dagbag.get_dag(dag_id).test().state == DagRunState.SUCCESS
    run = dagbag.get_dag("gridhub_resolve_publish").test()
    assert run.state == DagRunState.FAILED
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["build_tables"] == "success" and states["publish"] == "failed", states
    assert current_manifest(workspace_copy / "warehouse") is None
    assert not list((workspace_copy / "warehouse").rglob("person/**/*.parquet"))
