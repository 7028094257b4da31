"""Department feeds in: CSV, Excel and SQL connectors, the raw zone, staging, quarantine and row accounting.

The public API (what the DAGs, the CLI and the pipeline call) is re-exported here; the implementation lives
in the submodules: ``ingest`` (the entry point and the readers of staged data), ``sources`` (the source kinds
and file formats, with their registries), ``file_feed`` (landing folders), ``sql`` (database pulls),
``csv_source`` / ``xlsx_source`` (the file readers), ``staging`` (the writer every reader sends rows to),
``rules`` and ``cells`` (row rules, typed cells), ``raw`` (the raw zone), ``text`` (encodings, cleaning, safe
file names), ``preview`` (the dry run the upload portal shows).
"""

from __future__ import annotations

from connectors.errors import ConnectorError, FeedFileError, FileProblem, SourceError, SourceUnavailable
from connectors.ingest import (
    export_quarantine_csv,
    ingest_feed,
    landing_files,
    load_field_issues,
    load_quarantine,
    load_staging,
    raw_manifest,
    staged_files,
)
from connectors.preview import FilePreview, preview_file
from connectors.results import AccountingError, FileResult, IngestResult

__all__ = [
    "AccountingError",
    "ConnectorError",
    "FeedFileError",
    "FileProblem",
    "FilePreview",
    "FileResult",
    "IngestResult",
    "SourceError",
    "SourceUnavailable",
    "export_quarantine_csv",
    "ingest_feed",
    "landing_files",
    "load_field_issues",
    "load_quarantine",
    "load_staging",
    "preview_file",
    "raw_manifest",
    "staged_files",
]
