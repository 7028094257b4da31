"""Comparisons of names and strings: ``exact``, ``string``, ``person_name`` (姓名) and ``org_name`` (单位名称)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from matching.er import text
from matching.er.comparison_base import (
    NULL,
    Comparison,
    column_or_missing,
    factorised_codes,
    pair_scores,
)
from matching.er.settings import SettingsError


class Exact(Comparison):
    levels = ("exact", "else")

    def prepare(self, df):
        code, _ = self._strings(self.tf_key(df))
        return {"code": code}

    def tf_key(self, df):
        s = super().tf_key(df)
        t = self.options.get("transform")
        if t == "digits":
            s = text.digits(s)
        elif t == "lower":
            s = text.squash(s)
        elif t:
            raise SettingsError(f"comparison {self.name}: unknown transform {t!r}")
        return s

    def compare(self, prep, left, right):
        a, b = prep["code"][left], prep["code"][right]
        out = np.where(a == b, 0, 1).astype(np.int8)
        out[(a < 0) | (b < 0)] = NULL
        return out


class String(Comparison):
    """Exact, then Jaro-Winkler similarity ≥ thresholds (or edit distance ≤ thresholds), else."""

    def __init__(self, spec):
        super().__init__(spec)
        self.jw = tuple(
            float(x)
            for x in self.options.get("jaro_winkler", [] if "levenshtein" in self.options else [0.92, 0.8])
        )
        self.lev = tuple(int(x) for x in self.options.get("levenshtein", []))
        self.levels = ("exact", *[f"jw>={t:g}" for t in self.jw], *[f"edits<={t}" for t in self.lev], "else")

    def tf_key(self, df):
        s = super().tf_key(df)
        return text.squash(s) if self.options.get("lower") else s

    def prepare(self, df):
        code, obj = self._strings(self.tf_key(df))
        return {"code": code, "obj": obj}

    def compare(self, prep, left, right):
        a, b = prep["code"][left], prep["code"][right]
        out = np.full(len(left), len(self.levels) - 1, dtype=np.int8)
        out[a == b] = 0
        fuzzy = (a != b) & (a >= 0) & (b >= 0)
        fl, fr = prep["obj"][left[fuzzy]], prep["obj"][right[fuzzy]]
        lv = np.full(fuzzy.sum(), len(self.levels) - 1, dtype=np.int8)
        level = 1
        if self.jw:
            sim = pair_scores(JaroWinkler.normalized_similarity, fl, fr)
            for t in self.jw:
                lv[(lv == len(self.levels) - 1) & (sim >= t)] = level
                level += 1
        if self.lev:
            dist = pair_scores(OSA.distance, fl, fr)
            for t in self.lev:
                lv[(lv == len(self.levels) - 1) & (dist <= t)] = level
                level += 1
        out[fuzzy] = lv
        out[(a < 0) | (b < 0)] = NULL
        return out


class PersonName(Comparison):
    """姓名: exact, homophone (同音: same tone-less pinyin), one character different, one character of the given
    name different, else.

    ``one_char`` is a slip in writing one person's name: a character dropped or added (陈思雨 / 陈雨), or the
    surname's character (陈思雨 / 程思雨). ``one_char_given`` is what two people of one family look like: the same
    surname (复姓 aware: 欧阳思雨 / 欧阳思琪), names of the same length (2–4 Chinese characters), one character of
    the given name replaced by another that does not sound the same (思雨 / 思琪, 张伟 / 张强); a homophone
    (思雨 / 思语) stays ``homophone``. Names with other characters (阿依古丽·买买提) never reach
    ``one_char_given``: a one-character difference there is a transliteration variant (``one_char``).

    Pinyin comes from the second column (``name_pinyin``) when present, else it is derived. Pinyin is never
    the only evidence (pypinyin is wrong on some surnames such as 单, 曾): a homophone level weighs less than
    an exact one, as EM learns.
    """

    levels = ("exact", "homophone", "one_char", "one_char_given", "else")

    def prepare(self, df):
        names = text.as_string(column_or_missing(df, self.spec.columns[0]))
        if len(self.spec.columns) > 1 and self.spec.columns[1] in df.columns:
            py = text.as_string(df[self.spec.columns[1]])
            missing = py.isna() & names.notna()
            if missing.any():
                py = py.where(~missing, text.pinyin_of(names.where(missing)))
        else:
            py = text.pinyin_of(names)
        code, obj = self._strings(names)
        # surname and length of names written in 2–4 Chinese characters (-1 for any other name), worked out once
        # per distinct name
        first = np.zeros(int(code.max()) + 1 if len(code) else 0, dtype=np.int64)
        first[code[code >= 0]] = np.flatnonzero(code >= 0)
        distinct = pd.Series(obj[first], dtype="string")
        han = distinct.str.fullmatch(_HAN_NAME).fillna(False).to_numpy(dtype=bool)
        surname = np.where(han, factorised_codes(text.surname(distinct)), -1)
        length = np.where(han, distinct.str.len().fillna(0).to_numpy(dtype=np.int64), -1)
        at = np.maximum(code, 0)
        return {
            "code": code,
            "obj": obj,
            "pinyin": factorised_codes(text.squash(py)),
            "surname": np.where(code >= 0, surname[at] if len(surname) else -1, -1),
            "length": np.where(code >= 0, length[at] if len(length) else -1, -1),
        }

    def compare(self, prep, left, right):
        a, b = prep["code"][left], prep["code"][right]
        last = len(self.levels) - 1
        out = np.full(len(left), last, dtype=np.int8)
        pa, pb = prep["pinyin"][left], prep["pinyin"][right]
        out[(pa == pb) & (pa >= 0)] = 1
        out[a == b] = 0
        rest = np.flatnonzero(out == last)
        rest = rest[(a[rest] >= 0) & (b[rest] >= 0)]
        if len(rest):
            d = pair_scores(Levenshtein.distance, prep["obj"][left[rest]], prep["obj"][right[rest]])
            one = rest[d <= 1]
            li, ri = left[one], right[one]
            given = (
                (prep["surname"][li] >= 0)
                & (prep["surname"][li] == prep["surname"][ri])
                & (prep["length"][li] == prep["length"][ri])
            )
            out[one] = np.where(given, 3, 2)
        out[(a < 0) | (b < 0)] = NULL
        return out


#: A name written in two to four Chinese characters (surname and given name, 复姓 included).
_HAN_NAME = r"[\u4e00-\u9fff]{2,4}"


class OrgName(Comparison):
    """单位名称: the name as registered, then names with 组织形式 and region removed and 分支机构 split off.

    Levels: same registered name (legal form and region kept, brackets and width aside: the names 市场监管 tells
    namesakes apart by, 云江市恒通贸易有限公司 / 云江市恒通贸易有限责任公司), same name legal form and region
    aside (``exact``), same core but another branch (a different organisation, usually), core similar
    (Jaro-Winkler ≥ 0.92, or one core ending with the other — a region or province left in front: 青石区人民医院
    / 人民医院, 广东顺丰速运 / 顺丰速运) with the same branch, core related (≥ 0.8), else. Jaro-Winkler rewards
    shared prefixes, so a dropped prefix alone would otherwise fall to "else". Term frequencies count the
    registered name on the first level and the name legal form and region aside on ``exact``.
    """

    levels = ("same_name", "exact", "other_branch", "similar", "related", "else")

    def tf_key(self, df):
        return text.org_full_name(column_or_missing(df, self.spec.columns[0]))

    def __init__(self, spec):
        super().__init__(spec)
        # the city's divisions (EntitySettings.with_regions): set aside from the cores written without suffix too
        self.regions = tuple(tuple(d) for d in self.options.get("regions") or ())

    def tf_keys(self, df):
        # the name legal form and region aside is counted too: 光晨物业管理有限责任公司 (the city left out) is all but
        # proof of the one credit code whose records carry that name, whatever their registered name's form
        return {
            0: self.tf_key(df),
            1: text.org_name_key(column_or_missing(df, self.spec.columns[0]), self.regions),
        }

    def prepare(self, df):
        names = column_or_missing(df, self.spec.columns[0])
        parts = text.org_name_parts(names, self.regions)
        full = (parts["core"] + "|" + parts["branch"]).astype("string")
        return {
            "code": factorised_codes(text.org_full_name(names)),
            "key": factorised_codes(full),
            "core": factorised_codes(parts["core"]),
            "branch": factorised_codes(parts["branch"]),
            "core_obj": text.to_object(parts["core"]),
        }

    def compare(self, prep, left, right):
        a, b = prep["key"][left], prep["key"][right]
        out = np.full(len(left), 5, dtype=np.int8)
        same_branch = prep["branch"][left] == prep["branch"][right]
        same_core = prep["core"][left] == prep["core"][right]
        out[same_core & ~same_branch] = 2
        out[a == b] = 1
        out[prep["code"][left] == prep["code"][right]] = 0
        rest = np.flatnonzero((out == 5) & same_branch & (a >= 0) & (b >= 0))
        if len(rest):
            sim = pair_scores(
                JaroWinkler.normalized_similarity, prep["core_obj"][left[rest]], prep["core_obj"][right[rest]]
            )
            lv = np.full(len(rest), 5, dtype=np.int8)
            lv[sim >= float(self.options.get("related", 0.8))] = 4
            lv[sim >= float(self.options.get("similar", 0.92))] = 3
            lv[
                _ends_with_other(
                    prep["core_obj"][left[rest]],
                    prep["core_obj"][right[rest]],
                    int(self.options.get("min_suffix", 3)),
                )
            ] = 3
            out[rest] = lv
        out[(a < 0) | (b < 0)] = NULL
        return out


def _ends_with_other(a: np.ndarray, b: np.ndarray, min_len: int) -> np.ndarray:
    """Per pair: the shorter value (at least ``min_len`` characters) is the end of the longer one."""
    if len(a) == 0:
        return np.zeros(0, dtype=bool)
    sa = pd.Series(a, dtype="string")
    sb = pd.Series(b, dtype="string")
    la, lb = sa.str.len().fillna(0).to_numpy(), sb.str.len().fillna(0).to_numpy()
    short = np.where(la <= lb, a, b)
    long_ = np.where(la <= lb, b, a)
    n = np.minimum(la, lb).astype(np.int64)
    out = np.zeros(len(a), dtype=bool)
    for length in np.unique(n[n >= min_len]):  # one vectorised slice per distinct length (few lengths)
        idx = np.flatnonzero(n == length)
        tail = pd.Series(long_[idx], dtype="string").str.slice(-int(length))
        out[idx] = (tail == pd.Series(short[idx], dtype="string")).fillna(False).to_numpy()
    return out & (la != lb)
