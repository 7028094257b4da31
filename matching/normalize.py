"""Field normalisers for department feeds (字段规范化), vectorised over columns.

Every normaliser takes a pandas Series as staged (text as the department wrote it) and returns aligned
columns: the normalised value, whether it is valid, and where it is not, why. Nothing is dropped silently:
an invalid value keeps its row, gets ``*_valid = False`` and a reason; a missing value gets ``*_valid = <NA>``
(so callers can tell "not given" from "given but wrong").

- 公民身份号码 (GB 11643-1999): check digit, 15→18 upgrade, lower-case ``x``, full-width digits; birth date and
  sex derived from the number and cross-checked against the feed's own fields.
- 统一社会信用代码 (GB 32100-2015): check character, organisation type from the first two characters.
- 姓名: 繁→简, full/half width, stray spaces, the middle dot of minority names (阿依古丽·买买提); pinyin key.
- 电话: mobile (11 digits) and landline with area code (``0571-88001234``), ``+86`` / ``0086`` stripped.
- 日期: the formats departments use, full-width digits and Chinese numerals (二〇二三年五月一日) included.

Check digits are computed with numpy over the distinct values (feeds repeat values a lot), not per row. The
check-character algorithms are written once, in the leaf module :mod:`warehouse.checkchars`; they are
re-exported here for the normalisers' callers.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from matching.text import (
    arrow_to_series,
    as_string_array,
    convert_numerals_before,
    map_distinct,
    normalize_text,
)
from warehouse.checkchars import (
    CREDIT_CHARSET_BYTES,
    CREDIT_VALUE,
    credit_code_check_chars,
    organisation_code_check_chars,
    resident_id_check_chars,
)
from warehouse.reasons import ReasonCode

log = logging.getLogger(__name__)

DATE = pd.ArrowDtype(pa.date32())

# ----------------------------------------------------------------------------------------------------------
# Resident ID (公民身份号码, GB 11643-1999)
# ----------------------------------------------------------------------------------------------------------
#: Province-level prefixes of GB/T 2260 (plus 81/82/83 used by 港澳台居民居住证). A number outside them is
#: malformed; the full 6-digit area code is not checked, because retired codes stay in old IDs.
ID_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    ]
)
EARLIEST_BIRTH = dt.date(1890, 1, 1)


def _digits_matrix(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) matrix of the ASCII codes of ``n`` strings that all have length ``width``."""
    if len(values) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    buf = "".join(values.tolist()).encode("ascii")
    return np.frombuffer(buf, dtype=np.uint8).reshape(len(values), width)


def _clean_code(s: pd.Series) -> pd.Series:
    """normalize_text, upper-case, separators and an Excel leading apostrophe removed."""
    t = normalize_text(s)
    arr = as_string_array(t)
    arr = pc.replace_substring_regex(arr, r"[\s\-_.'’‘\"/]", "")
    arr = pc.utf8_upper(arr)
    out = arrow_to_series(arr, s.index)
    return out.mask(out.str.len() == 0)


