"""Helpers for the review-queue tests (issue 17): reviewer accounts, and a sample district with one uncertain
pair and one unbound address in 东湖社区第1网格 (grid 445399001002001, whose micro-grid the records lie in).

The pair: a 公安 resident living in that grid, and a 民政 record with the same name, sex and address but no ID
number, no birth date and another phone, which the model scores in the review band. The address: a 民政
record at 金域华府9栋 (the estate has one building, 1栋), ambiguous with that building as its candidate.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from test_portal import portal_hashes

GRID = "445399001002001"  # 东湖社区第1网格 (its micro-grid 445399001002001001 holds the records)
OTHER_GRID = "445399002001001"  # 滨江社区第1网格
REVIEWER_PASSWORDS = {
    "东湖网格员": "donghu-Review-2026",
    "滨江网格员": "binjiang-Review-2026",
    "民政复核员": "minzheng-Review-2026",
    "错码网格员": "typo-Review-2026",
}
UNBOUND_TEXT = "广东省云江市青石区东湖街道东湖社区东湖二路10号金域华府9栋2单元402室"
BUILDING = "B44539900100200001"
GONGAN = "gongan_population"
MINZHENG = "minzheng_assistance"

_HASHES: dict[str, str] = {}


def add_reviewers(ws_dir: Path) -> None:
    """Add the reviewers (two grids', 民政's data steward, one with a grid code that does not exist) to the ``portal:`` section (after ``test_portal.add_portal_section``)."""
    from gridhub.portal import hash_password

    if not _HASHES:
        _HASHES.update({n: hash_password(p) for n, p in REVIEWER_PASSWORDS.items()})
    portal_hashes()
    cfg_path = ws_dir / "gridhub.yaml"
    raw = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    raw["portal"]["reviewers"] = {
        "东湖网格员": {"password_hash": _HASHES["东湖网格员"], "grid": GRID},
        "滨江网格员": {"password_hash": _HASHES["滨江网格员"], "grid": OTHER_GRID, "role": "grid_staff"},
        "民政复核员": {"password_hash": _HASHES["民政复核员"], "department": "民政", "role": "data_steward"},
        "错码网格员": {"password_hash": _HASHES["错码网格员"], "grid": "445399999999999"},  # no such grid
    }
    cfg_path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _gongan_resident(ws_dir: Path) -> pd.Series:
    """A 公安 resident whose current address binds into :data:`GRID`, whose name is unique in the sample."""
    from gridhub.reference import address_library
    from gridhub.workspace import Workspace
    from matching.address import match_addresses

    path = next((ws_dir / "landing" / GONGAN).glob("*.csv"))
    ga = pd.read_csv(path, dtype=str, encoding="gb18030", on_bad_lines="skip", keep_default_na=False)
    ga = ga[ga["公民身份号码"].str.fullmatch(r"\d{17}[\dX]") & ga["联系电话"].str.fullmatch(r"1\d{10}")]
    ga = ga[~ga["姓名"].duplicated(keep=False) & ga["性别"].isin(["男", "女"])].reset_index(drop=True)
    bound = match_addresses(address_library(Workspace(ws_dir)), ga["现住址"].astype("string"))
    inside = (bound["status"] == "matched") & bound["grid_code"].str.startswith(GRID).fillna(False)
    assert inside.any(), "the sample should have residents in 东湖社区第1网格"
    return ga[inside.to_numpy()].iloc[0]


def inject_cases(ws_dir: Path) -> dict[str, str]:
    """Add the pair's 民政 record and the unbound address's 民政 record to 民政's landing file; return the
    record keys (``pair_l``, ``pair_r``, ``address``) and the 公安 resident's ``id_number`` and ``phone``."""
    person = _gongan_resident(ws_dir)
    path = next((ws_dir / "landing" / MINZHENG).glob("*.csv"))
    text = path.read_bytes().decode("utf-8-sig").rstrip("\n")
    phone = "13700000000" if person["联系电话"] != "13700000000" else "13700000001"
    rows = [
        ["MZTEST0001", person["姓名"], person["性别"], "", "", "低保", phone, person["现住址"], "东湖社区", "2025-03-01"],
        ["MZTEST0002", "欧阳复核", "女", "", "1960-05-05", "高龄津贴", "13600000000", UNBOUND_TEXT, "东湖社区",
         "2024-11-01"],
    ]  # fmt: skip
    text += "\n" + "\n".join(",".join(r) for r in rows) + "\n"
    path.write_bytes(text.encode("utf-8-sig"))
    return {
        "pair_l": f"{GONGAN}:{person['记录编号']}",
        "pair_r": f"{MINZHENG}:MZTEST0001",
        "address": f"{MINZHENG}:MZTEST0002",
        "id_number": person["公民身份号码"],
        "phone": person["联系电话"],
    }


def ingest_and_run(ws_dir: Path) -> dict:
    """Ingest what is in every feed's landing folder and run the pipeline in this process."""
    from connectors import ingest_feed
    from gridhub import pipeline
    from gridhub.workspace import Workspace

    ws = Workspace(ws_dir)
    for feed in ws.config.feeds:
        ingest_feed(ws, feed.name)
    return pipeline.run_all(ws)


def entity_of(ws_dir: Path, entity_type: str, record_key: str) -> str:
    """The entity id the published run gave ``record_key``."""
    from gridhub.workspace import Workspace
    from warehouse.read import current_run_id

    ws = Workspace(ws_dir)
    run = current_run_id(ws.warehouse)
    assert run is not None
    a = pd.read_parquet(ws.work_dir(run) / "resolved" / f"{entity_type}_assignments.parquet")
    return str(a.set_index("record_key").at[record_key, "entity_id"])


def binding_of(ws_dir: Path, text: str) -> pd.DataFrame:
    """The published run's bindings of the address ``text``."""
    from gridhub.pipeline import bindings_path
    from gridhub.workspace import Workspace
    from warehouse.read import current_run_id

    ws = Workspace(ws_dir)
    run = current_run_id(ws.warehouse)
    assert run is not None
    b = pd.read_parquet(bindings_path(ws, run))
    return b[b["address_text"] == text]


def two_residents(ws_dir: Path, exclude: str) -> list[str]:
    """Record keys of two 公安 residents of :data:`GRID` with two different valid ID numbers (hard evidence
    that they are two people), from the published run's mentions."""
    from gridhub.workspace import Workspace
    from warehouse.read import current_run_id

    ws = Workspace(ws_dir)
    run = current_run_id(ws.warehouse)
    assert run is not None
    m = pd.read_parquet(ws.work_dir(run) / "bound" / "person.parquet")
    m = m[(m["feed"] == GONGAN) & m["grid_code"].str.startswith(GRID).fillna(False) & m["id_number"].notna()]
    m = m[m["record_key"] != exclude].drop_duplicates("id_number")
    assert len(m) >= 2, "the sample should have two residents in 东湖社区第1网格"
    return sorted(m["record_key"].head(2))
