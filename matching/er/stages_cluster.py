"""The middle stages of a run: clustering, stable ids and each record's score and method.

Clustering works on *nodes*: each delta record is one node (``0 … n_delta − 1``), and every kept entity the
delta reaches (by a match edge, a changed or removed record, or a reviewed decision) is one more node. The
records *taking part* are the delta records and every member of a reached entity: they all get an id from
their cluster (:func:`assign_entity_ids`), in that order (delta first). Each node carries its identity (the
values of the ``identity`` columns it holds, :mod:`matching.er.identity`): a kept entity holding a delta
record's value is reached too, so the delta record joins it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.er.clustering import Clusters, cluster
from matching.er.guard import CUT_DIFFERENT
from matching.er.identity import identity_hashes, node_identity, record_units
from matching.er.ids import IssuedIds, ResolutionState, assign_ids
from matching.er.registry_update import identity_column, identity_holders, is_in
from matching.er.stages_prepare import Candidates, Decisions, Delta, RunContext, ScoredPairs


@dataclass
class Clustering:
    """The entities of the records taking part, and the kept entities the delta reached."""

    # per candidate pair: probability ≥ the match threshold, and its sides do not hold two identities
    is_edge: np.ndarray
    touched_ids: pd.Index  # entity ids the run re-resolves (reached, left by a record, or reviewed)
    member_pos: np.ndarray  # registry rows of the kept members of reached entities
    node_of_registry_row: np.ndarray  # clustering node of each registry row (-1 = not taking part)
    clusters: Clusters  # a label per node, and the components the guard split
    delta_identity: np.ndarray  # (delta records × identity columns) hashes of their identity values
    pair_cut: np.ndarray  # per candidate pair: why the match edge was cut (matching.er.guard.CUT_*, 0 = not)


@dataclass
class IdAssignment:
    """Entity ids of the records taking part (the delta, then the members of reached entities)."""

    participants: pd.DataFrame  # record_key, label, old_id, first_seen_seq, changed, record_date
    new_ids: pd.Series  # entity id per participant
    history: pd.DataFrame  # merges, splits and retired ids (id_history rows)
    issued: IssuedIds  # the ids issued so far, with this run's additions


@dataclass
class ParticipantScores:
    """Score and method of each record taking part, and where the candidate pairs' sides take part."""

    participant_of_compared: np.ndarray  # participant row of each compared record (-1 = not taking part)
    of_left: np.ndarray  # participant row of each pair's left side
    of_right: np.ndarray  # participant row of each pair's right side
    labels: np.ndarray  # cluster label per participant
    score: np.ndarray
    method: np.ndarray


def touched_entities(
    ctx: RunContext, delta: Delta, candidates: Candidates, is_edge: np.ndarray, decisions: Decisions
) -> pd.Index:
    """Kept entity ids the run re-resolves: reached by a match edge from the delta, left by a changed or
    removed record, or named by a reviewed decision that is new or touches the delta."""
    registry_ids, candidate_pos = ctx.registry_ids, candidates.candidate_pos
    left, right = candidates.pairs.left, candidates.pairs.right
    compared_is_kept = np.r_[np.ones(len(candidate_pos), dtype=bool), np.zeros(delta.n, dtype=bool)]
    touched = [
        registry_ids.iloc[candidate_pos[left[is_edge & compared_is_kept[left]]]],
        registry_ids.iloc[candidate_pos[right[is_edge & compared_is_kept[right]]]],
    ]
    if ctx.incremental:
        n_registry = len(ctx.registry)
        touched.append(registry_ids.iloc[delta.known_pos])  # the entities changed records leave
        removed = delta.gone & ~np.isin(np.arange(n_registry), delta.known_pos)
        touched.append(registry_ids[removed])  # and the ones removed records leave
        reviewed = decisions.pairs
        if len(reviewed):
            reach = (
                decisions.fresh
                | pd.Index(reviewed["record_key_l"]).isin(delta.records["record_key"])
                | pd.Index(reviewed["record_key_r"]).isin(delta.records["record_key"])
            )
            alive = delta.alive
            for side in ("record_key_l", "record_key_r"):
                pos = ctx.previous.locate(reviewed.loc[reach, side])
                pos = pos[pos >= 0]
                touched.append(registry_ids.iloc[pos[alive[pos]]])
    return pd.Index(pd.concat(touched, ignore_index=True).dropna().unique())


