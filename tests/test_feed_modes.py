"""Feed modes: ``full`` (each file is the whole table) and ``delta`` (adds and updates, a deletion marker)."""

from __future__ import annotations

import pytest
from ingest_helpers import HEADER, feed, land, make_workspace
from pydantic import ValidationError

from connectors import ingest_feed, load_quarantine, load_staging, raw_manifest, staged_files
from connectors.feeds import Feed
from gridhub.config import ConfigError

ROW = {
    "A1": "A1,张三,110101199001011237,男,1990-01-01,北京市东城区1号,80,否",
    "A2": "A2,李四,110101199001011238,女,1991-02-02,北京市东城区2号,70,否",
    "A3": "A3,王五,110101199001011239,男,1992-03-03,北京市东城区3号,60,是",
}


def _table(*ids: str, header: str = HEADER) -> str:
    return "\n".join([header, *(ROW[i] for i in ids)])


def _ids(ws) -> list[str]:
    return sorted(load_staging(ws, "police")["source_record_id"])


def _ingest(ws, name: str, content: str) -> None:
    land(ws, name, content)
    result = ingest_feed(ws, "police")
    assert not [f for f in result.files if f.error], result.files


def test_full_feed_keeps_only_the_records_of_its_latest_file(tmp_path):
    ws = make_workspace(tmp_path / "ws", feed(mode="full"))
    _ingest(ws, "1.csv", _table("A1", "A2", "A3"))
    assert _ids(ws) == ["A1", "A2", "A3"]
    _ingest(ws, "2.csv", _table("A1", "A3"))
    assert _ids(ws) == ["A1", "A3"]  # A2 left the table: no longer current
    latest = raw_manifest(ws, "police").sort_values("seq")["sha256"].iloc[-1]
    assert [p.stem for p in staged_files(ws, "police")] == [latest]  # what a run reads
    # the first table sent again is the current one again (not skipped as "staged before")
    _ingest(ws, "3.csv", _table("A1", "A2", "A3"))
    assert _ids(ws) == ["A1", "A2", "A3"]
    assert sorted(raw_manifest(ws, "police")["status"]) == ["staged", "staged"]


def test_full_feed_quarantine_is_that_of_its_latest_file(tmp_path):
    ws = make_workspace(tmp_path / "ws", feed(mode="full"))
    _ingest(ws, "1.csv", _table("A1") + "\nA9,,110101199001011230,男,1990-01-01,东城区,1,否")
    assert len(load_quarantine(ws, "police")) == 1
    _ingest(ws, "2.csv", _table("A1", "A2"))
    assert len(load_quarantine(ws, "police")) == 0


def test_delta_feed_adds_and_updates_by_default(tmp_path):
    ws = make_workspace(tmp_path / "ws", feed())
    assert ws.feed("police").mode == "delta"
    _ingest(ws, "1.csv", _table("A1", "A2"))
    _ingest(ws, "2.csv", _table("A3"))
    assert _ids(ws) == ["A1", "A2", "A3"]


def test_delta_deletion_marker_removes_a_record_and_a_later_row_brings_it_back(tmp_path):
    header = HEADER + ",注销标志"
    spec = feed(deletion_marker={"column": "注销标志", "values": ["1", "是"]})
    ws = make_workspace(tmp_path / "ws", spec)
    _ingest(ws, "1.csv", "\n".join([header, ROW["A1"] + ",0", ROW["A2"] + ",", ROW["A3"] + ",0"]))
    assert _ids(ws) == ["A1", "A2", "A3"]
    # a deletion row carries only its id (name is required, yet the row is not quarantined); full-width １
    _ingest(ws, "2.csv", "\n".join([header, "A2,,,,,,,,１", "A3,,,,,,,,是"]))
    assert _ids(ws) == ["A1"]
    assert len(load_quarantine(ws, "police")) == 0
    assert "_deleted" not in load_staging(ws, "police").columns
    _ingest(ws, "3.csv", "\n".join([header, ROW["A2"] + ",0"]))
    assert _ids(ws) == ["A1", "A2"]


def test_deletion_row_without_a_record_id_is_still_quarantined(tmp_path):
    header = HEADER + ",注销标志"
    ws = make_workspace(tmp_path / "ws", feed(deletion_marker={"column": "注销标志", "values": ["1"]}))
    _ingest(ws, "1.csv", "\n".join([header, ROW["A1"] + ",0", ",,,,,,,,1"]))
    assert _ids(ws) == ["A1"]
    assert raw_manifest(ws, "police")["rows_quarantined"].tolist() == [1]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"mode": "full", "deletion_marker": {"column": "注销标志", "values": ["1"]}},
            "deletion_marker is for",
        ),
        ({"mode": "snapshot"}, "mode"),
        ({"deletion_marker": {"column": "注销标志", "values": []}}, "values"),
        ({"deletion_marker": {"column": "注销标志", "values": [" "]}}, "must not be empty"),
        ({"deletion_marker": {"column": "编号", "values": ["1"]}}, "is the record id"),
    ],
)
def test_mode_config_is_checked_with_a_clear_message(overrides, message):
    with pytest.raises(ValidationError, match=message):
        Feed.model_validate(feed(**overrides))


def test_full_sql_feed_with_a_watermark_is_refused(tmp_path):
    spec = feed(
        source={"kind": "sql", "url": "sqlite://", "table": "t", "watermark": "updated_at"}, mode="full"
    )
    spec["source"].pop("glob")
    with pytest.raises(ValidationError, match="mode: full with a watermark"):
        Feed.model_validate(spec)
    with pytest.raises(ConfigError, match="feed 'police': mode: full with a watermark"):
        make_workspace(tmp_path / "ws", spec)


def test_full_database_feed_follows_the_table(tmp_path):
    import sqlalchemy as sa
    from test_connectors_sql import FIRST, _create, sql_feed

    url = f"sqlite:///{tmp_path / 'dept.db'}"
    engine = sa.create_engine(url)
    t = _create(engine, "people")
    with engine.begin() as conn:
        conn.execute(t.insert(), FIRST)
    spec = {**sql_feed(url, query="SELECT * FROM people ORDER BY id", watermark=None), "mode": "full"}
    ws = make_workspace(tmp_path / "ws", spec)

    def current() -> list[str]:
        ingest_feed(ws, "hukou")
        return sorted(load_staging(ws, "hukou")["source_record_id"])

    assert current() == ["A1", "A2", "A3"]
    with engine.begin() as conn:
        conn.execute(t.delete().where(t.c.id == "A2"))
    assert current() == ["A1", "A3"]  # deleted in the source: no longer current
    with engine.begin() as conn:
        conn.execute(t.insert(), [r for r in FIRST if r["id"] == "A2"])
    assert current() == ["A1", "A2", "A3"]  # the table is as it was: the first extract is current again
    assert len(raw_manifest(ws, "hukou")) == 2
    engine.dispose()
