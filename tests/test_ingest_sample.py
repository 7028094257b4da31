"""Every feed of the sample district ingests with the accounting holding, and exactly the problems the generator
planted are reported, on the lines and with the reasons it recorded: in quarantine when they cost the row, as
field issues of staged rows when they are in an optional field (a date typo in a birth date, connectors.rules)."""

from __future__ import annotations

import pandas as pd
import pytest

from connectors import ingest_feed, load_field_issues, load_quarantine, load_staging
from connectors.rules import NOTICES

generate = pytest.importorskip("gridhub.sample").generate_workspace


def test_sample_district_feeds_ingest(tmp_path):
    from gridhub.workspace import Workspace

    generate(tmp_path / "sample", persons=300, seed=11)
    ws = Workspace.from_env(tmp_path / "sample")
    assert len(ws.config.feeds) == 6
    for feed in ws.config.feeds:
        result = ingest_feed(ws, feed.name)
        result.check_accounting()
        assert result.files and all(not f.error for f in result.files)
        staged = load_staging(ws, feed.name)
        assert len(staged) == sum(f.rows_staged for f in result.files) > 0
    expected = pd.read_csv(ws.root / "truth" / "quarantine_expected.csv", dtype=str, keep_default_na=False)
    got = load_quarantine(ws)
    issues = load_field_issues(ws)
    issues = issues[~issues["reason_code"].isin([str(n) for n in NOTICES])]
    want = sorted(zip(expected["feed"], expected["line"].astype(int), expected["reason_code"], strict=True))
    have = sorted(
        [*zip(got["feed"], got["line"].astype(int), got["reason_code"], strict=True)]
        + [*zip(issues["feed"], issues["line"].astype(int), issues["reason_code"], strict=True)]
    )
    assert have == want
    quarantined = set(zip(got["feed"], got["line"], strict=True))
    assert not quarantined & set(zip(issues["feed"], issues["line"], strict=True))
    # a field issue belongs to a staged row: the planted record is staged (the bad value nulled), not lost
    ids = dict(
        zip(
            zip(expected["feed"], expected["line"].astype(int), strict=True),
            expected["source_record_id"],
            strict=True,
        )
    )
    assert len(issues) > 0
    for feed, line, rid, fld in zip(
        issues["feed"], issues["line"], issues["source_record_id"], issues["field"], strict=True
    ):
        assert ids[(feed, int(line))] == rid
        row = load_staging(ws, feed).set_index("source_record_id").loc[rid]
        assert int(row["_line"]) == line and pd.isna(row[fld])
