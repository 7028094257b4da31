"""Golden records (matching.er.golden) are exactly what the earlier pandas implementation gave
(tests/golden_reference.py): same rows, values, dtypes, field_sources, sources and collected lists, on
records built to hit every tie-break (priority, date, length, frequency, record_key), missing and null
values, keys that need JSON escaping, records without an assignment and an entity type with none."""

from __future__ import annotations

import golden_reference
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import synth_er as synth

from matching.er import EntitySettings, golden_records, resolve
from matching.er.golden import empty_golden


def _mentions(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    keys = [
        f"feed{i % 3}:{i}" + ('"q' if i % 17 == 0 else "") + ("\\b" if i % 23 == 0 else "") for i in range(n)
    ]
    dates = pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 5, n), unit="D")
    df = pd.DataFrame(
        {
            "record_key": pd.array(keys, dtype="string"),
            "feed": pd.array([f"feed{i % 3}" for i in range(n)], dtype="string"),
            "source_record_id": pd.array([str(i) for i in range(n)], dtype="string"),
            "priority": pd.array(rng.integers(0, 3, n), dtype="Int64"),
            "record_date": pd.Series(dates).mask(rng.random(n) < 0.2),
            "org_name": pd.array(rng.choice(["甲公司", "甲有限公司", "乙厂", "", None], n), dtype="string"),
            "org_phone": pd.array(rng.choice(["1", "22", "333", "U", None], n), dtype="string"),
            "established": pd.Series(
                pd.to_datetime("2000-01-01") + pd.to_timedelta(rng.integers(0, 3, n), unit="D")
            ).mask(rng.random(n) < 0.3),
            "house_area": pd.array(np.round(rng.random(n) * 3, 1), dtype="Float64"),
            "rented": pd.array(rng.choice([True, False], n), dtype="boolean"),
            "bind_score": rng.choice([0.5, 1.0, np.nan], n),
        }
    )
    ents = pd.array([f"O{e:012x}" for e in rng.integers(0, n // 4, n)], dtype="string")
    assignments = pd.DataFrame({"record_key": df["record_key"], "entity_id": ents})
    return df, assignments.iloc[: n - 5]  # the last records have no entity (left out of golden records)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(
    "surv",
    [
        {},
        {
            "rename": {"org_name": "name"},
            "collect": {"former_names": "org_name"},
            "fields": {"org_phone": ["frequent", "recent"], "org_name": ["complete", "priority"]},
            "null_values": {"org_phone": ["U"]},
            "exclude": ["rented"],
        },
    ],
)
def test_golden_same_as_reference(seed, surv):
    df, assignments = _mentions(600, seed)
    settings = EntitySettings.from_config("organisation", {"organisation": {"survivorship": surv}})
    new = golden_records(df, assignments, settings)
    old = golden_reference.golden_records(df, assignments, settings)
    pd.testing.assert_frame_equal(new, old)
    assert pa.Table.from_pandas(new).schema.equals(pa.Table.from_pandas(old).schema)


def test_golden_same_as_reference_on_resolved_persons():
    people = synth.persons(800, seed=5).drop(columns=["true_id"])
    settings = EntitySettings.from_config("person", {"person": {"u_sample_pairs": 100_000}})
    res = resolve(people, settings, run_id="g")
    new = golden_records(people, res.assignments, settings)
    pd.testing.assert_frame_equal(new, golden_reference.golden_records(people, res.assignments, settings))
    empty = empty_golden(people, settings)
    assert list(empty.columns) == list(new.columns) and len(empty) == 0


def test_golden_chunks_are_the_golden_records_cut(tmp_path):
    """Golden records made a few entities at a time (as resolve_entities writes them, issue #19) are the same
    rows and column types, and written one after another the same Parquet table as written at once."""
    from gridhub.pipeline import _write
    from gridhub.resolve_workers import _write_chunks
    from matching.er.golden import chunkable, golden_chunks

    people = synth.persons(800, seed=5).drop(columns=["true_id"])
    # as read from Parquet: text in Arrow (`str` or `string`), dates and numbers in numpy
    people = people.assign(**{c: pd.to_datetime(people[c]) for c in ("birth_date", "record_date")})
    settings = EntitySettings.from_config("person", {"person": {"u_sample_pairs": 100_000}})
    assert chunkable(people, settings)
    res = resolve(people, settings, run_id="g")
    whole = golden_records(people, res.assignments, settings)
    chunks = list(golden_chunks(people, res.assignments, settings, chunk=97))
    assert len(chunks) == -(-len(whole) // 97) > 3
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)
    _write(whole, tmp_path / "whole.parquet")
    _write_chunks(iter(chunks), tmp_path / "chunks.parquet")
    a, b = (
        pa.parquet.read_table(tmp_path / "whole.parquet"),
        pa.parquet.read_table(tmp_path / "chunks.parquet"),
    )
    assert a.equals(b) and a.schema.equals(b.schema, check_metadata=True)
