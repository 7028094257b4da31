"""The seam for kinds of sources: the registries, lazy loading, and a new file format in one module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from ingest_helpers import feed, land, make_workspace

import connectors.sources as sources
from connectors import ingest_feed, load_field_issues, load_quarantine, load_staging
from connectors.cells import SourceColumn
from connectors.feeds import Feed, FileSource
from connectors.rules import RowRules
from connectors.staging import StagingWriter, StoredFile


def test_every_registered_format_and_kind_loads() -> None:
    for name, fmt in sources.FILE_FORMATS.items():
        assert callable(fmt.load().stage), name
    for kind in sources.SOURCE_KINDS:
        assert callable(sources.source_kind(kind).ingest), kind
    suffixes = [s for fmt in sources.FILE_FORMATS.values() for s in fmt.suffixes]
    assert len(suffixes) == len(set(suffixes)), "a name ending may mean only one format"


def test_ingesting_a_csv_feed_imports_neither_openpyxl_nor_sqlalchemy(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from ingest_helpers import land, make_workspace\n"
        "from connectors import ingest_feed\n"
        f"ws = make_workspace(__import__('pathlib').Path({str(tmp_path / 'ws')!r}))\n"
        "land(ws, 'a.csv', '编号,姓名\\n1,张三\\n')\n"
        "before = set(sys.modules)\n"
        "ingest_feed(ws, 'police')\n"
        "print(sorted(m for m in ('openpyxl', 'sqlalchemy') if m in set(sys.modules) - before))\n"
    )
    root = Path(__file__).resolve().parents[1]
    env_path = f"{root}:{root / 'tests'}"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": env_path},
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


class PipeLinesReader:
    """A toy format: UTF-8 lines of values separated by '|', the header first."""

    def stage(self, feed: Feed, source: FileSource, stored: StoredFile, out: StagingWriter) -> None:
        lines = stored.path.read_text(encoding="utf-8").splitlines()
        rules = RowRules(feed, lines[0].split("|"), raw_sha256=stored.sha256, file_name=stored.file_name)
        out.describe(encoding="utf-8", warnings=rules.warnings)
        rows = [line.split("|") for line in lines[1:]]
        columns = {
            f: SourceColumn.from_strings([r[i] for r in rows]) for f, i in rules.source_indices.items()
        }
        out.add(rules.apply(np.arange(2, len(rows) + 2, dtype=np.int64), columns, []))


READER = PipeLinesReader()


def test_a_new_file_format_is_one_reader_and_one_registry_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sources.FILE_FORMATS, "pipes", sources.FileFormat(f"{__name__}:READER", (".pipes",)))
    ws = make_workspace(tmp_path / "ws", feed(source={"glob": "*.pipes"}))
    land(
        ws,
        "名单.pipes",
        "编号|姓名|出生日期\n1|张三|1990-01-02\n2|李四|20230230\n3||1990-01-03\n",
        encoding="utf-8",
    )
    result = ingest_feed(ws, "police")
    totals = result.totals()
    # the bad optional birth date is a field issue, the missing required name costs the row
    assert (totals["rows_read"], totals["rows_staged"], totals["rows_quarantined"]) == (3, 2, 1)
    assert load_staging(ws, "police")["name"].tolist() == ["张三", "李四"]
    q = load_quarantine(ws, "police")
    assert q[["line", "reason_code"]].values.tolist() == [[4, "missing_required"]]
    issues = load_field_issues(ws, "police")
    assert issues[["line", "reason_code"]].values.tolist() == [[3, "invalid_date"]]
