"""Publishing a snapshot: validate (the gate), write both layers, then switch ``CURRENT`` atomically (发布).

The order is what makes a killed run harmless:

1. take the publish lock (``flock``; released by the kernel if the process dies) and delete leftovers of
   killed runs (``<layer>/snapshots/.incoming-*``);
2. validate every table with Great Expectations (:func:`warehouse.validate.validate_tables`). Any failure
   raises :class:`PublishBlocked` naming table and expectation; nothing else is touched;
3. write each table of each layer, sorted by its key, into ``<layer>/snapshots/.incoming-<run_id>-<pid>/``
   with deterministic Parquet settings, fsync every file: ``<table>/part-00000.parquet``, or for a table with
   ``partition_by`` one hive folder per value, ``<table>/street_code=<value>/part-00000.parquet``;
4. write ``manifest.json`` (run id, time, row counts, schema hash, SHA-256 of every file, lineage) and fsync;
5. rename each incoming folder to ``<layer>/snapshots/<run_id>`` (atomic on one filesystem), fsync parents;
6. write ``CURRENT.tmp``, fsync, ``os.replace`` it over ``CURRENT``, fsync the folder: the switch;
7. point the per-layer ``current`` symlinks at the new snapshot; prune old snapshots (never the current one).

Steps 2 to 6 are the functions :func:`validate_or_block`, :func:`write_layers`, :func:`write_manifests`,
:func:`install` (:func:`install_layer` per layer) and :func:`switch_current`, called in this order by
:func:`publish`.

A kill anywhere before step 6 leaves ``CURRENT`` naming the previous complete snapshot; at most an incoming
folder or an unreferenced complete snapshot is left behind, which the next publish cleans or prunes.

Same inputs give the same bytes: rows are sorted by key, Parquet is written with fixed settings, and nothing
time-dependent goes into the data files (only the manifest records the time). Publishing a run id that is
already published with identical content reuses that snapshot; with different content it is refused while it
is the current snapshot, and replaced when it is not (a publish killed after stage 5 left it, unreferenced), so
a rerun after any kill publishes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from warehouse.errors import UserError
from warehouse.files import atomic_write_text, fsync_path, locked
from warehouse.privacy import PrivacyKeyError, scrub_json
from warehouse.read import (
    CURRENT_LINK,
    MANIFEST,
    POINTER_FILE,
    RUNS,
    SNAPSHOTS,
    current_run_id,
    list_snapshots,
    read_manifest,
    snapshot_path,
)
from warehouse.schema import TABLES, Layer, schema_hash
from warehouse.snapshot_reuse import (
    link_table,
    linkable_tables,
    reusable_outcomes,
    source_digests,
    write_fingerprint,
)
from warehouse.snapshot_write import LAYERS, write_layers
from warehouse.tablefiles import table_rows
from warehouse.validate import validate_tables
from warehouse.validation_report import ValidationReport

if TYPE_CHECKING:
    from warehouse.settings import WarehouseSettings

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "gridhub-warehouse-snapshot/1"
INCOMING_PREFIX = ".incoming-"
LOCK_FILE = ".publish.lock"
_RUN_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$")


class PublishBlocked(UserError, RuntimeError):
    """Validation failed: nothing was published and ``CURRENT`` is unchanged. The message names every failed
    table and expectation, and where the Data Docs are."""

    def __init__(self, report: ValidationReport):
        self.report = report
        lines = [f"publish blocked: {len(report.failures)} expectation(s) failed"]
        lines += [f"  - {m}" for m in report.failures]
        if report.data_docs_path:
            lines.append(f"  Data Docs: {report.data_docs_path}")
        super().__init__("\n".join(lines))


class PublishError(UserError, RuntimeError):
    """Publishing could not complete for a reason other than validation (bad run id, run id conflict)."""


@dataclass(frozen=True)
class Snapshot:
    """A published snapshot: where it is, its manifest and its validation report."""

    run_id: str
    warehouse_dir: Path
    manifest: dict
    data_docs_path: Path | None
    reused: bool = False  # the run id was already published with identical content
    report: ValidationReport | None = field(default=None, compare=False, repr=False)

    @property
    def path(self) -> Path:
        """The shared-layer folder of the snapshot."""
        return snapshot_path(self.warehouse_dir, self.run_id, Layer.SHARED)


# --------------------------------------------------------------------------------------------------------------
# Durability helpers
# --------------------------------------------------------------------------------------------------------------
@contextmanager
def _publish_lock(warehouse_dir: Path) -> Iterator[None]:
    with locked(warehouse_dir / LOCK_FILE):
        yield


def _write_json(path: Path, value: object) -> None:
    path.write_text(
        json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    fsync_path(path)


def switch_current(warehouse_dir: Path, run_id: str) -> None:
    """Stage 6 of :func:`publish`, the switch: replace ``CURRENT`` by a file naming ``run_id``, durably (the new
    file is fsynced before the replace, the folder after it). Readers see the old snapshot or the new one."""
    atomic_write_text(warehouse_dir / POINTER_FILE, run_id + "\n", fsync=True)


def _point_links(warehouse_dir: Path, run_id: str) -> None:
    """Make ``<layer>/current`` point at ``snapshots/<run_id>`` (each swap atomic via os.replace)."""
    for layer in LAYERS:
        base = warehouse_dir / str(layer)
        link = base / CURRENT_LINK
        target = f"{SNAPSHOTS}/{run_id}"
        if link.is_symlink() and os.readlink(link) == target:
            continue
        tmp = base / f".{CURRENT_LINK}.tmp-{os.getpid()}"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(target, tmp)
        os.replace(tmp, link)
        fsync_path(base)


def _clean_leftovers(warehouse_dir: Path) -> None:
    """Remove what killed publishes left (incoming folders, temp pointers); we hold the lock, so they are dead."""
    for layer in LAYERS:
        root = warehouse_dir / str(layer) / SNAPSHOTS
        if root.is_dir():
            for d in root.iterdir():
                if d.name.startswith(INCOMING_PREFIX):
                    log.warning("removing %s, left by an interrupted publish", d)
                    shutil.rmtree(d, ignore_errors=True)
        base = warehouse_dir / str(layer)
        if base.is_dir():
            for p in base.glob(f".{CURRENT_LINK}.tmp-*"):
                p.unlink(missing_ok=True)
    for p in warehouse_dir.glob(f".{POINTER_FILE}.tmp-*"):
        p.unlink(missing_ok=True)


def _published_at(warehouse_dir: Path, run_id: str, layer: Layer) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(read_manifest(warehouse_dir, run_id, layer)["published_at"])
    except (OSError, KeyError, TypeError, ValueError):
        return None


def _prune(warehouse_dir: Path, keep: int, current: str, keep_days: int = 0) -> list[str]:
    """Delete the snapshots beyond BOTH rules: not among the newest ``keep`` (counting the current one) and
    published more than ``keep_days`` days ago. The current one is never deleted; return the deleted ids."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=keep_days)
    removed: list[str] = []
    for layer in LAYERS:
        others = [r for r in list_snapshots(warehouse_dir, layer) if r != current]
        keep_ids = {current, *others[len(others) - (keep - 1) :]} if keep > 1 else {current}
        for run_id in others:  # younger than keep_days: kept whatever the count
            when = _published_at(warehouse_dir, run_id, layer)
            if keep_days and when is not None and when >= cutoff:
                keep_ids.add(run_id)
        root = warehouse_dir / str(layer) / SNAPSHOTS
        for d in root.iterdir():
            if d.name.startswith(".") or d.name in keep_ids:
                continue
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
    kept_runs = set(list_snapshots(warehouse_dir, Layer.SHARED))
    runs_dir = warehouse_dir / RUNS
    if runs_dir.is_dir():  # validation reports: those of kept snapshots plus the newest few attempts
        reports = sorted((p for p in runs_dir.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        attempts = [p for p in reports if p.name not in kept_runs]
        for p in attempts[: max(0, len(attempts) - 2 * keep)]:
            shutil.rmtree(p, ignore_errors=True)
    if removed:
        log.info(
            "pruned snapshots %s (keeping the newest %d and those of the last %d days)",
            sorted(set(removed)),
            keep,
            keep_days,
        )
    return sorted(set(removed))


def _content_hash(files: dict[str, dict[str, list[dict]]]) -> str:
    h = hashlib.sha256(schema_hash().encode())
    for layer in sorted(files):
        for table in sorted(files[layer]):
            for entry in files[layer][table]:
                h.update(f"{layer}/{table}/{entry['path']}={entry['sha256']}\n".encode())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------------------------
# publish and its stages
# --------------------------------------------------------------------------------------------------------------
def publish(
    warehouse_dir: Path,
    tables: Mapping[str, pa.Table],
    *,
    run_id: str,
    lineage: dict,
    settings: WarehouseSettings,
    grid_code_width: int,
    hmac_key: bytes,
) -> Snapshot:
    """Validate ``tables`` and, if every expectation passes, publish them as the current snapshot.

    Raises :class:`PublishBlocked` (``CURRENT`` untouched, Data Docs written under ``runs/<run_id>/``) when
    validation fails, :class:`~warehouse.privacy.PrivacyKeyError` for an empty key, :class:`PublishError` for
    a bad or conflicting run id, :class:`~warehouse.validate.SchemaMismatch` for tables that do not match
    ``warehouse.schema``. The stages are the numbered steps of this module's docstring.
    """
    _check_arguments(run_id, hmac_key, settings)
    warehouse_dir = Path(warehouse_dir)
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with _publish_lock(warehouse_dir):
        previous_id = _recover(warehouse_dir)
        previous = read_manifest(warehouse_dir, previous_id, Layer.RESTRICTED) if previous_id else None
        digests = source_digests(tables)
        report = validate_or_block(
            warehouse_dir,
            tables,
            run_id,
            previous_id,
            settings=settings,
            grid_code_width=grid_code_width,
            reuse=reusable_outcomes(warehouse_dir, previous, digests),
            sources=digests,
        )
        incoming = {
            layer: warehouse_dir / str(layer) / SNAPSHOTS / f"{INCOMING_PREFIX}{run_id}-{os.getpid()}"
            for layer in LAYERS
        }
        fingerprint = write_fingerprint(hmac_key)
        linkable = linkable_tables(previous, digests, fingerprint)
        files = write_layers(
            tables,
            incoming,
            hmac_key,
            link=lambda name: (
                link_table(warehouse_dir, previous, name, incoming) if name in linkable else None
            ),
        )
        manifest = _manifest(warehouse_dir, tables, run_id, files, report, lineage)
        manifest["write_fingerprint"] = fingerprint
        for name, digest in digests.items():
            manifest["tables"][name]["source_sha256"] = digest
        write_manifests(incoming, manifest)
        reused = install(warehouse_dir, run_id, incoming, manifest["content_sha256"])
        switch_current(warehouse_dir, run_id)
        _point_links(warehouse_dir, run_id)
        _prune(warehouse_dir, settings.keep_snapshots, run_id, settings.keep_days)

    final = read_manifest(warehouse_dir, run_id, Layer.RESTRICTED)
    log.info(
        "published run %s (%s rows in %d tables) in %.1f s%s",
        run_id,
        f"{sum(final['row_counts'].values()):,}",
        len(TABLES),
        time.perf_counter() - started,
        " (snapshot reused)" if reused else "",
    )
    return Snapshot(
        run_id=run_id,
        warehouse_dir=warehouse_dir,
        manifest=final,
        data_docs_path=report.data_docs_path,
        reused=reused,
        report=report,
    )


def _check_arguments(run_id: str, hmac_key: bytes, settings: WarehouseSettings) -> None:
    if not hmac_key:
        raise PrivacyKeyError(
            f"the privacy layer needs a non-empty HMAC key (set ${settings.privacy.hmac_key_env})"
        )
    if not _RUN_ID.match(run_id):
        raise PublishError(f"run id {run_id!r} is not path-safe: use gridhub.workspace.safe_run_id(run_id)")


def _recover(warehouse_dir: Path) -> str | None:
    """Stage 1 (under the lock): clean what killed publishes left, repair the links; the current run id."""
    _clean_leftovers(warehouse_dir)
    previous_id = current_run_id(warehouse_dir)
    if previous_id is not None:
        _point_links(warehouse_dir, previous_id)  # repair links a killed publish may have left behind
    return previous_id


def validate_or_block(
    warehouse_dir: Path,
    tables: Mapping[str, pa.Table],
    run_id: str,
    previous_id: str | None,
    *,
    settings: WarehouseSettings,
    grid_code_width: int,
    reuse: Mapping[str, list] | None = None,
    sources: Mapping[str, str] | None = None,
) -> ValidationReport:
    """Stage 2, the gate: validate against the current snapshot ``previous_id``; raise :class:`PublishBlocked`
    on any failed expectation. The Data Docs go to ``runs/<run_id>/data_docs`` either way. ``reuse``: see
    :func:`warehouse.validate.validate_tables`."""
    previous = read_manifest(warehouse_dir, previous_id, Layer.RESTRICTED) if previous_id else None
    report = validate_tables(
        tables,
        previous=previous,
        settings=settings,
        grid_code_width=grid_code_width,
        report_dir=warehouse_dir / RUNS / run_id / "data_docs",
        title=f"gridhub warehouse validation — run {run_id}",
        reuse=reuse,
        sources=sources,
    )
    if not report.success:
        log.error(
            "publish of run %s blocked by validation; %s",
            run_id,
            f"snapshot {previous_id} stays current" if previous_id else "nothing is published yet",
        )
        raise PublishBlocked(report)
    return report


def _manifest(
    warehouse_dir: Path,
    tables: Mapping[str, pa.Table],
    run_id: str,
    files: dict[str, dict[str, list[dict]]],
    report: ValidationReport,
    lineage: dict,
) -> dict:
    """The snapshot's ``manifest.json`` (restricted form; the shared copy is scrubbed when written)."""
    return {
        "format": MANIFEST_FORMAT,
        "run_id": run_id,
        "published_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "schema_hash": schema_hash(),
        "content_sha256": _content_hash(files),
        "row_counts": {name: table_rows(tables, name) for name in TABLES},
        "tables": {
            name: {
                "rows": table_rows(tables, name),
                "key": list(TABLES[name].key),
                "partition_by": list(TABLES[name].partition_by),
                "files": {layer: files[layer][name] for layer in files},
            }
            for name in TABLES
        },
        "path": str(snapshot_path(warehouse_dir, run_id, Layer.SHARED)),
        "layers": {str(layer): str(snapshot_path(warehouse_dir, run_id, layer)) for layer in LAYERS},
        "data_docs": str(report.data_docs_path) if report.data_docs_path else None,
        "validation": {
            "success": True,
            "expectations": len(report.results),
            "seconds": round(report.seconds, 3),
        },
        "lineage": lineage,
    }


def write_manifests(incoming: dict[Layer, Path], manifest: dict) -> None:
    """Stage 4: ``manifest.json`` into each incoming folder (scrubbed in shared), then fsync every folder."""
    for layer in LAYERS:
        shown = scrub_json(manifest) if layer is Layer.SHARED else manifest
        _write_json(incoming[layer] / MANIFEST, shown)
        for d in {incoming[layer], *(p for p in incoming[layer].rglob("*") if p.is_dir())}:
            fsync_path(d)


def install(warehouse_dir: Path, run_id: str, incoming: dict[Layer, Path], content: str) -> bool:
    """Stage 5: rename the incoming folders into place, one layer after the other (:func:`install_layer`);
    True when an identical snapshot already was there."""
    reused = False
    for layer in LAYERS:
        reused = install_layer(warehouse_dir, run_id, layer, incoming[layer], content) or reused
    return reused


def install_layer(warehouse_dir: Path, run_id: str, layer: Layer, incoming: Path, content: str) -> bool:
    """Rename one layer's incoming folder to ``<layer>/snapshots/<run_id>`` and fsync its parent.

    When a snapshot of that run id is already there with the same ``content_sha256``, it is reused (the incoming
    folder dropped; True). With other content: if it is the current snapshot, :class:`PublishError` (readers
    use it; a run id must identify its inputs); if it is not current (a publish killed between this rename and
    the ``CURRENT`` switch), nothing refers to it, so it is replaced: first moved aside under an ``.incoming-``
    name, which the next publish cleans if this one is killed.
    """
    final = snapshot_path(warehouse_dir, run_id, layer)
    if final.exists():
        try:
            existing = json.loads((final / MANIFEST).read_text(encoding="utf-8")).get("content_sha256")
        except (OSError, ValueError):
            existing = None
        if existing == content:
            shutil.rmtree(incoming)
            return True
        if current_run_id(warehouse_dir) == run_id:
            shutil.rmtree(incoming, ignore_errors=True)
            raise PublishError(
                f"run {run_id} is already published in {final} with different content; a run id must "
                "identify its inputs (derive it from the input fingerprint)"
            )
        log.warning("replacing %s, an unpublished snapshot of run %s with other content", final, run_id)
        aside = final.with_name(f"{INCOMING_PREFIX}replaced-{run_id}-{os.getpid()}")
        os.rename(final, aside)
        shutil.rmtree(aside)
    os.rename(incoming, final)
    fsync_path(final.parent)
    return False
