"""``resolve_entities`` on a daily delta: the engine reads the mention parts new since the published run, and the
golden records of the entities the delta does not reach are taken from the published run (issue #19).

``prepare_mentions`` lists every mention file's parts (``mentions/segments.json``: a kept part ``own``, less the
rows of the ``removed`` record ids) and ``bind_addresses`` keeps each part's bound rows under a key (its marker in
``bound/files/``: the address matches' key and the mention part's own key, so gridhub's code and config). A part
of this run whose bound key the published run's part has too holds the same rows; so, against the published
run's parts, the delta of an entity type is:

- the **changes**: the bound rows of the parts that are new or bound under another key, and of the record ids
  a part no longer leaves out;
- the **removed** record keys: the rows of the published run's parts that are gone, or that a part now leaves
  out, less the keys the changes hold again.

Those go to :func:`matching.er.resolve_delta` with the committed state, which is the published run's (the state
is committed with the snapshot): the same resolution :func:`matching.er.resolve` finds by hashing every mention.
The published run's golden records are kept for every entity whose members and their rows did not change
(:func:`golden_delta`); the others are made again from their members' rows. A workspace where any of this does
not hold (nothing published, a part made afresh, a state of another run) resolves every mention, as before.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gridhub.mentionfiles import link_or_copy, marker_key
from warehouse.files import atomic_write

if TYPE_CHECKING:
    from gridhub.workspace import Workspace
    from matching.er import EntitySettings, Resolution, ResolutionState

log = logging.getLogger(__name__)

#: above this share of the mentions changed, the delta is no cheaper than reading them all: the full path
MAX_CHANGED_SHARE = 0.5


@dataclass
class Part:
    """One kept part of a mention file: its removed record ids and its bound rows' key (None: not kept)."""

    removed: frozenset[str]
    key: str | None


@dataclass
class MentionDelta:
    """What changed in one entity type's bound mentions since the published run ``previous``."""

    previous: str
    changes: pa.Table  # bound rows of new or changed parts, in the run's bound file's schema
    removed: list[str]  # record keys the published run had and this run has not
    parts_read: list[str]  # the kept parts whose rows were read (tests, logs)

    @property
    def changed_keys(self) -> pa.Array:
        """Record keys of every changed row (a row whose matching columns did not change counts too: its
        golden record may)."""
        return self.changes["record_key"].combine_chunks().cast(pa.string())


def _parts(mentions: Path, bound: Path, entity_type: str) -> dict[str, Part] | None:
    """The kept parts of a run's mention file ``entity_type`` and their bound key; None when a part was made
    afresh (its rows are not kept: a staged file whose record ids repeat), a part repeats, or the list is
    missing."""
    try:
        listed = json.loads((mentions / "segments.json").read_text(encoding="utf-8"))["files"][entity_type]
    except (OSError, ValueError, KeyError):
        return None
    out: dict[str, Part] = {}
    for s in listed:
        own = s.get("own")
        if not own or own in out:
            return None
        out[own] = Part(frozenset(s.get("removed", ())), marker_key(bound / "files" / f"{own}.json"))
    return out


def _rows(bound: Path, own: str, schema: pa.Schema, keep) -> pa.Table:
    """The bound rows of kept part ``own`` whose source record id ``keep`` selects, in ``schema``."""
    table = pq.read_table(bound / "files" / f"{own}.parquet")
    ids = table["source_record_id"].cast(pa.string())
    return table.filter(keep(ids)).select(schema.names).cast(schema)


def _keys(bound: Path, own: str, keep) -> pa.Array:
    """The record keys of the rows of kept part ``own`` whose source record id ``keep`` selects (only the two
    columns are read)."""
    table = pq.read_table(bound / "files" / f"{own}.parquet", columns=["source_record_id", "record_key"])
    keys = table.filter(keep(table["source_record_id"].cast(pa.string())))["record_key"]
    return keys.combine_chunks().cast(pa.string())


def _among(ids: set[str] | frozenset[str]):
    value_set = pa.array(sorted(ids), type=pa.string())
    return lambda col: pc.fill_null(pc.is_in(col, value_set=value_set), False)


def _not_among(ids: set[str] | frozenset[str]):
    among = _among(ids)
    return lambda col: pc.invert(among(col))


