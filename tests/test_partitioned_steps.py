"""Steps that work partition by partition (issue 19) write exactly what the whole-table code wrote, list their
partitions, and log their progress."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gridhub import partitioned, pipeline
from gridhub.workspace import Workspace
from warehouse.progress import Progress
from warehouse.schema import ENTITY_TYPES


def _whole_mentions(ws: Workspace, folder: Path) -> dict[str, pa.Table]:
    """The mention files as one ``build_mentions`` call over every feed's whole staging writes them (into
    ``folder``), read back."""
    from connectors import load_staging
    from matching.mentions import build_mentions

    staged = {f.name: load_staging(ws, f.name) for f in ws.config.feeds}
    m = build_mentions(staged, ws.config.feeds)
    frames = {**m.by_type(), "links": m.links, "issues": m.issues}
    for name, df in frames.items():
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), folder / f"{name}.parquet")
    return {name: pq.read_table(folder / f"{name}.parquet") for name in frames}


def test_mentions_in_small_batches_are_the_whole_tables_mentions(ingested, monkeypatch, tmp_path):
    ws = ingested
    monkeypatch.setattr(partitioned, "STAGED_ROWS_PER_BATCH", 97)  # many batches per feed
    run_id = pipeline.new_run_id(ws)
    result = pipeline.prepare_mentions(ws, run_id)
    folder = ws.work_dir(run_id) / "mentions"
    whole = _whole_mentions(ws, tmp_path)
    for name, expected in whole.items():
        got = pq.read_table(folder / f"{name}.parquet")
        assert got.num_rows == expected.num_rows, name
        assert got.equals(expected, check_metadata=True), name
        # read back as the next steps read it: the same pandas dtypes
        assert got.to_pandas().dtypes.equals(expected.to_pandas().dtypes), name
    listed = json.loads((folder / "partitions.json").read_text(encoding="utf-8"))
    assert listed["key"] == "feed, file, batch"
    assert sum(p["staged_rows"] for p in listed["partitions"]) == sum(result["staged_rows"].values())
    assert max(p["staged_rows"] for p in listed["partitions"]) <= 97
    assert sum(p["person"] for p in listed["partitions"]) == result["mentions"]["person"]
    assert not (folder / "parts").exists()


def test_a_column_with_no_value_in_the_first_part_keeps_its_type():
    first = pa.Table.from_pandas(pd.DataFrame({"k": ["a"], "rel": pd.Series([None], dtype=object)}))
    second = pa.Table.from_pandas(pd.DataFrame({"k": ["b"], "rel": ["居住"]}))
    assert pa.types.is_null(first.schema.field("rel").type)
    schema = partitioned.unified_schema([first.schema, second.schema])
    assert schema.field("rel").type == second.schema.field("rel").type
    # pandas describes the column as writing both rows at once does
    both = pa.Table.from_pandas(pd.DataFrame({"k": ["a", "b"], "rel": [None, "居住"]}), preserve_index=False)
    columns = json.loads(schema.metadata[b"pandas"])["columns"]
    assert columns == json.loads(both.schema.metadata[b"pandas"])["columns"]


def test_binding_in_small_partitions_binds_as_one_call(ingested, monkeypatch):
    from gridhub.reference import address_library
    from matching.address import bind_address_fields

    ws = ingested
    run_id = pipeline.new_run_id(ws)
    pipeline.prepare_mentions(ws, run_id)
    mentions = ws.work_dir(run_id) / "mentions"
    frames = {t: pq.read_table(mentions / f"{t}.parquet").to_pandas() for t in ENTITY_TYPES}
    library = address_library(ws)
    whole, whole_bindings = bind_address_fields(frames, library, per_partition=10**9)
    small, small_bindings = bind_address_fields(frames, library, per_partition=7)
    for t in ENTITY_TYPES:
        pd.testing.assert_frame_equal(small[t], whole[t])
    pd.testing.assert_frame_equal(small_bindings, whole_bindings)

    import matching.address.binding as binding

    monkeypatch.setattr(binding, "TEXTS_PER_PARTITION", 50)
    pipeline.bind_addresses(ws, run_id)
    bound = ws.work_dir(run_id) / "bound"
    pd.testing.assert_frame_equal(
        pq.read_table(bound / "address_bindings.parquet").to_pandas(), whole_bindings.reset_index(drop=True)
    )
    person = pq.read_table(bound / "person.parquet").to_pandas()
    pd.testing.assert_frame_equal(person, whole["person"])
    listed = json.loads((bound / "partitions.json").read_text(encoding="utf-8"))
    assert listed["key"] == "distinct address text"
    parts = listed["partitions"]
    assert len(parts) > 2 and all(p["texts"] <= 50 for p in parts)
    assert all(a["last"] < b["first"] for a, b in zip(parts, parts[1:], strict=False))  # disjoint, in order


def test_progress_of_partitions_logs_rows_and_time_left_and_ends_after_the_last(caplog):
    from warehouse.progress import LogDisplay, set_display

    now = [0.0]
    previous = set_display(LogDisplay(interval=5.0))
    try:
        with caplog.at_level(logging.INFO, logger="warehouse.progress"):
            progress = Progress("bind_addresses", 3, total_rows=300, clock=lambda: now[0])
            now[0] = 10.0
            progress.advance("a", 100, 90)  # 10 s after the start line: logged
            now[0] = 11.0
            progress.advance("b", 100, 80)  # 1 s after the last line: not logged
            now[0] = 20.0
            progress.advance("c", 100, 70)  # the last partition ends the task
    finally:
        set_display(previous)
    lines = [r.getMessage() for r in caplog.records if r.name == "warehouse.progress"]
    assert lines[0] == "bind_addresses: started (300 rows)"
    assert "33%" in lines[1] and "100/300 rows" in lines[1] and "90 rows_out" in lines[1]
    assert "ETA 20 s" in lines[1]  # 10 s for 100 of 300 rows: 20 s for the other 200
    assert "done in" in lines[-1] and "240 rows_out" in lines[-1] and "3 partitions" in lines[-1]
    assert "done in 20 s" in lines[-1] and not any("[b]" in line for line in lines)  # b: within 5 s


def test_table_files_answer_rows_schema_and_columns_from_the_files(tmp_path):
    from warehouse.tablefiles import TableFiles, table_column, table_rows, table_schema

    tables = {
        "a": pa.table({"k": ["x", "y", None]}),
        "b": pa.table({"k": [1, 2], "v": ["p", "q"]}),
    }
    for name, t in tables.items():
        pq.write_table(t, tmp_path / f"{name}.parquet")
    files = TableFiles(tmp_path, ["a", "b"])
    assert list(files) == ["a", "b"] and len(files) == 2
    for name, t in tables.items():
        assert table_rows(files, name) == table_rows(tables, name) == t.num_rows
        assert table_schema(files, name).equals(t.schema)
        assert table_column(files, name, "k").equals(table_column(tables, name, "k"))
        assert files[name].equals(t)
    assert files["b"] is files["b"]  # the last table read is kept; asking for another lets it go
    with pytest.raises(KeyError):
        files["c"]
