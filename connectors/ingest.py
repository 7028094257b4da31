"""Feed ingest: landing → raw → staging + quarantine, with row accounting. What the ingest DAGs call.

:func:`ingest_feed` takes the feed's ingest lock, clears what a killed ingest left (:mod:`connectors.recovery`)
and hands the feed to its source kind
(:data:`connectors.sources.SOURCE_KINDS`): files landed in its folder (:mod:`connectors.file_feed`) or a pull
from its database (:mod:`connectors.sql`, the pull is kept in raw as a Parquet extract). Either way every
received file or extract is kept in the raw zone under its SHA-256 and staged into
``staging/<feed>/<sha>.parquet`` and ``quarantine/<feed>/<sha>.parquet``, with the field issues of its staged
rows in ``<field_issue_dir>/<sha>.parquet`` (:mod:`connectors.staging`), and rows read = rows staged + rows
quarantined checked before the manifest says ``staged``.

The rest of this module reads what ingest wrote: the raw manifest, the current staged rows, the quarantine,
the field issues.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.feeds import DELETED_COLUMN, Zones
from connectors.file_feed import landing_files
from connectors.raw import RawZone
from connectors.recovery import ingest_locks
from connectors.results import IngestResult
from connectors.sources import source_kind
from connectors.text import neutralise_formula
from warehouse.files import atomic_write
from warehouse.schema import arrow_schema
from warehouse.staging import STAGED_ISSUE_SCHEMA


@contextmanager
def feed_lock(ws: Zones, feed: str) -> Iterator[None]:
    """One ingest of a feed at a time (a DAG run and a hand-run `gridhub ingest` may overlap), after the
    temporary files of a killed one are cleared (:func:`connectors.recovery.ingest_locks`)."""
    with ingest_locks(ws, ws.feed(feed)):
        yield


def ingest_feed(workspace: Zones, feed: str, files: list[Path] | None = None) -> IngestResult:
    """Ingest one feed: its new landing files (``files=None``) or the given files; or pull its database.

    Returns the per-file accounting. Raises :class:`FeedFileError` at the end if any file had a whole-file
    problem (after every other file was processed); each such file is kept in raw and marked ``failed``.
    """
    cfg = workspace.feed(feed)
    with feed_lock(workspace, feed):
        return source_kind(cfg.source.kind).ingest(workspace, cfg, files)


def raw_manifest(workspace: Zones, feed: str | None = None) -> pd.DataFrame:
    """The raw manifest: one row per (feed, received content) with sizes, counts, status and errors."""
    return RawZone(workspace.raw).manifest(feed)


def staged_files(ws: Zones, feed: str) -> list[Path]:
    """The feed's staged files that hold its current rows, oldest first: every staged file of a ``delta``
    feed, the latest one of a ``full`` feed (each of its files is the whole table). What :func:`load_staging`
    reads: a run that names its inputs (fingerprint, lineage) should name these, not every file in the folder
    (a file a killed ingest left unrecorded is there too; a full feed's earlier table may be current again)."""
    m = raw_manifest(ws, feed)
    if m.empty:
        return []
    m = m[m["status"] == "staged"].sort_values("seq", kind="stable")
    if ws.feed(feed).mode == "full":
        m = m.tail(1)
    paths = [ws.staging_dir(feed) / f"{sha}.parquet" for sha in m["sha256"]]
    return [p for p in paths if p.exists()]


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A staged file written under an older feed config, shaped to today's staging schema."""
    cols = []
    for f in schema:
        if f.name in table.column_names:
            cols.append(table[f.name].cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, type=f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def load_staging(workspace: Zones, feed: str) -> pd.DataFrame:
    """The feed's current staged rows: the latest staged row per record id.

    A ``delta`` feed's files add and update records across all its staged files (the latest received file wins
    per ``source_record_id``), and a record whose latest row carries the feed's ``deletion_marker`` is left
    out. A ``full`` feed's current rows are those of its latest staged file alone: a record missing from it is
    no longer current (the pipeline retires its entity). Columns are
    typed per :func:`warehouse.schema.staging_schema` (pandas ``ArrowDtype``: ``date32`` dates, nullable
    booleans, ``string`` text), meta columns ``_feed``, ``_raw_sha256``, ``_line`` first, and ``attributes``
    last when the feed keeps some.
    """
    cfg = workspace.feed(feed)
    schema = cfg.staging_schema
    tables = [_conform(pq.read_table(p), schema) for p in staged_files(workspace, feed)]
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    df = table.to_pandas(types_mapper=pd.ArrowDtype)
    if "source_record_id" in df.columns and len(tables) > 1:
        df = df.drop_duplicates(subset="source_record_id", keep="last")
    if DELETED_COLUMN in df.columns:
        df = df[~df[DELETED_COLUMN].fillna(False).astype(bool)].drop(columns=DELETED_COLUMN)
    return df.reset_index(drop=True)


def load_quarantine(workspace: Zones, feed: str | None = None) -> pd.DataFrame:
    """Quarantined rows of one feed (or all) in the files that hold its current rows, columns as the ``quarantine`` table of the canonical schema."""
    schema = arrow_schema("quarantine")
    names = [feed] if feed else [f.name for f in workspace.feeds]
    tables = []
    for name in names:
        for staged in staged_files(workspace, name):
            p = workspace.quarantine_dir(name) / staged.name
            if p.exists():
                tables.append(pq.read_table(p).cast(schema))
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    return table.to_pandas()


def load_field_issues(workspace: Zones, feed: str | None = None) -> pd.DataFrame:
    """Field issues of the current staged rows of one feed (or all): values staging nulled or noted.

    Columns as :data:`warehouse.staging.STAGED_ISSUE_SCHEMA` (``feed, source_record_id, field, reason_code,
    original_value`` then where the value was: ``raw_sha256, file_name, line, column, message``). Only the
    feed's staged files count, and per record id only the file :func:`load_staging` takes the row from: a
    record sent again without the problem has no issue left.
    """
    names = [feed] if feed else [f.name for f in workspace.feeds]
    frames = []
    for name in names:
        files = staged_files(workspace, name)
        tables = [
            pq.read_table(p).cast(STAGED_ISSUE_SCHEMA)
            for p in (workspace.field_issue_dir(name) / f.name for f in files)
            if p.exists()
        ]
        if not tables:
            continue
        issues = pa.concat_tables(tables).to_pandas()
        if len(files) > 1:
            current = load_staging(workspace, name)[["source_record_id", "_raw_sha256"]].astype(object)
            current.columns = ["source_record_id", "raw_sha256"]
            issues = issues.merge(current, on=["source_record_id", "raw_sha256"], how="inner")
        frames.append(issues)
    if not frames:
        return STAGED_ISSUE_SCHEMA.empty_table().to_pandas()
    return pd.concat(frames, ignore_index=True)


def export_quarantine_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write quarantine rows as a CSV for people (UTF-8 with BOM so Excel reads Chinese).

    Any value a spreadsheet would evaluate (leading ``=``, ``+``, ``-``, ``@``, tab, CR) is prefixed with
    ``'`` so it shows as text; the data itself is never changed anywhere else.
    """
    path = Path(path)
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c].dtype):
            out[c] = out[c].astype(object).map(neutralise_formula)
    out.columns = [neutralise_formula(str(c)) for c in out.columns]
    with atomic_write(path) as tmp:
        out.to_csv(tmp, index=False, encoding="utf-8-sig")
    return path


__all__ = [
    "feed_lock",
    "export_quarantine_csv",
    "ingest_feed",
    "landing_files",
    "load_field_issues",
    "load_quarantine",
    "load_staging",
    "raw_manifest",
    "staged_files",
]