def mention_delta(ws: Workspace, run_id: str, entity_type: str, registry_rows: int) -> MentionDelta | None:
    """The delta of ``entity_type``'s bound mentions of run ``run_id`` against the published run, whose state
    (``registry_rows`` records) is the committed one; None when it cannot be told from the kept parts (see
    the module docstring) or is too large to be worth it (:data:`MAX_CHANGED_SHARE`)."""
    from gridhub.statecommit import committed_run
    from gridhub.workspace import safe_run_id
    from warehouse.read import current_run_id

    previous = current_run_id(ws.warehouse)
    if not previous or previous == run_id or committed_run(ws) != safe_run_id(previous):
        return None
    bound_now, bound_before = ws.step_dir(run_id, "bound"), ws.step_dir(previous, "bound")
    now = _parts(ws.step_dir(run_id, "mentions"), bound_now, entity_type)
    before = _parts(ws.step_dir(previous, "mentions"), bound_before, entity_type)
    file_now, file_before = bound_now / f"{entity_type}.parquet", bound_before / f"{entity_type}.parquet"
    if now is None or before is None or not file_before.is_file():
        return None
    if pq.ParquetFile(file_before).metadata.num_rows != registry_rows:  # the state is not that run's
        return None
    schema = pq.read_schema(file_now)
    changes, removed, read = [], [], []
    try:
        for own, part in now.items():
            old = before.get(own)
            if old is None or part.key is None or old.key != part.key:  # new, or bound again: all of it
                changes.append(_rows(bound_now, own, schema, _not_among(part.removed)))
                read.append(own)
                if old is not None:
                    removed.append(_keys(bound_before, own, _not_among(old.removed)))
                continue
            if old.removed - part.removed:  # record ids a later file no longer replaces
                changes.append(_rows(bound_now, own, schema, _among(old.removed - part.removed)))
                read.append(own)
            if part.removed - old.removed:  # replaced (or deleted) by a later file now
                removed.append(_keys(bound_now, own, _among(part.removed - old.removed)))
        for own, old in before.items():
            if own not in now:
                removed.append(_keys(bound_before, own, _not_among(old.removed)))
    except (OSError, pa.ArrowInvalid, KeyError) as e:  # a kept file missing or not as listed
        log.info("%s: no delta against run %s (%s): every mention is resolved", entity_type, previous, e)
        return None
    table = pa.concat_tables(changes) if changes else schema.empty_table()
    if table.num_rows > MAX_CHANGED_SHARE * pq.ParquetFile(file_now).metadata.num_rows:
        return None
    again = set(table["record_key"].cast(pa.string()).to_pylist())
    gone = {k for col in removed for k in col.to_pylist()} - again
    log.info(
        "%s: delta against run %s: %d changed rows from %d parts, %d removed records",
        entity_type,
        previous,
        table.num_rows,
        len(read),
        len(gone),
    )
    return MentionDelta(previous, table, sorted(gone), read)


def engine_changes(delta: MentionDelta, settings: EntitySettings, registry: pd.DataFrame) -> pd.DataFrame:
    """The changed rows' columns the engine reads (``matching.er.mentions.read_columns``), as
    ``gridhub.resolve_workers.engine_mentions`` reads them from the whole file. A column with no value among
    the changes takes the registry's date type, which parsing every mention gave it."""
    from matching.er.mentions import read_columns

    names = delta.changes.schema.names
    df = delta.changes.select([c for c in read_columns(settings) if c in names]).to_pandas()
    for c in df.columns:
        if c in registry.columns and df[c].isna().all() and pd.api.types.is_datetime64_dtype(registry[c]):
            df[c] = pd.to_datetime(df[c], errors="coerce")
    return df


