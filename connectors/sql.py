"""Database feeds: pull a table or query with SQLAlchemy 2, incrementally by a watermark column.

A pull is written as a Parquet extract (the rows exactly as the database returned them, typed), stored in the
raw zone under its content hash with a manifest row, then staged like a file (line = the row's position in
the extract, first row = 1).

**Watermarks** (``state/watermarks/<feed>.json``): the largest watermark value staged so far *and the record
ids that carry exactly that value*. The next pull asks for ``watermark >= value`` and drops the rows already
taken at that value, so

- rows that arrive later with the same timestamp as the last pull's newest row are not missed (``>`` would
  miss them), and no row is pulled twice (``>=`` alone would repeat them);
- the watermark advances only after the extract is staged and the manifest says so. A crash before that
  means the rerun pulls the same rows again: an identical extract is recognised by its hash (nothing staged
  twice) and the watermark catches up; a larger one is staged and, per record id, the newest staged row wins.

Without a ``watermark`` every pull is a full extract; an unchanged table gives an identical extract, which is
a no-op.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from itertools import compress
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.sql.expression import Executable

from connectors.cells import SourceColumn, cell_text
from connectors.errors import FeedFileError, FileRejected, SourceError, SourceUnavailable
from connectors.feeds import Feed, SqlSource, Zones
from connectors.raw import RawZone, StoredBlob
from connectors.recovery import EXTRACT_PREFIX
from connectors.results import FileResult, IngestResult
from connectors.rules import RowRules
from connectors.staging import CURRENT_AGAIN, StagingWriter, StoredFile, current_again, record_failed
from connectors.watermarks import Since, WatermarkStore, advanced, new_rows
from warehouse.schema import STAGING_FIELDS, FieldKind

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------------------
# pulling
# ----------------------------------------------------------------------------------------------------------
def safe_url(url: str) -> str:
    """The URL with any password hidden, fit for logs, manifests and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return "<invalid URL>"


def _arrow_type(value: Any) -> pa.DataType:
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float):
        return pa.float64()
    if isinstance(value, dt.datetime):
        return pa.timestamp("us", tz="UTC") if value.tzinfo else pa.timestamp("us")
    if isinstance(value, dt.date):
        return pa.date32()
    if isinstance(value, bytes | bytearray | memoryview):
        return pa.binary()
    return pa.string()  # str, Decimal (kept exact as text), time, uuid, ...


def _column_array(values: list, t: pa.DataType) -> pa.Array:
    if pa.types.is_string(t):
        return pa.array([cell_text(v) for v in values], type=t)
    if pa.types.is_binary(t):
        return pa.array([bytes(v) if v is not None else None for v in values], type=t)
    if pa.types.is_integer(t) and any(isinstance(v, int) and not -(2**63) <= v < 2**63 for v in values):
        raise SourceError(f"an integer does not fit 64 bits: {max(values, key=lambda v: abs(v or 0))}")
    return pa.array(values, type=t)


def _select(engine: Engine, src: SqlSource, since: Any) -> Executable:
    """The statement of the pull (rows at or after ``since`` in watermark order, when there is a watermark)."""
    if src.table:
        return _select_table(engine, src.table, src.watermark, since)
    if not src.query:
        raise TypeError("a database source has a table or a query")  # the feed model makes sure of it
    wm = src.watermark
    if not wm:
        return sa.text(src.query)
    q = engine.dialect.identifier_preparer
    col = f"src.{q.quote(wm)}"
    where = f" WHERE {col} >= :since" if since is not None else ""
    stmt = sa.text(f"SELECT * FROM ({src.query.rstrip().rstrip(';')}) src{where} ORDER BY {col}")
    return stmt.bindparams(since=since) if since is not None else stmt


def _select_table(engine: Engine, name: str, wm: str | None, since: Any) -> Executable:
    schema, _, table_name = name.rpartition(".")
    table = sa.Table(table_name, sa.MetaData(), schema=schema or None, autoload_with=engine)
    stmt = sa.select(table)
    if wm:
        if wm not in table.c:
            raise SourceError(f"the watermark column {wm!r} is not in table {name}")
        col = table.c[wm]
        if since is not None:
            stmt = stmt.where(col >= sa.bindparam("since", since, type_=col.type))
        stmt = stmt.order_by(col)
    return stmt


def _extract_schema(columns: list[str], cols: list[tuple]) -> pa.Schema:
    """Arrow types of the extract from the first non-null value of each column (all-null columns: text)."""
    types = []
    for vals in cols:
        first = next((v for v in vals if v is not None), None)
        types.append(_arrow_type(first) if first is not None else pa.string())
    return pa.schema([pa.field(n, t) for n, t in zip(columns, types, strict=True)])


