"""Daily deltas against a saved state: resolve_delta (changes only) agrees with resolve (every record), records
that change or leave are handled, and the work done follows the delta, not everything known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import synth_er as synth
from rapidfuzz.distance import OSA

from matching.er import EntitySettings, MentionsError, ResolutionState, resolve, resolve_delta
from matching.er.comparison_codes import one_digit_apart
from matching.er.engine import record_hashes

SMALL = {"u_sample_pairs": 100_000}


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return synth.persons(1200, seed=5).drop(columns=["true_id"])


@pytest.fixture(scope="module")
def settings() -> EntitySettings:
    return EntitySettings.from_config("person", {"person": SMALL})


@pytest.fixture(scope="module")
def saved(people, settings, tmp_path_factory):
    first = resolve(people, settings, run_id="base")
    folder = first.state.save(tmp_path_factory.mktemp("state") / "person")
    return first, folder


def _ids(res) -> pd.Series:
    return res.assignments.set_index("record_key")["entity_id"].sort_index()


def _new_day(people: pd.DataFrame) -> pd.DataFrame:
    fresh = synth.persons(40, seed=42).drop(columns=["true_id"])
    fresh["record_key"] = "delta:n" + fresh["source_record_id"]
    again = people.sample(20, random_state=4).copy()  # known people, mentioned by a new feed
    again["record_key"] = "delta:k" + again["source_record_id"]
    again["phone"] = pd.NA
    day = pd.concat([fresh, again], ignore_index=True)
    day["feed"] = "delta"
    return day


def test_delta_equals_full_mentions_path(saved, people, settings):
    first, folder = saved
    day = _new_day(people)
    d = resolve_delta(day, settings, state=ResolutionState.load(folder, "person"), run_id="day-1")
    a = resolve(
        pd.concat([people, day], ignore_index=True),
        settings,
        state=ResolutionState.load(folder, "person"),
        run_id="day-1",
    )
    assert d.stats["incremental"] and a.stats["incremental"]
    assert d.stats["delta_records"] == a.stats["delta_records"] == len(day)
    assert _ids(d).equals(_ids(a))
    assert d.stats["entities"] == a.assignments["entity_id"].nunique() == d.assignments["entity_id"].nunique()
    # the work followed the delta: far fewer records compared than known
    assert d.stats["compared_records"] < len(people) / 4
    # existing ids are kept, and the copies of known people joined their entities
    before = _ids(first)
    assert (_ids(d).reindex(before.index) == before).mean() >= 0.999
    ids = _ids(d)
    joined = [
        ids["delta:k" + sid] == ids[key]
        for sid, key in zip(
            day.loc[day["record_key"].str.startswith("delta:k"), "source_record_id"],
            people.set_index("source_record_id").loc[
                day.loc[day["record_key"].str.startswith("delta:k"), "source_record_id"], "record_key"
            ],
            strict=True,
        )
    ]
    assert np.mean(joined) >= 0.9


def test_delta_state_chains(saved, people, settings, tmp_path):
    _, folder = saved
    day = _new_day(people)
    d1 = resolve_delta(day.iloc[:30], settings, state=ResolutionState.load(folder, "person"), run_id="d1")
    d1.state.save(tmp_path / "s1")
    d2 = resolve_delta(
        day.iloc[30:], settings, state=ResolutionState.load(tmp_path / "s1", "person"), run_id="d2"
    )
    once = resolve_delta(day, settings, state=ResolutionState.load(folder, "person"), run_id="d1")
    # two deltas in a row hold every record and agree with one delta of both on who is whom
    assert len(d2.assignments) == len(people) + len(day)
    pairs_two = d2.assignments.groupby("entity_id")["record_key"].apply(frozenset)
    pairs_once = once.assignments.groupby("entity_id")["record_key"].apply(frozenset)
    assert set(pairs_two) == set(pairs_once)
    # sending unchanged records again is not a change
    same = resolve_delta(people.iloc[:50], settings, state=d2.state, run_id="d3")
    assert same.stats["delta_records"] == 0 and _ids(same).equals(_ids(d2))


def test_changed_and_removed_records(saved, people, settings):
    first, folder = saved
    ids = _ids(first)
    sizes = first.assignments["entity_id"].value_counts()
    alone = first.assignments.loc[first.assignments["entity_id"].map(sizes) == 1, "record_key"].iloc[0]
    pair_id = sizes[sizes == 2].index[0]
    a, b = sorted(first.assignments.loc[first.assignments["entity_id"] == pair_id, "record_key"])
    # b turns into somebody else entirely; the record alone in its entity leaves
    changed = people[people["record_key"] == b].copy()
    changed[["name", "name_pinyin", "id_number", "phone", "address_code"]] = [
        "欧阳娜娜",
        "ouyangnana",
        "110105199001011237",
        "13999999999",
        None,
    ]
    changed["birth_date"] = pd.Timestamp("1990-01-01").date()
    res = resolve_delta(
        changed, settings, state=ResolutionState.load(folder, "person"), removed=[alone], run_id="chg"
    )
    new = _ids(res)
    assert alone not in new.index and len(new) == len(people) - 1
    assert new[a] == pair_id  # the entity keeps its id through the member that stayed
    assert new[b] != pair_id
    h = res.id_history
    assert ((h["reason"] == "retired") & (h["old_id"] == ids[alone])).any()
    assert ((h["reason"] == "split") & (h["old_id"] == pair_id)).any()
    # resolve() with every record finds the same change and removal by itself
    rest = pd.concat([people[~people["record_key"].isin([alone, b])], changed], ignore_index=True)
    full = resolve(rest, settings, state=ResolutionState.load(folder, "person"), run_id="chg")
    assert full.stats["delta_records"] == 1
    assert _ids(full).equals(new)


def test_cannot_link_decision_in_a_delta(saved, people, settings):
    first, folder = saved
    sizes = first.assignments["entity_id"].value_counts()
    ent = sizes[sizes >= 3].index[0]
    members = sorted(first.assignments.loc[first.assignments["entity_id"] == ent, "record_key"])
    decisions = pd.DataFrame(
        {"record_key_l": [members[0]], "record_key_r": [members[1]], "decision": ["non_match"]}
    )
    res = resolve_delta(
        people.iloc[:0],
        settings,
        state=ResolutionState.load(folder, "person"),
        decisions=decisions,
        run_id="review",
    )
    ids = _ids(res)
    assert ids[members[0]] != ids[members[1]]
    assert ent in set(ids[members])


def test_delta_needs_a_matching_state(people, settings, saved):
    with pytest.raises(MentionsError, match="needs the state"):
        resolve_delta(people.iloc[:5], settings, state=ResolutionState(entity_type="person"), run_id="x")
    other = EntitySettings.from_config("person", {"person": {**SMALL, "link_type": "link_only"}})
    with pytest.raises(MentionsError, match="trained with these"):
        resolve_delta(people.iloc[:5], other, state=saved[0].state, run_id="x")


def test_state_of_an_older_version_gets_one_full_run(saved, people, settings):
    first, folder = saved
    old = ResolutionState.load(folder, "person")
    old.version = 1
    res = resolve(people, settings, state=old, run_id="upgrade")
    assert not res.stats["incremental"]
    assert _ids(res).equals(_ids(first))
    assert res.state.version >= 2


def test_record_hashes_follow_values_not_dtypes(people, settings):
    a = people.head(200).copy()
    b = a.copy()
    b["priority"] = 1  # not a matching column: not a change
    assert (record_hashes(a, settings) == record_hashes(b, settings)).all()
    c = a.copy()
    c.loc[c.index[3], "phone"] = "13000000000"
    differ = record_hashes(a, settings) != record_hashes(c, settings)
    assert differ.sum() == 1 and differ[3]


def test_one_digit_apart_agrees_with_osa():
    rng = np.random.default_rng(0)
    a = rng.integers(19000101, 20251231, 4000)
    s = a.astype(str).astype(object)
    b = []
    for i, x in enumerate(s):
        d = list(x)
        k, p = i % 4, rng.integers(0, 7)
        if k == 0:
            d[p] = str(rng.integers(0, 10))
        elif k == 1:
            d[p], d[p + 1] = d[p + 1], d[p]
        elif k == 2:
            d[p], d[(p + 3) % 8] = str(rng.integers(0, 10)), str(rng.integers(0, 10))
        b.append(int("".join(d)) if d[0] != "0" else int(x))
    b = np.array(b)
    expect = np.array([OSA.distance(str(x), str(y)) == 1 for x, y in zip(a, b, strict=True)])
    assert (one_digit_apart(a, b) & (a != b) == expect).all()
    assert expect.sum() > 1000


def test_a_single_record_is_a_single_entity(people, settings):
    one = resolve(people.head(1), settings, run_id="one")
    assert len(one.assignments) == 1 and one.assignments["method"].iloc[0] == "singleton"
    assert one.model is None and len(one.pairs) == 0
    # the next run, with more records, trains and keeps the id
    more = resolve(people.head(300), settings, state=one.state, run_id="more")
    assert not more.stats["incremental"]
    assert _ids(more)[people["record_key"].iloc[0]] == one.assignments["entity_id"].iloc[0]


def test_a_column_the_state_never_saw(people, settings):
    """A feed starts sending a compared column (phone) the earlier runs did not have."""
    without = people.drop(columns=["phone"])
    first = resolve(without, settings, run_id="no-phone")
    day = _new_day(people).assign(phone="13900000000")
    res = resolve_delta(day, settings, state=first.state, run_id="phone")
    assert len(res.assignments) == len(people) + len(day)
    assert res.state.registry["phone"].notna().sum() == len(day)
    again = resolve_delta(day.iloc[:3].assign(phone="13911111111"), settings, state=res.state, run_id="again")
    assert again.stats["delta_records"] == 3 and len(again.assignments) == len(res.assignments)
