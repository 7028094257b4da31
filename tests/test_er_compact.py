"""The engine's compact representations (issue #19) give the results the wide ones gave.

int32 record positions and per-record codes, blocking's first-rule dedup without int64 pair codes, one
comparison prepared at a time, scoring a chunk of pairs at a time: each is checked here against the way it was
done before (written out in the test), on synthetic persons, houses and organisations. Weights stay float64.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import synth_er as synth

from matching.er import EntitySettings
from matching.er.blocking import _pairs_in_groups, block, codes_of_keys, free_records
from matching.er.comparisons import PreparedComparisons
from matching.er.mentions import prepare_mentions
from matching.er.scoring import train, u_pairs
from matching.er.stages_prepare import _scored_in_chunks, tf_side
from matching.er.term_frequencies import tf_adjustments


def _prepared(entity_type: str, mentions: pd.DataFrame) -> tuple[EntitySettings, pd.DataFrame]:
    # fewer random pairs for u than the default: the same code path, a test's time
    settings = dataclasses.replace(EntitySettings.from_config(entity_type), u_sample_pairs=20_000)
    return settings, prepare_mentions(mentions.drop(columns=["true_id"]), settings)


_CASES = [
    ("person", synth.persons(300, seed=3)),
    ("house", synth.houses(80, seed=5)),
    ("organisation", synth.organisations(100, seed=4)),
]


def _block_before(df, rules, max_block_size, source=None, active=None) -> tuple[np.ndarray, ...]:
    """Blocking as main did it: every rule's pairs concatenated, int64 pair codes, np.unique's first
    occurrences in rule order."""
    from matching.er.blocking import _expanded_codes, all_rule_keys

    keys = all_rule_keys(df, rules)
    lefts, rights, rule_ids, earlier = [], [], [], []
    for r_i, rule in enumerate(rules):
        codes = codes_of_keys(keys[r_i]).astype(np.int64)
        free = free_records(df, rule)
        left, right, _, _ = _pairs_in_groups(codes, max_block_size, active, earlier, free, source)
        earlier.append((codes, _expanded_codes(codes, max_block_size, free)))
        if source is not None and len(left):
            sel = source[left] != source[right]
            left, right = left[sel], right[sel]
        lefts.append(left.astype(np.int64))
        rights.append(right.astype(np.int64))
        rule_ids.append(np.full(len(left), r_i, dtype=np.int16))
    left, right, rule_id = np.concatenate(lefts), np.concatenate(rights), np.concatenate(rule_ids)
    _, first = np.unique(left * np.int64(len(df)) + right, return_index=True)
    first.sort()
    return left[first], right[first], rule_id[first]


@pytest.mark.parametrize(("entity_type", "mentions"), _CASES)
@pytest.mark.parametrize("variant", ["plain", "active", "source"])
def test_blocking_int32_pairs_are_the_pairs_of_the_int64_dedup(entity_type, mentions, variant):
    settings, df = _prepared(entity_type, mentions)
    rng = np.random.default_rng(1)
    active = rng.random(len(df)) < 0.3 if variant == "active" else None
    source = pd.factorize(df["feed"])[0] if variant == "source" else None
    # a small block limit too, so that skipped blocks and covered blocks take part
    for max_block in (settings.max_block_size, 4):
        pairs = block(df, settings.blocking, max_block_size=max_block, active=active, source=source)
        assert pairs.left.dtype == np.int32 and pairs.right.dtype == np.int32
        assert all(c.dtype == np.int32 for c in pairs.codes)
        left, right, rule = _block_before(df, settings.blocking, max_block, source=source, active=active)
        assert len(left) > 0
        np.testing.assert_array_equal(pairs.left, left)
        np.testing.assert_array_equal(pairs.right, right)
        np.testing.assert_array_equal(pairs.rule, rule)
        assert (
            pairs.report["new_pairs"].tolist() == np.bincount(rule, minlength=len(settings.blocking)).tolist()
        )


@pytest.mark.parametrize(("entity_type", "mentions"), _CASES)
def test_one_comparison_at_a_time_gives_the_levels_and_exact_codes_of_all_at_once(entity_type, mentions):
    settings, df = _prepared(entity_type, mentions)
    pairs = block(df, settings.blocking, max_block_size=settings.max_block_size)
    wide = PreparedComparisons(df, settings.comparisons)
    narrow = PreparedComparisons(df, settings.comparisons, keep_prepared=False)
    i, j = u_pairs(len(df), settings, None)
    assert 0 < len(i) <= 20_000
    levels, u_levels = narrow.levels_one_at_a_time([(pairs.left, pairs.right), (i, j)], chunk=97)
    np.testing.assert_array_equal(levels, wide.levels(pairs.left, pairs.right))
    np.testing.assert_array_equal(u_levels, wide.levels(i, j))
    assert narrow._prep is None  # nothing per record kept but the exact codes
    for k, c in enumerate(wide.comparisons):
        exact = c.exact_codes(wide.prep[k])
        if exact is None:
            assert narrow.exact_codes(k) is None
        else:
            np.testing.assert_array_equal(narrow.exact_codes(k), exact)
            if c.spec.kind != "numeric":  # dense codes of the records: int32
                assert exact.dtype == np.int32
    # the model trained from the levels compared beforehand is the model trained from scratch, bit for bit
    assert (
        train(narrow, pairs, levels, settings, None, u_levels).to_dict()
        == train(wide, pairs, levels, settings, None).to_dict()
    )


@pytest.mark.parametrize(("entity_type", "mentions"), _CASES)
def test_scoring_by_chunks_is_scoring_all_pairs_at_once(entity_type, mentions):
    from matching.er.evidence import hold_back
    from matching.er.scoring import score
    from matching.er.stages_prepare import identity_hashes, tf_hashes

    settings, df = _prepared(entity_type, mentions)
    pairs = block(df, settings.blocking, max_block_size=settings.max_block_size)
    prepared = PreparedComparisons(df, settings.comparisons)
    levels = prepared.levels(pairs.left, pairs.right)
    model = train(prepared, pairs, levels, settings, None)
    hashes = tf_hashes(df, prepared)
    ids = identity_hashes(settings, df)
    adjustments = tf_adjustments(hashes, hashes, model, None, None, ids)
    w, p = score(levels, model, tf_side(pairs, ids), adjustments)
    weight, capped, held = hold_back(w, p, levels, model, settings)
    for chunk in (1, 13, len(pairs) + 1):
        w_c, p_c, held_c = _scored_in_chunks(levels, model, pairs, ids, adjustments, settings, chunk=chunk)
        assert w_c.dtype == np.float64 and p_c.dtype == np.float64
        np.testing.assert_array_equal(w_c, weight)
        np.testing.assert_array_equal(p_c, capped)
        np.testing.assert_array_equal(held_c, held & (p >= settings.thresholds.match))


def test_pairs_of_a_rule_are_int32_with_the_blocks_made():
    codes = np.array([0, 1, 0, -1, 1, 0, 2], dtype=np.int32)
    left, right, stats, made = _pairs_in_groups(codes, 10, None)
    assert left.dtype == np.int32
    assert sorted(zip(left.tolist(), right.tolist(), strict=True)) == [(0, 2), (0, 5), (1, 4), (2, 5)]
    assert made.tolist() == [True, True, False]  # code 2 has one record: no block
    assert stats["largest_block"] == 3
