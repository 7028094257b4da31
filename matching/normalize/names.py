"""Names (姓名): 繁→简, width, stray spaces, the 间隔号 of minority names; a pinyin key for homophones."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from matching.text import map_distinct, normalize_text

#: Dots people type for the 间隔号 of minority and foreign names; all become U+00B7 ``·``.
_NAME_DOTS = r"[.。．·•‧∙⋅・･\x{2E31}\x{16EB}\x{2022}\x{00B7}]"
_CJK = r"\x{3400}-\x{4DBF}\x{4E00}-\x{9FFF}\x{F900}-\x{FAFF}\x{20000}-\x{2FA1F}"


def _normalize_name_array(arr: pa.Array) -> pa.Array:
    arr = pc.replace_substring_regex(arr, rf"\s*{_NAME_DOTS}+\s*", "·")
    # a hyphen between two Chinese characters is a mistyped 间隔号 (阿依古丽-买买提)
    arr = pc.replace_substring_regex(arr, rf"([{_CJK}])\s*[-—–]\s*([{_CJK}])", r"\1·\2")
    # spaces inside a Chinese name are stray (张 三, 欧阳 娜娜); spaces between Latin words are kept
    for _ in range(2):  # overlapping matches: 张 三 丰 needs two passes
        arr = pc.replace_substring_regex(arr, rf"([{_CJK}]) ([{_CJK}])", r"\1\2")
    arr = pc.replace_substring_regex(arr, r"^·+|·+$", "")
    return pc.utf8_trim_whitespace(arr)


def normalize_names(s: pd.Series) -> pd.Series:
    """Person and organisation names: 繁→简, half-width, stray spaces removed, ``·`` as the 间隔号.

    ``張 三`` → ``张三``; ``阿依古丽.买买提`` / ``阿依古丽 • 买买提`` → ``阿依古丽·买买提``; Latin names keep single
    spaces (``JOHN SMITH``). Empty names become NA.
    """
    t = normalize_text(s)
    out = map_distinct(t, _normalize_name_array)
    return out.mask(out.str.len() == 0)


#: Surnames pypinyin reads with their common-word sound (单 dan, 曾 ceng, 解 jie ...): surname readings.
SURNAME_PINYIN: dict[str, str] = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "查": "zha",
    "区": "ou",
    "盖": "ge",
    "乐": "yue",
    "覃": "qin",
    "缪": "miao",
    "翟": "zhai",
    "柏": "bai",
    "秘": "bi",
    "种": "chong",
    "召": "shao",
    "繁": "po",
    "员": "yun",
    "过": "guo",
    "燕": "yan",
    "纪": "ji",
    "隗": "wei",
    "宓": "mi",
    "相": "xiang",
    "尉迟": "yuchi",
    "万俟": "moqi",
    "长孙": "zhangsun",
    "单于": "chanyu",
    "澹台": "tantai",
    "令狐": "linghu",
    "都": "du",
    "车": "che",
    "石": "shi",
    "沈": "shen",
    "薄": "bo",
    "重": "chong",
    "折": "she",
    "蕃": "pi",
}
_PINYIN_KEEP = re.compile(r"[^a-z0-9]")


def _char_pinyin(char: str) -> str:
    """The tone-less pinyin pypinyin gives ``char`` alone (cached: a district's names use a few thousand)."""
    from pypinyin import Style, lazy_pinyin

    got = _CHAR_PINYIN.get(char)
    if got is None:
        got = _CHAR_PINYIN[char] = "".join(lazy_pinyin(char, style=Style.NORMAL, errors="default"))
    return got


_CHAR_PINYIN: dict[str, str] = {}


def _no_phrase(rest: str) -> bool:
    """Whether pypinyin reads ``rest`` character by character: every character one it has a reading for,
    and no two or more of them in a row a phrase of its phrase dictionary (what its segmenter would join)."""
    from pypinyin.constants import PHRASES_DICT, PINYIN_DICT

    if not all(ord(c) in PINYIN_DICT for c in rest):
        return False
    n = len(rest)
    return not any(rest[i:j] in PHRASES_DICT for i in range(n - 1) for j in range(i + 2, n + 1))


def _pinyin_of(name: str) -> str:
    from pypinyin import Style, lazy_pinyin

    head = ""
    rest = name
    if "·" not in name and len(name) >= 2:
        for k in (name[:2], name[:1]):
            if k in SURNAME_PINYIN and len(name) > len(k):
                head, rest = SURNAME_PINYIN[k], name[len(k) :]
                break
    if _no_phrase(rest):  # the same reading, without pypinyin's segmenter and converter per name
        body = "".join(_char_pinyin(c) for c in rest)
    else:
        body = "".join(lazy_pinyin(rest, style=Style.NORMAL, errors="default"))
    return _PINYIN_KEEP.sub("", (head + body).lower())


def name_pinyin(s: pd.Series) -> pd.Series:
    """Tone-less, space-free pinyin key of a (normalised) name: ``张伟`` → ``zhangwei``, ``单田芳`` → ``shantianfang``.

    A fuzzy key for homophones (张伟 / 张玮 share ``zhangwei``); pypinyin is wrong on some polyphones, so this is
    evidence, never proof. Surname readings are fixed for the common polyphone surnames (:data:`SURNAME_PINYIN`).
    """
    codes, uniques = pd.factorize(s.astype("string"), use_na_sentinel=True)
    keys = np.array([_pinyin_of(str(v)) for v in uniques] + [None], dtype=object)
    out = pd.Series(keys[np.where(codes < 0, len(uniques), codes)], index=s.index, dtype="string")
    return out.mask(out.str.len() == 0)
