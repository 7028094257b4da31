"""warehouse.build_files.write_tables: the tables built one at a time from a run's files (DuckDB queries, entity
and relation tables in chunks) are exactly the tables assemble_tables builds in memory from the same inputs."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import warehouse.build_files
import warehouse.build_sql
from gridhub.pipeline import build_inputs
from warehouse.build import assemble_tables
from warehouse.build_files import write_tables
from warehouse.schema import TABLES


def test_tables_written_one_at_a_time_equal_the_tables_built_in_memory(
    published_sample, tmp_path, monkeypatch
):
    ws = published_sample
    (run_id,) = [p.name for p in ws.root.joinpath("work").iterdir() if (p / "tables").is_dir()]
    files, options = build_inputs(ws, run_id)

    def read(path):
        return pq.read_table(path).to_pandas()

    in_memory = assemble_tables(
        mentions={t: read(p) for t, p in files.mentions.items()},
        assignments={t: read(p) for t, p in files.assignments.items()},
        golden={t: read(p) for t, p in files.golden.items()},
        links=read(files.links),
        issues=read(files.issues),
        bindings=read(files.bindings),
        **options,
    )
    # small chunks and batches, so the entity and relation tables are built in many chunks and the DuckDB
    # tables in many batches
    monkeypatch.setattr(warehouse.build_files, "CHUNK_ROWS", 37)
    monkeypatch.setattr(warehouse.build_sql, "BATCH_ROWS", 101)
    rows = write_tables(tmp_path / "tables", files, **options)
    assert rows == {name: in_memory[name].num_rows for name in TABLES}
    assert rows["person"] > 37 * 3 and rows["source_xref"] > 101 * 3  # several chunks, several batches
    assert rows["person_house"] > 37 * 3 and rows["house"] > 37 * 3
    for name in TABLES:
        written = pq.read_table(tmp_path / "tables" / f"{name}.parquet")
        # the file the in-memory table gives (as build_tables wrote it before: a Parquet list reads back with
        # its items named "element")
        pq.write_table(in_memory[name], tmp_path / "expected.parquet")
        expected = pq.read_table(tmp_path / "expected.parquet")
        assert written.schema.equals(expected.schema, check_metadata=True), name
        assert written.equals(expected), name
        # and what the run itself published: the same rows
        assert written.equals(pq.read_table(ws.step_dir(run_id, "tables") / f"{name}.parquet")), name


def test_grouped_never_splits_the_rows_of_one_key():
    from warehouse.build_sql import grouped

    data = pa.table({"k": ["a", "a", "b", "b", "b", "c", "d", "d"], "v": list(range(8))})
    for size in (1, 2, 3, 100):
        tables = list(grouped(data.to_batches(max_chunksize=2), "k", size))
        assert pa.concat_tables(tables).equals(data)
        firsts = [set(t.column("k").to_pylist()) for t in tables]
        assert all(not (x & y) for i, x in enumerate(firsts) for y in firsts[i + 1 :]), size
    assert list(grouped(iter([]), "k", 2)) == []


def test_keyed_stream_takes_the_rows_up_to_a_key_then_the_rest():
    from warehouse.build_sql import KeyedStream

    data = pa.table({"_id": ["a", "c", "c", "e", "g"], "v": [1, 2, 3, 4, 5]})
    stream = KeyedStream(iter(data.to_batches(max_chunksize=2)), "_id")
    assert stream.upto("b").column("v").to_pylist() == [1]
    assert stream.upto("b").num_rows == 0
    assert stream.upto("d").column("v").to_pylist() == [2, 3]
    assert stream.upto(None).column("v").to_pylist() == [4, 5]
    assert stream.upto(None) is None


def test_sorted_batches_streams_a_sorted_file_and_sorts_another_nulls_last_ties_in_file_order(tmp_path):
    from warehouse.build_sql import in_key_order, sorted_batches

    data = pa.table({"k": ["b", None, "a", "b", "a"], "v": [1, 2, 3, 4, 5]})
    pq.write_table(data, tmp_path / "x.parquet")
    assert not in_key_order(tmp_path / "x.parquet", "k")
    batches = list(sorted_batches(tmp_path / "x.parquet", "k", 2))
    assert all(b.schema.equals(data.schema) for b in batches)
    got = pa.concat_tables(batches)
    assert got.column("k").to_pylist() == ["a", "a", "b", "b", None]
    assert got.column("v").to_pylist() == [3, 5, 1, 4, 2]
    pq.write_table(got.slice(0, 4), tmp_path / "sorted.parquet")
    assert in_key_order(tmp_path / "sorted.parquet", "k")
    assert pa.concat_tables(sorted_batches(tmp_path / "sorted.parquet", "k", 3)).equals(got.slice(0, 4))


def test_bindings_tables_keep_the_first_binding_of_each_key_as_pandas_did():
    from warehouse.build import QUERIES, to_arrow
    from warehouse.build_sql import Inputs, run_batches

    bindings = pd.DataFrame(
        {
            "feed": ["f", "f", "f", "e", "f"],
            "source_record_id": ["2", "1", "2", "9", "1"],
            "entity_type": ["person"] * 5,
            "field": ["address"] * 5,
            "address_code": ["A", "B", "C", None, "D"],
            "status": ["matched", "unmatched", "ambiguous", "unmatched", "matched"],
        }
    )
    inputs = Inputs(frames={"bindings": bindings})
    for name, rows in (
        ("address_binding", bindings),
        ("address_review", bindings[bindings["status"] != "matched"]),
    ):
        query, names = QUERIES[name](inputs)
        got = pa.concat_tables(
            [to_arrow(name, b.to_pandas(), sort=False) for b in run_batches(query, inputs, names, 2)]
        )
        key = [c for c in TABLES[name].key if c in bindings.columns]
        assert got.equals(to_arrow(name, rows.drop_duplicates(key))), name
