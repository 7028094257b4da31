"""Phone numbers (联系电话): mobiles, landlines with area code, service numbers; several per field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from matching.normalize.common import DistinctValues
from matching.text import as_string_array, normalize_text

_PHONE_SPLIT = r"[,;/、，；|]|或|及|\s{2,}"
_COUNTRY = r"^(?:\+\s*86|0086|\(\+?86\)|\[86\])[\s\-]*"
# after the country code a landline drops its trunk 0 (+86-766-2345678): put it back
_COUNTRY_LANDLINE = r"^(?:\+\s*86|0086|\(\+?86\)|\[86\])[\s\-]*\(?0?([2-9])"
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
    d = DistinctValues(t)
    arr = as_string_array(pd.Series(d.uniques, dtype="string"))
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
    parts = pc.split_pattern_regex(pc.utf8_lower(arr), _PHONE_SPLIT)
    lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    phone, kind, ext, chosen = _first_valid(parts, lengths, default_area_code)
    others = np.full(n, None, dtype=object)
    for i in np.flatnonzero(lengths > 1):  # the rare fields that list several numbers
        items = [p.strip() for j, p in enumerate(parts[int(i)].as_py()) if j != chosen[i] and p.strip()]
        others[i] = "; ".join(items) if items else None
    return pd.DataFrame(
        {
            "phone": d.mapped(phone, "string"),
            "phone_kind": d.mapped(kind, "string"),
            "phone_valid": d.mapped(chosen >= 0, "boolean"),
            "phone_ext": d.mapped(ext, "string"),
            "phone_other": d.mapped(np.array(others, dtype=object), "string"),
        },
        index=s.index,
    )


def _first_valid(
    parts: pa.Array, lengths: np.ndarray, default_area_code: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per field (a list of the numbers it names): the first valid number, its kind and extension, and which
    of the first four list items it was (-1: none valid)."""
    n = len(parts)
    phone = np.full(n, None, dtype=object)
    kind = np.full(n, None, dtype=object)
    ext = np.full(n, None, dtype=object)
    chosen = np.full(n, -1, dtype=np.int64)
    max_parts = int(lengths.max()) if n else 0
    for k in range(min(max_parts, 4)):
        todo = (chosen < 0) & (lengths > k)
        if not todo.any():
            break
        cand = _list_element(parts, k, lengths)
        cand = pc.replace_substring_regex(cand, _COUNTRY_LANDLINE, r"0\1")
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
    return phone, kind, ext, chosen


def _list_element(parts: pa.Array, k: int, lengths: np.ndarray) -> pa.Array:
    """Element ``k`` of every list, empty string where the list is shorter."""
    safe = pc.if_else(pa.array(lengths > k), parts, pa.scalar([""] * (k + 1), type=parts.type))
    return pc.list_element(safe, k)
