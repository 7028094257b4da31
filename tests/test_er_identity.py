"""Exclusive identifiers (issue #12, causes 1, 2 and the guard part of 4): two valid, different ID numbers or
credit codes are never one entity, directly or through a chain of records without one; one value is one entity
whatever its size; the same in incremental runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import synth_er as synth

from matching.er import EntitySettings, explain_pair, format_pair, resolve, resolve_delta
from matching.er.settings import SettingsError

SMALL = {"u_sample_pairs": 100_000}


def _ids(birth: str, seqs: list[int], area: str = "440305") -> list[str]:
    """Valid resident ids (check character right) of people born on ``birth``."""
    n = len(seqs)
    return list(
        synth.resident_ids(np.array([area] * n), pd.Series(pd.to_datetime([birth] * n)), np.array(seqs))
    )


def _person(key, name, pinyin, id_number, birth, phone, address, sex="F") -> dict:
    feed, sid = key.split(":")
    return dict(
        record_key=key,
        feed=feed,
        source_record_id=sid,
        name=name,
        name_pinyin=pinyin,
        id_number=id_number,
        birth_date=pd.Timestamp(birth).date() if birth else None,
        sex=sex,
        phone=phone,
        address_code=address,
        building_code=address[:15] if address else None,
        priority=50,
        record_date=pd.Timestamp("2024-01-01").date(),
    )


TWIN_A, TWIN_B = _ids("1995-03-08", [122, 124])
FLAT = "4403050040070120808"
NAMESAKE_X, NAMESAKE_Y = _ids("1988-11-02", [311, 457], area="440306")
FLAT_X, FLAT_Y = "4403050040110230505", "4403050040330450303"


def _twins() -> list[dict]:
    """陈思雨 and 陈思琪: born the same day, one phone, one flat, two valid IDs that differ (each in two feeds)."""
    return [
        _person("gongan:t1", "陈思雨", "chensiyu", TWIN_A, "1995-03-08", "13912345678", FLAT),
        _person("renshe:t1", "陈思雨", "chensiyu", TWIN_A, "1995-03-08", "13912345678", FLAT),
        _person("gongan:t2", "陈思琪", "chensiqi", TWIN_B, "1995-03-08", "13912345678", FLAT),
        _person("minzheng:t2", "陈思琪", "chensiqi", TWIN_B, "1995-03-08", "13912345678", FLAT),
    ]


def _namesakes() -> list[dict]:
    """Two 欧阳雪芬 born the same day with valid, different IDs, phones and flats."""
    return [
        _person("gongan:n1", "欧阳雪芬", "ouyangxuefen", NAMESAKE_X, "1988-11-02", "13800001111", FLAT_X),
        _person("gongan:n2", "欧阳雪芬", "ouyangxuefen", NAMESAKE_Y, "1988-11-02", "13800002222", FLAT_Y),
    ]


# an ID-less record of the first namesake (her phone and flat): it also matches the second on name and birth
BRIDGE = _person("zhujian:r1", "欧阳雪芬", "ouyangxuefen", None, "1988-11-02", "13800001111", FLAT_X)
# an ID-less record with name and birth date only: it matches both namesakes equally well
TIED = _person("weijian:r2", "欧阳雪芬", "ouyangxuefen", None, "1988-11-02", None, None)


@pytest.fixture(scope="module")
def background() -> pd.DataFrame:
    return synth.persons(1500, seed=3).drop(columns=["true_id"])


@pytest.fixture(scope="module")
def settings() -> EntitySettings:
    return EntitySettings.from_config("person", {"person": SMALL})


def _entities(res, keys: list[str]) -> pd.Series:
    return res.assignments.set_index("record_key").loc[keys, "entity_id"]


def _no_entity_holds_two(res, mentions: pd.DataFrame, column: str) -> None:
    held = res.assignments.merge(mentions[["record_key", column]], on="record_key").dropna(subset=[column])
    assert held.groupby("entity_id")[column].nunique().max() == 1
    assert held.groupby(column)["entity_id"].nunique().max() == 1


def test_twins_with_two_valid_ids_stay_apart(background, settings):
    twins = pd.DataFrame(_twins())
    mentions = pd.concat([background, twins], ignore_index=True)
    res = resolve(mentions, settings, run_id="twins")
    ids = _entities(res, list(twins["record_key"]))
    assert ids["gongan:t1"] == ids["renshe:t1"] and ids["gongan:t2"] == ids["minzheng:t2"]
    assert ids["gongan:t1"] != ids["gongan:t2"]
    # the twins' pairs are decided by their IDs: no match edge, nothing to review
    twin_pairs = res.review["record_key_l"].isin(twins["record_key"]) & res.review["record_key_r"].isin(
        twins["record_key"]
    )
    assert not twin_pairs.any()
    _no_entity_holds_two(res, mentions, "id_number")
    # explain says why, whatever the probability
    said = format_pair(explain_pair(mentions, settings, res.state, "gongan:t1", "gongan:t2"))
    assert "kept apart: two different identities (id_number:" in said
    same = format_pair(explain_pair(mentions, settings, res.state, "gongan:t1", "renshe:t1"))
    assert "kept apart" not in same


def test_chain_through_an_id_less_record_is_split_on_its_better_side(background, settings):
    people = pd.DataFrame([*_namesakes(), BRIDGE])
    mentions = pd.concat([background, people], ignore_index=True)
    res = resolve(mentions, settings, run_id="chain")
    ids = _entities(res, list(people["record_key"]))
    assert ids["gongan:n1"] != ids["gongan:n2"]
    assert ids["zhujian:r1"] == ids["gongan:n1"]  # her phone and flat: the better side
    split = res.oversized[res.oversized["example_record_key"].isin(people["record_key"])]
    assert split["reason"].tolist() == ["identity_conflict"]
    assert res.stats["identity_conflicts"] >= 1
    cut = res.review[
        (res.review["record_key_l"] == "gongan:n2") & (res.review["record_key_r"] == "zhujian:r1")
    ]
    assert cut["reason"].tolist() == ["identity_conflict"]
    _no_entity_holds_two(res, mentions, "id_number")


def test_a_tie_between_two_identities_goes_to_review(background, settings):
    people = pd.DataFrame([*_namesakes(), TIED])
    res = resolve(pd.concat([background, people], ignore_index=True), settings, run_id="tie")
    ids = _entities(res, list(people["record_key"]))
    assert len(set(ids)) == 3  # the tied record stays on its own
    assigned = res.assignments.set_index("record_key")
    assert assigned.loc["weijian:r2", "method"] == "singleton"
    tied = res.review[res.review["reason"] == "identity_tie"]
    assert set(map(frozenset, zip(tied["record_key_l"], tied["record_key_r"], strict=True))) == {
        frozenset({"gongan:n1", "weijian:r2"}),
        frozenset({"gongan:n2", "weijian:r2"}),
    }
    assert res.stats["identity_ties"] >= 1


def _org(key: str, name: str, code: str | None, address: str | None) -> dict:
    feed, sid = key.split(":")
    return dict(
        record_key=key,
        feed=feed,
        source_record_id=sid,
        org_name=name,
        credit_code=code,
        legal_rep=None,
        address_code=address,
        building_code=address[:15] if address else None,
        priority=50,
        record_date=pd.Timestamp("2024-01-01").date(),
    )


def test_one_credit_code_is_one_organisation_whatever_its_size():
    code = synth.credit_codes(np.random.default_rng(5), 1)[0]
    addr, name = "4403050040120340101", "深圳市青石区人民医院"
    # the registration, 300 人社 rows of insured staff naming the employer with its code, 80 without it
    rows = [_org("shichang:h1", name, code, addr)]
    rows += [_org(f"renshe:c{i}#org", name, code, addr if i % 3 == 0 else None) for i in range(300)]
    rows += [_org(f"renshe:n{i}#org", name, None, addr) for i in range(80)]
    employer = pd.DataFrame(rows)
    background = synth.organisations(500, seed=4).drop(columns=["true_id"])
    settings = EntitySettings.from_config("organisation", {"organisation": SMALL})
    assert settings.max_cluster_size == 60
    res = resolve(pd.concat([background, employer], ignore_index=True), settings, run_id="org")
    assert _entities(res, list(employer["record_key"])).nunique() == 1
    # a month later, more staff: the kept employer (381 records, 2 units) takes them in
    more = pd.DataFrame(
        [_org(f"renshe:c{i}#org", name, code, None) for i in range(300, 330)]
        + [_org(f"renshe:n{i}#org", name, None, addr) for i in range(80, 90)]
    )
    daily = resolve_delta(more, settings, state=res.state, run_id="org-2")
    everyone = pd.concat([employer, more], ignore_index=True)
    assert _entities(daily, list(everyone["record_key"])).nunique() == 1
    # a chain of distinct records is still cut: the background's own entities stay within the limit
    assert res.assignments["entity_id"].value_counts().iloc[1] <= 60


def test_records_sharing_an_id_join_without_being_a_candidate_pair(background):
    # no blocking rule on the ID: the two records below share nothing else
    blocking = [r for r in EntitySettings.from_config("person").blocking if r.name != "id_number"]
    settings = EntitySettings.from_config(
        "person", {"person": {**SMALL, "blocking": [{"name": r.name, "on": list(r.on)} for r in blocking]}}
    )
    a, _ = _ids("1971-06-30", [17, 19])
    people = pd.DataFrame(
        [
            _person("gongan:z1", "黄志强", "huangzhiqiang", a, "1971-06-30", "13600000001", FLAT_X, "M"),
            _person("shuiwu:z1", "黄志墙", "huangzhiqiang", a, None, None, None, "M"),
        ]
    )
    res = resolve(pd.concat([background, people], ignore_index=True), settings, run_id="exact")
    assigned = res.assignments.set_index("record_key").loc[list(people["record_key"])]
    assert assigned["entity_id"].nunique() == 1
    assert "id_exact" in set(assigned["method"])
    # a delta record with the ID joins the kept entity holding it, though no blocking key pairs them
    later = pd.DataFrame([_person("renshe:z1", "黄大强", "huangdaqiang", a, None, "13600000777", None, "M")])
    daily = resolve_delta(later, settings, state=res.state, run_id="exact-2")
    ids = daily.assignments.set_index("record_key")["entity_id"]
    assert ids["renshe:z1"] == ids["gongan:z1"] == ids["shuiwu:z1"]


def test_incremental_runs_obey_the_identities(background, settings):
    first = [_twins()[0], _twins()[1], *_namesakes()]
    start = pd.concat([background, pd.DataFrame(first)], ignore_index=True)
    base = resolve(start, settings, run_id="day-1")
    # day 2: the other twin, the bridge between the namesakes, a new record of the first namesake whose
    # other values all disagree (only her ID joins it)
    x_again = _person("shuiwu:x1", "欧阳雪芳", "ouyangxuefang", NAMESAKE_X, None, "13700009999", None)
    changes = pd.DataFrame([_twins()[2], BRIDGE, x_again])
    daily = resolve_delta(changes, settings, state=base.state, run_id="day-2")
    assert daily.stats["incremental"]
    ids = daily.assignments.set_index("record_key")["entity_id"]
    assert ids["gongan:t2"] != ids["gongan:t1"]
    assert ids["gongan:n1"] != ids["gongan:n2"]
    assert ids["zhujian:r1"] == ids["gongan:n1"]
    assert ids["shuiwu:x1"] == ids["gongan:n1"]
    # the same through resolve() with a state: changes found by hash
    full_path = resolve(
        pd.concat([start, changes], ignore_index=True), settings, state=base.state, run_id="d2"
    )
    assert full_path.stats["incremental"]
    again = full_path.assignments.set_index("record_key")["entity_id"]
    assert again.reindex(ids.index).equals(ids)
    everyone = pd.concat([start, changes], ignore_index=True)
    _no_entity_holds_two(daily, everyone, "id_number")


def test_identity_setting_is_validated_and_fingerprinted():
    assert EntitySettings.from_config("person").identity == ("id_number",)
    assert EntitySettings.from_config("organisation").identity == ("credit_code",)
    assert EntitySettings.from_config("house").identity == ("address_code",)  # one room, one house
    assert EntitySettings.from_config("facility").identity == ()
    with pytest.raises(SettingsError, match=r"identity: each entry is \{column"):
        EntitySettings.from_config("person", {"identity": [{"col": "id_number"}]})
    with pytest.raises(SettingsError, match="identity: a list"):
        EntitySettings.from_config("person", {"identity": "id_number"})
    off = EntitySettings.from_config("person", {"identity": []})
    assert off.identity == () and off.fingerprint() != EntitySettings.from_config("person").fingerprint()


def test_reviewed_decisions_and_identities(background, settings):
    twins = pd.DataFrame(_twins())
    mentions = pd.concat([background, twins], ignore_index=True)
    decisions = pd.DataFrame(
        {
            "record_key_l": ["gongan:t1", "gongan:t2"],
            "record_key_r": ["gongan:t2", "minzheng:t2"],
            "decision": [
                "match",
                "non_match",
            ],  # two IDs said to be one; one ID said to be two (a reused number)
        }
    )
    res = resolve(mentions, settings, decisions=decisions, run_id="reviewed")
    ids = _entities(res, list(twins["record_key"]))
    assert ids["gongan:t1"] != ids["gongan:t2"]  # a must-link cannot join two identities
    assert ids["gongan:t2"] != ids["minzheng:t2"]  # a reviewer's non-match splits one identity
