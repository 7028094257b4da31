"""The entity-resolution engine: mentions in, entities with stable ids out.

:func:`resolve` runs, for one entity type::

    mentions ─ blocking ─ comparisons ─ (training: u from random pairs, m by EM) ─ scoring
             ─ clustering (guard, must/cannot-link) ─ stable ids ─ assignments, review, id_history, state

With a previous :class:`~matching.er.ids.ResolutionState` trained under the same settings, a run is
*incremental*: only new and changed records (and members of entities a reviewer's decision re-opens) are
resolved; existing entities take part as single nodes and the model is reused. The state's registry keeps,
for every record, its matching columns and the 64-bit hashes of its blocking keys and term-frequency values,
so the delta finds its candidates by looking its own keys up there, without re-reading or re-hashing the
records that did not change. Two ways in:

* :func:`resolve` takes every current record and finds the delta itself (a hash per record, compared with the
  registry's); records the registry holds and the mentions do not are removed.
* :func:`resolve_delta` takes only the new and changed records (and the keys of removed ones): a feed that
  delivers changes (a SQL watermark, a daily upload) costs work in proportion to the change.

A full run (no state, or settings changed) re-resolves everything but still keeps ids stable through the
registry. Both paths are one function (:func:`_run`): in a full run every record is "delta" and nothing is kept.
Its stages are in :mod:`matching.er.stages_prepare` (decisions, delta, blocking, training, scoring),
:mod:`matching.er.stages_cluster` (clustering, ids, per-record scores) and :mod:`matching.er.stages_output`
(registry, kept pairs, review queue, guard report, next state).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching.er.diagnostics import weight_histogram
from matching.er.ids import STATE_VERSION, ResolutionState, empty_history
from matching.er.mentions import (
    MentionsError,
    normalise_decisions,
    prepare_mentions,
    record_hashes,
)
from matching.er.scoring import Model
from matching.er.settings import EntitySettings
from matching.er.stages_cluster import assign_entity_ids, cluster_entities, score_participants
from matching.er.stages_output import (
    ASSIGNMENT_COLUMNS,
    REVIEW_COLUMNS,
    kept_pairs,
    next_state,
    oversized_report,
    review_queue,
    updated_registry,
)
from matching.er.stages_prepare import (
    Clock,
    RunContext,
    block_candidates,
    combine_decisions,
    compare_pairs,
    fit_model,
    prepare_delta,
    score_pairs,
)

# Names other modules import from here (gridhub.pipeline: the column lists; tests: record_hashes).
__all__ = [
    "ASSIGNMENT_COLUMNS",
    "REVIEW_COLUMNS",
    "MentionsError",
    "Resolution",
    "can_increment",
    "normalise_decisions",
    "record_hashes",
    "resolve",
    "resolve_delta",
]

log = logging.getLogger(__name__)


@dataclass
class Resolution:
    """What one run of :func:`resolve` produced."""

    entity_type: str
    assignments: pd.DataFrame  # record_key, entity_id, score, method
    pairs: (
        pd.DataFrame
    )  # scored candidate pairs kept for explain (record_key_l/_r, weight, probability, gamma_*)
    review: pd.DataFrame  # uncertain-band pairs for a person to decide
    blocking_report: pd.DataFrame  # rule → candidate pairs
    id_history: pd.DataFrame  # old_id → new_id, reason (merge / split / retired), run
    oversized: pd.DataFrame  # components the anti-chaining guard split
    state: ResolutionState
    model: Model | None  # None when there was nothing to train on (fewer than two records)
    stats: dict = field(default_factory=dict)


def can_increment(state: ResolutionState | None, settings: EntitySettings) -> bool:
    """Whether ``state`` can take a delta: trained with these settings, and keeping the records' matching columns."""
    return (
        state is not None
        and state.model is not None
        and state.fingerprint == settings.fingerprint()
        and state.version >= STATE_VERSION
        and len(state.registry) > 0
    )


def resolve(
    mentions: pd.DataFrame,
    settings: EntitySettings,
    *,
    state: ResolutionState | None = None,
    decisions: pd.DataFrame | None = None,
    run_id: str,
    incremental: bool | None = None,
) -> Resolution:
    """Resolve one entity type's mentions into entities; see the module docstring.

    ``mentions``: every current record, one row each, with ``record_key`` and the columns the settings compare;
    records the state knows and ``mentions`` no longer holds are removed. ``state``: the previous run's state
    (ids stay stable; incremental when trained with the same settings). ``decisions``: reviewed pairs
    (record_key_l, record_key_r, decision = match / non_match), added to the ones the state remembers.
    ``incremental``: force (True) or forbid (False) an incremental run.
    """
    clock = Clock()
    prev = state if state is not None else ResolutionState(entity_type=settings.entity_type)
    df = prepare_mentions(mentions, settings, sort=False)
    # the narrow copy is all the run reads: a caller that passed its frame without keeping it (a temporary, as
    # gridhub.pipeline does) gets it freed here, not held beside the copy through every stage (issue #19)
    del mentions
    can = can_increment(prev, settings)
    if incremental and not can:
        log.info(
            "%s: incremental run asked for, but no state trained with these settings: full run",
            settings.entity_type,
        )
    if not (can if incremental is None else (incremental and can)):
        df = df.sort_values("record_key", kind="stable").reset_index(drop=True)
        gone = np.ones(len(prev.registry), dtype=bool)
        return _run(
            prev, df, record_hashes(df, settings), gone, settings, decisions, run_id, clock, incremental=False
        )
    # only new and changed records are resolved again; records that left are removed
    hashes = record_hashes(df, settings)
    pos, same = _unchanged(prev, df, hashes)
    known = pos >= 0
    gone = np.ones(len(prev.registry), dtype=bool)
    gone[pos[known]] = False
    todo = np.flatnonzero(~same)
    todo = todo[np.argsort(df["record_key"].iloc[todo].to_numpy(dtype=object), kind="stable")]
    return _run(
        prev,
        df.iloc[todo].reset_index(drop=True),
        hashes[todo],
        gone,
        settings,
        decisions,
        run_id,
        clock,
        incremental=True,
    )


