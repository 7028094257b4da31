"""Run gridhub on bench/other_district.py's workspace and score persons, organisations and houses pairwise."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import yaml


def gridhub(ws: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "gridhub.cli", "--workspace", str(ws), *args]
    return subprocess.run(cmd, capture_output=True, text=True)


def pairwise(truth: dict[str, str], predicted: dict[str, str]) -> dict:
    """Pairwise precision / recall / F1 over the truth's records (a record not resolved is its own entity)."""
    by_truth: dict[str, list[str]] = defaultdict(list)
    for record, key in truth.items():
        by_truth[key].append(record)
    pred = {r: predicted.get(r, "missing:" + r) for r in truth}
    by_pred: dict[str, list[str]] = defaultdict(list)
    for record, key in pred.items():
        by_pred[key].append(record)

    def pairs(groups):
        return sum(len(g) * (len(g) - 1) // 2 for g in groups)

    both: dict[tuple[str, str], int] = defaultdict(int)
    for record in truth:
        both[(truth[record], pred[record])] += 1
    tp = sum(n * (n - 1) // 2 for n in both.values())
    tpairs, ppairs = pairs(by_truth.values()), pairs(by_pred.values())
    p = tp / ppairs if ppairs else 1.0
    r = tp / tpairs if tpairs else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "records": len(truth),
        "truth_pairs": tpairs,
        "predicted_pairs": ppairs,
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f1, 4),
    }


def score(ws: Path) -> dict:
    import warehouse

    xref = warehouse.read_table(ws / "warehouse", "source_xref", layer="restricted").to_pandas()
    out = {}
    for entity, truth_file in (
        ("person", "persons.csv"),
        ("organisation", "organisations.csv"),
        ("house", "houses.csv"),
    ):
        with open(ws / "truth" / truth_file, encoding="utf-8") as fh:
            truth = {f"{row['feed']}:{row['record']}": row["key"] for row in csv.DictReader(fh)}
        rows = xref[xref.entity_type == entity]
        predicted = {
            f"{f}:{r}": e for f, r, e in zip(rows.feed, rows.source_record_id, rows.entity_id, strict=True)
        }
        out[entity] = pairwise(truth, predicted)
    return out


def run_pipeline(ws: Path) -> dict:
    steps = {}
    for args in (
        ("check",),
        *[
            ("ingest", "--feed", f["name"])
            for f in yaml.safe_load((ws / "gridhub.yaml").read_text())["feeds"]
        ],
        ("run",),
    ):
        done = gridhub(ws, *args)
        steps[" ".join(args)] = done.returncode
        if done.returncode not in (0,):
            print(
                f"--- gridhub {' '.join(args)} exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
    return steps
