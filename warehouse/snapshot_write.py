"""Stage 3 of a publish: every table of both layers written into the incoming folders (:func:`write_layers`).

Each file is written deterministically: rows in key order, row groups of :data:`ROW_GROUP_ROWS` rows, fixed
Parquet settings, fsynced. A table partitioned by a column (街道/镇 code) gets one hive folder per value.

A table file already in key order (every table ``build_tables`` writes) is **streamed**: read
:data:`ROW_GROUP_ROWS` rows at a time, each batch turned into both layers (keyed hashes, masks and scrubbing are
per value) and split among its partitions, each partition's file writing a row group whenever it has
:data:`ROW_GROUP_ROWS` rows. The files are the ones writing the whole table gives (same rows, same row groups),
and memory is a batch and the unfinished row group of each partition, not the table (``source_xref``: ≈ 4 M rows
per million residents). A table not in key order, or given in memory, is sorted and written whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
from warehouse.tablefiles import TableFiles, table_rows

ROW_GROUP_ROWS = 128 * 1024
PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
}
LAYERS = (Layer.SHARED, Layer.RESTRICTED)


def write_layers(
    tables: Mapping[str, pa.Table], incoming: dict[Layer, Path], hmac_key: bytes
) -> dict[str, dict[str, list[dict]]]:
    """Every table of both layers into its incoming folder, each file fsynced. Returns the file entries
    (``{layer: {table: [{path, sha256, bytes, rows}]}}``) for the manifest."""
    files: dict[str, dict[str, list[dict]]] = {str(layer): {} for layer in LAYERS}
    progress = Progress("write snapshot", len(TABLES))
    for name in TABLES:
        writer = TableWriter(name, incoming, hmac_key)
        for batch in key_ordered_batches(tables, name):
            writer.add(batch)
        for layer, entries in writer.close().items():
            files[str(layer)][name] = entries
        rows = table_rows(tables, name)
        progress.advance(f"{name}, {len(files[str(LAYERS[0])][name])} files per layer", rows, rows)
    return files


def key_ordered_batches(tables: Mapping[str, pa.Table], name: str) -> Iterator[pa.Table]:
    """Table ``name`` in key order: its file streamed when it already is in key order, else sorted whole."""
    if isinstance(tables, TableFiles) and in_key_order(tables.path(name), TABLES[name].key):
        with pq.ParquetFile(tables.path(name)) as f:
            for batch in f.iter_batches(batch_size=ROW_GROUP_ROWS):
                yield pa.Table.from_batches([batch])
        return
    data = sorted_by_key(name, tables[name])
    if data.num_rows:
        yield data


def _identity(order: pa.Array) -> bool:
    return bool((order.to_numpy() == np.arange(len(order))).all())


def in_key_order(path: Path, key: tuple[str, ...]) -> bool:
    """Whether a table file's rows are in key order (as :func:`sorted_by_key` sorts), reading only the key
    columns a batch at a time (each batch checked with the last row of the one before)."""
    sort_keys = [(k, "ascending", "at_end") for k in key]
    previous: pa.Table | None = None
    with pq.ParquetFile(path) as f:
        for batch in f.iter_batches(batch_size=ROW_GROUP_ROWS, columns=list(key)):
            keys = pa.Table.from_batches([batch])
            if previous is not None:
                keys = pa.concat_tables([previous, keys])
            if not _identity(pc.sort_indices(keys, sort_keys=sort_keys)):
                return False
            previous = keys.slice(keys.num_rows - 1)
    return True


def sorted_by_key(name: str, data: pa.Table) -> pa.Table:
    key = TABLES[name].key
    if data.num_rows == 0:
        return data
    order = pc.sort_indices(data, sort_keys=[(k, "ascending", "at_end") for k in key])
    if _identity(order):
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

    def __init__(self, name: str, incoming: dict[Layer, Path], hmac_key: bytes) -> None:
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
        if not _identity(order):
            data = data.take(order)
        values = data.column(self.column).combine_chunks()
        starts = [0]
        if data.num_rows > 1:
            changed = pc.not_equal(values.slice(1), values.slice(0, data.num_rows - 1))
            starts += (np.flatnonzero(changed.to_numpy(zero_copy_only=False)) + 1).tolist()
        for s, e in zip(starts, [*starts[1:], data.num_rows], strict=True):
            if e > s:
                self._part(str(values[s])).add(data.slice(s, e - s))

    def layer_rows(self, data: pa.Table, layer: Layer, hashes: dict[str, pa.Array]) -> pa.Table:
        out = to_layer(self.name, data, layer, self.key, hashes)
        return out.drop_columns([self.column]) if self.column else out

    def close(self) -> dict[Layer, list[dict]]:
        """Write what is left; per layer, the file entries in path order."""
        self._part(UNKNOWN_STREET if self.column else None)
        closed = {v: self.parts[v].close() for v in sorted(self.parts)}
        return {
            layer: [{"path": self.parts[v].rel, **closed[v][layer]} for v in sorted(self.parts)]
            for layer in LAYERS
        }


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
