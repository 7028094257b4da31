"""One million person mentions: gridhub's engine against Splink (DuckDB), then a 1% daily delta on ours.

Usage: ``.venv/bin/python bench/er_scale.py [--records 1000000]`` (Splink runs in
``.venv-bench``, made on first use by ``bench/_benchenv.py``). The data are synthetic person mentions with known truth (``tests/synth_er.py``: households, twins,
common names, homophone typos, missing ID numbers, day/month swaps, moves, changed phones), written once to
Parquet. Each engine then runs in its own child process, so that its peak memory (max RSS, data included) is
its own. Wall time covers training (u, m, prior), blocking, scoring and clustering. Both engines use the same
blocking rules and equivalent comparisons, and cluster at match probability 0.9, fixed before any scoring.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # synthetic mentions: tests/synth_er.py

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

THRESHOLD = 0.9


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(records: int, out: Path, seed: int) -> None:
    import synth_er as synth

    people = synth.persons(int(records / 1.7), seed=seed)
    people.to_parquet(out / "mentions.parquet", index=False)
    # the daily delta: 1% of the size, half new people, half new mentions of people already known
    n = max(records // 100, 2)
    new = synth.persons(int(n / 2 / 1.7), seed=seed + 1)
    new["true_id"] = "N" + new["true_id"]
    new["record_key"] = "delta:n" + new["source_record_id"]
    known = people.sample(n - len(new), random_state=seed).copy()
    known["record_key"] = "delta:k" + known["source_record_id"]
    known["phone"] = pd.NA  # a new feed without phones
    delta = pd.concat([new, known], ignore_index=True)
    delta["feed"] = "delta"
    delta.to_parquet(out / "delta.parquet", index=False)


def child_gridhub(folder: Path) -> dict:
    from matching.er import EntitySettings, ResolutionState, evaluate_resolution, resolve, resolve_delta

    df = pd.read_parquet(folder / "mentions.parquet")
    truth = df[["record_key", "true_id"]]
    mentions = df.drop(columns=["true_id"])
    del df
    settings = EntitySettings.from_config("person", {})
    t = time.perf_counter()
    res = resolve(mentions, settings, run_id="full")
    wall = time.perf_counter() - t
    scores = evaluate_resolution(res.assignments, truth)
    out = {
        "engine": "gridhub",
        "records": len(mentions),
        "seconds": wall,
        "peak_mb": peak_mb(),
        "candidate_pairs": res.stats["candidate_pairs"],
        **{k: scores[k] for k in ("precision", "recall", "f1")},
        "timings": res.stats["timings"],
    }
    # the daily delta on top of the saved state
    state_dir = folder / "state" / "er" / "person"
    t = time.perf_counter()
    res.state.save(state_dir)
    out["state_save_seconds"] = time.perf_counter() - t
    before = res.assignments.set_index("record_key")["entity_id"]
    del res
    delta = pd.read_parquet(folder / "delta.parquet")
    truth = pd.concat([truth, delta[["record_key", "true_id"]]], ignore_index=True)
    t = time.perf_counter()
    state = ResolutionState.load(state_dir, "person")
    load_s = time.perf_counter() - t
    # (a) what a feed that sends only its new and changed rows costs: resolve_delta
    t = time.perf_counter()
    inc = resolve_delta(delta.drop(columns=["true_id"]), settings, state=state, run_id="delta")
    delta_wall = time.perf_counter() - t
    t = time.perf_counter()
    inc.state.save(folder / "state-after-delta")
    delta_save = time.perf_counter() - t
    after = inc.assignments.set_index("record_key")["entity_id"].reindex(before.index)
    dscores = evaluate_resolution(inc.assignments, truth)
    out.update(
        {
            "delta_records": inc.stats["delta_records"],
            "delta_seconds": delta_wall,
            "delta_state_load_seconds": load_s,
            "delta_state_save_seconds": delta_save,
            "delta_ids_kept": float((after == before).mean()),
            "delta_f1": dscores["f1"],
            "delta_incremental": inc.stats["incremental"],
            "delta_timings": inc.stats["timings"],
        }
    )
    del inc
    # (b) the same delta when the caller hands in every record (the pipeline's way): changes found by hash
    batch = pd.concat([mentions, delta.drop(columns=["true_id"])], ignore_index=True)
    t = time.perf_counter()
    inc = resolve(batch, settings, state=state, run_id="delta-all")
    out["delta_all_seconds"] = time.perf_counter() - t
    out["delta_all_same_ids"] = bool(
        inc.assignments.set_index("record_key")["entity_id"]
        .sort_index()
        .equals(
            pd.read_parquet(
                folder / "state-after-delta" / "registry.parquet", columns=["record_key", "entity_id"]
            )
            .set_index("record_key")["entity_id"]
            .astype("string")
            .sort_index()
        )
    )
    return out


def child_splink(folder: Path) -> dict:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from matching.er import pairwise_scores

    logging.getLogger("splink").setLevel(logging.ERROR)
    df = pd.read_parquet(folder / "mentions.parquet")
    truth = df[["record_key", "true_id"]]
    data = df.drop(columns=["true_id"])
    del df
    data["birth_date"] = pd.to_datetime(data["birth_date"]).dt.strftime("%Y-%m-%d")
    data["surname"] = data["name"].str.slice(0, 1)
    t = time.perf_counter()
    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name"),
            cll.ExactMatchLevel("name").configure(tf_adjustment_column="name", tf_adjustment_weight=1.0),
            cll.ExactMatchLevel("name_pinyin"),
            cll.LevenshteinLevel("name", 1),
            cll.ElseLevel(),
        ],
    )
    address = cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.And(
                cll.NullLevel("address_code"), cll.NullLevel("building_code"), cll.NullLevel("grid_code")
            ),
            cll.ExactMatchLevel("address_code"),
            cll.ExactMatchLevel("building_code"),
            cll.ExactMatchLevel("grid_code"),
            cll.ElseLevel(),
        ],
    )
    settings = SettingsCreator(
        unique_id_column_name="record_key",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("id_number"),
            block_on("name_pinyin", "birth_date"),
            block_on("phone"),
            block_on("address_code", "surname"),
            block_on("name", "substr(birth_date, 1, 4)"),
        ],
        comparisons=[
            name,
            cl.DamerauLevenshteinAtThresholds("id_number", [1]),
            cl.DateOfBirthComparison(
                "birth_date", input_is_string=True, datetime_format="%Y-%m-%d", invalid_dates_as_null=True
            ),
            cl.ExactMatch("sex"),
            cl.DamerauLevenshteinAtThresholds("phone", [1]),
            address,
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(data), settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("id_number"), block_on("name", "birth_date", "phone")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("name_pinyin", "birth_date"), estimate_without_term_frequencies=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("id_number"), estimate_without_term_frequencies=True
    )
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=THRESHOLD
    )
    cdf = clusters.as_pandas_dataframe()[["record_key", "cluster_id"]]
    wall = time.perf_counter() - t
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    # counted outside the timed section, exactly (not from a sample), deduplicated across rules
    counts = count_comparisons_from_blocking_rules(
        db_api.register(data),
        blocking_rules=settings.blocking_rules_to_generate_predictions,
        link_type="dedupe_only",
        unique_id_column_name="record_key",
        record_sample_proportion=1.0,
    )
    n_pairs = int(counts[-1]["cumulative_comparison_count"]) if counts else 0
    labels = truth.merge(cdf, on="record_key", how="left")
    labels["cluster_id"] = labels["cluster_id"].astype("string").fillna("single:" + labels["record_key"])
    s = pairwise_scores(labels["cluster_id"].astype(str), labels["true_id"])
    return {
        "engine": "splink",
        "records": len(data),
        "seconds": wall,
        "peak_mb": peak_mb(),
        "candidate_pairs": n_pairs,
        **{k: s[k] for k in ("precision", "recall", "f1")},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--child", choices=["gridhub", "splink"])
    ap.add_argument("--data")
    ap.add_argument("--engines", default="gridhub,splink")
    args = ap.parse_args()
    if not args.child and "splink" in args.engines.split(","):
        import _benchenv  # Splink needs its own venv (pandas < 3): re-run there, as bench/er_vs_splink.py does

        _benchenv.ensure(__file__)
    if args.child:
        result = (child_gridhub if args.child == "gridhub" else child_splink)(Path(args.data))
        sys.stdout.write("RESULT " + json.dumps(result) + "\n")
        return
    with tempfile.TemporaryDirectory(prefix="er-scale-") as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        generate(args.records, folder, args.seed)
        sys.stderr.write(f"generated data in {time.perf_counter() - t:.1f}s\n")
        rows = []
        for engine in args.engines.split(","):
            proc = subprocess.run(
                [sys.executable, __file__, "--child", engine, "--data", str(folder)],
                capture_output=True,
                text=True,
                check=False,
            )
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode or not line:
                sys.stderr.write(proc.stderr[-4000:])
                raise SystemExit(f"{engine} child failed (exit {proc.returncode})")
            rows.append(json.loads(line[0][len("RESULT ") :]))
    table = pd.DataFrame(
        [
            {
                k: r.get(k)
                for k in (
                    "engine",
                    "records",
                    "seconds",
                    "peak_mb",
                    "candidate_pairs",
                    "precision",
                    "recall",
                    "f1",
                )
            }
            for r in rows
        ]
    )
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 140):
        print(
            f"Entity resolution of {args.records:,} synthetic person mentions (cluster threshold {THRESHOLD})"
        )
        print(table.to_string(index=False))
        ours = next((r for r in rows if r["engine"] == "gridhub"), None)
        if ours:
            print()
            print("gridhub stage timings (s):", json.dumps(ours["timings"]))
            print(
                f"daily delta: {ours['delta_records']:,} new records -> resolve_delta {ours['delta_seconds']:.2f}s "
                f"({100 * ours['delta_seconds'] / ours['seconds']:.1f}% of the full run), incremental="
                f"{ours['delta_incremental']}, existing ids kept {100 * ours['delta_ids_kept']:.3f}%, "
                f"F1 after delta {ours['delta_f1']:.4f}"
            )
            print(
                f"  state I/O, not in the times above: save after the full run {ours['state_save_seconds']:.2f}s, "
                f"load {ours['delta_state_load_seconds']:.2f}s, save after the delta "
                f"{ours['delta_state_save_seconds']:.2f}s"
            )
            print(
                f"  the same delta handed in with every record (resolve, changes found by hash): "
                f"{ours['delta_all_seconds']:.2f}s ({100 * ours['delta_all_seconds'] / ours['seconds']:.1f}%), "
                f"same ids as resolve_delta: {ours['delta_all_same_ids']}"
            )
            print("delta stage timings (s):", json.dumps(ours["delta_timings"]))
        np.set_printoptions()


if __name__ == "__main__":
    main()
