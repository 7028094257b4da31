"""The comparisons stage works a chunk of pairs at a time (issue #19): the same levels, bounded memory."""

from __future__ import annotations

import numpy as np
import pytest
import synth_er as synth

from matching.er import EntitySettings
from matching.er.blocking import block
from matching.er.comparisons import PreparedComparisons
from matching.er.mentions import prepare_mentions


@pytest.mark.parametrize(
    ("entity_type", "mentions"),
    [("person", synth.persons(400, seed=3)), ("organisation", synth.organisations(120, seed=4))],
)
def test_levels_by_chunks_are_the_levels_of_all_pairs(entity_type, mentions):
    settings = EntitySettings.from_config(entity_type)
    df = prepare_mentions(mentions.drop(columns=["true_id"]), settings)
    pairs = block(df, settings.blocking, max_block_size=settings.max_block_size)
    assert len(pairs) > 100
    prepared = PreparedComparisons(df, settings.comparisons)
    whole = prepared.levels(pairs.left, pairs.right, chunk=len(pairs) + 1)
    for chunk in (1, 7, 100):
        np.testing.assert_array_equal(prepared.levels(pairs.left, pairs.right, chunk=chunk), whole)


@pytest.mark.parametrize("sources", [1, 2, 3])
def test_every_pair_of_two_sources_is_triu_filtered_by_source(sources):
    """u's random pairs when there are few: only the pairs of two sources, row by row as ``triu_indices``
    gives them, without making every pair first (one facility feed of 33,333 records made 555 million)."""
    from matching.er.scoring import _every_pair

    rng = np.random.default_rng(sources)
    n = 700
    source = rng.integers(0, sources, n)
    i, j = _every_pair(n, source)
    ti, tj = np.triu_indices(n, k=1)
    keep = source[ti] != source[tj]
    np.testing.assert_array_equal(i, ti[keep])
    np.testing.assert_array_equal(j, tj[keep])
