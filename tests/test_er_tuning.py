"""Issue #5 follow-up: organisation names with a region left in front, employer mentions that repeat
dozens of times (u corrected for the matches among random pairs), facility ledgers linked across feeds only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.er import EntitySettings, resolve
from matching.er.comparisons import PreparedComparisons
from matching.er.scoring import match_corrected_u
from matching.er.settings import ComparisonSpec


def _org_levels(names: list[str], pairs: list[tuple[int, int]]) -> list[str]:
    prep = PreparedComparisons(
        pd.DataFrame({"org_name": names}),
        [ComparisonSpec.parse({"name": "o", "kind": "org_name", "columns": ["org_name"]})],
    )
    left, right = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    comp = prep.comparisons[0]
    return [comp.levels[x] if x >= 0 else "missing" for x in prep.levels(left, right)[:, 0]]


def test_org_name_core_ending_with_the_other_is_similar():
    names = [
        "云江市青石区人民医院",
        "青石区人民医院",
        "广东顺丰速运有限公司云江青石分公司",
        "顺丰速运有限公司云江青石分公司",
        "廣東順豐速運有限公司雲江青石分公司",
        "民医院",
        "青石区人民医院",
        "妇幼保健院",
    ]
    got = _org_levels(names, [(0, 1), (2, 3), (1, 5), (1, 6), (0, 7)])
    # a leading region (市 + 区 here) is set aside, so the hospital written with and without its city is the
    # same name ("exact", region aside); a dropped province without its 省 (广东) is "similar", as is a tail of at
    # least min_suffix = 3 characters (民医院 here); another hospital that only shares the last character is not;
    # one name written twice is the same name
    assert got == ["exact", "similar", "similar", "same_name", "else"]


def test_match_correction_lowers_u_of_agreeing_levels_only_as_far_as_allowed():
    u_random = [np.array([0.0101, 0.0899, 0.9]), np.array([0.5, 0.5])]
    m = [np.array([0.99, 0.009, 0.001]), np.array([0.5, 0.5])]
    u = match_corrected_u(u_random, m, prior=0.01)
    assert u[0][0] < u_random[0][0] / 5  # most random agreement came from matches
    assert u[0][0] >= u_random[0][0] / 20 * 0.999  # never more than the cap
    assert np.isclose(u[1], [0.5, 0.5]).all()  # a comparison matches and non-matches share is untouched
    assert all(np.isclose(x.sum(), 1.0) for x in u)


def _employer_mentions(n_orgs: int = 30, per_org: int = 25) -> pd.DataFrame:
    """人社-like employer mentions: every org named once per employee, credit code missing on some."""
    rng = np.random.default_rng(5)
    words = list("华兴恒通嘉禾百川新泰福临润泽永安盛世宏达金鼎瑞丰天成鸿运信达海川银河东方明珠")
    rows = []
    for o in range(n_orgs):
        core = words[o] + words[(o * 7 + 3) % len(words)] + ["科技", "物流", "餐饮", "建筑"][o % 4]
        name = f"云江市{core}有限公司"
        code = f"9144539{o:010d}X"
        for e in range(per_org):
            variant = name.removeprefix("云江市") if rng.random() < 0.15 else name
            rows.append(
                {
                    "record_key": f"renshe:{o}-{e}#org",
                    "feed": "renshe",
                    "source_record_id": f"{o}-{e}",
                    "priority": 60,
                    "record_date": pd.NaT,
                    "org_name": variant,
                    "credit_code": code if rng.random() > 0.1 else None,
                    "true": o,
                }
            )
    return pd.DataFrame(rows)


def test_repeated_employer_mentions_resolve_with_and_without_credit_code():
    df = _employer_mentions()
    settings = EntitySettings.from_config("organisation", {})
    assert settings.correct_u_for_duplicates
    res = resolve(df.drop(columns="true"), settings, run_id="t")
    got = res.assignments.merge(df[["record_key", "true"]], on="record_key")
    # every employer is one entity, and no entity holds two employers
    assert got.groupby("true")["entity_id"].nunique().max() == 1
    assert got.groupby("entity_id")["true"].nunique().max() == 1
    assert res.state.model.info.get("u_corrected_for_prior") is True
    # the settings are part of what the model was trained under
    off = EntitySettings.from_config("organisation", {"correct_u_for_duplicates": False})
    assert off.fingerprint() != settings.fingerprint()


def test_facilities_of_one_ledger_stay_apart_even_at_one_door():
    df = pd.DataFrame(
        {
            "record_key": ["yj:1", "yj:2", "ga:9"],
            "feed": ["yj", "yj", "ga"],
            "source_record_id": ["1", "2", "9"],
            "priority": 60,
            "record_date": pd.NaT,
            "facility_type": ["消防栓", "消防栓", "消防栓"],
            "facility_name": ["解放路8号消防栓", "解放路8号消防栓", "解放路8号消防栓"],
            "lon": [112.056232, 112.056240, 112.056235],
            "lat": [22.928005, 22.928010, 22.928007],
        }
    )
    settings = EntitySettings.from_config("facility", {})
    assert settings.link_type == "link_only"
    res = resolve(df, settings, run_id="t")
    ids = res.assignments.set_index("record_key")["entity_id"]
    assert ids["yj:1"] != ids["yj:2"]  # two hydrants numbered apart in one ledger


def test_cannot_link_across_components_does_not_break_the_split():
    from matching.er.clustering import cluster

    # 0-1-2 chained, 0 and 2 cannot link; 3-4 apart, 3 cannot link with 0 (another component)
    left, right = np.array([0, 1, 3]), np.array([1, 2, 4])
    got = cluster(
        5,
        left,
        right,
        np.array([5.0, 3.0, 4.0]),
        max_size=10,
        cannot_link=(np.array([0, 3]), np.array([2, 0])),
    )
    lab = got.labels
    assert lab[0] == lab[1] != lab[2]  # the weaker link 1-2 is cut
    assert lab[3] == lab[4]


def test_cannot_link_threshold_is_validated():
    import pytest

    from matching.er.settings import SettingsError

    with pytest.raises(SettingsError, match="cannot_link"):
        EntitySettings.from_config("person", {"thresholds": {"cannot_link": 0.5}})


def test_a_value_one_identity_mostly_carries_weighs_by_the_side_that_holds_an_identity():
    """u of a pair of a record without identity and one of identity i is the chance that a record writing the
    value belongs to another identity: 18 of its 20 coded records are credit code A's, so the pair with an A
    record weighs more than the average, the pair with a B record less; a value two identities carry alike
    weighs the same towards both (still a tie)."""
    from types import SimpleNamespace

    from matching.er.blocking import CandidatePairs
    from matching.er.stages_prepare import tf_side
    from matching.er.term_frequencies import tf_adjustments

    n_other = 2000
    values = np.r_[np.full(21, 7, dtype=np.uint64), np.arange(100, 100 + n_other, dtype=np.uint64) // 2]
    rows = np.arange(len(values), dtype=np.uint64) + 1
    model = SimpleNamespace(tf=[True], u=[np.array([1e-3, 0.5])])
    compared = np.array([0, 19, 20])  # an A record, a B record, the mention without identity

    def adjustment(n_a: int) -> np.ndarray:
        identities = np.r_[np.full(n_a, 11), np.full(20 - n_a, 22), 0, np.zeros(n_other)].astype(np.uint64)
        got = tf_adjustments(
            {(0, 0): values[compared]}, {(0, 0): values}, model, rows, identities, identities[compared]
        )
        return got[(0, 0)]

    a, b, mention = adjustment(18)
    assert a > mention > b
    assert np.isclose(a - mention, np.log2((1 - (0.9**2 + 0.1**2)) / 0.1))
    assert np.isclose(np.ptp(adjustment(10)), 0)  # 10 and 10: the average for every side
    pairs = CandidatePairs(np.array([2, 0, 0]), np.array([0, 2, 1]), np.zeros(3, int), pd.DataFrame(), [], [])
    ids = np.array([11, 22, 0], dtype=np.uint64)
    assert list(tf_side(pairs, ids)) == [0, 0, 0]  # the side with an identity, else the left one
