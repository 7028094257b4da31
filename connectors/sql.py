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
import json
import logging
import os
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from connectors.errors import FeedFileError, FileProblem, FileRejected, SourceError
from connectors.feeds import Feed, SqlSource, Zones
from connectors.raw import RawZone
from connectors.results import FileResult, IngestResult
from connectors.rules import RowRules, SourceColumn, cell_text
from warehouse.schema import STAGING_FIELDS

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------------------
# watermark state
# ----------------------------------------------------------------------------------------------------------
def _encode(value: Any) -> dict:
    if isinstance(value, dt.datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, bool):
        return {"type": "bool", "value": value}
    if isinstance(value, int):
        return {"type": "int", "value": value}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    if isinstance(value, Decimal):
        return {"type": "decimal", "value": str(value)}
    return {"type": "str", "value": str(value)}


def _decode(obj: dict) -> Any:
    t, v = obj["type"], obj["value"]
    return {
        "datetime": dt.datetime.fromisoformat,
        "date": dt.date.fromisoformat,
        "decimal": Decimal,
        "int": int,
        "float": float,
        "bool": bool,
    }.get(t, str)(v)


class WatermarkStore:
    """The per-feed watermark, written atomically (temp file + rename)."""

    def __init__(self, ws: Zones, feed: str) -> None:
        self.path = ws.watermarks / f"{feed}.json"

    def load(self, column: str) -> tuple[Any, set[str]] | None:
        """(value, record ids at that value), or None for a first (full) pull."""
        if not self.path.exists():
            return None
        state = json.loads(self.path.read_text(encoding="utf-8"))
        if state.get("column") != column:
            log.warning(
                "watermark column changed from %s to %s: pulling everything again",
                state.get("column"),
                column,
            )
            return None
        return _decode(state["value"]), set(state.get("ids_at_value", []))

    def save(self, column: str, value: Any, ids_at_value: set[str], sha256: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "column": column,
            "value": _encode(value),
            "ids_at_value": sorted(ids_at_value),
            "extract_sha256": sha256,
            "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        fd, tmp = tempfile.mkstemp(prefix=".wm-", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(state, f, ensure_ascii=False, indent=1)
        os.replace(tmp, self.path)

    def read(self) -> dict | None:
        return json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else None


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


def _select(engine: Engine, src: SqlSource, since: Any):
    """The statement and its parameters for the pull."""
    wm = src.watermark
    if src.table:
        schema, _, name = src.table.rpartition(".")
        table = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=engine)
        stmt = sa.select(table)
        if wm:
            if wm not in table.c:
                raise SourceError(f"the watermark column {wm!r} is not in table {src.table}")
            col = table.c[wm]
            if since is not None:
                stmt = stmt.where(col >= sa.bindparam("since", since, type_=col.type))
            stmt = stmt.order_by(col)
        return stmt
    q = engine.dialect.identifier_preparer
    if not wm:
        return sa.text(src.query)
    col = f"src.{q.quote(wm)}"
    where = f" WHERE {col} >= :since" if since is not None else ""
    stmt = sa.text(f"SELECT * FROM ({src.query.rstrip().rstrip(';')}) src{where} ORDER BY {col}")
    return stmt.bindparams(since=since) if since is not None else stmt


def pull_extract(
    engine: Engine, feed: Feed, since: tuple[Any, set[str]] | None, dest: Path
) -> tuple[int, list[str]]:
    """Run the pull, write the new rows to ``dest`` as Parquet; return (row count, column names)."""
    src: SqlSource = feed.source
    value, taken = since if since is not None else (None, set())
    stmt = _select(engine, src, value)
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    rows_out = 0
    columns: list[str] = []
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=src.batch_size).execute(stmt)
            columns = list(result.keys())
            wm_i = columns.index(src.watermark) if src.watermark in columns else None
            id_i = columns.index(feed.record_id) if feed.record_id in columns else None
            for part in result.partitions(src.batch_size):
                rows = [tuple(r) for r in part]
                if taken and wm_i is not None and id_i is not None:
                    rows = [r for r in rows if not (r[wm_i] == value and cell_text(r[id_i]) in taken)]
                if not rows:
                    continue
                cols = list(zip(*rows, strict=True))
                if schema is None:
                    types = []
                    for vals in cols:
                        first = next((v for v in vals if v is not None), None)
                        types.append(_arrow_type(first) if first is not None else pa.string())
                    schema = pa.schema([pa.field(n, t) for n, t in zip(columns, types, strict=True)])
                    writer = pq.ParquetWriter(dest, schema, compression="zstd")
                arrays = [_column_array(list(v), f.type) for v, f in zip(cols, schema, strict=True)]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                rows_out += len(rows)
    finally:
        if writer is not None:
            writer.close()
    return rows_out, columns


