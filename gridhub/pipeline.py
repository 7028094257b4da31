"""The resolve-and-publish run, as plain functions over a workspace.

Each step reads what the previous one wrote under ``work/<run_id>/`` and writes its own output there, so any
step can be retried on its own (Airflow retries, or a person rerunning a task) and gives the same result:

1. :func:`prepare_mentions` — the feeds' current staged rows → normalised mentions per entity type.
2. :func:`bind_addresses` — every address field → standard address, building and grid (进网入格).
3. :func:`resolve_entities` — mentions → entities with stable ids, per entity type; then each organisation's
   legal representative linked to a person (:func:`link_legal_representatives`).
4. :func:`build_tables` — the canonical warehouse tables (Arrow, exactly the schema in warehouse/schema.py).
5. :func:`publish_run` — Great Expectations gate, then an atomic snapshot; entity-id state is committed only
   after the snapshot is current, so a failed run changes nothing a reader or the next run sees.

The run id is a fingerprint of everything the run reads (gridhub's code, config, reference data, staged files),
so the same inputs give the same run id, the same work folder and the same warehouse snapshot.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gridhub.runid import input_fingerprint, new_run_id, staged_names
from gridhub.workspace import Workspace, safe_run_id
from warehouse.errors import UserError
from warehouse.files import atomic_write_parquet, atomic_write_text
from warehouse.progress import progress
from warehouse.schema import ENTITY_TYPES

if TYPE_CHECKING:
    from matching.er import EntitySettings
    from warehouse.build_files import BuildFiles

log = logging.getLogger(__name__)


class PipelineError(UserError, RuntimeError):
    """A run cannot go on; the message says which step and what to do."""


# ----------------------------------------------------------------------------------------------------------
# small I/O helpers: every intermediate is Parquet under work/<run_id>/, written atomically
# ----------------------------------------------------------------------------------------------------------
def _write(df: pd.DataFrame | pa.Table, path: Path) -> Path:
    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    return atomic_write_parquet(table, path)


def _require(path: Path) -> Path:
    if not path.exists():
        raise PipelineError(f"{path} is missing: run the step that writes it first")
    return path


def _read(path: Path) -> pd.DataFrame:
    return pq.read_table(_require(path)).to_pandas()


def _step_dir(ws: Workspace, run_id: str, step: str) -> Path:
    return ws.step_dir(run_id, step)


def bindings_path(ws: Workspace, run_id: str) -> Path:
    """Every address field's binding of run ``run_id`` (what :func:`bind_addresses` writes, the summary reads)."""
    return _step_dir(ws, run_id, "bound") / "address_bindings.parquet"


# ----------------------------------------------------------------------------------------------------------
# 1. mentions
# ----------------------------------------------------------------------------------------------------------
def prepare_mentions(ws: Workspace, run_id: str) -> dict:
    """Turn every feed's current staged rows into normalised mentions, feed by feed and batch by batch
    (:func:`gridhub.partitioned.stream_mentions`)."""
    from gridhub.check import require_usable_reference
    from gridhub.mentionfiles import published_cache
    from gridhub.partitioned import stream_mentions
    from gridhub.runguard import pinned

    require_usable_reference(ws)  # the checks of `gridhub check`: refuse bad reference data before any work
    inputs = pinned(ws, run_id)  # the staged files chosen at the run's start
    feeds = [f for f in ws.config.feeds if ws.staging_dir(f.name).exists()]
    previous = published_cache(ws)  # the published run's mentions of the staged files it read
    counts, staged_rows = stream_mentions(inputs, feeds, _step_dir(ws, run_id, "mentions"), previous=previous)
    if not any(staged_rows.values()):
        raise PipelineError("no staged rows in any feed: run the ingest DAGs (or `gridhub ingest`) first")
    mentions = {t: counts[t] for t in ENTITY_TYPES}
    log.info("mentions: %s", mentions)
    return {"run_id": run_id, "mentions": mentions, "staged_rows": staged_rows}


