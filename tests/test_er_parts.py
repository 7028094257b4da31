"""Unit tests of the engine's parts: comparison levels on Chinese values, blocking, clustering guard, ids,
settings, golden-record survivorship and explain."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import synth_er as synth

from matching.er import (
    EntitySettings,
    SettingsError,
    explain_pair,
    format_pair,
    golden_records,
    resolve,
)
from matching.er.blocking import block, evaluate_key
from matching.er.clustering import cluster
from matching.er.comparisons import PreparedComparisons
from matching.er.ids import IssuedIds, assign_ids, new_entity_id
from matching.er.settings import BlockingRule, ComparisonSpec
from matching.er.text import org_name_parts, surname


def levels(df: pd.DataFrame, spec: dict, pairs: list[tuple[int, int]]) -> list[str]:
    prep = PreparedComparisons(df, [ComparisonSpec.parse(spec)])
    left = np.array([p[0] for p in pairs])
    right = np.array([p[1] for p in pairs])
    comp = prep.comparisons[0]
    return [comp.levels[x] if x >= 0 else "missing" for x in prep.levels(left, right)[:, 0]]


def test_person_name_homophone_and_one_char():
    df = pd.DataFrame(
        {
            "name": ["张伟", "章伟", "张玮", "张强", "欧阳娜娜", "欧阳娜", None]
            + [
                "陈思雨",
                "陈思琪",
                "陈思语",
                "程思雨",
                "欧阳思雨",
                "欧阳思琪",
                "阿依古丽·买买提",
                "阿依古丽·买买江",
            ]
        }
    )
    got = levels(
        df,
        {"name": "name", "kind": "person_name", "columns": ["name"]},
        [(0, 0), (0, 1), (0, 2), (0, 3), (4, 5), (0, 6), (7, 8), (7, 9), (7, 10), (11, 12), (13, 14)],
    )
    assert got == [
        "exact",
        "homophone",
        "homophone",
        "one_char_given",  # another given name of the same family name: 张伟 / 张强
        "one_char",  # a character dropped
        "missing",
        "one_char_given",  # twins: 思雨 / 思琪
        "homophone",
        "one_char",  # the surname's character: a slip, not a sibling
        "one_char_given",  # 复姓 kept whole
        "one_char",  # not a name of 2–4 Chinese characters: no given-name level
    ]


def test_code_levels_id_number_and_phone():
    df = pd.DataFrame(
        {"id": ["11010519491231002X", "11010519491231003X", "11010519491213002X", "440305199001011234", None]}
    )
    got = levels(
        df, {"name": "id", "kind": "code", "columns": ["id"]}, [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)]
    )
    assert got == ["exact", "one_char", "transposition", "else", "missing"]


def test_check_digit_conflict_level_and_fixed_m():
    from warehouse.checkchars import credit_code_check_char, resident_id_check_char

    def rid(body):
        return body + resident_id_check_char(body)

    a, b = rid("44539919900512345"), rid("45088119900512321")  # two real, different ID numbers
    typo = a[:5] + ("0" if a[5] != "0" else "1") + a[6:]  # one digit wrong: the check character breaks
    far = a[:10] + "0101" + a[14:]  # several digits wrong, check character not recomputed: not valid
    df = pd.DataFrame({"id": [a, b, typo, far, "4453991990051234"]})
    spec = {"name": "id", "kind": "code", "columns": ["id"], "options": {"checksum": "resident_id"}}
    assert levels(df, spec, [(0, 1), (0, 2), (0, 3), (0, 4)]) == ["conflict", "one_char", "else", "else"]
    c1, c2 = "91440300" + "MA5EXAMPL", "91440300" + "MA5EXAMPM"
    df = pd.DataFrame({"cc": [c1 + credit_code_check_char(c1), c2 + credit_code_check_char(c2)]})
    spec = {"name": "cc", "kind": "code", "columns": ["cc"], "options": {"checksum": "credit_code"}}
    assert levels(df, spec, [(0, 1)]) == ["conflict"]
    with pytest.raises(SettingsError, match="checksum"):
        PreparedComparisons(df, [ComparisonSpec.parse({**spec, "options": {"checksum": "luhn"}})])
    # the conflict level's m is fixed, not learnt: EM would otherwise take 同名同生日 people for matches
    s = EntitySettings.from_config("person", {"person": {"u_sample_pairs": 50_000}})
    people = synth.persons(600, seed=2).drop(columns=["true_id"])
    model = resolve(people, s, run_id="m").model
    k = model.comparisons.index("id_number")
    assert model.levels[k][model.levels[k].index("conflict")] == "conflict"
    assert model.m[k][model.levels[k].index("conflict")] == pytest.approx(1e-4)
    assert model.m[k].sum() == pytest.approx(1.0)
    tuned = EntitySettings.from_config(
        "person",
        {
            "person": {
                "u_sample_pairs": 50_000,
                "comparisons": [
                    {
                        "name": "id_number",
                        "kind": "code",
                        "columns": ["id_number"],
                        "options": {"checksum": "resident_id", "fixed_m": {"conflict": 1e-3}},
                    }
                ],
            }
        },
    )
    assert resolve(people, tuned, run_id="m").model.m[k][3] == pytest.approx(1e-3)
    assert tuned.fingerprint() != s.fingerprint()


def test_date_levels_swap_and_one_digit():
    df = pd.DataFrame({"d": pd.to_datetime(["1990-03-04", "1990-04-03", "1990-03-05", "1975-11-30", None])})
    got = levels(
        df, {"name": "d", "kind": "date", "columns": ["d"]}, [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)]
    )
    assert got == ["exact", "day_month_swap", "one_digit", "else", "missing"]
    # string dates (FEBRL style) compare the same way
    s = pd.DataFrame({"d": ["19900304", "19900403", "1990-03-04", ""]})
    assert levels(s, {"name": "d", "kind": "date", "columns": ["d"]}, [(0, 1), (0, 2), (0, 3)]) == [
        "day_month_swap",
        "exact",
        "missing",
    ]


def test_org_name_legal_form_region_and_branch():
    names = pd.Series(
        [
            "深圳市华兴科技有限公司",
            "华兴科技（深圳）有限责任公司",
            "深圳市华兴科技有限公司南山分公司",
            "深圳市华兴科枝有限公司",
            "启明物流有限公司",
        ]
    )
    parts = org_name_parts(names)
    assert parts["core"].tolist()[:3] == ["华兴科技", "华兴科技", "华兴科技"]
    assert parts["branch"].tolist()[2] == "南山分公司"
    df = pd.DataFrame({"org_name": names})
    got = levels(
        df, {"name": "o", "kind": "org_name", "columns": ["org_name"]}, [(0, 1), (0, 2), (0, 3), (0, 4)]
    )
    assert got == ["exact", "other_branch", "related", "else"]


def test_address_levels():
    df = pd.DataFrame(
        {
            "address_code": ["A1", "A1", "A2", None, None, "A9"],
            "building_code": ["B1", "B1", "B1", None, None, "B9"],
            "grid_code": ["G1", "G1", "G1", None, None, "G1"],
            "address_text": ["幸福路12号3栋501", None, None, "幸福路12号3栋501", "幸福路12号3幢501室", None],
        }
    )
    spec = {
        "name": "a",
        "kind": "address",
        "columns": ["address_code", "building_code", "grid_code", "address_text"],
    }
    got = levels(df, spec, [(0, 1), (0, 2), (0, 3), (3, 4), (0, 5), (1, 3)])
    assert got == ["same_address", "same_building", "same_address", "similar_text", "same_grid", "missing"]


def test_geo_and_numeric():
    df = pd.DataFrame(
        {"lon": [114.0, 114.00005, 114.01], "lat": [22.5, 22.5, 22.5], "area": [80.0, 80.5, 120.0]}
    )
    assert levels(
        df,
        {"name": "g", "kind": "geo_distance", "columns": ["lon", "lat"], "options": {"meters": [10, 100]}},
        [(0, 1), (0, 2)],
    ) == ["within_10m", "else"]
    assert levels(
        df,
        {"name": "n", "kind": "numeric", "columns": ["area"], "options": {"relative": [0.01]}},
        [(0, 0), (0, 1), (0, 2)],
    ) == ["exact", "within_0.01", "else"]


def test_blocking_counts_skips_and_link_only():
    df = pd.DataFrame({"k": ["a"] * 5 + ["b"] * 2 + [None] * 3, "src": list("xxyyyxyxyx")})
    rules = (BlockingRule("k", ("k",)),)
    p = block(df, rules, max_block_size=10)
    assert len(p) == 10 + 1 and (p.left < p.right).all()
    p = block(df, rules, max_block_size=4)
    assert len(p) == 1 and p.report.loc[0, "skipped_blocks"] == 1 and p.report.loc[0, "skipped_pairs"] == 10
    src = pd.factorize(df["src"])[0]
    p = block(df, rules, max_block_size=10, source=src)
    assert len(p) == 2 * 3 + 1
    assert (src[p.left] != src[p.right]).all()


def test_key_functions_on_chinese_text():
    df = pd.DataFrame(
        {"name": ["欧阳娜娜", "张三", None], "address_text": ["幸福路12号3栋2单元501室", "无门牌", None]}
    )
    assert surname(df["name"]).tolist()[:2] == ["欧阳", "张"]
    assert evaluate_key(df, "digits(address_text)").tolist()[0] == "12-3-2-501"
    assert evaluate_key(df, "prefix(surname(name),1)").tolist()[0] == "欧"


def test_cluster_guard_cuts_weakest_link():
    # 0-1-2-3 chain; the 1-2 link is weakest; max size 2
    labels = cluster(
        4, np.array([0, 1, 2]), np.array([1, 2, 3]), np.array([10.0, 1.0, 9.0]), max_size=2
    ).labels
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[1] != labels[2]
    # a cannot-link splits a component too
    c = cluster(
        3,
        np.array([0, 1]),
        np.array([1, 2]),
        np.array([5.0, 4.0]),
        max_size=10,
        cannot_link=(np.array([0]), np.array([2])),
    )
    assert c.labels[0] != c.labels[2] and c.labels[0] == c.labels[1]
    assert c.oversized["reason"].tolist() == ["cannot_link"]


def test_ids_merge_split_and_determinism():
    recs = pd.DataFrame(
        {
            "record_key": ["a:1", "a:2", "b:1", "b:2"],
            "label": [0, 0, 0, 1],
            "old_id": ["P1", "P1", "P2", pd.NA],
            "first_seen_seq": [1, 1, 1, 2],
            "record_date": [None] * 4,
        }
    )
    ids, hist = assign_ids(
        recs, prefix="P", entity_type="person", issued=IssuedIds(pd.Series(["P1", "P2"])), run_id="r"
    )
    assert ids.tolist()[:3] == ["P1", "P1", "P1"]
    assert ids.iloc[3] == new_entity_id("P", "person", "b:2")
    assert hist[["old_id", "new_id", "reason"]].values.tolist() == [["P2", "P1", "merge"]]
    split = recs.assign(label=[0, 1, 0, 0], old_id=["P1", "P1", "P1", "P1"])
    issued = IssuedIds(pd.Series(["P1"]))
    ids, hist = assign_ids(split, prefix="P", entity_type="person", issued=issued, run_id="r")
    assert ids.iloc[0] == "P1" and ids.iloc[1] == new_entity_id("P", "person", "a:2")
    assert hist["reason"].tolist() == ["split"]
    assert issued.added == [new_entity_id("P", "person", "a:2")]
    # an id issued before (to an entity since retired) is never issued again: the new entity gets a salted one
    again = IssuedIds(pd.Series(["P1", new_entity_id("P", "person", "a:2")]))
    ids, _ = assign_ids(split, prefix="P", entity_type="person", issued=again, run_id="r")
    assert ids.iloc[1] == new_entity_id("P", "person", "a:2", salt=1)
    assert again.added == [ids.iloc[1]] and ids.iloc[1] in again


def test_settings_from_config_overrides_and_errors():
    s = EntitySettings.from_config(
        "person", {"person": {"thresholds": {"match": 0.97}, "comparisons": [{"name": "sex", "drop": True}]}}
    )
    assert s.thresholds.match == 0.97 and "sex" not in [c.name for c in s.comparisons]
    assert (
        EntitySettings.from_config("organisation", {"person": {"max_cluster_size": 3}}).max_cluster_size == 60
    )
    with pytest.raises(SettingsError, match="unknown keys"):
        EntitySettings.from_config("person", {"person": {"blocking_rules": []}})
    with pytest.raises(SettingsError, match="unknown kind"):
        EntitySettings.from_config("person", {"person": {"comparisons": [{"name": "x", "kind": "soundex"}]}})
    with pytest.raises(SettingsError, match="no defaults"):
        EntitySettings.from_config("vehicle", {})
    v = EntitySettings.from_config(
        "vehicle",
        {"blocking": ["plate"], "id_prefix": "V", "comparisons": [{"name": "plate", "kind": "code"}]},
    )
    assert v.id_prefix == "V" and v.blocking[0].on == ("plate",)


def test_golden_survivorship_and_sources():
    m = pd.DataFrame(
        {
            "record_key": ["gongan:1", "minzheng:7", "renshe:3"],
            "feed": ["gongan", "minzheng", "renshe"],
            "source_record_id": ["1", "7", "3"],
            "priority": [90, 60, 70],
            "record_date": pd.to_datetime(["2023-01-01", "2024-06-01", "2022-01-01"]).date,
            "name": ["张伟", "張偉", None],
            "phone": ["13800000000", "13900000000", None],
            "sex": ["U", "M", "M"],
        }
    )
    a = pd.DataFrame(
        {"record_key": m["record_key"], "entity_id": "Pabc", "score": 1.0, "method": "probabilistic"}
    )
    g = golden_records(m, a, EntitySettings.from_config("person"))
    row = g.iloc[0]
    assert row["person_id"] == "Pabc" and row["name"] == "张伟"  # police has the highest priority
    assert row["phone"] == "13900000000"  # phones: the most recent wins
    assert row["sex"] == "M"  # 'U' counts as missing
    fs = json.loads(row["field_sources"])
    assert fs == {"name": "gongan:1", "sex": "renshe:3", "phone": "minzheng:7"}
    assert row["sources"] == ["gongan", "minzheng", "renshe"] and row["records"] == 3


def test_explain_pair_adds_up():
    d = synth.persons(400, seed=5)
    s = EntitySettings.from_config("person", {"person": {"u_sample_pairs": 50_000}})
    r = resolve(d.drop(columns=["true_id"]), s, run_id="x")
    top = r.pairs.sort_values("match_probability").iloc[-1]
    e = explain_pair(d, s, r.state, top["record_key_l"], top["record_key_r"])
    assert e.match_weight == pytest.approx(top["match_weight"], abs=1e-6)
    assert set(e.table["comparison"]) == {c.name for c in s.comparisons}
    text = format_pair(e)
    assert top["record_key_l"] in text and "match probability" in text