def _strings(s: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """A string column (pandas or Arrow) as one contiguous Arrow ``string`` array."""
    from matching.er.ids import arrow_strings

    if not isinstance(s, (pa.Array, pa.ChunkedArray)):
        return arrow_strings(s).cast(pa.string())
    return (s.combine_chunks() if isinstance(s, pa.ChunkedArray) else s).cast(pa.string())


def reached_entities(
    before: pd.DataFrame, after: pd.DataFrame, delta: MentionDelta
) -> tuple[pa.Array, pa.Array]:
    """The entities whose golden record may differ from the published run's: (their ids in ``before``, the
    published registry's record_key → entity_id; their ids in ``after``, this run's assignments). An entity
    is reached when a record joined or left it, or a member's row changed."""
    keys_after, ids_after = _strings(after["record_key"]), _strings(after["entity_id"])
    keys_before, ids_before = _strings(before["record_key"]), _strings(before["entity_id"])
    at = pc.index_in(keys_after, value_set=keys_before)
    was = ids_before.take(at)  # null: a new record
    moved = pc.fill_null(pc.not_equal(was, ids_after), True)
    touched = pc.or_(moved, pc.is_in(keys_after, value_set=delta.changed_keys))
    gone = pc.is_in(keys_before, value_set=pa.array(delta.removed, type=pa.string()))
    old = pc.unique(pa.concat_arrays([was.filter(touched).drop_null(), ids_before.filter(gone)]))
    return old, pc.unique(ids_after.filter(touched))


def remade_golden(
    bound: Path, reached_ids: pa.Array, after: pd.DataFrame, settings: EntitySettings, schema: pa.Schema
) -> pa.Table:
    """The golden records of the ``reached_ids`` entities this run's assignments (``after``) still hold, made
    from their members' rows of ``bound`` (only those rows are taken from each column), in id order and in
    ``schema`` (the published file's: raises ``pa.ArrowInvalid`` / ``ArrowTypeError`` when they do not fit)."""
    from matching.er.golden import TABLE_COLUMNS, golden_chunks_by_column, golden_columns

    ids_after = _strings(after["entity_id"])
    members = after[pc.is_in(ids_after, value_set=reached_ids).to_numpy(zero_copy_only=False)]
    keys = pq.read_table(bound, columns=["record_key"])["record_key"].combine_chunks().cast(pa.string())
    hit = pc.is_in(keys, value_set=_strings(members["record_key"])).to_numpy(zero_copy_only=False)
    take = pa.array(np.flatnonzero(hit), type=pa.int64())

    def read(column: str) -> pd.Series:
        return pq.read_table(bound, columns=[column]).take(take).to_pandas()[column]

    columns = golden_columns(pq.read_schema(bound).names, settings)
    ranked = [c for c in columns if c in TABLE_COLUMNS]
    table = pq.read_table(bound, columns=ranked).take(take).to_pandas()
    fresh = golden_chunks_by_column(table, columns, read, members, settings)
    made = [pa.Table.from_pandas(f, schema=schema, preserve_index=False) for f in fresh if len(f)]
    return pa.concat_tables(made) if made else schema.empty_table()


class _NotOnePerEntity(Exception):
    """The merged golden records are not one per entity (never seen): they are made from every mention."""


def merge_golden(previous: Path, made: pa.Table, reached_ids: pa.Array, id_column: str, out: Path) -> int:
    """Write ``out``: the published golden records (``previous``) less the ``reached_ids`` entities, with the
    ``made`` ones (sorted by id) put in their place, in id order, a batch of the published file at a time (never
    a whole copy in memory); returns the rows written."""
    from bisect import bisect_right

    from gridhub.resolve_workers import GOLDEN_CHUNK

    made_ids = made[id_column].cast(pa.string()).to_pylist()
    pf, at, rows = pq.ParquetFile(previous), 0, 0
    with pq.ParquetWriter(out, pf.schema_arrow) as writer:
        for batch in pf.iter_batches(batch_size=GOLDEN_CHUNK):
            kept = pa.Table.from_batches([batch]).cast(pf.schema_arrow)
            ids = kept[id_column].cast(pa.string())
            kept = kept.filter(pc.invert(pc.is_in(ids, value_set=reached_ids)))
            upto = bisect_right(made_ids, ids[-1].as_py(), lo=at) if len(ids) else at
            piece = pa.concat_tables([kept, made.slice(at, upto - at)])
            at = upto
            writer.write_table(piece.take(pc.sort_indices(piece[id_column].cast(pa.string()))))
            rows += piece.num_rows
        writer.write_table(made.slice(at))
        rows += made.num_rows - at
    return rows


@dataclass
class DeltaRun:
    """A type resolved from its delta: what its golden records need afterwards."""

    delta: MentionDelta
    before: pd.DataFrame  # the published registry's record_key, entity_id

    def golden(
        self, ws: Workspace, bound: Path, after: pd.DataFrame, settings: EntitySettings, out: Path
    ) -> bool:
        """Write this run's golden records to ``out``: the published run's for the entities the delta does
        not reach (:func:`reached_entities`), the others made again (:func:`remade_golden`); False when they
        must be made from every mention instead (the published file missing, or its types do not fit)."""
        previous = ws.step_dir(self.delta.previous, "resolved") / out.name
        id_column = settings.id_column
        if not previous.is_file() or id_column not in pq.read_schema(previous).names:
            return False
        reached = reached_entities(self.before, after, self.delta)
        if not any(len(ids) for ids in reached):  # the published file as it is
            link_or_copy(previous, out)
            return True
        reached_ids = pc.unique(pa.concat_arrays(list(reached)))
        entities = len(pc.unique(_strings(after["entity_id"])))
        try:
            made = remade_golden(bound, reached_ids, after, settings, pq.read_schema(previous))
            with atomic_write(out) as tmp:
                if merge_golden(previous, made, reached_ids, id_column, tmp) != entities:
                    raise _NotOnePerEntity
        except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError, ValueError, _NotOnePerEntity) as e:
            log.warning("golden records: the published ones cannot be taken (%r): all made again", e)
            return False
        log.info(
            "golden records: %d made again, %d taken from the published run",
            made.num_rows,
            entities - made.num_rows,
        )
        return True


def resolution(
    ws: Workspace,
    run_id: str,
    t: str,
    bound: Path,
    settings: EntitySettings,
    state: ResolutionState | None,
    decisions: pd.DataFrame | None,
) -> tuple[Resolution, DeltaRun | None]:
    """Resolve type ``t``: from its delta against the published run when it has one, else from every mention
    (``matching.er.resolve``); the result and, for a delta, what its golden records need (else None)."""
    from gridhub.resolve_workers import engine_mentions
    from matching.er import resolve, resolve_delta
    from matching.er.engine import can_increment

    delta = None
    if state is not None and can_increment(state, settings):
        delta = mention_delta(ws, run_id, t, len(state.registry))
    if state is None or delta is None:
        res = resolve(
            engine_mentions(bound, settings), settings, state=state, decisions=decisions, run_id=run_id
        )
        return res, None
    before = state.registry[["record_key", "entity_id"]]
    changes = engine_changes(delta, settings, state.registry)
    res = resolve_delta(
        changes, settings, state=state, removed=delta.removed, decisions=decisions, run_id=run_id
    )
    return res, DeltaRun(delta, before)
