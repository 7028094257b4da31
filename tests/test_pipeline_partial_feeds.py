"""Feeds arrive one by one: a run with only some of them publishes, and a feed arriving later adds its entities.

Until 公安's population feed arrives there are no person (or house, or facility) mentions at all. That is not
an error: the run publishes empty tables for those types, and the entity-resolution state of a type without
mentions is left as it was.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from synth_tables import synthetic_tables

from gridhub import pipeline
from gridhub.workspace import Workspace
from matching.er import ResolutionState
from warehouse.schema import arrow_schema
from warehouse.settings import WarehouseSettings
from warehouse.validate import build_checks, validate_tables

ORGANISATION_FEED = "shichang_orgs"
PERSON_FEED = "gongan_population"
DRIFT = "expect_table_row_count_to_be_between"
NOT_YET = ["person", "house", "facility"]  # entity types of feeds that have not arrived


@pytest.fixture
def orgs_only(workspace_copy) -> Workspace:
    from connectors import ingest_feed

    ws = Workspace(workspace_copy)
    ingest_feed(ws, ORGANISATION_FEED).check_accounting()
    return ws


def _restricted(ws: Workspace, name: str) -> pa.Table:
    from warehouse import read_table

    return read_table(ws.warehouse, name, layer="restricted")


def _org_xref(ws: Workspace) -> set[tuple[str, str, str]]:
    xref = _restricted(ws, "source_xref").to_pylist()
    return {
        (r["feed"], r["source_record_id"], r["entity_id"]) for r in xref if r["entity_type"] == "organisation"
    }


def test_only_the_organisation_feed_publishes_empty_entity_tables(orgs_only):
    from warehouse import current_manifest

    ws = orgs_only
    result = pipeline.run_all(ws)
    manifest = current_manifest(ws.warehouse)
    assert manifest["run_id"] == result["run_id"]
    assert manifest["validation"]["success"] is True
    resolved = result["resolve_entities"]["entities"]
    for t in NOT_YET:
        assert resolved[t] == {"mentions": 0, "entities": 0, "review_pairs": 0, "blocking": []}
        table = _restricted(ws, t)
        assert table.num_rows == 0 and manifest["row_counts"][t] == 0
        assert pq.read_table(ws.work_dir(result["run_id"]) / "tables" / f"{t}.parquet").schema.equals(
            arrow_schema(t), check_metadata=False
        )
        # no model trained, no state staged or committed for a type without mentions
        assert not (ws.work_dir(result["run_id"]) / "resolved" / "state" / t).exists()
        assert not ResolutionState.folder(ws.state, t).exists()
    orgs = _restricted(ws, "organisation")
    assert orgs.num_rows > 0 and orgs.num_rows == resolved["organisation"]["entities"]
    assert (ResolutionState.folder(ws.state, "organisation") / "model.json").exists()
    assert {r[0] for r in _org_xref(ws)} == {ORGANISATION_FEED}


def test_a_person_feed_arriving_later_adds_persons_and_keeps_organisation_ids(orgs_only):
    from connectors import ingest_feed
    from warehouse import current_manifest

    ws = orgs_only
    first = pipeline.run_all(ws)["run_id"]
    orgs_before = _org_xref(ws)
    org_ids_before = _restricted(ws, "organisation").column("org_id").to_pylist()

    ingest_feed(ws, PERSON_FEED).check_accounting()
    second = pipeline.run_all(ws)
    assert second["run_id"] != first
    assert current_manifest(ws.warehouse)["run_id"] == second["run_id"]
    persons = _restricted(ws, "person")
    assert (
        persons.num_rows > 100
        and persons.num_rows == second["resolve_entities"]["entities"]["person"]["entities"]
    )
    assert _restricted(ws, "house").num_rows > 0 and _restricted(ws, "person_house").num_rows > 0
    assert _restricted(ws, "facility").num_rows == 0
    # the organisations' records resolve to the very same ids as before the persons arrived
    assert _org_xref(ws) == orgs_before
    assert _restricted(ws, "organisation").column("org_id").to_pylist() == org_ids_before
    assert (ResolutionState.folder(ws.state, "person") / "model.json").exists()
    assert not ResolutionState.folder(ws.state, "facility").exists()
    # the empty outputs of the first run had the columns a real resolution writes
    for t in ("person", "house"):
        for part in ("assignments", "golden", "review", "id_history", "pairs"):
            empty = pq.read_schema(ws.work_dir(first) / "resolved" / f"{t}_{part}.parquet")
            real = pq.read_schema(ws.work_dir(second["run_id"]) / "resolved" / f"{t}_{part}.parquet")
            assert empty.names == real.names, (t, part)
    assignments = pq.read_schema(ws.work_dir(first) / "resolved" / "person_assignments.parquet")
    real = pq.read_schema(ws.work_dir(second["run_id"]) / "resolved" / "person_assignments.parquet")
    assert assignments.equals(real, check_metadata=False)


# ---- the validation gate: an empty table has no baseline --------------------------------------------------
def test_a_table_empty_in_the_previous_snapshot_gets_no_drift_bound():
    assert not [
        c
        for c in build_checks("person", grid_code_width=15, previous_rows=0, drift=0.5)
        if c.expectation == DRIFT
    ]
    bounded = [
        c
        for c in build_checks("person", grid_code_width=15, previous_rows=100, drift=0.5)
        if c.expectation == DRIFT
    ]
    assert [(c.kwargs["min_value"], c.kwargs["max_value"]) for c in bounded] == [(50, 150)]
    shifted = [
        c
        for c in build_checks("source_xref", grid_code_width=15, previous_rows=100, drift=0.5, new_rows=700)
        if c.expectation == DRIFT
    ]
    assert [(c.kwargs["min_value"], c.kwargs["max_value"]) for c in shifted] == [(750, 850)]
    assert "700 rows of entity types that had none" in shifted[0].why


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return synthetic_tables(600, seed=5)


def _before_the_person_feed(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The tables as they are before any feed with persons, houses or facilities arrived."""
    out = dict(tables)
    for t in (*NOT_YET, "person_house", "person_organisation"):
        out[t] = tables[t].slice(0, 0)
    for name in ("source_xref", "address_binding"):  # the tables with rows of every entity type
        rows = tables[name]
        out[name] = rows.filter(pc.invert(pc.is_in(rows.column("entity_type"), pa.array(NOT_YET))))
    return out


