"""Entity resolution end to end on synthetic Chinese mentions: quality, stable ids, incremental runs,
merges and splits in id_history, reviewed decisions, the anti-chaining guard, state persistence."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import synth_er as synth

from matching.er import (
    EntitySettings,
    ResolutionState,
    evaluate_resolution,
    golden_records,
    resolve,
    source_xref,
)

SMALL = {"u_sample_pairs": 100_000}


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return synth.persons(1500, seed=3)


@pytest.fixture(scope="module")
def settings() -> EntitySettings:
    return EntitySettings.from_config("person", {"person": SMALL})


@pytest.fixture(scope="module")
def first_run(people, settings):
    return resolve(people.drop(columns=["true_id"]), settings, run_id="run-1")


def mentions(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["true_id"])


def test_person_quality_and_outputs(first_run, people, settings):
    scores = evaluate_resolution(first_run.assignments, people)
    assert scores["precision"] >= 0.99
    assert scores["f1"] >= 0.98
    a = first_run.assignments
    assert list(a.columns) == ["record_key", "entity_id", "score", "method"]
    assert a["entity_id"].str.fullmatch(r"P[0-9a-f]{12}").all()
    assert len(a) == len(people) and a["record_key"].is_unique
    assert set(a["method"]) <= {"probabilistic", "singleton", "must_link"}
    assert a["score"].between(0, 1).all()
    rep = first_run.blocking_report
    assert list(rep["rule"]) == [r.name for r in settings.blocking]
    # every rule finds pairs, but the ID-typo rules: a block whose records share one ID number is left to the
    # id_number rule, and this data has no typo'd IDs
    assert (rep.loc[~rep["rule"].str.startswith("name_id_"), "candidate_pairs"] > 0).all()
    assert (rep["candidate_pairs"] >= rep["new_pairs"]).all()
    assert rep["new_pairs"].sum() == first_run.stats["candidate_pairs"]
    assert {"gamma_name", "gamma_id_number", "match_weight", "match_probability"} <= set(
        first_run.pairs.columns
    )


def test_rerun_same_inputs_gives_same_ids(first_run, people, settings):
    # shuffled input, no state: ids derive from content alone
    again = resolve(mentions(people.sample(frac=1.0, random_state=99)), settings, run_id="run-again")
    a = first_run.assignments.set_index("record_key")["entity_id"]
    b = again.assignments.set_index("record_key")["entity_id"]
    assert a.sort_index().equals(b.sort_index())
    # with state: incremental, nothing to do, same ids, no history
    inc = resolve(mentions(people), settings, state=first_run.state, run_id="run-2")
    assert inc.stats["incremental"] and inc.stats["delta_records"] == 0
    assert inc.assignments.set_index("record_key")["entity_id"].sort_index().equals(a.sort_index())
    assert len(inc.id_history) == 0
    # forced full run with state: same ids through the registry
    full = resolve(mentions(people), settings, state=first_run.state, run_id="run-3", incremental=False)
    assert not full.stats["incremental"]
    assert full.assignments.set_index("record_key")["entity_id"].sort_index().equals(a.sort_index())


def test_daily_delta_keeps_ids(first_run, people, settings):
    new = synth.persons(60, seed=77)
    new["record_key"] = "delta:" + new["source_record_id"]
    new["feed"] = "delta"
    # half of the new records are fresh mentions of people already known (copies of existing records)
    known = people.sample(15, random_state=1).copy()
    known["record_key"] = "delta:k" + known["source_record_id"]
    known["feed"] = "delta"
    batch = pd.concat([people, new, known], ignore_index=True)
    assert len(new) + len(known) >= 0.01 * len(people)
    res = resolve(mentions(batch), settings, state=first_run.state, run_id="run-delta")
    assert res.stats["incremental"]
    assert res.stats["delta_records"] == len(new) + len(known)
    assert res.stats["compared_records"] < len(batch) / 2  # the delta did not recompute the world
    before = first_run.assignments.set_index("record_key")["entity_id"]
    after = res.assignments.set_index("record_key")["entity_id"].reindex(before.index)
    kept = (before == after).mean()
    assert kept >= 0.999
    # copies of known records join the entity of their original
    joined = res.assignments.set_index("record_key")["entity_id"]
    same = [
        joined["delta:k" + sid] == joined[key]
        for sid, key in zip(known["source_record_id"], known["record_key"], strict=True)
    ]
    assert np.mean(same) >= 0.9


def _two_records_and_bridge() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two records of one person that share nothing but a common name, and a third that links both."""
    base = dict(sex="M", priority=50, record_date=pd.Timestamp("2024-01-01").date(), name_pinyin="zhangwei")
    a = dict(
        record_key="gongan:1",
        feed="gongan",
        source_record_id="1",
        name="张伟",
        id_number="11010519491231002X",
        birth_date=pd.Timestamp("1949-12-31").date(),
        phone=None,
        address_code="4403050040010010101",
    )
    b = dict(
        record_key="renshe:2",
        feed="renshe",
        source_record_id="2",
        name="张伟",
        id_number=None,
        birth_date=None,
        phone="13800138000",
        address_code=None,
    )
    c = dict(
        record_key="minzheng:3",
        feed="minzheng",
        source_record_id="3",
        name="张伟",
        id_number="11010519491231002X",
        birth_date=pd.Timestamp("1949-12-31").date(),
        phone="13800138000",
        address_code="4403050040010010101",
    )
    return pd.DataFrame([{**base, **a}, {**base, **b}]), pd.DataFrame([{**base, **c}])


