"""The summary's tables line up in a terminal when cells hold Chinese (two columns a character) and ASCII."""

from __future__ import annotations

import pytest

from gridhub.report import display_width, format_summary


@pytest.mark.parametrize(
    ("text", "columns"),
    [
        ("abc", 3),
        ("公安", 4),
        ("实有人口（流动）", 16),  # full-width parentheses are wide
        ("ＡＢ", 4),  # full-width Latin
        ("ｶﾀ", 2),  # half-width katakana are narrow
        ("e\u0301", 1),  # a combining accent takes no column
        ("公安 · 实有人口 — ok", 20),
    ],
)
def test_display_width(text, columns):
    assert display_width(text) == columns


def _separator_columns(line: str) -> list[int]:
    """Display columns at which the table's column separators ('|' in rows, '+' in the rule) stand."""
    cols, at = [], 0
    for ch in line:
        if ch in "|+":
            cols.append(at)
        at += display_width(ch)
    return cols


def test_feeds_table_aligned_with_chinese_cells():
    summary = {
        "workspace": "/ws",
        "published": False,
        "feeds": [
            {
                "feed": "gongan_population",
                "department": "公安局",
                "rows_read": 20000,
                "rows_staged": 19990,
                "rows_quarantined": 10,
                "quarantine_reasons": {"ragged_row": 7, "encoding_error": 3},
            },
            {
                "feed": "minzheng_assistance",
                "department": "民政局（社会救助科）",
                "rows_read": 12,
                "rows_staged": 12,
                "rows_quarantined": 0,
                "quarantine_reasons": {},
            },
            {
                "feed": "x",
                "department": "ops",
                "rows_read": 0,
                "rows_staged": 0,
                "rows_quarantined": 0,
                "quarantine_reasons": {},
            },
        ],
    }
    text = format_summary(summary)
    table = text.split("Feeds in\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(table) == 5  # header, rule, three feeds
    assert any("民政局（社会救助科）" in line for line in table)
    assert len({display_width(line) for line in table}) == 1, table
    separators = {tuple(_separator_columns(line)) for line in table}
    assert len(separators) == 1, table
    assert len(next(iter(separators))) == 5  # six columns
