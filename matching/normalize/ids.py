"""Identity codes: resident ID numbers (公民身份号码, GB 11643-1999) and unified social credit codes
(统一社会信用代码, GB 32100-2015), validated with their check characters (:mod:`warehouse.checkchars`)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from matching.normalize.common import NO_VALUE, DistinctValues, clean_code, digits_matrix
from matching.normalize.dates import DATE
from matching.text import normalize_text
from warehouse.checkchars import (
    CREDIT_CHARSET_BYTES,
    CREDIT_VALUE,
    credit_code_check_chars,
    organisation_code_check_chars,
    resident_id_check_chars,
)
from warehouse.reasons import ReasonCode

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
    - ``id_reason``: :class:`~warehouse.reasons.ReasonCode` ``invalid_id_number`` where invalid,
      ``masked_id_number`` where masked (``330219********1234``: 15 or 18 characters, some digits given as
      ``*``, a department's privacy policy rather than an error), else NA;
    - ``id_problem``: what exactly is wrong (``masked``, ``format``, ``province``, ``birth_date``,
      ``check_digit``);
    - ``id_birth_date`` (date) and ``id_sex`` (``M`` odd / ``F`` even sequence digit), from the number;
    - ``id_upgraded``: the number was given in the legacy 15-digit form;
    - ``id_given``: the number as given, valid or not, where it has an ID number's shape — 18 characters
      (17 digits and a digit or ``X``), 17 or 19 (one digit dropped or added), or 15 digits (upgraded to 18
      like a valid one). It is *evidence* for matching (a typo'd number still points to its owner), never an
      identity: only ``id_number`` is.

    When the feed's own ``birth_date`` / ``sex`` (M/F) are given, ``id_birth_mismatch`` / ``id_sex_mismatch``
    say whether they disagree with the number (NA where either side is missing). Birth dates after ``as_of``
    (default: today) or before 1890 make the number invalid.
    """
    d = DistinctValues(clean_code(s))
    ids = _read_resident_ids(pd.Series(d.uniques, dtype="string"), as_of or dt.date.today())
    valid = ids["valid"]
    out = pd.DataFrame(
        {
            "id_number": d.mapped(np.where(valid, ids["number"], NO_VALUE), "string"),
            "id_valid": d.mapped(valid, "boolean"),
            "id_reason": d.mapped(
                np.select(
                    [valid, ids["problem"] == "masked"],
                    [NO_VALUE, str(ReasonCode.MASKED_ID_NUMBER)],
                    str(ReasonCode.INVALID_ID_NUMBER),
                ),
                "string",
            ),
            "id_problem": d.mapped(np.where(valid, NO_VALUE, ids["problem"]), "string"),
            "id_birth_date": d.mapped(np.where(valid, ids["birth"], NO_VALUE), DATE),
            "id_sex": d.mapped(np.where(valid, ids["sex"], NO_VALUE), "string"),
            "id_upgraded": d.mapped(ids["is15"] & valid, "boolean"),
            "id_given": d.mapped(ids["given"], "string"),
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


def _read_resident_ids(uniques: pd.Series, as_of: dt.date) -> dict[str, np.ndarray]:
    """Per distinct cleaned number: ``valid``, ``number`` (18 characters), ``given`` (the number as given where
    it has an ID number's shape, 15 digits upgraded), ``problem``, ``birth`` (date), ``sex`` (M/F) and
    ``is15``; ``number``, ``birth`` and ``sex`` mean something only where valid."""
    u = np.asarray(uniques.to_numpy(dtype=object, na_value=""), dtype=object)
    n = len(u)
    text = pd.Series(u, dtype="string")
    is18 = text.str.fullmatch(r"\d{17}[\dX]").fillna(False).to_numpy(dtype=bool)
    is15 = text.str.fullmatch(r"\d{15}").fillna(False).to_numpy(dtype=bool)
    body = np.full(n, "0" * 17, dtype=object)
    body[is18] = text[is18].str.slice(0, 17).to_numpy(dtype=object)
    body[is15] = (text[is15].str.slice(0, 6) + "19" + text[is15].str.slice(6, 15)).to_numpy(dtype=object)
    well_formed = is18 | is15

    body_m = digits_matrix(body, 17)
    check = resident_id_check_chars(body_m).view("S1").astype("U1").astype(object)
    given_check = np.where(is18, text.str.slice(17, 18).fillna("").to_numpy(dtype=object), check)
    check_ok = given_check == check

    body_s = pd.Series(body, dtype="string")
    province_ok = body_s.str.slice(0, 2).isin(ID_PROVINCES).to_numpy(dtype=bool)
    birth = pd.to_datetime(body_s.str.slice(6, 14), format="%Y%m%d", errors="coerce")
    birth_ok = birth.notna() & (birth >= pd.Timestamp(EARLIEST_BIRTH)) & (birth <= pd.Timestamp(as_of))
    birth_ok = birth_ok.to_numpy(dtype=bool)
    sex_digit = body_m[:, 16].astype(np.int64) - 48

    masked = text.str.fullmatch(r"(?=.*\*)(?:[\dX*]{15}|[\dX*]{18})").fillna(False).to_numpy(dtype=bool)
    problem = np.select(
        [masked, ~well_formed, ~province_ok, ~birth_ok, ~check_ok],
        ["masked", "format", "province", "birth_date", "check_digit"],
        default="",
    ).astype(object)
    valid = well_formed & province_ok & birth_ok & check_ok
    number = body + check
    near18 = text.str.fullmatch(r"\d{16,18}[\dX]").fillna(False).to_numpy(dtype=bool)
    given = np.where(valid | is15, number, np.where(near18, u, NO_VALUE)).astype(object)
    return {
        "valid": valid,
        "number": number,
        "given": given,
        "problem": problem,
        # year 0 parses (pandas 3: microseconds) but is no Python date: no birth date, as an unparsable one
        "birth": birth.where(birth.dt.year >= 1).dt.date.to_numpy(dtype=object),
        "sex": np.where(sex_digit % 2 == 1, "M", "F"),
        "is15": is15,
    }


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
    check; a soft signal only, individual businesses often carry placeholders there) and ``org_code`` (that
    embedded 9-character 组织机构代码 where it passes its check, else NA: the key an employer written with its
    old code is linked by).
    """
    d = DistinctValues(clean_code(s))
    text = pd.Series(d.uniques, dtype="string").fillna("")
    len18 = (text.str.len() == 18).to_numpy(dtype=bool)
    padded = np.where(len18, text.to_numpy(dtype=object), "0" * 18).astype(object)
    ascii_ok = np.array([v.isascii() for v in padded], dtype=bool)
    padded = np.where(ascii_ok, padded, "0" * 18).astype(object)
    mat = digits_matrix(padded, 18)
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

    return pd.DataFrame(
        {
            "credit_code": d.mapped(np.where(valid, padded, NO_VALUE), "string"),
            "credit_valid": d.mapped(valid, "boolean"),
            "credit_reason": d.mapped(
                np.where(valid, NO_VALUE, str(ReasonCode.INVALID_CREDIT_CODE)), "string"
            ),
            "credit_problem": d.mapped(np.where(valid, NO_VALUE, problem), "string"),
            "org_type": d.mapped(np.where(valid, org_type, NO_VALUE), "string"),
            "credit_division": d.mapped(np.where(valid, division, NO_VALUE), "string"),
            "org_code_valid": d.mapped(np.where(valid, org_ok, NO_VALUE), "boolean"),
            "org_code": d.mapped(
                np.where(
                    org_ok,
                    pd.Series(padded, dtype="string").str.slice(8, 17).to_numpy(dtype=object),
                    NO_VALUE,
                ),
                "string",
            ),
        },
        index=s.index,
    )


# ----------------------------------------------------------------------------------------------------------
# Organisation code (组织机构代码, GB 11714): the code before the credit code, characters 9–17 of it
# ----------------------------------------------------------------------------------------------------------
#: Shape of a written 组织机构代码 once separators are removed: 8 digits or capital letters + a check character.
ORG_CODE_SHAPE = r"[0-9A-Z]{8}[0-9X]"


def normalize_org_codes(s: pd.Series) -> pd.DataFrame:
    """Read old 9-character organisation codes (组织机构代码, GB 11714), often written ``12345678-9``.

    Returns, aligned to ``s``: ``org_code`` (9 upper-case characters, no hyphen; NA unless the value has the
    code's shape and its check character is right), ``org_code_shape`` (the value looks like an organisation
    code, 8 + 1 characters, whatever its check; NA when nothing was given) and ``org_code_valid`` (the check
    character is right; NA when nothing was given). The code is characters 9–17 of the organisation's unified
    social credit code, so it links an old-code record to the registered organisation.
    """
    d = DistinctValues(clean_code(s))
    text = pd.Series(d.uniques, dtype="string").fillna("")
    shape = text.str.fullmatch(ORG_CODE_SHAPE).fillna(False).to_numpy(dtype=bool)
    padded = np.where(shape, text.to_numpy(dtype=object), "0" * 9).astype(object)
    mat = digits_matrix(padded, 9)
    valid = shape & (organisation_code_check_chars(mat[:, :8]) == mat[:, 8])
    return pd.DataFrame(
        {
            "org_code": d.mapped(np.where(valid, padded, NO_VALUE), "string"),
            "org_code_shape": d.mapped(shape, "boolean"),
            "org_code_valid": d.mapped(valid, "boolean"),
        },
        index=s.index,
    )
