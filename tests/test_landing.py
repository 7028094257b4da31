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
    DuplicateContent,
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
    with pytest.raises(DuplicateContent) as dup:
        land_file(ws, FEED, str(orgs_csv), "又一次.csv")
    said = str(dup.value)
    assert said.index("内容完全相同") < said.index("identical content was already received on")
    assert orgs_csv.name in said and dup.value.waiting and dup.value.received_at
    assert [p.name for p in ws.landing_dir(FEED).glob("*.csv")] == [first.name]
    assert _leftovers(ws.landing) == []
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


def test_content_staged_before_is_not_landed_again_and_says_when_and_as_what(
    ws: Workspace, orgs_csv: Path, capsys
) -> None:
    from connectors import ingest_feed, raw_manifest
    from gridhub.cli import main

    land_file(ws, FEED, orgs_csv, "市场主体_6月.csv")
    ingest_feed(ws, FEED)
    m = raw_manifest(ws, FEED)
    assert list(m["file_name"]) == ["市场主体_6月.csv"]  # the department's name, not the generated one
    flag = ready_dir(ws.root) / ready_flag_name(FEED)
    flag.unlink()
    with pytest.raises(DuplicateContent) as dup:
        land_file(ws, FEED, orgs_csv, "再发一次.csv")
    assert not dup.value.waiting and "市场主体_6月.csv" in str(dup.value)
    assert m["received_at"].iloc[0][:10] in str(dup.value)
    assert sorted(ws.landing_dir(FEED).glob("*.csv")) == [] and not flag.exists()

    # the CLI says the same, Chinese first, and lands nothing
    src = ws.root / "再发一次.csv"
    shutil.copy(orgs_csv, src)
    assert main(["-w", str(ws.root), "land", "--feed", FEED, str(src)]) == 0
    out = capsys.readouterr().out
    assert out.index("内容完全相同的文件已于") < out.index("identical content was already received on")
    assert "市场主体_6月.csv" in out and sorted(ws.landing_dir(FEED).glob("*.csv")) == []


def test_a_copy_dropped_into_landing_is_filed_as_duplicate_not_left_for_good(
    ws: Workspace, orgs_csv: Path, capsys
) -> None:
    from connectors import ingest_feed
    from gridhub.ingest_cli import ingest_command

    land_file(ws, FEED, orgs_csv, "市场主体_6月.csv")
    ingest_feed(ws, FEED)
    copy = ws.landing_dir(FEED) / "copy.csv"  # put there by hand, beside the portal and `land`
    shutil.copy(orgs_csv, copy)
    assert ingest_command(ws, FEED) == 0
    out = capsys.readouterr().out
    assert "内容完全相同的文件已于" in out and "市场主体_6月.csv" in out and "no new files" not in out
    assert not copy.exists() and (ws.landing_dir(FEED) / "_duplicates" / "copy.csv").exists()
    assert ingest_command(ws, FEED) == 0
    assert "no new files" in capsys.readouterr().out


def test_cli_land_speaks_chinese_first(ws: Workspace, orgs_csv: Path, capsys) -> None:
    from gridhub.cli import main

    assert main(["-w", str(ws.root), "land", "--feed", FEED, str(orgs_csv)]) == 0
    out = capsys.readouterr().out
    assert out.index("已提交") < out.index("landed")
    assert main(["-w", str(ws.root), "land", "--feed", "nope", str(orgs_csv)]) == 2
    err = capsys.readouterr().err
    assert err.index("没有名为") < err.index("no feed named")