def test_great_expectations_accepts_empty_entity_tables(tables, tmp_path):
    partial = _before_the_person_feed(tables)
    assert all(partial[t].num_rows == 0 for t in (*NOT_YET, "person_house"))
    report = validate_tables(
        partial,
        previous=None,
        settings=WarehouseSettings(row_count_drift=0.5),
        grid_code_width=15,
        report_dir=tmp_path,
    )
    assert report.success, report.failures


def test_types_arriving_after_a_partial_snapshot_pass_the_drift_gate_but_old_rows_still_count(
    tables, tmp_path
):
    settings = WarehouseSettings(row_count_drift=0.5)
    before = {name: t.num_rows for name, t in _before_the_person_feed(tables).items()}
    assert before["person"] == 0 and 0 < before["source_xref"] < tables["source_xref"].num_rows / 2
    report = validate_tables(
        tables,
        previous={"row_counts": before},
        settings=settings,
        grid_code_width=15,
        report_dir=tmp_path / "arrived",
    )
    assert report.success, report.failures
    xref_drift = [r for r in report.for_table("source_xref") if r.expectation == DRIFT]
    assert len(xref_drift) == 1 and "entity types that had none" in xref_drift[0].why
    assert not [r for r in report.for_table("person") if r.expectation == DRIFT]

    # the organisations' own records in source_xref still have a baseline: had they been three times as many,
    # the new persons' rows must not hide that most of them vanished
    shrunk = {**before, "source_xref": before["source_xref"] * 3}
    report = validate_tables(
        tables,
        previous={"row_counts": shrunk},
        settings=settings,
        grid_code_width=15,
        report_dir=tmp_path / "shrunk",
    )
    assert [(r.table, r.expectation) for r in report.results if not r.success] == [("source_xref", DRIFT)]
