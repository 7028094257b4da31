"""The table assembly over the earlier steps' Parquet files, one table at a time, each written as it is built.

:func:`~warehouse.build.assemble_tables` takes frames and returns every table in memory (what the tests and
small callers use). :func:`write_tables` builds the same tables from the files of a run, holding a chunk of
rows, never a whole input: the record-level tables (:mod:`warehouse.build_sql`) stream from DuckDB over the
Parquet files straight into their output file, batch by batch; the entity tables are built a chunk of golden
records at a time and the relation tables a chunk of owners at a time, from DuckDB joins of the mentions,
assignments and links read in place (:mod:`warehouse.build_keyed`: no record key → entity id dictionary, no
mention frame); DuckDB keeps within its memory limit and spills to ``<run>/tables-spill``. Each table is
written to ``<out>/<name>.parquet`` (atomically) before the next one is built; a later table's query reads it
from that file (``person`` its home in ``person_house``, ``grid_metrics`` the entity tables).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.build import BUILD_ORDER, Assembly, check_assembly
from warehouse.build_sql import Inputs
from warehouse.files import atomic_write
from warehouse.progress import Progress
from warehouse.schema import ENTITY_TYPES, TABLES, arrow_schema
from warehouse.settings import DEFAULT_GRID_NORMS

#: Golden records per chunk of an entity table, and rows per chunk of a relation table (:data:`warehouse.build.CHUNKED`,
#: :data:`warehouse.build.ROWS`).
CHUNK_ROWS = 50_000
#: Rows per row group of a written table: the unfinished row group is held until written (a person row is
#: ≈ 1.5 KB in Arrow: 128 Ki rows ≈ 0.2 GB, where pyarrow's default of 1 Mi rows held 1.5 GB at 1 M residents).
ROW_GROUP_ROWS = 128 * 1024
#: The folder, beside the run's ``tables``, where DuckDB spills what passes its memory limit while building.
SPILL_DIR = "tables-spill"


def read_parquet(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A Parquet file as a frame, only ``columns`` (those the file has) when given."""
    if columns is not None:
        names = set(pq.read_schema(path).names)
        columns = [c for c in columns if c in names]
    return pq.read_table(path, columns=columns).to_pandas()


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
        return Inputs(files={**files, "bindings": self.bindings, "links": self.links})


def write_tables(out: Path, files: BuildFiles, **options: Any) -> dict[str, int]:
    """Build every table of ``TABLES`` from ``files`` into ``<out>/<name>.parquet`` (in
    :data:`~warehouse.build.BUILD_ORDER`); returns the rows of each, in ``TABLES`` order. ``options`` are
    :func:`~warehouse.build.assemble_tables`'s other arguments (``addresses``, ``grids``, ``priority``,
    ``quarantine``…), the same tables come out. Mentions, assignments, links and bindings are read by DuckDB
    in place (never whole in pandas); golden records a chunk at a time."""
    check_assembly(options.get("org_grid_from", "operating"))
    if options.get("grid_norms") is None:
        options["grid_norms"] = DEFAULT_GRID_NORMS
    if options.get("staged_issues") is None:
        options["staged_issues"] = pd.DataFrame(columns=TABLES["field_issue"].column_names)
    inputs = files.inputs()
    inputs.spill = out.parent / SPILL_DIR
    a = Assembly(
        mentions={},
        assignments={},
        golden={},
        links=pd.DataFrame(),  # read by the row queries from its file
        issues=read_parquet(files.issues),
        bindings=pd.DataFrame(),  # read by the query builders from its file
        inputs=inputs,
        chunk_rows=CHUNK_ROWS,
        **options,
    )
    out.mkdir(parents=True, exist_ok=True)
    progress, rows = Progress("build_tables", len(TABLES)), {}
    try:
        for name in BUILD_ORDER:
            rows[name] = _write_table(a, name, out / f"{name}.parquet")
            a.written[name] = out / f"{name}.parquet"
            a.forget([name])
            a.built(name)
            progress.advance(name, rows[name], rows[name])
    finally:
        a.close()
        shutil.rmtree(inputs.spill, ignore_errors=True)
    return {name: rows[name] for name in TABLES}


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


__all__ = ["BuildFiles", "read_parquet", "write_tables"]
