"""bench/other_district.py: another city's district, set up from the docs alone, checks clean and binds its
addresses (lanes 弄/号/室, 幢/座/单元 estates, villages and groups, full-width digits, 繁体, a city/district prefix)."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def other_district():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("other_district", BENCH / "other_district.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix != ".xlsx"  # xlsx carries its creation time
    }


def test_generator_is_deterministic_by_seed(other_district, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    other_district.generate(a, 300, seed=3)
    other_district.generate(b, 300, seed=3)
    assert _digest(a) == _digest(b)


def test_district_checks_clean_and_binds_its_addresses(other_district, tmp_path):
    from gridhub.check import check_workspace
    from gridhub.reference import address_library
    from gridhub.workspace import Workspace
    from matching.address import match_addresses

    root = tmp_path / "ws"
    other_district.generate(root, 400, seed=3)
    ws = Workspace(root)
    report = check_workspace(ws)
    assert report.ok and not report.warnings, report.format()
    police = pd.read_csv(root / "landing" / "ga_syrk" / "实有人口_2026Q2.csv", encoding="gb18030", dtype=str)
    with open(root / "truth" / "houses.csv", encoding="utf-8") as fh:
        truth = {r["record"]: r["key"] for r in csv.DictReader(fh) if r["feed"] == "ga_syrk"}
    bound = match_addresses(address_library(ws), police["现住地址"])
    right = (bound["address_code"].astype("string") == police["人员编号"].map(truth)).fillna(False)
    assert right.mean() >= 0.99, police.loc[~right, "现住地址"].head(10).tolist()
