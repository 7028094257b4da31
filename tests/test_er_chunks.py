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
