"""Feed ingest: landing → raw → staging + quarantine, with row accounting. What the ingest DAGs call.

For a file feed, each file is

1. copied into the raw zone under its SHA-256 (kept forever, unchanged) and noted in the raw manifest;
   a file the feed already staged is a no-op that says so (``skipped_duplicate``);
2. sniffed (real format, encoding) and checked as a whole (empty, header only, binary, wrong format,
   duplicated or missing columns): a whole-file problem fails the file, not the other files of the run;
3. streamed in batches through the row rules (:mod:`connectors.rules`) into
   ``staging/<feed>/<sha>.parquet`` and ``quarantine/<feed>/<sha>.parquet``, each written to a temporary
   file and moved into place only when complete, so a crash leaves no half file and nothing already
   staged changes;
4. accounted: rows read = rows staged + rows quarantined, checked before the manifest says ``staged``.

Database feeds go through :mod:`connectors.sql` (the pull is stored in raw as a Parquet extract) and then the
same staging path.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.csv_source import CsvRecords
from connectors.errors import FeedFileError, FileProblem, FileRejected
from connectors.feeds import Feed, SqlSource, Zones
from connectors.raw import RawZone, sha256_file
from connectors.results import AccountingError, FileResult, IngestResult
from connectors.rules import BatchOutcome, RowRules, SourceColumn
from connectors.text import (
    SAMPLE_BYTES,
    check_text_sample,
    detect_encoding,
    neutralise_formula,
    safe_file_name,
    sniff_format,
)
from warehouse.reasons import ReasonCode
from warehouse.schema import arrow_schema, staging_schema

log = logging.getLogger(__name__)

BATCH_ROWS = 25_000
DONE_DIR = "_done"
FAILED_DIR = "_failed"
_NOT_DATA_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", ".lock")
_XLSX_SUFFIXES = (".xlsx", ".xlsm")
_CSV_SUFFIXES = (".csv", ".txt", ".tsv")


# ----------------------------------------------------------------------------------------------------------
# output files, written whole or not at all
# ----------------------------------------------------------------------------------------------------------
class _ParquetOut:
    """A Parquet file written batch by batch to a temp file and moved into place by :meth:`commit`."""

    def __init__(self, dest: Path, schema: pa.Schema) -> None:
        self.dest = dest
        self.schema = schema
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        os.close(fd)
        self.tmp = Path(name)
        self._writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table.cast(self.schema))
            self.rows += table.num_rows

    def commit(self) -> None:
        self._writer.close()
        os.replace(self.tmp, self.dest)

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self.tmp.unlink(missing_ok=True)


@contextmanager
def _outputs(ws: Zones, feed: Feed, sha: str) -> Iterator[tuple[_ParquetOut, _ParquetOut]]:
    staged = _ParquetOut(ws.staging_dir(feed.name) / f"{sha}.parquet", staging_schema(feed.fields))
    quarantined = _ParquetOut(ws.quarantine_dir(feed.name) / f"{sha}.parquet", arrow_schema("quarantine"))
    try:
        yield staged, quarantined
    except BaseException:
        staged.abort()
        quarantined.abort()
        raise
    staged.commit()
    quarantined.commit()


@contextmanager
def feed_lock(ws: Zones, feed: str) -> Iterator[None]:
    """One ingest of a feed at a time (a DAG run and a hand-run `gridhub ingest` may overlap)."""
    lock_dir = ws.locks
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"ingest-{feed}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ----------------------------------------------------------------------------------------------------------
# staging one stored file
# ----------------------------------------------------------------------------------------------------------
def _accumulate(
    result: FileResult, outcome: BatchOutcome, staged: _ParquetOut, quarantined: _ParquetOut
) -> None:
    staged.write(outcome.staged)
    quarantined.write(outcome.quarantine)
    result.rows_read += outcome.rows_read
    result.rows_staged += outcome.staged.num_rows
    result.rows_quarantined += outcome.rows_quarantined
    for k, v in outcome.reasons.items():
        result.reasons[k] = result.reasons.get(k, 0) + v


def _finish(result: FileResult) -> None:
    if result.rows_read == 0:
        raise FileRejected(
            ReasonCode.HEADER_ONLY, f"{result.rows_blank} blank rows" if result.rows_blank else ""
        )
    if not result.balanced:
        raise AccountingError(
            f"{result.file_name}: read {result.rows_read} != staged {result.rows_staged} + quarantined "
            f"{result.rows_quarantined}"
        )


def _choose_format(feed: Feed, path: Path, file_name: str) -> str:
    """'csv' or 'xlsx' from the feed's ``format``, the name and the content; raise if they disagree."""
    size = path.stat().st_size
    if size == 0:
        raise FileRejected(ReasonCode.EMPTY_FILE, "0 bytes")
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES)
    kind, problem, what = sniff_format(head)
    configured = feed.source.format
    suffix = Path(file_name).suffix.lower()
    wants = (
        configured
        if configured != "auto"
        else ("xlsx" if suffix in _XLSX_SUFFIXES else "csv" if suffix in _CSV_SUFFIXES else None)
    )
    if kind == "xlsx":
        if wants in (None, "xlsx"):
            return "xlsx"
        raise FileRejected(ReasonCode.WRONG_FORMAT, f"{what} in a file the feed reads as CSV")
    if problem is not None:
        raise FileRejected(problem, what)
    if wants == "xlsx":
        raise FileRejected(ReasonCode.WRONG_FORMAT, "not an xlsx workbook (no zip container)")
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise FileRejected(ReasonCode.EMPTY_FILE, "only blank lines")
    return "csv"


