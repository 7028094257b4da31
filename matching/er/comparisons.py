"""Comparisons (比对): for every candidate pair, one level per comparison, best level first.

A comparison turns a pair of records into a small integer — its *level* (0 = best, e.g. exact; the last level
is "everything else"; -1 = one side is missing, which carries no evidence). Scoring gives every level a
weight. All comparisons work on arrays of pairs: per-record values are prepared once (factorised codes,
parsed dates, pinyin), then indexed by the pairs' left and right positions and compared with numpy or
rapidfuzz's batch functions (``process.cpdist``); fuzzy scorers run only on pairs that are not exact.

Kinds (``COMPARISON_KINDS``):

=============== ======================================================================================
exact           equal / different (``transform``: digits, lower; ``null_values``)
string          exact, then Jaro-Winkler thresholds (``jaro_winkler``) or edit distances (``levenshtein``)
person_name     姓名: exact, homophone (same pinyin, 同音字), one character different, else
code            ID numbers, phones, credit codes: exact, one character, adjacent transposition, else
date            exact, day/month swapped, one digit, optional ``within_days``, else
address         same address code (户室), same building (楼栋), similar text, same grid (网格), else
org_name        单位名称 after removing 组织形式 and splitting 分支机构: exact, same core other branch,
                similar, related, else
numeric         equal, within ``relative`` / ``absolute`` thresholds, else
geo_distance    within ``meters`` thresholds (haversine on lon/lat), else
=============== ======================================================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import OSA, Hamming, JaroWinkler, Levenshtein

from matching.er import text
from matching.er.settings import ComparisonSpec, SettingsError

NULL = np.int8(-1)
_WORKERS = 1  # the machines are small and shared; rapidfuzz's C loop is fast enough single-threaded


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        return df[name]
    return pd.Series(pd.NA, index=df.index, dtype="string")


def _shown(v):
    """A value as a reviewer reads it: a date without its midnight time."""
    if isinstance(v, pd.Timestamp) and v == v.normalize():
        return v.date()
    return v


def _codes(s: pd.Series) -> np.ndarray:
    codes, _ = pd.factorize(text.as_string(s), use_na_sentinel=True)
    return codes.astype(np.int64)


def _exact_then_rest(
    code: np.ndarray, left: np.ndarray, right: np.ndarray, n_levels: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Levels with equal codes at 0, a missing side at NULL and the rest at the last level; the pairs still to
    grade (both present, different); the last level's index. The caller grades only those pairs."""
    a, b = code[left], code[right]
    last = n_levels - 1
    out = np.full(len(left), last, dtype=np.int8)
    out[a == b] = 0
    out[(a < 0) | (b < 0)] = NULL
    return out, np.flatnonzero((a != b) & (a >= 0) & (b >= 0)), last


def _pair_scores(scorer, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) == 0:
        return np.empty(0, dtype=np.float64)
    return process.cpdist(list(a), list(b), scorer=scorer, workers=_WORKERS)


