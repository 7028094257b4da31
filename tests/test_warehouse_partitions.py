"""The big warehouse tables are hive-partitioned by 街道/镇 (``street_code``): layout, manifest, determinism,
every reader, the validation gate, and the derivation of the code in the pipeline."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from synth_tables import synthetic_tables

from warehouse import PublishBlocked, connect, current_manifest, publish, read_table
from warehouse.privacy import layer_schema
from warehouse.read import table_files
from warehouse.schema import TABLES, UNKNOWN_STREET, street_codes
from warehouse.settings import WarehouseSettings

KEY = b"gridhub-test-key-0123456789abcdef"
STREETS = ("440106001", "440106002", "440106101")
PARTITIONED = [name for name, t in TABLES.items() if t.partition_by]


def _with_streets(t: pa.Table, every: int = 7) -> pa.Table:
    """``t`` with its rows spread over three 街道 and every ``every``-th row of unknown place."""
    values = [
        UNKNOWN_STREET if i % every == every - 1 else STREETS[i % len(STREETS)] for i in range(t.num_rows)
    ]
    i = t.schema.get_field_index("street_code")
    return t.set_column(i, t.schema.field(i), pa.array(values, pa.string()))


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    t = synthetic_tables(600, seed=3)
    for name in ("address", "person", "house", "person_house"):
        t[name] = _with_streets(t[name])
    return t  # organisation and facility keep the one street of the synthetic grids: no unknown rows


def _publish(wh: Path, tables: dict[str, pa.Table], run_id: str):
    return publish(
        wh, tables, run_id=run_id, lineage={}, settings=WarehouseSettings(), grid_code_width=15, hmac_key=KEY
    )


@pytest.fixture(scope="module")
def published(tables, tmp_path_factory) -> Path:
    wh = tmp_path_factory.mktemp("parts") / "warehouse"
    _publish(wh, tables, "r1")
    return wh


def _streets(t: pa.Table) -> dict[str, int]:
    return {v["values"]: v["counts"] for v in pc.value_counts(t.column("street_code")).to_pylist()}


# ---- the street code --------------------------------------------------------------------------------------
def test_street_code_comes_from_the_grid_else_the_division_else_unknown():
    grid = pa.array(["445399001001001", "445399101201001001", None, None, "12345"])
    division = pa.array(["445399002001", None, "445399102201", None, None])
    assert street_codes(grid, division).to_pylist() == [
        "445399001",
        "445399101",
        "445399102",
        UNKNOWN_STREET,
        UNKNOWN_STREET,
    ]
    assert street_codes(pa.chunked_array([["445399001001001"], [None]])).to_pylist() == [
        "445399001",
        UNKNOWN_STREET,
    ]


# ---- files and manifest -----------------------------------------------------------------------------------
def test_partitioned_tables_have_one_hive_folder_per_street(published, tables):
    for layer in ("shared", "restricted"):
        base = published / layer / "snapshots" / "r1"
        for name in TABLES:
            files = sorted(str(p.relative_to(base / name)) for p in (base / name).rglob("*.parquet"))
            if name not in PARTITIONED:
                assert files == ["part-00000.parquet"], name
                continue
            want = sorted({*_streets(tables[name]), UNKNOWN_STREET})  # the unknown folder is always there
            assert files == [f"street_code={v}/part-00000.parquet" for v in want], name
            for v in want:
                part = pq.read_table(base / name / f"street_code={v}" / "part-00000.parquet")
                assert "street_code" not in part.column_names  # in the folder name only
                assert part.num_rows == _streets(tables[name]).get(v, 0), (name, v)
                keys = part.select(list(TABLES[name].key))
                assert keys.equals(keys.sort_by([(k, "ascending") for k in TABLES[name].key])), (name, v)
    assert _streets(tables["facility"]) and UNKNOWN_STREET not in _streets(tables["facility"])
    empty = pq.read_table(
        published / "shared" / "snapshots" / "r1" / "facility" / f"street_code={UNKNOWN_STREET}"
    )
    assert empty.num_rows == 0


def test_the_manifest_lists_every_file_with_its_hash_and_rows(published, tables):
    m = current_manifest(published)
    for layer in ("shared", "restricted"):
        base = published / layer / "snapshots" / "r1"
        on_disk = {str(p.relative_to(base)) for p in base.rglob("*.parquet")}
        listed = [e for name in TABLES for e in m["tables"][name]["files"][layer]]
        assert {e["path"] for e in listed} == on_disk
        for e in listed:
            path = base / e["path"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == e["sha256"]
            assert pq.ParquetFile(path).metadata.num_rows == e["rows"] and path.stat().st_size == e["bytes"]
    for name in TABLES:
        assert m["tables"][name]["partition_by"] == list(TABLES[name].partition_by)
        assert sum(e["rows"] for e in m["tables"][name]["files"]["shared"]) == tables[name].num_rows


def test_the_same_tables_give_byte_identical_partitions(published, tables, tmp_path):
    shuffled = {n: t.take(pa.array(list(reversed(range(t.num_rows))), pa.int64())) for n, t in tables.items()}
    wh = tmp_path / "warehouse"
    again = _publish(wh, shuffled, "r1")
    first = current_manifest(published, "restricted")
    assert again.manifest["content_sha256"] == first["content_sha256"]
    for name in PARTITIONED:
        for layer in ("shared", "restricted"):
            assert again.manifest["tables"][name]["files"][layer] == first["tables"][name]["files"][layer]
            for e in first["tables"][name]["files"][layer]:
                a = published / layer / "snapshots" / "r1" / e["path"]
                assert a.read_bytes() == (wh / layer / "snapshots" / "r1" / e["path"]).read_bytes()
    assert _publish(wh, tables, "r1").reused


def test_an_empty_partitioned_table_is_one_empty_unknown_file(tables, tmp_path):
    wh = tmp_path / "warehouse"
    empty = {**tables, "facility": tables["facility"].slice(0, 0)}
    snap = _publish(wh, empty, "e1")
    (entry,) = snap.manifest["tables"]["facility"]["files"]["shared"]
    assert entry["path"] == f"facility/street_code={UNKNOWN_STREET}/part-00000.parquet" and entry["rows"] == 0
    got = read_table(wh, "facility")
    assert got.num_rows == 0 and got.schema.equals(layer_schema("facility"))


# ---- readers ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PARTITIONED)
def test_read_table_gives_the_rows_and_columns_of_one_file(published, tables, name):
    got = read_table(published, name, layer="restricted")
    assert got.schema.equals(layer_schema(name, "restricted"))  # street_code as text, in its schema position
    want = tables[name].sort_by([(k, "ascending") for k in TABLES[name].key])  # key order, as one file had
    assert got.select(want.column_names).equals(want.cast(got.select(want.column_names).schema))
    some = read_table(published, name, columns=["street_code"])
    assert some.column_names == ["street_code"] and some.column(0).equals(got.column("street_code"))


def test_plain_pyarrow_pandas_and_duckdb_read_the_partitioned_tables(published, tables):
    for name in PARTITIONED:
        folder = published / "shared" / "current" / name
        n = tables[name].num_rows
        streets = _streets(tables[name])

        t = ds.dataset(folder, partitioning="hive").to_table()
        assert t.num_rows == n and t.schema.field("street_code").type == pa.string(), name
        assert _streets(t) == streets
        assert pq.read_table(folder).num_rows == n
        df = pd.read_parquet(folder)
        assert len(df) == n and df["street_code"].astype(str).value_counts().to_dict() == streets
        rows = duckdb.sql(
            f"SELECT street_code, count(*) FROM read_parquet('{folder}/**/*.parquet', "
            "hive_partitioning=true) GROUP BY 1"
        ).fetchall()
        assert dict(rows) == streets and all(isinstance(v, str) for v, _ in rows)
        if not streets:  # a table with no rows in the sample (organisation_house: no company owners)
            continue
        street = min(streets)
        one = pd.read_parquet(folder / f"street_code={street}")  # a reader in one 街道 reads only its folder
        assert len(one) == streets[street]


def test_connect_views_have_the_schema_columns_in_order(published, tables):
    con = connect(published)
    for name in TABLES:
        cols = [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]
        assert cols == layer_schema(name).names, name
        assert con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0] == tables[name].num_rows
    by_street = dict(con.execute("SELECT street_code, count(*) FROM person GROUP BY 1").fetchall())
    assert by_street == _streets(tables["person"])
    joined = con.execute("SELECT count(*) FROM person p JOIN person_house h USING (person_id, street_code)")
    assert joined.fetchall()[0][0] == tables["person"].num_rows  # the same streets given to both


def test_table_files_ignore_hidden_folders(published, tmp_path):
    wh = tmp_path / "warehouse"
    shutil.copytree(published, wh, symlinks=True)
    hidden = wh / "shared" / "snapshots" / "r1" / "person" / ".street_code=440106001"
    hidden.mkdir()
    (hidden / "part-00000.parquet").write_bytes(b"not parquet")
    assert all(".street" not in str(p) for p in table_files(wh, "person"))
    assert read_table(wh, "person").num_rows == read_table(published, "person").num_rows


# ---- the gate ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["44010600", "4401060011", "../x", None])
def test_a_bad_street_code_blocks_the_publish(tables, tmp_path, bad):
    person = tables["person"]
    i = person.schema.get_field_index("street_code")
    values = person.column("street_code").to_pylist()
    values[5] = bad
    broken = {**tables, "person": person.set_column(i, person.schema.field(i), pa.array(values, pa.string()))}
    wh = tmp_path / "warehouse"
    with pytest.raises(PublishBlocked) as e:
        _publish(wh, broken, "bad")
    assert "person" in str(e.value) and "street_code" in str(e.value)
    assert current_manifest(wh) is None and not list(wh.rglob("*.parquet"))


# ---- the pipeline fills the code ----------------------------------------------------------------------------
def test_the_pipeline_derives_the_street_code_from_grid_or_address(workspace_copy):
    from connectors import ingest_feed
    from gridhub import pipeline
    from gridhub.workspace import Workspace

    ws = Workspace(workspace_copy)
    for feed in ws.config.feeds:
        ingest_feed(ws, feed.name).check_accounting()
    assert pipeline.run_all(ws)["run_id"] == current_manifest(ws.warehouse)["run_id"]
    wh = ws.warehouse
    address = read_table(wh, "address", layer="restricted").to_pandas()
    division = dict(zip(address["address_code"], address["division_code"], strict=True))
    for name in ("address", "house", "organisation", "facility"):
        t = read_table(wh, name, layer="restricted").to_pandas()
        want = [
            g[:9] if isinstance(g, str) else (division[a][:9] if isinstance(a, str) else UNKNOWN_STREET)
            for g, a in zip(t["grid_code"], t["address_code"], strict=True)
        ]
        assert t["street_code"].tolist() == want, name
    person = read_table(wh, "person", layer="restricted").to_pandas()
    house = read_table(wh, "house", layer="restricted").to_pandas()
    house_street = dict(zip(house["house_id"], house["street_code"], strict=True))
    with_grid = person["grid_code"].notna()
    assert (person.loc[with_grid, "street_code"] == person.loc[with_grid, "grid_code"].str[:9]).all()
    assert (
        person.loc[~with_grid, "street_code"]
        == person.loc[~with_grid, "residence_house_id"].map(house_street).fillna(UNKNOWN_STREET)
    ).all()
    ph = read_table(wh, "person_house", layer="restricted").to_pandas()
    assert (ph["street_code"] == ph["house_id"].map(house_street)).all()
    # a city district spans several 街道/镇: the person table has a folder for each
    folders = {p.name for p in (wh / "shared" / "current" / "person").iterdir()}
    assert len(folders) >= 3 and f"street_code={UNKNOWN_STREET}" in folders
    assert {f"street_code={v}" for v in person["street_code"]} <= folders
