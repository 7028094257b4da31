"""Measured agreement (issue 17, done-when 3): ``gridhub evaluate`` draws a blind stratified sample of record
pairs; labels drawn from the sample district's truth give precision and recall intervals that hold the truth's
own figures (``gridhub.quality``), and labels that contradict the truth do not."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from department_fields import published_workspace

from gridhub import cli
from gridhub.quality import entity_scores, read_truth
from warehouse.read import current_run_id, read_table

PER_STRATUM = 12


@pytest.fixture(scope="module")
def published(sample_workspace, tmp_path_factory):
    return published_workspace(sample_workspace, tmp_path_factory).ws


@pytest.fixture(scope="module")
def sample(published, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("evaluate") / "sample"
    args = ["-w", str(published.root), "evaluate", "--out", str(out), "--per-stratum", str(PER_STRATUM)]
    assert cli.main(args) == 0
    return out


def _truth_labels(ws, labels: pd.DataFrame) -> list[str]:
    records, _ = read_truth(ws.root / "truth")
    keys = records.set_index(["feed", "source_record_id", "entity_type"])["entity_key"]
    key = keys.to_dict()
    out = []
    for r in labels.itertuples(index=False):
        a = key.get((r.left_feed, r.left_record, r.entity_type))
        b = key.get((r.right_feed, r.right_record, r.entity_type))
        out.append("unsure" if a is None or b is None else ("same" if a == b else "different"))
    return out


def _evaluate(sample: Path, labels: pd.DataFrame, capsys) -> dict:
    path = sample / "labelled.csv"
    labels.to_csv(path, index=False, encoding="utf-8-sig")
    assert cli.main(["evaluate", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "precision" in printed and "Wilson" in printed
    return json.loads((sample / "agreement.json").read_text(encoding="utf-8"))


def test_the_labelling_file_is_blind_and_a_stratified_sample(published, sample):
    labels = pd.read_csv(sample / "labels.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert (sample / "labels.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    hidden = ("score", "prob", "weight", "stratum", "linked", "band", "entity_id", "record_key")
    assert not [c for c in labels.columns if any(h in c.lower() for h in hidden)]
    assert (labels["label"] == "").all() and labels["pair_id"].is_unique
    design = pd.read_parquet(sample / "design.parquet")
    assert set(design["run_id"]) == {current_run_id(published.warehouse)}
    per = design.groupby(["entity_type", "stratum"]).agg(
        n=("pair_id", "size"), population=("population", "first")
    )
    assert (per["n"] <= PER_STRATUM).all() and (per["n"] == per["population"].clip(upper=PER_STRATUM)).all()
    assert (per["population"] > PER_STRATUM).any()  # a real sample, not every pair
    person = per.loc["person"]
    assert any(s.endswith("linked") for s in person.index) and any(s.startswith("near") for s in person.index)
    # ID numbers and phones are masked in the file
    assert labels["left_id_number_given"].str.contains(r"\*{4}").any()
    assert not labels["left_id_number_given"].str.fullmatch(r"\d{17}[\dX]").any()


def test_truth_labels_reproduce_the_truths_precision_and_recall(published, sample, capsys):
    labels = pd.read_csv(sample / "labels.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    labels["label"] = _truth_labels(published, labels)
    got = _evaluate(sample, labels, capsys)["entity_types"]
    records, _ = read_truth(published.root / "truth")
    xref = read_table(published.warehouse, "source_xref", layer="restricted").to_pandas()
    truth = entity_scores(xref, records)
    checked = 0
    for entity_type, score in truth.items():
        if score.predicted_pairs == 0 and score.true_pairs == 0:
            continue
        est = got[entity_type]
        assert est["precision_low"] <= score.precision <= est["precision_high"], (entity_type, est, score)
        assert est["recall_low"] <= score.recall <= est["recall_high"], (entity_type, est, score)
        assert est["precision_high"] - est["precision_low"] < 0.5  # an interval that says something
        checked += 1
    assert checked >= 3
    # the sample district's person recall is below 1 (records whose ID has a typo and no birth date)
    assert truth["person"].recall < 1 and got["person"]["recall"] < 1


def test_labels_that_contradict_the_truth_give_intervals_without_it(published, sample, capsys):
    labels = pd.read_csv(sample / "labels.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    flipped = {"same": "different", "different": "same", "unsure": "unsure"}
    labels["label"] = [flipped[v] for v in _truth_labels(published, labels)]
    got = _evaluate(sample, labels, capsys)["entity_types"]
    assert got["person"]["precision_high"] < 0.5  # every linked pair called a non-match


def test_unreadable_labels_are_a_clear_error(published, sample, capsys):
    labels = pd.read_csv(sample / "labels.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    labels.loc[0, "label"] = "maybe?"
    path = sample / "bad.csv"
    labels.to_csv(path, index=False, encoding="utf-8-sig")
    assert cli.main(["evaluate", str(path)]) == 2
    assert "maybe?" in capsys.readouterr().err


def test_intervals_cover_the_true_figures_of_a_known_population():
    """A population with known shares per stratum, sampled 300 times (seeded): the 95 % intervals hold the
    true precision and recall at least 90 % of the time; a stratum labelled in full is known exactly."""
    import numpy as np

    from matching.er.estimate import estimate_agreement

    strata = pd.DataFrame(
        {
            "stratum": ["hi linked", "mid linked", "near apart", "mid apart"],
            "linked": [True, True, False, False],
            "population": [2000, 300, 500, 200],
            "true": [1990, 240, 12, 40],
        }
    )
    tp = strata.loc[strata["linked"], "true"].sum()
    precision = tp / strata.loc[strata["linked"], "population"].sum()
    recall = tp / strata["true"].sum()
    rng = np.random.default_rng(5)
    hits = {"precision": 0, "recall": 0}
    for _ in range(300):
        n = 40
        same = [
            rng.hypergeometric(t, N - t, n) for t, N in zip(strata["true"], strata["population"], strict=True)
        ]
        est = estimate_agreement(strata.assign(labelled=n, same=same))
        hits["precision"] += est.precision_low <= precision <= est.precision_high
        hits["recall"] += est.recall_low <= recall <= est.recall_high
    assert hits["precision"] >= 270 and hits["recall"] >= 270, hits
    full = estimate_agreement(strata.assign(labelled=strata["population"], same=strata["true"]))
    assert full.precision == full.precision_low == full.precision_high == pytest.approx(precision)
    assert full.recall_low == full.recall_high == pytest.approx(recall)
