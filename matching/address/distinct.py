"""Distinct address texts matched partition by partition, on several processes, reusing earlier results.

:func:`match_partitions` is what :func:`~matching.address.binding.match_distinct` does, one partition at a
time, for callers that keep only what they need of each partition (a file written as they go, a compact map
in memory) instead of one frame of every text: it yields each partition's boundaries and results in
code-point order. Partitions are matched on up to ``workers`` processes (forked, so the library and its lookup
indexes, built once before the fork, are shared, not rebuilt); a text's result does not depend on the other
texts of its partition, so the results are the same on one process or several. ``known``: results of earlier
runs (same library, same aliases, same code), taken as they are for the texts they hold — only the other texts
are matched.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

from matching.address.aliases import apply_aliases
from matching.address.binding import TEXTS_PER_PARTITION, TextPartition
from matching.address.library import AddressLibrary
from matching.address.match import match_addresses, prepare_library

#: Processes matching partitions at once (at most; one when there is one partition to match).
MATCH_WORKERS = min(2, os.cpu_count() or 1)

#: What a forked worker matches with (set in the parent before the pool forks: inherited, not pickled).
_WORKER_INPUTS: tuple[AddressLibrary, pd.DataFrame | None] | None = None

#: Earlier results for some texts: the texts found (positions in the chunk) and their rows → frame.
Known = Callable[[pd.Series], tuple[pd.Series, pd.DataFrame]]


def match_chunk(
    library: AddressLibrary, chunk: pd.Series, aliases: pd.DataFrame | None
) -> pd.DataFrame | None:
    """One partition's results (:func:`match_addresses` with the aliases applied), indexed by its texts;
    None for no text."""
    if not len(chunk):
        return None
    chunk = chunk.reset_index(drop=True)
    matched = apply_aliases(match_addresses(library, chunk), chunk, aliases, library)
    matched.index = chunk.to_numpy()
    return matched


def _match_in_worker(chunk: pd.Series) -> pd.DataFrame | None:
    assert _WORKER_INPUTS is not None, "the pool's worker was not forked from match_partitions"
    library, aliases = _WORKER_INPUTS
    return match_chunk(library, chunk, aliases)


def _merge_known(
    chunk: pd.Series, found: pd.Series, rows: pd.DataFrame, new: pd.DataFrame | None
) -> pd.DataFrame:
    """The partition's results in its text order: earlier ``rows`` where ``found``, ``new`` for the others."""
    if new is None:
        return rows
    if not found.any():
        return new
    merged = pd.concat([rows, new])
    return merged.reindex(chunk.to_numpy())


def match_partitions(
    library: AddressLibrary,
    unique: pd.Series,
    *,
    aliases: pd.DataFrame | None = None,
    per_partition: int | None = None,
    known: Known | None = None,
    workers: int | None = None,
) -> Iterator[tuple[TextPartition, pd.DataFrame, int]]:
    """(partition, its results indexed by its texts, how many were matched now) for the distinct, sorted,
    non-null ``unique`` texts, partition by partition in order. ``known(chunk)`` returns which texts of a
    chunk have earlier results (a boolean Series aligned to the chunk) and those results (indexed by text)."""
    global _WORKER_INPUTS
    per_partition = max(per_partition or TEXTS_PER_PARTITION, 1)
    chunks = [
        unique.iloc[s : s + per_partition].reset_index(drop=True)
        for s in range(0, len(unique), per_partition)
    ]
    lookups = [known(c) if known is not None else None for c in chunks]
    todo = [
        c if lk is None else c[~lk[0].to_numpy()].reset_index(drop=True)
        for c, lk in zip(chunks, lookups, strict=True)
    ]
    busy = sum(1 for t in todo if len(t))
    workers = min(workers or MATCH_WORKERS, busy)
    if workers > 1:
        # the lookup indexes built here, once, are shared by the forked workers (built there, each would hold
        # its own); frozen objects are left out of the workers' garbage collections, which would otherwise
        # write to (and so copy) every page of the parent's objects they traverse
        prepare_library(library)
        gc.collect()
        gc.freeze()
        _WORKER_INPUTS = (library, aliases)
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        results: Iterator[pd.DataFrame | None] = pool.map(_match_in_worker, todo)
    else:
        pool = None
        results = (match_chunk(library, t, aliases) for t in todo)
    try:
        for i, (chunk, lookup, new) in enumerate(zip(chunks, lookups, results, strict=True)):
            part = TextPartition(i, str(chunk.iloc[0]), str(chunk.iloc[-1]), len(chunk))
            matched = _merge_known(chunk, lookup[0], lookup[1], new) if lookup is not None else new
            assert matched is not None  # a chunk has texts; those not known were matched
            yield part, matched, len(todo[i])
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
            gc.unfreeze()
            gc.collect()  # what was frozen and is now unreferenced (the library, when the caller let it go)
        _WORKER_INPUTS = None


__all__ = ["MATCH_WORKERS", "Known", "match_chunk", "match_partitions"]