# ----------------------------------------------------------------------------------------------------------
# 2. address and grid binding
# ----------------------------------------------------------------------------------------------------------
def bind_addresses(ws: Workspace, run_id: str) -> dict:
    """Bind every address text to the standard address library, and facilities' points to grids: distinct
    texts partition by partition (a delta's new texts only), then one mention file a batch at a time
    (:func:`gridhub.bindfiles.bind_mention_files`)."""
    from gridhub.bindfiles import bind_mention_files, library_loader, matches_key, previous_matches
    from gridhub.reference import address_library, grid_index
    from gridhub.review_store import read_address_aliases
    from gridhub.runguard import pinned
    from matching.grids import bind_facility_grids

    grids = functools.cache(lambda: grid_index(ws))  # read once, when the first batch of facilities comes

    def facility_grids(fac: pd.DataFrame) -> pd.DataFrame:
        # facilities: grid by point-in-polygon, compared with the address's grid
        return bind_facility_grids(fac, grids() if len(fac) else None, crs=ws.config.reference.crs)

    src, out = _step_dir(ws, run_id, "mentions"), _step_dir(ws, run_id, "bound")
    for t in ENTITY_TYPES:
        _require(src / f"{t}.parquet")
    aliases = read_address_aliases(pinned(ws, run_id).address_aliases)  # reviewers' decisions (issue #17)
    previous = previous_matches(ws, key := matches_key(ws, run_id))
    library = library_loader(functools.partial(address_library, ws), out, previous)  # built when needed
    summary = bind_mention_files(src, out, library, facility_grids, aliases, key=key, previous=previous)
    return {"run_id": run_id, **summary}


def _counts(values: pd.Series) -> dict[str, int]:
    """Value → count, most frequent first (missing values as ``-``): small, JSON-able, for task logs."""
    counts = values.astype(object).fillna("-").astype(str).value_counts()
    return {str(k): int(v) for k, v in counts.items()}


# ----------------------------------------------------------------------------------------------------------
# 3. entity resolution
# ----------------------------------------------------------------------------------------------------------
def _er_state_dir(ws: Workspace, entity_type: str) -> Path:
    from matching.er import ResolutionState

    return ResolutionState.folder(ws.state, entity_type)


def _no_entities(mentions: pd.DataFrame, settings: EntitySettings) -> dict[str, pd.DataFrame]:
    """What resolution writes for an entity type with no mentions: the frames a real run writes, with no rows.

    A type has no mentions while none of its feeds has arrived yet (only 市场监管's organisations so far, say).
    There is nothing to train a model on, so the engine is not run; the golden frame comes from
    :func:`matching.er.golden.empty_golden`, so the later steps find every column they read.
    """
    from matching.er.engine import ASSIGNMENT_COLUMNS, REVIEW_COLUMNS
    from matching.er.golden import empty_golden
    from matching.er.ids import empty_history

    def empty(columns: list[str]) -> pd.DataFrame:
        floats = {"score", "match_weight", "match_probability"}
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in floats else "string") for c in columns})

    pairs = empty(["record_key_l", "record_key_r", "rule", "match_weight", "match_probability"])
    for comparison in settings.comparisons:
        pairs[f"gamma_{comparison.name}"] = pd.Series(dtype="int8")
    return {
        "assignments": empty(ASSIGNMENT_COLUMNS),
        "golden": empty_golden(mentions, settings),
        "review": empty(REVIEW_COLUMNS),
        "id_history": empty_history(),
        "pairs": pairs,
    }


