"""A run killed at every file-system call of its publish-and-commit phase leaves a consistent workspace, and
running again gives the same tables and ids as a run nobody killed (issue #20, done-when 1).

The scenario: a sample workspace with run A published, then new inputs (a review-decisions file) whose run B is
computed up to its tables once (the heavy part). ``publish_run`` of B then runs in a forked child whose
file-system calls are counted (tests/crash_hooks.py). The default test copies the workspace just before every
call (what a kill there would leave: the files as they are); the slow one really kills a fresh child with
``os._exit(137)`` at every call N. Either way the parent checks each workspace as the next run would find it.

Validation (Great Expectations) is a pure function of the tables and the previous snapshot, the same for every
kill point: it runs for real in the uninterrupted reference publish, and the children reuse that report, so the
test spends its time on the file-system steps it is about.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from crash_hooks import arm

from gridhub import pipeline, statecommit
from gridhub.workspace import Workspace
from warehouse.files import sha256_file
from warehouse.read import current_run_id, read_manifest, snapshot_path
from warehouse.schema import TABLES

LAYERS = ("shared", "restricted")


def _copy(src: Path, dst: Path, config=None) -> Workspace:
    """A copy of a workspace; ``config``: the (identical) parsed gridhub.yaml of ``src``, to skip parsing it."""
    shutil.copytree(src, dst, symlinks=True)
    ws = Workspace(dst)
    if config is not None:
        ws.__dict__["config"] = config
    return ws


def _signature(ws: Workspace) -> tuple:
    """What a next run's behaviour depends on: the pointers, the snapshot and generation folders, leftovers."""
    folders = []
    for layer in LAYERS:
        root = ws.warehouse / layer / "snapshots"
        folders += [f"{layer}/{p.name[:10]}" for p in sorted(root.iterdir())]
    generations = statecommit.er_root(ws) / "generations"
    gens = [(p.name[:10], (p / statecommit.COMPLETE).exists()) for p in sorted(generations.iterdir())]
    return current_run_id(ws.warehouse), statecommit.committed_run(ws), tuple(folders), tuple(gens)


