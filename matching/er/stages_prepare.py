"""The first stages of a run: reviewed decisions, the delta, blocking, training and scoring.

A run (:func:`matching.er.engine.resolve`) passes through these stages in order; each takes what the earlier
ones produced (small dataclasses below) and returns its own result. The records a run resolves are the
*delta* (every record in a full run); the registry rows it keeps (``alive``) take part only as blocking
candidates for the delta and, later, as whole entities. The compared records are the kept candidates first,
then the delta: pair positions index that order.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from matching.er.blocking import CandidatePairs, all_rule_keys, block, value_hashes
from matching.er.comparisons import PAIR_CHUNK, PreparedComparisons
from matching.er.evidence import hold_back
from matching.er.ids import ResolutionState
from matching.er.mentions import MentionsError, normalise_decisions
from matching.er.registry_update import candidate_rows, key_column, tf_column
from matching.er.scoring import Model, score, train, u_pairs
from matching.er.settings import EntitySettings
from matching.er.term_frequencies import tf_adjustments

log = logging.getLogger(__name__)


def _peak_rss_mb() -> float:
    """The process's peak resident memory so far (MB), where the platform tells it; else NaN."""
    try:
        import resource
    except ImportError:  # not on Windows
        return float("nan")
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Clock:
    """Seconds and peak memory per stage of a run."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.peaks: dict[str, float] = {}

    def lap(self, name: str) -> None:
        """Charge the time since the last lap to stage ``name`` and note the peak memory so far."""
        t1 = time.perf_counter()
        self.timings[name] = round(self.timings.get(name, 0.0) + t1 - self.t0, 4)
        self.peaks[name] = _peak_rss_mb()
        self.t0 = t1


@dataclass
class RunContext:
    """What every stage reads: the previous state, the settings, the run and whether it is incremental."""

    previous: ResolutionState
    settings: EntitySettings
    run_id: str
    incremental: bool
    registry_ids: pd.Series = field(init=False)  # entity id per registry row

    def __post_init__(self) -> None:
        registry = self.previous.registry
        self.registry_ids = registry["entity_id"] if len(registry) else pd.Series([], dtype="string")

    @property
    def registry(self) -> pd.DataFrame:
        """The previous run's registry."""
        return self.previous.registry

    @property
    def run_seq(self) -> int:
        """This run's sequence number."""
        return self.previous.run_seq + 1


@dataclass
class Decisions:
    """Reviewed pairs: every decision (the state's and this run's) and which of them are new."""

    pairs: pd.DataFrame  # record_key_l ≤ record_key_r, decision ∈ {match, non_match}
    fresh: np.ndarray  # per row of ``pairs``: not among the state's decisions

    @property
    def is_match(self) -> np.ndarray:
        """Per decision: a match (else a non-match)."""
        return (self.pairs["decision"] == "match").to_numpy()


@dataclass
class Delta:
    """The records this run resolves and what the registry knew of each."""

    records: pd.DataFrame  # prepared records (delta and re-opened members)
    hashes: np.ndarray  # record hash per record
    known: np.ndarray  # the registry holds the record
    known_pos: np.ndarray  # registry row of each known record
    gone: np.ndarray  # per registry row: its record left or is resolved again
    old_id: np.ndarray  # entity id the registry gave a known record (None for a new one)
    first_seen: np.ndarray  # run sequence number the record was first seen in
    changed: np.ndarray  # a known record whose hash changed
    old_score: np.ndarray  # the registry's score of a known record (NaN for a new one)

    @property
    def alive(self) -> np.ndarray:
        """Per registry row: kept as it was."""
        return ~self.gone

    @property
    def n(self) -> int:
        """Number of records resolved."""
        return len(self.records)


@dataclass
class Candidates:
    """The compared records (kept candidates, then the delta) and their candidate pairs."""

    compared: pd.DataFrame
    candidate_pos: np.ndarray  # registry row of each kept candidate
    delta_keys: list[np.ndarray]  # per blocking rule: the delta records' key hashes
    source: np.ndarray | None  # per compared record: its source (link_only), else None
    pairs: CandidatePairs

    @property
    def n_candidates(self) -> int:
        """Number of kept registry records compared with the delta."""
        return len(self.candidate_pos)

    @cached_property
    def compared_keys(self) -> pd.Series:
        """record_key of each compared record, by position."""
        return self.compared["record_key"].reset_index(drop=True)

    def keys_at(self, idx: np.ndarray) -> pd.Series:
        """record_key of the compared records at positions ``idx``."""
        return self.compared_keys.iloc[idx].reset_index(drop=True)