def _resolve_type(
    ws: Workspace, run_id: str, t: str, bound: Path, decisions: pd.DataFrame | None, staged: Path
) -> tuple[dict[str, pd.DataFrame], dict, dict]:
    """One entity type's output frames, summary and diagnostics (the run report's), from its bound mentions
    (the file ``bound``); its state is saved under ``staged``. The engine's result lives only here, so the next
    type resolves without it.

    The engine reads only the columns matching reads (``read_columns``); the golden records read theirs
    (``golden_columns``) once the engine's result is let go: the two are never in memory together (issue #19)."""
    from gridhub.resolve_delta import resolution
    from gridhub.resolve_workers import entity_settings, golden_frames, release_freed_memory
    from matching.er import ResolutionState
    from matching.er.diagnostics import empty_diagnostics, resolution_diagnostics

    settings = entity_settings(ws, t)
    n_mentions = pq.ParquetFile(_require(bound)).metadata.num_rows
    if not n_mentions:
        log.info("%s: no mentions (none of its feeds has arrived yet): nothing to resolve", t)
        empty = {"mentions": 0, "entities": 0, "review_pairs": 0, "blocking": []}
        return _no_entities(_read(bound), settings), empty, empty_diagnostics(t, settings)
    state_dir = _er_state_dir(ws, t)
    state = ResolutionState.load(state_dir, t) if (state_dir / "model.json").exists() else None
    # a daily delta reads its new mention parts only (gridhub.resolve_delta); else every mention
    res, delta = resolution(ws, run_id, t, bound, settings, state, decisions)
    del state
    # the state (the registry keeps every record's matching columns and key hashes) is written and let go
    # before the golden records are made: the type's peak memory is that of one of the two, not of both
    res.state.save(staged)
    log.info("%s: peak RSS per stage (MB) %s", t, res.stats.get("peak_rss_mb"))
    summary = {
        "mentions": n_mentions,
        "entities": int(res.assignments["entity_id"].nunique()) if len(res.assignments) else 0,
        "review_pairs": len(res.review),
        "blocking": res.blocking_report.to_dict("records"),
        "matches": int(res.stats.get("edges", 0)),
        "clusters_split": len(res.oversized),
        "new_ids": int(res.stats.get("new_ids", 0)),
        "id_changes": _counts(res.id_history["reason"]),
    }
    diagnostics = resolution_diagnostics(res, settings)
    assignments, review, id_history, pairs = res.assignments, res.review, res.id_history, res.pairs
    del res
    release_freed_memory()  # what the engine's stages freed, before the golden records' peak
    frames = {"assignments": assignments, "review": review, "id_history": id_history, "pairs": pairs}
    golden = _step_dir(ws, run_id, "resolved") / f"{t}_golden.parquet"  # a delta's: mostly the published
    if delta is None or not delta.golden(ws, bound, assignments, settings, golden):
        frames["golden"] = golden_frames(bound, assignments, settings)  # made as they are written
    return frames, summary, diagnostics


def resolve_entities(ws: Workspace, run_id: str) -> dict:
    """Resolve each entity type's mentions into entities with stable ids (state is staged, not committed).

    A type with no mentions gets empty outputs and stages no state, so its previous state (if any) stays as it
    is when the run is published. One type is in memory per process at a time: its mentions, result and frames
    are let go once written. With two cores and memory for it, two lanes of types resolve side by side, each in
    its own process (:mod:`gridhub.resolve_workers`); the outputs are the same.
    """
    from gridhub.resolve_workers import read_decisions, resolve_types
    from gridhub.review_store import REVIEW_STATE, keep_review_inputs

    out = _step_dir(ws, run_id, "resolved")
    decisions = read_decisions(ws, run_id)
    keep_review_inputs(ws, run_id, out / "state" / REVIEW_STATE)
    bound = _step_dir(ws, run_id, "bound")
    counts = {t: pq.ParquetFile(_require(bound / f"{t}.parquet")).metadata.num_rows for t in ENTITY_TYPES}
    return {
        "run_id": run_id,
        "entities": resolve_types(ws, run_id, counts, decisions),
        "legal_representatives": link_legal_representatives(ws, run_id),
    }


def er_diagnostics_path(ws: Workspace, run_id: str, entity_type: str) -> Path:
    """One entity type's resolution diagnostics, aggregated (``matching.er.diagnostics``): the run report's."""
    return _step_dir(ws, run_id, "resolved") / f"{entity_type}_diagnostics.json"


