"""synth_tables (the tests' synthetic warehouse) builds its ID numbers and credit codes with the shared
check-character functions of warehouse.checkchars; for a given seed its output is pinned, so the benchmarks
and tests that use it keep comparing like with like."""

from __future__ import annotations

import hashlib

import numpy as np
from synth_tables import credit_codes, resident_ids, synthetic_tables

from gridhub.sample import codes as independent  # loop-per-character versions, written separately


def _digest(values: list[str]) -> str:
    return hashlib.sha256("\n".join(values).encode("ascii")).hexdigest()


def test_resident_ids_for_a_seed_are_pinned_and_carry_the_gb11643_check_digit():
    ids = resident_ids(np.random.default_rng(1), 2_000).to_pylist()
    assert ids[:3] == ["440106197506195405", "440106197506274592", "440106197507053783"]
    assert _digest(ids) == "aab0df7653fc16f9397a168d8c6f15ab818f2037998242df3ad3c7976c421d15"
    assert len(set(ids)) == len(ids)
    assert all(v[17] == independent.id_check_char(v[:17]) for v in ids)


def test_credit_codes_for_a_seed_are_pinned_and_carry_the_gb32100_check_character():
    codes = credit_codes(np.random.default_rng(1), 2_000).to_pylist()
    assert codes[:3] == ["91440106EFPX14RX78", "914401069TD8R7CKHC", "9144010620TPRGRAEN"]
    assert _digest(codes) == "e0a2248b74578c7bf694ab7305347572c819a83ea574cc08438bdd47d7f2f367"
    assert all(v[17] == independent.credit_check_char(v[:17]) for v in codes)


def test_empty_requests_give_empty_columns():
    assert resident_ids(np.random.default_rng(0), 0).to_pylist() == []
    assert credit_codes(np.random.default_rng(0), 0).to_pylist() == []


def test_synthetic_tables_codes_for_a_seed_are_pinned():
    tables = synthetic_tables(300, seed=3)
    assert _digest(tables["person"].column("id_number").to_pylist()) == (
        "8dfbac939f7f0808197b721d7a1902a9517fdb5e960533555f6d8cd7c4367206"
    )
    assert _digest(tables["organisation"].column("credit_code").to_pylist()) == (
        "5123ddb1d8b5091b5fa0567ecbe1dd39724f51a748e936c8c006e3c492959e1d"
    )