@dataclass
class ScoredPairs:
    """Match weight and probability per candidate pair, and what is kept of the comparison levels."""

    weight: np.ndarray
    probability: np.ndarray
    kept: np.ndarray  # positions of the pairs kept for explain and the next run
    kept_levels: np.ndarray  # their comparison levels (pairs × comparisons)
    delta_tf: dict[
        tuple[int, int], np.ndarray
    ]  # per (comparison, level) term frequencies count: value hashes
    held_back: int = 0  # would-be match edges capped for want of identity evidence (settings.requires_any)


def _decision_triples(decisions: pd.DataFrame) -> pd.Index:
    """One string per decision (both keys and the decision), to compare decision sets."""
    return pd.Index(
        decisions["record_key_l"].astype(str)
        + "\x1f"
        + decisions["record_key_r"].astype(str)
        + "\x1f"
        + decisions["decision"].astype(str)
    )


def combine_decisions(previous: ResolutionState, decisions: pd.DataFrame | None) -> Decisions:
    """Stage 1: this run's reviewed decisions added to the state's (later ones win), new ones flagged."""
    new = normalise_decisions(decisions)
    combined = normalise_decisions(pd.concat([previous.decisions, new], ignore_index=True))
    fresh = (
        ~_decision_triples(combined).isin(_decision_triples(previous.decisions))
        if len(combined)
        else np.zeros(0, dtype=bool)
    )
    return Decisions(pairs=combined, fresh=fresh)


def reopened_members(
    previous: ResolutionState, records: pd.DataFrame, gone: np.ndarray, decisions: pd.DataFrame
) -> np.ndarray:
    """Registry rows to resolve again because a cannot-link decision falls inside their (kept) entity."""
    registry_ids = previous.registry["entity_id"]
    pos_l, pos_r = previous.locate(decisions["record_key_l"]), previous.locate(decisions["record_key_r"])
    inside = (decisions["decision"] == "non_match").to_numpy() & (pos_l >= 0) & (pos_r >= 0)
    inside[inside] = ~gone[pos_l[inside]] & ~gone[pos_r[inside]]
    ids_l = registry_ids.iloc[pos_l[inside]].to_numpy(dtype=object)
    ids_r = registry_ids.iloc[pos_r[inside]].to_numpy(dtype=object)
    reopened = pd.unique(ids_l[ids_l == ids_r])
    if not len(reopened):
        return np.empty(0, dtype=np.int64)
    members = np.flatnonzero(~gone & registry_ids.isin(reopened).to_numpy())
    members = members[~pd.Index(previous.registry["record_key"].iloc[members]).isin(records["record_key"])]
    log.info(
        "%s: %d entities re-opened by cannot-link decisions (%d records)",
        previous.entity_type,
        len(reopened),
        len(members),
    )
    return members


def prepare_delta(
    ctx: RunContext, records: pd.DataFrame, hashes: np.ndarray, gone: np.ndarray, decisions: Decisions
) -> Delta:
    """Stage 2: the records to resolve (plus the members of entities a cannot-link decision re-opens, in an
    incremental run) and what the registry knew of each; their registry rows are no longer kept as they were.
    """
    registry = ctx.registry
    gone = gone.copy()
    if ctx.incremental and len(decisions.pairs):
        members = reopened_members(ctx.previous, records, gone, decisions.pairs)
        if len(members):
            reopened = registry.iloc[members][list(records.columns)].reset_index(drop=True)
            records = pd.concat([records, reopened], ignore_index=True)
            hashes = np.r_[hashes, registry["record_hash"].to_numpy(dtype=np.uint64)[members]]
    n = len(records)
    registry_pos = (
        ctx.previous.locate(records["record_key"], hashes=records["_rk"].to_numpy())
        if len(registry)
        else np.full(n, -1)
    )
    known = registry_pos >= 0
    known_pos = registry_pos[known]
    gone[known_pos] = True
    old_id = np.full(n, None, dtype=object)
    old_id[known] = ctx.registry_ids.iloc[known_pos].to_numpy(dtype=object)
    first_seen = np.full(n, ctx.run_seq, dtype=np.int64)
    first_seen[known] = registry["first_seen_seq"].to_numpy()[known_pos]
    changed = np.zeros(n, dtype=bool)
    changed[known] = registry["record_hash"].to_numpy(dtype=np.uint64)[known_pos] != hashes[known]
    old_score = np.full(n, np.nan)
    old_score[known] = registry["score"].to_numpy(dtype=np.float64)[known_pos]
    return Delta(records, hashes, known, known_pos, gone, old_id, first_seen, changed, old_score)