class Comparison:
    """Base class: ``prepare`` per-record arrays once, then ``compare`` arrays of pairs into levels."""

    levels: tuple[str, ...] = ("exact", "else")

    def __init__(self, spec: ComparisonSpec):
        self.spec = spec
        self.name = spec.name
        self.options = spec.options

    # per-record preparation ------------------------------------------------------------------------------
    def prepare(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def compare(self, prep: dict[str, np.ndarray], left: np.ndarray, right: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fixed_m(self) -> dict[int, float]:
        """Levels whose m is known from the domain rather than learnt (level index → m); ``options.fixed_m``
        ({level name: m}) sets them in config."""
        named = {str(k): float(v) for k, v in (self.options.get("fixed_m") or {}).items()}
        unknown = set(named) - set(self.levels)
        if unknown:
            raise SettingsError(
                f"comparison {self.name}: fixed_m names unknown levels {sorted(unknown)}; "
                f"levels are {list(self.levels)}"
            )
        return {self.levels.index(k): v for k, v in named.items()}

    def exact_codes(self, prep: dict[str, np.ndarray]) -> np.ndarray | None:
        """Per-record codes whose equality is level 0 (for u by value frequencies and term frequencies)."""
        return prep.get("code")

    def tf_key(self, df: pd.DataFrame) -> pd.Series:
        """The values whose equality is level 0, for term-frequency counts over all mentions."""
        s = text.as_string(_col(df, self.spec.columns[0]))
        null_values = self.options.get("null_values")
        return s.mask(s.isin(list(null_values))) if null_values else s

    def display(self, df: pd.DataFrame, position: int) -> str:
        vals = [_shown(df[c].iloc[position]) if c in df.columns else None for c in self.spec.columns]
        return " / ".join(
            "∅" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v) for v in vals
        )

    # helpers ---------------------------------------------------------------------------------------------
    def _strings(self, s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        s = text.as_string(s)
        null_values = self.options.get("null_values")
        if null_values:
            s = s.mask(s.isin(list(null_values)))
        return _codes(s), text.to_object(s)


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
            sim = _pair_scores(JaroWinkler.normalized_similarity, fl, fr)
            for t in self.jw:
                lv[(lv == len(self.levels) - 1) & (sim >= t)] = level
                level += 1
        if self.lev:
            dist = _pair_scores(OSA.distance, fl, fr)
            for t in self.lev:
                lv[(lv == len(self.levels) - 1) & (dist <= t)] = level
                level += 1
        out[fuzzy] = lv
        out[(a < 0) | (b < 0)] = NULL
        return out


class PersonName(Comparison):
    """姓名: exact, homophone (同音: same tone-less pinyin), one character different, else.

    Pinyin comes from the second column (``name_pinyin``) when present, else it is derived. Pinyin is never
    the only evidence (pypinyin is wrong on some surnames such as 单, 曾): a homophone level weighs less than
    an exact one, as EM learns.
    """

    levels = ("exact", "homophone", "one_char", "else")

    def prepare(self, df):
        names = text.as_string(_col(df, self.spec.columns[0]))
        if len(self.spec.columns) > 1 and self.spec.columns[1] in df.columns:
            py = text.as_string(df[self.spec.columns[1]])
            missing = py.isna() & names.notna()
            if missing.any():
                py = py.where(~missing, text.pinyin_of(names.where(missing)))
        else:
            py = text.pinyin_of(names)
        code, obj = self._strings(names)
        return {"code": code, "obj": obj, "pinyin": _codes(text.squash(py))}

    def compare(self, prep, left, right):
        a, b = prep["code"][left], prep["code"][right]
        out = np.full(len(left), 3, dtype=np.int8)
        pa, pb = prep["pinyin"][left], prep["pinyin"][right]
        out[(pa == pb) & (pa >= 0)] = 1
        out[a == b] = 0
        rest = np.flatnonzero(out == 3)
        rest = rest[(a[rest] >= 0) & (b[rest] >= 0)]
        if len(rest):
            d = _pair_scores(Levenshtein.distance, prep["obj"][left[rest]], prep["obj"][right[rest]])
            out[rest[d <= 1]] = 2
        out[(a < 0) | (b < 0)] = NULL
        return out


class Code(Comparison):
    """Identifiers (身份证号, 手机号, 统一社会信用代码): exact, one character wrong, two neighbours swapped, else.

    ``within`` adds a level for an edit distance up to that many (e.g. 2). ``checksum`` (``resident_id``:
    GB 11643; ``credit_code``: GB 32100) adds a ``conflict`` level before ``else``: both values carry a valid
    check character and still differ — two real, different numbers, not a typo (a typo almost always breaks the
    check character). Its m is not learnt but fixed (``conflict_m``, default 1e-4: a true match whose two
    numbers are both valid and more than a typo apart): left to EM, people who share a name and a birth date
    (同名同生日) make it look common among matches, and EM then joins exactly those people.
    """

    def __init__(self, spec):
        super().__init__(spec)
        self.within = tuple(int(x) for x in self.options.get("within", []))
        self.checksum = self.options.get("checksum")
        if self.checksum not in (None, "resident_id", "credit_code"):
            raise SettingsError(
                f"comparison {self.name}: unknown checksum {self.checksum!r} (resident_id or credit_code)"
            )
        self.levels = (
            "exact",
            "one_char",
            "transposition",
            *[f"edits<={w}" for w in self.within],
            *(["conflict"] if self.checksum else []),
            "else",
        )

    def fixed_m(self):
        out = super().fixed_m()
        if self.checksum:
            out.setdefault(self.levels.index("conflict"), float(self.options.get("conflict_m", 1e-4)))
        return out

    def prepare(self, df):
        code, obj = self._strings(_col(df, self.spec.columns[0]))
        prep = {"code": code, "obj": obj}
        if self.checksum:
            prep["valid"] = _valid_codes(obj, self.checksum)
        return prep

    def compare(self, prep, left, right):
        out, rest, last = _exact_then_rest(prep["code"], left, right, len(self.levels))
        if len(rest):
            fl, fr = prep["obj"][left[rest]], prep["obj"][right[rest]]
            osa = _pair_scores(OSA.distance, fl, fr)
            ham = _pair_scores(Hamming.distance, fl, fr)  # unequal lengths: length difference counts
            lv = np.full(len(rest), last, dtype=np.int8)
            lv[(osa == 1) & (ham == 2)] = 2  # an adjacent swap: two positions differ, one edit apart
            lv[(osa == 1) & (ham != 2)] = 1
            for k, w in enumerate(self.within):
                lv[(lv == last) & (osa <= w)] = 3 + k
            if self.checksum:
                both_valid = prep["valid"][left[rest]] & prep["valid"][right[rest]]
                lv[(lv == last) & both_valid] = last - 1
            out[rest] = lv
        return out


def _valid_codes(obj: np.ndarray, kind: str) -> np.ndarray:
    """Per value: an 18-character code whose check character is right (GB 11643 or GB 32100)."""
    from matching.normalize import CREDIT_VALUE, credit_code_check_chars, resident_id_check_chars

    s = pd.Series(obj, dtype="string")
    pattern = r"\d{17}[\dX]" if kind == "resident_id" else r"[0-9A-HJ-NPQRTUWXY]{18}"
    ok = s.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)
    out = np.zeros(len(obj), dtype=bool)
    if ok.any():
        m = np.frombuffer("".join(s[ok].tolist()).encode("ascii"), dtype=np.uint8).reshape(-1, 18)
        check = (
            resident_id_check_chars(m) if kind == "resident_id" else credit_code_check_chars(CREDIT_VALUE[m])
        )
        out[ok] = check == m[:, 17]
    return out


def _date_strings(s: pd.Series) -> pd.Series:
    """Dates as 'YYYYMMDD' strings: date/datetime values are formatted, strings keep their digits."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        out = s.dt.strftime("%Y%m%d").astype("string")
    else:
        first = s.dropna().head(1)
        if isinstance(s.dtype, pd.StringDtype) or (len(first) and isinstance(first.iloc[0], str)):
            out = text.as_string(s.astype("string")).str.replace(r"\D", "", regex=True)
        else:
            out = pd.to_datetime(s, errors="coerce").dt.strftime("%Y%m%d").astype("string")
    return out.mask(out.str.len() != 8)


def one_digit_apart(a: np.ndarray, b: np.ndarray, width: int = 8) -> np.ndarray:
    """Per pair of ``width``-digit numbers (YYYYMMDD): one digit different, or two neighbouring digits swapped.

    The same as an optimal-string-alignment distance of 1 between the zero-padded digit strings, done with
    integer arithmetic: no strings, no per-pair Python objects (it runs on millions of pairs).
    """
    da = np.empty((width, len(a)), dtype=np.int8)
    db = np.empty((width, len(b)), dtype=np.int8)
    for p in range(width):
        da[p] = (a // 10**p) % 10
        db[p] = (b // 10**p) % 10
    differ = da != db
    n_diff = differ.sum(axis=0)
    swapped = np.zeros(len(a), dtype=bool)
    for p in range(width - 1):
        swapped |= differ[p] & differ[p + 1] & (da[p] == db[p + 1]) & (da[p + 1] == db[p])
    return (n_diff == 1) | ((n_diff == 2) & swapped)


class DateComparison(Comparison):
    """出生日期: exact, day and month swapped (03-04 ↔ 04-03), one digit off, ``within_days``, else."""

    def __init__(self, spec):
        super().__init__(spec)
        self.within = tuple(int(x) for x in self.options.get("within_days", []))
        self.levels = ("exact", "day_month_swap", "one_digit", *[f"within_{d}d" for d in self.within], "else")

    def prepare(self, df):
        s = _col(df, self.spec.columns[0])
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            ymd = (s.dt.year * 10000 + s.dt.month * 100 + s.dt.day).astype("float64").to_numpy()
        else:
            digits = _date_strings(s)
            ymd = pd.to_numeric(digits, errors="coerce").astype("float64").to_numpy()
        ok = ~np.isnan(ymd)
        ymd_i = np.where(ok, ymd, 0).astype(np.int64)
        code = np.where(ok, ymd_i, -1)
        days = (
            pd.to_datetime(pd.Series(np.where(ok, ymd_i, 0)).astype(str), format="%Y%m%d", errors="coerce")
            if self.within
            else None
        )
        ordinal = (
            ((days - pd.Timestamp("1900-01-01")).dt.days).astype("float64").to_numpy()
            if days is not None
            else np.full(len(ymd_i), np.nan)
        )
        return {
            "code": code,
            "y": ymd_i // 10000,
            "m": ymd_i // 100 % 100,
            "d": ymd_i % 100,
            "ordinal": ordinal,
        }

    def tf_key(self, df):
        return pd.Series(self.prepare(df)["code"], index=df.index).astype("Int64").mask(lambda x: x < 0)

    def compare(self, prep, left, right):
        out, rest, last = _exact_then_rest(prep["code"], left, right, len(self.levels))
        if len(rest):
            li, ri = left[rest], right[rest]
            swap = (
                (prep["y"][li] == prep["y"][ri])
                & (prep["m"][li] == prep["d"][ri])
                & (prep["d"][li] == prep["m"][ri])
            )
            lv = np.full(len(rest), last, dtype=np.int8)
            lv[one_digit_apart(prep["code"][li], prep["code"][ri])] = 2
            lv[swap] = 1
            if self.within:
                gap = np.abs(prep["ordinal"][li] - prep["ordinal"][ri])
                for k, w in enumerate(self.within):
                    lv[(lv == last) & (gap <= w)] = 3 + k
            out[rest] = lv
        return out


class Address(Comparison):
    """Where a record is bound (四标): same address code (户室), same building, similar text, same grid, else.

    Columns, in order: address code, building code, grid code, address text (any may be absent). Codes are
    authoritative: the text only speaks when the two address codes are not both present.
    """

    levels = ("same_address", "same_building", "similar_text", "same_grid", "else")

    def prepare(self, df):
        cols = list(self.spec.columns) + [None] * (4 - len(self.spec.columns))
        prep = {}
        for key, col in zip(("addr", "bldg", "grid", "text"), cols[:4], strict=True):
            if not col:
                s = pd.Series(pd.NA, index=df.index, dtype="string")
            else:
                s = text.squash(_col(df, col)) if key == "text" else text.as_string(_col(df, col))
            prep[key] = _codes(s)
            if key == "text":
                prep["text_obj"] = text.to_object(s)
        return prep

    def exact_codes(self, prep):
        return None

    def compare(self, prep, left, right):
        def eq(k):
            x, y = prep[k][left], prep[k][right]
            both = (x >= 0) & (y >= 0)
            return both, both & (x == y)

        addr_both, addr_eq = eq("addr")
        bldg_both, bldg_eq = eq("bldg")
        grid_both, grid_eq = eq("grid")
        text_both, text_eq = eq("text")
        text_speaks = ~addr_both & text_both
        similar = np.zeros(len(left), dtype=bool)
        cand = np.flatnonzero(text_speaks & ~text_eq)
        if len(cand):
            sim = _pair_scores(
                JaroWinkler.normalized_similarity, prep["text_obj"][left[cand]], prep["text_obj"][right[cand]]
            )
            similar[cand[sim >= float(self.options.get("text_similarity", 0.92))]] = True
        out = np.select(
            [
                addr_eq | (text_speaks & text_eq),
                bldg_eq,
                similar,
                grid_eq,
                addr_both | bldg_both | grid_both | text_both,
            ],
            [0, 1, 2, 3, 4],
            default=-1,
        ).astype(np.int8)
        return out

    def display(self, df, position):
        vals = []
        for c in self.spec.columns:
            v = df[c].iloc[position] if c in df.columns else None
            if v is not None and not (not isinstance(v, str) and pd.isna(v)):
                vals.append(f"{c}={v}")
        return ", ".join(vals) or "∅"


class OrgName(Comparison):
    """单位名称: names with 组织形式 removed and 分支机构 split off.

    Levels: same name (legal form aside), same core but another branch (a different organisation, usually),
    core similar (Jaro-Winkler ≥ 0.92, or one core ending with the other — a region or province left in
    front: 青石区人民医院 / 人民医院, 广东顺丰速运 / 顺丰速运) with the same branch, core related (≥ 0.8), else.
    Jaro-Winkler rewards shared prefixes, so a dropped prefix alone would otherwise fall to "else".
    """

    levels = ("exact", "other_branch", "similar", "related", "else")

    def tf_key(self, df):
        return text.org_name_key(_col(df, self.spec.columns[0]))

    def prepare(self, df):
        parts = text.org_name_parts(_col(df, self.spec.columns[0]))
        full = (parts["core"] + "|" + parts["branch"]).astype("string")
        return {
            "code": _codes(full),
            "core": _codes(parts["core"]),
            "branch": _codes(parts["branch"]),
            "core_obj": text.to_object(parts["core"]),
        }

    def compare(self, prep, left, right):
        a, b = prep["code"][left], prep["code"][right]
        out = np.full(len(left), 4, dtype=np.int8)
        same_branch = prep["branch"][left] == prep["branch"][right]
        same_core = prep["core"][left] == prep["core"][right]
        out[same_core & ~same_branch] = 1
        out[a == b] = 0
        rest = np.flatnonzero((out == 4) & same_branch & (a >= 0) & (b >= 0))
        if len(rest):
            sim = _pair_scores(
                JaroWinkler.normalized_similarity, prep["core_obj"][left[rest]], prep["core_obj"][right[rest]]
            )
            lv = np.full(len(rest), 4, dtype=np.int8)
            lv[sim >= float(self.options.get("related", 0.8))] = 3
            lv[sim >= float(self.options.get("similar", 0.92))] = 2
            lv[
                _ends_with_other(
                    prep["core_obj"][left[rest]],
                    prep["core_obj"][right[rest]],
                    int(self.options.get("min_suffix", 3)),
                )
            ] = 2
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


class Numeric(Comparison):
    """Numbers (建筑面积): equal, within relative / absolute thresholds, else."""

    def __init__(self, spec):
        super().__init__(spec)
        self.relative = tuple(float(x) for x in self.options.get("relative", []))
        self.absolute = tuple(float(x) for x in self.options.get("absolute", []))
        self.levels = (
            "exact",
            *[f"within_{r:g}" for r in self.relative],
            *[f"within_abs_{a:g}" for a in self.absolute],
            "else",
        )

    def prepare(self, df):
        v = pd.to_numeric(_col(df, self.spec.columns[0]), errors="coerce").astype("float64").to_numpy()
        return {"value": v}

    def exact_codes(self, prep):
        codes, _ = pd.factorize(prep["value"], use_na_sentinel=True)
        return codes.astype(np.int64)

    def compare(self, prep, left, right):
        x, y = prep["value"][left], prep["value"][right]
        last = len(self.levels) - 1
        out = np.full(len(left), last, dtype=np.int8)
        diff = np.abs(x - y)
        scale = np.maximum(np.abs(x), np.abs(y))
        level = 1
        for r in self.relative:
            out[(out == last) & (diff <= r * scale)] = level
            level += 1
        for a in self.absolute:
            out[(out == last) & (diff <= a)] = level
            level += 1
        out[diff == 0] = 0
        out[np.isnan(x) | np.isnan(y)] = NULL
        return out


class GeoDistance(Comparison):
    """Facilities (消防栓, 摄像头): great-circle distance within ``meters`` thresholds, else."""

    def __init__(self, spec):
        super().__init__(spec)
        self.meters = tuple(float(x) for x in self.options.get("meters", [10, 50, 200]))
        self.levels = (*[f"within_{m:g}m" for m in self.meters], "else")

    def prepare(self, df):
        lon = pd.to_numeric(_col(df, self.spec.columns[0]), errors="coerce").astype("float64").to_numpy()
        lat = pd.to_numeric(_col(df, self.spec.columns[1]), errors="coerce").astype("float64").to_numpy()
        return {"lon": np.radians(lon), "lat": np.radians(lat)}

    def exact_codes(self, prep):
        return None

    def compare(self, prep, left, right):
        lo1, la1, lo2, la2 = prep["lon"][left], prep["lat"][left], prep["lon"][right], prep["lat"][right]
        h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
        dist = 2 * 6_371_008.8 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))
        last = len(self.levels) - 1
        out = np.full(len(left), last, dtype=np.int8)
        for k in reversed(range(len(self.meters))):
            out[dist <= self.meters[k]] = k
        out[np.isnan(dist)] = NULL
        return out


COMPARISON_KINDS: dict[str, type[Comparison]] = {
    "exact": Exact,
    "string": String,
    "person_name": PersonName,
    "code": Code,
    "date": DateComparison,
    "address": Address,
    "org_name": OrgName,
    "numeric": Numeric,
    "geo_distance": GeoDistance,
}


def build_comparisons(specs: tuple[ComparisonSpec, ...] | list[ComparisonSpec]) -> list[Comparison]:
    """Comparison objects for a settings' specs."""
    out = []
    for spec in specs:
        try:
            out.append(COMPARISON_KINDS[spec.kind](spec))
        except KeyError:
            raise SettingsError(f"comparison {spec.name}: unknown kind {spec.kind!r}") from None
    return out


class PreparedComparisons:
    """The comparisons of one settings, prepared over one mentions frame."""

    def __init__(self, df: pd.DataFrame, specs: tuple[ComparisonSpec, ...] | list[ComparisonSpec]):
        self.df = df
        self.comparisons = build_comparisons(specs)
        self.prep = [c.prepare(df) for c in self.comparisons]

    def levels(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Level matrix (pairs × comparisons, int8; -1 = missing on a side)."""
        out = np.empty((len(left), len(self.comparisons)), dtype=np.int8)
        for k, (c, p) in enumerate(zip(self.comparisons, self.prep, strict=True)):
            out[:, k] = c.compare(p, left, right)
        return out