def resolve_delta(
    changes: pd.DataFrame,
    settings: EntitySettings,
    *,
    state: ResolutionState,
    removed: list[str] | pd.Series | None = None,
    decisions: pd.DataFrame | None = None,
    run_id: str,
) -> Resolution:
    """A daily delta: only new and changed records (``changes``) and the keys of ``removed`` ones, against
    ``state``. Every other record the state knows stays as it was, unread: the work done is proportional
    to the delta and the entities it reaches, not to everything known. The result covers all records.
    """
    clock = Clock()
    if not can_increment(state, settings):
        raise MentionsError(
            f"{settings.entity_type}: a delta needs the state of an earlier run trained with these "
            "settings (and written by this version); run resolve() on all mentions once"
        )
    df = prepare_mentions(changes, settings)
    hashes = record_hashes(df, settings)
    gone = np.zeros(len(state.registry), dtype=bool)
    if removed is not None and len(removed):
        at = state.locate(pd.Series(list(removed), dtype="string"))
        gone[at[at >= 0]] = True
    _, same = _unchanged(state, df, hashes)  # sent again unchanged: nothing to do
    return _run(
        state,
        df[~same].reset_index(drop=True),
        hashes[~same],
        gone,
        settings,
        decisions,
        run_id,
        clock,
        incremental=True,
    )


def _unchanged(state: ResolutionState, df: pd.DataFrame, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Registry row of each prepared record (-1 = new) and whether the registry holds it unchanged."""
    pos = state.locate(df["record_key"], hashes=df["_rk"].to_numpy())
    known = pos >= 0
    reg_hash = state.registry["record_hash"].to_numpy(dtype=np.uint64)
    return pos, known & (reg_hash[np.where(known, pos, 0)] == hashes)


def _run(
    previous: ResolutionState,
    records: pd.DataFrame,
    hashes: np.ndarray,
    gone: np.ndarray,
    settings: EntitySettings,
    decisions: pd.DataFrame | None,
    run_id: str,
    clock: Clock,
    *,
    incremental: bool,
) -> Resolution:
    """The one resolution path, stage by stage. ``records``: prepared records to resolve (all of them in a full
    run, the delta in an incremental one), ``hashes`` their record hashes; ``gone``: registry rows whose
    record left or is in ``records`` again. Kept registry rows (``~gone``) take part only as candidates for
    the delta and as whole entities ("nodes") when the delta reaches them.
    """
    ctx = RunContext(previous=previous, settings=settings, run_id=run_id, incremental=incremental)
    reviewed = combine_decisions(previous, decisions)
    delta = prepare_delta(ctx, records, hashes, gone, reviewed)
    clock.lap("prepare")
    candidates = block_candidates(ctx, delta)
    clock.lap("blocking")
    prepared, levels, u_levels = compare_pairs(ctx, delta, candidates)
    clock.lap("comparisons")
    model = fit_model(ctx, delta, candidates, prepared, levels, u_levels)
    candidates.pairs.codes.clear()  # which rules a pair satisfies: only training reads it (issue #19)
    clock.lap("training")
    scored = score_pairs(ctx, delta, candidates, prepared, levels, model)
    # only the kept pairs' levels are needed from here on: let the per-record arrays go (memory at 1 M records)
    del levels, prepared
    clock.lap("scoring")
    clustering = cluster_entities(ctx, delta, candidates, scored, reviewed)
    clock.lap("clustering")
    ids = assign_entity_ids(ctx, delta, clustering)
    clock.lap("ids")
    scores = score_participants(ctx, delta, candidates, scored, clustering, ids, reviewed)
    registry = updated_registry(ctx, delta, candidates, scored, clustering, ids, scores)
    pairs = kept_pairs(ctx, delta, candidates, scored)
    review = review_queue(ctx, candidates, scored, clustering, ids, scores, reviewed)
    oversized = oversized_report(delta, clustering, ids)
    clock.lap("outputs")
    state = next_state(ctx, registry, model, pairs, reviewed, clustering, ids)
    stats = {
        "records": len(registry),
        "delta_records": delta.n,
        "compared_records": len(candidates.compared),
        "candidate_pairs": int(len(candidates.pairs)),
        "edges": int(clustering.is_edge.sum()),
        "held_back_pairs": scored.held_back,  # no identity evidence (requires_any): kept from being edges
        "weight_histogram": weight_histogram(scored.weight),  # every scored pair's weight, aggregated
        # components split because they held two identities; records left alone between two identities
        "identity_conflicts": int((oversized["reason"] == "identity_conflict").sum())
        if len(oversized)
        else 0,
        "identity_ties": clustering.clusters.ties,
        "entities": state.entities,
        "incremental": incremental,
        "new_ids": len(ids.issued.added),
        "timings": clock.timings,
        "peak_rss_mb": clock.peaks,
    }
    log.info(
        "%s run %s: %s",
        settings.entity_type,
        run_id,
        {k: v for k, v in stats.items() if k not in ("peak_rss_mb", "weight_histogram")},
    )
    return Resolution(
        entity_type=settings.entity_type,
        assignments=registry[ASSIGNMENT_COLUMNS],
        pairs=pairs,
        review=review,
        blocking_report=candidates.pairs.report,
        id_history=ids.history if len(ids.history) else empty_history(),
        oversized=oversized,
        state=state,
        model=model,
        stats=stats,
    )