def block_candidates(ctx: RunContext, delta: Delta) -> Candidates:
    """Stage 3: the kept registry records sharing a blocking key with the delta, then the candidate pairs
    among them and the delta (each pair holds at least one delta record)."""
    settings, registry, records = ctx.settings, ctx.registry, delta.records
    delta_keys = all_rule_keys(records, settings.blocking, settings.regions)
    candidate_pos = (
        candidate_rows(registry, delta_keys, delta.alive)
        if ctx.incremental and delta.alive.any() and delta.n
        else np.empty(0, dtype=np.int64)
    )
    n_candidates = len(candidate_pos)
    if n_candidates:
        kept = registry.iloc[candidate_pos].reindex(columns=records.columns).reset_index(drop=True)
        compared = pd.concat([kept, records], ignore_index=True)
    else:
        compared = records
    source = None
    if settings.link_type == "link_only":
        if settings.source_column not in compared.columns:
            raise MentionsError(
                f"{settings.entity_type}: link_only needs a {settings.source_column!r} column"
            )
        source = pd.factorize(compared[settings.source_column].astype("string"))[0]
    active = np.r_[np.zeros(n_candidates, dtype=bool), np.ones(delta.n, dtype=bool)] if n_candidates else None
    # the kept records' key hashes are in the registry already: only the delta's were computed
    keys = (
        [
            np.r_[registry[key_column(i)].to_numpy(dtype=np.uint64)[candidate_pos], k]
            for i, k in enumerate(delta_keys)
        ]
        if n_candidates
        else delta_keys
    )
    pairs = block(
        compared,
        settings.blocking,
        max_block_size=settings.max_block_size,
        source=source,
        active=active,
        keys=keys,
    )
    return Candidates(compared, candidate_pos, delta_keys, source, pairs)


def _trains(ctx: RunContext, delta: Delta) -> bool:
    """Whether the run trains a model: a full run of two records or more (an incremental one reuses the state's)."""
    return not ctx.incremental and delta.n >= 2


def compare_pairs(
    ctx: RunContext, delta: Delta, candidates: Candidates
) -> tuple[PreparedComparisons, np.ndarray, np.ndarray | None]:
    """Stage 3b: the comparisons over the compared records, the candidate pairs' levels and, when the run trains,
    the levels of the random pairs u is estimated from. One comparison's per-record values are in memory at a
    time (:meth:`~matching.er.comparisons.PreparedComparisons.levels_one_at_a_time`, issue #19)."""
    prepared = PreparedComparisons(candidates.compared, ctx.settings.comparisons, keep_prepared=False)
    pair_sets = [(candidates.pairs.left, candidates.pairs.right)]
    if _trains(ctx, delta):
        pair_sets.append(u_pairs(len(candidates.compared), ctx.settings, candidates.source))
    levels = prepared.levels_one_at_a_time(pair_sets)
    return prepared, levels[0], levels[1] if len(levels) > 1 else None


def fit_model(
    ctx: RunContext,
    delta: Delta,
    candidates: Candidates,
    prepared: PreparedComparisons,
    levels: np.ndarray,
    u_levels: np.ndarray | None = None,
) -> Model | None:
    """Stage 4: the model. An incremental run reuses the state's; a full run trains one (u from random pairs,
    m by EM); one record or none has nothing to learn from (None). ``u_levels``: the random pairs' levels
    (:func:`compare_pairs`)."""
    if ctx.incremental:
        model = ctx.previous.model
        assert model is not None  # an incremental run needs a trained state (engine.can_increment)
        return model
    if not _trains(ctx, delta):
        return None
    return train(prepared, candidates.pairs, levels, ctx.settings, candidates.source, u_levels)


def tf_hashes(df: pd.DataFrame, prepared: PreparedComparisons) -> dict[tuple[int, int], np.ndarray]:
    """Per (term-frequency comparison of ``prepared``, level it counts): a 64-bit hash of each ``df`` record's
    value (0 = none)."""
    return {
        (k, level): value_hashes(values)
        for k, comp in enumerate(prepared.comparisons)
        if comp.spec.tf and prepared.exact_codes(k) is not None
        for level, values in comp.tf_keys(df).items()
    }


