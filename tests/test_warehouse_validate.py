"""The validation gate: checks derived from the schema, Great Expectations results, check digits, Data Docs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from synth_tables import credit_codes, replace_column, resident_ids, synthetic_tables

from warehouse.checkchars import credit_code_check_char, resident_id_check_char
from warehouse.codes import credit_code_valid, resident_id_valid
from warehouse.schema import TABLES
from warehouse.settings import WarehouseSettings
from warehouse.validate import (
    DRIFT_EXEMPT,
    SchemaMismatch,
    build_checks,
    grid_code_regex,
    row_count_bounds,
    validate_tables,
)

SETTINGS = WarehouseSettings(row_count_drift=0.5)


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return synthetic_tables(600, seed=3)


# ---- check digits ------------------------------------------------------------------------------------------
def test_resident_id_check_digits_agree_with_the_scalar_reference():
    ids = resident_ids(np.random.default_rng(1), 2_000).to_pylist()
    assert all(resident_id_check_char(v[:17]) == v[17] for v in ids)
    assert pc.all(resident_id_valid(pa.array(ids))).as_py()
    wrong = [v[:17] + ("0" if v[17] != "0" else "1") for v in ids[:200]]
    assert not pc.any(resident_id_valid(pa.array(wrong))).as_py()


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("11010519491231002X", True),  # the GB 11643 worked example
        ("11010519491231002x", False),  # canonical tables store upper-case X
        ("１１０１０５１９４９１２３１００２Ｘ", False),  # full-width: not normalised, so not valid here
        ("11010519491231002", False),  # 17 digits
        ("110105194912310021", False),  # wrong check digit
        ("110105491231002", False),  # legacy 15-digit form: the warehouse holds 18-character numbers
        (None, None),
    ],
)
def test_resident_id_valid_cases(value, valid):
    assert resident_id_valid(pa.array([value], pa.string())).to_pylist() == [valid]


def test_credit_code_check_characters():
    assert credit_code_check_char("91350100M000100Y4") == "3"
    assert credit_code_valid(
        pa.array(["91350100M000100Y43", "91350100M000100Y44", "91350100M000100I43", None])
    ).to_pylist() == [True, False, False, None]
    codes = credit_codes(np.random.default_rng(2), 500).to_pylist()
    assert all(credit_code_check_char(c[:17]) == c[17] for c in codes)
    assert pc.all(credit_code_valid(pa.array(codes))).as_py()


# ---- checks from the schema --------------------------------------------------------------------------------
def test_checks_are_derived_from_the_schema():
    person = {(c.expectation, c.column) for c in build_checks("person", grid_code_width=15)}
    assert ("expect_column_values_to_not_be_null", "person_id") in person
    assert ("expect_column_values_to_be_unique", "person_id") in person
    assert ("expect_column_values_to_be_valid_resident_id", "id_number") in person
    assert ("expect_column_values_to_reference_keys", "residence_house_id") in person
    assert ("expect_column_values_to_reference_keys", "grid_code") in person
    assert ("expect_column_values_to_be_in_set", "sex") in person
    assert not any(e == "expect_table_row_count_to_be_between" for e, _ in person)  # first publish: no drift
    ph = build_checks("person_house", grid_code_width=15)
    compound = [c for c in ph if c.expectation == "expect_compound_columns_to_be_unique"]
    assert compound and compound[0].kwargs["column_list"] == ["person_id", "house_id", "relation"]
    org = {(c.expectation, c.column) for c in build_checks("organisation", grid_code_width=15)}
    assert ("expect_column_values_to_be_valid_credit_code", "credit_code") in org
    # every reference and every key of every table is covered
    for t in TABLES.values():
        checks = build_checks(t, grid_code_width=15, previous_rows=100, drift=0.5)
        refs = {c.column for c in checks if c.expectation == "expect_column_values_to_reference_keys"}
        assert refs == {c.name for c in t.columns if c.references}
        drift = [c for c in checks if c.expectation == "expect_table_row_count_to_be_between"]
        assert bool(drift) == (t.name not in DRIFT_EXEMPT)


def test_grid_code_format_follows_the_configured_width():
    import re

    rx = re.compile(grid_code_regex(12))
    assert rx.match("440106001001") and rx.match("440106001001003")
    assert (
        not rx.match("44010600100")
        and not rx.match("4401060010010")
        and not rx.match("４４０１０６００１００１")
    )
    regexes = {
        c.kwargs.get("regex")
        for c in build_checks("grid", grid_code_width=12)
        if c.column in ("grid_code", "parent_grid_code")
    }
    assert grid_code_regex(12) in regexes


@pytest.mark.parametrize("drift", [0.1, 0.5, 1.0, 3.0])
def test_row_count_bounds_never_allow_a_table_to_empty(drift):
    low, high = row_count_bounds(100_000, drift)
    assert low >= 1
    assert low <= 100_000 <= high
    assert row_count_bounds(0, drift)[0] == 0  # an empty table may stay empty
    assert row_count_bounds(4, drift) == (1, 4 + max(10, int(4 * drift)))  # absolute slack of 10 rows


# ---- Great Expectations ------------------------------------------------------------------------------------
def test_valid_tables_pass_and_every_suite_is_in_the_data_docs(tables, tmp_path):
    report = validate_tables(
        tables, previous=None, settings=SETTINGS, grid_code_width=15, report_dir=tmp_path
    )
    assert report.success, report.failures
    assert report.failures == []
    assert {r.table for r in report.results} == set(TABLES)
    assert len(report.results) > 60
    page = report.data_docs_path.read_text(encoding="utf-8")
    assert report.data_docs_path == tmp_path / "index.html"
    for name in TABLES:
        assert f'id="suite-{name}"' in page
    assert "<style>" in page and "http" not in page.split("</style>")[0]  # CSS inline, nothing from a CDN
    assert (tmp_path / "validation.json").exists()


def test_failures_name_table_expectation_column_and_masked_examples(tables, tmp_path):
    person = tables["person"]
    ids = person.column("id_number").to_pylist()
    bad_id = ids[0][:17] + ("1" if ids[0][17] != "1" else "2")
    population = person.column("population_type").to_pylist()
    population[5] = "戶籍"  # 繁体: not in the value set 户籍/流动/境外/未知
    broken = dict(tables)
    broken["person"] = replace_column(
        replace_column(person, "id_number", [bad_id, *ids[1:]]), "population_type", population
    )
    report = validate_tables(
        broken, previous=None, settings=SETTINGS, grid_code_width=15, report_dir=tmp_path
    )
    assert not report.success
    by_kind = {(r.table, r.expectation, r.column): r for r in report.results if not r.success}
    assert set(by_kind) == {
        ("person", "expect_column_values_to_be_valid_resident_id", "id_number"),
        ("person", "expect_column_values_to_be_in_set", "population_type"),
    }
    id_msg = by_kind[("person", "expect_column_values_to_be_valid_resident_id", "id_number")].message()
    assert "person" in id_msg and "id_number" in id_msg and "1 of 600" in id_msg
    assert bad_id not in id_msg and bad_id[:3] + "*" * 11 + bad_id[-4:] in id_msg  # PII masked in messages
    assert "戶籍" in by_kind[("person", "expect_column_values_to_be_in_set", "population_type")].message()
    page = report.data_docs_path.read_text(encoding="utf-8")
    assert bad_id not in page and "failed" in page


def test_row_count_drift_against_the_previous_manifest(tables, tmp_path):
    previous = {
        "row_counts": {
            **{n: t.num_rows for n, t in tables.items()},
            "organisation": 10_000,
            "quarantine": 5_000,
        }
    }
    report = validate_tables(
        tables, previous=previous, settings=SETTINGS, grid_code_width=15, report_dir=tmp_path
    )
    failed = [(r.table, r.expectation) for r in report.results if not r.success]
    assert failed == [("organisation", "expect_table_row_count_to_be_between")]  # quarantine is exempt
    msg = report.failures[0]
    assert "organisation" in msg and "10000 rows" in msg and "15 rows" in msg


def test_missing_table_or_wrong_columns_raise(tables, tmp_path):
    missing = {k: v for k, v in tables.items() if k != "grid"}
    with pytest.raises(SchemaMismatch, match="grid"):
        validate_tables(missing, previous=None, settings=SETTINGS, grid_code_width=15, report_dir=tmp_path)
    wrong = dict(tables)
    wrong["house"] = tables["house"].drop_columns(["rented"])
    with pytest.raises(SchemaMismatch, match="house"):
        validate_tables(wrong, previous=None, settings=SETTINGS, grid_code_width=15, report_dir=tmp_path)