def _typed(columns: list[str], rows: list[tuple], schema: pa.Schema | None) -> pa.Table:
    """Rows as an Arrow table of ``schema`` (None: typed by their first non-null values)."""
    cols = list(zip(*rows, strict=True))
    schema = schema or _extract_schema(columns, cols)
    arrays = [_column_array(list(v), f.type) for v, f in zip(cols, schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


def pull_extract(engine: Engine, feed: Feed, since: Since | None, dest: Path) -> tuple[int, list[str]]:
    """Run the pull, write the new rows to ``dest`` as Parquet; return (row count, column names)."""
    src = _sql_source(feed)
    stmt = _select(engine, src, since.lower_bound(src.overlap_seconds) if since is not None else None)
    writer: pq.ParquetWriter | None = None
    rows_out = 0
    columns: list[str] = []
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=src.batch_size).execute(stmt)
            columns = list(result.keys())
            dbapi_cursor = result.cursor
            try:
                for part in result.partitions(src.batch_size):
                    rows = [tuple(r) for r in part]
                    if since is not None and rows and src.watermark in columns and feed.record_id in columns:
                        seen = _typed(columns, rows, None)
                        rows = list(compress(rows, new_rows(seen, since, src.watermark, feed.record_id)))
                    if not rows:
                        continue
                    batch = _typed(columns, rows, writer.schema if writer is not None else None)
                    if writer is None:  # typed by the first batch with new rows
                        writer = pq.ParquetWriter(dest, batch.schema, compression="zstd")
                    writer.write_table(batch)
                    rows_out += batch.num_rows
            except BaseException:
                if conn.invalidated:  # the connection died (killed, server restarted)
                    _forget_unread(dbapi_cursor)
                raise
    finally:
        if writer is not None:
            writer.close()
    return rows_out, columns


def _forget_unread(cursor: Any) -> None:
    """Tell a server-side cursor whose connection died that it has nothing left to read.

    Left alone, PyMySQL's unbuffered result tries to read the rest of its rows from the closed socket when it
    is garbage-collected, and prints two "Exception ignored" tracebacks after gridhub's clean message (the
    attributes are PyMySQL's; other drivers do not have them and need nothing)."""
    unread = getattr(cursor, "_result", None)
    if unread is not None and hasattr(unread, "unbuffered_active"):
        unread.unbuffered_active = False
    if cursor is not None and hasattr(cursor, "connection"):
        cursor.connection = None


def _unavailable(e: sa.exc.SQLAlchemyError) -> bool:
    """Whether a failed pull is the connection's fault rather than the query's (a retry may work): the server
    cannot be reached, the connection dropped, or the pool timed out. (SQLite reports a bad query as an
    ``OperationalError`` too, so the error class alone cannot say.)"""
    if isinstance(e, (sa.exc.DisconnectionError, sa.exc.TimeoutError)):
        return True
    return isinstance(e, sa.exc.DBAPIError) and bool(e.connection_invalidated)


def _reach(engine: Engine, feed: Feed, origin: str) -> None:
    """Connect once before the pull: a database that cannot be reached is :class:`SourceUnavailable`."""
    try:
        with engine.connect():
            pass
    except sa.exc.SQLAlchemyError as e:
        first = str(getattr(e, "orig", None) or e).strip().splitlines()[0][:300]
        raise SourceUnavailable(f"feed '{feed.name}': cannot connect to {origin}: {first}") from None


def _sql_source(feed: Feed) -> SqlSource:
    if not isinstance(feed.source, SqlSource):
        raise TypeError(f"feed {feed.name!r} is not a database feed")
    return feed.source


def _engine(feed: Feed, src: SqlSource) -> Engine:
    try:
        return sa.create_engine(src.url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as e:
        raise SourceError(f"feed '{feed.name}': cannot use database URL {safe_url(src.url)}: {e}") from None


def _origin(src: SqlSource) -> str:
    """Where a pull comes from, password hidden: ``<url> table <name>`` or ``<url> query``."""
    return f"{safe_url(src.url)} " + (f"table {src.table}" if src.table else "query")


def _pull_into_raw(raw: RawZone, feed: Feed, src: SqlSource, since: Since | None) -> StoredBlob | None:
    """Pull the new rows into a scratch extract and keep it in raw; None when there are no new rows."""
    engine = _engine(feed, src)
    origin = _origin(src)
    raw.root.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=EXTRACT_PREFIX, suffix=".parquet", dir=raw.root)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            _reach(engine, feed, origin)
            n, _ = pull_extract(engine, feed, since, tmp)
        except SourceUnavailable:
            raise
        except sa.exc.NoSuchTableError as e:
            raise SourceError(f"feed '{feed.name}': table not found: {e} ({origin})") from None
        except sa.exc.SQLAlchemyError as e:
            first = str(getattr(e, "orig", None) or e).strip().splitlines()[0][:300]
            # connection-level trouble may pass (a retry helps); a bad query or column will not
            kind = SourceUnavailable if _unavailable(e) else SourceError
            raise kind(f"feed '{feed.name}': the pull from {origin} failed: {first}") from None
        except SourceError as e:
            raise SourceError(f"feed '{feed.name}': {e} ({origin})") from None
        finally:
            engine.dispose()
        return raw.store_bytes_file(tmp) if n else None
    finally:
        tmp.unlink(missing_ok=True)


class ExtractReader:
    """Stages a database extract kept in raw: Parquet typed as the database returned it, line = row position."""

    def stage(self, feed: Feed, source: SqlSource, stored: StoredFile, out: StagingWriter) -> None:
        pf = pq.ParquetFile(stored.path)
        names = pf.schema_arrow.names
        rules = RowRules(feed, names, raw_sha256=stored.sha256, file_name=stored.file_name)
        out.describe(encoding="parquet", warnings=rules.warnings)
        fields = rules.source_indices
        offset = 0
        for batch in pf.iter_batches(batch_size=out.batch_rows):
            lines = np.arange(offset + 1, offset + batch.num_rows + 1, dtype=np.int64)
            offset += batch.num_rows
            cols = {
                f: SourceColumn.from_arrow(batch.column(names[i]), STAGING_FIELDS[f].kind)
                for f, i in fields.items()
            }
            kept = {
                a: SourceColumn.from_arrow(batch.column(names[i]), FieldKind.TEXT)
                for a, i in rules.attribute_indices.items()
            }
            out.add(rules.apply(lines, cols, [], kept))


EXTRACT_READER = ExtractReader()


def _stage_extract(
    zones: Zones, raw: RawZone, feed: Feed, stored: StoredFile, result: IngestResult
) -> FileResult:
    """Stage a new extract and record the outcome; a whole-extract problem raises FeedFileError."""
    try:
        with StagingWriter.to_parquet(zones, feed, stored) as out:
            EXTRACT_READER.stage(feed, _sql_source(feed), stored, out)
    except FileRejected as e:
        failed, problem = record_failed(raw, feed, stored, e)
        result.files.append(failed)
        raise FeedFileError([problem], result) from None
    fr = out.result
    raw.record_outcome(
        feed.name,
        stored.sha256,
        status="staged",
        encoding="parquet",
        rows_read=fr.rows_read,
        rows_staged=fr.rows_staged,
        rows_quarantined=fr.rows_quarantined,
        file_name=stored.file_name,
    )
    return fr


class SqlFeeds:
    """The ``sql`` source kind: pull new or changed rows, keep the extract in raw, stage it, advance the watermark."""

    def ingest(self, zones: Zones, feed: Feed, files: list[Path] | None) -> IngestResult:
        src = _sql_source(feed)
        result = IngestResult(feed=feed.name)
        store = WatermarkStore(zones, feed.name)
        since = store.load(src.watermark) if src.watermark else None
        raw = RawZone(zones.raw)
        blob = _pull_into_raw(raw, feed, src, since)
        if blob is None:
            log.info(
                "feed %s: no new or changed rows since %s", feed.name, since.value if since else "the start"
            )
            return result
        sha = blob.sha256
        stored = StoredFile(blob.path, sha, f"{feed.name}-extract-{sha[:12]}.parquet")
        previous = raw.lookup(feed.name, sha)
        if previous is not None and previous["status"] == "staged":
            raw.record_event(
                feed.name, sha, stored.file_name, "duplicate", "identical extract already staged"
            )
            result.files.append(
                FileResult(
                    file_name=stored.file_name,
                    sha256=sha,
                    skipped_duplicate=True,
                    warnings=["identical to an extract already staged"],
                )
            )
            if current_again(raw, feed, previous):
                result.files[-1].warnings.append(CURRENT_AGAIN)
        else:
            origin = _origin(src) + (
                f" where {src.watermark} >= {since.lower_bound(src.overlap_seconds)}"
                if since is not None
                else ""
            )
            raw.record_received(feed.name, blob, stored.file_name, origin=origin, kind="sql_extract")
            result.files.append(_stage_extract(zones, raw, feed, stored, result))
            result.check_accounting()
        _advance(store, feed, src, since, blob.path, sha)
        return result


SQL_FEEDS = SqlFeeds()


def _advance(
    store: WatermarkStore, feed: Feed, src: SqlSource, since: Since | None, extract: Path, sha: str
) -> None:
    """Move the watermark to the newest value in ``extract``, with the rows of the overlap window."""
    wm = src.watermark
    if not wm:
        return
    top = pc.max(pq.read_table(extract, columns=[wm])[wm])
    if not top.is_valid:
        return
    value = top.as_py()
    if since is not None and since.value is not None and since.value > value:
        value = since.value
    floor = Since(value, window={}).lower_bound(src.overlap_seconds)
    rows = pq.read_table(extract, filters=pc.field(wm) >= pc.scalar(floor))  # the window's rows only
    state = advanced(since, rows, wm, feed.record_id, src.overlap_seconds)
    if state is not None:
        store.save(wm, state, sha)
