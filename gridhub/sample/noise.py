"""Realistic noise for the department feeds, deterministic for a seed.

Every function takes the true value and returns the value as a department would have keyed it, plus the
names of the noise kinds applied (they are logged to ``truth/noise.csv`` so accuracy can be broken down by
kind). Rates live in :class:`Profile`: the police feed (公安) is the cleanest, the others are messier. The
kinds and rates are documented in ``docs/sample-district.md``.

Random draws come from :class:`gridhub.sample.draws.Draws`, a buffered stream over a seeded Generator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import opencc

from gridhub.sample import names as N
from gridhub.sample.codes import ID_CHECK, legacy_id
from gridhub.sample.draws import Draws

_S2T = opencc.OpenCC("s2t")
_FULLWIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})
_CN_DIGITS = "零一二三四五六七八九"
#: How the middle dot of a minority name (阿依古丽·买买提) arrives: other dots, a space, nothing, a hyphen.
DOT_VARIANTS = ("•", "．", "・", "  ", "", "-", " · ")
BUILDING_WORDS = ("幢", "号楼", "座")
#: How a community's residents' committee is written (湖滨 → 湖滨居委会 …, 石岭 → 石岭村委会 …).
URBAN_COMMITTEE = ("{s}居委会", "{s}居委", "{s}社区居委会", "{s}社区居民委员会")
RURAL_COMMITTEE = ("{s}村委会", "{s}村民委员会", "{s}村村委会", "{s}村村民委员会")
#: Common date forms outside a feed's declared ``date_formats`` (1985.03.05, 1985年3月5日, 19850305, and a
#: spreadsheet's datetime 1985-03-05 00:00:00): a feed carries the ones it does not declare.
OTHER_DATE_FORMS = ("%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d", "%Y-%m-%d 00:00:00")


@dataclass(frozen=True)
class Profile:
    """Noise rates of one feed (each a probability per value)."""

    drop_upper: float = 0.35  # no 省/市/区
    drop_street: float = 0.12  # ... and no 街道/镇 either
    drop_community: float = 0.05  # ... and no 社区/村 either (road / estate only)
    community_short: float = 0.03  # 湖滨社区 → 湖滨 (name only)
    community_committee: float = (
        0.04  # 湖滨社区 → 湖滨居委会 / 湖滨居委 / 湖滨社区居委会, 石岭村 → 石岭村委会 …
    )
    community_omitted: float = 0.02  # 东湖街道滨江路18号… (street kept, community left out)
    road_typo: float = 0.015  # of addresses with a road: 滨江路 → 宾江路 (one homophone character)
    estate_insert: float = 0.3  # of addresses in an estate the library leaves unnamed: …11号桂园小区3栋…
    cn_numerals: float = 0.06  # 18号 → 十八号, 3栋 → 三栋, 2单元 → 二单元, 3组 → 三组
    building_word: float = 0.20  # 栋 → 幢 / 号楼 / 座
    room_form: float = 0.30  # 501室 → 501 / 501房 / 5楼501 / 2-501 / 2单元501
    group_form: float = 0.30  # 3组 → 第三村民小组 / 三组 / 第3组
    drop_estate: float = 0.08
    drop_road: float = 0.08
    fullwidth: float = 0.05  # ASCII digits → full-width
    traditional: float = 0.04  # 繁体 (OpenCC s2t)
    spaces: float = 0.04  # stray spaces
    name_homophone: float = 0.03  # 张伟 → 张玮
    name_traditional: float = 0.03
    name_space: float = 0.02  # 张 伟
    dot_variant: float = 0.6  # of minority names with a middle dot
    id_missing: float = 0.03
    id_bad_check: float = 0.01
    id_missing_minor: float = 0.15  # a child under 16 (no ID card yet) listed without the ID number
    id_typo: float = 0.005  # one digit keyed wrong or two adjacent digits swapped (the check digit fails)
    id_legacy15: float = 0.03  # of persons born before 1985
    id_lower_x: float = 0.4  # of IDs ending in X
    id_fullwidth: float = 0.01
    phone_format: float = 0.30  # +86 / spaces / dashes
    phone_missing: float = 0.05
    household_phone_minor: float = 0.8  # a minor recorded with a parent's phone
    household_phone_elder: float = 0.5  # someone aged 70+ recorded with an adult child's phone
    date_variant: float = 0.12  # another of the feed's date formats
    date_other: float = 0.02  # a common form the feed does not declare (OTHER_DATE_FORMS)
    org_form: float = 0.10  # 有限公司 ↔ 有限责任公司
    org_brackets: float = 0.5  # of names with brackets: （） ↔ ()
    org_drop_city: float = 0.12  # 云江市恒通科技有限公司 → 恒通科技有限公司
    org_traditional: float = 0.03
    # 云江市恒通科技有限公司 → 云江恒通科技有限公司: the city / district written without its suffix (drawn from the
    # builder's late stream, so every other value of the sample stays as it was)
    org_bare_region: float = 0.05
    credit_missing: float = 0.08  # an employer written by name only
    org_code_legacy: float = 0.04  # the old 9-character 组织机构代码 instead (half as 12345678-9)
    owner_code_missing: float = 0.15  # a company owner (住建) without its credit code
    area_unit: float = 0.05  # 建筑面积 written with its unit (89.56㎡, 89.56平方米)


#: 公安: authoritative and mostly standard; old records keep 15-digit IDs.
POLICE = Profile(
    drop_upper=0.12,
    drop_street=0.03,
    drop_community=0.0,
    community_short=0.015,
    community_committee=0.025,
    community_omitted=0.01,
    road_typo=0.012,
    estate_insert=0.2,
    cn_numerals=0.01,
    building_word=0.05,
    room_form=0.08,
    group_form=0.08,
    drop_estate=0.02,
    drop_road=0.02,
    fullwidth=0.01,
    traditional=0.005,
    spaces=0.01,
    name_homophone=0.003,
    name_traditional=0.003,
    name_space=0.005,
    dot_variant=0.2,
    id_missing=0.0,
    id_bad_check=0.002,
    id_typo=0.001,
    id_missing_minor=0.0,
    id_legacy15=0.04,
    phone_format=0.08,
    phone_missing=0.03,
    household_phone_minor=0.5,
    household_phone_elder=0.3,
    date_variant=0.0,
    date_other=0.01,
)
#: 民政 / 人社 / 住建 / 市场监管 / 应急管理: keyed by hand in district offices.
DEPARTMENT = Profile()
#: 市场监管: registration data, fairly clean addresses but the names vary.
MARKET = Profile(
    drop_upper=0.25,
    drop_street=0.05,
    drop_community=0.02,
    room_form=0.15,
    traditional=0.02,
    org_form=0.0,
    org_drop_city=0.0,
    org_bare_region=0.0,
    org_traditional=0.01,
    id_legacy15=0.0,  # legal representatives' IDs: registration data since 2014, always 18 digits
    id_typo=0.02,
)


def cn_number(n: int) -> str:
    """Chinese numeral for 0 ≤ n < 10,000 as written on house plates (十八, 二十五, 一百零三)."""
    if n < 10:
        return _CN_DIGITS[n]
    if n < 20:
        return "十" + (_CN_DIGITS[n % 10] if n % 10 else "")
    out, zero = "", False
    for value, word in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d:
            if zero and out:
                out += "零"
            out += _CN_DIGITS[d] + word
            zero = False
        else:
            zero = True
    return out


def _num(d: Draws, digits: str, p: Profile, kinds: list[str]) -> str:
    if digits and d.hit(p.cn_numerals):
        kinds.append("cn_numerals")
        return cn_number(int(digits))
    return digits


def _whole_text(d: Draws, text: str, p: Profile, kinds: list[str]) -> str:
    if d.hit(p.fullwidth):
        text = text.translate(_FULLWIDTH)
        kinds.append("fullwidth")
    if d.hit(p.traditional):
        text = _S2T.convert(text)
        kinds.append("traditional")
    if d.hit(p.spaces) and len(text) > 4:
        cut = d.integer(2, len(text) - 1)
        text = text[:cut] + d.pick((" ", "  ", "\u3000")) + text[cut:]
        kinds.append("spaces")
    return text


def _community(d: Draws, a: dict, p: Profile, kinds: list[str], street: str) -> str:
    """The community (社区 / 村) as written: its name, the name only, a committee form, or left out between
    the street and the road (only where the street is written, and never a village: 石岭镇2组33号 could be a
    house of any village of the town)."""
    u = d.u()
    if u < p.community_short:
        kinds.append("community_short")
        return a["community_short"]
    if u < p.community_short + p.community_committee:
        kinds.append("community_committee")
        forms = RURAL_COMMITTEE if a["rural"] else URBAN_COMMITTEE
        return d.pick(forms).format(s=a["community_short"])
    if street and not a["rural"] and u < p.community_short + p.community_committee + p.community_omitted:
        kinds.append("community_omitted")
        return ""
    return a["community"]


def _room(d: Draws, a: dict, p: Profile, kinds: list[str]) -> str:
    unit, room, floor = a["unit"], a["room"], a["floor"]
    if not room:
        return ""
    if d.hit(p.room_form):
        kinds.append("room_form")
        forms = (
            ("{u}单元{r}", "{u}单元{r}房", "{u}单元{f}楼{r}", "{u}-{r}")
            if unit
            else ("{r}", "{r}房", "{f}楼{r}", "{f}层{r}室")
        )
        return d.pick(forms).format(u=unit, r=room, f=floor)
    return (f"{_num(d, unit, p, kinds)}单元" if unit else "") + f"{room}室"


def _urban_detail(d: Draws, a: dict, p: Profile, kinds: list[str], typos: Mapping[str, Sequence[str]]) -> str:
    """路-号-小区-栋-单元-室 as written: road or estate dropped, road mistyped, an unlisted estate named."""
    road, estate = a["road"], a["estate"]
    if road and estate and a["building"] and d.hit(p.drop_road):
        road = ""
        kinds.append("drop_road")
    elif estate and a["building"] and d.hit(p.drop_estate):
        estate = ""
        kinds.append("drop_estate")
    elif a.get("estate_alias") and d.hit(p.estate_insert):
        estate = a["estate_alias"] + ("" if a["estate_alias"].endswith("小区") else d.pick(("", "小区")))
        kinds.append("estate_inserted")
    if road in typos and d.hit(p.road_typo):
        road = d.pick(typos[road])
        kinds.append("road_typo")
    detail = f"{road}{_num(d, a['house_number'], p, kinds)}号" if road else ""
    detail += estate
    if a["building"]:
        word = "栋"
        if d.hit(p.building_word):
            word = d.pick(BUILDING_WORDS)
            kinds.append("building_word")
        detail += f"{_num(d, a['building'], p, kinds)}{word}"
    return detail + _room(d, a, p, kinds)


def address(
    d: Draws, a: dict, p: Profile, typos: Mapping[str, Sequence[str]] | None = None
) -> tuple[str, list[str]]:
    """An address row of the library written as a department would (see :class:`Profile` for the kinds).

    ``typos``: road → its homophone typos (:func:`gridhub.sample.typos.road_typos`); no road typos without it.
    """
    kinds: list[str] = []
    upper = f"{a['province']}{a['city']}{a['district']}"
    street, community = a["street"], a["community"]
    if d.hit(p.drop_upper):
        kinds.append("drop_upper")
        upper = ""
        if d.hit(p.drop_street / max(p.drop_upper, 1e-9)):
            street = ""
            kinds.append("drop_street")
            # a village is never left out: 2组39号 alone names a house in every village of the district
            if d.hit(p.drop_community / max(p.drop_street, 1e-9)) and not a["rural"]:
                community = ""
                kinds.append("drop_community")
    if community:
        community = _community(d, a, p, kinds, street)
    if a["villager_group"]:
        g = a["villager_group"]
        if d.hit(p.group_form):
            form = d.pick(("第{cn}村民小组", "{cn}组", "第{g}组", "第{g}村民小组"))
            group = form.format(cn=cn_number(int(g)), g=g)
            kinds.append("group_form")
        else:
            group = f"{g}组"
        detail = f"{group}{_num(d, a['house_number'], p, kinds)}号"
    else:
        detail = _urban_detail(d, a, p, kinds, typos or {})
    text = upper + street + community + detail
    return _whole_text(d, text, p, kinds), kinds


def name(d: Draws, true_name: str, p: Profile) -> tuple[str, list[str]]:
    """A person's name as keyed: homophone typos, 繁体, stray spaces, middle-dot variants."""
    kinds: list[str] = []
    out = true_name
    if "·" in out:
        if d.hit(p.dot_variant):
            out = out.replace("·", d.pick(DOT_VARIANTS))
            kinds.append("dot_variant")
        return out, kinds
    if d.hit(p.name_homophone):
        positions = [i for i in range(1, len(out)) if out[i] in N.HOMOPHONES]
        if positions:
            i = d.pick(positions)
            out = out[:i] + N.HOMOPHONES[out[i]] + out[i + 1 :]
            kinds.append("homophone")
    if d.hit(p.name_traditional):
        t = _S2T.convert(out)
        if t != out:
            out = t
            kinds.append("traditional")
    if d.hit(p.name_space) and len(out) >= 2:
        out = out[0] + d.pick((" ", "  ", "\u3000")) + out[1:]
        kinds.append("spaces")
    return out, kinds


