"""City scale on one machine (issue #19): ingest to published snapshot, one process per step, as the DAGs run it.

Usage::

    GRIDHUB_HMAC_KEY=... .venv/bin/python bench/city_scale.py --residents 100000 [--seed 7] [--keep]
    .venv/bin/python bench/city_scale.py --workspace /path/to/ws           # an existing workspace, landing full
    .venv/bin/python bench/city_scale.py --residents 500000 --json out.json  # also the rows as JSON

It generates the sample district (``gridhub sample``) at the given size, or takes a workspace whose landing
folders hold the files, then runs in one child process each: the ingest of every feed
(:func:`gridhub.tasks.ingest_task`, what the ingest DAGs call) and every resolve-and-publish step
(:func:`gridhub.tasks.run_step` with the step of :mod:`gridhub.pipeline`, the run id passed on, what the
resolve-and-publish DAG calls). Per step it prints wall time, CPU time (user + sys, the
step's worker processes included: ``os.wait4``'s rusage of the child), peak RSS (the larger of the largest
single process and the largest sum over the step's process tree, its workers included, polled every 0.2 s)
and rows/s (the step's rows in: staged rows for ingest and mentions,
address fields for binding, mentions for resolution, table rows for building and publishing).

Then a **daily delta** on top: 1 % of the department rows (``--delta``), half of them changed (a record's phone,
or a house's area, changes) and half new (a new record id), written as a new file into the landing folders of
the largest feeds, ingested and run again, step by step as before.

The machine is shared and has 2 cores: wall time is noisy, CPU time and peak RSS are the meaningful figures,
and the 1/5/15-minute load average is printed beside the table. ``GRIDHUB_HMAC_KEY`` is set to a fixed
benchmark key when the environment has none (the snapshot's keyed hashes are the only thing it feeds).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("prepare_mentions", "bind_addresses", "resolve_entities", "build_tables", "publish_run")
BENCH_KEY = "city-scale-bench-key-not-a-secret-0123456789"


@dataclass
class StepRun:
    phase: str  # full / delta
    step: str  # ingest:<feed> or a pipeline step
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    rows: int
    exit_code: int
    result: dict = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.wall_s > 0 else 0.0


# ----------------------------------------------------------------------------------------------------------
# the child: one step, exactly what a DAG task calls
# ----------------------------------------------------------------------------------------------------------
def child(argv: list[str]) -> int:
    kind, name, run_id, out = argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from gridhub import pipeline
    from gridhub.tasks import ingest_task, run_step

    result = ingest_task(name) if kind == "ingest" else run_step(getattr(pipeline, name), run_id or None)
    Path(out).write_text(json.dumps(result, ensure_ascii=False, default=str), encoding="utf-8")
    return 0


def _rows(step: str, result: dict, previous: dict[str, dict]) -> int:
    """The rows a step reads (see the module's docstring)."""
    if step.startswith("ingest:"):
        return int(result.get("rows_read", 0))
    if step == "prepare_mentions":
        return sum(result.get("staged_rows", {}).values())
    if step == "bind_addresses":
        return int(result.get("address_fields", 0))
    if step == "resolve_entities":
        return sum(int(e.get("mentions", 0)) for e in result.get("entities", {}).values())
    tables = result if step == "build_tables" else previous.get("build_tables", {})
    return sum(tables.get("rows", {}).values())


def _rss_gb(pid: int) -> float:
    """The resident set of a running process, GB (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    line = next((ln for ln in status.splitlines() if ln.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) / 1024**2


def _descendants(pid: int) -> list[int]:
    """The process and every process below it (a step's matching workers), from /proc's children lists."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            tasks = list(Path(f"/proc/{p}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except (OSError, ValueError):
                continue
    return found


def _tree_rss_gb(pid: int) -> float:
    """The resident sets of a step's process and all its workers, added up, GB: what the machine must hold."""
    return sum(_rss_gb(p) for p in _descendants(pid))


def run_child(phase: str, step: str, run_id: str, ws: Path, logs: Path, rss_limit_gb: float = 0.0) -> StepRun:
    """Run one step in a child process; its own rusage comes from ``os.wait4``."""
    kind, name = ("ingest", step.split(":", 1)[1]) if step.startswith("ingest:") else ("step", step)
    out = logs / f"{phase}-{step.replace(':', '-')}.json"
    out.unlink(missing_ok=True)
    env = {**os.environ, "GRIDHUB_WORKSPACE": str(ws), "PYTHONPATH": str(ROOT)}
    env.setdefault("GRIDHUB_HMAC_KEY", BENCH_KEY)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", kind, name, run_id, str(out)]
    log_path = logs / f"{phase}-{step.replace(':', '-')}.log"
    t0 = time.perf_counter()
    killed = 0.0
    tree_peak = 0.0
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = _tree_rss_gb(proc.pid)
            tree_peak = max(tree_peak, rss)
            if (
                rss_limit_gb and rss > rss_limit_gb and not killed
            ):  # a shared machine: stop before the OOM killer
                killed = rss
                for p in reversed(_descendants(proc.pid)):  # the workers too, not only the step's process
                    with contextlib.suppress(OSError):
                        os.kill(p, signal.SIGKILL)
            time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen
    wall = time.perf_counter() - t0
    if killed:
        with open(log_path, "a", encoding="utf-8") as log_file:
            log_file.write(f"\ncity_scale: killed at {killed:.1f} GB RSS (--rss-limit-gb {rss_limit_gb})\n")
    result = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return StepRun(
        phase=phase,
        step=step,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        # the larger of the largest single process (ru_maxrss, KiB on Linux: catches a peak between two polls)
        # and the largest sum over the step's process tree seen by the polls (a step's workers count too)
        peak_rss_mb=max(usage.ru_maxrss / 1024, tree_peak * 1024),
        rows=0,
        exit_code=proc.returncode,
        result=result,
    )


# ----------------------------------------------------------------------------------------------------------
# the workspace and the daily delta
# ----------------------------------------------------------------------------------------------------------
def feeds_of(ws: Path) -> list[dict]:
    import yaml

    return yaml.safe_load((ws / "gridhub.yaml").read_text(encoding="utf-8"))["feeds"]


def _read_csv(path: Path, encoding: str):
    import pandas as pd

    for enc in [encoding] if encoding != "auto" else ["utf-8-sig", "gb18030"]:
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc, on_bad_lines="skip")
        except UnicodeDecodeError:
            continue
    raise SystemExit(f"{path}: cannot read it as {encoding}")


#: what a delta changes on a kept record, first column the feed maps (target name → new value's maker)
_CHANGE = ("phone", "org_phone", "house_area", "address")


def write_delta(ws: Path, fraction: float, n_feeds: int, seed: int) -> dict[str, int]:
    """A daily delta into the landing folders of the ``n_feeds`` largest CSV feeds: ``fraction`` of all
    department rows, half changed records (same record id) and half new records (a new record id)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frames = {}
    for feed in feeds_of(ws):
        src = feed.get("source", {})
        if src.get("kind") != "file" or src.get("format") != "csv":
            continue
        done = sorted((ws / "landing" / feed["name"] / "_done").glob("*.csv"))
        if done:
            frames[feed["name"]] = (
                feed,
                pd.concat([_read_csv(p, src.get("encoding", "utf-8")) for p in done]),
            )
    total = sum(len(df) for _, df in frames.values())
    chosen = sorted(frames, key=lambda n: -len(frames[n][1]))[:n_feeds]
    size = sum(len(frames[n][1]) for n in chosen)
    written = {}
    for name in chosen:
        feed, df = frames[name]
        rid = next(k for k, v in feed["columns"].items() if v == "source_record_id")
        df = df[df[rid] != ""].drop_duplicates(rid, keep="last")
        n = max(2, round(total * fraction * len(df) / size))
        pick = df.iloc[rng.choice(len(df), size=min(n, len(df)), replace=False)].copy()
        target = {v: k for k, v in feed["columns"].items()}
        col = next((target[c] for c in _CHANGE if c in target), None)
        if col is not None:
            if feed["columns"][col] == "house_area":
                area = pd.to_numeric(pick[col], errors="coerce").fillna(80.0)
                pick[col] = (area + 1.5).round(2).astype(str)
            elif feed["columns"][col] == "address":
                pick[col] = pick[col] + "（更正）"
            else:
                pick[col] = ["139" + f"{x:08d}" for x in rng.integers(0, 10**8, len(pick))]
        new = np.arange(len(pick)) % 2 == 1  # every other row: a new record
        pick.loc[new, rid] = (
            pick.loc[new, rid].astype(str) + "D" + pd.Series(range(new.sum()), dtype=str).values
        )
        enc = feed["source"].get("encoding", "utf-8")
        enc = "utf-8" if enc == "auto" else enc
        path = ws / "landing" / name / f"delta_{seed}.csv"
        pick.to_csv(path, index=False, encoding=enc)
        written[name] = len(pick)
    return written


# ----------------------------------------------------------------------------------------------------------
# the runs and the table
# ----------------------------------------------------------------------------------------------------------
def run_ingest(
    phase: str, ws: Path, feeds: list[str], logs: Path, rss_limit_gb: float, parallel: int
) -> tuple[list[StepRun], float]:
    """Ingest every feed, each in its own process, ``parallel`` at a time (one ingest DAG per feed: Airflow runs
    them side by side). Returns the runs and the wall time of the whole ingest."""
    from concurrent.futures import ThreadPoolExecutor

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [
            pool.submit(run_child, phase, f"ingest:{feed}", "", ws, logs, rss_limit_gb) for feed in feeds
        ]
        runs = [f.result() for f in futures]
    return runs, time.perf_counter() - t0


def run_phase(
    phase: str, ws: Path, feeds: list[str], logs: Path, rss_limit_gb: float = 0.0, parallel: int = 2
) -> list[StepRun]:
    runs: list[StepRun] = []
    previous: dict[str, dict] = {}
    ingests, ingest_wall = run_ingest(phase, ws, feeds, logs, rss_limit_gb, parallel)
    for r in ingests:
        runs.append(_checked(r, previous, logs))
    group = StepRun(
        phase=phase,
        step=f"ingest ({len(ingests)} feeds, {parallel} at a time)",
        wall_s=ingest_wall,
        cpu_s=sum(r.cpu_s for r in ingests),
        peak_rss_mb=max((r.peak_rss_mb for r in ingests), default=0.0),
        rows=sum(r.rows for r in ingests),
        exit_code=0,
    )
    print(_line(group), flush=True)
    runs.append(group)
    run_id = ""
    for step in STEPS:
        r = _checked(run_child(phase, step, run_id, ws, logs, rss_limit_gb), previous, logs)
        run_id = r.result.get("run_id", run_id)
        runs.append(r)
    return runs


def _checked(r: StepRun, previous: dict[str, dict], logs: Path) -> StepRun:
    r.rows = _rows(r.step, r.result, previous)
    previous[r.step] = r.result
    print(_line(r), flush=True)
    if r.exit_code != 0:
        log_path = logs / f"{r.phase}-{r.step.replace(':', '-')}.log"
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]
        raise SystemExit(
            f"{r.phase} {r.step} failed (exit {r.exit_code}), log {log_path}:\n" + "\n".join(tail)
        )
    return r


def _line(r: StepRun) -> str:
    return (
        f"| {r.phase} | {r.step} | {r.wall_s:.1f} | {r.cpu_s:.1f} | {r.peak_rss_mb / 1024:.2f} | {r.rows:,} "
        f"| {r.rows_per_s:,.0f} |"
    )


HEADER = "| phase | step | wall s | CPU s (user+sys) | peak RSS GB | rows in | rows/s (wall) |\n|---|---|---|---|---|---|---|"


def totals(runs: list[StepRun], phase: str) -> str:
    # the per-feed ingest lines are inside the "ingest (N feeds…)" line, which holds their wall time side by side
    sel = [r for r in runs if r.phase == phase and not r.step.startswith("ingest:")]
    wall = sum(r.wall_s for r in sel)
    cpu = sum(r.cpu_s for r in sel)
    peak = max((r.peak_rss_mb for r in sel), default=0.0)
    return f"| {phase} | **total** | {wall:.1f} | {cpu:.1f} | {peak / 1024:.2f} (max) | | |"


def machine() -> str:
    mem = next(
        (ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")),
        "0",
    )
    return f"{os.cpu_count()} cores, {int(mem) / 1024**2:.1f} GB RAM"


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def print_quality(ws: Path) -> None:
    """The F1 lines of ``gridhub summary`` (pairwise against the sample district's truth) for the full run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.setdefault("GRIDHUB_HMAC_KEY", BENCH_KEY)
    cmd = [sys.executable, "-m", "gridhub.cli", "-w", str(ws), "summary"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True).stdout.splitlines()
    keep = [
        ln for ln in out if "F1" in ln or ln.startswith(("house ", "person ", "organisation ", "facility "))
    ]
    print("\n".join(["", "quality (gridhub summary):", *keep, ""]), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--residents", type=int, help="generate the sample district with this many residents")
    where.add_argument(
        "--workspace", type=Path, help="an existing workspace (its landing files are ingested)"
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, help="where to generate the district (default: a new folder in /tmp)")
    ap.add_argument("--delta", type=float, default=0.01, help="daily delta, share of all department rows")
    ap.add_argument(
        "--delta-feeds", type=int, default=3, help="the delta touches this many of the largest feeds"
    )
    ap.add_argument("--no-delta", action="store_true", help="only the full run")
    ap.add_argument("--keep", action="store_true", help="keep the generated workspace")
    ap.add_argument(
        "--rss-limit-gb", type=float, default=0.0, help="kill a step whose RSS passes this (0: no limit)"
    )
    ap.add_argument("--summary", action="store_true", help="print the run summary's F1 lines (sample truth)")
    ap.add_argument("--json", type=Path, help="append the measurements to this JSON-lines file")
    ap.add_argument(
        "--ingest-parallel",
        type=int,
        default=2,
        help="feeds ingested at a time (one ingest DAG per feed; Airflow runs them side by side)",
    )
    args = ap.parse_args(argv)

    generated = args.workspace is None
    ws = args.workspace or args.out or Path(tempfile.mkdtemp(prefix=f"city-{args.residents}-"))
    ws = ws.resolve()
    logs = Path(tempfile.mkdtemp(prefix="city-scale-logs-"))
    print(f"machine: {machine()}; load average at start {load()}; logs {logs}", flush=True)
    gen_s = 0.0
    if generated:
        shutil.rmtree(ws, ignore_errors=True)
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "gridhub.cli", "sample", "--out", str(ws)]
        cmd += ["--persons", str(args.residents), "--seed", str(args.seed)]
        done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if done.returncode:
            raise SystemExit(f"gridhub sample failed (exit {done.returncode}); nothing measured")
        gen_s = time.perf_counter() - t0
    feeds = [f["name"] for f in feeds_of(ws)]
    print(f"\nworkspace {ws}: {len(feeds)} feeds (generated in {gen_s:.1f} s)\n\n{HEADER}", flush=True)
    runs = run_phase("full", ws, feeds, logs, args.rss_limit_gb, args.ingest_parallel)
    if args.summary:
        print_quality(ws)
    if not args.no_delta:
        written = write_delta(ws, args.delta, args.delta_feeds, args.seed)
        print(f"| delta | files written: {written} | | | | {sum(written.values()):,} | |", flush=True)
        runs += run_phase("delta", ws, list(written), logs, args.rss_limit_gb, args.ingest_parallel)
    print(f"\n{HEADER}")
    for r in runs:
        print(_line(r))
    for phase in ("full", "delta") if not args.no_delta else ("full",):
        print(totals(runs, phase))
    print(
        f"\nresidents {args.residents or '-'}; machine {machine()}; load average (1/5/15 min) at end {load()}"
    )
    if args.json:
        record = {
            "residents": args.residents,
            "workspace": str(ws),
            "seed": args.seed,
            "machine": machine(),
            "load_end": load(),
            "steps": [{k: v for k, v in asdict(r).items() if k != "result"} for r in runs],
        }
        with open(args.json, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    if generated and not args.keep:
        shutil.rmtree(ws, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_child":
        sys.path.insert(0, str(ROOT))
        raise SystemExit(child(sys.argv[2:]))
    raise SystemExit(main())