def _in_child(fn, kill_at: int, watch=None) -> tuple[int, list]:
    """Run ``fn()`` in a forked child armed to die at file-system call ``kill_at`` (0: never); return its exit
    status and, when it finished, the log of its counted calls."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(r)
            counter = arm(kill_at, watch)
            fn()
            with os.fdopen(w, "w") as out:
                json.dump(counter.log, out, default=str)
        except BaseException:  # report any failure as exit 1
            import traceback

            traceback.print_exc()
            code = 1
        os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), json.loads(out) if out else []


def _snapshot_is_complete(ws: Workspace, run_id: str) -> None:
    for layer in LAYERS:
        m = read_manifest(ws.warehouse, run_id, layer)
        root = snapshot_path(ws.warehouse, run_id, layer)
        for name in TABLES:
            for entry in m["tables"][name]["files"][layer]:
                assert sha256_file(root / entry["path"]) == entry["sha256"], (layer, name, entry["path"])


def _state_files(ws: Workspace) -> dict[str, str]:
    """Every file of the committed state generation (except the marker) and its hash."""
    root = statecommit.generation_dir(ws, statecommit.committed_run(ws) or "")
    return {
        p.relative_to(root).as_posix(): sha256_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != statecommit.COMPLETE
    }


def _tables(ws: Workspace) -> dict[str, object]:
    from warehouse import read_table

    return {name: read_table(ws.warehouse, name, layer="restricted") for name in TABLES}


@pytest.fixture(scope="module")
def scenario(sample_workspace, tmp_path_factory):
    """(base folder with A published and B computed to its tables, B's run id, A's run id, reference)."""
    from connectors import ingest_feed

    root = tmp_path_factory.mktemp("crash")
    ws = _copy(sample_workspace, root / "base")
    for feed in ws.config.feeds:
        ingest_feed(ws, feed.name).check_accounting()
    run_a = pipeline.run_all(ws)["run_id"]
    ws.review_decisions.write_text("record_key_l,record_key_r,decision\n", encoding="utf-8")
    run_b = pipeline.new_run_id(ws)
    assert run_b != run_a
    for step in (pipeline.prepare_mentions, pipeline.bind_addresses, pipeline.resolve_entities):
        step(ws, run_b)
    pipeline.build_tables(ws, run_b)
    state_a = _state_files(ws)

    # the uninterrupted reference publish of B, capturing its validation report for the children
    import warehouse.snapshot as snap

    reports = []
    real = snap.validate_tables

    def capture(*args, **kwargs):
        reports.append(real(*args, **kwargs))
        return reports[-1]

    ref = _copy(root / "base", root / "reference")
    snap.validate_tables = capture
    try:
        pipeline.publish_run(ref, run_b)
    finally:
        snap.validate_tables = real
    return {
        "base": root / "base",
        "run_a": run_a,
        "run_b": run_b,
        "state_a": state_a,
        "state_b": _state_files(ref),
        "tables_b": _tables(ref),
        "report": reports[0],
    }


def _check_kill_point(ws: Workspace, n: int, scenario: dict, seen: dict) -> None:
    """The workspace a kill at file-system call ``n`` left, as the next run finds it."""
    run_a, run_b = scenario["run_a"], scenario["run_b"]
    # CURRENT names a complete snapshot ...
    published = current_run_id(ws.warehouse)
    assert published in (run_a, run_b), n
    _snapshot_is_complete(ws, published)
    signature = _signature(ws)
    # ... and, once the start of a run has recovered, the state that goes with it
    statecommit.recover_state(ws)
    assert statecommit.committed_run(ws) == published, n
    assert _state_files(ws) == scenario["state_b" if published == run_b else "state_a"], n
    if signature in seen:
        return
    seen[signature] = n  # the next run succeeds with the tables and ids of the uninterrupted run
    pipeline.publish_run(ws, run_b)
    assert current_run_id(ws.warehouse) == run_b and statecommit.committed_run(ws) == run_b
    _snapshot_is_complete(ws, run_b)
    assert _state_files(ws) == scenario["state_b"], n
    for name, table in _tables(ws).items():
        assert table.equals(scenario["tables_b"][name]), (n, name)
    assert not list((ws.warehouse / "shared" / "snapshots").glob(".incoming-*")), n


def _listing(root: Path) -> list[tuple[str, int, int]]:
    """Every path under ``root`` with its size and modification time: equal listings, equal files."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames) + dirnames:
            st = os.lstat(os.path.join(dirpath, name))
            out.append((os.path.join(dirpath, name), st.st_size, st.st_mtime_ns))
    return out


def _probe(scenario: dict, folder: Path, config, at_each=None) -> int:
    """Publish run B on a copy of the base in a child; the number of its counted file-system calls."""
    ws = _copy(scenario["base"], folder, config)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            counter = arm(0, at_each=at_each)
            pipeline.publish_run(ws, scenario["run_b"])
            os.write(w, str(counter.calls).encode())
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return int(out)


def test_the_state_left_at_every_file_system_call_of_publish_and_commit_recovers(
    scenario, tmp_path, monkeypatch
):
    """What a kill at call N leaves is the files as they are when call N is about to run (a killed process
    leaves nothing else: its page cache survives, its flock is released). So the run is paused at every call
    and the workspace copied then; each copy is checked as the next run would find it."""
    import warehouse.snapshot as snap

    monkeypatch.setattr(snap, "validate_tables", lambda *a, **k: scenario["report"])
    config = Workspace(scenario["base"]).config
    run = tmp_path / "run"
    last: list = [None]

    def keep_state(n: int) -> None:
        """Publishing writes only warehouse/ and state/: keep those as they are now, unless the previous call
        changed nothing (an fsync, say), which leaves the same files."""
        listing = _listing(run / "warehouse") + _listing(run / "state")
        if listing != last[0]:
            last[0] = listing
            for zone in ("warehouse", "state"):
                shutil.copytree(run / zone, tmp_path / f"k{n}" / zone, symlinks=True)

    total = _probe(scenario, run, config, at_each=keep_state)
    points = sorted(int(p.name[1:]) for p in tmp_path.glob("k*"))
    assert total > 100 and len(points) > 50, (total, len(points))
    seen: dict[tuple, int] = {}
    for n in points:
        folder = tmp_path / f"k{n}"
        for entry in scenario["base"].iterdir():  # the rest of the workspace, which publishing only reads
            if entry.name not in ("warehouse", "state"):
                (folder / entry.name).symlink_to(entry)
        ws = Workspace(folder)
        ws.__dict__["config"] = config
        _check_kill_point(ws, n, scenario, seen)
        shutil.rmtree(ws.root)
    assert {s[0] for s in seen} == {scenario["run_a"], scenario["run_b"]}  # before and after the switch
    assert any(s[0] != s[1] for s in seen)  # and between the snapshot switch and the state switch