def stage_csv(
    feed: Feed,
    path: Path,
    sha: str,
    file_name: str,
    staged: _ParquetOut,
    quarantined: _ParquetOut,
    batch_rows: int | None = None,
) -> FileResult:
    """Stream one stored CSV file through the row rules into the two outputs."""
    batch_rows = batch_rows or BATCH_ROWS
    src = feed.source
    encoding = detect_encoding(path, src.encoding)
    with path.open("rb") as f:
        check_text_sample(f.read(SAMPLE_BYTES), encoding)
    result = FileResult(file_name=file_name, sha256=sha, encoding=encoding)
    with CsvRecords(path, encoding=encoding, delimiter=src.delimiter, header_row=src.header_row) as records:
        rules = _rules_for(feed, records.header, sha, file_name, src.delimiter)
        result.warnings.extend(rules.warnings)
        getters = {f: itemgetter(i) for f, i in rules.source_indices.items()}
        for batch in records.batches(batch_rows):
            result.rows_blank += batch.blank
            # one C-level pass per mapped column (unmapped columns are never touched)
            columns = {f: SourceColumn.from_strings(list(map(g, batch.rows))) for f, g in getters.items()}
            _accumulate(result, rules.apply(batch.lines, columns, batch.rejects), staged, quarantined)
    _finish(result)
    return result


def _rules_for(feed: Feed, header: list[str], sha: str, file_name: str, delimiter: str) -> RowRules:
    try:
        return RowRules(feed, header, raw_sha256=sha, file_name=file_name)
    except FileRejected as e:
        if e.code is ReasonCode.MISSING_COLUMNS and len(header) == 1:
            for d, name in (("\t", "tab"), (";", "';'"), ("|", "'|'"), (",", "','")):
                if d != delimiter and d in header[0]:
                    raise FileRejected(
                        e.code,
                        e.detail + f"; 分隔符可能不对 / the delimiter may be {name}, not {delimiter!r}",
                    ) from None
        raise


