"""Reading the published warehouse: one line for pyarrow, pandas or DuckDB (读取数仓).

Layout (see ``docs/warehouse.md``)::

    <warehouse>/
      CURRENT                                 the run id of the current snapshot (one line; switched atomically)
      shared/current -> snapshots/<run_id>    convenience symlink for path-based tools (follows CURRENT)
      shared/snapshots/<run_id>/manifest.json
      shared/snapshots/<run_id>/<table>/part-00000.parquet                      small tables: one file
      shared/snapshots/<run_id>/<table>/street_code=<code>/part-00000.parquet   big tables: one per 街道/镇
      shared/snapshots/<run_id>/<table>/street_code=unknown/part-00000.parquet  rows without a place
      restricted/...                          the same, with full ID numbers and phones
      runs/<run_id>/data_docs/index.html      validation results of every attempt, also failed ones

``CURRENT`` is the single source of truth: a snapshot folder appears (by an atomic rename) only once all its
files and its manifest are written and fsynced, and ``CURRENT`` names it only after that. A reader resolves
``CURRENT`` once and then reads that snapshot's folder, so it always sees one complete snapshot.

The big tables (``partition_by`` in :mod:`warehouse.schema`) are hive-partitioned by ``street_code``: a reader
in one 街道 reads only its folder. The column is in the folder name, not in the files; :func:`read_table` and
:func:`connect` put it back as a text column in its schema position, and return rows in key order as the
single file did.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from warehouse.errors import UserError
from warehouse.privacy import layer_schema
from warehouse.schema import TABLES, Layer

if TYPE_CHECKING:
    import duckdb

POINTER_FILE = "CURRENT"
SNAPSHOTS = "snapshots"
CURRENT_LINK = "current"
RUNS = "runs"
MANIFEST = "manifest.json"
DATA_FILE = "part-{:05d}.parquet"
_PARTITION_VALUE = re.compile(r"^[0-9A-Za-z_-]+$")


class NoSnapshot(UserError, FileNotFoundError):
    """Nothing is published yet, or the snapshot / table asked for does not exist."""


class SnapshotChoiceError(UserError, ValueError):
    """``snapshot`` and ``as_of`` given together, or an ``as_of`` that is not a time."""


def current_run_id(warehouse_dir: str | Path) -> str | None:
    """Run id of the current snapshot, or None when nothing has been published."""
    pointer = Path(warehouse_dir) / POINTER_FILE
    try:
        text = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def snapshot_path(warehouse_dir: str | Path, run_id: str, layer: Layer | str = Layer.SHARED) -> Path:
    """Folder of one snapshot in one layer."""
    return Path(warehouse_dir) / str(Layer(layer)) / SNAPSHOTS / run_id


def _as_datetime(as_of: dt.datetime | dt.date | str) -> dt.datetime:
    """``as_of`` as an aware datetime; a time without a zone is local time, a bare date its end of day."""
    if isinstance(as_of, str):
        try:
            as_of = dt.datetime.fromisoformat(as_of.strip())
        except ValueError:
            raise SnapshotChoiceError(
                f"as_of={as_of!r} 不是 ISO 时间（如 2026-11-30T08:00+08:00）/ "
                "is not an ISO time (e.g. 2026-11-30T08:00+08:00)"
            ) from None
    elif not isinstance(as_of, dt.datetime):
        as_of = dt.datetime.combine(as_of, dt.time.max)
    return as_of if as_of.tzinfo is not None else as_of.astimezone()


def snapshot_as_of(
    warehouse_dir: str | Path, as_of: dt.datetime | dt.date | str, layer: Layer | str = Layer.SHARED
) -> str:
    """Run id of the newest snapshot published at or before ``as_of`` (its manifest's ``published_at``).

    ``as_of`` is a datetime or an ISO string; without a time zone it is the machine's local time. Raises
    :class:`NoSnapshot` when no kept snapshot is that old.
    """
    when = _as_datetime(as_of)
    chosen = None
    for run_id in list_snapshots(warehouse_dir, layer):  # oldest first
        published = read_manifest(warehouse_dir, run_id, layer).get("published_at")
        if published and dt.datetime.fromisoformat(published) <= when:
            chosen = run_id
    if chosen is None:
        raise NoSnapshot(
            f"{warehouse_dir}: 没有在 {when.isoformat()} 或之前发布的快照（较早的可能已按保留规则删除，"
            f"见 gridhub snapshots）/ no snapshot published at or before {when.isoformat()} (older ones may "
            "have been pruned by the retention rule; see `gridhub snapshots`)"
        )
    return chosen


def _pick(
    warehouse_dir: str | Path,
    snapshot: str | None,
    as_of: dt.datetime | dt.date | str | None,
    layer: Layer | str = Layer.SHARED,
) -> str | None:
    """The ``snapshot`` argument that ``snapshot`` / ``as_of`` ask for (None: the current one)."""
    if as_of is None:
        return snapshot
    if snapshot is not None:
        raise SnapshotChoiceError(
            f"snapshot={snapshot!r} 与 as_of={as_of!r} 只能给一个 / give snapshot or as_of, not both"
        )
    return snapshot_as_of(warehouse_dir, as_of, layer)


def _resolve(warehouse_dir: str | Path, snapshot: str | None) -> str:
    run_id = snapshot or current_run_id(warehouse_dir)
    if run_id is None:
        raise NoSnapshot(f"{warehouse_dir}: nothing published yet (no {POINTER_FILE} pointer)")
    return run_id


def read_manifest(warehouse_dir: str | Path, run_id: str, layer: Layer | str = Layer.SHARED) -> dict:
    """The manifest of one snapshot (``shared`` copy: text scrubbed; ``restricted``: as written)."""
    path = snapshot_path(warehouse_dir, run_id, layer) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NoSnapshot(f"{path}: no such snapshot manifest") from None


def current_manifest(warehouse_dir: str | Path, layer: Layer | str = Layer.SHARED) -> dict | None:
    """Manifest of the current snapshot, or None when nothing has been published."""
    run_id = current_run_id(warehouse_dir)
    return None if run_id is None else read_manifest(warehouse_dir, run_id, layer)


def list_snapshots(warehouse_dir: str | Path, layer: Layer | str = Layer.SHARED) -> list[str]:
    """Run ids of the complete snapshots in a layer, oldest first (by their manifest's publish time)."""
    root = Path(warehouse_dir) / str(Layer(layer)) / SNAPSHOTS
    if not root.is_dir():
        return []
    found: list[tuple[str, str]] = []
    for d in root.iterdir():
        if d.name.startswith(".") or not (d / MANIFEST).is_file():
            continue
        try:
            when = json.loads((d / MANIFEST).read_text(encoding="utf-8")).get("published_at", "")
        except (OSError, ValueError):
            continue
        found.append((when, d.name))
    return [name for _, name in sorted(found)]


def partition_folder(column: str, value: str) -> str:
    """The hive folder name of one partition value (``street_code=440106001``)."""
    if not _PARTITION_VALUE.match(value):
        raise ValueError(f"{column}={value!r} cannot name a folder (letters, digits, '_' and '-' only)")
    return f"{column}={value}"


def table_files(
    warehouse_dir: str | Path, table: str, layer: Layer | str = Layer.SHARED, snapshot: str | None = None
) -> list[Path]:
    """The Parquet files of one table in one snapshot (``current`` when ``snapshot`` is None), in path order:
    one file, or one per partition folder (see :func:`partition_folder`)."""
    if table not in TABLES:
        raise KeyError(f"no table {table!r}; tables: {', '.join(TABLES)}")
    folder = snapshot_path(warehouse_dir, _resolve(warehouse_dir, snapshot), layer) / table
    pattern = "*/*.parquet" if TABLES[table].partition_by else "*.parquet"
    files = sorted(
        p for p in folder.glob(pattern) if not any(s.startswith(".") for s in p.relative_to(folder).parts)
    )
    if not files:
        raise NoSnapshot(f"{folder}: no data files (table {table} is not in this snapshot)")
    return files


def read_table(
    warehouse_dir: str | Path,
    table: str,
    layer: Layer | str = Layer.SHARED,
    snapshot: str | None = None,
    columns: list[str] | None = None,
    as_of: dt.datetime | dt.date | str | None = None,
) -> pa.Table:
    """One table of the current (or a given) snapshot, with its layer's Arrow schema.

    ``read_table(wh, "person")`` is the shared layer (ID numbers and phones masked, ``*_key`` for joins);
    ``layer="restricted"`` has the full values. Rows come in key order; a partitioned table's partition
    column (``street_code``) is read from the folder names, as text. ``snapshot=<run_id>`` reads an older
    snapshot; ``as_of=<datetime or ISO string>`` the newest one published at or before that time.
    """
    files = table_files(warehouse_dir, table, layer, _pick(warehouse_dir, snapshot, as_of, layer))
    schema = layer_schema(table, layer)
    t = TABLES[table]
    if not t.partition_by:
        return ds.dataset([str(f) for f in files], schema=schema, format="parquet").to_table(columns=columns)
    partitioning = ds.partitioning(pa.schema([schema.field(c) for c in t.partition_by]), flavor="hive")
    dataset = ds.dataset(
        [str(f) for f in files],
        schema=schema,
        format="parquet",
        partitioning=partitioning,
        partition_base_dir=str(files[0].parents[1]),
    )
    wanted = list(columns) if columns is not None else schema.names
    data = dataset.to_table(columns=list(dict.fromkeys([*wanted, *t.key])))
    order = pc.sort_indices(data, sort_keys=[(k, "ascending", "at_end") for k in t.key])
    return data.take(order).select(wanted)


def sql_views(
    warehouse_dir: str | Path,
    layer: Layer | str = Layer.SHARED,
    snapshot: str | None = None,
    as_of: dt.datetime | dt.date | str | None = None,
) -> str:
    """``CREATE VIEW`` statements (DuckDB SQL) for every table of one snapshot, each followed by the
    ``COMMENT ON VIEW`` / ``COMMENT ON COLUMN`` statements that carry the schema's docs: paste into any DuckDB
    shell."""
    run_id = _resolve(warehouse_dir, _pick(warehouse_dir, snapshot, as_of, layer))
    base = snapshot_path(warehouse_dir, run_id, layer).resolve()
    statements = []
    for name, t in TABLES.items():
        if not t.partition_by:
            glob = str(base / name / "*.parquet").replace("'", "''")
            statements.append(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{glob}');")
            statements.extend(_comments(name, layer))
            continue
        # hive folders: the partition column comes from the folder names, typed as text, in its schema place
        glob = str(base / name / "*" / "*.parquet").replace("'", "''")
        types = ", ".join(f"'{c}': VARCHAR" for c in t.partition_by)
        columns = ", ".join(f'"{c}"' for c in layer_schema(t, layer).names)
        statements.append(
            f"CREATE OR REPLACE VIEW {name} AS SELECT {columns} FROM read_parquet('{glob}', "
            f"hive_partitioning = true, hive_types = {{{types}}});"
        )
        statements.extend(_comments(name, layer))
    return "\n".join(statements)


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _comments(table: str, layer: Layer | str) -> list[str]:
    """``COMMENT ON`` statements giving a table's view its doc and each column its field ``doc``, so
    ``duckdb_columns().comment`` (and DBeaver, ``DESCRIBE``...) show what a column means."""
    out = [f"COMMENT ON VIEW {table} IS {_sql_text(TABLES[table].doc)};"]
    for f in layer_schema(table, layer):
        doc = (f.metadata or {}).get(b"doc", b"").decode("utf-8")
        if doc:
            out.append(f'COMMENT ON COLUMN {table}."{f.name}" IS {_sql_text(doc)};')
    return out


def connect(
    warehouse_dir: str | Path,
    layer: Layer | str = Layer.SHARED,
    snapshot: str | None = None,
    database: str = ":memory:",
    as_of: dt.datetime | dt.date | str | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per table over the current snapshot (resolved once, so every view
    reads the same snapshot even if ``CURRENT`` moves meanwhile); ``snapshot`` / ``as_of`` as in
    :func:`read_table`::

        warehouse.connect(wh).sql("SELECT grid_code, count(*) FROM person GROUP BY 1").df()
        warehouse.connect(wh, as_of="2026-11-01T00:00+08:00")  # the warehouse as it was then
    """
    import duckdb

    sql = sql_views(warehouse_dir, layer, snapshot, as_of)
    con = duckdb.connect(database)
    con.execute(sql)
    return con
