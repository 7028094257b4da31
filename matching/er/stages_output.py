"""The last stages of a run: the new registry, the pairs kept for explain, the review queue, the guard's
report and the state the next run starts from."""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.er.guard import CUT_IDENTITY, CUT_TIE
from matching.er.ids import REGISTRY_COLUMNS, ResolutionState
from matching.er.registry_update import identity_column, key_column, merged_registry, tf_column
from matching.er.scoring import Model
from matching.er.stages_cluster import Clustering, IdAssignment, ParticipantScores
from matching.er.stages_prepare import Candidates, Decisions, Delta, RunContext, ScoredPairs

ASSIGNMENT_COLUMNS = ["record_key", "entity_id", "score", "method"]
REVIEW_COLUMNS = [
    "record_key_l",
    "record_key_r",
    "entity_id_l",
    "entity_id_r",
    "match_probability",
    "match_weight",
    "reason",
    "run_id",
]


def updated_registry(
    ctx: RunContext,
    delta: Delta,
    candidates: Candidates,
    scored: ScoredPairs,
    clustering: Clustering,
    ids: IdAssignment,
    scores: ParticipantScores,
) -> pd.DataFrame:
    """Stage 9: the registry after the run. A full run's is the delta's rows; an incremental run keeps the
    other rows as they were, updates the members of reached entities and appends the delta."""
    n_delta, delta_keys = delta.n, candidates.delta_keys
    index = delta.records.index

    def held(values: np.ndarray) -> pd.Series:
        # the run's own per-record arrays, not copied (``assign`` copies an array: 96 bytes a person, issue #19)
        return pd.Series(values, index=index, copy=False)

    delta_rows = delta.records.assign(
        record_hash=held(delta.hashes),
        first_seen_seq=held(delta.first_seen),
        entity_id=ids.new_ids.iloc[:n_delta].reset_index(drop=True),
        score=held(scores.score[:n_delta]),
        method=held(scores.method[:n_delta]),
        **{key_column(i): held(k) for i, k in enumerate(delta_keys)},
        **{tf_column(k): held(h) for k, h in scored.delta_tf.items()},
        **{
            identity_column(j): held(clustering.delta_identity[:, j])
            for j in range(len(ctx.settings.identity))
        },
    )
    columns = [
        *REGISTRY_COLUMNS,
        *[c for c in delta.records.columns if c not in (*REGISTRY_COLUMNS, "_rk")],
        "_rk",
        *[key_column(i) for i in range(len(delta_keys))],
        *[tf_column(k) for k in scored.delta_tf],
        *[identity_column(j) for j in range(len(ctx.settings.identity))],
    ]
    if ctx.incremental:
        members = {
            "entity_id": ids.new_ids.iloc[n_delta:],
            "score": scores.score[n_delta:],
            "method": scores.method[n_delta:],
        }
        registry = merged_registry(
            ctx.registry, delta_rows[columns], delta.alive, clustering.member_pos, members
        )
    else:
        registry = delta_rows[columns]
    for c in ("record_key", "entity_id", "method"):
        if registry[c].dtype != "string":
            registry[c] = registry[c].astype("string")
    return registry


def kept_pairs(ctx: RunContext, delta: Delta, candidates: Candidates, scored: ScoredPairs) -> pd.DataFrame:
    """Stage 10: the scored pairs kept for explain: this run's above ``keep_pairs``, with an incremental run's
    earlier pairs whose two sides are both still there unchanged."""
    settings, pairs, kept = ctx.settings, candidates.pairs, scored.kept
    out = pd.DataFrame(
        {
            "record_key_l": candidates.keys_at(pairs.left[kept]),
            "record_key_r": candidates.keys_at(pairs.right[kept]),
            "rule": np.asarray([r.name for r in settings.blocking], dtype=object)[pairs.rule[kept]],
            "match_weight": scored.weight[kept],
            "match_probability": scored.probability[kept],
            **{f"gamma_{c.name}": scored.kept_levels[:, k] for k, c in enumerate(settings.comparisons)},
        }
    )
    previous = ctx.previous
    if ctx.incremental and len(previous.pairs):
        # old pairs stay unless a side changed or left
        stale = pd.Index(ctx.registry["record_key"][delta.gone])
        old_pairs = previous.pairs
        if len(stale):
            old_pairs = old_pairs[
                ~(old_pairs["record_key_l"].isin(stale) | old_pairs["record_key_r"].isin(stale))
            ]
        out = pd.concat([old_pairs, out], ignore_index=True)
    return out


def _entity_of_compared(
    ctx: RunContext, idx: np.ndarray, candidates: Candidates, ids: IdAssignment, scores: ParticipantScores
) -> np.ndarray:
    """Entity id of compared records: the new one where the record took part, else the one it kept."""
    out = np.empty(len(idx), dtype=object)
    participant = scores.participant_of_compared
    took = participant[idx] >= 0
    out[took] = ids.new_ids.iloc[participant[idx[took]]].to_numpy(dtype=object)
    out[~took] = ctx.registry_ids.iloc[candidates.candidate_pos[idx[~took]]].to_numpy(dtype=object)
    return out


