"""Blocking rules that the bound code decides (``unless_both``, issue #19): no blocks of millions of pairs.

A house's bound ``address_code`` decides every pair of two bound mentions (one code one house, two codes two),
so the house rules over the text (its numbers and place, its building) pair only where a side is unbound. At
500,000 residents the numbers + place rule over a bound district made tens of millions of pairs and
``resolve_entities`` was killed at 22.8 GB.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from matching.er import EntitySettings, evaluate_resolution, resolve
from matching.er.blocking import block
from matching.er.settings import BlockingRule, SettingsError


def _brute(codes, free, active, limit):
    """Every pair of one code with a free side (and an active one), blocks of more pairs than a block of
    ``limit`` records skipped."""
    out = set()
    for c in set(codes) - {None}:
        members = [i for i, x in enumerate(codes) if x == c]
        pairs = [(a, b) for a, b in itertools.combinations(members, 2) if free is None or free[a] or free[b]]
        if len(pairs) > limit * (limit - 1) // 2:
            continue
        out |= {p for p in pairs if active is None or active[p[0]] or active[p[1]]}
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("with_active", [False, True])
def test_unless_both_pairs_only_where_a_side_is_free(seed, with_active):
    rng = np.random.default_rng(seed)
    n = 300
    codes = [None if rng.random() < 0.1 else f"k{int(rng.integers(0, 12))}" for _ in range(n)]
    bound = [None if rng.random() < 0.15 else f"A{i}" for i in range(n)]
    active = rng.random(n) < 0.3 if with_active else None
    df = pd.DataFrame({"key": pd.array(codes, dtype="string"), "code": pd.array(bound, dtype="string")})
    rule = BlockingRule.parse({"name": "k", "on": ["key"], "unless_both": "code"})
    limit = 12
    got = block(df, [rule], max_block_size=limit, active=active)
    free = [b is None for b in bound]
    want = _brute(codes, free, active, limit)
    assert set(zip(got.left.tolist(), got.right.tolist(), strict=True)) == want
    assert got.report["candidate_pairs"].iloc[0] == len(want)
    assert got.satisfies(0).all()
    # without unless_both the same rule pairs every member of a block: more pairs, larger blocks skipped
    plain = block(df, [BlockingRule.parse({"name": "k", "on": ["key"]})], max_block_size=limit, active=active)
    assert set(zip(plain.left.tolist(), plain.right.tolist(), strict=True)) == _brute(
        codes, None, active, limit
    )


def test_a_rule_after_an_unless_both_rule_still_pairs_what_it_skipped():
    """A later rule's block inside an earlier ``unless_both`` block is not 'covered': the earlier rule left
    out the pairs of two bound records."""
    df = pd.DataFrame(
        {
            "text": pd.array(["a", "a", "a"], dtype="string"),
            "code": pd.array(["C1", "C2", None], dtype="string"),
            "other": pd.array(["x", "x", None], dtype="string"),
        }
    )
    rules = [
        BlockingRule.parse({"name": "text", "on": ["text"], "unless_both": "code"}),
        BlockingRule.parse({"name": "other", "on": ["other"]}),
    ]
    got = block(df, rules, max_block_size=10)
    assert sorted(zip(got.left.tolist(), got.right.tolist(), got.rule.tolist(), strict=True)) == [
        (0, 1, 1),
        (0, 2, 0),
        (1, 2, 0),
    ]


def _bound_district(flats: int, unbound: int) -> pd.DataFrame:
    """``flats`` bound flats written alike (1栋1单元101室 of many 花园 estates on one road: one numbers +
    place key), two mentions each, and ``unbound`` mentions of the first flats with their codes missing."""
    rows = []
    pool = "紫荆桂玉兰梅竹松柏桃李杏"
    for h in range(flats):
        estate = pool[h % 12] + pool[h // 12 % 12] + pool[h // 144 % 12]
        text = f"滨江路8号{estate}花园1栋1单元101室"
        for k in range(2):
            rows.append(
                {
                    "true_id": f"H{h}",
                    "record_key": f"f:{h}-{k}",
                    "feed": "f",
                    "source_record_id": f"{h}-{k}",
                    "address_text": text,
                    "address_code": f"4453990010010{h:05d}",
                    "building_code": f"B{h}",
                }
            )
    for h in range(unbound):
        rows.append({**rows[2 * h], "record_key": f"g:{h}", "feed": "g", "source_record_id": str(h)})
        rows[-1].update(address_code=None, building_code=None)
    return pd.DataFrame(rows)


def test_a_bound_district_makes_no_quadratic_house_blocks():
    """1,500 bound flats sharing a numbers + place key: before, 4.5 million candidate pairs (every pair of
    the 3,000 mentions, the block just under the limit's pair count); now the pairs of each unbound mention
    and the pairs of one code. (The unbound mentions' text names only the road and numbers all 1,500 flats
    share: what the model makes of them is not this test's subject.)"""
    df = _bound_district(1500, 3)
    settings = EntitySettings.from_config("house", {"max_block_size": 4000})
    res = resolve(df.drop(columns=["true_id"]), settings, run_id="r1")
    report = res.blocking_report.set_index("rule")
    assert report.loc["numbers_place", "candidate_pairs"] <= 3 * 3002
    assert report["candidate_pairs"].sum() < 20_000
    bound = df[df["address_code"].notna()]  # one code, one house: every bound flat resolved
    quality = evaluate_resolution(res.assignments, bound[["record_key", "true_id"]])
    assert quality["f1"] == 1.0


def test_unless_both_is_one_column_name():
    with pytest.raises(SettingsError, match="unless_both"):
        BlockingRule.parse({"name": "x", "on": ["a"], "unless_both": ["a", "b"]})
    rule = BlockingRule.parse({"name": "x", "on": ["a"], "unless_both": "address_code"})
    assert rule.unless_both == "address_code"


@pytest.mark.parametrize("seed", range(4))
def test_link_only_blocks_make_only_cross_source_pairs_in_the_same_order(seed):
    """link_only (facilities): the pairs of two sources are made directly, not all pairs then filtered (at
    500,000 residents the facility blocks of one type and name ran the step out of memory); the pairs and
    their order are those of the filtered way."""
    rng = np.random.default_rng(seed)
    n = 400
    df = pd.DataFrame(
        {
            "t": pd.array([f"k{x}" for x in rng.integers(0, 9, n)], dtype="string"),
            "u": pd.array([f"j{x}" for x in rng.integers(0, 30, n)], dtype="string"),
        }
    )
    source = rng.integers(0, 3, n)
    rules = [BlockingRule.parse("t"), BlockingRule.parse("u")]
    got = block(df, rules, max_block_size=60, source=source)
    every = block(df, rules, max_block_size=60)
    sel = source[every.left] != source[every.right]
    np.testing.assert_array_equal(got.left, every.left[sel])
    np.testing.assert_array_equal(got.right, every.right[sel])
    np.testing.assert_array_equal(got.rule, every.rule[sel])
