"""Stage 3 of a publish: every table of both layers written into the incoming folders (:func:`write_layers`).

Each file is written deterministically: rows in key order, row groups of :data:`ROW_GROUP_ROWS` rows, fixed
Parquet settings, fsynced. A table partitioned by a column (街道/镇 code) gets one hive folder per value.

A table file already in key order (every table ``build_tables`` writes) is **streamed**: read
:data:`ROW_GROUP_ROWS` rows at a time, each batch turned into both layers (keyed hashes, masks and scrubbing are
per value), each file writing a row group whenever it has :data:`ROW_GROUP_ROWS` rows. A partitioned table's
batches are first split among its partitions into one spill file per partition (Arrow IPC, LZ4, in a
``.incoming-`` folder beside the snapshot's, removed after the table; a killed publish's is cleaned like any
incoming folder), then each partition's file is written from its spill file alone, one after the other. The
files are the ones writing the whole table gives (same rows, same row groups), and memory is a batch and one
unfinished row group, not the table (``source_xref``: ≈ 4 M rows per million residents) nor a row group per
街道 (``person``: 7 partitions × 131,072 rows held at 1 M residents before the spill). A table not in key
order, or given in memory, is sorted and written whole.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.files import fsync_path, sha256_file
from warehouse.privacy import keyed_hashes, to_layer
from warehouse.progress import Progress
from warehouse.read import DATA_FILE, partition_folder
from warehouse.schema import TABLES, UNKNOWN_STREET, Layer, arrow_schema
from warehouse.tablefiles import TableFiles, identity, in_key_order, table_rows

ROW_GROUP_ROWS = 128 * 1024
PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
}
LAYERS = (Layer.SHARED, Layer.RESTRICTED)
__all__ = ["LAYERS", "PARQUET_OPTIONS", "ROW_GROUP_ROWS", "in_key_order", "sorted_by_key", "write_layers"]


def write_layers(
    tables: Mapping[str, pa.Table],
    incoming: dict[Layer, Path],
    hmac_key: bytes,
    link: Callable[[str], dict[str, list[dict]] | None] | None = None,
) -> dict[str, dict[str, list[dict]]]:
    """Every table of both layers into its incoming folder, each file fsynced. Returns the file entries
    (``{layer: {table: [{path, sha256, bytes, rows}]}}``) for the manifest. ``link(name)`` may put a table's
    files in place itself (hard links to the previous snapshot's: :mod:`warehouse.snapshot_reuse`) and return
    their entries; None writes the table."""
    files: dict[str, dict[str, list[dict]]] = {str(layer): {} for layer in LAYERS}
    progress = Progress("write snapshot", len(TABLES))
    spill = incoming[LAYERS[-1]].with_name(f"{incoming[LAYERS[-1]].name}-spill")
    for name in TABLES:
        linked = link(name) if link is not None else None
        if linked is not None:
            for layer, entries in linked.items():
                files[layer][name] = entries
            rows = table_rows(tables, name)
            progress.advance(f"{name}, linked from the previous snapshot", rows, rows)
            continue
        writer = TableWriter(name, incoming, hmac_key, spill=spill / name)
        try:
            for batch in key_ordered_batches(tables, name):
                writer.add(batch)
            closed = writer.close()
        finally:
            shutil.rmtree(spill, ignore_errors=True)
        for layer, entries in closed.items():
            files[str(layer)][name] = entries
        rows = table_rows(tables, name)
        progress.advance(f"{name}, {len(files[str(LAYERS[0])][name])} files per layer", rows, rows)
    return files


def key_ordered_batches(tables: Mapping[str, pa.Table], name: str) -> Iterator[pa.Table]:
    """Table ``name`` in key order: its file streamed when it already is in key order, else sorted whole."""
    if isinstance(tables, TableFiles) and tables.key_ordered(name, TABLES[name].key):
        with pq.ParquetFile(tables.path(name)) as f:
            for batch in f.iter_batches(batch_size=ROW_GROUP_ROWS):
                yield pa.Table.from_batches([batch])
        return
    data = sorted_by_key(name, tables[name])
    if data.num_rows:
        yield data


def sorted_by_key(name: str, data: pa.Table) -> pa.Table:
    key = TABLES[name].key
    if data.num_rows == 0:
        return data
    order = pc.sort_indices(data, sort_keys=[(k, "ascending", "at_end") for k in key])
    if identity(order):
        return data  # already in key order (build_tables writes them so): no copy of the table
    return data.take(order)


class TableWriter:
    """The files of one table in both layers, fed canonical rows in key order.

    An unpartitioned table is one ``<table>/part-00000.parquet``. A table partitioned by a column gets one hive
    folder ``<table>/<column>=<value>/`` per value, rows in key order within it; the column is the folder's name
    and is left out of the file (as hive writers do). The ``unknown`` folder is always there, empty when every
    row has a place: so an empty table still has a file, and hive readers that infer the column's type from the
    folder names (pyarrow, pandas, DuckDB) see text, not numbers.
    """

    def __init__(
        self, name: str, incoming: dict[Layer, Path], hmac_key: bytes, spill: Path | None = None
    ) -> None:
        self.name = name
        self.incoming = incoming
        self.key = hmac_key
        self.column = TABLES[name].partition_by[0] if TABLES[name].partition_by else None
        self.schemas = {}
        for layer in LAYERS:
            schema = to_layer(name, arrow_schema(name).empty_table(), layer, hmac_key).schema
            self.schemas[layer] = (
                schema.remove(schema.get_field_index(self.column)) if self.column else schema
            )
        self.parts: dict[str, PartFile] = {}
        self.spill = Spill(spill) if spill is not None and self.column else None

    def _part(self, value: str | None) -> PartFile:
        if (value or "") not in self.parts:
            where = f"{partition_folder(self.column, value)}/" if self.column and value is not None else ""
            self.parts[value or ""] = PartFile(f"{self.name}/{where}{DATA_FILE.format(0)}", self)
        return self.parts[value or ""]

    def add(self, data: pa.Table) -> None:
        """Canonical rows in key order; a partitioned table's are split by the partition column."""
        if self.column is None:
            self._part(None).add(data)
            return
        order = pc.sort_indices(data, sort_keys=[(self.column, "ascending")])  # stable: key order within
        if not identity(order):
            data = data.take(order)
        values = data.column(self.column).combine_chunks()
        starts = [0]
        if data.num_rows > 1:
            changed = pc.not_equal(values.slice(1), values.slice(0, data.num_rows - 1))
            starts += (np.flatnonzero(changed.to_numpy(zero_copy_only=False)) + 1).tolist()
        for s, e in zip(starts, [*starts[1:], data.num_rows], strict=True):
            if e > s:
                value, rows = str(values[s]), data.slice(s, e - s)
                if self.spill is None:
                    self._part(value).add(rows)
                else:
                    self._part(value)
                    self.spill.add(value, rows)

    def layer_rows(self, data: pa.Table, layer: Layer, hashes: dict[str, pa.Array]) -> pa.Table:
        out = to_layer(self.name, data, layer, self.key, hashes)
        return out.drop_columns([self.column]) if self.column else out

    def close(self) -> dict[Layer, list[dict]]:
        """Write what is left; per layer, the file entries in path order."""
        self._part(UNKNOWN_STREET if self.column else None)
        closed = {}
        for v in sorted(self.parts):  # one partition at a time: its spilled rows, then its file closed
            for rows in self.spill.read(v) if self.spill is not None else ():
                self.parts[v].add(rows)
            closed[v] = self.parts[v].close()
        return {
            layer: [{"path": self.parts[v].rel, **closed[v][layer]} for v in sorted(self.parts)]
            for layer in LAYERS
        }


class Spill:
    """A partitioned table's canonical rows, one Arrow IPC file per partition value (LZ4), in arrival order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.writers: dict[str, pa.ipc.RecordBatchStreamWriter] = {}
        self.files: dict[str, Path] = {}

    def add(self, value: str, rows: pa.Table) -> None:
        if value not in self.writers:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.files[value] = self.folder / f"{len(self.files):05d}-{os.getpid()}.arrows"
            options = pa.ipc.IpcWriteOptions(compression="lz4")
            self.writers[value] = pa.ipc.new_stream(self.files[value], rows.schema, options=options)
        self.writers[value].write_table(rows)

    def read(self, value: str) -> Iterator[pa.Table]:
        """The rows spilled for ``value``, batch by batch; the file is deleted once read."""
        if value not in self.writers:
            return
        self.writers.pop(value).close()
        path = self.files.pop(value)
        with pa.OSFile(str(path), "rb") as source, pa.ipc.open_stream(source) as reader:
            for batch in reader:
                yield pa.Table.from_batches([batch])
        path.unlink()


class PartFile:
    """One Parquet file of a snapshot in each layer, written a row group of :data:`ROW_GROUP_ROWS` rows at a
    time; the canonical rows of the unfinished row group are buffered once for both layers."""

    def __init__(self, rel: str, table: TableWriter) -> None:
        self.rel = rel
        self.table = table
        self.writers: dict[Layer, pq.ParquetWriter] = {}
        self.pending: list[pa.Table] = []
        self.buffered = 0
        self.rows = 0

    def _writer(self, layer: Layer) -> pq.ParquetWriter:
        if layer not in self.writers:
            path = self.table.incoming[layer] / self.rel
            path.parent.mkdir(parents=True, exist_ok=True)
            self.writers[layer] = pq.ParquetWriter(path, self.table.schemas[layer], **PARQUET_OPTIONS)
        return self.writers[layer]

    def add(self, data: pa.Table) -> None:
        self.pending.append(data)
        self.buffered += data.num_rows
        while self.buffered >= ROW_GROUP_ROWS:
            self._flush(ROW_GROUP_ROWS)

    def _flush(self, rows: int) -> None:
        data = pa.concat_tables(self.pending)
        # one contiguous chunk per row group, as a slice of the whole table is: the encoding follows the chunks
        group = data.slice(0, rows).combine_chunks()
        hashes = keyed_hashes(self.table.name, group, self.table.key)
        for layer in LAYERS:
            out = self.table.layer_rows(group, layer, hashes).combine_chunks()
            self._writer(layer).write_table(out, row_group_size=ROW_GROUP_ROWS)
        rest = data.slice(rows)
        self.pending, self.buffered, self.rows = (
            ([rest] if rest.num_rows else []),
            rest.num_rows,
            self.rows + rows,
        )

    def close(self) -> dict[Layer, dict]:
        if self.buffered:
            self._flush(self.buffered)
        entries = {}
        for layer in LAYERS:
            writer = self._writer(layer)
            if self.rows == 0:
                writer.write_table(self.table.schemas[layer].empty_table())
            writer.close()
            path = self.table.incoming[layer] / self.rel
            fsync_path(path)
            entries[layer] = {"sha256": sha256_file(path), "bytes": path.stat().st_size, "rows": self.rows}
        return entries
