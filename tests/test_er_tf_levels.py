"""Term frequencies counted on a coarser level (org_name's name with region and legal form aside)."""

from __future__ import annotations

import numpy as np

from matching.er.scoring import Model
from matching.er.term_frequencies import tf_adjustments


def _model(m0: float) -> Model:
    m = np.array([m0, 0.01, 0.01, 0.01, 0.01, 0.01])
    u = np.array([0.001, 0.002, 0.01, 0.05, 0.1, 0.837])
    return Model(
        ["org_name"],
        [["same_name", "exact", "other_branch", "similar", "related", "else"]],
        [m],
        [u],
        0.01,
        [True],
    )


def test_a_coarser_level_goes_with_the_m_of_agreeing_at_least_that_far():
    # records: a registered organisation (code 7) and name-only mentions; on the coarser level, all one name
    pop0 = np.array([11, 12, 12, 13, 14, 15, 16, 17], dtype=np.uint64)
    pop1 = np.array([21, 21, 21, 22, 23, 24, 25, 26], dtype=np.uint64)
    rows = np.arange(1, 9, dtype=np.uint64)
    identities = np.array([7, 0, 0, 8, 9, 10, 11, 12], dtype=np.uint64)
    compared = {(0, 0): pop0[:3], (0, 1): pop1[:3]}
    population = {(0, 0): pop0, (0, 1): pop1}
    most_write_the_registered_name = tf_adjustments(compared, population, _model(0.94), rows, identities)
    none_do = tf_adjustments(compared, population, _model(0.0), rows, identities)
    # a bare name (region aside) that one organisation carries: agreeing that far is what 95 % of matches do,
    # not the 1 % that stop exactly there
    gain = most_write_the_registered_name[(0, 1)] - none_do[(0, 1)]
    assert np.allclose(gain, np.log2(0.95 / 0.01))
    assert np.allclose(most_write_the_registered_name[(0, 0)], none_do[(0, 0)])  # the finest level as before
