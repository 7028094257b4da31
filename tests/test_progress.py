"""Progress on long work: counts and ETA as INFO lines when stderr is not a terminal (a pipe, a task log),
live rich bars when it is; through the real command for ingest, sample and run."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from gridhub import progress_display
from warehouse import progress as wp

ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_log_lines_every_interval_with_counts_and_eta(caplog):
    clock = FakeClock()
    wp.set_display(wp.LogDisplay(interval=10))
    caplog.set_level(logging.INFO, logger="warehouse.progress")
    try:
        with wp.progress("ingest police: 户籍.csv", total=4_000_000, unit="bytes", clock=clock) as task:
            clock.now += 4
            task.update(done=1_000_000, rows=5000)  # 4 s in: too soon for a line
            clock.now += 6
            task.update(done=2_000_000, rows=5000)  # 10 s in, half done: a line, ETA 10 s
            clock.now += 5
            task.update(done=3_000_000, rows=5000)
    finally:
        wp.set_display(None)
    lines = [r.getMessage() for r in caplog.records if r.name == "warehouse.progress"]
    assert lines == [
        "ingest police: 户籍.csv: started (4.0 MB)",
        "ingest police: 户籍.csv: 50%, 2.0/4.0 MB · 10,000 rows, 10 s elapsed, ETA 10 s",
        "ingest police: 户籍.csv: done in 15 s (3.0/4.0 MB · 15,000 rows)",
    ]


def test_a_task_that_raises_says_it_stopped(caplog):
    caplog.set_level(logging.INFO, logger="warehouse.progress")
    with pytest.raises(RuntimeError), wp.progress("run r1", total=5, unit="steps") as task:
        task.update(advance=2)
        raise RuntimeError("boom")
    assert "run r1: stopped on an error after 0 s (2/5 steps)" in caplog.text


def test_eta_and_text_without_a_total():
    clock = FakeClock()
    task = wp.Task("x", clock=clock, started=clock.now)
    task.update(mentions=12)
    clock.now += 90
    assert task.eta() is None and task.status() == "12 mentions, 1 min 30 s elapsed"


def test_on_a_terminal_the_tasks_are_rich_bars():
    out = io.StringIO()
    display = progress_display.RichDisplay(Console(file=out, force_terminal=True, width=120))
    previous = wp.set_display(display)
    try:
        with wp.progress("run r1", total=5, unit="steps") as task:
            task.update(advance=3, entities=42)
    finally:
        wp.set_display(previous)
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "run r1" in shown and "3/5 steps · 42 entities" in shown and "━" in shown


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_install_picks_bars_for_a_terminal_and_lines_otherwise():
    previous = wp.current_display()
    try:
        progress_display.install(_Tty(), logging.WARNING)
        assert isinstance(wp.current_display(), progress_display.RichDisplay)
        progress_display.install(io.StringIO(), logging.WARNING)
        assert isinstance(wp.current_display(), wp.LogDisplay)
        assert logging.getLogger("warehouse.progress").getEffectiveLevel() == logging.INFO
    finally:
        wp.set_display(previous)


def gridhub(*argv: str) -> subprocess.CompletedProcess:
    """The real command with stderr a pipe (not a terminal), as in CI, cron or a redirected log."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "gridhub.cli", *argv], capture_output=True, text=True, env=environ, timeout=900
    )


def test_sample_and_ingest_log_their_progress_when_not_on_a_terminal(tmp_path):
    ws = tmp_path / "ws"
    done = gridhub("sample", "--out", str(ws), "--persons", "300", "--seed", "4")
    assert done.returncode == 0, done.stderr
    assert re.search(r"^INFO sample 300 persons .*: started \(4 steps\)$", done.stderr, re.M), done.stderr
    assert re.search(r"^INFO sample 300 persons .*: done in .* \(4/4 steps · 300 persons", done.stderr, re.M)
    done = gridhub("-w", str(ws), "ingest", "--feed", "gongan_population")
    assert done.returncode == 0, done.stderr
    name = re.search(r"^\s+(\S+\.csv)\s+\[", done.stdout, re.M).group(1)
    started = re.search(
        rf"^INFO ingest gongan_population: {re.escape(name)}: started \((\S+) kB\)$", done.stderr, re.M
    )
    assert started, done.stderr
    read = re.search(r"读取 read (\d+)", done.stdout).group(1)
    assert re.search(
        rf"^INFO ingest gongan_population: {re.escape(name)}: done in \d+ s \(({started.group(1)})/\1 kB · {int(read):,} rows\)$",
        done.stderr,
        re.M,
    ), done.stderr
    assert "Traceback" not in done.stderr and "\x1b[" not in done.stderr  # no bar drawing into a pipe


