"""The entity-resolution engine: mentions in, entities with stable ids out.

:func:`resolve` runs, for one entity type::

    mentions ─ blocking ─ comparisons ─ (training: u from random pairs, m by EM) ─ scoring
             ─ clustering (guard, must/cannot-link) ─ stable ids ─ assignments, review, id_history, state

With a previous :class:`~matching.er.ids.ResolutionState` trained under the same settings, a run is
*incremental*: only new and changed records (and members of entities a reviewer's decision splits) are
blocked and compared, against everything; existing entities take part as single nodes and the model is
reused. A full run (no state, or settings changed) re-resolves everything but still keeps ids stable through
the registry.
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching.er.blocking import block, key_columns
from matching.er.clustering import cluster
from matching.er.comparisons import PreparedComparisons
from matching.er.ids import (
    DECISION_COLUMNS,
    REGISTRY_COLUMNS,
    ResolutionState,
    assign_ids,
    empty_decisions,
    empty_history,
)
from matching.er.scoring import Model, score, train
from matching.er.settings import EntitySettings

log = logging.getLogger(__name__)

ASSIGNMENT_COLUMNS = ["record_key", "entity_id", "score", "method"]
REVIEW_COLUMNS = ["record_key_l", "record_key_r", "entity_id_l", "entity_id_r", "match_probability",
                  "match_weight", "reason", "run_id"]

_MATCH = {"match", "same", "must_link", "yes", "true", "1", "是", "同一"}
_NON_MATCH = {"non_match", "nonmatch", "different", "cannot_link", "no", "false", "0", "否", "不同"}


class MentionsError(ValueError):
    """The mentions handed to :func:`resolve` break the contract (missing or repeated record_key ...)."""


@dataclass
class Resolution:
    """What one run of :func:`resolve` produced."""

    entity_type: str
    assignments: pd.DataFrame  # record_key, entity_id, score, method
    pairs: pd.DataFrame  # scored candidate pairs kept for explain (record_key_l/_r, weight, probability, gamma_*)
    review: pd.DataFrame  # uncertain-band pairs for a person to decide
    blocking_report: pd.DataFrame  # rule → candidate pairs
    id_history: pd.DataFrame  # old_id → new_id, reason (merge / split / retired), run
    oversized: pd.DataFrame  # components the anti-chaining guard split
    state: ResolutionState
    model: Model
    stats: dict = field(default_factory=dict)


def _prepare_mentions(mentions: pd.DataFrame, settings: EntitySettings) -> pd.DataFrame:
    if "record_key" not in mentions.columns:
        raise MentionsError(f"{settings.entity_type} mentions need a record_key column ('feed:source_record_id')")
    keys = mentions["record_key"].astype("string")
    if keys.isna().any():
        raise MentionsError(f"{settings.entity_type}: {int(keys.isna().sum())} mentions have no record_key")
    dup = keys.duplicated()
    if dup.any():
        raise MentionsError(f"{settings.entity_type}: record_key repeats, e.g. {keys[dup].iloc[0]!r}; "
                            "each input record must appear once per entity type")
    # only what matching reads: a narrow copy keeps memory down on a million records
    wanted = ["record_key", "feed", "record_date", "priority", settings.source_column, *compared_columns(settings)]
    df = mentions[[c for c in dict.fromkeys(wanted) if c in mentions.columns]].copy()
    df["record_key"] = keys
    for c in df.columns:
        # dates arrive as python date objects (object dtype): parse once, every key and comparison reuses it
        if df[c].dtype == object:
            first = df[c].dropna().head(1)
            if len(first) and isinstance(first.iloc[0], (_dt.date, _dt.datetime)):
                df[c] = pd.to_datetime(df[c], errors="coerce")
    if "feed" not in df.columns:
        df["feed"] = keys.str.split(":", n=1).str[0]
    if "record_date" not in df.columns:
        df["record_date"] = pd.NaT
    if "priority" not in df.columns:
        df["priority"] = 0
    return df.sort_values("record_key", kind="stable").reset_index(drop=True)


def compared_columns(settings: EntitySettings) -> list[str]:
    """Mention columns whose change makes a record 'changed' (blocking keys and compared columns)."""
    cols: set[str] = set()
    for rule in settings.blocking:
        for e in rule.on:
            cols |= key_columns(e)
    for c in settings.comparisons:
        cols |= set(c.columns)
    return sorted(cols)


def record_hashes(df: pd.DataFrame, settings: EntitySettings) -> np.ndarray:
    """A 64-bit hash per record over the columns that matter to matching (to find changed records)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = [c for c in compared_columns(settings) if c in df.columns]
    if not cols:
        return np.zeros(len(df), dtype=np.uint64)
    parts = [pc.fill_null(pa.array(df[c].astype("string"), type=pa.large_string()), "\x00") for c in cols]
    joined = pc.binary_join_element_wise(*parts, pa.scalar("\x1f", type=pa.large_string()))
    return pd.util.hash_pandas_object(pd.Series(joined.to_numpy(zero_copy_only=False), dtype=object),
                                      index=False).to_numpy()