def resident_id(d: Draws, id18: str, born: str, p: Profile) -> tuple[str, list[str]]:
    """An ID as keyed: missing, 15-digit legacy form, lower-case x, a wrong check digit, full-width."""
    if d.hit(p.id_missing):
        return "", ["id_missing"]
    if born < "1985-01-01" and d.hit(p.id_legacy15):
        return legacy_id(id18), ["id_legacy15"]
    if d.hit(p.id_bad_check):
        wrong = [c for c in ID_CHECK if c != id18[-1]]
        return id18[:-1] + d.pick(wrong), ["id_bad_check"]
    if d.hit(p.id_typo):
        return id_typo(d, id18), ["id_typo"]
    kinds = []
    out = id18
    if out.endswith("X") and d.hit(p.id_lower_x):
        out = out[:-1] + "x"
        kinds.append("id_lower_x")
    if d.hit(p.id_fullwidth):
        out = out.translate(_FULLWIDTH)
        kinds.append("fullwidth")
    return out, kinds


def id_typo(d: Draws, id18: str) -> str:
    """One slip of the keyboard in an ID's first 17 digits: a digit changed, or two adjacent digits swapped
    (GB 11643's check digit catches both, so the result is never a valid ID)."""
    i = d.integer(0, 16)
    if id18[i] != id18[i + 1] and d.hit(0.5):
        return id18[:i] + id18[i + 1] + id18[i] + id18[i + 2 :]
    other = d.pick([c for c in "0123456789" if c != id18[i]])
    return id18[:i] + other + id18[i + 1 :]


