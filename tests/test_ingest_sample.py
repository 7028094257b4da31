"""Every feed of the sample district ingests with the accounting holding, and exactly the rows the generator
planted as bad are quarantined, on the lines and with the reasons it recorded."""

from __future__ import annotations

import pandas as pd
import pytest

from connectors import ingest_feed, load_quarantine, load_staging

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
    want = sorted(zip(expected["feed"], expected["line"].astype(int), expected["reason_code"], strict=True))
    have = sorted(zip(got["feed"], got["line"].astype(int), got["reason_code"], strict=True))
    assert have == want
