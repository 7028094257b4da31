"""Where ``resolve_entities`` spends its CPU and memory, per entity type and engine stage (issue #19).

Usage (a workspace whose run has bound mentions, e.g. kept by ``bench/city_scale.py --keep``)::

    PYTHONPATH=. .venv/bin/python bench/er_stages.py --workspace /path/to/ws --run run-0123456789abcdef
    PYTHONPATH=. .venv/bin/python bench/er_stages.py --workspace ws --run RUN --types person,house --delta 0.01

Each type's bound mentions (``work/<run>/bound/<type>.parquet``) are resolved in this process as a full run, with
the engine's stages timed in CPU seconds (``time.process_time``, the figure to compare on a shared machine) and
the process's peak RSS after each; then golden records and the state's save. With ``--delta`` the same is done
for a delta on top: a share of the mentions changed (a phone / area / responsible person) or added (a new
record_key), resolved incrementally against the state the full run left. Nothing is written to the workspace.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gridhub.workspace import Workspace  # noqa: E402
from matching.er import (  # noqa: E402
    EntitySettings,
    ResolutionState,
    golden_records,
    resolve,
    stages_prepare,  # noqa: E402
)

CHANGED = {"person": "phone", "organisation": "org_phone", "house": "house_area", "facility": "responsible"}
STAGES: dict[str, tuple[float, float]] = {}


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _timed_clock() -> None:
    """The engine's Clock also notes CPU seconds and peak RSS per stage (into STAGES)."""
    init, lap = stages_prepare.Clock.__init__, stages_prepare.Clock.lap

    def new_init(self) -> None:
        init(self)
        self.cpu0 = time.process_time()

    def new_lap(self, name: str) -> None:
        lap(self, name)
        now = time.process_time()
        STAGES[name] = (now - self.cpu0, _rss_gb())
        self.cpu0 = now

    stages_prepare.Clock.__init__, stages_prepare.Clock.lap = new_init, new_lap  # type: ignore[method-assign]


def _delta(m: pd.DataFrame, t: str, share: float, rng: np.random.Generator) -> pd.DataFrame:
    """``m`` with ``share`` of its records: half changed, half added under a new record_key."""
    k = max(1, int(len(m) * share / 2))
    pick = rng.choice(len(m), size=2 * k, replace=False)
    changed = m.iloc[pick[:k]].copy()
    col = CHANGED[t]
    if col in changed.columns and col == "house_area":
        changed[col] = changed[col] + 1.5
    elif col in changed.columns:
        changed[col] = pd.array([f"139{x:08d}" for x in rng.integers(0, 10**8, k)], dtype="string")
    new = m.iloc[pick[k:]].copy()
    new["record_key"] = (new["record_key"].astype(str) + "D").astype("string")
    out = m.copy()
    out.iloc[pick[:k]] = changed
    return pd.concat([out, new], ignore_index=True)


def _one(m: pd.DataFrame, s: EntitySettings, run: str, state: ResolutionState | None, folder: Path) -> dict:
    STAGES.clear()
    c = time.process_time()
    res = resolve(m, s, state=state, run_id=run)
    c_resolve = time.process_time() - c
    c = time.process_time()
    res.state.save(folder)
    c_save = time.process_time() - c
    assignments = res.assignments
    del res
    c = time.process_time()
    golden_records(m, assignments, s)
    c_golden = time.process_time() - c
    return {
        "stages": " / ".join(f"{cpu:.2f}" for cpu, _ in STAGES.values()),
        "resolve": c_resolve,
        "golden": c_golden,
        "save": c_save,
        "peak": _rss_gb(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--run", required=True, help="the run id whose bound mentions are resolved")
    ap.add_argument("--types", default="person,organisation,house,facility")
    ap.add_argument("--delta", type=float, default=0.0, help="also a delta of this share of the mentions")
    args = ap.parse_args(argv)
    _timed_clock()
    ws = Workspace(args.workspace)
    rng = np.random.default_rng(1)
    print(f"load average at start {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        "| type | phase | mentions | stages CPU s ("
        + " / ".join(
            ("prepare", "blocking", "comparisons", "training", "scoring", "clustering", "ids", "outputs")
        )
        + ") | resolve | state save | golden records | peak RSS GB |\n|---|---|---|---|---|---|---|---|"
    )
    with tempfile.TemporaryDirectory(prefix="er-stages-") as tmp:
        for t in args.types.split(","):
            s = EntitySettings.from_config(t, ws.config.matching)
            m = pd.read_parquet(args.workspace / "work" / args.run / "bound" / f"{t}.parquet")
            if m.empty:
                continue
            full = _one(m, s, args.run, None, Path(tmp) / t)
            rows = [("full", len(m), full)]
            if args.delta:
                md = _delta(m, t, args.delta, rng)
                state = ResolutionState.load(Path(tmp) / t, t)
                rows.append(("delta", len(md), _one(md, s, args.run + "-d", state, Path(tmp) / f"{t}-d")))
            for phase, n, r in rows:
                print(
                    f"| {t} | {phase} | {n:,} | {r['stages']} | {r['resolve']:.2f} | {r['save']:.2f} "
                    f"| {r['golden']:.2f} | {r['peak']:.2f} |",
                    flush=True,
                )
    print(f"load average at end {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