@pytest.mark.slow
def test_run_logs_each_step_with_its_counts(workspace_copy):
    for feed in ("gongan_population", "minzheng_assistance", "renshe_insured", "shichang_orgs"):
        assert gridhub("-w", str(workspace_copy), "ingest", "--feed", feed).returncode == 0
    done = gridhub("-w", str(workspace_copy), "run")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("INFO ")]
    assert re.match(r"INFO run run-[0-9a-f]{16}: started \(5 steps\)$", lines[0]), lines
    for i, step in enumerate(("prepare_mentions", "bind_addresses", "resolve_entities", "build_tables"), 1):
        assert any(re.match(rf"INFO   step {i}/5 {step}: done in .* \(\d[\d,]* \w", s) for s in lines), (
            step,
            lines,
        )
    assert any(re.match(r"INFO   step 5/5 publish_run: done in ", s) for s in lines), lines
    assert re.match(r"INFO run run-[0-9a-f]{16}: done in .* \(5/5 steps\)$", lines[-1]), lines
    _says_what_each_step_did(done.stderr, workspace_copy)


def _says_what_each_step_did(stderr: str, ws: Path) -> None:
    """Each step's lines are the Airflow task log's (gridhub.tasklog.step_lines of the step's result, as the run
    kept it in run.json), in order; no dict-shaped library line, no Great Expectations noise."""
    import json

    from gridhub.tasklog import step_lines

    logged = [line.removeprefix("INFO ") for line in stderr.splitlines()]
    (run_json,) = (ws / "work").glob("*/run.json")
    results = json.loads(run_json.read_text(encoding="utf-8"))
    at = 0
    for step in ("prepare_mentions", "bind_addresses", "resolve_entities", "build_tables", "publish_run"):
        expected = step_lines(step, results[step])
        assert len(expected) > 1, step
        at = logged.index(expected[0], at)
        assert logged[at : at + len(expected)] == expected, step
    assert "  mentions per type: " in stderr and " expectation(s), all passed" in stderr
    assert not [line for line in logged if re.search(r"[{]'|': ", line)], stderr  # no dicts
    assert "great_expectations" not in stderr.lower() and "Calculating Metrics" not in stderr


@pytest.mark.slow
def test_run_verbose_prints_the_task_log_lines_not_dicts(workspace_copy):
    """``gridhub run -v``: the same readable lines as plain ``gridhub run`` (and the Airflow task logs)."""
    from connectors import ingest_feed
    from gridhub.workspace import Workspace

    ws = Workspace(workspace_copy)
    for feed in ("gongan_population", "shichang_orgs", "zhujian_houses"):
        ingest_feed(ws, feed)
    done = gridhub("-w", str(workspace_copy), "run", "-v")
    assert done.returncode == 0, done.stderr
    _says_what_each_step_did(done.stderr, workspace_copy)


def test_an_xlsx_ingest_reports_the_sheet_lines_and_rows(tmp_path, caplog):
    import openpyxl
    from ingest_helpers import feed, make_workspace

    from connectors import ingest_feed

    ws = make_workspace(tmp_path / "ws", feed(source={"glob": "*.xlsx", "format": "xlsx", "sheet": "人口"}))
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.title = "人口"
    sheet.append(["编号", "姓名", "身份证号", "性别", "出生日期", "居住地址", "面积", "出租"])
    for i in range(25):
        sheet.append([1000 + i, f"张{i}", None, "男", None, "南山区", 50, "否"])
    wb.save(ws.landing_dir("police") / "人口.xlsx")
    caplog.set_level(logging.INFO, logger="warehouse.progress")
    [f] = ingest_feed(ws, "police").files
    lines = [r.getMessage() for r in caplog.records if r.name == "warehouse.progress"]
    assert lines[0] == "ingest police: 人口.xlsx: started (26 lines)"
    assert re.fullmatch(r"ingest police: 人口\.xlsx: done in \d+ s \(26/26 lines · 25 rows\)", lines[-1]), (
        lines
    )
    assert f.rows_read == 25
