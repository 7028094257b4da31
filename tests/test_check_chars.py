"""The check-character algorithms written once over byte matrices (matching.normalize) and their users: the
one-value functions and the column-wide warehouse checks (warehouse.codes)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from gridhub.sample import codes as independent  # the sample generator's own, loop-per-character versions
from warehouse.checkchars import (
    CREDIT_CHARSET,
    CREDIT_VALUE,
    credit_code_check_char,
    credit_code_check_chars,
    organisation_code_check_char,
    organisation_code_check_chars,
    resident_id_check_char,
    resident_id_check_chars,
)
from warehouse.codes import credit_code_valid, resident_id_valid

ORG_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _matrix(strings: list[str]) -> np.ndarray:
    width = len(strings[0])
    return np.frombuffer("".join(strings).encode("ascii"), dtype=np.uint8).reshape(len(strings), width)


def _random(rng: np.random.Generator, alphabet: str, n: int, width: int) -> list[str]:
    picks = rng.integers(0, len(alphabet), size=(n, width))
    return ["".join(alphabet[i] for i in row) for row in picks]


@pytest.fixture(scope="module")
def rng() -> np.random.Generator:
    return np.random.default_rng(2024)


def test_resident_id_check_chars_agree_with_the_independent_implementation(rng):
    bodies = _random(rng, "0123456789", 2000, 17) + ["11010519491231002"]
    got = resident_id_check_chars(_matrix(bodies))
    assert [chr(c) for c in got] == [independent.id_check_char(b) for b in bodies]
    assert chr(got[-1]) == "X"  # 11010519491231002X, the standard's example
    assert [resident_id_check_char(b) for b in bodies[:200]] == [chr(c) for c in got[:200]]


def test_credit_code_check_chars_agree_with_the_independent_implementation(rng):
    bodies = _random(rng, CREDIT_CHARSET, 2000, 17) + ["91350100M000100Y4"]
    got = credit_code_check_chars(CREDIT_VALUE[_matrix(bodies)])
    assert [chr(c) for c in got] == [independent.credit_check_char(b) for b in bodies]
    assert chr(got[-1]) == "3"  # the worked example of GB 32100
    assert [credit_code_check_char(b) for b in bodies[:200]] == [chr(c) for c in got[:200]]


def test_organisation_code_check_chars_agree_with_the_independent_implementation(rng):
    bodies = _random(rng, ORG_CHARS, 2000, 8) + ["M000100Y"]
    got = organisation_code_check_chars(_matrix(bodies))
    expected = [independent.org_code_check_char(b) for b in bodies]
    assert [chr(c) for c in got] == expected
    assert {"X", "0"} <= set(expected)  # both special cases (10 → X, 11 → 0) were exercised
    assert chr(got[-1]) == "4"
    assert [organisation_code_check_char(b.lower()) for b in bodies[:200]] == expected[:200]


def test_empty_matrices_give_empty_results():
    assert resident_id_check_chars(np.zeros((0, 18), dtype=np.uint8)).shape == (0,)
    assert credit_code_check_chars(np.zeros((0, 18), dtype=np.int64)).shape == (0,)
    assert organisation_code_check_chars(np.zeros((0, 8), dtype=np.uint8)).shape == (0,)
    assert resident_id_valid(pa.array([], pa.string())).to_pylist() == []
    assert credit_code_valid(pa.chunked_array([], pa.string())).to_pylist() == []


def test_column_checks_use_the_same_algorithm(rng):
    ids = [b + independent.id_check_char(b) for b in _random(rng, "0123456789", 500, 17)]
    wrong_ids = [i[:17] + ("0" if i[17] != "0" else "1") for i in ids]
    assert all(resident_id_valid(pa.array(ids)).to_pylist())
    assert not any(resident_id_valid(pa.array(wrong_ids)).to_pylist())
    credit = [b + independent.credit_check_char(b) for b in _random(rng, CREDIT_CHARSET, 500, 17)]
    wrong_credit = [c[:17] + ("0" if c[17] != "0" else "1") for c in credit]
    assert all(credit_code_valid(pa.array(credit)).to_pylist())
    assert not any(credit_code_valid(pa.array(wrong_credit)).to_pylist())