def identity_hashes(
    settings: EntitySettings, records: pd.DataFrame, held: pd.DataFrame | None = None
) -> np.ndarray | None:
    """Hashes of each record's exclusive identifier (the first of ``settings.identity`` the records have: a
    credit code for organisations; 0 = none), the kept registry records first; None when there is none."""
    column = next((c for c in settings.identity if c in records.columns), None)
    if column is None:
        return None
    mine = value_hashes(records[column])
    if held is None:
        return mine
    kept = value_hashes(held[column]) if column in held.columns else np.zeros(len(held), dtype=np.uint64)
    return np.r_[kept, mine]


def tf_side(pairs: CandidatePairs, compared_identities: np.ndarray | None) -> np.ndarray:
    """Per pair, the record whose term-frequency adjustment counts: the side that holds an identity (its own
    share of the value, :mod:`matching.er.term_frequencies`), else the left one (two records that agree on a
    value and hold no identity have the same adjustment)."""
    return _tf_side(pairs.left, pairs.right, compared_identities)


def _tf_side(left: np.ndarray, right: np.ndarray, compared_identities: np.ndarray | None) -> np.ndarray:
    """:func:`tf_side` of the pairs ``left``, ``right``."""
    if compared_identities is None:
        return left
    return np.where(compared_identities[left] != 0, left, right)


def score_pairs(
    ctx: RunContext,
    delta: Delta,
    candidates: Candidates,
    prepared: PreparedComparisons,
    levels: np.ndarray,
    model: Model | None,
) -> ScoredPairs:
    """Stage 5: match weight and probability of every candidate pair, term frequencies counted over every
    record the entity type holds; the pairs above ``keep_pairs`` are kept with their levels."""
    registry, candidate_pos = ctx.registry, candidates.candidate_pos
    delta_tf = tf_hashes(delta.records, prepared)
    compared_tf, population = {}, {}
    held_registry = ctx.incremental and len(registry) > 0
    for k, hashes in delta_tf.items():
        held = registry[tf_column(k)].to_numpy(dtype=np.uint64) if held_registry else np.empty(0, np.uint64)
        compared_tf[k] = np.r_[held[candidate_pos], hashes] if candidates.n_candidates else hashes
        population[k] = np.r_[held[delta.alive], hashes] if len(held) else hashes
    held = np.zeros(0, dtype=bool)
    rows = identities = compared_identities = None
    if ctx.settings.correct_u_for_duplicates:  # term frequencies over distinct records (see tf_adjustments)
        held_rows = registry["record_hash"].to_numpy(dtype=np.uint64) if held_registry else None
        rows = np.r_[held_rows[delta.alive], delta.hashes] if held_rows is not None else delta.hashes
        identities = identity_hashes(
            ctx.settings, delta.records, registry[delta.alive] if held_registry else None
        )
        compared_identities = identity_hashes(ctx.settings, candidates.compared)
    if model is None:
        weight = probability = np.empty(0, dtype=np.float64)
    else:
        adjustments = tf_adjustments(
            compared_tf,
            population,
            model,
            rows,
            identities,
            compared_identities,
        )
        weight, probability, held = _scored_in_chunks(
            levels, model, candidates.pairs, compared_identities, adjustments, ctx.settings
        )
    kept = np.flatnonzero(probability >= ctx.settings.thresholds.keep_pairs)
    return ScoredPairs(weight, probability, kept, levels[kept], delta_tf, int(held.sum()))


def _scored_in_chunks(
    levels: np.ndarray,
    model: Model,
    pairs: CandidatePairs,
    compared_identities: np.ndarray | None,
    adjustments: dict[tuple[int, int], np.ndarray],
    settings: EntitySettings,
    chunk: int = PAIR_CHUNK,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weight, probability (capped where ``requires_any`` holds a pair back) and the matches held back, per
    pair, ``chunk`` pairs at a time: a pair's score reads that pair alone, so the chunks give the same numbers
    while the float64 intermediates (the weights' sums, exponentials, the uncapped copies) stay one chunk long
    (issue #19)."""
    n = len(levels)
    weight, probability = np.empty(n, dtype=np.float64), np.empty(n, dtype=np.float64)
    held = np.zeros(n, dtype=bool)
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        lv = levels[lo:hi]
        w, p = score(
            lv, model, _tf_side(pairs.left[lo:hi], pairs.right[lo:hi], compared_identities), adjustments
        )
        # no identity evidence (settings.requires_any): capped below the review threshold
        weight[lo:hi], probability[lo:hi], h = hold_back(w, p, lv, model, settings)
        held[lo:hi] = h & (p >= settings.thresholds.match)  # the matches the rule held back
    return weight, probability, held
