"""Dates (日期) the ways departments write them, full-width digits, Chinese numerals and Excel serials included."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from matching.text import arrow_to_series, as_string_array, convert_numerals_before, normalize_text

#: The dtype of a date column (Arrow date32).
DATE = pd.ArrowDtype(pa.date32())
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
