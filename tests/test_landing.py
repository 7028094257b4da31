"""Handing files in (``gridhub.landing.land_file`` and ``gridhub land``): safe names, atomic writes, the flag.

Fast unit tests without Airflow; the Airflow side (the flag starting the DAG) is tests/test_file_trigger.py.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from connectors.text import safe_file_name
from gridhub.assets import ready_dir, ready_flag_name
from gridhub.landing import (
    META_DIR,
    LandingError,
    land_file,
    landed_files,
    original_name_of,
)
from gridhub.workspace import Workspace

FEED = "shichang_orgs"
GENERATED = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{16}\.csv$")


@pytest.fixture
def ws(workspace_copy: Path) -> Workspace:
    """The sample workspace with the orgs feed's landing folder emptied (its file kept aside)."""
    w = Workspace(workspace_copy)
    for p in w.landing_dir(FEED).glob("*.csv"):
        p.rename(workspace_copy / f"orig_{FEED}.csv")
    return w


@pytest.fixture
def orgs_csv(ws: Workspace) -> Path:
    return ws.root / f"orig_{FEED}.csv"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


def test_original_names_lose_control_and_bidi_characters() -> None:
    for given in ("\x00\x1b.bashrc", "实有人口\n_202506.csv", "名单\u202egnp.csv"):
        shown = safe_file_name(given)
        assert shown.isprintable() and "\u202e" not in shown, (given, shown)


def test_long_original_names_keep_their_extension() -> None:
    name = safe_file_name("人" * 400 + ".xlsx")
    assert len(name) <= 255 and name.endswith(".xlsx")


def test_land_bytes_under_a_generated_name_with_sidecar_and_flag(ws: Workspace, orgs_csv: Path) -> None:
    data = orgs_csv.read_bytes()
    evil = "..\\..\\..\\etc\\市場主體（２０２５）.csv"
    dest = land_file(ws, FEED, data, evil)

    assert dest.parent == ws.landing_dir(FEED)
    assert GENERATED.match(dest.name), dest.name
    assert dest.read_bytes() == data
    meta = json.loads((dest.parent / META_DIR / f"{dest.name}.json").read_text(encoding="utf-8"))
    assert meta["original_name"] == "市場主體（２０２５）.csv"
    assert meta["feed"] == FEED and meta["size"] == len(data) and meta["sha256"].startswith(dest.name[23:39])
    assert original_name_of(dest) == "市場主體（２０２５）.csv"
    flag = ready_dir(ws.root) / ready_flag_name(FEED)
    assert flag.is_file() and flag.parent == ws.landing / "_ready"
    # nothing escaped the landing folder, no temporary file is left behind
    assert not (ws.root.parent / "etc").exists()
    assert _leftovers(ws.landing) == []
    assert [f.original_name for f in landed_files(ws, FEED)] == ["市場主體（２０２５）.csv"]


def test_land_from_a_path_and_the_same_content_twice(ws: Workspace, orgs_csv: Path) -> None:
    first = land_file(ws, FEED, orgs_csv, orgs_csv.name)
    again = land_file(ws, FEED, str(orgs_csv), "又一次.csv")
    assert again == first
    assert [p.name for p in ws.landing_dir(FEED).glob("*.csv")] == [first.name]
    other = land_file(ws, FEED, orgs_csv.read_bytes() + "\r\n".encode("gb18030"), "第二份.csv")
    assert other != first and other.name > first.name  # generated names sort in arrival order
    assert [f.original_name for f in landed_files(ws, FEED)] == [orgs_csv.name, "第二份.csv"]


def test_full_width_and_upper_case_extensions_are_read_as_csv(ws: Workspace, orgs_csv: Path) -> None:
    dest = land_file(ws, FEED, orgs_csv, "市场主体．ＣＳＶ")
    assert dest.suffix == ".csv"
    assert original_name_of(dest) == "市场主体．ＣＳＶ"


@pytest.mark.parametrize(
    ("feed", "name", "data", "message"),
    [
        ("no_such_feed", "a.csv", b"x", "no feed named 'no_such_feed'"),
        (FEED, "市场主体.xlsx", b"PK\x03\x04", "would not be read"),
        (FEED, "市场主体", b"x", "would not be read"),
        (FEED, "空文件.csv", b"", "is empty"),
    ],
)
def test_refusals_name_the_problem_and_leave_nothing(ws: Workspace, feed, name, data, message) -> None:
    with pytest.raises(LandingError, match=re.escape(message)):
        land_file(ws, feed, data, name)
    assert list(ws.landing_dir(FEED).iterdir()) == []
    assert not ready_dir(ws.root).exists()


def test_a_missing_source_file_is_a_file_not_found(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        land_file(ws, FEED, tmp_path / "不存在.csv", "不存在.csv")


def test_ingest_reads_the_landed_file_and_ignores_flags_sidecars_and_partials(
    ws: Workspace, orgs_csv: Path
) -> None:
    """connectors' landing_files: the generated name is data; _meta/, _ready/, dot and .part files are not."""
    from connectors import ingest_feed
    from connectors.ingest import landing_files

    dest = land_file(ws, FEED, orgs_csv, "市场主体.csv")
    (ws.landing_dir(FEED) / ".incoming-half.part").write_bytes(b"half")
    (ws.landing_dir(FEED) / "_READY").write_bytes(b"")
    (ws.landing_dir(FEED) / ".~lock.csv").write_bytes(b"")
    assert landing_files(ws, ws.config.feed(FEED)) == [dest]

    result = ingest_feed(ws, FEED)
    totals = result.totals()
    assert totals["files_staged"] == 1 and totals["rows_staged"] > 0, totals
    assert not dest.exists()  # moved to _done/ by ingest
    assert (ready_dir(ws.root) / ready_flag_name(FEED)).exists()  # the flag is the triggerer's to delete


def test_cli_land_prints_the_landed_path_and_refuses_clearly(ws: Workspace, orgs_csv: Path, capsys) -> None:
    from gridhub.cli import main

    src = ws.root / "市场主体 2025.csv"
    shutil.copy(orgs_csv, src)
    assert main(["-w", str(ws.root), "land", "--feed", FEED, str(src)]) == 0
    out = capsys.readouterr().out
    landed = sorted(ws.landing_dir(FEED).glob("*.csv"))
    assert len(landed) == 1 and str(landed[0]) in out
    assert original_name_of(landed[0]) == "市场主体 2025.csv"

    assert main(["-w", str(ws.root), "land", "--feed", "gongan_people", str(src)]) == 2
    assert "no feed named 'gongan_people'" in capsys.readouterr().err
    assert main(["-w", str(ws.root), "land", "--feed", FEED, str(ws.root / "缺失.csv")]) == 2