def legal_representatives_path(ws: Workspace, run_id: str) -> Path:
    """Each organisation's legal representative linked to a person (or why not), as resolution wrote it."""
    return _step_dir(ws, run_id, "resolved") / "legal_representatives.parquet"


def link_legal_representatives(ws: Workspace, run_id: str) -> dict[str, int]:
    """Link every resolved organisation's 法定代表人 to a resolved person (``matching.roles``): by a valid ID,
    else by name with supporting evidence. Returns how many organisations got each outcome."""
    from gridhub.resolve_workers import read_some
    from matching.roles import GOLDEN_COLUMNS, LINK_COLUMNS, ORG_COLUMNS, PERSON_COLUMNS, LegalRepRules
    from matching.roles import link_legal_representatives as link

    bound, resolved = _step_dir(ws, run_id, "bound"), _step_dir(ws, run_id, "resolved")
    keys = ["record_key", "entity_id"]
    reps = link(  # only the columns it reads (issue #19)
        persons=read_some(bound / "person.parquet", PERSON_COLUMNS),
        person_assignments=read_some(resolved / "person_assignments.parquet", keys),
        organisations=read_some(bound / "organisation.parquet", ORG_COLUMNS),
        organisation_assignments=read_some(resolved / "organisation_assignments.parquet", keys),
        organisation_golden=read_some(resolved / "organisation_golden.parquet", GOLDEN_COLUMNS),
        links=read_some(_step_dir(ws, run_id, "mentions") / "links.parquet", LINK_COLUMNS),
        rules=LegalRepRules(**ws.config.legal_representatives.model_dump()),
    )
    _write(reps, legal_representatives_path(ws, run_id))
    counts = reps["legal_rep_link"].value_counts().sort_index()
    log.info("legal representatives: %s", counts.to_dict())
    return {str(k): int(v) for k, v in counts.items()}


def resolved_id_history(ws: Workspace, run_id: str) -> pd.DataFrame:
    """This run's id changes (merges, splits, retirements) of every entity type, as resolution wrote them."""
    resolved = _step_dir(ws, run_id, "resolved")
    return pd.concat([_read(resolved / f"{t}_id_history.parquet") for t in ENTITY_TYPES], ignore_index=True)


# ----------------------------------------------------------------------------------------------------------
# 4. canonical tables
# ----------------------------------------------------------------------------------------------------------
def build_inputs(ws: Workspace, run_id: str) -> tuple[BuildFiles, dict]:
    """What :func:`build_tables` builds from: the run's step files, and the other arguments of
    :func:`warehouse.build_files.write_tables` (reference frames, settings, quarantine, id history)."""
    from connectors import load_field_issues, load_quarantine
    from gridhub.reference import address_frame, grid_frame
    from gridhub.runguard import pinned
    from warehouse.build_files import BuildFiles
    from warehouse.id_history import published_id_history

    bound = _step_dir(ws, run_id, "bound")
    resolved = _step_dir(ws, run_id, "resolved")
    mentions_dir = _step_dir(ws, run_id, "mentions")
    files = BuildFiles(
        mentions={t: _require(bound / f"{t}.parquet") for t in ENTITY_TYPES},
        assignments={t: _require(resolved / f"{t}_assignments.parquet") for t in ENTITY_TYPES},
        golden={t: _require(resolved / f"{t}_golden.parquet") for t in ENTITY_TYPES},
        bindings=_require(bindings_path(ws, run_id)),
        links=_require(mentions_dir / "links.parquet"),
        issues=_require(mentions_dir / "issues.parquet"),
    )
    options = {
        "addresses": address_frame(ws),
        "grids": grid_frame(ws),
        "priority": {f.name: f.priority for f in ws.config.feeds},
        "quarantine": load_quarantine(pinned(ws, run_id)),
        "staged_issues": load_field_issues(pinned(ws, run_id)),
        "org_grid_from": ws.config.warehouse.organisation_grid,
        "legal_reps": _read(legal_representatives_path(ws, run_id)),
        "id_history": resolved_id_history(ws, run_id),
        "previous_id_history": published_id_history(ws.warehouse),
        "grid_norms": ws.config.grid_norms_in_force,
    }
    return files, options


