"""What guards a run (issue #20): one run at a time, inputs fixed at the run's start, disks checked first."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gridhub import pipeline
from gridhub.cli import main
from gridhub.workspace import Workspace

HOLD_LOCK = """
import sys, time
from gridhub.runguard import run_lock
from gridhub.workspace import Workspace
with run_lock(Workspace(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_a_second_run_stops_while_another_is_active(workspace_copy, capsys):
    from gridhub import tasks

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(workspace_copy)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["--workspace", str(workspace_copy), "run"]) == 2
        err = capsys.readouterr().err
        assert "另一个运行正在进行" in err and "another run is active since" in err
        assert f"pid {holder.pid}" in err and "Traceback" not in err
        # the resolve DAG's tasks take the same lock
        os.environ["GRIDHUB_WORKSPACE"], old = str(workspace_copy), os.environ.get("GRIDHUB_WORKSPACE", "")
        try:
            with pytest.raises(Exception, match="another run is active"):
                tasks.run_step(pipeline.prepare_mentions)
        finally:
            os.environ["GRIDHUB_WORKSPACE"] = old
    finally:
        holder.communicate("\n", timeout=30)
    # released when the holder ended: the next run gets past the lock (and stops for another reason here)
    assert main(["--workspace", str(workspace_copy), "run"]) == 2
    assert "another run is active" not in capsys.readouterr().err


def test_a_run_reads_the_staged_files_chosen_at_its_start(workspace_copy):
    """An ingest during a run neither changes what the run reads nor appears in its lineage."""
    from connectors import ingest_feed, raw_manifest

    ws = Workspace(workspace_copy)
    late, *early = [f.name for f in ws.config.feeds if f.name == "shichang_orgs"] + [
        f.name for f in ws.config.feeds if f.name != "shichang_orgs"
    ]
    for name in early:
        ingest_feed(ws, name).check_accounting()
    run_id = pipeline.new_run_id(ws)  # the run starts: its inputs are chosen here
    ingest_feed(ws, late).check_accounting()  # an ingest while the run goes on
    assert (raw_manifest(ws, late)["status"] == "staged").any()

    read = pipeline.prepare_mentions(ws, run_id)["staged_rows"]
    assert read.get(late, 0) == 0 and all(read[name] > 0 for name in early)
    lineage = pipeline.lineage(ws, run_id)
    files = {(f["feed"], f["sha256"]) for f in lineage["raw_files"]}
    staged = raw_manifest(ws)
    expected = {
        (f, s)
        for f, s, st in zip(staged["feed"], staged["sha256"], staged["status"], strict=True)
        if st == "staged"
    }
    assert files == {(f, s) for f, s in expected if f != late} and files
    assert pipeline.new_run_id(ws) != run_id  # the next run takes the late file


def _set_warehouse_key(ws_root, line: str) -> None:
    cfg = ws_root / "gridhub.yaml"
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("warehouse:\n", f"warehouse:\n  {line}\n", 1), encoding="utf-8")


def test_too_little_free_space_stops_the_run_before_any_work(workspace_copy, capsys):
    _set_warehouse_key(workspace_copy, "min_free_mb: 1000000000")  # a petabyte
    assert main(["--workspace", str(workspace_copy), "run"]) == 2
    err = capsys.readouterr().err
    assert "磁盘空间不足" in err and "not enough free space" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not list((workspace_copy / "work").glob("run-*/mentions"))  # nothing computed


def test_a_read_only_state_folder_stops_the_run_before_any_work(workspace_copy, capsys, monkeypatch):
    """chmod makes ``state/`` read-only. Tests may run as root, for whom chmod does not stop writes: then the
    refusal the kernel would give is simulated by making the write probe in that folder fail (EACCES)."""
    import tempfile

    state = workspace_copy / "state"
    state.mkdir(exist_ok=True)
    os.chmod(state, 0o555)
    if os.geteuid() == 0:
        real = tempfile.mkstemp

        def refuse(*args, dir=None, **kwargs):
            if dir is not None and os.path.realpath(dir) == os.path.realpath(state):
                raise PermissionError(13, "Permission denied", str(dir))
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    try:
        assert main(["--workspace", str(workspace_copy), "run"]) == 2
    finally:
        os.chmod(state, 0o755)
    err = capsys.readouterr().err
    assert "目录不可写" in err and "is not writable" in err and "Traceback" not in err
    assert not list((workspace_copy / "work").glob("run-*/mentions"))
