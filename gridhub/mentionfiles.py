"""The staged files of a feed turned into mentions file by file, reusing the published run's mentions of the
files it already read (the daily delta reads its new files only).

A feed's current rows (:func:`connectors.load_staging`) are its staged files' rows in order, less the rows
a later row of the same record id replaces and the deletions. Every file is cut into chunks of
``batch_rows`` of its own rows (a partition: feed, file, chunk); a chunk's *own mentions* are those of its
rows that are not deletions, and its *current mentions* those less the mentions of its rows a later file
replaces (found by record id: a mention, a field issue names its staged row's record id, a link its
mention's record key). Every row gives its mentions on its own, so the current mentions of the chunks, in
order, are those of the feed's current rows.

The own mentions of each chunk are kept in the run's ``mentions/files/<feed>/<staged file>/`` (a marker
file per chunk holds their key: the code, the feed's config and ``batch_rows``), and a later run takes them
from the run the warehouse publishes when the key is the same, instead of reading the staged rows again.
A file in which a record id comes twice (or has none) in a feed of several files has no own mentions kept:
its current rows are read and turned into mentions each run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.files import atomic_write_parquet, atomic_write_text

if TYPE_CHECKING:
    from connectors.feeds import Feed, Zones
    from gridhub.workspace import Workspace

log = logging.getLogger(__name__)

CACHE_DIR = "files"
ENTITY_OUTPUTS = ("person", "organisation", "house", "facility")


@dataclass
class StagedFile:
    """One staged file of a feed: which of its rows are current, which are the file's own (not deletions),
    and whether its record ids tell its rows apart (so its own mentions may be kept and filtered)."""

    path: Path
    current: np.ndarray
    own: np.ndarray
    rids: pd.Series
    cacheable: bool


def staged_files_of(inputs: Zones, feed: Feed) -> list[StagedFile]:
    """The staged files ``connectors.load_staging`` reads for ``feed``, with its choice of current rows."""
    from connectors import staged_files
    from connectors.feeds import DELETED_COLUMN

    paths = staged_files(inputs, feed.name)
    rids, deleted, sizes = [], [], []
    for p in paths:
        names = pq.read_schema(p).names
        n = pq.ParquetFile(p).metadata.num_rows
        cols = [c for c in ("source_record_id", DELETED_COLUMN) if c in names]
        t = pq.read_table(p, columns=cols)
        rid = (
            t["source_record_id"].cast(pa.string())
            if "source_record_id" in cols
            else pa.nulls(n, pa.string())
        )
        rids.append(pd.Series(rid.to_numpy(zero_copy_only=False), dtype=object))
        gone = pc.fill_null(t[DELETED_COLUMN].cast(pa.bool_()), False) if DELETED_COLUMN in cols else None
        deleted.append(gone.to_numpy(zero_copy_only=False) if gone is not None else np.zeros(n, dtype=bool))
        sizes.append(n)
    has_rid = "source_record_id" in feed.staging_schema.names
    several = len(paths) > 1 and has_rid
    if several:  # load_staging: the latest row per record id, over all the files in order
        every = pd.concat(rids, ignore_index=True)
        last = ~every.duplicated(keep="last").to_numpy()
    out, start = [], 0
    for p, rid, gone, n in zip(paths, rids, deleted, sizes, strict=True):
        kept = last[start : start + n] if several else np.ones(n, dtype=bool)
        start += n
        clean = not several or (rid.notna().all() and not rid.duplicated().any())
        out.append(StagedFile(p, kept & ~gone, ~gone, rid, bool(clean)))
    return out


def cache_key(feed: Feed, batch_rows: int) -> str:
    """What a chunk's own mentions depend on besides its rows: gridhub's code, the feed's config, the chunking."""
    from gridhub.runid import code_digest

    text = f"{code_digest()}\n{feed.model_dump_json()}\n{batch_rows}"
    return hashlib.sha256(text.encode()).hexdigest()


