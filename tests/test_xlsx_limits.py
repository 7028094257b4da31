"""Bounded xlsx (issue 14, problem 3): every bomb is refused while it streams, with memory bounded.

Each bomb is ingested in a child process that reports its peak resident memory (VmHWM): it must be
refused as ``workbook_too_large`` with the peak under 500 MB. Sound workbooks with a forged dimension are
read whole (openpyxl would pad or cut their rows by the declared size).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import xlsx_bombs as bombs
from ingest_helpers import feed, make_workspace
from pydantic import ValidationError

from connectors import FeedFileError, ingest_feed, load_staging
from connectors.feeds import FileSource
from connectors.xlsx_limits import SheetShape
from connectors.xlsx_source import batch_rows
from warehouse.reasons import REASON_TEXT, ReasonCode

TESTS = Path(__file__).parent
RSS_LIMIT_MB = 500
XLSX_FEED = feed(source={"glob": "*.xlsx", "format": "xlsx"})

_CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from ingest_helpers import make_workspace
    from connectors import FeedFileError, ingest_feed
    feed = json.loads(sys.argv[3])
    ws = make_workspace(Path(sys.argv[4]), feed)
    target = ws.landing_dir("police") / "bomb.xlsx"
    Path(sys.argv[2]).rename(target)
    out = {"code": None, "message": ""}
    try:
        [f] = ingest_feed(ws, "police").files
        out["staged"] = f.rows_staged
    except FeedFileError as e:
        out["code"], out["message"] = e.problems[0].code, str(e)
    status = Path("/proc/self/status").read_text()
    out["hwm_mb"] = int(next(l for l in status.splitlines() if l.startswith("VmHWM")).split()[1]) / 1024
    print(json.dumps(out))
    """
)


def ingest_in_child(tmp_path: Path, path: Path, feed_spec: dict = XLSX_FEED) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(TESTS), str(path), json.dumps(feed_spec), str(tmp_path / "ws")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


#: The inflate-ratio check turned off, to see the checks made while streaming catch what it would.
NO_RATIO = {"max_inflate_ratio": 10**9}


@pytest.mark.parametrize(
    ("build", "limits", "says"),
    [
        (bombs.whitespace_bomb, {}, "zip bomb"),  # 1.1 MB of whitespace cells inflating to 400 MB
        (bombs.many_rows_bomb, {}, "1,048,576 rows"),  # 2 M rows
        (bombs.long_cell_bomb, {}, "zip bomb"),  # one cell of 200 M spaces ...
        (bombs.long_cell_bomb, NO_RATIO, "32,767 characters"),  # ... caught while streaming too
        (bombs.far_row_bomb, {}, "1,048,576 rows"),
        (bombs.wide_row_bomb, {}, "16,384 columns"),
        (bombs.shared_strings_bomb, {"max_shared_strings": 100_000}, "100,000 shared strings"),
        (bombs.styles_bomb, {}, "500,000 elements"),
    ],
    ids=[
        "whitespace",
        "2M_rows",
        "long_cell",
        "long_cell_streamed",
        "far_row",
        "wide_row",
        "shared",
        "styles",
    ],
)
def test_bombs_are_refused_with_memory_bounded(tmp_path, build, limits, says):
    path = build(tmp_path / "bomb.xlsx", **({"count": 150_000} if build is bombs.shared_strings_bomb else {}))
    spec = feed(source={"glob": "*.xlsx", "format": "xlsx", "limits": limits})
    got = ingest_in_child(tmp_path, path, spec)
    assert got["code"] == "workbook_too_large", got
    assert says in got["message"] and REASON_TEXT[ReasonCode.WORKBOOK_TOO_LARGE][0] in got["message"]
    english = min(got["message"].find(w) for w in ("more than", "longer than") if w in got["message"])
    assert got["message"].index("超过") < english  # Chinese first
    assert got["hwm_mb"] < RSS_LIMIT_MB, got


def test_limits_are_the_feeds_to_set(tmp_path):
    path = bombs.forged_dimension(tmp_path / "bomb.xlsx", rows=30)
    small = feed(source={"glob": "*.xlsx", "format": "xlsx", "limits": {"max_rows": 20}})
    got = ingest_in_child(tmp_path, path, small)
    assert got["code"] == "workbook_too_large" and "20 rows" in got["message"]
    with pytest.raises(ValidationError):
        FileSource(glob="*.xlsx", limits={"max_rows": 0})
    with pytest.raises(ValidationError):
        FileSource(glob="*.xlsx", limits={"max_row": 5})  # a typo is an error, not a silent default


@pytest.mark.parametrize("dimension", ["A1:B2", "A1", "A1:XFD1048576"])
def test_a_wrong_declared_dimension_neither_cuts_nor_pads_rows(tmp_path, dimension):
    ws = make_workspace(tmp_path / "ws", XLSX_FEED)
    bombs.forged_dimension(ws.landing_dir("police") / "a.xlsx", rows=40, dimension=dimension)
    [f] = ingest_feed(ws, "police").files
    assert (f.rows_read, f.rows_staged) == (40, 40)
    staged = load_staging(ws, "police")
    assert staged["source_record_id"].tolist() == [f"R{r}" for r in range(2, 42)]


def test_batches_shrink_for_wide_or_long_rows():
    assert batch_rows(SheetShape(rows=10, max_row_cells=8, max_row_chars=80), 25_000) == 25_000
    assert batch_rows(SheetShape(rows=10, max_row_cells=16_384, max_row_chars=0), 25_000) == 244
    assert batch_rows(SheetShape(rows=10, max_row_cells=8, max_row_chars=8 * 32_767), 25_000) == 122


def test_a_sound_workbook_of_long_cells_is_read(tmp_path):
    """Cells near Excel's limit are read (and nulled as too long by the row rules)."""
    ws = make_workspace(tmp_path / "ws", XLSX_FEED)
    rnd = random.Random(14)
    rows = (
        bombs.good_row(r).replace(
            "<t>南山区</t>", "<t>" + "".join(rnd.choices("东南西北中路街巷号栋", k=30_000)) + "</t>"
        )
        for r in range(2, 302)
    )
    bombs.workbook(ws.landing_dir("police") / "a.xlsx", bombs.sheet(rows))
    [f] = ingest_feed(ws, "police").files
    assert (f.rows_read, f.rows_staged) == (300, 300) and f.field_issues == {"field_too_long": 300}
    assert pd.isna(load_staging(ws, "police")["address"]).all()


def test_a_refused_workbook_is_a_whole_file_error_in_process(tmp_path):
    ws = make_workspace(tmp_path / "ws", XLSX_FEED)
    bombs.far_row_bomb(ws.landing_dir("police") / "a.xlsx")
    with pytest.raises(FeedFileError) as err:
        ingest_feed(ws, "police")
    assert err.value.problems[0].code == "workbook_too_large"


def test_a_part_declaring_entities_is_refused(tmp_path):
    """Office Open XML parts never declare a DTD: an entity-expansion attempt is refused before openpyxl."""
    ws = make_workspace(tmp_path / "ws", XLSX_FEED)
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&b;</t></si></sst>'
    )
    bombs.workbook(ws.landing_dir("police") / "a.xlsx", bombs.sheet([bombs.good_row(2)]), shared=[laughs])
    with pytest.raises(FeedFileError) as err:
        ingest_feed(ws, "police")
    assert err.value.problems[0].code == "unreadable_file" and "DTD" in str(err.value)
