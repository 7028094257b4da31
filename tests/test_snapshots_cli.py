"""``gridhub snapshots``: an aligned list of the published snapshots, through the CLI's main(argv)."""

from __future__ import annotations

import json

import pytest
from synth_tables import synthetic_tables

from gridhub.cli import main
from gridhub.snapshots_cli import format_table
from gridhub.workspace import Workspace
from warehouse import publish, snapshot_as_of
from warehouse.read import MANIFEST, snapshot_path
from warehouse.schema import Layer
from warehouse.settings import WarehouseSettings

KEY = b"gridhub-test-key-0123456789abcdef"


def test_nothing_published_is_a_message_not_an_error(workspace_copy, capsys):
    assert main(["--workspace", str(workspace_copy), "snapshots"]) == 0
    out = capsys.readouterr().out
    assert "尚未发布任何快照" in out and "nothing published yet" in out


def test_lists_each_snapshot_with_time_current_rows_and_inputs(workspace_copy, capsys):
    wh = Workspace(workspace_copy).warehouse
    tables = synthetic_tables(300, seed=5)
    fewer = dict(tables)
    fewer["facility"] = tables["facility"].slice(1)
    raw = [{"feed": "gongan_hukou", "file": f"户籍{i}.csv", "sha256": f"{i:02d}" * 32} for i in range(3)]
    for run_id, t, files in (("r1", tables, raw[:2]), ("r2", fewer, raw)):
        publish(
            wh,
            t,
            run_id=run_id,
            lineage={"feeds": ["gongan_hukou"], "raw_files": files},
            settings=WarehouseSettings(),
            grid_code_width=15,
            hmac_key=KEY,
        )
    published = json.loads((snapshot_path(wh, "r1", Layer.SHARED) / MANIFEST).read_text())["published_at"]

    assert main(["--workspace", str(workspace_copy), "snapshots"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header, r1, r2 = lines[:3]
    assert header.split() == [
        "run_id",
        "published",
        "current",
        "person",
        "organisation",
        "house",
        "facility",
        "inputs",
    ]
    assert r1.split()[0] == "r1" and r2.split()[0] == "r2"
    assert published[:10] in r1 or published[:8] in r1  # the date (local time may cross midnight)
    assert "*" not in r1 and r2.split()[2] == "*"
    assert r1.split()[-1] == "2" and r2.split()[-1] == "3"  # input files
    n = tables["facility"].num_rows
    assert r1.split()[-2] == f"{n:,}" and r2.split()[-2] == f"{n - 1:,}"
    assert r1.split()[2] == r2.split()[3] == f"{tables['person'].num_rows:,}"
    # aligned: every column ends (numbers) at the same place in every line
    assert len({len(line) for line in (header, r1, r2)}) == 1
    assert "2 snapshot(s), current r2" in lines[-1]
    # the time shown selects that very snapshot when given back as as_of
    assert snapshot_as_of(wh, r1.split()[1]) == "r1" and snapshot_as_of(wh, r2.split()[1]) == "r2"


def test_table_aligns_wide_characters():
    text = format_table(["run_id", "inputs"], [["网格甲", "1"], ["abc", "12"]])
    widths = {sum(2 if "\u4e00" <= c <= "\u9fff" else 1 for c in line) for line in text.splitlines()}
    assert len(widths) == 1


@pytest.mark.parametrize("argv", [["snapshots", "--help"]])
def test_help_describes_the_command(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    assert "snapshots" in capsys.readouterr().out
