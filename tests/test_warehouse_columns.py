"""warehouse.columns: the vectorised helpers of the table assembly give what the per-value code gave."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from warehouse.columns import arrow_column, python_values, sorted_distinct


def test_sorted_distinct_is_the_sorted_set_of_each_group():
    frame = pd.DataFrame(
        {
            "id": ["b", "a", "b", "a", None, "c", "b", "d"],
            "rel": ["x", "x", "y", "x", "x", "x", "y", "x"],
            "feed": ["公安", "住建", "人社", "公安", "民政", None, "公安", None],
        }
    )
    for by in ("id", ["id", "rel"]):
        got = sorted_distinct(frame, by, "feed")
        want = frame.dropna(subset=["feed"]).groupby(by)["feed"].agg(lambda s: sorted(set(s)))
        assert got.to_dict() == want.to_dict()
        assert list(got.index) == list(want.index)
    assert sorted_distinct(frame.iloc[:0], "id", "feed").empty


@pytest.mark.parametrize(
    ("values", "type_"),
    [
        (pd.Series(["甲", None, "乙", np.nan], dtype=object), pa.string()),
        (pd.Series(["甲", None, "乙"], dtype="string"), pa.string()),
        (pd.Series(["甲", 3, None], dtype=object), pa.string()),  # a number in a text column: str(3)
        (pd.Series([1.5, None, np.nan], dtype=object), pa.float64()),
        (pd.Series([1, None, 3], dtype="Int64"), pa.int64()),
        (pd.Series([True, None], dtype="boolean"), pa.bool_()),
        (pd.Series([True, None], dtype=object), pa.bool_()),
        (pd.Series([["a"], None, ("b", "c")], dtype=object), pa.list_(pa.string())),
        (
            pd.Series([["a"], np.nan, np.array(["b", "c"], dtype=object), []], dtype=object),
            pa.list_(pa.string()),
        ),
        (pd.Series([["a"], "b"], dtype=object), pa.list_(pa.string())),  # text in a list column: null
        (pd.Series([dt.date(2024, 1, 2), None], dtype=object), pa.date32()),
        (pd.Series(pd.to_datetime(["2024-01-02", None, "1949-12-31"])).astype("datetime64[ms]"), pa.date32()),
        (pd.Series(pd.to_datetime(["2024-01-02 13:30", None])), pa.date32()),  # a time of day: value by value
    ],
)
def test_arrow_column_gives_the_python_values(values, type_):
    assert arrow_column(values, type_).equals(pa.array(python_values(values, type_), type=type_))
