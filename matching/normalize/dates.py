"""Dates (日期) the ways departments write them, full-width digits, Chinese numerals and Excel serials included.

The parser is :func:`connectors.dates.parse_date_strings`, the one staging uses too, so a date staging accepts
is a date matching reads the same way; this module shapes its answer as the normalisers' frames.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa

from connectors.dates import COMMON_DATE_FORMATS, parse_date_strings
from matching.text import as_string_array

#: The dtype of a date column (Arrow date32).
DATE = pd.ArrowDtype(pa.date32())
DEFAULT_DATE_FORMATS = COMMON_DATE_FORMATS


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
    arr = as_string_array(s)
    parsed = parse_date_strings(
        arr, formats, common=False, excel_serial=excel_serial, earliest=earliest, latest=latest
    )
    date = pd.Series(pd.array(parsed.dates, dtype=DATE), index=s.index)
    given = pd.Series(arr.to_numpy(zero_copy_only=False), index=s.index, dtype="string").str.strip()
    valid = pd.Series(date.notna().to_numpy(), index=s.index, dtype="boolean")
    valid[given.isna() | (given == "")] = pd.NA
    fmt = pd.Series(parsed.formats, index=s.index, dtype="string")
    return pd.DataFrame({"date": date, "date_valid": valid, "date_format": fmt}, index=s.index)
