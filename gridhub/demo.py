"""``make demo``: the sample district through the real Airflow DAGs, then the summary.

Airflow runs with its home inside the workspace (``<workspace>/airflow``, SQLite metadata), the project's
``dags/`` folder and no example DAGs. Each ingest DAG and then the resolve-and-publish DAG is run with
``airflow dags test`` — the same DAG code the scheduler runs, executed in-process — and a failed run stops the
demo with the DAG's name. The staging events the ingest runs queued for the resolve DAG are cleared once its
run has covered them (:mod:`gridhub.airflow_queue`), so the demo leaves nothing queued for ``make airflow``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from gridhub import env
from gridhub.assets import RESOLVE_DAG_ID, configured_feeds
from gridhub.layout import CONFIG_FILE
from gridhub.workspace import Workspace

DAGS_FOLDER = Path(os.environ.get(env.DAGS_FOLDER, Path(__file__).resolve().parents[1] / "dags"))
DEMO_HMAC_KEY = "gridhub-demo-key-not-for-production"


def airflow_env(workspace: Path) -> dict[str, str]:
    """Environment for running this workspace's DAGs with a private, embedded Airflow."""
    home = Workspace(workspace).airflow_home
    environ = dict(os.environ)
    environ.update(
        {
            env.WORKSPACE: str(workspace),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            # INFO: the task logs carry what each task did (gridhub.tasklog); library noise is kept out there
            "AIRFLOW__LOGGING__LOGGING_LEVEL": environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"),
        }
    )
    environ.setdefault(env.HMAC_KEY, DEMO_HMAC_KEY)
    return environ


def _airflow(args: list[str], environ: dict[str, str], log: Path) -> int:
    airflow = Path(sys.executable).with_name("airflow")
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"\n$ airflow {' '.join(args)}\n")
        fh.flush()
        return subprocess.run(
            [str(airflow), *args], env=environ, stdout=fh, stderr=subprocess.STDOUT
        ).returncode


def run_dags(workspace: Path) -> list[tuple[str, float]]:
    """Migrate the embedded Airflow DB, then test-run every ingest DAG and the resolve-and-publish DAG."""
    environ = airflow_env(workspace)
    home = Path(environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    log = home / "demo.log"
    if _airflow(["db", "migrate"], environ, log) != 0:
        raise SystemExit(f"airflow db migrate failed: see {log}")
    timings = []
    dag_ids = [f"gridhub_ingest_{f['name']}" for f in configured_feeds(workspace)] + [RESOLVE_DAG_ID]
    for dag_id in dag_ids:
        t0 = time.perf_counter()
        started = dt.datetime.now(dt.UTC)
        print(f"  airflow dags test {dag_id} ...", flush=True)
        if _airflow(["dags", "test", dag_id], environ, log) != 0:
            raise SystemExit(f"DAG {dag_id} failed: its task logs are in {log}")
        timings.append((dag_id, time.perf_counter() - t0))
    # the ingest runs queued their staging events for the resolve DAG, which the run just made has covered: left
    # queued, they would start one more resolve run when a scheduler first starts (make airflow)
    clear = [sys.executable, "-m", "gridhub.airflow_queue", RESOLVE_DAG_ID, "--before", started.isoformat()]
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"\n$ {' '.join(clear[1:])}\n")
        fh.flush()
        if subprocess.run(clear, env=environ, stdout=fh, stderr=subprocess.STDOUT).returncode != 0:
            raise SystemExit(f"clearing the queued asset events of {RESOLVE_DAG_ID} failed: see {log}")
    return timings


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--workspace", required=True, help="folder for the sample workspace (regenerated)")
    p.add_argument(
        "--persons", type=int, default=3000, help="residents of the sample district (default: %(default)s)"
    )
    p.add_argument(
        "--seed", type=int, default=7, help="random seed; same seed, same data (default: %(default)s)"
    )
    p.add_argument(
        "--keep", action="store_true", help="keep an existing workspace instead of regenerating it"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ws = Path(args.workspace).resolve()

    from gridhub.report import format_summary, write_summary

    if not (args.keep and (ws / CONFIG_FILE).exists()):
        import shutil

        from gridhub.sample import generate_workspace

        if ws.exists():
            shutil.rmtree(ws)
        print(f"Generating the sample district ({args.persons} persons, seed {args.seed}) into {ws}")
        generate_workspace(ws, persons=args.persons, seed=args.seed)
    print("Running the DAGs through Airflow (embedded SQLite, logs in <workspace>/airflow/demo.log):")
    timings = run_dags(ws)
    for dag_id, secs in timings:
        print(f"  {dag_id:<45} {secs:6.1f} s")
    os.environ.setdefault(env.HMAC_KEY, DEMO_HMAC_KEY)
    s, path = write_summary(Workspace(ws))
    print()
    print(format_summary(s))
    print(f"\nSummary JSON: {path}")
    if s.get("published"):
        from gridhub.runreport import current_report

        print(f"Run report (HTML, charts): {current_report(Workspace(ws))}")
    return 0 if s.get("published") else 1


if __name__ == "__main__":
    sys.exit(main())