def _review_reason(cut: np.ndarray, pair_cut: np.ndarray) -> np.ndarray:
    """Why a pair is in the review queue, from whether it was a cut match edge and why the guard cut it."""
    reason = np.where(cut, "split_by_guard", "uncertain").astype(object)
    reason[cut & (pair_cut == CUT_IDENTITY)] = "identity_conflict"
    reason[cut & (pair_cut == CUT_TIE)] = "identity_tie"
    return reason


def review_queue(
    ctx: RunContext,
    candidates: Candidates,
    scored: ScoredPairs,
    clustering: Clustering,
    ids: IdAssignment,
    scores: ParticipantScores,
    decisions: Decisions,
) -> pd.DataFrame:
    """Stage 11: pairs for a person to decide, most likely first: the uncertain band, and the match edges the
    guard or a cannot-link cut (both sides of an edge always take part, so their labels tell: reason
    ``split_by_guard``, ``identity_conflict`` when cut to keep two identities apart, ``identity_tie`` when a
    record without identity matched two identities equally well and was left on its own); pairs already
    decided are left out. A pair whose sides hold two identities is no match edge and is not asked about."""
    thresholds, pairs = ctx.settings.thresholds, candidates.pairs
    probability, is_edge, labels = scored.probability, clustering.is_edge, scores.labels
    uncertain = (probability >= thresholds.review) & (probability < thresholds.match)
    cut = is_edge.copy()
    cut[is_edge] = labels[scores.of_left[is_edge]] != labels[scores.of_right[is_edge]]
    chosen = np.flatnonzero(uncertain | cut)
    left, right = pairs.left[chosen], pairs.right[chosen]
    review = pd.DataFrame(
        {
            "record_key_l": candidates.keys_at(left),
            "record_key_r": candidates.keys_at(right),
            "entity_id_l": _entity_of_compared(ctx, left, candidates, ids, scores),
            "entity_id_r": _entity_of_compared(ctx, right, candidates, ids, scores),
            "match_probability": probability[chosen],
            "match_weight": scored.weight[chosen],
            "reason": _review_reason(cut[chosen], clustering.pair_cut[chosen]),
            "run_id": ctx.run_id,
        },
        columns=REVIEW_COLUMNS,
    )
    reviewed = decisions.pairs
    if len(reviewed) and len(review):
        decided = pd.MultiIndex.from_frame(reviewed[["record_key_l", "record_key_r"]].astype(str))
        keys = pd.MultiIndex.from_arrays(
            [review["record_key_l"].astype(str), review["record_key_r"].astype(str)]
        )
        review = review[~keys.isin(decided)]
    return review.sort_values("match_probability", ascending=False).reset_index(drop=True)


def oversized_report(delta: Delta, clustering: Clustering, ids: IdAssignment) -> pd.DataFrame:
    """Stage 12: the components the guard split, each with an example record_key instead of its first node."""
    oversized = clustering.clusters.oversized.copy()
    if len(oversized):
        first_nodes = oversized.pop("first_node").to_numpy()
        member_nodes = clustering.node_of_registry_row[clustering.member_pos]
        node_key = (
            pd.Series(
                ids.participants["record_key"].to_numpy(), index=np.r_[np.arange(delta.n), member_nodes]
            )
            .groupby(level=0)
            .first()
        )
        oversized.insert(0, "example_record_key", node_key.reindex(first_nodes).to_numpy())
    return oversized


def next_state(
    ctx: RunContext,
    registry: pd.DataFrame,
    model: Model | None,
    pairs: pd.DataFrame,
    decisions: Decisions,
    clustering: Clustering,
    ids: IdAssignment,
) -> ResolutionState:
    """Stage 13: the state the next run starts from."""
    previous = ctx.previous
    issued = pd.concat(
        [previous.issued.astype("string"), pd.Series(sorted(ids.issued.added), dtype="string")],
        ignore_index=True,
    )
    # entities: in an incremental run, the ones nobody touched plus the ones the records taking part now hold
    entities = int(ids.new_ids.nunique()) + (
        previous.entities - len(clustering.touched_ids) if ctx.incremental and previous.entities >= 0 else 0
    )
    if ctx.incremental and previous.entities < 0:
        entities = int(registry["entity_id"].nunique())
    return ResolutionState(
        entity_type=ctx.settings.entity_type,
        registry=registry,
        model=model,
        fingerprint=ctx.settings.fingerprint(),
        issued=issued,
        pairs=pairs,
        decisions=decisions.pairs,
        run_seq=ctx.run_seq,
        runs=[*previous.runs, ctx.run_id],
        entities=entities,
    )
