"""Organisation names written with the city's divisions but without their suffix (江澜宏远贸易有限公司 for
江澜区宏远贸易有限公司, 广州天河… for 广州市天河区…): the region is set aside from the city's own reference data
(``EntitySettings.regions``), never from a list of names in the code (other district, 2026-12-01: 9 of the 25
organisation records lost at 6,002 residents)."""

from __future__ import annotations

import pandas as pd
from org_employers import RENSHE, SHICHANG, registered, staged_feeds

from connectors.feeds import Feed
from matching.er import EntitySettings, resolve
from matching.er.text import org_core, regions_written_out
from matching.mentions import build_mentions

REGIONS = (
    ("广东省", "广东"),
    ("广州市",),
    ("天河区",),
    ("明州市",),
    ("江澜区",),
    ("长乐街道", "长乐街"),
    ("中山街道",),
    ("光明街道",),
    ("和平区",),
)


def test_a_leading_division_without_its_suffix_is_set_aside():
    names = pd.Series(
        [
            "江澜宏远贸易有限公司",
            "江澜区宏远贸易有限公司",
            "明州江澜宏远贸易有限公司",
            "宏远贸易有限公司",
            "广州天河华兴科技有限公司",
            "广州市天河区华兴科技有限公司",
            "长乐街宏远物业管理有限公司",
        ],
        index=range(3, 10),
    )
    written = regions_written_out(names, REGIONS)
    assert written.index.tolist() == names.index.tolist()
    assert written.iloc[0] == "江澜区宏远贸易有限公司"  # the name as registered, for the same_name level
    assert org_core(written).tolist() == ["宏远贸易"] * 4 + ["华兴科技"] * 2 + ["宏远物业管理"]


def test_ordinary_words_roads_and_short_names_keep_their_names():
    """Only a whole division name, only at the start, not before 路 / 村, and only where four characters are left
    before the legal form: 中山, 光明, 和平 are divisions here and words everywhere."""
    names = pd.Series(
        [
            "中山大学",
            "光明乳业股份有限公司",
            "和平饭店",
            "长乐路宏远贸易有限公司",
            "宏远江澜贸易有限公司",
            None,
        ]
    )
    written = regions_written_out(names, REGIONS)
    assert written.iloc[:5].tolist() == names.iloc[:5].tolist()
    assert pd.isna(written.iloc[5])


def test_only_the_citys_own_divisions_are_set_aside():
    names = pd.Series(["江澜宏远贸易有限公司", "广州天河华兴科技有限公司"])
    assert regions_written_out(names, ()).tolist() == names.tolist()
    assert org_core(regions_written_out(names, (("江澜区",),))).tolist() == ["宏远贸易", "广州天河华兴科技"]


def test_the_name_as_registered_keeps_the_region_as_written():
    """明州明达物业管理有限公司 and 明州市明达物业管理有限公司 share a core but are two registered names (the same_name
    level tells such namesakes apart); a bare name and its registered form agree on the core (exact)."""
    import numpy as np

    from matching.er.comparisons import build_comparisons

    settings = EntitySettings.from_config("organisation").with_regions((("明州市",), ("江澜区",)))
    org_name = next(c for c in build_comparisons(settings.comparisons) if c.name == "org_name")
    names = [
        "明州明达物业管理有限公司",
        "明州市明达物业管理有限公司",
        "江澜宏远贸易有限公司",
        "江澜区宏远贸易有限公司",
    ]
    prep = org_name.prepare(pd.DataFrame({"org_name": pd.Series(names, dtype="string")}))
    levels = org_name.compare(prep, np.array([0, 2, 0]), np.array([1, 3, 0]))
    assert [org_name.levels[lv] for lv in levels] == ["exact", "exact", "same_name"]


def test_employers_written_without_the_city_suffix_join_their_organisation():
    """人社 names 40 employers by name only, 云江宏达科技有限公司 for the registered 云江市宏达科技有限公司."""
    orgs = registered(120)
    staged, _ = staged_feeds(orgs, big=(30,))
    bare = orgs["org_name"].iloc[:40].str.replace("云江市", "云江", regex=False)
    extra = pd.DataFrame(
        {
            "_feed": "renshe",
            "_raw_sha256": "r",
            "_line": range(90_000, 90_040),
            "source_record_id": [f"X{i:03d}" for i in range(40)],
            "name": [f"职工X{i}" for i in range(40)],
            "org_name": bare.to_numpy(),
            "credit_code": pd.Series([None] * 40, dtype="string"),
        }
    )
    staged["renshe"] = pd.concat([staged["renshe"], extra], ignore_index=True)
    m = build_mentions(staged, [Feed.model_validate(SHICHANG), Feed.model_validate(RENSHE)])
    mentions = m.organisation.copy()
    settings = EntitySettings.from_config("organisation").with_regions((("云江市", "云江"), ("广东省",)))
    entity = resolve(mentions, settings, run_id="t").assignments.set_index("record_key")["entity_id"]
    keys = mentions.set_index("source_record_id")["record_key"]
    joined = [
        entity[keys[f"X{i:03d}"]] == entity[keys[f"S{i:05d}"]] for i in range(40) if f"X{i:03d}" in keys.index
    ]
    assert len(joined) == 40 and all(joined)


def test_the_city_divisions_come_from_its_reference_data(workspace_copy):
    from gridhub.reference import division_names
    from gridhub.resolve_workers import entity_settings
    from gridhub.workspace import Workspace

    ws = Workspace(workspace_copy)
    names = dict((d[0], d[1:]) for d in division_names(ws))
    assert {"广东省", "云江市", "青石区", "东湖街道", "石岭镇"} <= set(names)
    assert names["东湖街道"] == ("东湖", "东湖街")  # the divisions file's aliases
    assert not any(n.endswith("社区") for n in names)  # communities are no region of a name
    assert entity_settings(ws, "organisation").regions == division_names(ws)
    assert entity_settings(ws, "person").regions == ()
