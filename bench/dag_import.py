"""How long Airflow takes to import gridhub's DAG folder, against the bare Airflow import.

    .venv/bin/python bench/dag_import.py [--repeat 5] [--workspace DIR]

The issue asks that importing the DAG folder take under one second. Each repeat is a fresh interpreter (so
nothing is cached in ``sys.modules``) with the sample workspace's feeds in ``gridhub.yaml``; it times

- ``import airflow.sdk`` + the ``DagBag`` class: what any DAG parse pays before it reads our files;
- ``DagBag(dag_folder=dags/)``: the DAG folder itself (our DAG files, ``gridhub.assets``, the file-trigger
  class), i.e. what the DAG processor pays per parse on top of Airflow.

Prints medians (and min/max) as a Markdown table, the per-file parse times Airflow itself records, and the
modules the DAG folder imports beyond bare Airflow that cost the most (``python -X importtime``), so a slow
import has a name.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
BUDGET_SECONDS = 1.0

_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
import airflow.sdk
from airflow.dag_processing.dagbag import DagBag
t1 = time.perf_counter()
before = set(sys.modules)
print("@@dagbag@@", file=sys.stderr, flush=True)
bag = DagBag(dag_folder=sys.argv[1])
t2 = time.perf_counter()
stats = [{"file": s.file, "seconds": s.duration.total_seconds() if hasattr(s.duration, "total_seconds")
          else float(s.duration), "dags": s.dag_num} for s in bag.dagbag_stats]
print(json.dumps({"airflow": t1 - t0, "dagbag": t2 - t1, "dags": len(bag.dags), "errors": len(bag.import_errors),
                  "new_modules": len(set(sys.modules) - before), "stats": stats}))
"""


def _env(workspace: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "GRIDHUB_WORKSPACE": str(workspace),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
        }
    )
    return env


def probe(env: dict[str, str], importtime: bool = False) -> tuple[dict, str]:
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", _PROBE, str(DAGS)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    line = [x for x in out.stdout.splitlines() if x.startswith("{")][-1]
    return json.loads(line), out.stderr


def slowest_new_imports(stderr: str, top: int = 12) -> list[tuple[str, float]]:
    """Top-level modules first imported while the DAG folder loads, by cumulative import time."""
    _, _, after = stderr.partition("@@dagbag@@")
    rows = []
    for line in after.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        try:
            cumulative_us = int(parts[1])
        except ValueError:
            continue
        name = parts[2]
        depth = (len(line.split("|")[2]) - len(line.split("|")[2].lstrip())) // 2
        if depth == 0:  # outermost imports only: their time includes their children
            rows.append((name.strip(), cumulative_us / 1e6))
    return sorted(rows, key=lambda r: -r[1])[:top]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--workspace", help="workspace whose feeds generate the DAGs (default: a fresh sample)")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="gridhub-dag-import-") as tmp:
        tmp_path = Path(tmp)
        if args.workspace:
            ws = Path(args.workspace).resolve()
        else:
            sys.path.insert(0, str(ROOT))
            from gridhub.sample import generate_workspace

            ws = tmp_path / "ws"
            generate_workspace(ws, persons=200, seed=7)
        home = tmp_path / "airflow"
        home.mkdir()
        env = _env(ws, home)
        probe(env)  # warm the OS file cache; not counted
        runs = [probe(env)[0] for _ in range(args.repeat)]
        _, trace = probe(env, importtime=True)

    first = runs[0]
    if first["errors"]:
        raise SystemExit(f"the DAG folder has {first['errors']} import errors; fix them before timing")

    def cell(key: str) -> str:
        xs = [r[key] for r in runs]
        return f"{statistics.median(xs):.3f} s | {min(xs):.3f}–{max(xs):.3f} s"

    feeds = first["dags"] - 1
    print(
        f"DAG folder import, {args.repeat} fresh interpreters, {feeds} feeds → {first['dags']} DAGs "
        f"({os.cpu_count()} cores, load avg {os.getloadavg()[0]:.1f})\n"
    )
    print("| what | median | min–max |")
    print("|---|---|---|")
    print(f"| bare Airflow (`import airflow.sdk` + `DagBag` class) | {cell('airflow')} |")
    print(f"| gridhub DAG folder (`DagBag(dag_folder=dags/)`) | {cell('dagbag')} |")
    median_dagbag = statistics.median(r["dagbag"] for r in runs)
    verdict = "within" if median_dagbag < BUDGET_SECONDS else "OVER"
    print(
        f"\nDAG folder on top of Airflow: {median_dagbag:.3f} s median — {verdict} the {BUDGET_SECONDS:.0f} s budget; "
        f"{first['new_modules']} modules imported beyond bare Airflow.\n"
    )
    print("Per-file parse time recorded by Airflow (first run):\n")
    print("| file | DAGs | seconds |")
    print("|---|---|---|")
    for s in sorted(first["stats"], key=lambda s: s["file"]):
        print(f"| {Path(s['file']).name} | {s['dags']} | {s['seconds']:.3f} |")
    print("\nSlowest modules first imported by the DAG folder (`-X importtime`, cumulative):\n")
    print("| module | seconds |")
    print("|---|---|")
    for name, secs in slowest_new_imports(trace):
        print(f"| {name} | {secs:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