def published_cache(ws: Workspace) -> Path | None:
    """The mentions cache of the run the warehouse publishes now (None without one)."""
    from warehouse.read import current_run_id

    run_id = current_run_id(ws.warehouse)
    folder = ws.step_dir(run_id, "mentions") / CACHE_DIR if run_id else None
    return folder if folder is not None and folder.is_dir() else None


def _marker(folder: Path, chunk: int) -> Path:
    return folder / f"{chunk:06d}.json"


def marker_key(path: Path) -> str | None:
    """The ``key`` a JSON marker file says its files were made under; None when it is missing or unreadable."""
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["key"])
    except (OSError, ValueError, KeyError):
        return None


def link_or_copy(src: Path, target: Path) -> None:
    """``target`` as a hard link to ``src`` (a copy where links are not possible), replacing it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(src, target)
    except OSError:
        shutil.copy2(src, target)


def _reuse(previous: Path | None, folder: Path, chunk: int, key: str) -> bool:
    """Link the chunk's own mentions from the published run's cache into ``folder`` when made under ``key``."""
    if previous is None:
        return False
    before = previous / folder.parent.name / folder.name
    if marker_key(_marker(before, chunk)) != key:
        return False
    for p in [*before.glob(f"{chunk:06d}-*.parquet"), _marker(before, chunk)]:
        link_or_copy(p, folder / p.name)
    return True


def _read_rows(path: Path, feed: Feed, start: int, stop: int, keep: np.ndarray) -> pd.DataFrame:
    """Rows ``start:stop`` of a staged file where ``keep`` (as ``load_staging`` types them)."""
    from connectors.ingest import _conform

    pf = pq.ParquetFile(path)
    table = pf.read_row_groups(_row_groups(pf, start, stop)) if pf.metadata.num_row_groups else pf.read()
    first = sum(pf.metadata.row_group(i).num_rows for i in range(_first_group(pf, start)))
    table = _conform(table.slice(start - first, stop - start), feed.staging_schema)
    df = table.filter(pa.array(keep)).to_pandas(types_mapper=pd.ArrowDtype)
    return df.reset_index(drop=True)


def _first_group(pf: pq.ParquetFile, row: int) -> int:
    seen = 0
    for i in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(i).num_rows
        if seen + n > row:
            return i
        seen += n
    return pf.metadata.num_row_groups


def _row_groups(pf: pq.ParquetFile, start: int, stop: int) -> list[int]:
    """The row groups holding rows ``start:stop``."""
    out, seen = [], 0
    for i in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(i).num_rows
        if seen < stop and seen + n > start:
            out.append(i)
        seen += n
    return out


def _own_mentions(df: pd.DataFrame, feed: Feed, folder: Path, chunk: int, key: str) -> None:
    """Write the chunk's own mentions into the cache ``folder`` (a part per non-empty piece), then its marker."""
    from matching.mentions import PIECES, concat_pieces, feed_mentions

    pieces = feed_mentions(df, feed) if len(df) else {}
    for piece, frame in pieces.items():
        if len(frame):
            table = pa.Table.from_pandas(concat_pieces([frame], piece[0]), preserve_index=False)
            atomic_write_parquet(table, folder / f"{chunk:06d}-{PIECES.index(piece):02d}.parquet")
    atomic_write_text(_marker(folder, chunk), json.dumps({"key": key, "rows": len(df)}) + "\n")


def current_pieces(
    folder: Path, chunk: int, removed: set[str]
) -> Iterator[tuple[int, pa.Table | Path, pa.BooleanArray | None]]:
    """(piece index, part file, the mask of its rows to keep or None for all) of the chunk's own mentions less
    those of the ``removed`` record ids; only the columns naming a record are read (the rows are filtered
    when the file is combined); a piece with no row left is left out."""
    from matching.mentions import PIECES

    files = {int(p.stem.split("-")[1]): p for p in sorted(folder.glob(f"{chunk:06d}-*.parquet"))}
    if not removed:
        yield from ((i, p, None) for i, p in files.items())
        return
    gone = pa.array(sorted(removed), type=pa.string())
    keys = [
        t.filter(pc.is_in(t["source_record_id"].cast(pa.string()), value_set=gone))["record_key"]
        for i, p in files.items()
        if PIECES[i][0] in ENTITY_OUTPUTS
        for t in [pq.read_table(p, columns=["source_record_id", "record_key"])]
    ]
    gone_keys = pa.concat_arrays([k.combine_chunks().cast(pa.string()) for k in keys]) if keys else gone[:0]
    for i, p in files.items():
        column, values = ("from_key", gone_keys) if PIECES[i][0] == "links" else ("source_record_id", gone)
        ids = pq.read_table(p, columns=[column])[column].combine_chunks().cast(pa.string())
        mask = pc.invert(pc.fill_null(pc.is_in(ids, value_set=values), False))
        n = pc.sum(mask).as_py() or 0
        if n == len(mask):
            yield i, p, None
        elif n:
            yield i, p, mask


