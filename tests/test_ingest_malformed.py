"""The malformed corpus: every file gives a clear whole-file error or quarantined rows with reasons; no
traceback reaches the user; the accounting invariant holds for every file."""

from __future__ import annotations

import pytest
from ingest_corpus import HOUSES_FEED, corpus
from ingest_helpers import feed, make_workspace

from connectors import (
    FeedFileError,
    ingest_feed,
    load_field_issues,
    load_quarantine,
    load_staging,
    raw_manifest,
)
from gridhub.ingest_cli import ingest_command
from warehouse.files import sha256_file

CASES = corpus()


def test_corpus_is_big_enough():
    assert len(CASES) >= 70  # issue 14: at least 70 cases, run through the CLI and the portal
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name.encode("unicode_escape").decode()[:40] for c in CASES])
def test_malformed_file(tmp_path, case, capsys):
    ws = make_workspace(tmp_path / "ws", feed(source={"glob": "*"}), HOUSES_FEED)
    path = ws.landing_dir("police") / case.name
    path.write_bytes(case.data)
    sha = sha256_file(path)

    code = ingest_command(ws, "police", [path])
    out = capsys.readouterr().out
    assert "Traceback" not in out
    m = raw_manifest(ws, "police")
    assert len(m) == 1 and m["sha256"].iloc[0] == sha
    # the file is kept, unchanged, whatever happened
    assert (ws.raw / sha[:2] / sha).read_bytes() == case.data
    recorded = m["file_name"].iloc[0]
    assert not set(recorded) & {"/", "\\", "\n", "\r", "\u202e", "\x00"} and len(recorded) <= 200

    if case.expects_error:
        assert code == 1, out
        assert m["status"].iloc[0] == "failed"
        assert m["error_code"].iloc[0] in case.error, (m["error_code"].iloc[0], out)
        assert recorded in out and "FAILED" in out
        at = 0
        for words in case.message:  # in this order: the Chinese part comes first
            assert words in out[at:], (words, out)
            at = out.index(words, at)
        assert not (ws.staging_dir("police") / f"{sha}.parquet").exists()
        with pytest.raises(
            FeedFileError
        ) as err:  # explicit re-run: a failed file is tried again, same answer
            ingest_feed(ws, "police", [ws.landing_dir("police") / "_failed" / path.name])
        assert err.value.problems[0].code in case.error
        assert "文件" in str(err.value) and "file" in str(err.value)
        return

    assert code == 0, out
    assert case.warning in out, out
    row = m.iloc[0]
    assert row["status"] == "staged"
    assert row["rows_read"] == row["rows_staged"] + row["rows_quarantined"]
    staged = load_staging(ws, "police")
    q = load_quarantine(ws, "police")
    assert len(staged) == row["rows_staged"]
    assert q[["line"]].drop_duplicates().shape[0] == row["rows_quarantined"]
    assert set(q["reason_code"]) >= case.reasons, q[["line", "reason_code", "message"]]
    if not case.reasons:
        assert q.empty, q[["line", "reason_code", "message"]]
    if case.staged is not None:
        assert row["rows_staged"] == case.staged, (out, q[["line", "reason_code", "message"]])
    issues = load_field_issues(ws, "police")
    assert set(issues["reason_code"]) == case.issues, issues[["line", "reason_code", "message"]]
    assert set(issues["source_record_id"]) <= set(staged["source_record_id"])
    assert (q["line"] >= 2).all() and q["reason_code"].notna().all() and q["message"].str.len().gt(0).all()
    assert (staged["_line"] >= 2).all()