@pytest.mark.slow
def test_a_run_killed_at_file_system_calls_of_publish_and_commit_recovers(scenario, tmp_path, monkeypatch):
    """The same with real kills: the publishing child ends itself with ``os._exit(137)`` at call N. Every 10th
    call by default (one publish per kill point); every call with ``GRIDHUB_CRASH_EVERY_CALL=1`` (about 400
    kills, several minutes)."""
    import warehouse.snapshot as snap

    monkeypatch.setattr(snap, "validate_tables", lambda *a, **k: scenario["report"])
    config = Workspace(scenario["base"]).config
    total = _probe(scenario, tmp_path / "probe", config)
    step = 1 if os.environ.get("GRIDHUB_CRASH_EVERY_CALL") == "1" else 10
    seen: dict[tuple, int] = {}
    for n in range(1, total + 1, step):
        ws = _copy(scenario["base"], tmp_path / f"k{n}", config)
        status, _ = _in_child(lambda ws=ws: pipeline.publish_run(ws, scenario["run_b"]), kill_at=n)
        assert status == 137, f"kill point {n} of {total}: not killed (exit {status})"
        _check_kill_point(ws, n, scenario, seen)
        shutil.rmtree(ws.root)
    assert {s[0] for s in seen} == {scenario["run_a"], scenario["run_b"]}
    assert any(s[0] != s[1] for s in seen)


def test_after_a_kill_between_snapshot_and_state_the_next_run_reuses_the_published_run(scenario, tmp_path):
    """The kill that leaves the warehouse one run ahead of the state: ``gridhub run`` again finishes the commit
    and reuses the published run (no recompute, the same tables), and a second run again reuses it."""
    from matching.er import ResolutionState

    run_b = scenario["run_b"]
    ws = _copy(scenario["base"], tmp_path / "ws")
    probe = _copy(scenario["base"], tmp_path / "probe")

    # the first kill point at which CURRENT already names B: the state switch is still to come
    status, log = _in_child(
        lambda: pipeline.publish_run(probe, run_b), kill_at=0, watch=lambda: current_run_id(probe.warehouse)
    )
    assert status == 0
    point = 1 + next(i for i, (_, current) in enumerate(log) if current == run_b)
    assert _in_child(lambda: pipeline.publish_run(ws, run_b), kill_at=point)[0] == 137
    assert current_run_id(ws.warehouse) == run_b and statecommit.committed_run(ws) == scenario["run_a"]

    for step in ("mentions", "bound", "resolved", "tables"):  # no step is computed again: it needs none
        shutil.rmtree(ws.step_dir(run_b, step))
    result = pipeline.run_all(ws)
    assert result["run_id"] == run_b and result["reused"], result
    assert statecommit.committed_run(ws) == run_b and _state_files(ws) == scenario["state_b"]
    for name, table in _tables(ws).items():
        assert table.equals(scenario["tables_b"][name]), name
    assert pipeline.run_all(ws)["reused"]
    runs = json.loads((ResolutionState.folder(ws.state, "person") / "model.json").read_text(encoding="utf-8"))
    assert runs["runs"].count(run_b) <= 1  # reruns add no entries to the state's run history


def test_state_readers_follow_the_pointer(scenario):
    from matching.er import ResolutionState

    ws = Workspace(scenario["base"])
    folder = ResolutionState.folder(ws.state, "person")
    assert folder == statecommit.generation_dir(ws, scenario["run_a"]) / "person"
    assert (folder / "model.json").is_file()
    assert not (ws.state / "er" / "person").exists()  # no per-type folder beside the generations
    assert pq.read_table(folder / "registry.parquet").num_rows > 0