def _own_ready(folder: Path, chunk: int, key: str) -> bool:
    return marker_key(_marker(folder, chunk)) == key


def _fresh_pieces(df: pd.DataFrame, feed: Feed) -> Iterator[tuple[int, pa.Table | Path, None]]:
    from matching.mentions import PIECES, concat_pieces, feed_mentions

    for piece, frame in feed_mentions(df, feed).items():
        if len(frame):
            yield (
                PIECES.index(piece),
                pa.Table.from_pandas(concat_pieces([frame], piece[0]), preserve_index=False),
                None,
            )


@dataclass
class Chunk:
    """One partition of ``prepare_mentions``: rows ``start:stop`` of a staged file of a feed."""

    feed: Feed
    file: StagedFile
    index: int
    start: int
    stop: int

    @property
    def current(self) -> np.ndarray:
        return self.file.current[self.start : self.stop]


@dataclass
class Origin:
    """Where a chunk's current mentions come from: its own mentions kept in ``<feed>/<staged file>/`` of the
    cache (``folder``, relative to it), less those of the ``removed`` record ids. A later step that works on
    the same rows (``bind_addresses``) keeps its own results per kept part and filters them the same way."""

    folder: str
    chunk: int
    removed: list[str]

    def part(self, piece: int) -> str:
        """The kept part of ``piece`` (relative to the cache, without ``.parquet``)."""
        return f"{self.folder}/{self.chunk:06d}-{piece:02d}"


def chunk_pieces(
    chunk: Chunk, cache: Path, previous: Path | None, key: str
) -> tuple[Iterator, bool, Origin | None]:
    """The chunk's current mentions as (piece index, table or kept part, mask of the part's rows or None),
    whether its own mentions were reused, and where they come from (None for a file whose own mentions are
    not kept)."""
    sf, s, e = chunk.file, chunk.start, chunk.stop
    if not sf.cacheable:
        return _fresh_pieces(_read_rows(sf.path, chunk.feed, s, e, chunk.current), chunk.feed), False, None
    folder = cache / chunk.feed.name / sf.path.stem
    reused = _own_ready(folder, chunk.index, key) or _reuse(previous, folder, chunk.index, key)
    own = sf.own[s:e]
    if not reused:
        _own_mentions(_read_rows(sf.path, chunk.feed, s, e, own), chunk.feed, folder, chunk.index, key)
    removed = set(sf.rids.iloc[s:e][own & ~chunk.current])
    origin = Origin(f"{chunk.feed.name}/{sf.path.stem}", chunk.index, sorted(removed))
    return current_pieces(folder, chunk.index, removed), reused, origin


def chunks_of(feed: Feed, files: list[StagedFile], batch_rows: int) -> Iterator[tuple[int, Chunk]]:
    """(file index, chunk) for every chunk of ``batch_rows`` rows of the files with a current row in it."""
    for i, sf in enumerate(files):
        for b, start in enumerate(range(0, len(sf.current), batch_rows)):
            chunk = Chunk(feed, sf, b, start, min(start + batch_rows, len(sf.current)))
            if chunk.current.any():
                yield i, chunk


__all__ = [
    "CACHE_DIR",
    "Chunk",
    "Origin",
    "StagedFile",
    "cache_key",
    "chunk_pieces",
    "chunks_of",
    "current_pieces",
    "link_or_copy",
    "published_cache",
    "staged_files_of",
]
