"""Small text helpers the engine needs: surnames, organisation-name parts, digits, pinyin fallback.

The project's normalisers (``matching.normalize`` / ``matching.text``) turn raw feed values into mentions;
by the time values reach the engine they are simplified, half-width and trimmed. These helpers only derive
keys from such values, vectorised over pandas string columns.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from matching.normalize import name_pinyin

# 复姓: two-character surnames common enough to matter for a surname key. Not matching.normalize's
# SURNAME_PINYIN on purpose: that table lists the surnames pypinyin misreads (单, 曾, 尉迟 ...) for the pinyin
# key, most of them one character; this one lists the two-character surnames that the 姓 blocking key must not
# cut after their first character (欧阳 is read right by pypinyin, yet 欧 alone is another surname).
COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "令狐",
    "长孙",
    "宇文",
    "司徒",
    "夏侯",
    "轩辕",
    "端木",
    "独孤",
    "南宫",
    "西门",
    "呼延",
    "闻人",
    "申屠",
    "澹台",
    "公冶",
    "太史",
    "钟离",
    "赫连",
    "万俟",
)

# 组织形式 (legal forms), longest first so that 股份有限公司 wins over 有限公司.
LEGAL_FORMS = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团公司",
    "合伙企业",
    "个人独资企业",
    "专业合作社",
    "合作社",
    "个体工商户",
    "公司",
    "厂",
    "商行",
    "工作室",
    "中心",
    "经营部",
    "门市部",
)
# the forms that end the registered name; what follows them is a branch (weak words such as 厂, 中心 are not)
SPLITTING_FORMS = LEGAL_FORMS[:10]
# a bracketed region or note: 华兴科技（深圳）有限公司, XX（普通合伙）
_BRACKETED = re.compile(r"[(（][^()（）]{1,6}[)）]")
# a leading region, 省 / 市 / 区 / 县 / 镇 / 街道 in any combination (浙江省明州市江澜区长乐街道侯氏面馆, 江澜区侯氏面馆,
# 明州市侯氏面馆 and 侯氏面馆 share the core 侯氏面馆): registrations write the region or leave it out, it is no
# part of the organisation's identity. A name ending like a region that is not one (华联超市, 阳光社区, 物流园区,
# 古镇, 家乡) is kept, and so are the last two characters of the name.
_REGION_UNIT = (
    r"(?:[\u4e00-\u9fff]{2,7}?(?:省|自治区|市|自治州|地区|盟|街道|镇|乡)"
    r"|[\u4e00-\u9fff]{1,6}?(?:区|县|旗))"
    r"(?<!超市|城市|都市|门市|夜市|菜市|早市|花市|集市|股市|书市|小区|园区|社区|校区|景区|厂区|矿区|林区|街区|营区|病区)"
    r"(?<!古镇|小镇|城镇|家乡|故乡|老乡|水乡|同乡|城乡)(?<!商业区|工业区|住宅区|生活区|风景区)"
    r"(?![场域级长委])"
)
_REGION_PREFIX = re.compile(r"^(?:" + _REGION_UNIT + r")+(?=.{2,})")
# a division's name without its suffix (明州市 → 明州, 江澜区 → 江澜, 长乐街道 → 长乐), longest suffix first
_DIVISION_SUFFIX = re.compile(r"(?:特别行政区|自治区|自治州|自治县|地区|街道|新区|省|市|区|县|旗|盟|镇|乡)$")
#: what may follow a bare division name in an organisation name for it to be one: not a road or a village
#: named after the division (长乐路, 长乐村 are places, not 长乐街道)
_NOT_AFTER_BARE = "路街道巷弄村里桥"
#: the characters a name must keep before its legal form once a bare division name is set aside
#: (江澜宏远贸易有限公司 → 宏远贸易, kept; 中山大学, 和平饭店, 光明乳业有限公司 keep their names)
MIN_CORE_AFTER_BARE = 4
_BRACKETS = re.compile(r"[()（）\[\]【】〔〕<>《》\s·.,，、\-—_]")
_NON_DIGITS = re.compile(r"\D+")


def as_string(s: pd.Series) -> pd.Series:
    """A nullable string column; empty strings count as missing."""
    if not isinstance(s.dtype, pd.StringDtype):
        s = s.astype("string")
    return s.mask(s.str.len() == 0)


def to_object(s: pd.Series) -> np.ndarray:
    """Values as a numpy object array with ``None`` for missing (what rapidfuzz batch functions take)."""
    return as_string(s).to_numpy(dtype=object, na_value=None)


def surname(names: pd.Series) -> pd.Series:
    """姓: the compound surname where one is present, else the first character."""
    s = as_string(names)
    two = s.str.slice(0, 2)
    return two.where(two.isin(COMPOUND_SURNAMES), s.str.slice(0, 1)).astype("string")


def digits(s: pd.Series) -> pd.Series:
    """The digits of a value in order, groups joined by '-' ('幸福路12号3栋501' → '12-3-501')."""
    out = as_string(s).str.replace(_NON_DIGITS, "-", regex=True).str.strip("-")
    return out.mask(out.str.len() == 0)


def org_name_parts(names: pd.Series, regions: tuple[tuple[str, ...], ...] = ()) -> pd.DataFrame:
    """Split organisation names into ``core`` (字号 and region), ``form`` (组织形式) and ``branch`` (分支).

    ``深圳市华兴科技有限公司南山分公司`` → core ``华兴科技``, form ``有限公司``, branch ``南山分公司``;
    ``华兴科技（深圳）有限责任公司`` → core ``华兴科技``, form ``有限责任公司``, branch ``""``. The region (a
    leading 省/市, a bracketed city) is dropped: registrations write it either way; with ``regions`` (the city's
    divisions, :func:`regions_written_out`) also where it is written without its suffix (江澜宏远 → 宏远).
    """
    if regions:
        names = regions_written_out(names, regions)
    s = as_string(names).str.replace(_BRACKETED, "", regex=True).str.replace(_BRACKETS, "", regex=True)
    s = s.str.replace(_REGION_PREFIX, "", regex=True)
    s = s.map(lambda v: unicodedata.normalize("NFKC", v) if isinstance(v, str) else v).astype("string")
    # split at the last legal form: what follows it is a branch name
    # the first legal form splits the name (lazy core): 有限公司 at 有 comes before 公司 at 公
    m = s.str.extract(r"^(?P<core>.+?)(?P<form>" + "|".join(SPLITTING_FORMS) + r")(?P<branch>.*)$")
    no_form = m["core"].isna() & s.notna()
    core = m["core"].astype("string")
    branch = m["branch"].astype("string")
    form = m["form"].astype("string")
    # no legal form: a trailing branch word still marks a branch (XX超市南山店)
    nb = s[no_form].str.extract(
        r"^(?P<core>.*?)(?P<branch>[^市区县省]{1,6}(?:分公司|分店|分部|营业部|分行|支行|门店|分厂|办事处))$"
    )
    core = core.where(~no_form, nb["core"].reindex(s.index).fillna(s))
    branch = branch.where(~no_form, nb["branch"].reindex(s.index).fillna(""))
    form = form.where(~no_form, "")
    branch = branch.where(branch.str.len() > 0, "")
    # a core that is empty (the whole name was a legal form) falls back to the name
    core = core.where(core.str.len() > 0, s)
    return pd.DataFrame(
        {"core": core.astype("string"), "form": form.astype("string"), "branch": branch.astype("string")},
        index=names.index,
    )


def division_forms(regions: tuple[tuple[str, ...], ...]) -> dict[str, str]:
    """Each way a division is written → its name: the name itself (江澜区), without its suffix (江澜, two
    characters or more) and its aliases. ``regions``: per division its name and aliases, as the city's
    reference data writes them. A form two divisions share goes to the first (明州 of 明州市, not of 明州区)."""
    forms: dict[str, str] = {}
    for division in regions:
        names = [unicodedata.normalize("NFKC", n).strip() for n in division if n and n.strip()]
        if not names:
            continue
        full = names[0]
        forms.setdefault(full, full)
        for form in (_DIVISION_SUFFIX.sub("", full), *names[1:]):
            if len(form) >= 2:
                forms.setdefault(form, full)
    return forms


def regions_written_out(names: pd.Series, regions: tuple[tuple[str, ...], ...]) -> pd.Series:
    """Organisation names with a leading division written without its suffix written with it: 江澜宏远贸易有限公司 →
    江澜区宏远贸易有限公司, 明州江澜宏远… → 明州市江澜区宏远…, so that :func:`org_name_parts` sets the region aside
    as it does when the suffix is written. Only the cores read it: the name as registered (``same_name``,
    :func:`org_full_name`) stays as written, so 明州明达物业 and 明州市明达物业 remain two registered names.

    Only the city's own divisions (``regions``, see :func:`division_forms`), only at the start, only a whole
    name, never before 路 / 街 / 村 … (长乐路 is a road), and only where at least :data:`MIN_CORE_AFTER_BARE`
    characters are left before the legal form: a two-character division name is often an ordinary word too
    (中山, 光明, 和平), and 中山大学 or 光明乳业有限公司 keep their names."""
    forms = division_forms(regions)
    if not forms:
        return names
    pattern = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))
    s = as_string(names)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    out = [str(v) for v in uniques]
    found = {i: hit for i, v in enumerate(out) if (hit := _leading_divisions(v, pattern, forms))}
    if found:  # the cores left, in one pass: only where a bare division name was read
        rests = pd.Series([rest for _, rest in found.values()], dtype="string")
        cores = org_name_parts(rests)["core"].str.len().fillna(0).to_numpy()
        for (i, (written, rest)), n in zip(found.items(), cores, strict=True):
            if n >= MIN_CORE_AFTER_BARE:
                out[i] = written + rest
    values = np.array([*out, None], dtype=object)
    return pd.Series(values[np.where(codes < 0, len(out), codes)], index=names.index, dtype="string")


def _leading_divisions(name: str, pattern: re.Pattern, forms: dict[str, str]) -> tuple[str, str] | None:
    """The divisions leading ``name`` written with their suffix, and the rest; None unless one of them is written
    without it (a bare name, or an alias)."""
    pos, parts, bare = 0, [], False
    while m := pattern.match(name, pos):
        form = m.group()
        if forms[form] != form:
            if name[m.end() : m.end() + 1] in tuple(_NOT_AFTER_BARE):
                break
            bare = True
        parts.append(forms[form])
        pos = m.end()
    return ("".join(parts), name[pos:]) if bare else None


def org_full_name(names: pd.Series) -> pd.Series:
    """Organisation name as registered, written-style aside: width (NFKC), brackets, spaces and punctuation
    removed, the legal form and the region kept. ``安达（云江）企业管理咨询有限公司`` and ``安达(云江)企业管理咨询有限公司``
    are one name; ``云江市安达企业管理咨询有限公司`` and ``…有限责任公司`` are two registered names (namesakes)."""
    s = as_string(names).map(lambda v: unicodedata.normalize("NFKC", v) if isinstance(v, str) else v)
    return as_string(s.astype("string").str.replace(_BRACKETS, "", regex=True))


def org_core(names: pd.Series, regions: tuple[tuple[str, ...], ...] = ()) -> pd.Series:
    """Organisation name without legal form, branch and region: the blocking key for 单位."""
    parts = org_name_parts(names, regions)
    return parts["core"].where(parts["core"].notna())


def org_name_key(names: pd.Series, regions: tuple[tuple[str, ...], ...] = ()) -> pd.Series:
    """Organisation name with legal form and region removed but branch kept: 'same organisation' when equal."""
    parts = org_name_parts(names, regions)
    return (parts["core"] + "|" + parts["branch"]).astype("string")


def pinyin_of(names: pd.Series) -> pd.Series:
    """Tone-less pinyin of names, for when mentions come without ``name_pinyin``.

    The same key the mentions carry: :func:`matching.normalize.name_pinyin` (over the distinct values, with
    the surname readings of polyphone surnames).
    """
    return as_string(name_pinyin(as_string(names)))


def squash(s: pd.Series) -> pd.Series:
    """Lower-case, without spaces: 'Zhang Wei' and 'zhangwei' compare equal."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(as_string(s), type=pa.large_string())
    arr = pc.replace_substring_regex(pc.utf8_lower(arr), r"\s+", "")
    out = pd.Series(arr.to_numpy(zero_copy_only=False), index=s.index, dtype="string")
    return out.mask(out.str.len() == 0)
