"""The resolve-and-publish steps on a small sample district, without Airflow."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from gridhub import pipeline
from warehouse.schema import TABLES, arrow_schema


def test_steps_write_what_the_next_step_reads(ingested):
    ws = ingested
    run_id = pipeline.new_run_id(ws)
    m = pipeline.prepare_mentions(ws, run_id)
    assert m["mentions"]["person"] > 300 and m["mentions"]["organisation"] > 10
    b = pipeline.bind_addresses(ws, run_id)
    assert b["rate"] > 0.85
    r = pipeline.resolve_entities(ws, run_id)
    assert 0 < r["entities"]["person"]["entities"] < m["mentions"]["person"]
    t = pipeline.build_tables(ws, run_id)
    for name in TABLES:
        table = pq.read_table(ws.work_dir(run_id) / "tables" / f"{name}.parquet")
        assert table.schema.equals(arrow_schema(name), check_metadata=False), name
    assert t["rows"]["person"] == r["entities"]["person"]["entities"]
    p = pipeline.publish_run(ws, run_id)
    assert p["run_id"] == run_id


def test_same_inputs_same_run_and_same_tables(ingested):
    from warehouse import read_table

    ws = ingested
    first = pipeline.run_all(ws)
    persons = read_table(ws.warehouse, "person", layer="restricted")
    xref = read_table(ws.warehouse, "source_xref", layer="restricted")
    second = pipeline.run_all(ws)
    assert first["run_id"] == second["run_id"]
    assert read_table(ws.warehouse, "person", layer="restricted").equals(persons)
    assert read_table(ws.warehouse, "source_xref", layer="restricted").equals(xref)


def test_duplicated_person_id_blocks_publish_and_keeps_current(ingested):
    import pyarrow as pa

    from warehouse import PublishBlocked, current_manifest

    ws = ingested
    good = pipeline.run_all(ws)["run_id"]
    # new input → new run id; then break the person table before publishing
    (ws.state / "review_decisions.csv").write_text("record_key_l,record_key_r,decision\n", encoding="utf-8")
    run_id = pipeline.new_run_id(ws)
    assert run_id != good
    for step in (
        pipeline.prepare_mentions,
        pipeline.bind_addresses,
        pipeline.resolve_entities,
        pipeline.build_tables,
    ):
        step(ws, run_id)
    path = ws.work_dir(run_id) / "tables" / "person.parquet"
    persons = pq.read_table(path)
    pq.write_table(pa.concat_tables([persons, persons.slice(0, 1)]), path)
    with pytest.raises(PublishBlocked) as e:
        pipeline.publish_run(ws, run_id)
    assert "person" in str(e.value) and "person_id" in str(e.value)
    assert current_manifest(ws.warehouse)["run_id"] == good