def normalize_resident_ids(
    s: pd.Series,
    birth_date: pd.Series | None = None,
    sex: pd.Series | None = None,
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """Validate and normalise resident ID numbers (身份证号).

    Returns a frame aligned to ``s`` with:

    - ``id_number``: the 18-character number (upper-case ``X``; 15-digit numbers upgraded), NA when invalid;
    - ``id_valid``: True / False, NA when nothing was given;
    - ``id_reason``: :class:`~warehouse.reasons.ReasonCode` ``invalid_id_number`` where invalid, else NA;
    - ``id_problem``: what exactly is wrong (``format``, ``province``, ``birth_date``, ``check_digit``);
    - ``id_birth_date`` (date) and ``id_sex`` (``M`` odd / ``F`` even sequence digit), from the number;
    - ``id_upgraded``: the number was given in the legacy 15-digit form.

    When the feed's own ``birth_date`` / ``sex`` (M/F) are given, ``id_birth_mismatch`` / ``id_sex_mismatch``
    say whether they disagree with the number (NA where either side is missing). Birth dates after ``as_of``
    (default: today) or before 1890 make the number invalid.
    """
    as_of = as_of or dt.date.today()
    clean = _clean_code(s)
    codes, uniques = pd.factorize(clean, use_na_sentinel=True)
    u = np.asarray(pd.Series(uniques, dtype="string").to_numpy(dtype=object, na_value=""), dtype=object)
    n = len(u)
    text = pd.Series(u, dtype="string")
    is18 = text.str.fullmatch(r"\d{17}[\dX]").fillna(False).to_numpy(dtype=bool)
    is15 = text.str.fullmatch(r"\d{15}").fillna(False).to_numpy(dtype=bool)
    body = np.full(n, "0" * 17, dtype=object)
    body[is18] = text[is18].str.slice(0, 17).to_numpy(dtype=object)
    body[is15] = (text[is15].str.slice(0, 6) + "19" + text[is15].str.slice(6, 15)).to_numpy(dtype=object)
    well_formed = is18 | is15

    body_m = _digits_matrix(body, 17)
    check = resident_id_check_chars(body_m).view("S1").astype("U1").astype(object)
    given_check = np.where(is18, text.str.slice(17, 18).fillna("").to_numpy(dtype=object), check)
    check_ok = given_check == check

    body_s = pd.Series(body, dtype="string")
    province_ok = body_s.str.slice(0, 2).isin(ID_PROVINCES).to_numpy(dtype=bool)
    birth = pd.to_datetime(body_s.str.slice(6, 14), format="%Y%m%d", errors="coerce")
    birth_ok = birth.notna() & (birth >= pd.Timestamp(EARLIEST_BIRTH)) & (birth <= pd.Timestamp(as_of))
    birth_ok = birth_ok.to_numpy(dtype=bool)
    sex_digit = body_m[:, 16].astype(np.int64) - 48

    valid = well_formed & province_ok & birth_ok & check_ok
    problem = np.select(
        [~well_formed, ~province_ok, ~birth_ok, ~check_ok],
        ["format", "province", "birth_date", "check_digit"],
        default="",
    ).astype(object)
    number = np.where(valid, body + check, None)
    sex_u = np.where(valid, np.where(sex_digit % 2 == 1, "M", "F"), None)
    birth_u = birth.dt.date.to_numpy(dtype=object)
    birth_u = np.where(valid, birth_u, None)

    missing = codes < 0
    take = np.where(missing, 0, codes)

    def mapped(values: np.ndarray, dtype: str | pd.ArrowDtype) -> pd.Series:
        if n == 0:
            return pd.Series(pd.NA, index=s.index, dtype=dtype)
        out = pd.Series(values[take], index=s.index, dtype=object)
        out[missing] = None
        return out.astype(dtype)

    out = pd.DataFrame(
        {
            "id_number": mapped(number, "string"),
            "id_valid": mapped(valid, "boolean"),
            "id_reason": mapped(np.where(valid, None, str(ReasonCode.INVALID_ID_NUMBER)), "string"),
            "id_problem": mapped(np.where(valid, None, problem), "string"),
            "id_birth_date": mapped(birth_u, DATE),
            "id_sex": mapped(sex_u, "string"),
            "id_upgraded": mapped(is15 & valid, "boolean"),
        },
        index=s.index,
    )
    if birth_date is not None:
        given = pd.Series(pd.to_datetime(birth_date, errors="coerce").to_numpy(), index=s.index)
        mine = pd.to_datetime(out["id_birth_date"].astype("string"), errors="coerce")
        both = given.notna() & mine.notna()
        out["id_birth_mismatch"] = (given.dt.normalize() != mine).where(both).astype("boolean")
    if sex is not None:
        given_sex = normalize_text(sex.reindex(s.index).astype("string")).str.upper()
        given_sex = given_sex.replace({"男": "M", "女": "F", "1": "M", "2": "F"}).where(
            lambda x: x.isin(["M", "F"])
        )
        both = given_sex.notna() & out["id_sex"].notna()
        out["id_sex_mismatch"] = (given_sex != out["id_sex"]).where(both).astype("boolean")
    return out


# ----------------------------------------------------------------------------------------------------------
# Unified social credit code (统一社会信用代码, GB 32100-2015)
# ----------------------------------------------------------------------------------------------------------
#: 登记管理部门 + 机构类别 (GB 32100-2015, table 1): the first two characters → organisation type.
CREDIT_ORG_TYPES: dict[str, str] = {
    "11": "机关",
    "12": "事业单位",
    "13": "中央编办直接管理机构编制的群众团体",
    "19": "其他(机构编制)",
    "21": "外国常驻新闻机构",
    "29": "其他(外交)",
    "31": "律师执业机构",
    "32": "公证处",
    "33": "基层法律服务所",
    "34": "司法鉴定机构",
    "35": "仲裁委员会",
    "39": "其他(司法行政)",
    "41": "外国在华文化中心",
    "49": "其他(文化)",
    "51": "社会团体",
    "52": "民办非企业单位",
    "53": "基金会",
    "59": "其他(民政)",
    "61": "外国旅游部门常驻代表机构",
    "62": "港澳台地区旅游部门常驻内地(大陆)代表机构",
    "69": "其他(旅游)",
    "71": "宗教活动场所",
    "72": "宗教院校",
    "79": "其他(宗教)",
    "81": "基层工会",
    "89": "其他(工会)",
    "91": "企业",
    "92": "个体工商户",
    "93": "农民专业合作社",
    "A1": "军队事业单位",
    "A9": "其他(军队)",
    "N1": "组级集体经济组织",
    "N2": "村级集体经济组织",
    "N3": "乡镇级集体经济组织",
    "N9": "其他(农业)",
    "Y1": "其他",
}


def normalize_credit_codes(s: pd.Series) -> pd.DataFrame:
    """Validate and normalise unified social credit codes (统一社会信用代码).

    Returns, aligned to ``s``: ``credit_code`` (18 upper-case characters, NA when invalid), ``credit_valid``
    (NA when nothing was given), ``credit_reason`` (``invalid_credit_code`` where invalid),
    ``credit_problem`` (``format`` / ``charset`` / ``org_type`` / ``check_char``), ``org_type`` (企业,
    个体工商户, 事业单位 ... from the first two characters), ``credit_division`` (the registering office's
    6-digit division code) and ``org_code_valid`` (the embedded GB 11714 organisation code passes its own
    check; a soft signal only, individual businesses often carry placeholders there).
    """
    clean = _clean_code(s)
    codes, uniques = pd.factorize(clean, use_na_sentinel=True)
    text = pd.Series(uniques, dtype="string").fillna("")
    n = len(text)
    len18 = (text.str.len() == 18).to_numpy(dtype=bool)
    padded = np.where(len18, text.to_numpy(dtype=object), "0" * 18).astype(object)
    ascii_ok = np.array([v.isascii() for v in padded], dtype=bool)
    padded = np.where(ascii_ok, padded, "0" * 18).astype(object)
    mat = _digits_matrix(padded, 18)
    values = CREDIT_VALUE[mat]
    charset_ok = len18 & ascii_ok & (values >= 0).all(axis=1)
    safe = np.where(values < 0, 0, values)
    check_ok = credit_code_check_chars(safe) == CREDIT_CHARSET_BYTES[safe[:, 17]]
    prefix = pd.Series(padded, dtype="string").str.slice(0, 2)
    division = pd.Series(padded, dtype="string").str.slice(2, 8).to_numpy(dtype=object)
    org_type = prefix.map(CREDIT_ORG_TYPES).to_numpy(dtype=object)
    type_ok = pd.notna(org_type)
    valid = charset_ok & type_ok & check_ok
    problem = np.select(
        [~len18, ~charset_ok, ~type_ok, ~check_ok],
        ["format", "charset", "org_type", "check_char"],
        default="",
    ).astype(object)

    # embedded organisation code (positions 9-17): 8 body characters + check
    org_ok = valid & (organisation_code_check_chars(mat[:, 8:16]) == mat[:, 16])

    missing = codes < 0
    take = np.where(missing, 0, codes)

    def mapped(values_: np.ndarray, dtype: str) -> pd.Series:
        if n == 0:
            return pd.Series(pd.NA, index=s.index, dtype=dtype)
        out = pd.Series(np.asarray(values_, dtype=object)[take], index=s.index, dtype=object)
        out[missing] = None
        return out.astype(dtype)

    return pd.DataFrame(
        {
            "credit_code": mapped(np.where(valid, padded, None), "string"),
            "credit_valid": mapped(valid, "boolean"),
            "credit_reason": mapped(np.where(valid, None, str(ReasonCode.INVALID_CREDIT_CODE)), "string"),
            "credit_problem": mapped(np.where(valid, None, problem), "string"),
            "org_type": mapped(np.where(valid, org_type, None), "string"),
            "credit_division": mapped(np.where(valid, division, None), "string"),
            "org_code_valid": mapped(np.where(valid, org_ok, None), "boolean"),
        },
        index=s.index,
    )


# ----------------------------------------------------------------------------------------------------------
# Names (姓名)
# ----------------------------------------------------------------------------------------------------------
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


def _pinyin_of(name: str) -> str:
    from pypinyin import Style, lazy_pinyin

    head = ""
    rest = name
    if "·" not in name and len(name) >= 2:
        for k in (name[:2], name[:1]):
            if k in SURNAME_PINYIN and len(name) > len(k):
                head, rest = SURNAME_PINYIN[k], name[len(k) :]
                break
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


# ----------------------------------------------------------------------------------------------------------
# Phones (联系电话)
# ----------------------------------------------------------------------------------------------------------
_PHONE_SPLIT = r"[,;/、，；|]|或|及|\s{2,}"
_COUNTRY = r"^(?:\+\s*86|0086|\(\+?86\)|\[86\])[\s\-]*"
_MOBILE = r"^(?:86)?(?P<mobile>1[3-9]\d{9})$"
_LANDLINE = (
    r"^\(?(?P<area>0(?:10|2\d|[3-9]\d{2}))?\)?[\s\-]*(?P<local>[2-9]\d{6,7})"
    r"(?:(?:转|分机|ext\.?|x|#|-)\s*(?P<ext>\d{1,6}))?$"
)
_SERVICE = r"^(?P<service>(?:400|800)\d{7}|95\d{3,6}|1\d{4})$"


def normalize_phones(s: pd.Series, default_area_code: str | None = None) -> pd.DataFrame:
    """Normalise phone numbers: ``phone``, ``phone_kind`` (mobile / landline / service), ``phone_valid``.

    Mobiles become 11 digits (``+86 138-0013-8000`` → ``13800138000``); landlines ``area-local``
    (``(0571)88001234转8001`` → ``0571-88001234``, the extension in ``phone_ext``). A local number without
    area code is valid only when ``default_area_code`` (e.g. ``"0766"``) is given. Where a field lists
    several numbers (``138..., 0571-...``) the first valid one is taken and the others are kept in
    ``phone_other``. A 10–11 digit number starting with 2–9 is a landline whose trunk ``0`` a spreadsheet
    dropped. ``phone_valid`` is NA for an empty field.
    """
    t = normalize_text(s)
    t = t.mask(t.str.len() == 0)
    codes, uniques = pd.factorize(t, use_na_sentinel=True)
    arr = as_string_array(pd.Series(uniques, dtype="string"))
    n = len(arr)
    if n == 0:
        empty = pd.Series(pd.NA, index=s.index)
        return pd.DataFrame(
            {
                "phone": empty.astype("string"),
                "phone_kind": empty.astype("string"),
                "phone_valid": empty.astype("boolean"),
                "phone_ext": empty.astype("string"),
                "phone_other": empty.astype("string"),
            }
        )
    arr = pc.utf8_lower(arr)
    parts = pc.split_pattern_regex(arr, _PHONE_SPLIT)
    phone = np.full(n, None, dtype=object)
    kind = np.full(n, None, dtype=object)
    ext = np.full(n, None, dtype=object)
    chosen = np.full(n, -1, dtype=np.int64)
    lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    max_parts = int(lengths.max()) if n else 0
    for k in range(min(max_parts, 4)):
        todo = (chosen < 0) & (lengths > k)
        if not todo.any():
            break
        cand = _list_element(parts, k, lengths)
        cand = pc.utf8_trim_whitespace(pc.replace_substring_regex(cand, _COUNTRY, ""))
        compact = pc.replace_substring_regex(cand, r"[\s\-()（）.]", "")
        mob = pc.extract_regex(compact, _MOBILE)
        mob_v = mob.field("mobile").to_numpy(zero_copy_only=False) if len(compact) else np.array([])
        mob_ok = todo & pc.is_valid(mob).to_numpy(zero_copy_only=False)
        phone[mob_ok], kind[mob_ok], chosen[mob_ok] = mob_v[mob_ok], "mobile", k
        svc = pc.extract_regex(compact, _SERVICE)
        svc_ok = todo & ~mob_ok & pc.is_valid(svc).to_numpy(zero_copy_only=False)
        svc_v = svc.field("service").to_numpy(zero_copy_only=False)
        # a spreadsheet that stored 0766-2345678 as a number lost the trunk 0: 7662345678
        land_text = pc.replace_substring_regex(
            pc.replace_substring_regex(cand, r"\s+", ""), r"^([2-9]\d{9,10})$", r"0\1"
        )
        land = pc.extract_regex(land_text, _LANDLINE)
        land_ok = todo & ~mob_ok & ~svc_ok & pc.is_valid(land).to_numpy(zero_copy_only=False)
        area = land.field("area").to_numpy(zero_copy_only=False)
        local = land.field("local").to_numpy(zero_copy_only=False)
        e = land.field("ext").to_numpy(zero_copy_only=False)
        has_area = land_ok & np.array([bool(a) for a in area], dtype=bool)
        if default_area_code:
            area = np.where(has_area, area, default_area_code)
            has_area = land_ok
        phone[has_area] = area[has_area] + "-" + local[has_area]
        kind[has_area], chosen[has_area] = "landline", k
        ext[has_area] = np.where(np.array([bool(x) for x in e[has_area]], dtype=bool), e[has_area], None)
        phone[svc_ok], kind[svc_ok], chosen[svc_ok] = svc_v[svc_ok], "service", k
    valid = chosen >= 0
    others = np.full(n, None, dtype=object)
    for i in np.flatnonzero(lengths > 1):  # the rare fields that list several numbers
        items = [p.strip() for j, p in enumerate(parts[int(i)].as_py()) if j != chosen[i] and p.strip()]
        others[i] = "; ".join(items) if items else None
    missing = codes < 0
    take = np.where(missing, 0, codes)

    def mapped(values: np.ndarray, dtype: str) -> pd.Series:
        out = pd.Series(np.asarray(values, dtype=object)[take], index=s.index, dtype=object)
        out[missing] = None
        return out.astype(dtype)

    return pd.DataFrame(
        {
            "phone": mapped(phone, "string"),
            "phone_kind": mapped(kind, "string"),
            "phone_valid": mapped(valid, "boolean"),
            "phone_ext": mapped(ext, "string"),
            "phone_other": mapped(np.array(others, dtype=object), "string"),
        },
        index=s.index,
    )


def _list_element(parts: pa.Array, k: int, lengths: np.ndarray) -> pa.Array:
    """Element ``k`` of every list, empty string where the list is shorter."""
    safe = pc.if_else(pa.array(lengths > k), parts, pa.scalar([""] * (k + 1), type=parts.type))
    return pc.list_element(safe, k)


# ----------------------------------------------------------------------------------------------------------
# Dates (日期)
# ----------------------------------------------------------------------------------------------------------
DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def parse_dates(
    s: pd.Series,
    formats: Sequence[str] = DEFAULT_DATE_FORMATS,
    excel_serial: bool = True,
    earliest: dt.date = dt.date(1890, 1, 1),
    latest: dt.date = dt.date(2100, 12, 31),
) -> pd.DataFrame:
    """Parse dates written the ways departments write them; returns ``date``, ``date_valid``, ``date_format``.

    Before the formats are tried (in order, first hit wins) the text is normalised: full-width digits,
    Chinese numerals before 年/月/日/号 (``二〇二三年五月一日`` → ``2023年5月1日``), ``号`` read as ``日``, and a
    trailing time of day (``2023-05-01 00:00:00``) dropped. With ``excel_serial`` a 5-digit number is read as
    an Excel serial day (``44927`` → 2023-01-01), as xlsx exports of text columns often carry. Dates outside
    ``earliest``..``latest`` are invalid. ``date_valid`` is NA where nothing was given.
    """
    t = normalize_text(s)
    t = convert_numerals_before(t, ["年", "月", "日", "号"])
    arr = as_string_array(t)
    arr = pc.replace_substring_regex(arr, r"(\d)号$", r"\1日")
    arr = pc.replace_substring_regex(arr, r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$", "")
    arr = pc.utf8_trim_whitespace(arr)
    text = arrow_to_series(arr, s.index)
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    u = pd.Series(uniques, dtype="string")
    result = pd.Series(pd.NaT, index=u.index, dtype="datetime64[s]")
    fmt_used = pd.Series(pd.NA, index=u.index, dtype="string")
    for fmt in formats:
        todo = result.isna() & u.notna() & (u.str.len() > 0)
        if not todo.any():
            break
        parsed = pd.to_datetime(u[todo], format=fmt, errors="coerce")
        hit = parsed.notna()
        result.loc[hit[hit].index] = parsed[hit].astype("datetime64[s]")
        fmt_used.loc[hit[hit].index] = fmt
    if excel_serial:
        todo = result.isna() & u.str.fullmatch(r"\d{5}(?:\.0+)?").fillna(False)
        if todo.any():
            days = pd.to_numeric(u[todo], errors="coerce")
            result.loc[todo[todo].index] = (_EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).astype(
                "datetime64[s]"
            )
            fmt_used.loc[todo[todo].index] = "excel_serial"
    in_range = result.notna() & (result >= pd.Timestamp(earliest)) & (result <= pd.Timestamp(latest))
    result = result.where(in_range)
    fmt_used = fmt_used.where(in_range)
    given = u.notna() & (u.str.len() > 0)

    missing = codes < 0
    take = np.where(missing, 0, codes)
    if len(u) == 0:
        empty = pd.Series(pd.NA, index=s.index)
        return pd.DataFrame(
            {
                "date": empty.astype(DATE),
                "date_valid": empty.astype("boolean"),
                "date_format": empty.astype("string"),
            }
        )
    date = pd.Series(result.to_numpy()[take], index=s.index).dt.date.astype(object)
    date[missing] = None
    valid = pd.Series(in_range.to_numpy()[take], index=s.index, dtype="boolean")
    valid[missing | ~given.to_numpy()[take]] = pd.NA
    fmt = pd.Series(fmt_used.to_numpy(dtype=object)[take], index=s.index, dtype="string")
    fmt[missing] = pd.NA
    date = date.where(pd.notna(date), None)
    return pd.DataFrame({"date": date.astype(DATE), "date_valid": valid, "date_format": fmt}, index=s.index)


__all__ = [
    "CREDIT_ORG_TYPES",
    "DEFAULT_DATE_FORMATS",
    "name_pinyin",
    "normalize_credit_codes",
    "normalize_names",
    "normalize_phones",
    "normalize_resident_ids",
    "parse_dates",
]
