"""The partitioned bodies of the resolve-and-publish steps: memory bounded by a partition, not by the district.

Each step works on explicit partitions and lists them in ``partitions.json`` in its output folder (the
partition key, then one entry per partition with its boundaries and rows), so the same step could run each
partition on another engine (a Spark task per partition) and give the same files:

- ``prepare_mentions``: key ``feed, file, batch`` — each staged file of a feed, in chunks of at most
  :data:`STAGED_ROWS_PER_BATCH` of its rows, becomes mentions on its own (:mod:`gridhub.mentionfiles`: the
  current rows only; a delta takes the published run's mentions of the files it already read); every
  chunk's mentions are written as a part file at once, and the parts of each mention type are then streamed
  into one Parquet file (row group by row group, in feed, file and chunk order), so no step holds more than
  one chunk in pandas.
- ``bind_addresses``: key ``distinct address text`` — the distinct texts in code-point order, cut into
  chunks; each mention file is then bound a batch at a time (:mod:`gridhub.bindfiles`).

A mention's normalisation and an address text's match depend on that row or text alone, so partitioning
changes no result: the files are those the whole-table code wrote.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from matching.mentions import concat_pieces
from warehouse.files import atomic_write, atomic_write_parquet, atomic_write_text
from warehouse.progress import Progress
from warehouse.schema import ENTITY_TYPES

if TYPE_CHECKING:
    from connectors.feeds import Feed, Zones
    from gridhub.mentionfiles import Origin

log = logging.getLogger(__name__)

#: Staged rows turned into mentions at a time (one partition of ``prepare_mentions``).
STAGED_ROWS_PER_BATCH = 200_000
#: The files of ``prepare_mentions``: one per mention type, plus the links and the field issues.
MENTION_FILES = (*ENTITY_TYPES, "links", "issues")
PARTITIONS_FILE = "partitions.json"
#: The parts of each mention file in row order and the kept parts they come from (:func:`write_segments`).
SEGMENTS_FILE = "segments.json"


def write_partitions(folder: Path, key: str, partitions: list[dict]) -> Path:
    """Record a step's partitions (``key`` names what partitions it; each entry one partition's bounds)."""
    text = json.dumps({"key": key, "partitions": partitions}, ensure_ascii=False, indent=1)
    return atomic_write_text(folder / PARTITIONS_FILE, text + "\n")


def _to_arrow(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False)


def unified_schema(schemas: list[pa.Schema]) -> pa.Schema:
    """One schema for parts of one frame: per column the first type that is not ``null`` (a column with no
    value in a part is typed ``null`` there), the columns and pandas metadata of the first part (a column's
    pandas description from the first part with a value in it)."""
    first = schemas[0]
    fields = []
    for i, f in enumerate(first):
        typed = next((s.field(i).type for s in schemas if not pa.types.is_null(s.field(i).type)), f.type)
        fields.append(f.with_type(typed))
    return pa.schema(fields, metadata=_pandas_metadata(schemas))


def _pandas_metadata(schemas: list[pa.Schema]) -> dict | None:
    """The first part's metadata, where pandas describes a column with no value there (``empty``) as the
    first part with a value in it does: what writing the whole frame at once records."""
    first = schemas[0].metadata
    if not first or b"pandas" not in first:
        return first
    meta = json.loads(first[b"pandas"])
    others = [
        json.loads(s.metadata[b"pandas"])["columns"] for s in schemas[1:] if b"pandas" in (s.metadata or {})
    ]
    changed = False
    for i, col in enumerate(meta["columns"]):
        if col.get("pandas_type") == "empty":
            typed = next((o[i] for o in others if i < len(o) and o[i].get("pandas_type") != "empty"), None)
            if typed is not None:
                meta["columns"][i], changed = typed, True
    return {**first, b"pandas": json.dumps(meta).encode("utf8")} if changed else first


def combine_parts(
    parts: list[Path], path: Path, keep: Mapping[Path, Callable[[pa.Table], pa.Table]] | None = None
) -> int:
    """Stream the part files into one Parquet file at ``path`` (atomically), part by part; returns rows.
    ``keep``: per part, the rows of it to write (a filter applied as it is read), all rows otherwise."""
    schema = unified_schema([pq.read_schema(p) for p in parts])
    rows = 0
    keep = keep or {}
    with atomic_write(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for p in parts:
            table = pq.read_table(p)
            table = (keep[p](table) if p in keep else table).cast(schema)
            writer.write_table(table)
            rows += table.num_rows
    return rows


def stream_mentions(
    inputs: Zones,
    feeds: list[Feed],
    out: Path,
    *,
    batch_rows: int | None = None,
    previous: Path | None = None,
) -> tuple[dict[str, int], dict[str, int]]:
    """The staged rows of ``feeds`` (as ``inputs`` pins them) → the mention files in ``out``, chunk by chunk
    of each staged file (:mod:`gridhub.mentionfiles`); ``previous``: the mentions cache of the published run,
    whose chunks are taken as they are.

    Returns the rows of each mention file and the staged rows of each feed read; with no staged row at all,
    nothing is written (no counts). ``batch_rows``: :data:`STAGED_ROWS_PER_BATCH` unless given."""
    from gridhub.mentionfiles import (
        CACHE_DIR,
        cache_key,
        chunk_pieces,
        chunks_of,
        link_or_copy,
        staged_files_of,
    )
    from matching.mentions import PIECES

    batch_rows = batch_rows or STAGED_ROWS_PER_BATCH
    parts_dir = out / "parts"
    if parts_dir.exists():
        shutil.rmtree(parts_dir)  # a killed attempt's parts
    progress = Progress("prepare_mentions", len(feeds))
    staged_rows: dict[str, int] = {}
    partitions: list[dict] = []
    segments: list[tuple[str, str, dict]] = []
    keep: dict[Path, Callable[[pa.Table], pa.Table]] = {}
    reused = 0
    for f, feed in enumerate(feeds):
        staged_rows[feed.name] = mentions_out = 0
        key = cache_key(feed, batch_rows)
        for i, chunk in chunks_of(feed, staged_files_of(inputs, feed), batch_rows):
            pieces, was_reused, origin = chunk_pieces(chunk, out / CACHE_DIR, previous, key)
            reused += was_reused
            rows = dict.fromkeys(MENTION_FILES, 0)
            for p, table, mask in pieces:  # a part per piece, named so that name order is the rows' order
                part = parts_dir / PIECES[p][0] / f"{f:03d}-{p:02d}-{i:04d}{chunk.index:06d}.parquet"
                if isinstance(table, Path):  # a kept part, as it is or its rows in mask when combined
                    link_or_copy(table, part)
                    n = pq.ParquetFile(part).metadata.num_rows if mask is None else int(pc.sum(mask).as_py())
                    if mask is not None:
                        keep[part] = functools.partial(pa.Table.filter, mask=mask)
                else:
                    atomic_write_parquet(table, part)
                    n = table.num_rows
                rows[PIECES[p][0]] += n
                segments.append((part.name, PIECES[p][0], segment(n, origin, p)))
            current = int(chunk.current.sum())
            staged_rows[feed.name] += current
            file = chunk.file.path.name
            partitions.append(
                {"feed": feed.name, "file": file, "batch": chunk.index, "staged_rows": current, **rows}
            )
            mentions_out += sum(rows[t] for t in ENTITY_TYPES)
        progress.advance(feed.name, staged_rows[feed.name], mentions_out)
    log.info("prepare_mentions: %d of %d chunks taken from the published run", reused, len(partitions))
    if not any(staged_rows.values()):
        shutil.rmtree(parts_dir, ignore_errors=True)
        return {}, staged_rows
    counts = {}
    for name in MENTION_FILES:
        files = sorted((parts_dir / name).glob("*.parquet"))
        if len(files) == 1 and files[0] not in keep:  # one part (one feed, one batch): it is the file
            counts[name] = pq.ParquetFile(files[0]).metadata.num_rows
            os.replace(files[0], out / f"{name}.parquet")
        elif files:
            counts[name] = combine_parts(files, out / f"{name}.parquet", keep)
        else:
            counts[name] = 0
            atomic_write_parquet(_to_arrow(concat_pieces([], name)), out / f"{name}.parquet")
    shutil.rmtree(parts_dir, ignore_errors=True)
    write_partitions(out, "feed, file, batch", partitions)
    write_segments(out, segments)
    return counts, staged_rows


def segment(rows: int, origin: Origin | None, piece: int) -> dict:
    """One part of a mention file as :data:`SEGMENTS_FILE` lists it: its rows, and the kept part it is (less
    the mentions of the ``removed`` record ids) when its chunk's own mentions are kept."""
    if origin is None:
        return {"rows": rows}
    return {"rows": rows, "own": origin.part(piece), "removed": origin.removed}


def write_segments(out: Path, segments: list[tuple[str, str, dict]]) -> Path:
    """:data:`SEGMENTS_FILE`: per mention file, its parts in row order (``bind_addresses`` binds a kept part
    once and takes its bound rows from the published run afterwards)."""
    from gridhub.mentionfiles import CACHE_DIR

    files: dict[str, list[dict]] = {name: [] for name in MENTION_FILES}
    for _, name, seg in sorted(segments, key=lambda s: (s[1], s[0])):
        files[name].append(seg)
    text = json.dumps({"cache": CACHE_DIR, "files": files}, ensure_ascii=False)
    return atomic_write_text(out / SEGMENTS_FILE, text + "\n")
