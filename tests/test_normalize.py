"""Field normalisers: text base, resident IDs, credit codes, names, phones, dates."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from matching.normalize import (
    name_pinyin,
    normalize_credit_codes,
    normalize_names,
    normalize_phones,
    normalize_resident_ids,
    parse_dates,
)
from matching.text import NumeralError, chinese_to_int, convert_numerals_before, normalize_text
from warehouse.checkchars import (
    CodeFormatError,
    credit_code_check_char,
    organisation_code_check_char,
    resident_id_check_char,
)

# ----------------------------------------------------------------------------------------------------------
# text
# ----------------------------------------------------------------------------------------------------------


def test_normalize_text_width_traditional_whitespace():
    s = pd.Series(["濱江路１８號　３棟", "  a\t\tb\u200b ", None, "", "臺灣省"], index=[5, 6, 7, 8, 9])
    out = normalize_text(s)
    assert out.tolist()[:2] == ["滨江路18号 3栋", "a b"]
    assert out.isna().tolist() == [False, False, True, False, False]
    assert out.iloc[3] == "" and out.iloc[4] == "台湾省"
    assert list(out.index) == [5, 6, 7, 8, 9]
    assert str(out.dtype) == "string"


def test_normalize_text_repeated_values_and_empty_series():
    s = pd.Series(["號"] * 1000 + ["棟"])
    out = normalize_text(s)
    assert (out.iloc[:1000] == "号").all() and out.iloc[1000] == "栋"
    assert normalize_text(pd.Series([], dtype="string")).empty


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("十八", 18),
        ("十", 10),
        ("二十", 20),
        ("三十二", 32),
        ("一百零五", 105),
        ("一百五", 150),
        ("一百一十", 110),
        ("两千零一", 2001),
        ("五零一", 501),
        ("二〇二三", 2023),
        ("零", 0),
    ],
)
def test_chinese_to_int(text, value):
    assert chinese_to_int(text) == value


@pytest.mark.parametrize("bad", ["", "十十", "四川", "五a"])
def test_chinese_to_int_rejects(bad):
    with pytest.raises(NumeralError):
        chinese_to_int(bad)


def test_numerals_converted_only_before_markers():
    s = pd.Series(["十八号三栋二单元五零一室", "五一路四川", "第三村民小组", "十二号楼"])
    out = convert_numerals_before(s, ["号", "栋", "单元", "室", "村民小组"])
    assert out.tolist() == ["18号3栋2单元501室", "五一路四川", "第3村民小组", "12号楼"]


# ----------------------------------------------------------------------------------------------------------
# resident IDs (GB 11643)
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "check"),
    [("11010519491231002", "X"), ("44052418800101001", "4")],
)
def test_resident_id_check_char_known_good(body, check):
    # the two examples printed in GB 11643-1999
    assert resident_id_check_char(body) == check


def test_resident_id_check_char_agrees_with_independent_implementation():
    import random

    from gridhub.sample.codes import id_check_char  # the sample generator's own implementation

    rng = random.Random(7)
    bodies = ["".join(rng.choice("0123456789") for _ in range(17)) for _ in range(300)]
    assert [resident_id_check_char(b) for b in bodies] == [id_check_char(b) for b in bodies]


def test_resident_id_check_char_rejects_bad_bodies():
    for bad in ("1101051949123100", "1101051949123100A", "１１０１０５１９４９１２３１００２"):
        with pytest.raises(CodeFormatError):
            resident_id_check_char(bad)


def test_resident_ids_valid_forms():
    s = pd.Series(
        [
            "11010519491231002X",
            "11010519491231002x",
            "１１０１０５１９４９１２３１００２Ｘ",
            " 110105 19491231 002X ",
            "'11010519491231002X",
        ]
    )
    out = normalize_resident_ids(s)
    assert out["id_valid"].all()
    assert (out["id_number"] == "11010519491231002X").all()
    assert out["id_reason"].isna().all()
    assert out["id_birth_date"].iloc[0] == dt.date(1949, 12, 31)
    assert (out["id_sex"] == "F").all()
    assert not out["id_upgraded"].any()


def test_resident_id_fifteen_digit_upgrade():
    out = normalize_resident_ids(pd.Series(["110105491231002", "440524800101001"]))
    assert out["id_number"].tolist() == ["11010519491231002X", "440524198001010013"]
    assert out["id_upgraded"].all()
    assert out["id_sex"].tolist() == ["F", "M"]
    assert out["id_birth_date"].iloc[1] == dt.date(1980, 1, 1)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("11010519491231003X", "check_digit"),  # sequence changed, check not
        ("110105194912310021", "check_digit"),
        ("1101051949123100", "format"),
        ("11010519491231002Y", "format"),
        ("1.10105E+17", "format"),
        ("11010520991231002X", "birth_date"),  # future (check digit recomputed below)
        ("99010519491231002X", "province"),
        ("110105194902300026", "birth_date"),  # 30 February
    ],
)
def test_resident_id_invalid(value, problem):
    if problem in (
        "birth_date",
        "province",
    ):  # give them a correct check digit so only the named fault remains
        value = value[:17] + resident_id_check_char(value[:17])
    out = normalize_resident_ids(pd.Series([value]), as_of=dt.date(2025, 1, 1))
    row = out.iloc[0]
    assert row["id_valid"] is False or row["id_valid"] == False  # noqa: E712 - pandas BooleanDtype scalar
    assert pd.isna(row["id_number"])
    assert row["id_reason"] == "invalid_id_number"
    assert row["id_problem"] == problem


def test_resident_id_retired_area_code_is_valid():
    # 445321 (a county merged into a district) is retired, yet real IDs carry it
    body = "44532119751102003"
    out = normalize_resident_ids(pd.Series([body + resident_id_check_char(body)]))
    assert bool(out["id_valid"].iloc[0])


def test_resident_id_missing_is_not_invalid():
    out = normalize_resident_ids(pd.Series([None, "", "  "], dtype="string"))
    assert out["id_valid"].isna().all()
    assert out["id_reason"].isna().all()


def test_resident_id_cross_check_with_feed_fields():
    s = pd.Series(["11010519491231002X", "11010519491231002X", "11010519491231002X", "bad"])
    out = normalize_resident_ids(
        s,
        birth_date=pd.Series(["1949-12-31", "1950-01-01", None, "1949-12-31"]),
        sex=pd.Series(["女", "M", "F", "F"]),
    )
    assert out["id_birth_mismatch"].tolist()[:2] == [False, True]
    assert pd.isna(out["id_birth_mismatch"].iloc[2]) and pd.isna(out["id_birth_mismatch"].iloc[3])
    assert out["id_sex_mismatch"].tolist()[:3] == [False, True, False]


# ----------------------------------------------------------------------------------------------------------
# unified social credit codes (GB 32100)
# ----------------------------------------------------------------------------------------------------------


def test_credit_code_check_char_worked_example():
    assert credit_code_check_char("91350100M000100Y4") == "3"
    assert credit_code_check_char("91350100m000100y4") == "3"


def test_credit_code_check_char_rejects_forbidden_letters():
    with pytest.raises(CodeFormatError):
        credit_code_check_char("91350100M0001O0Y4")  # letter O
    with pytest.raises(CodeFormatError):
        credit_code_check_char("9135")


def test_organisation_code_check_char():
    # the organisation code inside the GB 32100 worked example 91350100M000100Y43 is M000100Y-4
    assert organisation_code_check_char("M000100Y") == "4"
    from gridhub.sample.codes import org_code_check_char  # independent implementation

    for body in ("D2143569", "12345678", "A1B2C3D4", "00000000"):
        assert organisation_code_check_char(body) == org_code_check_char(body)


def test_credit_codes_valid_and_invalid():
    s = pd.Series(
        [
            "91350100M000100Y43",
            "9135 0100 M000 100Y 43",
            "９１３５０１００Ｍ０００１００Ｙ４３",
            "91350100M000100Y44",
            "91350100M000I00Y43",
            "9135010",
            "Z1350100M000100Y43",
            None,
        ]
    )
    out = normalize_credit_codes(s)
    assert out["credit_valid"].tolist()[:3] == [True, True, True]
    assert (out["credit_code"].iloc[:3] == "91350100M000100Y43").all()
    assert out["org_type"].iloc[0] == "企业"
    assert out["credit_division"].iloc[0] == "350100"
    assert out["credit_problem"].tolist()[3:7] == ["check_char", "charset", "format", "charset"]
    assert (out["credit_reason"].iloc[3:7] == "invalid_credit_code").all()
    assert out["credit_code"].iloc[3:7].isna().all()
    assert pd.isna(out["credit_valid"].iloc[7])


def test_credit_code_types_from_first_two_characters():
    bodies = {"92": "个体工商户", "12": "事业单位", "51": "社会团体", "93": "农民专业合作社"}
    codes = [p + "4453990000000001"[:15] for p in bodies]
    codes = [c + credit_code_check_char(c) for c in codes]
    out = normalize_credit_codes(pd.Series(codes))
    assert out["org_type"].tolist() == list(bodies.values())
    # an unassigned authority/type pair is invalid even with a correct check character
    body = "97" + "445399000000000"
    out = normalize_credit_codes(pd.Series([body + credit_code_check_char(body)]))
    assert out["credit_problem"].iloc[0] == "org_type"


# ----------------------------------------------------------------------------------------------------------
# names
# ----------------------------------------------------------------------------------------------------------


def test_names():
    s = pd.Series(
        [
            "張 三",
            "阿依古丽.买买提",
            "阿依古丽 • 买买提",
            "阿依古丽-买买提",
            "阿依古丽・买买提",
            " JOHN  SMITH ",
            "  ",
            None,
            "欧阳 娜 娜",
            "·热依拉·",
        ]
    )
    out = normalize_names(s)
    assert out.tolist()[:6] == [
        "张三",
        "阿依古丽·买买提",
        "阿依古丽·买买提",
        "阿依古丽·买买提",
        "阿依古丽·买买提",
        "JOHN SMITH",
    ]
    assert out.iloc[6:8].isna().all()
    assert out.iloc[8] == "欧阳娜娜"
    assert out.iloc[9] == "热依拉"


def test_name_pinyin():
    out = name_pinyin(pd.Series(["张伟", "张玮", "单田芳", "曾国藩", "阿依古丽·买买提", None, "欧阳娜娜"]))
    assert out.iloc[0] == out.iloc[1] == "zhangwei"
    assert out.iloc[2] == "shantianfang"
    assert out.iloc[3] == "zengguofan"
    assert out.iloc[4] == "ayigulimaimaiti"
    assert pd.isna(out.iloc[5])
    assert out.iloc[6] == "ouyangnana"


def test_name_pinyin_reads_as_pypinyin_does():
    """The character-by-character reading (no phrase in the name) is pypinyin's reading of the whole name:
    phrases (重庆, 长江), polyphones, Latin letters and unread characters go through pypinyin."""
    from pypinyin import Style, lazy_pinyin

    from matching.normalize.names import _pinyin_of

    names = [
        "李重庆",
        "王长江",
        "张行",
        "周乐乐",
        "陈A",
        "刘〇",
        "赵丹丹",
        "钱银行",
        "孙朝阳",
        "吕长",
        "X",
        "",
    ]
    for name in names:
        expected = "".join(lazy_pinyin(name[1:], style=Style.NORMAL, errors="default")).lower()
        assert _pinyin_of(name)[len(_pinyin_of(name[:1])) :] == "".join(
            c for c in expected if c.isascii() and c.isalnum()
        ), name


# ----------------------------------------------------------------------------------------------------------
# phones
# ----------------------------------------------------------------------------------------------------------


def test_phones():
    s = pd.Series(
        [
            "+86 138-0013-8000",
            "８６１３８００１３８０００",
            "(0571)88001234转8001",
            "0766-2345678",
            "010 62345678",
            "13800138000/0766-2345678",
            "88001234",
            "1380013800",
            "abc",
            None,
            "",
            "4008123123",
        ]
    )
    out = normalize_phones(s)
    assert out["phone"].tolist()[:6] == [
        "13800138000",
        "13800138000",
        "0571-88001234",
        "0766-2345678",
        "010-62345678",
        "13800138000",
    ]
    assert out["phone_kind"].tolist()[:4] == ["mobile", "mobile", "landline", "landline"]
    assert out["phone_ext"].iloc[2] == "8001"
    assert out["phone_other"].iloc[5] == "0766-2345678"
    assert out["phone_valid"].tolist()[6:9] == [False, False, False]  # no area code / 10 digits / junk
    assert out["phone_valid"].iloc[9:11].isna().all()
    assert out["phone_kind"].iloc[11] == "service"


def test_phone_default_area_code():
    out = normalize_phones(pd.Series(["2345678", "13800138000"]), default_area_code="0766")
    assert out["phone"].tolist() == ["0766-2345678", "13800138000"]
    assert out["phone_valid"].all()


# ----------------------------------------------------------------------------------------------------------
# dates
# ----------------------------------------------------------------------------------------------------------


def test_parse_dates_formats():
    s = pd.Series(
        [
            "2023-05-01",
            "20230501",
            "2023/5/1",
            "二〇二三年五月一日",
            "2023年5月1号",
            "2023-05-01 00:00:00",
            "１９９０．０１．０５",
            "44927",
            "2023-02-30",
            "",
            None,
            "1800-01-01",
            "二〇二三年十二月三十一日",
        ]
    )
    out = parse_dates(s)
    d = dt.date
    assert out["date"].tolist()[:8] == [d(2023, 5, 1)] * 6 + [d(1990, 1, 5), d(2023, 1, 1)]
    assert out["date_valid"].tolist()[:8] == [True] * 8
    assert out["date_format"].iloc[7] == "excel_serial"
    assert out["date_valid"].iloc[8] == False  # noqa: E712 - 30 February
    assert out["date_valid"].iloc[9:11].isna().all()
    assert out["date_valid"].iloc[11] == False  # noqa: E712 - before 1890
    assert out["date"].iloc[12] == d(2023, 12, 31)


def test_parse_dates_respects_configured_formats():
    out = parse_dates(pd.Series(["01/05/2023", "2023-05-01"]), formats=["%d/%m/%Y"], excel_serial=False)
    assert out["date"].iloc[0] == dt.date(2023, 5, 1)
    assert out["date_valid"].tolist() == [True, False]


def test_staging_and_matching_read_dates_with_one_parser():
    import pyarrow as pa

    from connectors.dates import COMMON_DATE_FORMATS, parse_date_strings

    values = [
        "1990-05-01",
        "1990.5.1",
        "一九九〇年五月一日",
        "1990-05-01T00:00:00",
        "１９９０／０５／０１",
        "19900230",
        None,
        "",
    ]
    staged = parse_date_strings(pa.array(values), ["%Y-%m-%d"])
    matched = parse_dates(pd.Series(values), excel_serial=False)
    assert staged.dates.to_pylist() == [v if pd.notna(v) else None for v in matched["date"]]
    assert staged.dates.to_pylist()[:5] == [dt.date(1990, 5, 1)] * 5
    # only the first is written in a listed form; the others were read by a common form after normalising
    assert staged.listed.tolist() == [True] + [False] * 7
    assert staged.formats.tolist()[:2] == ["%Y-%m-%d", "%Y.%m.%d"]
    assert set(COMMON_DATE_FORMATS) == {"%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日"}


def test_common_date_forms_are_tried_only_when_asked():
    import pyarrow as pa

    from connectors.dates import parse_date_strings

    strict = parse_date_strings(pa.array(["1990.05.01", "01/05/1990"]), ["%d/%m/%Y"], common=False)
    assert strict.dates.to_pylist() == [None, dt.date(1990, 5, 1)] and strict.listed.tolist() == [False, True]
    lenient = parse_date_strings(
        pa.array(["1990.05.01", "二〇二三年十二月三十一日", "2023年5月1号"]), ["%d/%m/%Y"]
    )
    assert lenient.dates.to_pylist() == [dt.date(1990, 5, 1), dt.date(2023, 12, 31), dt.date(2023, 5, 1)]
    assert not lenient.listed.any()


@pytest.mark.parametrize("values", [[], [None, None], [pd.NA]])
def test_every_normaliser_keeps_length_on_empty_or_missing(values):
    s = pd.Series(values, dtype="string")
    for frame_fn in (normalize_resident_ids, normalize_credit_codes, normalize_phones, parse_dates):
        out = frame_fn(s)
        assert len(out) == len(s) and list(out.index) == list(s.index)
    for series_fn in (normalize_names, name_pinyin, normalize_text):
        assert len(series_fn(s)) == len(s)


def test_numeric_input_from_spreadsheets():
    # xlsx readers hand over numbers: IDs without X and phones come as integers
    out = normalize_phones(pd.Series([13800138000, 7662345678]))
    assert out["phone"].tolist() == ["13800138000", "0766-2345678"]
    ids = normalize_resident_ids(pd.Series([440524198001010013]))
    assert bool(ids["id_valid"].iloc[0])


@pytest.mark.parametrize(
    "given",
    ["+86-766-2345678", "0086-766-2345678", "+86 (766) 2345678", "+86-0766-2345678", "+86 766 2345678"],
)
def test_a_landline_after_the_country_code_gets_its_trunk_zero_back(given):
    # written internationally, a landline drops the trunk 0 (+86-766-…); the mobile rule is untouched
    out = normalize_phones(pd.Series([given, "+86-138-0013-8000"]))
    assert out["phone"].tolist() == ["0766-2345678", "13800138000"]
    assert out["phone_kind"].tolist() == ["landline", "mobile"]


def test_an_id_whose_birth_year_is_0000_is_invalid_without_a_birth_date():
    # 0000-01-01: pandas parses the year 0, which no Python date has (a 1 M sample district has such IDs)
    out = normalize_resident_ids(pd.Series(["110101000001010013"], dtype="string"))
    assert not out["id_valid"].iloc[0]
    assert out["id_problem"].iloc[0] == "birth_date"
    assert pd.isna(out["id_birth_date"].iloc[0])
