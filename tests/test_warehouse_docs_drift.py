"""docs/warehouse.md states the row-count drift rule the validation applies (warehouse.validate.build_checks)."""

from __future__ import annotations

from warehouse.docs import render_markdown
from warehouse.schema import TABLES
from warehouse.validate import build_checks

DRIFT = "expect_table_row_count_to_be_between"


def _drift_bullet() -> str:
    return render_markdown().split("- **Row-count drift**:", 1)[1].split("\n", 1)[0]


def _drift_checks(table: str, **kwargs) -> list:
    return [c for c in build_checks(table, grid_code_width=15, drift=0.5, **kwargs) if c.expectation == DRIFT]


def test_the_page_says_a_table_empty_in_the_previous_snapshot_gets_no_drift_check():
    assert "empty in the previous snapshot" in _drift_bullet()
    assert _drift_checks("person", previous_rows=0) == []
    assert _drift_checks("person", previous_rows=None) == []
    assert len(_drift_checks("person", previous_rows=1_000)) == 1


def test_the_page_names_the_tables_whose_bound_moves_up_by_the_rows_of_newly_arrived_types():
    bullet = _drift_bullet()
    assert "`source_xref`" in bullet and "move up by exactly their number" in bullet
    for name in TABLES:
        if name != "source_xref":
            assert f"In `{name}`" not in bullet
    (plain,) = _drift_checks("source_xref", previous_rows=1_000)
    (moved,) = _drift_checks("source_xref", previous_rows=1_000, new_rows=300)
    assert moved.kwargs["min_value"] == plain.kwargs["min_value"] + 300
    assert moved.kwargs["max_value"] == plain.kwargs["max_value"] + 300
    section = render_markdown().split("### `source_xref`", 1)[1].split("\n### ", 1)[0]
    assert "move both bounds up by their number" in section
