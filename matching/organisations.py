"""Which values of a row name an organisation: "no organisation" employer values, organisation-shaped owner
names, and the codes an organisation is written with (统一社会信用代码 or the older 组织机构代码).

Used by :mod:`matching.mentions` while it splits staged rows into mentions:

- **No organisation** (``Feed.no_organisation``): 人社 rows whose 单位名称 is ``个人参保``, ``灵活就业人员``, ``无``
  and the like name no employer. Such a value is dropped from the row's organisation mention (the row keeps its
  person, gets no employer and no 就业 link) and noted as a field issue ``no_organisation``. Values compare
  after normalisation: 繁→简, full-width → half-width, case, spaces and brackets (``（个人参保）`` is
  ``个人参保``).
- **Owner columns** (``Feed.owner_kind``): a 住建 产权人 / 产权人证件号 column (mapped to ``name`` /
  ``id_number``) names people and companies. With ``auto`` the row's ID decides (a valid resident ID: a
  person; a valid credit code or 组织机构代码: an organisation), else the name's shape
  (:data:`ORGANISATION_NAME_ENDINGS`).
- **Codes** in an organisation's credit-code cell: an 18-character credit code, or an old 9-character
  organisation code (``12345678-9``, GB 11714), which is characters 9–17 of the credit code the organisation
  got later. Both give the mention an ``org_code``, the key an old-code record is linked by.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from connectors.feeds import Feed
from matching.normalize import (
    normalize_credit_codes,
    normalize_names,
    normalize_org_codes,
    normalize_resident_ids,
)

#: Built-in values of an employer column (单位名称) that name no organisation, used when a feed does not set
#: ``no_organisation``. Compared whole (never as a part of a name) after :func:`no_organisation_key`.
NO_ORGANISATION_VALUES: tuple[str, ...] = (
    # insured on one's own account
    "个人参保",
    "个人参保人员",
    "个人缴费",
    "个人缴纳",
    "个人",
    "灵活就业",
    "灵活就业人员",
    "自由职业",
    "自由职业者",
    "个体",
    "个体户",
    "个体经营",
    "个体经营户",
    "城乡居民",
    # no employer
    "无",
    "无单位",
    "无工作单位",
    "暂无",
    "无业",
    "待业",
    "失业",
    "退休",
    "退休人员",
    "离退休",
    "离退休人员",
    # placeholders
    "-",
    "--",
    "/",
    "\\",
    ".",
    "0",
    "空",
    "null",
    "none",
    "n/a",
    "na",
)

#: Name endings that make an owner (产权人) an organisation under ``owner_kind: auto`` when the row has no ID
#: that decides. Checked after a trailing bracketed part is removed (``…有限公司（清算组）``); a name must be
#: at least two characters longer than the ending (``王中心`` stays a person, ``红星厂`` is a 厂).
ORGANISATION_NAME_ENDINGS: tuple[str, ...] = (
    # companies and shops
    "公司",
    "集团",
    "厂",
    "店",
    "商行",
    "超市",
    "经营部",
    "门市部",
    "服务部",
    "工作室",
    "酒店",
    "宾馆",
    "旅馆",
    "餐厅",
    "餐馆",
    "饭馆",
    "面馆",
    "菜馆",
    "茶馆",
    "酒馆",
    "照相馆",
    "网吧",
    "农场",
    "林场",
    "养殖场",
    "加油站",
    "合作社",
    "合作联社",
    "旅行社",
    # banks, services
    "银行",
    "支行",
    "分行",
    "信用社",
    "中心",
    "事务所",
    "研究所",
    "研究院",
    # schools, health
    "学校",
    "小学",
    "中学",
    "大学",
    "学院",
    "幼儿园",
    "医院",
    "卫生院",
    "卫生室",
    "诊所",
    "门诊部",
    "卫生所",
    "养老院",
    "敬老院",
    "托儿所",
    # public bodies and associations
    "委员会",
    "居委会",
    "村委会",
    "局",
    "办事处",
    "政府",
    "派出所",
    "管理处",
    "管理所",
    "协会",
    "商会",
    "联合会",
    "工会",
    "基金会",
    "图书馆",
    "体育馆",
)

_BRACKETS = r"[()（）\[\]【】〔〕<>《》「」『』{}]"
_BRACKETED_TAIL = r"[(（\[【〔][^()（）\[\]【】〔〕]*[)）\]】〕]$"


def no_organisation_key(s: pd.Series) -> pd.Series:
    """The form "no organisation" values compare in: a name's normalisation (繁→简, half-width), lower case,
    without spaces and brackets. ``（個人參保）`` → ``个人参保``; ``N/A`` → ``n/a``."""
    key = normalize_names(s.astype("string")).str.lower()
    key = key.str.replace(r"\s+", "", regex=True).str.replace(_BRACKETS, "", regex=True)
    return key.mask(key.str.len() == 0)


def no_organisation(names: pd.Series, feed: Feed) -> pd.Series:
    """Whether each employer value names no organisation: one of the feed's ``no_organisation`` values (the
    built-in :data:`NO_ORGANISATION_VALUES` when the feed sets none, nothing when it sets ``[]``)."""
    values = NO_ORGANISATION_VALUES if feed.no_organisation is None else tuple(feed.no_organisation)
    if not values:
        return pd.Series(False, index=names.index, dtype=bool)
    wanted = set(no_organisation_key(pd.Series(values, dtype="string")).dropna())
    return no_organisation_key(names).isin(wanted).fillna(False).astype(bool)


def organisation_shaped(names: pd.Series) -> pd.Series:
    """Whether each (normalised) name ends like an organisation's (:data:`ORGANISATION_NAME_ENDINGS`), with at
    least two characters before the ending."""
    core = names.astype("string").str.replace(_BRACKETED_TAIL, "", regex=True).str.strip()
    endings = "|".join(re.escape(e) for e in sorted(ORGANISATION_NAME_ENDINGS, key=len, reverse=True))
    return core.str.fullmatch(f".{{2,}}(?:{endings})").fillna(False).astype(bool)


#: A name that looks like a person's: 2–4 Chinese characters, or a minority / foreign name with ``·``.
_PERSON_NAME = r"[\u3400-\u9fff]{2,4}|[^·]+·[^·]+.*"
#: An 18-character value of the credit-code alphabet with a letter before the last place: not a resident ID.
_CREDIT_SHAPE = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{17}[0-9A-HJ-NP-RTUW-Y]")


def owner_is_organisation(df: pd.DataFrame, feed: Feed) -> pd.Series:
    """Whether each staged row's owner (its ``name`` / ``id_number``) is an organisation, by ``feed.owner_kind``.

    ``auto``, per row: a valid resident ID makes a person, a valid credit code or 组织机构代码 an organisation
    (when an 18-character value is both, the name's shape decides); without a valid ID, an organisation-shaped
    name or an ID written in the credit-code alphabet with letters makes an organisation. A valid 9-character
    organisation code beside a name that looks like a person's (2–4 Chinese characters, or with ``·``) is not
    enough: a passport number (``E12345678``) has the same shape and passes the check one time in eleven.
    """
    if feed.owner_kind == "person" or "person" not in feed.entities:
        return pd.Series(False, index=df.index, dtype=bool)
    if feed.owner_kind == "organisation":
        return pd.Series(True, index=df.index, dtype=bool)
    ids = df["id_number"] if "id_number" in df.columns else pd.Series(pd.NA, index=df.index, dtype="string")
    names = normalize_names(df["name"] if "name" in df.columns else pd.Series(pd.NA, index=df.index))
    person_id = normalize_resident_ids(ids)["id_valid"].fillna(False).to_numpy(dtype=bool)
    credit = normalize_credit_codes(ids)["credit_valid"].fillna(False).to_numpy(dtype=bool)
    org_code = normalize_org_codes(ids)["org_code_valid"].fillna(False).to_numpy(dtype=bool)
    shaped = organisation_shaped(names).to_numpy(dtype=bool)
    cleaned = ids.astype("string").str.normalize("NFKC").str.upper().str.replace(r"[\s\-]", "", regex=True)
    letters = cleaned.str.fullmatch(_CREDIT_SHAPE.pattern).fillna(False) & cleaned.str.slice(
        0, 17
    ).str.contains("[A-Z]").fillna(False)
    person_like = names.str.fullmatch(_PERSON_NAME).fillna(False).to_numpy(dtype=bool) & ~shaped
    org = np.where(
        person_id,
        credit & shaped,
        credit | (org_code & ~person_like) | shaped | letters.to_numpy(dtype=bool),
    )
    return pd.Series(org, index=df.index, dtype=bool)


def organisation_codes(cell: pd.Series) -> pd.DataFrame:
    """What an organisation's credit-code cell holds, aligned to ``cell``.

    Columns: ``credit_code`` and ``org_type`` (valid credit codes only), ``org_code`` (the 9-character
    组织机构代码: given on its own, or characters 9–17 of a valid credit code whose embedded code passes its
    check), ``invalid_credit`` (a value given that is neither a valid credit code nor shaped like an
    organisation code) and ``invalid_org_code`` (shaped like an organisation code, wrong check character).
    ``000000000`` (its check character is right) is a placeholder, no code: the old code implies its credit
    code's identity (``matching.er.identity``), and a placeholder would join every row that writes it.
    """
    credit = normalize_credit_codes(cell)
    credit.index = cell.index
    old = normalize_org_codes(cell)
    old.index = cell.index
    valid = credit["credit_valid"].fillna(False).astype(bool)
    given = cell.astype("string").str.strip()
    given = given.notna() & (given != "")
    old_shape = old["org_code_shape"].fillna(False).astype(bool)
    return pd.DataFrame(
        {
            "credit_code": credit["credit_code"].where(valid),
            "org_type": credit["org_type"].where(valid),
            "org_code": _no_placeholder(credit["org_code"].fillna(old["org_code"]).astype("string")),
            "invalid_credit": given & ~valid & ~old_shape,
            "invalid_org_code": old_shape & ~old["org_code_valid"].fillna(False).astype(bool),
        },
        index=cell.index,
    )


_PLACEHOLDER_ORG_CODE = "0" * 9


def _no_placeholder(codes: pd.Series) -> pd.Series:
    return codes.mask(codes == _PLACEHOLDER_ORG_CODE)


__all__ = [
    "NO_ORGANISATION_VALUES",
    "ORGANISATION_NAME_ENDINGS",
    "no_organisation",
    "no_organisation_key",
    "organisation_codes",
    "organisation_shaped",
    "owner_is_organisation",
]
