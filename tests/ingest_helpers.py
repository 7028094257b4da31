"""Helpers for the connector tests: a throw-away workspace with feeds described in YAML."""

from __future__ import annotations

from pathlib import Path

import yaml

from gridhub.workspace import Workspace

PERSON_FEED = {
    "name": "police",
    "department": "公安",
    "source": {"kind": "file", "glob": "*.csv"},
    "entities": ["person"],
    "record_id": "编号",
    "columns": {
        "编号": "source_record_id",
        "姓名": "name",
        "身份证号": "id_number",
        "性别": "sex",
        "出生日期": "birth_date",
        "居住地址": "address",
        "面积": "house_area",
        "出租": "rented",
    },
    "value_maps": {"sex": {"男": "M", "女": "F", "1": "M", "2": "F"}},
    "date_formats": ["%Y-%m-%d", "%Y%m%d", "%Y年%m月%d日"],
    "required": ["name"],
}

HEADER = "编号,姓名,身份证号,性别,出生日期,居住地址,面积,出租"


def make_workspace(root: Path, *feeds: dict) -> Workspace:
    """A workspace folder with ``gridhub.yaml`` holding ``feeds`` (default: the police person feed)."""
    root.mkdir(parents=True, exist_ok=True)
    config = {"name": "test", "district_code": "440305", "feeds": list(feeds) or [PERSON_FEED]}
    (root / "gridhub.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return Workspace.from_env(root).ensure()


def feed(**overrides) -> dict:
    """The police feed with some keys replaced (``source`` is merged)."""
    out = {**PERSON_FEED, **{k: v for k, v in overrides.items() if k != "source"}}
    if "source" in overrides:
        out["source"] = {**PERSON_FEED["source"], **overrides["source"]}
    return out


def land(
    ws: Workspace, name: str, content: str | bytes, encoding: str = "gb18030", feed_name: str = "police"
) -> Path:
    """Drop a file into the feed's landing folder."""
    p = ws.landing_dir(feed_name) / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return p
