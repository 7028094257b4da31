"""The address rules: vocabulary that does not come from the library, and how text is made canonical.

A new normalisation rule goes here: a marker word (栋/幢/号楼, 村民小组, 层, 房), a dash form, a division or road
suffix, a label to strip. :mod:`matching.address.canonical` applies :data:`CANON_REPLACEMENTS` in order and
splits the result with :data:`DETAIL_PATTERN`; :mod:`matching.address.parse` classifies unknown place text with
:data:`DIVISION_WORD`, :data:`NOT_DIVISION` and :data:`ROAD_WORD`.
"""

from __future__ import annotations

import re

# ----------------------------------------------------------------------------------------------------------
# Vocabulary that does not come from the library
# ----------------------------------------------------------------------------------------------------------
PROVINCES = (
    "北京市",
    "天津市",
    "河北省",
    "山西省",
    "内蒙古自治区",
    "辽宁省",
    "吉林省",
    "黑龙江省",
    "上海市",
    "江苏省",
    "浙江省",
    "安徽省",
    "福建省",
    "江西省",
    "山东省",
    "河南省",
    "湖北省",
    "湖南省",
    "广东省",
    "广西壮族自治区",
    "海南省",
    "重庆市",
    "四川省",
    "贵州省",
    "云南省",
    "西藏自治区",
    "陕西省",
    "甘肃省",
    "青海省",
    "宁夏回族自治区",
    "新疆维吾尔自治区",
    "台湾省",
    "香港特别行政区",
    "澳门特别行政区",
)
PROVINCE_SHORT = tuple(
    sorted(
        {re.sub(r"(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$", "", p) for p in PROVINCES},
        key=len,
        reverse=True,
    )
)
#: Text ending like this names a division; unknown to the library, it puts the address elsewhere.
DIVISION_WORD = re.compile(
    r"(?:省|自治区|特别行政区|市|自治州|州|地区|盟|县|自治县|旗|区|镇|乡|街道|街道办事处|办事处|社区|居委会|村委会|"
    r"村|嘎查)$"
)
#: ... except for these, which are estates or parts of a place rather than divisions.
NOT_DIVISION = re.compile(r"(?:小区|园区|校区|景区|新村|花园|广场|商业区|工业区|市场|超市)$")
ROAD_WORD = re.compile(r"(?:大道|大街|路|街|巷|弄|胡同|道|里|段)$")
#: Division levels, coarse to fine.
LEVEL_RANK = {"province": 0, "city": 1, "district": 2, "street": 3, "community": 4}
#: Suffixes a division name is also known without (东湖街道 → 东湖), longest first.
DIVISION_SUFFIXES = (
    "街道办事处",
    "街道",
    "社区居委会",
    "居委会",
    "村委会",
    "社区",
    "自治县",
    "省",
    "市",
    "区",
    "县",
    "镇",
    "乡",
    "村",
)
ESTATE_SUFFIXES = ("小区",)
#: Leading words that are labels rather than address ("住址:", "地址").
LABELS = re.compile(r"^(?:中华人民共和国|中国|住址|地址|现住址|户籍地址|住所|居住地址|家庭住址)+")

# ----------------------------------------------------------------------------------------------------------
# Canonical text
# ----------------------------------------------------------------------------------------------------------
#: Chinese numeral characters converted where they count (before 号/栋/单元/室/楼/组).
NUMERAL = "零〇○一二两三四五六七八九十百千"
#: (pattern, replacement) applied in order; the first (punctuation) before the numerals are converted.
CANON_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    (r"[\s,，。、;；:：\"'“”‘’《》<>〈〉【】\[\]{}()（）]", ""),
    # Chinese numerals where they count (a Python pass over the values that need it is done first)
    (r"(\d+)(?:号楼|栋楼|幢楼|幢|座|#楼|#|栋)", r"\1栋"),
    (r"第?(\d+)(?:村民小组|村民组|小组|组|队|社)", r"\1组"),
    (r"(\d+)(?:层|F|f)", r"\1楼"),
    (r"(\d+)(?:房间|房|户|号房)$", r"\1室"),
    # dash forms at the end: 3-2-501 → building-unit-room; 2-501 (after a building or house number) → unit-room
    (r"(\d+)[-—－~](\d+)[-—－~](\d+)室?$", r"\1栋\2单元\3室"),
    (r"栋(\d+)[-—－~](\d+)室?$", r"栋\1单元\2室"),
    (r"号(\d+)[-—－~](\d+)室?$", r"号\1单元\2室"),
    (r"^([^\d]+)(\d+)[-—－~](\d+)室?$", r"\1\2单元\3室"),
)
NUMERAL_BEFORE = re.compile(
    f"([{NUMERAL}]+)(?=号(?![路街巷道])|栋|幢|座|号楼|单元|室|楼|层|组|村民小组|村民组|小组|队)"
)
#: Canonical text → place (before the first digit), villager group, house number, estate text, building,
#: unit, floor, room and what is left.
DETAIL_PATTERN = (
    r"^(?P<place>[^\d]*)"
    r"(?:(?P<villager_group>\d+)组)?"
    r"(?:(?P<house_number>\d+)号)?"
    r"(?P<estate_text>(?:[^\d楼][^\d]*)?)"
    r"(?:(?P<building>\d+)栋)?"
    r"(?:(?P<unit>\d+)单元)?"
    r"(?:(?P<floor>\d+)楼)?"
    r"(?:(?P<room>\d+)室?)?"
    r"(?P<rest>.*)$"
)
DETAIL_FIELDS = (
    "place",
    "villager_group",
    "house_number",
    "estate_text",
    "building",
    "unit",
    "floor",
    "room",
    "rest",
)


#: Without a library, a place is split by these suffixes, coarse to fine (a best effort).
GENERIC_LEVELS = (
    ("province", re.compile("(?:" + "|".join(PROVINCES + PROVINCE_SHORT) + ")")),
    ("city", re.compile(r"[^\d省区县]{2,8}?(?:市|自治州|地区|盟)")),
    ("district", re.compile(r"[^\d市]{1,8}?(?:自治县|区|县|旗|市)(?!场)")),
    ("street", re.compile(r"[^\d区县]{2,8}?(?:街道|镇|乡)")),
    ("community", re.compile(r"[^\d镇乡道]{2,8}?(?:社区|村委会|居委会|村)")),
    ("road", re.compile(r"[^\d村区]{1,10}?(?:大道|大街|路|街|巷|弄|胡同)")),
)
