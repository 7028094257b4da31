"""Field normalisers for department feeds (字段规范化), vectorised over columns.

Every normaliser takes a pandas Series as staged (text as the department wrote it) and returns aligned
columns: the normalised value, whether it is valid, and where it is not, why. Nothing is dropped silently:
an invalid value keeps its row, gets ``*_valid = False`` and a reason; a missing value gets ``*_valid = <NA>``
(so callers can tell "not given" from "given but wrong").

- 公民身份号码 (GB 11643-1999): check digit, 15→18 upgrade, lower-case ``x``, full-width digits; birth date and
  sex derived from the number and cross-checked against the feed's own fields.
- 统一社会信用代码 (GB 32100-2015): check character, organisation type from the first two characters, the
  embedded 组织机构代码 (GB 11714, characters 9–17); old 9-character organisation codes on their own.
- 姓名: 繁→简, full/half width, stray spaces, the middle dot of minority names (阿依古丽·买买提); pinyin key.
- 电话: mobile (11 digits) and landline with area code (``0571-88001234``), ``+86`` / ``0086`` stripped.
- 日期: the formats departments use, full-width digits and Chinese numerals (二〇二三年五月一日) included.

Check digits are computed with numpy over the distinct values (feeds repeat values a lot), not per row. The
check-character algorithms are written once, in the leaf module :mod:`warehouse.checkchars`; the ones
entity resolution uses are re-exported here.

Modules: :mod:`~matching.normalize.ids` (resident IDs, credit codes), :mod:`~.names`, :mod:`~.phones`,
:mod:`~.dates`, and :mod:`~.common` (what they share).
"""

from matching.normalize.dates import DATE, DEFAULT_DATE_FORMATS, parse_dates
from matching.normalize.ids import (
    CREDIT_ORG_TYPES,
    EARLIEST_BIRTH,
    ID_PROVINCES,
    normalize_credit_codes,
    normalize_org_codes,
    normalize_resident_ids,
)
from matching.normalize.names import SURNAME_PINYIN, name_pinyin, normalize_names
from matching.normalize.phones import normalize_phones
from warehouse.checkchars import CREDIT_VALUE, credit_code_check_chars, resident_id_check_chars

__all__ = [
    "CREDIT_ORG_TYPES",
    "CREDIT_VALUE",
    "DATE",
    "DEFAULT_DATE_FORMATS",
    "EARLIEST_BIRTH",
    "ID_PROVINCES",
    "SURNAME_PINYIN",
    "credit_code_check_chars",
    "name_pinyin",
    "normalize_credit_codes",
    "normalize_names",
    "normalize_org_codes",
    "normalize_phones",
    "normalize_resident_ids",
    "parse_dates",
    "resident_id_check_chars",
]