def normalise_decisions(decisions: pd.DataFrame | None) -> pd.DataFrame:
    """Reviewed pairs as (record_key_l ≤ record_key_r, decision ∈ {match, non_match}); later rows win."""
    if decisions is None or len(decisions) == 0:
        return empty_decisions()
    missing = set(DECISION_COLUMNS) - set(decisions.columns)
    if missing:
        raise MentionsError(f"decisions need columns {DECISION_COLUMNS}; missing {sorted(missing)}")
    d = decisions[DECISION_COLUMNS].astype("string").dropna()
    word = d["decision"].str.strip().str.lower()
    d = d.assign(decision=np.where(word.isin(_MATCH), "match", np.where(word.isin(_NON_MATCH), "non_match", None)))
    bad = d["decision"].isna()
    if bad.any():
        raise MentionsError(f"decision {decisions.loc[bad.index[bad][0], 'decision']!r} is neither match nor non_match")
    lo = d[["record_key_l", "record_key_r"]].min(axis=1)
    hi = d[["record_key_l", "record_key_r"]].max(axis=1)
    d = pd.DataFrame({"record_key_l": lo, "record_key_r": hi, "decision": d["decision"]}).astype("string")
    return d.drop_duplicates(["record_key_l", "record_key_r"], keep="last").reset_index(drop=True)


def _prefilter(df: pd.DataFrame, delta: np.ndarray, settings: EntitySettings) -> np.ndarray:
    """Records that could share a blocking key with a delta record (cheap isin on plain key columns)."""
    keep = delta.copy()
    for rule in settings.blocking:
        plain = [e for e in rule.on if "(" not in e]
        if not plain:
            # only function keys: evaluate them on everything (rare; still vectorised)
            from matching.er.blocking import evaluate_key

            mask = np.ones(len(df), dtype=bool)
            for e in rule.on:
                k = evaluate_key(df, e)
                mask &= k.isin(k[delta].dropna().unique()).to_numpy()
            keep |= mask
            continue
        mask = np.ones(len(df), dtype=bool)
        for c in plain:
            if c not in df.columns:
                mask[:] = False
                break
            s = df[c]
            vals = s[delta].dropna().unique()
            mask &= s.isin(vals).to_numpy()
        keep |= mask
    return keep