def employer_code(d: Draws, credit: str, p: Profile) -> tuple[str, list[str]]:
    """The employer's code in a 人社 row: the credit code, nothing, or the old 9-character 组织机构代码 (the
    credit code's characters 9–17), half of those written 12345678-9."""
    u = d.u()
    if u < p.credit_missing:
        return "", ["credit_missing"]
    if u < p.credit_missing + p.org_code_legacy:
        old = credit[8:17]
        return (old[:8] + "-" + old[8] if d.hit(0.5) else old), ["org_code_legacy"]
    return credit, []


def area(d: Draws, value: float, p: Profile) -> tuple[str, list[str]]:
    """A floor area as keyed: 89.5, or with its unit (89.56㎡, 89.56平方米, 89.56m²)."""
    if not d.hit(p.area_unit):
        return f"{value:.1f}", []
    return f"{value:.2f}" + d.pick(("㎡", "㎡", "平方米", "m²")), ["area_unit"]


def phone(d: Draws, number: str, p: Profile) -> tuple[str, list[str]]:
    """A phone number as keyed: +86, spaces, dashes; landlines with brackets or without the dash."""
    if not number:
        return "", []
    if d.hit(p.phone_missing):
        return "", ["phone_missing"]
    if not d.hit(p.phone_format):
        return number, []
    if number.startswith("0"):
        area, local = number.split("-")
        return d.pick((f"({area}){local}", f"{area}{local}", f"{area} {local}", f"+86-{area[1:]}-{local}")), [
            "phone_format"
        ]
    a, b, c = number[:3], number[3:7], number[7:]
    return d.pick((f"+86{number}", f"+86 {a} {b} {c}", f"{a}-{b}-{c}", f"{a} {b} {c}", f"86-{number}")), [
        "phone_format"
    ]