def build_tables(ws: Workspace, run_id: str) -> dict:
    """Assemble every canonical table from the resolved entities, links and reference data, one table at a
    time, each written as it is built (:func:`warehouse.build_files.write_tables`)."""
    from warehouse.build_files import write_tables

    files, options = build_inputs(ws, run_id)
    rows = write_tables(_step_dir(ws, run_id, "tables"), files, **options)
    return {"run_id": run_id, "rows": rows}


# ----------------------------------------------------------------------------------------------------------
# 5. validate + publish
# ----------------------------------------------------------------------------------------------------------
def hmac_key(ws: Workspace) -> bytes:
    env = ws.config.warehouse.privacy.hmac_key_env
    key = os.environ.get(env, "")
    if not key:
        raise PipelineError(
            f"the privacy layer needs a key: set the environment variable {env} (a long random secret, "
            "the same for every run, or keyed hashes will not join across snapshots)"
        )
    return key.encode()


def lineage(ws: Workspace, run_id: str) -> dict:
    """Where the snapshot's rows come from: exactly the staged files the run read (its pinned manifest)."""
    from connectors import raw_manifest
    from gridhub.runguard import pinned

    inputs = pinned(ws, run_id)
    manifest = raw_manifest(inputs)
    read = {
        (f.name, n.removesuffix(".parquet")) for f in ws.config.feeds for n in staged_names(inputs, f.name)
    }
    if manifest is not None and len(manifest):
        keep = [(f, s) in read for f, s in zip(manifest["feed"], manifest["sha256"], strict=True)]
        manifest = manifest[keep]
    return {
        "workspace": ws.config.name,
        "feeds": [f.name for f in ws.config.feeds],
        "raw_files": manifest.to_dict("records") if manifest is not None else [],
        "input_fingerprint": input_fingerprint(ws, inputs),
    }


def reused_message(run_id: str) -> str:
    """The one line a rerun on unchanged inputs says, in the CLI and in the Airflow task log."""
    return (
        f"运行 {run_id} 已发布，输入未变，未重新计算 / run {run_id} is already published with these inputs: "
        "nothing recomputed"
    )


def is_published(ws: Workspace, run_id: str) -> bool:
    """True when ``run_id`` is the current snapshot and its state is committed (after :func:`recover_state`)."""
    from gridhub.statecommit import committed_run, recover_state
    from warehouse.read import current_run_id

    recover_state(ws)
    return current_run_id(ws.warehouse) == run_id and committed_run(ws) == safe_run_id(run_id)


def publish_run(ws: Workspace, run_id: str) -> dict:
    """Validate the run's tables (Great Expectations) and publish them as the current snapshot.

    Order (see gridhub/statecommit.py): stage the complete new state generation, publish the snapshot (the
    warehouse's ``CURRENT`` switch), then switch the state pointer. A kill anywhere leaves a consistent pair
    once :func:`~gridhub.statecommit.recover_state` has run, which every run does first. A run id that is
    already current with its state committed is reused as it is (nothing written).

    Raises ``warehouse.PublishBlocked`` when validation fails: nothing is published and ``current`` and the
    entity-id state stay as they were.
    """
    from gridhub.statecommit import stage_generation
    from warehouse import publish
    from warehouse.read import read_manifest
    from warehouse.schema import TABLES
    from warehouse.tablefiles import TableFiles

    if is_published(ws, run_id):
        log.info("run %s is already published and its state committed: reusing it", run_id)
        manifest = read_manifest(ws.warehouse, run_id)
        return {
            "run_id": run_id,
            "snapshot": manifest.get("path", ""),
            "data_docs": manifest.get("data_docs") or "",
            "reused": True,
            "validation": manifest.get("validation") or {},
            "rows": manifest.get("row_counts") or {},
        }
    tables = TableFiles(_step_dir(ws, run_id, "tables"), TABLES)  # read one table at a time
    stage_generation(ws, run_id, _step_dir(ws, run_id, "resolved") / "state")
    snapshot = publish(
        ws.warehouse,
        tables,
        run_id=run_id,
        lineage=lineage(ws, run_id),
        settings=ws.config.warehouse,
        grid_code_width=ws.config.reference.grid_code_width,
        hmac_key=hmac_key(ws),
    )
    _commit_state(ws, run_id)
    return {
        "run_id": run_id,
        "snapshot": str(getattr(snapshot, "path", snapshot)),
        "data_docs": str(getattr(snapshot, "data_docs_path", "")),
        "reused": False,
        "validation": snapshot.manifest.get("validation") or {},
        "rows": dict(snapshot.manifest.get("row_counts") or {}),
    }