def _stage_stored_file(ws: Zones, feed: Feed, path: Path, sha: str, file_name: str) -> FileResult:
    fmt = _choose_format(feed, path, file_name)
    with _outputs(ws, feed, sha) as (staged, quarantined):
        if fmt == "xlsx":
            from connectors.xlsx_source import stage_xlsx

            return stage_xlsx(feed, path, sha, file_name, staged, quarantined)
        return stage_csv(feed, path, sha, file_name, staged, quarantined)


# ----------------------------------------------------------------------------------------------------------
# landing folder
# ----------------------------------------------------------------------------------------------------------
def is_data_file(path: Path) -> bool:
    """Flag files (``_READY``), hidden and temporary files, Office lock files are not data."""
    name = path.name
    return (
        path.is_file()
        and not name.startswith((".", "_", "~$"))
        and not name.lower().endswith(_NOT_DATA_SUFFIXES)
    )


def landing_files(ws: Zones, feed: Feed, raw: RawZone | None = None) -> list[Path]:
    """Files in the feed's landing folder matching its glob that the raw manifest does not hold yet."""
    if isinstance(feed.source, SqlSource):
        return []
    root = ws.landing_dir(feed.name)
    if not root.is_dir():
        return []
    raw = raw or RawZone(ws.raw)
    out = []
    for p in sorted(root.glob(feed.source.glob)):
        rel = p.relative_to(root)
        if any(part.startswith(("_", ".")) for part in rel.parts[:-1]) or not is_data_file(p):
            continue
        if raw.lookup(feed.name, sha256_file(p)) is not None:
            log.info("feed %s: %s is already in the raw manifest; skipped", feed.name, p.name)
            continue
        out.append(p)
    return out


def _file_away(ws: Zones, feed: Feed, path: Path, sub: str, sha: str) -> None:
    """Move a landing file to ``_done/`` or ``_failed/`` (never delete it); files from elsewhere stay put."""
    root = ws.landing_dir(feed.name).resolve()
    try:
        src = path.resolve()
        src.relative_to(root)
    except (ValueError, OSError):
        return
    if not src.exists():
        return
    dest_dir = root / sub
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / src.name
    if dest.exists():
        dest = dest_dir / f"{src.stem}.{sha[:12]}{src.suffix}"
    try:
        shutil.move(str(src), str(dest))
    except OSError as e:
        log.warning("feed %s: could not move %s to %s: %s", feed.name, src, dest, e)


# ----------------------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------------------
def _ingest_one(ws: Zones, feed: Feed, raw: RawZone, path: Path) -> tuple[FileResult, FileProblem | None]:
    file_name = safe_file_name(path.name)
    if not path.is_file():
        problem = FileProblem(feed.name, file_name, ReasonCode.UNREADABLE_FILE, f"not found: {path}")
        return FileResult(
            file_name=file_name, sha256="", error=problem.message, error_code=str(problem.code)
        ), problem
    blob = raw.store_file(path)
    sha = blob.sha256
    previous = raw.lookup(feed.name, sha)
    if previous is not None and previous["status"] == "staged":
        raw.record_event(feed.name, sha, file_name, "duplicate", f"identical to {previous['file_name']}")
        log.info(
            "feed %s: %s is identical to %s, staged before: nothing to do",
            feed.name,
            file_name,
            previous["file_name"],
        )
        _file_away(ws, feed, path, DONE_DIR, sha)
        return FileResult(
            file_name=file_name,
            sha256=sha,
            skipped_duplicate=True,
            warnings=[
                f"identical to {previous['file_name']} received {previous['received_at']}: not staged again"
            ],
        ), None
    raw.record_received(feed.name, blob, file_name, origin=str(path), kind="file")
    try:
        result = _stage_stored_file(ws, feed, blob.path, sha, file_name)
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
        log.warning("%s", problem.message)
        _file_away(ws, feed, path, FAILED_DIR, sha)
        return FileResult(
            file_name=file_name, sha256=sha, error=problem.message, error_code=str(e.code)
        ), problem
    raw.record_outcome(
        feed.name,
        sha,
        status="staged",
        encoding=result.encoding,
        rows_read=result.rows_read,
        rows_staged=result.rows_staged,
        rows_quarantined=result.rows_quarantined,
        rows_blank=result.rows_blank,
        file_name=file_name,
    )
    log.info(
        "feed %s, %s: read %d, staged %d, quarantined %d %s",
        feed.name,
        file_name,
        result.rows_read,
        result.rows_staged,
        result.rows_quarantined,
        result.reasons or "",
    )
    _file_away(ws, feed, path, DONE_DIR, sha)
    return result, None


