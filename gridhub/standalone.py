"""``make airflow``: the Airflow UI on the sample workspace, with a known login.

Starts ``airflow standalone`` (scheduler, DAG processor, triggerer and API server/UI; embedded SQLite and the
LocalExecutor) on the project's ``dags/`` folder and a workspace (the sample district is generated first if
the folder has no ``gridhub.yaml``, as ``make demo`` does). Settings for a small machine: few parallel tasks,
one API worker, the UI on ``127.0.0.1`` only. The simple auth manager's users and their passwords are set
through configuration, so the login is known in advance::

    user admin, password admin   (GRIDHUB_AIRFLOW_USER / GRIDHUB_AIRFLOW_PASSWORD change them)

The file-trigger test (``tests/test_file_trigger.py``) starts Airflow with the same :func:`standalone_env`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from gridhub import env
from gridhub.demo import airflow_env
from gridhub.layout import CONFIG_FILE

PLUGINS_FOLDER = Path(__file__).resolve().parents[1] / "plugins"
DEFAULT_PORT = 8080
DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "admin"
PASSWORDS_FILE = "simple_auth_manager_passwords.json"


def standalone_env(
    workspace: Path,
    *,
    port: int = DEFAULT_PORT,
    user: str = DEFAULT_USER,
    password: str = DEFAULT_PASSWORD,
    parallelism: int = 2,
    airflow_home: Path | None = None,
    plugins: bool = True,
) -> dict[str, str]:
    """Environment for ``airflow standalone`` on ``workspace``, serving the UI on ``127.0.0.1:<port>``.

    Builds on :func:`gridhub.demo.airflow_env` (private ``AIRFLOW_HOME`` with SQLite, the project's DAGs, no
    examples, DAGs unpaused) and writes the simple auth manager's passwords file so ``user``/``password``
    log in. ``AIRFLOW__API__BASE_URL`` matches the port: without it every task fails with a misleading
    "state changed externally" when the port is not 8080. With ``plugins`` the project's ``plugins/`` folder
    (the upload portal, mounted at ``/gridhub-portal/``) is loaded too.
    """
    workspace = Path(workspace).resolve()
    environ = airflow_env(workspace)
    home = Path(airflow_home).resolve() if airflow_home else Path(environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / PASSWORDS_FILE
    passwords.write_text(json.dumps({user: password}) + "\n", encoding="utf-8")
    passwords.chmod(0o600)
    base_url = f"http://127.0.0.1:{port}"
    venv_bin = str(Path(sys.executable).parent)  # standalone starts its components as plain `airflow`
    environ.update(
        {
            "PATH": os.pathsep.join([venv_bin, environ.get("PATH", "")]),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(parallelism),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": base_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{user}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": environ.get(
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "30"
            ),
        }
    )
    if plugins and PLUGINS_FOLDER.is_dir():
        environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(PLUGINS_FOLDER)
    return environ


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--workspace",
        required=True,
        help="workspace folder (the sample district is generated if it is empty)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get(env.AIRFLOW_PORT, DEFAULT_PORT)),
        help=f"port of the Airflow UI (default: ${env.AIRFLOW_PORT} or %(default)s)",
    )
    p.add_argument(
        "--persons", type=int, default=3000, help="residents of a generated sample (default: %(default)s)"
    )
    p.add_argument(
        "--seed", type=int, default=7, help="random seed of a generated sample (default: %(default)s)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ws = Path(args.workspace).resolve()
    if not (ws / CONFIG_FILE).exists():
        from gridhub.sample import generate_workspace

        print(f"Generating the sample district ({args.persons} persons, seed {args.seed}) into {ws}")
        generate_workspace(ws, persons=args.persons, seed=args.seed)
    user = os.environ.get(env.AIRFLOW_USER, DEFAULT_USER)
    password = os.environ.get(env.AIRFLOW_PASSWORD, DEFAULT_PASSWORD)
    environ = standalone_env(ws, port=args.port, user=user, password=password)
    airflow = str(Path(sys.executable).with_name("airflow"))
    print(
        f"\nAirflow UI:  http://127.0.0.1:{args.port}   login: {user} / {password}\n"
        f"Workspace:   {ws}   (hand a file in: gridhub -w {ws} land --feed NAME FILE)\n"
        f"Airflow home {environ['AIRFLOW_HOME']}; Ctrl-C stops every component.\n",
        flush=True,
    )
    os.execve(airflow, [airflow, "standalone"], environ)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
