"""The partitioned bodies of the resolve-and-publish steps: memory bounded by a partition, not by the district.

Each step works on explicit partitions and lists them in ``partitions.json`` in its output folder (the
partition key, then one entry per partition with its boundaries and rows), so the same step could run each
partition on another engine (a Spark task per partition) and give the same files:

- ``prepare_mentions``: key ``feed, batch`` — each feed's current staged rows, in batches of at most
  :data:`STAGED_ROWS_PER_BATCH` rows, become mentions on their own; every batch's mentions are written as a
  part file at once, and the parts of each mention type are then streamed into one Parquet file (row group
  by row group, in feed and batch order), so no step holds more than one batch in pandas.
- ``bind_addresses``: key ``distinct address text`` — the distinct texts in code-point order, cut into
  chunks (:func:`matching.address.match_distinct`); each mention type is then bound and written on its own.

A mention's normalisation and an address text's match depend on that row or text alone, so partitioning
changes no result: the files are those the whole-table code wrote.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from matching.mentions import concat_pieces
from warehouse.files import atomic_write, atomic_write_parquet, atomic_write_text
from warehouse.progress import Progress
from warehouse.schema import ENTITY_TYPES

if TYPE_CHECKING:
    from connectors.feeds import Feed, Zones
    from matching.address import AddressLibrary

log = logging.getLogger(__name__)

#: Staged rows turned into mentions at a time (one partition of ``prepare_mentions``).
STAGED_ROWS_PER_BATCH = 200_000
#: The files of ``prepare_mentions``: one per mention type, plus the links and the field issues.
MENTION_FILES = (*ENTITY_TYPES, "links", "issues")
PARTITIONS_FILE = "partitions.json"


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


def combine_parts(parts: list[Path], path: Path) -> int:
    """Stream the part files into one Parquet file at ``path`` (atomically), part by part; returns rows."""
    schema = unified_schema([pq.read_schema(p) for p in parts])
    rows = 0
    with atomic_write(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for p in parts:
            table = pq.read_table(p).cast(schema)
            writer.write_table(table)
            rows += table.num_rows
    return rows


def staged_batches(inputs: Zones, feed: str, rows: int) -> Iterator[pd.DataFrame]:
    """The feed's current staged rows (``connectors.load_staging``) in batches of at most ``rows`` rows."""
    from connectors import load_staging

    staged = load_staging(inputs, feed)
    for start in range(0, max(len(staged), 1), rows):
        yield staged.iloc[start : start + rows]


def stream_mentions(
    inputs: Zones, feeds: list[Feed], out: Path, *, batch_rows: int | None = None
) -> tuple[dict[str, int], dict[str, int]]:
    """The staged rows of ``feeds`` (as ``inputs`` pins them) → the mention files in ``out``, batch by batch.

    Returns the rows of each mention file and the staged rows of each feed read; with no staged row at all,
    nothing is written (no counts). ``batch_rows``: :data:`STAGED_ROWS_PER_BATCH` unless given."""
    from matching.mentions import PIECES, feed_mentions

    batch_rows = batch_rows or STAGED_ROWS_PER_BATCH
    parts_dir = out / "parts"
    if parts_dir.exists():
        shutil.rmtree(parts_dir)  # a killed attempt's parts
    progress = Progress("prepare_mentions", len(feeds))
    staged_rows: dict[str, int] = {}
    partitions: list[dict] = []
    for f, feed in enumerate(feeds):
        staged_rows[feed.name] = mentions_out = 0
        for b, batch in enumerate(staged_batches(inputs, feed.name, batch_rows)):
            staged_rows[feed.name] += len(batch)
            if batch.empty:
                continue
            pieces = feed_mentions(batch, feed)
            rows = dict.fromkeys(MENTION_FILES, 0)
            for key, df in pieces.items():
                if len(df):  # a part per piece, named so that name order is the rows' order
                    name = f"{f:03d}-{PIECES.index(key):02d}-{b:06d}.parquet"
                    atomic_write_parquet(_to_arrow(concat_pieces([df], key[0])), parts_dir / key[0] / name)
                    rows[key[0]] += len(df)
            partitions.append({"feed": feed.name, "batch": b, "staged_rows": len(batch), **rows})
            mentions_out += sum(rows[t] for t in ENTITY_TYPES)
        progress.advance(feed.name, staged_rows[feed.name], mentions_out)
    if not any(staged_rows.values()):
        shutil.rmtree(parts_dir, ignore_errors=True)
        return {}, staged_rows
    counts = {}
    for name in MENTION_FILES:
        files = sorted((parts_dir / name).glob("*.parquet"))
        if len(files) == 1:  # one part (one feed, one batch): it is the file
            counts[name] = pq.ParquetFile(files[0]).metadata.num_rows
            os.replace(files[0], out / f"{name}.parquet")
        elif files:
            counts[name] = combine_parts(files, out / f"{name}.parquet")
        else:
            counts[name] = 0
            atomic_write_parquet(_to_arrow(concat_pieces([], name)), out / f"{name}.parquet")
    shutil.rmtree(parts_dir, ignore_errors=True)
    write_partitions(out, "feed, batch", partitions)
    return counts, staged_rows


def bind_mention_files(
    src: Path,
    out: Path,
    library: AddressLibrary,
    facility_grids: Callable[[pd.DataFrame], pd.DataFrame],
    aliases: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Bind the address fields of the mention files in ``src`` and write the bound files to ``out``.

    The distinct texts of every field are read first (text columns only) and matched once, partition by
    partition; then each mention type is read, bound, written and let go in turn (``facility_grids`` adds the
    facilities' point-in-polygon grids). Returns the bindings (every field's rows, as
    :func:`matching.address.bind_address_fields` makes them)."""
    from matching.address import address_fields, bind_frame, concat_bindings, match_distinct

    fields = address_fields({t: pq.read_schema(src / f"{t}.parquet").names for t in ENTITY_TYPES})
    texts = pd.concat(
        [pq.read_table(src / f"{t}.parquet", columns=[col]).to_pandas()[col] for t, col in fields],
        ignore_index=True,
    )
    matched, partitions = match_distinct(library, texts, aliases=aliases)
    del texts
    bindings = {}
    for t in ENTITY_TYPES:
        df, b = bind_frame(t, pq.read_table(src / f"{t}.parquet").to_pandas(), matched)
        if t == "facility":
            df = facility_grids(df)
        atomic_write_parquet(_to_arrow(df), out / f"{t}.parquet")
        bindings.update(b)
        log.info("bind_addresses: %s: %s mentions bound and written", t, f"{len(df):,}")
    write_partitions(out, "distinct address text", [vars(p) for p in partitions])
    return concat_bindings(bindings)
