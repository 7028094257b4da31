"""`gridhub explain` on a small sample district run through the whole pipeline (no Airflow)."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from gridhub.workspace import Workspace
from matching.er import ResolutionState
from matching.er.explain import explain_command

PERSON_COMPARISONS = ("name", "id_number", "birth_date", "sex", "phone", "address")


@pytest.fixture
def published(published_sample):
    """The sample district published once for the session (read only: explain writes only its audit log)."""
    return published_sample


def _run(ws, what, ids):
    out, err = io.StringIO(), io.StringIO()
    code = explain_command(ws, what, ids, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _registry(ws, entity_type):
    return ResolutionState.load(ResolutionState.folder(ws.state, entity_type), entity_type).registry


def test_explain_person_names_every_comparison_with_level_and_weight(published):
    reg = _registry(published, "person")
    sizes = reg["entity_id"].value_counts()
    entity = str(sizes.index[0])
    assert sizes.iloc[0] > 1, "the sample has persons seen in several feeds"
    code, out, err = _run(published, "person", [entity])
    assert code == 0, err
    assert f"entity {entity}: {sizes.iloc[0]} records" in out
    for name in PERSON_COMPARISONS:
        assert f"\n{name} " in out, name  # one row per comparison in each explained link
    assert "match probability" in out and "prior" in out


def test_explain_pair_same_person_across_feeds(published):
    reg = _registry(published, "person")
    members = (
        reg[reg["entity_id"] == reg["entity_id"].value_counts().index[0]]["record_key"].astype(str).tolist()
    )
    left, right = members[0], members[1]
    code, out, err = _run(published, "pair", [left, right])
    assert code == 0, err
    assert "[person]" in out and "same entity" in out
    assert f"{left}  ↔  {right}" in out
    body = out.split("[person]", 1)[1]
    for name in PERSON_COMPARISONS:
        assert f"\n{name} " in body
    total = [ln for ln in body.splitlines() if ln.startswith("total")][0]
    assert float(total.rsplit(" ", 1)[1]) >= 0.9  # the run joined them at match ≥ 0.9 with the same model


def test_explain_pair_of_different_organisations_is_shown_apart(published):
    reg = _registry(published, "organisation")
    firsts = reg.drop_duplicates("entity_id")["record_key"].astype(str).tolist()
    code, out, err = _run(published, "pair", firsts[:2])
    assert code == 0, err
    assert "[organisation]" in out and "different entities" in out
    assert "org_name" in out and "credit_code" in out


def test_explain_pair_accepts_feed_and_source_record_id(published):
    """人社's employer mention is keyed `renshe_insured:<xh>#org`; `renshe_insured:<xh>` finds it."""
    bound = pd.read_parquet(published.work_dir(pipeline_run(published)) / "bound" / "organisation.parquet")
    renshe = bound[bound["record_key"].str.endswith("#org")]
    if len(renshe) < 2:
        pytest.skip("no employer mentions in this sample")
    a, b = (f"{r.feed}:{r.source_record_id}" for r in renshe.head(2).itertuples())
    code, out, err = _run(published, "pair", [a, b])
    assert code == 0, err
    assert "[organisation]" in out and "[person]" in out  # the same 人社 rows are persons too


def pipeline_run(ws):
    from warehouse import current_manifest

    return current_manifest(ws.warehouse)["run_id"]


@pytest.mark.parametrize(
    ("what", "ids", "code", "needle"),
    [
        ("person", ["P000000000000"], 1, "no person entity 'P000000000000'"),
        ("facility", ["P000000000000"], 1, "facility ids start with 'F'"),
        ("pair", ["公安:不存在", "人社:也不存在"], 1, "no entity type has both records"),
        ("pair", ["only_one:1"], 2, "give two records"),
    ],
)
def test_unknown_ids_give_clear_messages(published, what, ids, code, needle):
    got, out, err = _run(published, what, ids)
    assert got == code
    assert needle in err
    assert out == ""


def test_nothing_published_yet(workspace_copy):
    code, out, err = _run(Workspace(workspace_copy), "person", ["P000000000000"])
    assert code == 1
    assert "nothing is published" in err


def test_explain_pair_in_a_district_without_a_facility_feed(published, tmp_path):
    """No feed carries facilities: the run leaves an empty facility mention file and no facility state; a pair
    of persons is still explained (it stopped with 'no committed facility resolution state')."""
    import shutil

    import pyarrow.parquet as pq

    root = tmp_path / "ws"
    shutil.copytree(published.root, root, symlinks=True)
    ws = Workspace(root)
    bound = ws.work_dir(pipeline_run(ws)) / "bound" / "facility.parquet"
    pq.write_table(pq.read_table(bound).slice(0, 0), bound)
    shutil.rmtree(ResolutionState.folder(ws.state, "facility"))
    reg = _registry(ws, "person")
    members = reg[reg["entity_id"] == reg["entity_id"].value_counts().index[0]]["record_key"].astype(str)
    code, out, err = _run(ws, "pair", members.head(2).tolist())
    assert code == 0, err
    assert "[person]" in out and "same entity" in out