def ingest_feed(workspace: Zones, feed: str, files: list[Path] | None = None) -> IngestResult:
    """Ingest one feed: its new landing files (``files=None``) or the given files; or pull its database.

    Returns the per-file accounting. Raises :class:`FeedFileError` at the end if any file had a whole-file
    problem (after every other file was processed); each such file is kept in raw and marked ``failed``.
    """
    cfg = workspace.feed(feed)
    if isinstance(cfg.source, SqlSource):
        from connectors.sql import ingest_sql_feed

        with feed_lock(workspace, feed):
            return ingest_sql_feed(workspace, cfg)
    raw = RawZone(workspace.raw)
    with feed_lock(workspace, feed):
        paths = [Path(p) for p in files] if files is not None else landing_files(workspace, cfg, raw)
        result = IngestResult(feed=feed)
        problems: list[FileProblem] = []
        for path in paths:
            fr, problem = _ingest_one(workspace, cfg, raw, path)
            result.files.append(fr)
            if problem is not None:
                problems.append(problem)
    result.check_accounting()
    if problems:
        raise FeedFileError(problems, result)
    return result


def raw_manifest(workspace: Zones, feed: str | None = None) -> pd.DataFrame:
    """The raw manifest: one row per (feed, received content) with sizes, counts, status and errors."""
    return RawZone(workspace.raw).manifest(feed)


def _staged_files(ws: Zones, feed: str) -> list[Path]:
    m = raw_manifest(ws, feed)
    if m.empty:
        return []
    m = m[m["status"] == "staged"].sort_values("seq", kind="stable")
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
    """The feed's current staged rows across its staged files; the latest received file wins per record id.

    Full extracts supersede earlier rows of the same ``source_record_id``; deltas add to them. Columns are
    typed per :func:`warehouse.schema.staging_schema` (pandas ``ArrowDtype``: ``date32`` dates, nullable
    booleans, ``string`` text), meta columns ``_feed``, ``_raw_sha256``, ``_line`` first.
    """
    cfg = workspace.feed(feed)
    schema = staging_schema(cfg.fields)
    tables = [_conform(pq.read_table(p), schema) for p in _staged_files(workspace, feed)]
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    df = table.to_pandas(types_mapper=pd.ArrowDtype)
    if "source_record_id" in df.columns and len(tables) > 1:
        df = df.drop_duplicates(subset="source_record_id", keep="last")
    return df.reset_index(drop=True)


def load_quarantine(workspace: Zones, feed: str | None = None) -> pd.DataFrame:
    """Quarantined rows of one feed (or all), columns as the ``quarantine`` table of the canonical schema."""
    schema = arrow_schema("quarantine")
    names = [feed] if feed else [f.name for f in workspace.feeds]
    tables = []
    for name in names:
        m = raw_manifest(workspace, name)
        if m.empty:
            continue
        for sha in m.loc[m["status"] == "staged", "sha256"]:
            p = workspace.quarantine_dir(name) / f"{sha}.parquet"
            if p.exists():
                tables.append(pq.read_table(p).cast(schema))
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    return table.to_pandas()


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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        out.to_csv(tmp, index=False, encoding="utf-8-sig")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


__all__ = [
    "BATCH_ROWS",
    "export_quarantine_csv",
    "ingest_feed",
    "landing_files",
    "load_quarantine",
    "load_staging",
    "raw_manifest",
]
