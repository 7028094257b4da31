"""A full feed's next file leaves records out: the next run retires the persons only they described."""

from __future__ import annotations

import pandas as pd
import yaml

from connectors import ingest_feed, load_staging
from gridhub import pipeline
from gridhub.workspace import Workspace
from warehouse import read_table

FEED = "gongan_population"


def test_records_left_out_of_a_full_file_retire_their_persons(workspace_copy):
    config = workspace_copy / "gridhub.yaml"
    cfg = yaml.safe_load(config.read_text(encoding="utf-8"))
    [spec] = [f for f in cfg["feeds"] if f["name"] == FEED]
    spec["mode"] = "full"
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    ws = Workspace(workspace_copy)
    [first_file] = sorted(ws.landing_dir(FEED).glob("*.csv"))
    lines = first_file.read_bytes().decode("gb18030").splitlines(keepends=True)
    for feed in ws.config.feeds:
        ingest_feed(ws, feed.name).check_accounting()
    first = pipeline.run_all(ws)
    persons_before = set(read_table(ws.warehouse, "person", layer="restricted")["person_id"].to_pylist())

    # the next whole table: the first 40 records are gone from the source
    (ws.landing_dir(FEED) / "next.csv").write_bytes("".join(lines[:1] + lines[41:]).encode("gb18030"))
    ingest_feed(ws, FEED).check_accounting()
    assert len(load_staging(ws, FEED)) == len(lines) - 41
    second = pipeline.run_all(ws)
    assert second["run_id"] != first["run_id"]

    history = pd.read_parquet(ws.work_dir(second["run_id"]) / "resolved" / "person_id_history.parquet")
    retired = set(history.loc[history["reason"] == "retired", "old_id"])
    assert retired and retired <= persons_before  # persons described by those records alone
    persons_after = set(read_table(ws.warehouse, "person", layer="restricted")["person_id"].to_pylist())
    assert not retired & persons_after