def _commit_state(ws: Workspace, run_id: str) -> None:
    """Commit the run's entity-id state generation (all types at once) once its snapshot is current.

    A type that staged no state (it had no mentions in this run) keeps the state it had: the generation holds
    a copy of it.
    """
    from gridhub.statecommit import switch_state

    switch_state(ws, run_id)


def _step_counts(result: dict) -> dict[str, int]:
    """The counts a step's result adds to the run's progress line (mentions, address fields, entities, rows)."""
    if "mentions" in result:
        return {"mentions": sum(result["mentions"].values())}
    if "address_fields" in result:
        return {"address fields": result["address_fields"]}
    if "entities" in result:
        return {"entities": sum(e["entities"] for e in result["entities"].values())}
    if "rows" in result:
        return {"table rows": sum(result["rows"].values())}
    return {}


def run_all(ws: Workspace, run_id: str | None = None, *, approve: bool = False) -> dict:
    """Every step in order, in this process (what the resolve-and-publish DAG does task by task).

    Before publishing, the publish gate (:mod:`gridhub.publish_gate`) checks the run's figures: a run above its
    thresholds raises :class:`~gridhub.publish_gate.PublishHeld` (nothing published) unless ``approve``.

    Holds the workspace's run lock throughout (a second run stops with "another run is active"), checks the
    disks first, and finishes a state commit a killed run left half done. A run whose id is already published
    (the same inputs) is not computed again: the result says ``reused``. After a crash anywhere, running again
    finishes or redoes the interrupted run. After each step its readable lines (:func:`gridhub.tasklog.step_lines`,
    what the Airflow task logs say) go to the ``gridhub.task`` logger.
    """
    from gridhub.publish_gate import check_gate
    from gridhub.runguard import check_disk, run_lock
    from gridhub.tasklog import emit, step_lines

    with run_lock(ws):
        check_disk(ws)
        run_id = run_id or new_run_id(ws)
        if is_published(ws, run_id):
            log.info("run %s is already published with the same inputs: nothing to do", run_id)
            return {"run_id": run_id, "reused": True, "publish_run": publish_run(ws, run_id)}
        results: dict = {"run_id": run_id, "reused": False}
        steps = (prepare_mentions, bind_addresses, resolve_entities, build_tables, publish_run)
        with progress(f"run {run_id}", total=len(steps), unit="steps") as run_task:
            for i, step in enumerate(steps, 1):
                if step is publish_run:  # the publish gate: a run above its thresholds is held (PublishHeld)
                    results["publish_gate"] = check_gate(ws, run_id, approved=approve)
                with progress(f"  step {i}/{len(steps)} {step.__name__}") as step_task:
                    results[step.__name__] = step(ws, run_id)
                    step_task.update(**_step_counts(results[step.__name__]))
                    emit(step_lines(step.__name__, results[step.__name__]))  # the Airflow task log's lines
                run_task.update(advance=1)
        atomic_write_text(
            ws.work_dir(run_id) / "run.json", json.dumps(results, ensure_ascii=False, indent=2, default=str)
        )
    return results