def _tf_from_full(df: pd.DataFrame, sub: pd.DataFrame, prepared: PreparedComparisons, model: Model) -> list:
    """Term-frequency adjustments per sub record, frequencies counted over all mentions."""
    out = []
    for k, comp in enumerate(prepared.comparisons):
        if not model.tf[k] or comp.exact_codes(prepared.prep[k]) is None:
            out.append(None)
            continue
        full_key = comp.tf_key(df)
        freq = full_key.value_counts(normalize=True, dropna=True)
        sub_freq = comp.tf_key(sub).map(freq).astype("float64").to_numpy()
        u_exact = model.tf_base(k)
        adj = np.where(np.isnan(sub_freq), 0.0, np.log2(u_exact) - np.log2(np.maximum(sub_freq, 1e-10)))
        out.append(adj)
    return out


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

    ``mentions``: one row per input record with ``record_key`` and the columns the settings compare.
    ``state``: the previous run's state (ids stay stable; incremental when the settings did not change).
    ``decisions``: reviewed pairs (record_key_l, record_key_r, decision = match / non_match), added to the
    ones the state remembers. ``incremental``: force (True) or forbid (False) an incremental run.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal t0
        t1 = time.perf_counter()
        timings[name] = round(t1 - t0, 4)
        t0 = t1

    etype = settings.entity_type
    df = _prepare_mentions(mentions, settings)
    n = len(df)
    keys = df["record_key"]
    prev = state if state is not None else ResolutionState(entity_type=etype)
    seq = prev.run_seq + 1
    hashes = record_hashes(df, settings)
    reg = prev.registry.set_index("record_key") if len(prev.registry) else None
    if reg is not None:
        pos = reg.index.get_indexer(keys)
        known = pos >= 0
        old_id = pd.Series(pd.NA, index=df.index, dtype="string")
        old_id[known] = reg["entity_id"].to_numpy()[pos[known]]
        old_hash = np.zeros(n, dtype=np.uint64)
        old_hash[known] = reg["record_hash"].to_numpy(dtype=np.uint64)[pos[known]]
        first_seen = np.full(n, seq, dtype=np.int64)
        first_seen[known] = reg["first_seen_seq"].to_numpy()[pos[known]]
        old_score = np.full(n, np.nan)
        old_score[known] = reg["score"].to_numpy(dtype=np.float64)[pos[known]]
        old_method = pd.Series(pd.NA, index=df.index, dtype="string")
        old_method[known] = reg["method"].to_numpy()[pos[known]]
    else:
        known = np.zeros(n, dtype=bool)
        old_id = pd.Series(pd.NA, index=df.index, dtype="string")
        old_hash = np.zeros(n, dtype=np.uint64)
        first_seen = np.full(n, seq, dtype=np.int64)
        old_score = np.full(n, np.nan)
        old_method = pd.Series(pd.NA, index=df.index, dtype="string")

    all_decisions = normalise_decisions(pd.concat([prev.decisions, normalise_decisions(decisions)], ignore_index=True))
    key_index = pd.Index(keys)
    dl = key_index.get_indexer(all_decisions["record_key_l"])
    dr = key_index.get_indexer(all_decisions["record_key_r"])
    present = (dl >= 0) & (dr >= 0)
    dec_match = (all_decisions["decision"] == "match").to_numpy() & present
    dec_non = (all_decisions["decision"] == "non_match").to_numpy() & present

    can_increment = prev.model is not None and prev.fingerprint == settings.fingerprint() and known.any()
    is_incremental = can_increment if incremental is None else (incremental and can_increment)
    if incremental and not can_increment:
        log.info("%s: incremental run asked for, but no state trained with these settings: full run", etype)
    if is_incremental:
        delta = ~known | (old_hash != hashes)
        # a cannot-link inside one existing entity re-opens that entity
        ids_np = old_id.to_numpy(dtype=object, na_value=None)
        inside = dec_non & np.array([ids_np[a] is not None and ids_np[a] == ids_np[b] if p else False
                                     for a, b, p in zip(dl, dr, present, strict=True)], dtype=bool)
        if inside.any():
            reopened = set(ids_np[dl[inside]])
            delta |= old_id.isin(reopened).fillna(False).to_numpy()
        sub_mask = _prefilter(df, delta, settings)
    else:
        delta = np.ones(n, dtype=bool)
        sub_mask = delta
    lap("prepare")

    sub_pos = np.flatnonzero(sub_mask)
    sub = df.iloc[sub_pos].reset_index(drop=True)
    source = None
    if settings.link_type == "link_only":
        if settings.source_column not in df.columns:
            raise MentionsError(f"{etype}: link_only needs a {settings.source_column!r} column")
        source = pd.factorize(sub[settings.source_column].astype("string"))[0]
    active = delta[sub_pos] if is_incremental else None
    pairs = block(sub, settings.blocking, max_block_size=settings.max_block_size, source=source, active=active)
    lap("blocking")
    prepared = PreparedComparisons(sub, settings.comparisons)
    levels = prepared.levels(pairs.left, pairs.right)
    lap("comparisons")
    if is_incremental:
        model = prev.model
        assert model is not None
    else:
        model = train(prepared, pairs, levels, settings, source)
    lap("training")
    tf = _tf_from_full(df, sub, prepared, model)
    weight, prob = score(levels, model, pairs.left, tf)
    # term frequencies are per record: use the rarer side's adjustment (the pair agrees exactly anyway)
    lap("scoring")

    # ---- clustering -------------------------------------------------------------------------------------
    full_l, full_r = sub_pos[pairs.left], sub_pos[pairs.right]
    if is_incremental:
        delta_pos = np.flatnonzero(delta)
        node_of = np.full(n, -1, dtype=np.int64)
        node_of[delta_pos] = np.arange(len(delta_pos))
        fixed = ~delta
        touched_ids = pd.concat([
            old_id.iloc[full_l[fixed[full_l]]], old_id.iloc[full_r[fixed[full_r]]],
            old_id.iloc[dl[present][fixed[dl[present]]]], old_id.iloc[dr[present][fixed[dr[present]]]],
            old_id[delta & known],
        ]).dropna().unique()
        ent_codes = pd.Index(touched_ids)
        in_ent = fixed & old_id.isin(ent_codes).fillna(False).to_numpy()
        ent_node = len(delta_pos) + ent_codes.get_indexer(old_id[in_ent])
        node_of[np.flatnonzero(in_ent)] = ent_node
        node_size = np.r_[np.ones(len(delta_pos), dtype=np.int64),
                          np.bincount(ent_node - len(delta_pos), minlength=len(ent_codes))]
        involved = delta | in_ent
    else:
        node_of = np.arange(n, dtype=np.int64)
        node_size = np.ones(n, dtype=np.int64)
        involved = np.ones(n, dtype=bool)
    n_nodes = len(node_size)
    is_edge = prob >= settings.thresholds.match
    eu, ev = node_of[full_l[is_edge]], node_of[full_r[is_edge]]
    ew = weight[is_edge]
    self_edge = eu == ev
    ml = (node_of[dl[dec_match]], node_of[dr[dec_match]])
    cl = (node_of[dl[dec_non]], node_of[dr[dec_non]])
    # a decision between two records of one untouched entity does not reach clustering
    ml = (ml[0][(ml[0] >= 0) & (ml[1] >= 0)], ml[1][(ml[0] >= 0) & (ml[1] >= 0)])
    cl = (cl[0][(cl[0] >= 0) & (cl[1] >= 0)], cl[1][(cl[0] >= 0) & (cl[1] >= 0)])
    if settings.thresholds.cannot_link > 0:
        # strong evidence against (two different credit codes) keeps the two apart, whatever chains them
        apart = prob <= settings.thresholds.cannot_link
        al, ar = node_of[full_l[apart]], node_of[full_r[apart]]
        ok = (al >= 0) & (ar >= 0) & (al != ar)
        cl = (np.r_[cl[0], al[ok]].astype(np.int64), np.r_[cl[1], ar[ok]].astype(np.int64))
    # pairs reviewed as different are never edges
    if dec_non.any() and is_edge.any():
        dec_codes = set(zip(dl[dec_non].tolist(), dr[dec_non].tolist(), strict=True))
        dec_codes |= {(b, a) for a, b in dec_codes}
        el, er = full_l[is_edge], full_r[is_edge]
        vetoed = np.array([(a, b) in dec_codes for a, b in zip(el.tolist(), er.tolist(), strict=True)], dtype=bool)
        self_edge |= vetoed
    clusters = cluster(n_nodes, eu[~self_edge], ev[~self_edge], ew[~self_edge], max_size=settings.max_cluster_size,
                       node_size=node_size, must_link=ml, cannot_link=cl)
    lap("clustering")

    # ---- ids ----------------------------------------------------------------------------------------------
    inv_pos = np.flatnonzero(involved)
    recs = pd.DataFrame({
        "record_key": keys.iloc[inv_pos].to_numpy(),
        "label": clusters.labels[node_of[inv_pos]],
        "old_id": old_id.iloc[inv_pos].to_numpy(),
        "first_seen_seq": first_seen[inv_pos],
        "record_date": df["record_date"].iloc[inv_pos].to_numpy(),
    })
    issued = set(prev.issued.astype(str).tolist()) if len(prev.issued) else set()
    issued_before = len(issued)
    new_ids, history = assign_ids(recs, prefix=settings.id_prefix, entity_type=etype, issued=issued, run_id=run_id)
    entity_id = old_id.copy()
    entity_id.iloc[inv_pos] = new_ids.to_numpy()
    # retired: ids the registry knew that no present record holds and that did not merge elsewhere
    if reg is not None:
        gone = pd.Index(reg["entity_id"].unique()).difference(pd.Index(entity_id.unique()))
        gone = gone.difference(pd.Index(history.loc[history["reason"] == "merge", "old_id"]))
        if len(gone):
            retired = pd.DataFrame({"entity_type": etype, "old_id": gone.astype("string"),
                                    "new_id": pd.Series(pd.NA, index=range(len(gone)), dtype="string"),
                                    "reason": "retired", "records": 0, "run_id": run_id})
            history = pd.concat([history, retired.astype(history.dtypes.to_dict())], ignore_index=True)
    lap("ids")

    # ---- per-record score and method ------------------------------------------------------------------------
    label_full = np.full(n, -1, dtype=np.int64)
    label_full[inv_pos] = clusters.labels[node_of[inv_pos]]
    rec_score = np.where(known & ~involved, old_score, np.nan)
    in_cluster = is_edge.copy()
    in_cluster &= label_full[full_l] == label_full[full_r]
    in_cluster &= label_full[full_l] >= 0
    best = pd.Series(np.r_[prob[in_cluster], prob[in_cluster]],
                     index=np.r_[full_l[in_cluster], full_r[in_cluster]]).groupby(level=0).max()
    rec_score[best.index.to_numpy()] = best.to_numpy()
    method = old_method.copy()
    method.iloc[inv_pos] = "probabilistic"
    sizes = pd.Series(entity_id).value_counts()
    singleton = (entity_id.map(sizes) == 1).to_numpy()
    ml_recs = np.r_[dl[dec_match], dr[dec_match]]
    ml_mask = np.zeros(n, dtype=bool)
    ml_mask[ml_recs] = True
    no_edge = np.isnan(rec_score) & involved
    method[no_edge & ml_mask] = "must_link"
    method[involved & singleton] = "singleton"
    rec_score = np.where(involved & singleton, 1.0, rec_score)
    rec_score = np.where(no_edge & ml_mask, 1.0, rec_score)
    # fixed members of an involved entity keep their previous score where they had one
    rec_score = np.where(np.isnan(rec_score) & known, old_score, rec_score)
    assignments = pd.DataFrame({"record_key": keys, "entity_id": entity_id.astype("string"),
                                "score": rec_score, "method": method.astype("string")})

    # ---- pairs, review ----------------------------------------------------------------------------------
    kp = np.flatnonzero(prob >= settings.thresholds.keep_pairs)
    gamma = {f"gamma_{c}": levels[kp, k] for k, c in enumerate(model.comparisons)}
    key_arr = keys.to_numpy(dtype=object)
    keep_pairs = pd.DataFrame({
        "record_key_l": key_arr[full_l[kp]], "record_key_r": key_arr[full_r[kp]],
        "rule": np.asarray([r.name for r in settings.blocking], dtype=object)[pairs.rule[kp]],
        "match_weight": weight[kp], "match_probability": prob[kp], **gamma,
    })
    if is_incremental and len(prev.pairs):
        # old pairs stay unless a side changed or left; removed records are few, so test only for them
        stale = pd.Index(keys[delta & known])
        removed = int(known.sum()) < len(prev.registry)
        if removed:
            stale = stale.append(pd.Index(prev.registry["record_key"]).difference(key_index))
        old_pairs = prev.pairs
        drop = old_pairs["record_key_l"].isin(stale) | old_pairs["record_key_r"].isin(stale) if len(stale) else False
        keep_pairs = pd.concat([old_pairs[~drop] if len(stale) else old_pairs, keep_pairs], ignore_index=True)
    eid = assignments["entity_id"].to_numpy()
    uncertain = (prob >= settings.thresholds.review) & (prob < settings.thresholds.match)
    cut = is_edge & (eid[full_l] != eid[full_r])
    rev_sel = uncertain | cut
    review = pd.DataFrame({
        "record_key_l": key_arr[full_l[rev_sel]], "record_key_r": key_arr[full_r[rev_sel]],
        "entity_id_l": eid[full_l[rev_sel]], "entity_id_r": eid[full_r[rev_sel]],
        "match_probability": prob[rev_sel], "match_weight": weight[rev_sel],
        "reason": np.where(cut[rev_sel], "split_by_guard", "uncertain"), "run_id": run_id,
    }, columns=REVIEW_COLUMNS)
    if len(all_decisions) and len(review):
        decided = pd.MultiIndex.from_frame(all_decisions[["record_key_l", "record_key_r"]].astype(str))
        rk = pd.MultiIndex.from_arrays([review["record_key_l"].astype(str), review["record_key_r"].astype(str)])
        review = review[~rk.isin(decided)]
    review = review.sort_values("match_probability", ascending=False).reset_index(drop=True)
    lap("outputs")

    registry = pd.DataFrame({
        "record_key": keys, "entity_id": assignments["entity_id"], "record_hash": hashes,
        "first_seen_seq": first_seen, "score": rec_score, "method": assignments["method"],
    })[REGISTRY_COLUMNS]
    issued_series = pd.concat([prev.issued.astype("string"),
                               pd.Series(sorted(set(issued) - set(prev.issued.astype(str))), dtype="string")],
                              ignore_index=True)
    new_state = ResolutionState(
        entity_type=etype, registry=registry, model=model, fingerprint=settings.fingerprint(),
        issued=issued_series, pairs=keep_pairs, decisions=all_decisions, run_seq=seq, runs=[*prev.runs, run_id],
    )
    oversized = clusters.oversized.copy()
    if len(oversized):
        first_nodes = oversized.pop("first_node").to_numpy()
        rep = np.full(len(first_nodes), -1)
        rec_of_node = pd.Series(np.arange(n)[involved], index=node_of[involved]).groupby(level=0).first()
        rep = rec_of_node.reindex(first_nodes).to_numpy()
        oversized.insert(0, "example_record_key", keys.iloc[rep.astype(np.int64)].to_numpy())
    stats = {
        "records": n, "delta_records": int(delta.sum()), "compared_records": int(len(sub)),
        "candidate_pairs": int(len(pairs)), "edges": int(is_edge.sum()), "entities": int(assignments["entity_id"].nunique()),
        "incremental": bool(is_incremental), "new_ids": len(issued) - issued_before, "timings": timings,
    }
    log.info("%s run %s: %s", etype, run_id, stats)
    return Resolution(
        entity_type=etype, assignments=assignments, pairs=keep_pairs, review=review, blocking_report=pairs.report,
        id_history=history if len(history) else empty_history(), oversized=oversized, state=new_state, model=model,
        stats=stats,
    )
