"""``id_history``: merges, splits and retirements of entity ids, published in both layers and accumulated
across runs (a downstream system that skipped a snapshot still sees every change since it last read)."""

from __future__ import annotations

import pandas as pd

from gridhub import pipeline
from gridhub.workspace import Workspace
from warehouse import read_table
from warehouse.id_history import accumulate_id_history


def _history(ws: Workspace, layer: str) -> pd.DataFrame:
    return read_table(ws.warehouse, "id_history", layer=layer).to_pandas()


def _decide(ws: Workspace, pair: list[str], decision: str) -> None:
    (ws.state / "review_decisions.csv").write_text(
        f"record_key_l,record_key_r,decision\n{pair[0]},{pair[1]},{decision}\n", encoding="utf-8"
    )


def _two_facilities(ws: Workspace, run_id: str) -> tuple[list[str], list[str]]:
    """Record keys and ids of two facilities of one type that the first run kept apart."""
    resolved, bound = ws.work_dir(run_id) / "resolved", ws.work_dir(run_id) / "bound"
    ids = pd.read_parquet(resolved / "facility_assignments.parquet")
    kinds = pd.read_parquet(bound / "facility.parquet", columns=["record_key", "facility_type"])
    x = ids.merge(kinds, on="record_key").sort_values("record_key")
    kind = x.groupby("facility_type")["entity_id"].nunique().idxmax()
    two = x[x["facility_type"] == kind].drop_duplicates("entity_id").head(2)
    assert len(two) == 2
    return two["record_key"].tolist(), two["entity_id"].tolist()


def test_merge_then_split_accumulate_in_both_layers(ingested):
    ws = ingested
    first = pipeline.run_all(ws)["run_id"]
    assert _history(ws, "restricted").empty and _history(ws, "shared").empty
    keys, (id_a, id_b) = _two_facilities(ws, first)

    # a reviewer says the two facilities are one: the next run merges their ids
    _decide(ws, keys, "match")
    second = pipeline.run_all(ws)["run_id"]
    merged = _history(ws, "restricted")
    assert len(merged) == 1
    row = merged.iloc[0]
    assert (row["entity_type"], row["reason"], row["run_id"], row["run_seq"]) == (
        "facility",
        "merge",
        second,
        1,
    )
    assert {row["old_id"], row["new_id"]} == {id_a, id_b} and row["records"] == 1
    kept = row["new_id"]

    # then that they are two after all: the split is added, the merge stays (accumulated, not replaced)
    _decide(ws, keys, "non_match")
    third = pipeline.run_all(ws)["run_id"]
    history = _history(ws, "restricted")
    assert history["reason"].tolist() == ["merge", "split"]
    split = history.iloc[1]
    assert (split["old_id"], split["run_id"], split["run_seq"]) == (kept, third, 2)
    assert split["new_id"] not in (id_a, id_b)  # an id once issued is never issued again
    # entity ids are not personal data: the shared layer publishes the same rows
    pd.testing.assert_frame_equal(_history(ws, "shared"), history)

    # a rerun of the published run id publishes the same table (no duplicate rows, same run_seq)
    assert pipeline.run_all(ws, third)["run_id"] == third
    pd.testing.assert_frame_equal(_history(ws, "restricted"), history)


def test_accumulate_numbers_runs_and_keeps_changes_once():
    change = {"entity_type": "person", "reason": "merge", "records": 2}
    run_1 = pd.DataFrame([{**change, "old_id": "Pa", "new_id": "Pb", "run_id": "run-1"}])
    run_2 = pd.DataFrame([{**change, "old_id": "Pc", "new_id": None, "reason": "retired", "run_id": "run-2"}])
    after_1 = accumulate_id_history(None, run_1)
    assert after_1["run_seq"].tolist() == [1]
    after_2 = accumulate_id_history(after_1, run_2)
    assert after_2["old_id"].tolist() == ["Pa", "Pc"] and after_2["run_seq"].tolist() == [1, 2]
    # run-2 again (a rerun): same rows, same sequence; a run without changes leaves the table as it is
    pd.testing.assert_frame_equal(accumulate_id_history(after_2, run_2), after_2)
    pd.testing.assert_frame_equal(accumulate_id_history(after_2, pd.DataFrame()), after_2)


def test_validation_takes_retired_ids_and_refuses_a_change_recorded_twice(tmp_path):
    from synth_tables import synthetic_tables

    from warehouse.build import to_arrow
    from warehouse.settings import WarehouseSettings
    from warehouse.validate import validate_tables

    tables = synthetic_tables(100, seed=5)
    change = {"entity_type": "house", "records": 0, "run_id": "run-1", "run_seq": 1}
    rows = [
        {**change, "old_id": "Ha", "new_id": None, "reason": "retired"},
        {**change, "old_id": "Hb", "new_id": None, "reason": "retired"},
        {**change, "old_id": "Hc", "new_id": "Hd", "reason": "merge", "records": 2},
    ]
    settings = WarehouseSettings(row_count_drift=0.5)

    def failures(history: list[dict]) -> set[tuple[str, str]]:
        tables["id_history"] = to_arrow("id_history", pd.DataFrame(history))
        report = validate_tables(
            tables, previous=None, settings=settings, grid_code_width=15, report_dir=tmp_path
        )
        return {(r.table, r.expectation) for r in report.results if not r.success}

    assert failures(rows) == set()
    assert failures([*rows, rows[2]]) == {("id_history", "expect_compound_columns_to_be_unique")}
    assert failures([{**rows[0], "reason": "renamed"}]) == {
        ("id_history", "expect_column_values_to_be_in_set")
    }