def date(d: Draws, iso: str, base: str, variants: Sequence[str], p: Profile) -> tuple[str, list[str]]:
    """An ISO date written in the feed's format ``base``, sometimes in one of its other declared formats
    (``variants``), and sometimes in a common form the feed does not declare (:data:`OTHER_DATE_FORMS`)."""
    y, m, day = iso.split("-")
    fmt, kinds = base, []
    others = [f for f in OTHER_DATE_FORMS if f != base and f not in variants]
    if others and d.hit(p.date_other):
        fmt = d.pick(others)
        kinds.append("date_other_form")
    elif variants and d.hit(p.date_variant):
        fmt = d.pick(variants)
        kinds.append("date_format")
    if fmt == "%Y年%m月%d日" and d.hit(0.5):
        return f"{y}年{int(m)}月{int(day)}日", kinds  # 1985年3月5日, unpadded, as often written
    return fmt.replace("%Y", y).replace("%m", m).replace("%d", day), kinds


#: Leading regions as written with and without their suffix (``org_bare_region``), the longest first.
BARE_REGIONS = (
    (N.CITY[1] + N.DISTRICT[1], N.CITY[2] + N.DISTRICT[2]),
    (N.CITY[1], N.CITY[2]),
    (N.DISTRICT[1], N.DISTRICT[2]),
)