def _with_background(df: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([mentions(people), df], ignore_index=True)


def test_merge_is_recorded(people, settings):
    two, bridge = _two_records_and_bridge()
    r1 = resolve(_with_background(two, people), settings, run_id="m1")
    ids = r1.assignments.set_index("record_key")["entity_id"]
    assert ids["gongan:1"] != ids["renshe:2"]
    r2 = resolve(_with_background(pd.concat([two, bridge]), people), settings, state=r1.state, run_id="m2")
    ids2 = r2.assignments.set_index("record_key")["entity_id"]
    assert ids2["gongan:1"] == ids2["renshe:2"] == ids2["minzheng:3"]
    kept = ids2["gongan:1"]
    assert kept in {ids["gongan:1"], ids["renshe:2"]}
    merged_away = ({ids["gongan:1"], ids["renshe:2"]} - {kept}).pop()
    h = r2.id_history
    row = h[(h["reason"] == "merge") & (h["old_id"] == merged_away)]
    assert len(row) == 1 and row["new_id"].iloc[0] == kept and row["run_id"].iloc[0] == "m2"


def test_cannot_link_splits_and_stays_apart(people, settings, first_run):
    a = first_run.assignments
    sizes = a["entity_id"].value_counts()
    ent = sizes[sizes >= 3].index[0]
    members = sorted(a.loc[a["entity_id"] == ent, "record_key"])
    decisions = pd.DataFrame(
        {"record_key_l": [members[0]], "record_key_r": [members[1]], "decision": ["non_match"]}
    )
    r2 = resolve(mentions(people), settings, state=first_run.state, decisions=decisions, run_id="split-1")
    ids = r2.assignments.set_index("record_key")["entity_id"]
    assert ids[members[0]] != ids[members[1]]
    h = r2.id_history
    split = h[(h["reason"] == "split") & (h["old_id"] == ent)]
    assert len(split) == 1
    assert ent in set(ids[members])  # the larger part keeps the id
    # the decision is remembered: a later full run without passing it again keeps the pair apart
    r3 = resolve(mentions(people), settings, state=r2.state, run_id="split-2", incremental=False)
    ids3 = r3.assignments.set_index("record_key")["entity_id"]
    assert ids3[members[0]] != ids3[members[1]]
    assert ids3.sort_index().equals(ids.sort_index())
    # and the decided pair is not queued for review again
    rv = r3.review
    assert not ((rv["record_key_l"] == members[0]) & (rv["record_key_r"] == members[1])).any()


def test_must_link_joins(people, settings):
    two, _ = _two_records_and_bridge()
    decisions = pd.DataFrame(
        {"record_key_l": ["renshe:2"], "record_key_r": ["gongan:1"], "decision": ["match"]}
    )
    r = resolve(_with_background(two, people), settings, decisions=decisions, run_id="ml")
    ids = r.assignments.set_index("record_key")
    assert ids.loc["gongan:1", "entity_id"] == ids.loc["renshe:2", "entity_id"]
    assert set(ids.loc[["gongan:1", "renshe:2"], "method"]) <= {"must_link", "probabilistic"}


def test_oversized_cluster_is_split_and_reported(settings):
    # a chain of 12 records: each shares a phone with the next (a family phone passed along)
    rows = []
    for i in range(12):
        rows.append(
            dict(
                record_key=f"f:{i:02d}",
                feed="f",
                source_record_id=str(i),
                name="李娜",
                name_pinyin="lina",
                id_number=None,
                birth_date=pd.Timestamp("1980-01-01").date(),
                sex="F",
                phone=f"1390000{i // 2:04d}" if i % 2 == 0 else f"1390000{(i + 1) // 2:04d}",
                address_code=None,
                priority=50,
                record_date=pd.Timestamp("2024-01-01").date(),
            )
        )
    df = pd.DataFrame(rows)
    background = mentions(synth.persons(300, seed=9))
    strict = EntitySettings.from_config("person", {"person": {**SMALL, "max_cluster_size": 4}})
    r = resolve(pd.concat([background, df], ignore_index=True), strict, run_id="guard")
    chain = r.assignments[r.assignments["record_key"].str.startswith("f:")]
    # the guard counts identity units: records with identical matching values (here: one phone) count once
    units = chain.merge(df[["record_key", "phone"]], on="record_key").groupby("entity_id")["phone"].nunique()
    assert units.max() <= 4 and chain["entity_id"].nunique() >= 2
    assert len(r.oversized) >= 1 and (r.oversized["reason"] == "oversized").any()
    assert (r.review["reason"] == "split_by_guard").any()


def test_state_roundtrip(tmp_path, first_run, people, settings):
    folder = ResolutionState.folder(tmp_path / "state", "person")
    first_run.state.save(folder)
    assert (folder / "registry.parquet").exists() and (folder / "model.json").exists()
    loaded = ResolutionState.load(folder, "person")
    assert loaded.model is not None and loaded.fingerprint == settings.fingerprint()
    again = resolve(mentions(people), settings, state=loaded, run_id="after-load")
    assert again.stats["incremental"]
    a = first_run.assignments.set_index("record_key")["entity_id"].sort_index()
    assert again.assignments.set_index("record_key")["entity_id"].sort_index().equals(a)


def test_golden_records_and_xref(first_run, people, settings):
    g = golden_records(people, first_run.assignments, settings)
    assert g["person_id"].is_unique
    assert len(g) == first_run.assignments["entity_id"].nunique()
    assert {"name", "id_number", "birth_date", "field_sources", "sources", "records"} <= set(g.columns)
    import json

    fs = json.loads(g["field_sources"].iloc[0])
    assert "name" in fs and re.match(r"^[a-z]+:\d+$", fs["name"])
    x = source_xref(first_run.assignments, people, "person")
    assert len(x) == len(people) and set(x["entity_type"]) == {"person"}


@pytest.mark.parametrize(
    "etype,gen,min_f1",
    [
        ("organisation", lambda: synth.organisations(500, seed=4), 0.9),
        ("house", lambda: synth.houses(800, seed=4), 0.98),
    ],
)
def test_other_entity_types(etype, gen, min_f1):
    d = gen()
    s = EntitySettings.from_config(etype, {etype: SMALL})
    r = resolve(d.drop(columns=["true_id"]), s, run_id="t")
    scores = evaluate_resolution(r.assignments, d)
    assert scores["precision"] >= 0.99 and scores["f1"] >= min_f1
    assert r.assignments["entity_id"].str.fullmatch(s.id_prefix + r"[0-9a-f]{12}").all()


def test_facilities_by_distance():
    rng = np.random.default_rng(1)
    n = 200
    lon = 114.05 + rng.uniform(0, 0.05, n)
    lat = 22.55 + rng.uniform(0, 0.05, n)
    kinds = rng.choice(["消防栓", "摄像头", "应急避难场所"], n)
    base = pd.DataFrame(
        {
            "true_id": [f"F{i}" for i in range(n)],
            "facility_type": kinds,
            "facility_name": [f"{k}{i}号" for i, k in enumerate(kinds)],
            "lon": lon,
            "lat": lat,
        }
    )
    dup = base.sample(80, random_state=2).copy()
    # the same hydrant surveyed again: a few metres off, name written with full-width digits normalised away
    dup["lon"] += rng.normal(0, 0.00003, len(dup))
    dup["lat"] += rng.normal(0, 0.00003, len(dup))
    base["feed"], dup["feed"] = "yingji", "chengguan"
    d = pd.concat([base, dup], ignore_index=True)
    d["source_record_id"] = [str(i) for i in range(len(d))]
    d["record_key"] = d["feed"] + ":" + d["source_record_id"]
    s = EntitySettings.from_config("facility", {"facility": SMALL})
    r = resolve(d.drop(columns=["true_id"]), s, run_id="f")
    scores = evaluate_resolution(r.assignments, d)
    assert scores["f1"] >= 0.95
    assert r.assignments["entity_id"].str.startswith("F").all()


def test_repeated_record_key_is_an_error(people, settings):
    from matching.er import MentionsError

    bad = pd.concat([mentions(people).head(3), mentions(people).head(1)])
    with pytest.raises(MentionsError, match="record_key repeats"):
        resolve(bad, settings, run_id="x")
