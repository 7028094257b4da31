"""warehouse.build: one registered builder per canonical table, and what assemble_tables makes of its inputs."""

from __future__ import annotations

import pandas as pd
import pytest

from warehouse.build import BUILDERS, QUERIES, assemble_tables, builds, builds_query
from warehouse.schema import ENTITY_ID_COLUMN, ENTITY_TYPES, TABLES, UNKNOWN_STREET, arrow_schema


def test_every_table_has_exactly_one_builder():
    assert set(BUILDERS) | set(QUERIES) == set(TABLES)
    assert not set(BUILDERS) & set(QUERIES)
    assert {"source_xref", "address_binding", "address_review"} <= set(QUERIES)  # streamed from DuckDB


def test_a_builder_must_name_a_table_of_the_schema_and_be_the_only_one():
    with pytest.raises(KeyError, match="no such table"):
        builds("no_such_table")(lambda assembly: pd.DataFrame())
    with pytest.raises(ValueError, match="two builders"):
        builds("person")(lambda assembly: pd.DataFrame())
    assert BUILDERS["person"].__name__ == "build_person"
    with pytest.raises(ValueError, match="two builders"):
        builds_query("source_xref")(lambda inputs: ("SELECT 1", []))
    with pytest.raises(ValueError, match="two builders"):
        builds("source_xref")(lambda assembly: pd.DataFrame())


def test_entity_id_columns_are_the_keys_of_the_entity_tables():
    by_type = {
        "person": "person_id",
        "organisation": "org_id",
        "house": "house_id",
        "facility": "facility_id",
    }
    assert by_type == ENTITY_ID_COLUMN
    assert all(TABLES[t].key == (ENTITY_ID_COLUMN[t],) for t in ENTITY_TYPES)


def _empty(*columns: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})


def test_reference_frames_alone_give_the_address_and_grid_tables():
    """With no feed resolved yet, the reference data is published and every other table is empty."""
    addresses = pd.DataFrame(
        {
            "address_code": ["A1", "A2"],
            "division_code": ["440106001001", "440106002001"],
            "standard_text": ["天河路1号", "天河路2号"],
            "grid_code": ["440106001001001", ""],
            "lon": ["113.3", ""],
            "lat": ["23.1", ""],
        }
    )
    grids = pd.DataFrame({"grid_code": ["440106001001001"], "name": ["网格1"], "valid_to": [""]})
    mention_cols = (
        "record_key",
        "feed",
        "source_record_id",
        "raw_sha256",
        "line",
        "org_name",
        "address_code",
    )
    tables = assemble_tables(
        addresses=addresses,
        grids=grids,
        priority={},
        mentions={t: _empty(*mention_cols) for t in ENTITY_TYPES},
        assignments={t: _empty("record_key", "entity_id", "score", "method") for t in ENTITY_TYPES},
        golden={
            t: _empty("entity_id", "name", "id_number", "address_code", "grid_code") for t in ENTITY_TYPES
        },
        links=_empty("kind", "from_key", "to_key", "relation", "feed", "record_date"),
        issues=_empty("feed", "source_record_id", "field", "reason_code", "original_value"),
        bindings=_empty("feed", "source_record_id", "field", "status"),
        quarantine=_empty(*arrow_schema("quarantine").names),
    )
    assert list(tables) == list(TABLES)
    assert all(tables[n].schema.equals(arrow_schema(n), check_metadata=True) for n in TABLES)
    address = tables["address"].to_pydict()
    assert address["street_code"] == ["440106001", "440106002"]  # from the grid, else from the division
    assert address["lon"] == [113.3, None] and address["grid_code"] == ["440106001001001", None]
    assert tables["grid"].to_pydict()["valid_to"] == [None]
    assert {n for n in TABLES if tables[n].num_rows} == {"address", "grid", "grid_metrics"}
    metrics = tables["grid_metrics"].to_pandas()  # every grid of the reference and its places, all zero
    assert metrics[metrics["level"] == "grid"]["code"].tolist() == ["440106001001001"]
    assert (metrics["households"] == 0).all() and metrics["binding_rate"].isna().all()
    assert UNKNOWN_STREET not in address["street_code"]