def entity_nodes(
    ctx: RunContext, delta: Delta, touched_ids: pd.Index
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes of the reached entities: the registry rows of their kept members, each registry row's node
    (-1 = not taking part) and every node's size in records (1 for a delta record)."""
    n_delta = delta.n
    node_of_registry_row = np.full(len(ctx.registry), -1, dtype=np.int64)
    member_pos = np.empty(0, dtype=np.int64)
    reached = pd.Index([], dtype="string")
    alive = delta.alive
    if ctx.incremental and len(touched_ids) and alive.any():
        member_pos = np.flatnonzero(alive & is_in(ctx.registry_ids, touched_ids))
        member_ids = ctx.registry_ids.iloc[member_pos]
        reached = pd.Index(member_ids.unique())
        node_of_registry_row[member_pos] = n_delta + reached.get_indexer(member_ids)
    entity_sizes = np.bincount(node_of_registry_row[member_pos] - n_delta, minlength=len(reached))
    node_size = np.r_[np.ones(n_delta, dtype=np.int64), entity_sizes.astype(np.int64)]
    return member_pos, node_of_registry_row, node_size


def decision_nodes(
    keys: pd.Series,
    delta_index: pd.Index,
    state: ResolutionState,
    alive: np.ndarray,
    node_of_registry_row: np.ndarray,
) -> np.ndarray:
    """Clustering node of each decision side: its own node if it is a delta record, its entity's node if it is
    a kept record of an entity taking part, else -1."""
    at_delta = delta_index.get_indexer(keys)
    node = at_delta.astype(np.int64)
    rest = at_delta < 0
    if rest.any() and len(state.registry):
        pos = state.locate(keys[rest])
        ok = pos >= 0
        ok[ok] = alive[pos[ok]]
        values = np.full(len(pos), -1, dtype=np.int64)
        values[ok] = node_of_registry_row[pos[ok]]
        node[rest] = values
    return node


def link_constraints(
    ctx: RunContext,
    delta: Delta,
    decisions: Decisions,
    node_of_registry_row: np.ndarray,
    node_of_compared: np.ndarray,
    candidates: Candidates,
    probability: np.ndarray,
    identity: np.ndarray,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Must-link and cannot-link node pairs: reviewed decisions whose two sides both take part, and (with a
    ``cannot_link`` threshold) the candidate pairs whose evidence against is that strong, unless the two nodes
    hold one identity value (``identity``, per node): one value is one entity whatever the names say (a
    renamed organisation's old-code row against its credit code's former-name row)."""
    reviewed = decisions.pairs
    delta_index = pd.Index(delta.records["record_key"])
    nodes_l = decision_nodes(
        reviewed["record_key_l"], delta_index, ctx.previous, delta.alive, node_of_registry_row
    )
    nodes_r = decision_nodes(
        reviewed["record_key_r"], delta_index, ctx.previous, delta.alive, node_of_registry_row
    )
    both = (nodes_l >= 0) & (nodes_r >= 0)
    is_match = decisions.is_match
    must_link = (nodes_l[both & is_match], nodes_r[both & is_match])
    cannot_link = (nodes_l[both & ~is_match], nodes_r[both & ~is_match])
    threshold = ctx.settings.thresholds.cannot_link
    if threshold > 0:
        # strong evidence against (two different credit codes) keeps the two apart, whatever chains them
        apart = probability <= threshold
        apart_l = node_of_compared[candidates.pairs.left[apart]]
        apart_r = node_of_compared[candidates.pairs.right[apart]]
        ok = (apart_l >= 0) & (apart_r >= 0) & (apart_l != apart_r)
        id_l, id_r = identity[apart_l[ok]], identity[apart_r[ok]]
        ok[ok] = ~((id_l == id_r) & (id_l != 0)).any(axis=1)
        cannot_link = (
            np.r_[cannot_link[0], apart_l[ok]].astype(np.int64),
            np.r_[cannot_link[1], apart_r[ok]].astype(np.int64),
        )
    return must_link, cannot_link


def vetoed_edges(candidates: Candidates, is_edge: np.ndarray, decisions: Decisions) -> np.ndarray:
    """Per match edge: the pair was reviewed as different (such a pair is never an edge)."""
    non_match = decisions.pairs[~decisions.is_match]
    left, right = candidates.pairs.left[is_edge], candidates.pairs.right[is_edge]
    if not (len(non_match) and is_edge.any()):
        return np.zeros(len(left), dtype=bool)
    compared_index = pd.Index(candidates.compared["record_key"])
    a = compared_index.get_indexer(non_match["record_key_l"])
    b = compared_index.get_indexer(non_match["record_key_r"])
    both = (a >= 0) & (b >= 0)
    a, b = a[both], b[both]
    width = np.int64(len(candidates.compared) + 1)
    vetoed = np.minimum(a, b) * width + np.maximum(a, b)
    return np.isin(np.minimum(left, right) * width + np.maximum(left, right), vetoed)


def _node_identity_and_units(
    ctx: RunContext,
    delta: Delta,
    member_pos: np.ndarray,
    node_of_registry_row: np.ndarray,
    n_nodes: int,
    delta_identity: np.ndarray,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Each node's identity and its (node, unit) pairs: a delta record's own; a kept entity's from the
    registry rows of its members (their identity hashes and record hashes)."""
    registry = ctx.registry
    k = len(ctx.settings.identity)
    member_node = node_of_registry_row[member_pos]
    member_identity = np.zeros((len(member_pos), k), dtype=np.uint64)
    for j in range(k if len(member_pos) else 0):
        member_identity[:, j] = registry[identity_column(j)].to_numpy(dtype=np.uint64)[member_pos]
    identity = node_identity(delta_identity, member_identity, member_node, n_nodes)
    member_hash = (
        registry["record_hash"].to_numpy(dtype=np.uint64)[member_pos]
        if len(member_pos)
        else np.empty(0, np.uint64)
    )
    units = (
        np.r_[np.arange(delta.n, dtype=np.int64), member_node],
        np.r_[record_units(delta_identity, delta.hashes), record_units(member_identity, member_hash)],
    )
    return identity, units


def cluster_entities(
    ctx: RunContext, delta: Delta, candidates: Candidates, scored: ScoredPairs, decisions: Decisions
) -> Clustering:
    """Stage 6: cluster the delta records and the reached entities along the match edges, with the reviewed
    decisions as must-link / cannot-link constraints, the exclusive identities and the anti-chaining guard."""
    settings = ctx.settings
    left, right = candidates.pairs.left, candidates.pairs.right
    is_edge = scored.probability >= settings.thresholds.match
    delta_identity = identity_hashes(delta.records, settings, candidates.delta_keys)
    touched_ids = touched_entities(ctx, delta, candidates, is_edge, decisions)
    if ctx.incremental and settings.identity and len(ctx.registry):
        # the entities holding a delta record's identity value take part, whether blocking paired them or not
        holders = identity_holders(ctx.registry, delta_identity, delta.alive)
        touched_ids = touched_ids.append(pd.Index(ctx.registry_ids.iloc[holders].unique())).unique()
    member_pos, node_of_registry_row, node_size = entity_nodes(ctx, delta, touched_ids)
    identity, units = _node_identity_and_units(
        ctx, delta, member_pos, node_of_registry_row, len(node_size), delta_identity
    )
    node_of_compared = np.r_[
        node_of_registry_row[candidates.candidate_pos], np.arange(delta.n, dtype=np.int64)
    ]
    edge_pos = np.flatnonzero(is_edge)
    edge_u, edge_v = node_of_compared[left[edge_pos]], node_of_compared[right[edge_pos]]
    drop = edge_u == edge_v
    must_link, cannot_link = link_constraints(
        ctx,
        delta,
        decisions,
        node_of_registry_row,
        node_of_compared,
        candidates,
        scored.probability,
        identity,
    )
    drop |= vetoed_edges(candidates, is_edge, decisions)
    clusters = cluster(
        len(node_size),
        edge_u[~drop],
        edge_v[~drop],
        scored.weight[edge_pos[~drop]],
        max_size=settings.max_cluster_size,
        node_size=node_size,
        must_link=must_link,
        cannot_link=cannot_link,
        identity=identity,
        units=units,
    )
    pair_cut = np.zeros(len(left), dtype=np.int8)
    pair_cut[edge_pos[~drop]] = clusters.cut_reason
    # a pair whose sides hold two identities (directly or through their entities) is no match edge
    is_edge[pair_cut == CUT_DIFFERENT] = False
    return Clustering(
        is_edge, touched_ids, member_pos, node_of_registry_row, clusters, delta_identity, pair_cut
    )


def retired_ids(
    ctx: RunContext, delta: Delta, clustering: Clustering, new_ids: pd.Series, history: pd.DataFrame
) -> pd.Index:
    """Ids that took part, that no record holds any more and that did not merge elsewhere."""
    if ctx.incremental:
        taking_part = clustering.touched_ids.append(pd.Index(delta.old_id[delta.known].astype(str)))
    else:
        taking_part = pd.Index(ctx.registry_ids[delta.gone].unique())
    gone_ids = taking_part.unique().difference(pd.Index(new_ids.unique()))
    return gone_ids.difference(pd.Index(history.loc[history["reason"] == "merge", "old_id"]))


def _retired_rows(ctx: RunContext, retired: pd.Index) -> pd.DataFrame:
    """The ``retired`` id_history rows of ``retired`` ids."""
    return pd.DataFrame(
        {
            "entity_type": ctx.settings.entity_type,
            "old_id": retired.astype("string"),
            "new_id": pd.Series(pd.NA, index=range(len(retired)), dtype="string"),
            "reason": "retired",
            "records": 0,
            "run_id": ctx.run_id,
        }
    )


def assign_entity_ids(ctx: RunContext, delta: Delta, clustering: Clustering) -> IdAssignment:
    """Stage 7: stable ids for the records taking part (see :func:`matching.er.ids.assign_ids`), and the
    merges, splits and retired ids of this run."""
    registry, registry_ids = ctx.registry, ctx.registry_ids
    member_pos = clustering.member_pos
    labels = clustering.clusters.labels
    member_labels = labels[clustering.node_of_registry_row[member_pos]]
    # the keys as the records hold them (Arrow strings), not a Python string per record (issue #19)
    keys = delta.records["record_key"].reset_index(drop=True)
    if len(member_pos):
        keys = pd.concat([keys, registry["record_key"].iloc[member_pos]], ignore_index=True)
    participants = pd.DataFrame(
        {
            "record_key": keys,
            "label": np.r_[labels[: delta.n], member_labels],
            "old_id": np.r_[delta.old_id, registry_ids.iloc[member_pos].to_numpy(dtype=object)],
            "first_seen_seq": np.r_[delta.first_seen, registry["first_seen_seq"].to_numpy()[member_pos]],
            "changed": np.r_[delta.changed, np.zeros(len(member_pos), dtype=bool)],
            "record_date": pd.concat(
                [delta.records["record_date"], registry["record_date"].iloc[member_pos]], ignore_index=True
            )
            if len(member_pos)
            else delta.records["record_date"].reset_index(drop=True),
        }
    )
    issued = IssuedIds(ctx.previous.issued)
    new_ids, history = assign_ids(
        participants,
        prefix=ctx.settings.id_prefix,
        entity_type=ctx.settings.entity_type,
        issued=issued,
        run_id=ctx.run_id,
    )
    retired = retired_ids(ctx, delta, clustering, new_ids, history)
    if len(retired):
        rows = _retired_rows(ctx, retired).astype(history.dtypes.to_dict())
        history = pd.concat([history, rows], ignore_index=True)
    return IdAssignment(participants, new_ids, history, issued)


def _shares_identity(
    ctx: RunContext, clustering: Clustering, labels: np.ndarray, asked: np.ndarray
) -> np.ndarray:
    """Per participant (delta, then kept members) where ``asked``: it holds an identity value another
    participant of its entity holds too."""
    k = len(ctx.settings.identity)
    if not (k and asked.any()):
        return np.zeros(len(labels), dtype=bool)
    member_pos = clustering.member_pos
    identity = np.zeros((len(labels), k), dtype=np.uint64)
    identity[: len(clustering.delta_identity)] = clustering.delta_identity
    for j in range(k if len(member_pos) else 0):
        identity[len(clustering.delta_identity) :, j] = ctx.registry[identity_column(j)].to_numpy(
            dtype=np.uint64
        )[member_pos]
    held = np.flatnonzero((identity != 0).any(axis=1) & np.isin(labels, np.unique(labels[asked])))
    unit = record_units(identity[held], np.zeros(len(held), dtype=np.uint64))
    out = np.zeros(len(labels), dtype=bool)
    out[held] = pd.DataFrame({"label": labels[held], "unit": unit}).duplicated(keep=False).to_numpy()
    return out


def score_participants(
    ctx: RunContext,
    delta: Delta,
    candidates: Candidates,
    scored: ScoredPairs,
    clustering: Clustering,
    ids: IdAssignment,
    decisions: Decisions,
) -> ParticipantScores:
    """Stage 8: each record's score (its best match probability inside its entity) and method
    (probabilistic, must_link, id_exact: joined by an identity value alone, singleton); a reached entity's member keeps its previous score where no pair of
    this run speaks for it."""
    n_delta, n_candidates = delta.n, candidates.n_candidates
    member_pos = clustering.member_pos
    participant_of_compared = np.r_[
        np.full(n_candidates, -1, dtype=np.int64), np.arange(n_delta, dtype=np.int64)
    ]
    if n_candidates and len(member_pos):
        at = pd.Index(member_pos).get_indexer(candidates.candidate_pos)
        participant_of_compared[:n_candidates] = np.where(at >= 0, n_delta + at, -1)
    labels = ids.participants["label"].to_numpy()
    of_left = participant_of_compared[candidates.pairs.left]
    of_right = participant_of_compared[candidates.pairs.right]
    in_cluster = clustering.is_edge & (of_left >= 0) & (of_right >= 0)
    in_cluster[in_cluster] = labels[of_left[in_cluster]] == labels[of_right[in_cluster]]
    score = np.full(len(ids.participants), np.nan)
    prob = scored.probability[in_cluster]
    np.fmax.at(score, np.r_[of_left[in_cluster], of_right[in_cluster]], np.r_[prob, prob])
    was_known = np.r_[delta.known, np.ones(len(member_pos), dtype=bool)]
    old_score = np.r_[delta.old_score, ctx.registry["score"].to_numpy(dtype=np.float64)[member_pos]]
    singleton = ~ids.new_ids.duplicated(keep=False).to_numpy()
    matched = decisions.pairs[decisions.is_match]
    must_linked = pd.Index(ids.participants["record_key"]).isin(
        pd.concat([matched["record_key_l"], matched["record_key_r"]])
    )
    method = np.full(len(ids.participants), "probabilistic", dtype=object)
    no_edge = np.isnan(score)
    method[no_edge & must_linked] = "must_link"
    id_exact = no_edge & ~must_linked & ~singleton
    id_exact &= _shares_identity(ctx, clustering, labels, id_exact)
    # a delta record joined by its identity value alone; a kept member keeps an earlier id_exact
    is_delta = np.arange(len(labels)) < n_delta
    was_exact = np.r_[
        np.zeros(n_delta, dtype=bool),
        (ctx.registry["method"].iloc[member_pos] == "id_exact").to_numpy(dtype=bool),
    ]
    id_exact &= is_delta | was_exact
    method[id_exact] = "id_exact"
    method[singleton] = "singleton"
    score = np.where(singleton | (no_edge & must_linked) | (id_exact & is_delta), 1.0, score)
    # members of a reached entity keep their previous score where no pair of this run speaks for them
    score = np.where(np.isnan(score) & was_known, old_score, score)
    return ParticipantScores(participant_of_compared, of_left, of_right, labels, score, method)
