"""An employer written with its old 9-character 组织机构代码 is its credit code's organisation (issue #12, point 4):
the old code is characters 9–17 of the credit code, so it implies that identity (``identity: implied_by``), and
no name evidence against, however strong, cuts it off. Seen on 江澜区 (``bench/other_district.py``): a renamed
organisation's 市场监管 row under its former name scored p ≤ 0.01 against the old-code rows written with the new
name; that made an automatic cannot-link and the guard cut the old-code rows (p = 1.0 to the credit code) away."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from org_employers import RENSHE, SHICHANG, registered, staged_feeds

from connectors.feeds import Feed
from matching.er import EntitySettings, resolve
from matching.er.identity import implied_identity
from matching.mentions import build_mentions

FORMER = "云江市远景包装材料制品厂"  # nothing in common with the registered name


def _renamed_district() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The employer-linking district with organisation 0 renamed: a second 市场监管 row under its credit code
    carries the former name. Returns the organisation mentions and the 人社 truth."""
    orgs = registered(150)
    staged, truth = staged_feeds(orgs, big=(40,))
    sc = staged["shichang"]
    former = sc.iloc[[0]].assign(source_record_id="S99999", org_name=FORMER, _line=len(sc) + 2)
    staged["shichang"] = pd.concat([sc, former], ignore_index=True)
    m = build_mentions(staged, [Feed.model_validate(SHICHANG), Feed.model_validate(RENSHE)])
    orgs_m = m.organisation.copy()
    orgs_m["address_code"] = "A" + orgs_m["address_text"].str.extract(r"(\d+)号")[0].astype("string")
    for column in ("building_code", "grid_code", "business_address_code"):
        orgs_m[column] = pd.Series(pd.NA, index=orgs_m.index, dtype="string")
    return orgs_m, truth


@pytest.fixture(scope="module")
def renamed() -> tuple[pd.DataFrame, pd.DataFrame, object]:
    orgs, truth = _renamed_district()
    # the old-code rows score p ≈ 0.16 against the former name here (≤ 0.01 on 江澜区, where the org_code
    # agreement weighs less): a cannot_link threshold above that makes the same automatic cannot-links
    settings = EntitySettings.from_config("organisation", {"thresholds": {"cannot_link": 0.2}})
    return orgs, truth, resolve(orgs, settings, run_id="t")


def test_old_code_rows_stay_with_a_renamed_organisation(renamed):
    orgs, truth, r = renamed
    entity = dict(zip(r.assignments["record_key"], r.assignments["entity_id"], strict=True))
    ours = truth[truth["registered_key"] == "shichang:S00000"]
    assert (ours["written_as"] == "old").sum() >= 2
    got = ours["record_key"].map(entity)
    assert (got == entity["shichang:S00000"]).all(), ours.assign(got=got)
    assert entity["shichang:S99999"] == entity["shichang:S00000"]  # the former name: one credit code
    split = r.review[r.review["reason"] == "split_by_guard"]
    assert split.empty, split


def test_old_code_rows_hold_the_credit_code_they_imply(renamed):
    orgs, truth, r = renamed
    old = truth.loc[truth["written_as"] == "old", "record_key"]
    assert orgs.set_index("record_key").loc[old, "credit_code"].isna().all()
    entity = dict(zip(r.assignments["record_key"], r.assignments["entity_id"], strict=True))
    assert (old.map(entity) == truth.loc[old.index, "registered_key"].map(entity)).all()


def test_implied_identity_only_from_a_value_one_identity_carries():
    identity = np.array([11, 0, 12, 12, 0, 0, 0], dtype=np.uint64)
    by = np.array([5, 5, 6, 7, 6, 7, 0], dtype=np.uint64)
    # 5 → 11 only; 6 → 12 only; 7 → 12 only; a record without a by value gets nothing
    assert implied_identity(identity, by).tolist() == [11, 11, 12, 12, 12, 12, 0]
    placeholder = np.array([11, 13, 0], dtype=np.uint64)  # two credit codes carry one old code
    assert implied_identity(placeholder, np.array([5, 5, 5], dtype=np.uint64)).tolist() == [11, 13, 0]


def test_implied_by_setting():
    s = EntitySettings.from_config("organisation")
    assert s.identity == ("credit_code",) and s.identity_implied == (("credit_code", "org_code"),)
    off = EntitySettings.from_config("organisation", {"identity": [{"column": "credit_code"}]})
    assert off.identity_implied == () and off.fingerprint() != s.fingerprint()


def test_an_all_zero_old_code_is_a_placeholder():
    from matching.organisations import organisation_codes

    codes = organisation_codes(pd.Series(["00000000-0", "92445399000000000N", "MA5T3K8Q-7"]))
    assert codes["credit_code"].iloc[1] == "92445399000000000N"  # the credit code itself is valid
    assert codes["org_code"].isna().iloc[:2].all() and codes["org_code"].iloc[2] == "MA5T3K8Q7"
    assert not codes["invalid_org_code"].any() and not codes["invalid_credit"].any()
