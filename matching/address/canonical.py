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
    LABELS,
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
    return pd.DataFrame(out, index=canonical.index)


def distinct_places(detail: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Each :func:`extract_detail` row's (place, estate text) as a code into the distinct pairs, and those pairs.

    Places repeat a lot: callers read a place once per distinct pair.
    """
    codes, uniques = pd.factorize(detail["place"] + "\x1f" + detail["estate_text"])
    return codes, [_place_pair(str(key)) for key in uniques]


def _place_pair(key: str) -> tuple[str, str]:
    place, estate_text = key.split("\x1f")
    return place, estate_text