def _engine(feed: Feed) -> Engine:
    try:
        return sa.create_engine(feed.source.url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as e:
        raise SourceError(
            f"feed '{feed.name}': cannot use database URL {safe_url(feed.source.url)}: {e}"
        ) from None


def ingest_sql_feed(ws: Zones, feed: Feed) -> IngestResult:
    """Pull new or changed rows of a database feed, keep the extract in raw, stage it, advance the watermark."""
    from connectors.ingest import BATCH_ROWS, _finish, _outputs

    src: SqlSource = feed.source
    result = IngestResult(feed=feed.name)
    store = WatermarkStore(ws, feed.name)
    since = store.load(src.watermark) if src.watermark else None
    engine = _engine(feed)
    origin = f"{safe_url(src.url)} " + (f"table {src.table}" if src.table else "query")
    raw = RawZone(ws.raw)
    raw.root.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".extract-", suffix=".parquet", dir=raw.root)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            n, columns = pull_extract(engine, feed, since, tmp)
        except sa.exc.NoSuchTableError as e:
            raise SourceError(f"feed '{feed.name}': table not found: {e} ({origin})") from None
        except sa.exc.SQLAlchemyError as e:
            first = str(getattr(e, "orig", None) or e).strip().splitlines()[0][:300]
            raise SourceError(f"feed '{feed.name}': the pull from {origin} failed: {first}") from None
        except SourceError as e:
            raise SourceError(f"feed '{feed.name}': {e} ({origin})") from None
        finally:
            engine.dispose()
        if n == 0:
            log.info(
                "feed %s: no new or changed rows since %s", feed.name, since[0] if since else "the start"
            )
            return result
        blob = raw.store_bytes_file(tmp)
    finally:
        tmp.unlink(missing_ok=True)

    sha = blob.sha256
    file_name = f"{feed.name}-extract-{sha[:12]}.parquet"
    if since is not None:
        origin += f" where {src.watermark} >= {since[0]}"
    previous = raw.lookup(feed.name, sha)
    if previous is not None and previous["status"] == "staged":
        raw.record_event(feed.name, sha, file_name, "duplicate", "identical extract already staged")
        result.files.append(
            FileResult(
                file_name=file_name,
                sha256=sha,
                skipped_duplicate=True,
                warnings=["identical to an extract already staged"],
            )
        )
        _advance(store, feed, blob.path, sha)
        return result
    raw.record_received(feed.name, blob, file_name, origin=origin, kind="sql_extract")
    try:
        with _outputs(ws, feed, sha) as (staged, quarantined):
            fr = _stage_extract(feed, blob.path, sha, file_name, staged, quarantined, BATCH_ROWS)
            _finish(fr)
    except FileRejected as e:
        problem = FileProblem(feed.name, file_name, e.code, e.detail, sha)
        raw.record_outcome(
            feed.name,
            sha,
            status="failed",
            error_code=str(e.code),
            error=problem.message,
            file_name=file_name,
        )
        result.files.append(
            FileResult(file_name=file_name, sha256=sha, error=problem.message, error_code=str(e.code))
        )
        raise FeedFileError([problem], result) from None
    raw.record_outcome(
        feed.name,
        sha,
        status="staged",
        encoding="parquet",
        rows_read=fr.rows_read,
        rows_staged=fr.rows_staged,
        rows_quarantined=fr.rows_quarantined,
        file_name=file_name,
    )
    result.files.append(fr)
    result.check_accounting()
    _advance(store, feed, blob.path, sha)
    return result


def _stage_extract(
    feed: Feed, path: Path, sha: str, file_name: str, staged, quarantined, batch_rows: int
) -> FileResult:
    from connectors.ingest import _accumulate

    pf = pq.ParquetFile(path)
    rules = RowRules(feed, pf.schema_arrow.names, raw_sha256=sha, file_name=file_name)
    result = FileResult(file_name=file_name, sha256=sha, encoding="parquet", warnings=list(rules.warnings))
    fields = rules.source_indices
    names = pf.schema_arrow.names
    offset = 0
    for batch in pf.iter_batches(batch_size=batch_rows):
        lines = np.arange(offset + 1, offset + batch.num_rows + 1, dtype=np.int64)
        offset += batch.num_rows
        cols = {
            f: SourceColumn.from_arrow(batch.column(names[i]), STAGING_FIELDS[f].kind)
            for f, i in fields.items()
        }
        _accumulate(result, rules.apply(lines, cols, []), staged, quarantined)
    return result


def _advance(store: WatermarkStore, feed: Feed, extract: Path, sha: str) -> None:
    """Move the watermark to the newest value in ``extract`` (with the ids at that value)."""
    wm = feed.source.watermark
    if not wm:
        return
    t = pq.read_table(extract, columns=[wm, feed.record_id] if feed.record_id != wm else [wm])
    col = t[wm]
    top = pc.max(col)
    if not top.is_valid:
        return
    at_top = pc.equal(col, top)
    ids = t[feed.record_id].filter(at_top).to_pylist()
    previous = store.load(wm)
    taken = {cell_text(v) for v in ids if v is not None}
    value = top.as_py()
    if previous is not None and previous[0] == value:
        taken |= previous[1]  # same top value as before: the earlier rows at it stay taken
    store.save(wm, value, taken, sha)
