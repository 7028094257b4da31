"""The table assembly over the earlier steps' Parquet files, one table at a time, each written as it is built.

:func:`~warehouse.build.assemble_tables` takes frames and returns every table in memory (what the tests and
small callers use). :func:`write_tables` builds the same tables from the files of a run: the record-level
tables (:mod:`warehouse.build_sql`) stream from DuckDB over the Parquet files straight into their output file,
batch by batch; the others are built by their frame builders from inputs read when first needed, with only
the columns the builders use (:data:`~warehouse.build.MENTION_COLUMNS`), and let go once no later table needs
them. Each table is written to ``<out>/<name>.parquet`` (atomically) before the next one is built, and a table
wanted again later (``grid_metrics`` reads the entity tables) is read back from its file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.build import MENTION_COLUMNS, Assembly, check_assembly
from warehouse.build_sql import Inputs
from warehouse.files import atomic_write
from warehouse.progress import Progress
from warehouse.schema import ENTITY_TYPES, TABLES, arrow_schema
from warehouse.settings import DEFAULT_GRID_NORMS

#: A built frame another table's builder uses, kept until that table is written (``frame → last user``).
KEEP_FRAME_UNTIL = {"house": "organisation_house"}
#: Golden records per chunk of a table built in chunks (:data:`warehouse.build.CHUNKED`).
CHUNK_ROWS = 50_000
#: Rows per row group of a written table (pyarrow's default, as ``pq.write_table`` wrote them).
ROW_GROUP_ROWS = 1024 * 1024
#: After this table, the mention, assignment and link frames are no longer needed by any builder.
LAST_MENTION_USER = "organisation_address"


def read_parquet(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A Parquet file as a frame, only ``columns`` (those the file has) when given."""
    if columns is not None:
        names = set(pq.read_schema(path).names)
        columns = [c for c in columns if c in names]
    return pq.read_table(path, columns=columns).to_pandas()


class LazyFrames(Mapping[str, pd.DataFrame]):
    """``name → frame``, each read by its loader when first asked for, and let go by :meth:`release`."""

    def __init__(self, loaders: Mapping[str, Callable[[], pd.DataFrame]]) -> None:
        self.loaders = dict(loaders)
        self._frames: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            self._frames[name] = self.loaders[name]()
        return self._frames[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.loaders)

    def __len__(self) -> int:
        return len(self.loaders)

    def release(self, name: str | None = None) -> None:
        """Let one frame go (all when ``name`` is None); it is read again if asked for."""
        if name is None:
            self._frames.clear()
        else:
            self._frames.pop(name, None)


@dataclass
class BuildFiles:
    """The Parquet files of a run the tables are built from (per entity type where a dict)."""

    mentions: Mapping[str, Path]
    assignments: Mapping[str, Path]
    golden: Mapping[str, Path]
    bindings: Path
    links: Path
    issues: Path

    def inputs(self) -> Inputs:
        """The files the query builders scan in place."""
        files = {f"mentions_{t}": self.mentions[t] for t in ENTITY_TYPES}
        files |= {f"assignments_{t}": self.assignments[t] for t in ENTITY_TYPES}
        files |= {f"golden_{t}": self.golden[t] for t in ENTITY_TYPES}
        return Inputs(files={**files, "bindings": self.bindings})


def _lazy(paths: Mapping[str, Path], columns: Sequence[str] | None = None) -> LazyFrames:
    def loader(path: Path) -> Callable[[], pd.DataFrame]:
        return lambda: read_parquet(path, columns)

    return LazyFrames({t: loader(p) for t, p in paths.items()})


def write_tables(out: Path, files: BuildFiles, **options: Any) -> dict[str, int]:
    """Build every table of ``TABLES`` from ``files`` into ``<out>/<name>.parquet``, in ``TABLES`` order;
    returns the rows of each. ``options`` are :func:`~warehouse.build.assemble_tables`'s other arguments
    (``addresses``, ``grids``, ``priority``, ``quarantine``…), the same tables come out."""
    check_assembly(options.get("org_grid_from", "operating"))
    mentions = _lazy(files.mentions, MENTION_COLUMNS)
    assignments = _lazy(files.assignments, ("record_key", "entity_id"))
    golden = _lazy(files.golden)
    if options.get("grid_norms") is None:
        options["grid_norms"] = DEFAULT_GRID_NORMS
    if options.get("staged_issues") is None:
        options["staged_issues"] = pd.DataFrame(columns=TABLES["field_issue"].column_names)
    a = Assembly(
        mentions=mentions,  # type: ignore[arg-type]  # a Mapping read on demand
        assignments=assignments,  # type: ignore[arg-type]
        golden=golden,  # type: ignore[arg-type]
        links=read_parquet(files.links),
        issues=read_parquet(files.issues),
        bindings=pd.DataFrame(),  # read by the query builders from its file
        inputs=files.inputs(),
        chunk_rows=CHUNK_ROWS,
        **options,
    )
    out.mkdir(parents=True, exist_ok=True)
    progress, rows = Progress("build_tables", len(TABLES)), {}
    for name in TABLES:
        rows[name] = _write_table(a, name, out / f"{name}.parquet")
        a.written[name] = out / f"{name}.parquet"
        _let_go(a, name, golden, mentions, assignments)
        progress.advance(name, rows[name], rows[name])
    return rows


def _write_table(a: Assembly, name: str, path: Path) -> int:
    """Write table ``name`` batch by batch, in row groups of :data:`ROW_GROUP_ROWS` whatever the batches'
    sizes (DuckDB's may vary from run to run: the file's bytes do not); its rows."""
    rows, pending = 0, []
    with atomic_write(path) as tmp, pq.ParquetWriter(tmp, arrow_schema(TABLES[name])) as writer:
        for batch in a.batches(name):
            pending.append(batch)
            rows += batch.num_rows
            if sum(t.num_rows for t in pending) >= ROW_GROUP_ROWS:
                pending = _write_groups(writer, pa.concat_tables(pending), final=False)
        _write_groups(
            writer,
            pa.concat_tables(pending) if pending else arrow_schema(TABLES[name]).empty_table(),
            final=True,
        )
    return rows


def _write_groups(writer: pq.ParquetWriter, data: pa.Table, *, final: bool) -> list[pa.Table]:
    """Write the whole row groups of ``data`` (and the rest when ``final``); what is left to write."""
    whole = data.num_rows if final else data.num_rows - data.num_rows % ROW_GROUP_ROWS
    if whole == 0 and final:
        writer.write_table(data)
    for start in range(0, whole, ROW_GROUP_ROWS):
        writer.write_table(
            data.slice(start, min(ROW_GROUP_ROWS, whole - start)), row_group_size=ROW_GROUP_ROWS
        )
    return [data.slice(whole)] if whole < data.num_rows else []


def _let_go(
    a: Assembly, name: str, golden: LazyFrames, mentions: LazyFrames, assignments: LazyFrames
) -> None:
    """Drop what no table after ``name`` needs."""
    if name not in KEEP_FRAME_UNTIL:
        a.forget([name])
    a.forget([frame for frame, last in KEEP_FRAME_UNTIL.items() if last == name])
    if name in ENTITY_TYPES:
        golden.release(name)
        a._sources.pop(name, None)
    if name == "person":
        a.__dict__.pop("person_lookups", None)
    if name == LAST_MENTION_USER:
        mentions.release()
        assignments.release()
        a.__dict__.pop("entity_of", None)
        a.links = a.links.iloc[0:0]


__all__ = ["BuildFiles", "LazyFrames", "read_parquet", "write_tables"]
