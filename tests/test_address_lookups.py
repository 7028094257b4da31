"""The library's lookup indexes on integer codes find what the pandas aggregates over the library's strings
found; they are built once before the matching processes fork, which build none of their own; the matches
of the distinct texts are looked up by hash, checked against the text (issue 19, binding memory)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from matching.address import AddressLibrary
from matching.address.library import BLOCK_COLUMN
from matching.address.match import _DETAILS_BY_BLOCK, _MASK_COLUMNS, prepare_library
from matching.address.review import GIVEN
from matching.address.scores import MAX_CANDIDATES
from tests.test_address import DIVISIONS, _library_rows


@pytest.fixture(scope="module")
def library() -> AddressLibrary:
    return AddressLibrary.from_frames(pd.DataFrame(_library_rows()), DIVISIONS)


def _key_sets() -> list[tuple[str, ...]]:
    return [
        (BLOCK_COLUMN[kind], *sub)
        for kind, details in _DETAILS_BY_BLOCK.items()
        for r in range(len(details) + 1)
        for sub in combinations([c for c in _MASK_COLUMNS if c in details], r)
    ]


def _queries(lib: pd.DataFrame, keys: tuple[str, ...], rng: np.random.Generator) -> pd.DataFrame:
    """Keys of library rows, some with a value no row has (a number, an unknown block)."""
    q = lib[list(keys)].iloc[rng.integers(0, len(lib), 400)].reset_index(drop=True)
    for c in keys[1:]:
        q[c] = q[c].astype(object).where(rng.random(len(q)) > 0.15, "999")
    q[keys[0]] = np.where(rng.random(len(q)) > 0.05, q[keys[0]], 10**6).astype("int64")
    return q


@pytest.mark.parametrize("radix_limit", [None, 64])
def test_lookups_find_the_rows_the_grouped_library_holds(library, monkeypatch, radix_limit):
    """Row count, first row, buildings and grids of every key set matching asks for, as a pandas groupby of
    the library gives them, with the codes renumbered when the radix would be too wide (``radix_limit``)."""
    import matching.address.lookups as lookups

    if radix_limit is not None:
        monkeypatch.setattr(lookups, "_RADIX_LIMIT", radix_limit)
    lib, rng = library.addresses, np.random.default_rng(3)
    fresh = AddressLibrary.from_frames(pd.DataFrame(_library_rows()), DIVISIONS)
    for keys in _key_sets():
        agg = lib.groupby(list(keys), sort=False, observed=True).agg(
            n=("address_code", "size"),
            address_code=("address_code", "first"),
            n_building=("building_code", "nunique"),
            building_code=("building_code", "first"),
            n_grid=("grid_code", "nunique"),
            grid_code=("grid_code", "first"),
            standard_text=("standard_text", "first"),
        )
        q = _queries(lib, keys, rng)
        expected = agg.reset_index().drop(columns=list(keys))
        old = pd.MultiIndex.from_frame(agg.index.to_frame()).get_indexer(pd.MultiIndex.from_frame(q))
        new = fresh.lookup(keys, q)
        assert ((old >= 0) == (new >= 0)).all(), keys
        got = fresh.aggregate_rows(keys, new[new >= 0])
        pd.testing.assert_frame_equal(got, expected.iloc[old[old >= 0]].reset_index(drop=True))


def test_first_buildings_are_a_keys_first_buildings_in_library_order(library):
    lib, rng = library.addresses, np.random.default_rng(4)
    for kind in BLOCK_COLUMN:
        for r in range(len(GIVEN) + 1):
            for sub in combinations(GIVEN, r):
                keys = (BLOCK_COLUMN[kind], *sub)
                first = lib[[*keys, "building_code"]].drop_duplicates()
                first = first[first.groupby(list(keys), sort=False).cumcount() < MAX_CANDIDATES]
                rows = {k: list(v) for k, v in first.groupby(list(keys), sort=False).indices.items()}
                q = _queries(lib, keys, rng)
                groups = library.first_buildings(keys)
                found = groups.find(q)
                for i, key in enumerate(q.itertuples(index=False, name=None)):
                    want = rows.get(key if len(keys) > 1 else key[0])
                    if want is None:
                        assert found[i] < 0, (keys, key)
                    else:
                        got = groups.expand(np.array([found[i]]))[1]
                        assert list(first.index[want]) == list(got), (keys, key)


def test_matching_processes_build_no_index_of_their_own(library, monkeypatch):
    """match_partitions builds every index before it forks its workers: matching there adds none."""
    import matching.address.distinct as distinct

    original = distinct.match_chunk

    def checked(lib, chunk, aliases):
        before = (len(lib._aggregates), len(lib._first_buildings))
        out = original(lib, chunk, aliases)
        assert (len(lib._aggregates), len(lib._first_buildings)) == before, "a worker built an index"
        return out

    monkeypatch.setattr(distinct, "match_chunk", checked)
    fresh = AddressLibrary.from_frames(pd.DataFrame(_library_rows()), DIVISIONS)
    texts = pd.Series(
        sorted(set(fresh.addresses["standard_text"]))[:60] + ["湖滨社区滨江路3号9栋"], dtype="string"
    )
    parts = list(distinct.match_partitions(fresh, texts, per_partition=10, workers=2))
    assert sum(p.texts for p, _, _ in parts) == len(texts)
    assert len(fresh._aggregates) == len(_key_sets()) and prepare_library(fresh) > 0


def test_text_matches_found_by_hash_even_when_two_texts_share_one(monkeypatch):
    from gridhub import textmatches

    table = pa.table(
        {c: pa.array(v, type=pa.string()) for c, v in [("address_text", ["a", "b", "c"])]}
    ).append_column("status", pa.array(["matched", "ambiguous", "unmatched"]))
    monkeypatch.setattr(textmatches, "_hashes", lambda texts: np.zeros(len(texts), dtype=np.uint64))
    matches = textmatches.TextMatches(table)
    found, frame = matches.rows(pd.Index(["c", "x", "a"], dtype=object))
    assert found.tolist() == [True, False, True]
    assert frame["status"].tolist() == ["unmatched", "matched"] and frame.index.tolist() == ["c", "a"]
