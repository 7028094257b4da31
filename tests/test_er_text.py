"""The engine's text helpers where they lean on the project's normalisers."""

from __future__ import annotations

import pandas as pd

from matching.er.text import pinyin_of
from matching.normalize import name_pinyin


def test_pinyin_of_is_the_mentions_pinyin_key():
    names = pd.Series(["单田芳", "曾志伟", "张伟", None, ""], index=[10, 11, 12, 13, 14])
    got = pinyin_of(names)
    # the surname readings of matching.normalize (单 shan, 曾 zeng), not pypinyin's common-word sounds
    assert got.tolist()[:3] == ["shantianfang", "zengzhiwei", "zhangwei"]
    assert got.isna().tolist()[3:] == [True, True]
    assert got.index.tolist() == [10, 11, 12, 13, 14]
    assert str(got.dtype) == "string"
    assert got.tolist()[:3] == name_pinyin(names.iloc[:3]).tolist()


def test_org_region_prefix_in_any_combination_is_not_the_name():
    from matching.er.text import org_core, org_name_key

    names = pd.Series(
        [
            "侯氏面馆",
            "江澜区侯氏面馆",
            "明州市侯氏面馆",
            "浙江省明州市江澜区长乐街道侯氏面馆",
            "长乐镇侯氏面馆",
            "萧县侯氏面馆",
        ]
    )
    assert set(org_core(names)) == {"侯氏面馆"}
    assert org_name_key(pd.Series(["江澜区瑞丰文化传媒有限公司城东分公司"])).tolist() == [
        "瑞丰文化传媒|城东分公司"
    ]


def test_org_names_ending_like_a_region_are_kept():
    from matching.er.text import org_core

    names = pd.Series(
        ["华联超市有限公司", "阳光社区服务中心", "华兴物流园区管理有限公司", "明州市华兴区域物流有限公司"]
    )
    assert org_core(names).tolist() == ["华联超市", "阳光社区服务中心", "华兴物流园区管理", "华兴区域物流"]
