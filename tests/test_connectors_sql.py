"""SQL feeds: incremental pulls by watermark, safe reruns, Chinese text and NULLs.

SQLite always runs (the embedded default); PostgreSQL and MariaDB run against the real servers on 127.0.0.1
(marked ``db``; skipped locally when down, failing under CI=true).
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from connectors_db import MARIADB_URL, PG_URL, require_server, unique_name
from ingest_helpers import make_workspace

from connectors import (
    SourceError,
    SourceUnavailable,
    ingest_feed,
    load_field_issues,
    load_quarantine,
    load_staging,
    raw_manifest,
)
from connectors.sql import WatermarkStore
from gridhub.ingest_cli import ingest_command

T0 = dt.datetime(2024, 3, 1, 8, 0, 0)
T1 = dt.datetime(2024, 3, 2, 9, 30, 0)
T2 = dt.datetime(2024, 3, 3, 10, 15, 0)


def sql_feed(
    url: str, table: str | None = None, query: str | None = None, watermark: str | None = "updated_at"
):
    source = {"kind": "sql", "url": url, "watermark": watermark, "batch_size": 2}
    source.update({"table": table} if table else {"query": query})
    return {
        "name": "hukou",
        "department": "公安",
        "source": source,
        "entities": ["person"],
        "record_id": "id",
        "columns": {
            "id": "source_record_id",
            "xm": "name",
            "sfzh": "id_number",
            "xb": "sex",
            "csrq": "birth_date",
            "mj": "house_area",
            "dz": "address",
        },
        "value_maps": {"sex": {"男": "M", "女": "F"}},
        "required": ["name"],
    }


def _create(engine: sa.Engine, table: str) -> sa.Table:
    md = sa.MetaData()
    t = sa.Table(
        table,
        md,
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("xm", sa.String(50)),
        sa.Column("sfzh", sa.String(18)),
        sa.Column("xb", sa.String(4)),
        sa.Column("csrq", sa.Date),
        sa.Column("mj", sa.Numeric(10, 2)),
        sa.Column("dz", sa.String(200)),
        sa.Column("updated_at", sa.DateTime),
    )
    md.create_all(engine)
    return t


FIRST = [
    {
        "id": "A1",
        "xm": "張三",
        "sfzh": "11010519491231002X",
        "xb": "男",
        "csrq": dt.date(1949, 12, 31),
        "mj": 85.5,
        "dz": "南山区桃源街道十二号楼",
        "updated_at": T0,
    },
    {
        "id": "A2",
        "xm": "李四",
        "sfzh": None,
        "xb": "女",
        "csrq": None,
        "mj": None,
        "dz": None,
        "updated_at": T1,
    },
    {
        "id": "A3",
        "xm": "王五",
        "sfzh": "440305199002021235",
        "xb": "未知",
        "csrq": dt.date(1990, 2, 2),
        "mj": 60,
        "dz": "大冲村３号",
        "updated_at": T1,
    },
]


def _check_first_pull(ws, f) -> None:
    # sex is optional: the unmapped value is dropped and reported, the row staged (connectors.rules)
    assert (f.rows_read, f.rows_staged, f.rows_quarantined) == (3, 3, 0)
    assert f.reasons == {} and f.field_issues == {"unmapped_value": 1}  # 未知 is not in the value map
    df = load_staging(ws, "hukou").set_index("source_record_id")
    assert df.loc["A1", "name"] == "張三" and df.loc["A1", "birth_date"] == dt.date(1949, 12, 31)
    assert df.loc["A1", "house_area"] == 85.5 and df.loc["A1", "sex"] == "M"
    assert pd.isna(df.loc["A2", "id_number"]) and pd.isna(df.loc["A2", "birth_date"])
    assert (
        pd.isna(df.loc["A3", "sex"]) and df.loc["A3", "name"] == "王五" and load_quarantine(ws, "hukou").empty
    )
    issues = load_field_issues(ws, "hukou")[["line", "source_record_id", "field", "original_value"]]
    assert issues.values.tolist() == [[3, "A3", "sex", "未知"]]


def _scenario(tmp_path, engine: sa.Engine, url: str, table: str, as_query: bool = False) -> None:
    t = _create(engine, table)
    try:
        with engine.begin() as conn:
            conn.execute(t.insert(), FIRST)
        if as_query:
            src = sql_feed(url, query=f"SELECT * FROM {table} WHERE id LIKE 'A%'")
        else:
            src = sql_feed(url, table=table)
        ws = make_workspace(tmp_path / "ws", src)

        first = ingest_feed(ws, "hukou")
        first.check_accounting()
        [f] = first.files
        _check_first_pull(ws, f)
        state = WatermarkStore(ws, "hukou").read()
        assert state["ids_at_value"] == ["A2", "A3"]

        # late arrival at the same timestamp as the newest row, a change, and a new row
        with engine.begin() as conn:
            conn.execute(
                t.insert(),
                [
                    {
                        "id": "A4",
                        "xm": "赵六",
                        "xb": "男",
                        "updated_at": T1,
                        "dz": None,
                        "sfzh": None,
                        "csrq": None,
                        "mj": None,
                    }
                ],
            )
            conn.execute(t.update().where(t.c.id == "A1").values(xm="張三丰", updated_at=T2))
            conn.execute(
                t.insert(),
                [
                    {
                        "id": "A5",
                        "xm": "钱七",
                        "xb": "女",
                        "updated_at": T2,
                        "dz": "福田区",
                        "sfzh": None,
                        "csrq": dt.date(2000, 1, 1),
                        "mj": 1024.25,
                    }
                ],
            )
        second = ingest_feed(ws, "hukou")
        [g] = second.files
        extract = pq.read_table(ws.raw / g.sha256[:2] / g.sha256)
        assert sorted(extract["id"].to_pylist()) == ["A1", "A4", "A5"]  # only new or changed rows
        assert g.rows_read == 3 and g.rows_staged == 3
        df = load_staging(ws, "hukou").set_index("source_record_id")
        assert sorted(df.index) == ["A1", "A2", "A3", "A4", "A5"]
        assert df.loc["A1", "name"] == "張三丰" and df.loc["A5", "house_area"] == 1024.25

        # nothing changed: a third pull brings nothing
        assert ingest_feed(ws, "hukou").files == []
        m = raw_manifest(ws, "hukou")
        assert (m["kind"] == "sql_extract").all() and len(m) == 2
        assert all(
            ("query" if as_query else f"table {table}") in o and o.startswith(url.split(":")[0])
            for o in m["origin"]
        )
    finally:
        t.drop(engine)
        engine.dispose()


@pytest.mark.parametrize("as_query", [False, True], ids=["table", "query"])
def test_sqlite_incremental_pull(tmp_path, as_query):
    url = f"sqlite:///{tmp_path / 'dept.db'}"
    _scenario(tmp_path, sa.create_engine(url), url, "people", as_query)


@pytest.mark.db
def test_postgresql_incremental_pull(tmp_path):
    engine = require_server(PG_URL)
    _scenario(tmp_path, engine, PG_URL, unique_name())


@pytest.mark.db
def test_mariadb_incremental_pull(tmp_path):
    engine = require_server(MARIADB_URL)
    _scenario(tmp_path, engine, MARIADB_URL, unique_name())


@pytest.mark.db
def test_postgresql_query_source(tmp_path):
    engine = require_server(PG_URL)
    _scenario(tmp_path, engine, PG_URL, unique_name(), as_query=True)


def test_rerun_after_crash_pulls_nothing_twice(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'dept.db'}"
    engine = sa.create_engine(url)
    t = _create(engine, "people")
    with engine.begin() as conn:
        conn.execute(t.insert(), FIRST)
    ws = make_workspace(tmp_path / "ws", sql_feed(url, table="people"))

    def crash(*args, **kwargs):
        raise RuntimeError("power cut after staging, before the watermark was saved")

    monkeypatch.setattr(WatermarkStore, "save", crash)
    with pytest.raises(RuntimeError):
        ingest_feed(ws, "hukou")
    monkeypatch.undo()
    assert WatermarkStore(ws, "hukou").read() is None
    rerun = ingest_feed(ws, "hukou")
    [f] = rerun.files
    assert f.skipped_duplicate  # the same rows again: recognised by the extract's hash, not staged twice
    assert WatermarkStore(ws, "hukou").read()["ids_at_value"] == ["A2", "A3"]
    assert len(raw_manifest(ws, "hukou")) == 1
    assert ingest_feed(ws, "hukou").files == []
    assert len(load_staging(ws, "hukou")) == 3  # A3's unmapped sex no longer costs the row


def test_query_source_and_full_extract_without_watermark(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'dept.db'}"
    engine = sa.create_engine(url)
    t = _create(engine, "people")
    with engine.begin() as conn:
        conn.execute(t.insert(), FIRST)
    query = "SELECT id, xm, sfzh, xb, csrq, mj, dz FROM people WHERE xb <> '未知';"
    ws = make_workspace(tmp_path / "ws", sql_feed(url, query=query, watermark=None))
    [f] = ingest_feed(ws, "hukou").files
    assert f.rows_read == 2 and f.rows_staged == 2
    again = ingest_feed(ws, "hukou")
    assert again.files[0].skipped_duplicate  # unchanged table, identical full extract: a no-op
    assert ingest_command(ws, "hukou", None) == 0
    assert "identical" in capsys.readouterr().out


def test_unreachable_database_is_a_clear_source_error(tmp_path, capsys):
    url = "postgresql+psycopg2://gridhub:secret@127.0.0.1:1/none"
    ws = make_workspace(tmp_path / "ws", sql_feed(url, table="people"))
    with pytest.raises(SourceError) as err:
        ingest_feed(ws, "hukou")
    assert "hukou" in str(err.value) and "secret" not in str(err.value)
    assert isinstance(err.value, SourceUnavailable)  # may pass: the DAG task is retried
    assert ingest_command(ws, "hukou", None) == 2
    shown = capsys.readouterr()
    assert shown.err.startswith("gridhub: ") and "hukou" in shown.err
    assert "Traceback" not in shown.out + shown.err and "secret" not in shown.out + shown.err
    assert json.dumps(WatermarkStore(ws, "hukou").read()) == "null"


@pytest.mark.parametrize(
    ("table", "query", "watermark", "words"),
    [
        ("no_such_table", None, "updated_at", "no_such_table"),
        (None, "SELEC broken", None, "syntax"),
        ("people", None, "no_such_column", "no_such_column"),
    ],
)
def test_source_mistakes_are_source_errors(tmp_path, table, query, watermark, words):
    url = f"sqlite:///{tmp_path / 'dept.db'}"
    engine = sa.create_engine(url)
    _create(engine, "people")
    ws = make_workspace(tmp_path / "ws", sql_feed(url, table=table, query=query, watermark=watermark))
    with pytest.raises(SourceError) as err:
        ingest_feed(ws, "hukou")
    assert "hukou" in str(err.value) and words in str(err.value)
    assert not isinstance(err.value, SourceUnavailable)  # for a person to fix: not retried
    assert WatermarkStore(ws, "hukou").read() is None


def test_extract_without_the_record_id_column_fails_the_feed_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'dept.db'}"
    engine = sa.create_engine(url)
    t = _create(engine, "people")
    with engine.begin() as conn:
        conn.execute(t.insert(), FIRST)
    ws = make_workspace(tmp_path / "ws", sql_feed(url, query="SELECT xm, xb FROM people", watermark=None))
    from connectors import FeedFileError

    with pytest.raises(FeedFileError) as err:
        ingest_feed(ws, "hukou")
    assert err.value.problems[0].code == "missing_columns"
    assert raw_manifest(ws, "hukou")["status"].tolist() == ["failed"]
