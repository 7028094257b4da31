"""No traceback for a user's mistake: each error a person makes ends in one clear message on stderr and exit
code 2, through the real ``gridhub`` command (a subprocess, as a person runs it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gridhub.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]


def gridhub(*argv: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "gridhub.cli", *argv], capture_output=True, text=True, env=environ, timeout=600
    )


def assert_user_error(done: subprocess.CompletedProcess, *says: str) -> None:
    """Exit 2, no traceback anywhere, one ``gridhub:`` message on stderr that says each of ``says`` (progress
    lines may come before it)."""
    shown = done.stdout + done.stderr
    assert done.returncode == 2, shown
    assert "Traceback" not in shown and 'File "' not in shown, shown
    assert len([line for line in done.stderr.splitlines() if line.startswith("gridhub: ")]) == 1, done.stderr
    for text in says:
        assert text in done.stderr, (text, done.stderr)


@pytest.mark.parametrize(
    ("kind", "says"),
    [("grids", "no grids file here"), ("addresses", "reference.addresses.path")],
)
def test_run_without_a_reference_file(workspace_copy, kind, says):
    path = Workspace(workspace_copy).reference_file(kind)
    path.unlink()
    done = gridhub("-w", str(workspace_copy), "run")
    assert_user_error(done, str(path), says, "gridhub check")


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda text: text + "\nfeeds: [unclosed\n", "not valid YAML"),
        (lambda text: text.replace("keep_snapshots: 5", "keep_snapshots: many"), "warehouse.keep_snapshots"),
        (lambda text: text + "\nno_such_setting: 1\n", "no_such_setting"),
    ],
    ids=["yaml", "value", "unknown-key"],
)
@pytest.mark.parametrize("command", [["run"], ["ingest", "--feed", "gongan_population"], ["snapshots"]])
def test_a_bad_config(workspace_copy, edit, says, command):
    config = workspace_copy / "gridhub.yaml"
    config.write_text(edit(config.read_text(encoding="utf-8")), encoding="utf-8")
    done = gridhub("-w", str(workspace_copy), *command)
    assert_user_error(done, str(config), says)


@pytest.mark.parametrize("command", ["ingest", "land"])
def test_an_unknown_feed(workspace_copy, tmp_path, command):
    src = tmp_path / "x.csv"
    src.write_text("a\n1\n", encoding="utf-8")
    done = gridhub("-w", str(workspace_copy), command, "--feed", "no_such_feed", str(src))
    assert_user_error(done, "no_such_feed", "gongan_population")  # the feed asked for, and the known ones


def test_no_workspace_here(tmp_path):
    done = gridhub("-w", str(tmp_path / "nowhere"), "summary")
    assert_user_error(done, "gridhub.yaml", "gridhub sample")


@pytest.mark.slow
def test_a_publish_error(workspace_copy):
    """A current snapshot whose content no longer matches its run id (its manifest edited by hand) and an
    entity-id state wiped: the rerun recomputes the same run id and publishing it fails (PublishError).
    The setup (ingest, the first run) is the same command run in this process: a fresh interpreter for each
    of them cost the suite time and tests nothing this test is about; the failing rerun is the subprocess."""
    from gridhub.cli import main

    ws = Workspace(workspace_copy)
    for feed in ws.config.feeds:
        assert main(["-w", str(workspace_copy), "ingest", "--feed", feed.name]) == 0
    assert main(["-w", str(workspace_copy), "run"]) == 0
    run_id = (ws.warehouse / "CURRENT").read_text(encoding="utf-8").strip()
    manifest = ws.warehouse / "shared" / "snapshots" / run_id / "manifest.json"
    edited = json.loads(manifest.read_text(encoding="utf-8")) | {"content_sha256": "edited by hand"}
    manifest.write_text(json.dumps(edited), encoding="utf-8")
    shutil.rmtree(ws.state / "er")  # the committed entity-id state: the run is no longer "published"
    done = gridhub("-w", str(workspace_copy), "run")
    assert_user_error(done, run_id, "already published", "different content")
