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
