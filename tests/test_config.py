from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gridhub.config import ConfigError, load_config
from gridhub.workspace import Workspace, safe_run_id

BASE = """
name: 测试区
district_code: "445399"
feeds:
  - name: gongan_population
    department: 公安
    source: {kind: file, glob: "*.csv", encoding: gb18030}
    entities: [person]
    record_id: 记录编号
    columns: {记录编号: source_record_id, 姓名: name, 公民身份号码: id_number, 性别: sex}
    value_maps: {sex: {男: M, 女: F}}
"""


def write(tmp_path, text):
    p = tmp_path / "gridhub.yaml"
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_valid_config_loads(tmp_path):
    cfg = load_config(write(tmp_path, BASE))
    feed = cfg.feed("gongan_population")
    assert feed.fields == ["source_record_id", "name", "id_number", "sex"]
    assert feed.source.encoding == "gb18030"
    assert feed.contact is None
    linked = BASE.replace("department: 公安", "department: 公安\n    contact: mailto:shuju@gongan.example")
    assert (
        load_config(write(tmp_path, linked)).feed("gongan_population").contact
        == "mailto:shuju@gongan.example"
    )


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            ("姓名: name", "姓名: nme"),
            "feed 'gongan_population': columns map to unknown canonical fields ['nme']",
        ),
        (("value_maps: {sex:", "value_maps: {ethnicity:"), "value_maps names field 'ethnicity'"),
        (("- name: gongan_population", "- name: Gongan-Population"), "lower-case ascii"),
        (('kind: file, glob: "*.csv"', 'kind: ftp, glob: "*.csv"'), "feed 'gongan_population': source"),
        (("entities: [person]", "entities: [people]"), "feed 'gongan_population': entities"),
        (  # an owner link Airflow would refuse (no scheme) is refused here, with an example
            ("department: 公安", "department: 公安\n    contact: shuju@gongan.example"),
            "must be a mailto: or http(s):// link",
        ),
    ],
)
def test_invalid_config_names_feed_and_key(tmp_path, change, expected):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, BASE.replace(*change)))
    assert expected in str(e.value)


def test_secrets_come_from_environment(tmp_path, monkeypatch):
    text = (
        BASE
        + """
  - name: minzheng_db
    department: 民政
    source: {kind: sql, url: "postgresql://${MZ_USER}:${MZ_PASSWORD}@127.0.0.1/test", table: t}
    entities: [person]
    record_id: id
    columns: {id: source_record_id, xm: name}
"""
    )
    monkeypatch.setenv("MZ_USER", "reader")
    monkeypatch.setenv("MZ_PASSWORD", "s3cret")
    cfg = load_config(write(tmp_path, text))
    assert cfg.feed("minzheng_db").source.url == "postgresql://reader:s3cret@127.0.0.1/test"
    monkeypatch.delenv("MZ_PASSWORD")
    with pytest.raises(ConfigError, match="MZ_PASSWORD"):
        load_config(write(tmp_path, text))


def test_sql_source_needs_table_or_query(tmp_path):
    text = BASE.replace(
        'source: {kind: file, glob: "*.csv", encoding: gb18030}', "source: {kind: sql, url: 'sqlite://'}"
    )
    with pytest.raises(ConfigError, match="exactly one of 'table' or 'query'"):
        load_config(write(tmp_path, text))


def test_missing_workspace_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("GRIDHUB_WORKSPACE", raising=False)
    with pytest.raises(ConfigError, match="GRIDHUB_WORKSPACE"):
        Workspace.from_env(None)
    with pytest.raises(ConfigError, match="no workspace configuration"):
        load_config(tmp_path)


def test_run_ids_are_path_safe():
    assert (
        safe_run_id("manual__2026-11-23T05:03:06.761418+00:00") == "manual__2026-11-23T05_03_06.761418_00_00"
    )


def test_reference_files_are_a_path_or_a_mapping(tmp_path):
    text = (
        BASE
        + """
reference:
  addresses: /data/地址.csv
  grids: {path: grids.csv, columns: {grid_name: name, level: grid_type}, encoding: gb18030}
"""
    )
    ref = load_config(write(tmp_path, text)).reference
    assert ref.addresses.path == "/data/地址.csv" and ref.addresses.columns == {}
    assert (
        ref.grids.columns == {"grid_name": "name", "level": "grid_type"} and ref.grids.encoding == "gb18030"
    )
    assert ref.divisions.path == "reference/divisions.csv"
    assert Path(ref.addresses) == Path("/data/地址.csv")  # still usable where a path string was expected


@pytest.mark.parametrize(
    "grids, expected",
    [
        (
            "{path: g.csv, columns: {grid_name: nme}}",
            "reference.grids.columns maps to unknown columns ['nme']",
        ),
        ("{path: g.csv, columns: {a: name, b: name}}", "maps several headers to ['name']"),
        ("{path: g.csv, encoding: latin-1}", "reference.grids.encoding"),
    ],
)
def test_invalid_reference_mapping_names_the_key(tmp_path, grids, expected):
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        load_config(write(tmp_path, BASE + f"\nreference:\n  grids: {grids}\n"))
