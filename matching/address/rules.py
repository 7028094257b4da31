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
#: Characters that tell roads of one name apart (滨江东路 / 滨江中路, 东湖一路 / 东湖二路, 新村路 / 老村路): one of
#: them in place of another character is a different road, never a typo.
ROAD_DISTINCT = frozenset("东西南北中上下前后内外新老旧大小一二三四五六七八九十")
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
#: The ways a community (居委会) and a village (村委会) are written after their bare name; every division of the
#: library at community level is known in each form of its kind (湖滨社区 = 湖滨居委会 = 湖滨社区居委会 = 湖滨居委).
COMMUNITY_FORMS = (
    "社区",
    "居委会",
    "居委",
    "社区居委会",
    "社区居委",
    "居民委员会",
    "社区居民委员会",
    "社区居委员会",
)
VILLAGE_FORMS = ("村", "村委会", "村委", "村民委员会", "村委员会")
#: ... and a street (街道办事处 = 街道办 = 街道).
STREET_FORMS = ("街道", "街道办事处", "街道办")
#: Suffixes that strip a community / village / street name to its bare name, longest first.
COMMUNITY_BARE = re.compile(
    r"(?:社区居民委员会|社区居委员会|社区居委会|社区居委|居民委员会|居委会|居委|社区)$"
)
VILLAGE_BARE = re.compile(r"(?:村民委员会|村委员会|村委会|村委|村)$")
STREET_BARE = re.compile(r"(?:街道办事处|街道办|街道)$")
#: A bare community name (no suffix) is a village when its statistical code (GB/T 10114, 12 digits) has a
#: 城乡 code 2xx or 3xx in its last three digits (001–199 居委会, 200–399 村委会).
VILLAGE_CODE = re.compile(r"^\d{9}[23]\d{2}$")
#: Estate names are also known with 小区 / 花园 swapped, added or left off (阳光花园 = 阳光花园小区 = 阳光小区).
ESTATE_FORMS = ("小区", "花园", "花园小区")
ESTATE_BARE = re.compile(r"(?:花园小区|小区|花园)$")
#: Text the parser reads as a suffix of the division before it, never as a division of its own (湖滨社区 +
#: 居委会 written twice, or a form no rule above knows).
DIVISION_SUFFIX_ONLY = re.compile(
    r"^(?:社区|居委会|居委|居民委员会|村委会|村委|村民委员会|委会|委员会|办事处)+$"
)
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
    # a letter building (A座, B栋, 甲栋, C号楼): the same marker; extract_detail takes the letter for the building
    (r"([A-Za-z甲乙丙丁戊己庚辛])(?:号楼|栋楼|幢楼|幢|座|栋)", r"\1栋"),
    # a lane (弄, 上海-style 长乐路123弄4号502室): the lane is the house number, the 号 inside it the building
    (r"(\d+)弄(\d+)[-—－~](\d+)室?$", r"\1号\2栋\3室"),
    (r"(\d+)弄(\d+)号", r"\1号\2栋"),
    (r"(\d+)弄(\d|$)", r"\1号\2"),
    (r"第?(\d+)(?:村民小组|村民组|小组|组|队|社)", r"\1组"),
    (r"(\d+)(?:层|F|f)", r"\1楼"),
    (r"(\d+)(?:房间|房|户|号房)$", r"\1室"),
    # dash forms at the end: 3-2-501 → building-unit-room; 2-501 (after a building or house number) → unit-room
    (r"(\d+)[-—－~](\d+)[-—－~](\d+)室?$", r"\1栋\2单元\3室"),
    (r"栋(\d+)[-—－~](\d+)室?$", r"栋\1单元\2室"),
    (r"栋[-—－~](\d+)室?$", r"栋\1室"),
    (r"号(\d+)[-—－~](\d+)室?$", r"号\1单元\2室"),
    (r"^([^\d]+)(\d+)[-—－~](\d+)室?$", r"\1\2单元\3室"),
)
NUMERAL_BEFORE = re.compile(
    f"([{NUMERAL}]+)(?=号(?![路街巷道])|弄|栋|幢|座|号楼|单元|室|楼|层|组|村民小组|村民组|小组|队)"
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


# ----------------------------------------------------------------------------------------------------------
# The library's element columns
# ----------------------------------------------------------------------------------------------------------
#: Each numbered element of the library, and the canonical marker the text parser reads it with: a library
#: column is read with the same rules (7号 / 1栋 / 1幢 / 1号楼 / 1座 / 1# / 三栋 / 2单元 / 501室 / 501房 / 5层 /
#: 第三村民小组 / full-width digits) and comes out as bare digits, like the parser's elements.
ELEMENT_MARKERS = {
    "villager_group": "组",
    "house_number": "号",
    "building": "栋",
    "unit": "单元",
    "floor": "楼",
    "room": "室",
}
#: A canonical library value of an element (its marker as in :data:`ELEMENT_MARKERS`): group 1 is the number.
ELEMENT_FORM = {el: rf"^第?(\d+)(?:{marker})?$" for el, marker in ELEMENT_MARKERS.items()}
#: A library's 楼栋 column may write a building as `4号` (the 号 inside a 弄: 长乐路123弄 `4号`).
ELEMENT_FORM["building"] = r"^第?(\d+|[A-Za-z甲乙丙丁戊己庚辛])(?:栋|号)?$"
#: A building written with a letter (A座, B栋) or a 天干 (甲栋), as the canonical text ends a place or estate.
LETTER_BUILDING = r"^(?P<before>.*?)(?P<building>[A-Za-z甲乙丙丁戊己庚辛])栋$"
#: A library value of an element as it binds: digits, and for a building also a letter or a 天干.
ELEMENT_VALUE = {el: r"\d+" for el in ELEMENT_MARKERS} | {"building": r"\d+|[A-Z甲乙丙丁戊己庚辛]"}
#: A villager group written in the library's road column (石岭村3组, 第三村民小组, canonical: 石岭村3组 / 3组).
GROUP_IN_ROAD = r"^[^\d]*?(\d+)组$"

#: Without a library, a place is split by these suffixes, coarse to fine (a best effort).
GENERIC_LEVELS = (
    ("province", re.compile("(?:" + "|".join(PROVINCES + PROVINCE_SHORT) + ")")),
    ("city", re.compile(r"[^\d省区县]{2,8}?(?:市|自治州|地区|盟)")),
    ("district", re.compile(r"[^\d市]{1,8}?(?:自治县|区|县|旗|市)(?!场)")),
    ("street", re.compile(r"[^\d区县]{2,8}?(?:街道|镇|乡)")),
    ("community", re.compile(r"[^\d镇乡道]{2,8}?(?:社区|村委会|居委会|村)")),
    ("road", re.compile(r"[^\d村区]{1,10}?(?:大道|大街|路|街|巷|弄|胡同)")),
)
