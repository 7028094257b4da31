"""`gridhub explain` masks ID numbers and phones unless `--reveal` (which the audit log records), and an
entity's explanation fits a terminal (its key columns, wrapped to the terminal's width)."""

from __future__ import annotations

import getpass
import json
import re

import pandas as pd
import pyarrow as pa
import pytest

from gridhub import cli
from matching.er import ResolutionState
from warehouse import current_manifest
from warehouse.privacy import mask_values

WIDTH = 100


@pytest.fixture
def published(published_sample):
    """The sample district published once for the session (read only: explain writes only its audit log)."""
    return published_sample


def _person_with_identifiers(ws):
    """The biggest person entity and the ID numbers and phones of its records."""
    reg = ResolutionState.load(ResolutionState.folder(ws.state, "person"), "person").registry
    run_id = current_manifest(ws.warehouse)["run_id"]
    mentions = pd.read_parquet(ws.work_dir(run_id) / "bound" / "person.parquet")
    sizes = reg["entity_id"].value_counts()
    entity = str(sizes.index[0])
    keys = reg.loc[reg["entity_id"] == entity, "record_key"].astype(str)
    rows = mentions[mentions["record_key"].astype(str).isin(keys)]
    ids = sorted({str(v) for v in rows["id_number"].dropna() if len(str(v)) == 18})
    phones = sorted({str(v) for v in rows["phone"].dropna() if len(str(v)) == 11})
    assert ids and phones, "the sample's biggest person has an ID number and a mobile"
    return entity, list(keys), ids, phones


def _masked(value: str) -> str:
    return str(mask_values(pa.array([value]))[0].as_py())


def _main(capsys, ws, *argv):
    code = cli.main(["explain", *argv, "--workspace", str(ws.root)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_explain_person_masks_ids_and_phones_and_fits_the_terminal(published, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    entity, _, ids, phones = _person_with_identifiers(published)
    out = _main(capsys, published, "person", entity)
    for value in ids + phones:
        assert value not in out
    assert _masked(ids[0]) in out and _masked(phones[0]) in out  # 440***********002X, 138****8000
    members = out.split("links (scored pairs", 1)[0]
    assert "id_number" in members and "phone" in members and "name" in members
    assert "name_pinyin" not in members and "raw_sha256" not in members  # key columns only
    assert max(len(line) for line in members.splitlines()) <= WIDTH
    links = out.split("links (scored pairs", 1)[1].split("\n\n")[:3]  # the links' blocks, wrapped
    assert "exact" in "\n".join(links) and "***" not in "\n".join(links)  # levels are not values: not masked
    assert not published.portal_audit.exists() or "explain_reveal" not in published.portal_audit.read_text()


def test_explain_pair_masks_the_compared_values(published, capsys):
    _, keys, ids, phones = _person_with_identifiers(published)
    out = _main(capsys, published, "pair", keys[0], keys[1])
    assert "[person]" in out and "id_number" in out
    for value in ids + phones:
        assert value not in out
    assert _masked(ids[0]) in out
    assert re.search(r"address_code=\d{18}", out)  # codes of the reference data are not personal: shown


def test_reveal_shows_the_values_and_is_audited(published, capsys):
    entity, _, ids, phones = _person_with_identifiers(published)
    out = _main(capsys, published, "person", entity, "--reveal")
    assert ids[0] in out and phones[0] in out
    records = [json.loads(line) for line in published.portal_audit.read_text().splitlines()]
    reveal = [r for r in records if r["event"] == "explain_reveal"]
    assert len(reveal) == 1
    assert reveal[0]["user"] == getpass.getuser()
    assert reveal[0]["what"] == "person" and reveal[0]["ids"] == [entity]
    assert reveal[0]["at"]


def test_pair_values_too_wide_for_the_terminal_stack():
    from matching.er.explain import PairExplanation, format_pair

    table = pd.DataFrame(
        [
            {"comparison": "sex", "value_l": "M", "value_r": "M", "level": "exact", "weight": 1.0},
            {
                "comparison": "address",
                "value_l": "广东省云江市青石区青石街道石桥社区石桥街1号1栋1单元401室",
                "value_r": "青石街道石桥社区石桥街1号1栋1单元402室",
                "level": "same_building",
                "weight": 4.0,
            },
        ]
    ).assign(m=0.9, u=0.1, tf_adjustment=0.0)
    text = format_pair(PairExplanation("a:1", "b:2", table, -8.0, -3.0, 0.1), columns=100)
    lines = text.splitlines()
    (sex,) = [ln for ln in lines if ln.startswith("sex")]
    assert sex.endswith("M | M")
    at = next(i for i, ln in enumerate(lines) if ln.startswith("address"))
    assert lines[at].endswith("广东省云江市青石区青石街道石桥社区石桥街1号1栋1单元401室 |")
    assert lines[at + 1].strip() == "青石街道石桥社区石桥街1号1栋1单元402室"
    assert lines[at + 1].index("青") == lines[at].index("广")  # the right value under the left one
