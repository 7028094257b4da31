"""DuckDB views carry the schema's docs: ``connect`` and ``sql_views`` comment every view and column."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from synth_tables import publish_synthetic, synthetic_tables

from warehouse import connect, sql_views
from warehouse.privacy import layer_schema
from warehouse.schema import TABLES, Layer


@pytest.fixture(scope="module")
def wh(tmp_path_factory) -> Path:
    wh = tmp_path_factory.mktemp("comments") / "warehouse"
    publish_synthetic(wh, synthetic_tables(120, seed=3))
    return wh


def _comments(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str | None]:
    rows = con.sql(
        "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE NOT internal"
    ).fetchall()
    return {(t, c): comment for t, c, comment in rows}


@pytest.mark.parametrize("layer", list(Layer))
def test_every_view_column_carries_its_field_doc(wh, layer):
    found = _comments(connect(wh, layer=layer))
    for name in TABLES:
        for f in layer_schema(name, layer):
            assert found[(name, f.name)] == f.metadata[b"doc"].decode("utf-8"), (name, f.name)


def test_view_and_column_docs_read_as_written(wh):
    con = connect(wh)
    person_id = con.sql(
        "SELECT comment FROM duckdb_columns() WHERE table_name = 'person' AND column_name = 'person_id'"
    ).fetchall()
    assert person_id == [("Stable gridhub person id (P + 12 hex).",)]
    views = dict(con.sql("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal").fetchall())
    assert views["grid"] == TABLES["grid"].doc and "网格" in views["grid"]
    assert "Masked in shared" in _comments(con)[("person", "phone")]


def test_the_pasteable_sql_holds_the_comments_too(wh):
    con = duckdb.connect()
    con.execute(sql_views(wh))
    assert _comments(con)[("grid", "grid_code")] == TABLES["grid"].column("grid_code").doc