def org_name(d: Draws, true_name: str, p: Profile, late: Draws | None = None) -> tuple[str, list[str]]:
    """An organisation name as keyed: 有限公司 ↔ 有限责任公司, （） ↔ (), no city prefix, the city or district
    without its suffix (云江恒通科技, from ``late``: a stream of its own), 繁体."""
    kinds: list[str] = []
    out = true_name
    if d.hit(p.org_form):
        if "有限责任公司" in out:
            out = out.replace("有限责任公司", "有限公司")
            kinds.append("org_form")
        elif out.endswith("有限公司"):
            out = out.removesuffix("有限公司") + "有限责任公司"
            kinds.append("org_form")
    if "（" in out and d.hit(p.org_brackets):
        out = out.replace("（", "(").replace("）", ")")
        kinds.append("org_brackets")
    if d.hit(p.org_drop_city):
        for prefix in ("云江市青石区", "云江市", "青石区", "广东"):
            if out.startswith(prefix) and len(out) > len(prefix) + 4:
                out = out.removeprefix(prefix)
                kinds.append("org_drop_city")
                break
    if late is not None and late.hit(p.org_bare_region):
        for full, bare in BARE_REGIONS:
            if out.startswith(full):
                out = bare + out.removeprefix(full)
                kinds.append("org_bare_region")
                break
    if d.hit(p.org_traditional):
        t = _S2T.convert(out)
        if t != out:
            out = t
            kinds.append("traditional")
    return out, kinds
