"""Canonical address text (vectorised, Arrow) and its split into place and detail.

:func:`canonical_address_text` applies the rules of :mod:`matching.address.rules`; :func:`extract_detail`
splits canonical text into the place (everything before the first number) and the numbered elements.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from matching.address.rules import (
    CANON_REPLACEMENTS,
    DETAIL_FIELDS,
    DETAIL_PATTERN,
    ELEMENT_FORM,
    ELEMENT_MARKERS,
    GROUP_IN_ROAD,
    LABELS,
    LETTER_BUILDING,
    NUMERAL,
    NUMERAL_BEFORE,
)
from matching.text import (
    arrow_to_series,
    as_string_array,
    convert_numerals_array,
    map_distinct,
    to_simplified,
)


def _canonical_array(arr: pa.Array) -> pa.Array:
    arr = pc.utf8_normalize(arr, form="NFKC")
    arr = to_simplified(arr)
    arr = pc.replace_substring_regex(arr, CANON_REPLACEMENTS[0][0], CANON_REPLACEMENTS[0][1])
    arr = convert_numerals_array(arr, NUMERAL_BEFORE, NUMERAL)
    for pattern, repl in CANON_REPLACEMENTS[1:]:
        arr = pc.replace_substring_regex(arr, pattern, repl)
    return pc.replace_substring_regex(arr, LABELS.pattern, "")


def canonical_address_text(texts: pd.Series) -> pd.Series:
    """The canonical form the parser reads: half-width, simplified, no spaces, numerals and markers unified.

    >>> canonical_address_text(pd.Series(["濱江路十八號 三幢二單元５０１"])).iloc[0]
    '滨江路18号3栋2单元501'
    """
    return map_distinct(texts, _canonical_array)


def strip_zeros(s: pd.Series) -> pd.Series:
    """'05' → '5', '' → NA."""
    out = s.str.replace(r"^0+(?=\d)", "", regex=True)
    return out.mask(out.str.len() == 0)


def extract_detail(canonical: pd.Series) -> pd.DataFrame:
    """Canonical texts → one column per :data:`~matching.address.rules.DETAIL_FIELDS`, aligned to them.

    ``place``, ``estate_text`` and ``rest`` are ``""`` when absent; the numbers are NA when absent and carry no
    leading zeros.
    """
    arr = as_string_array(canonical.fillna(""))
    st = pc.extract_regex(arr, DETAIL_PATTERN)
    out = {}
    for name in DETAIL_FIELDS:
        col = arrow_to_series(st.field(name), canonical.index)
        out[name] = col.fillna("") if name in ("place", "estate_text", "rest") else strip_zeros(col)
    detail = pd.DataFrame(out, index=canonical.index)
    _letter_buildings(detail)
    return detail


def _letter_buildings(detail: pd.DataFrame) -> None:
    """A letter building (``阳光花园A栋2单元501``, ``长乐路12号B栋``) ends the place or the estate text, which take
    every character before the first digit: move the letter (upper-case) to ``building``."""
    for field in ("estate_text", "place"):
        todo = detail["building"].isna() & detail[field].str.endswith("栋")
        if not todo.any():
            continue
        m = detail.loc[todo, field].str.extract(LETTER_BUILDING)
        hit = m["building"].notna()
        idx = m.index[hit]
        detail.loc[idx, "building"] = m.loc[hit, "building"].str.upper()
        detail.loc[idx, field] = m.loc[hit, "before"]


def library_element(values: pd.Series, element: str) -> pd.Series:
    """A library column of a numbered element (:data:`~matching.address.rules.ELEMENT_MARKERS`) in the parser's
    form: bare digits without leading zeros, ``""`` when empty.

    The value is read with the parser's rules (:func:`canonical_address_text`), so ``7号``, ``1号楼``, ``1#``,
    ``三栋``, ``2单元``, ``501房``, ``5层``, ``第三村民小组``, ``５０１`` and a bare ``三`` all give the digits. A
    value that is no number of its element after that (``18之1``) is kept in its canonical form: it binds
    nothing, and :func:`~matching.address.checks.library_problems` reports a column full of them. A building
    may be a letter or a 天干 (``A座``, ``b栋``, ``甲栋`` → ``A``, ``B``, ``甲``).

    >>> library_element(pd.Series(["7栋", "三", "1号楼", "01#", "A座", "18之1", ""]), "building").tolist()
    ['7', '3', '1', '1', 'A', '18之1', '']
    """
    marker = ELEMENT_MARKERS[element]
    text = values.astype("string").fillna("")
    # a bare Chinese numeral (三) counts only before its marker: give it one
    bare = text.str.fullmatch(f"[{NUMERAL}十百千]+").fillna(False)
    text = text.where(~bare, text + marker)
    canon = canonical_address_text(text).fillna("")
    number = canon.str.extract(ELEMENT_FORM[element], expand=False)
    out = strip_zeros(number.astype("string").str.upper()).fillna(canon)
    return out.astype("string")


def group_in_road(road: pd.Series) -> pd.Series:
    """The villager group a library writes in its road column (石岭村3组, 第三村民小组 → ``3``), else NA."""
    canon = canonical_address_text(road.astype("string").fillna("")).fillna("")
    return strip_zeros(canon.str.extract(GROUP_IN_ROAD, expand=False).astype("string"))


def distinct_places(detail: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Each :func:`extract_detail` row's (place, estate text) as a code into the distinct pairs, and those pairs.

    Places repeat a lot: callers read a place once per distinct pair.
    """
    codes, uniques = pd.factorize(detail["place"] + "\x1f" + detail["estate_text"])
    return codes, [_place_pair(str(key)) for key in uniques]


def _place_pair(key: str) -> tuple[str, str]:
    place, estate_text = key.split("\x1f")
    return place, estate_text
