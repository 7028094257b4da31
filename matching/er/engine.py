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
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching.er.blocking import block, combine_hashes, key_columns, rule_keys, value_hashes
from matching.er.clustering import cluster
from matching.er.comparisons import PreparedComparisons
from matching.er.ids import (
    DECISION_COLUMNS,
    REGISTRY_COLUMNS,
    STATE_VERSION,
    IssuedIds,
    ResolutionState,
    arrow_strings,
    assign_ids,
    empty_decisions,
    empty_history,
    record_key_hashes,
)
from matching.er.scoring import Model, score, train
from matching.er.settings import EntitySettings
from warehouse.errors import UserError

log = logging.getLogger(__name__)

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

_MATCH = {"match", "same", "must_link", "yes", "true", "1", "是", "同一"}
_NON_MATCH = {"non_match", "nonmatch", "different", "cannot_link", "no", "false", "0", "否", "不同"}


class MentionsError(UserError, ValueError):
    """The mentions handed to :func:`resolve` break the contract (missing or repeated record_key ...)."""


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


def _peak_rss_mb() -> float:
    """The process's peak resident memory so far (MB), where the platform tells it; else NaN."""
    try:
        import resource
    except ImportError:  # not on Windows
        return float("nan")
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _prepare_mentions(mentions: pd.DataFrame, settings: EntitySettings, *, sort: bool = True) -> pd.DataFrame:
    """The columns matching reads, dates parsed once, ``_rk`` (the record key's hash); sorted by record_key
    unless ``sort`` is False (an incremental run sorts only the records it resolves)."""
    if "record_key" not in mentions.columns:
        raise MentionsError(
            f"{settings.entity_type} mentions need a record_key column ('feed:source_record_id')"
        )
    keys = mentions["record_key"].astype("string")
    if keys.isna().any():
        raise MentionsError(f"{settings.entity_type}: {int(keys.isna().sum())} mentions have no record_key")
    rk = record_key_hashes(keys)
    maybe = pd.Series(rk).duplicated(keep=False).to_numpy()  # equal hashes first, then the strings (cheap)
    dup = keys[maybe].duplicated() if maybe.any() else pd.Series([], dtype=bool)
    if dup.any():
        raise MentionsError(
            f"{settings.entity_type}: record_key repeats, e.g. {keys[maybe][dup].iloc[0]!r}; "
            "each input record must appear once per entity type"
        )
    # only what matching reads: a narrow copy keeps memory down on a million records
    wanted = [
        "record_key",
        "feed",
        "record_date",
        "priority",
        settings.source_column,
        *compared_columns(settings),
    ]
    df = mentions[[c for c in dict.fromkeys(wanted) if c in mentions.columns]]
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
    df["_rk"] = rk
    return (
        df.sort_values("record_key", kind="stable").reset_index(drop=True)
        if sort
        else df.reset_index(drop=True)
    )


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
    """A 64-bit hash per record over the columns that matter to matching (to find changed records).

    Stable from run to run and across machines (SipHash with a fixed key over each distinct value, combined
    per record), so that a saved state tells which records changed since.
    """
    cols = [c for c in compared_columns(settings) if c in df.columns]
    if not cols:
        return np.zeros(len(df), dtype=np.uint64)
    # a missing value is a value here: mark it so that it does not blank the whole record's hash
    parts = [np.where(h == 0, np.uint64(0x9E3779B97F4A7C15), h) for h in (value_hashes(df[c]) for c in cols)]
    return combine_hashes(parts)


def normalise_decisions(decisions: pd.DataFrame | None) -> pd.DataFrame:
    """Reviewed pairs as (record_key_l ≤ record_key_r, decision ∈ {match, non_match}); later rows win."""
    if decisions is None or len(decisions) == 0:
        return empty_decisions()
    missing = set(DECISION_COLUMNS) - set(decisions.columns)
    if missing:
        raise MentionsError(f"decisions need columns {DECISION_COLUMNS}; missing {sorted(missing)}")
    d = decisions[DECISION_COLUMNS].astype("string").dropna()
    word = d["decision"].str.strip().str.lower()
    d = d.assign(
        decision=np.where(word.isin(_MATCH), "match", np.where(word.isin(_NON_MATCH), "non_match", None))
    )
    bad = d["decision"].isna()
    if bad.any():
        raise MentionsError(
            f"decision {decisions.loc[bad.index[bad][0], 'decision']!r} is neither match nor non_match"
        )
    lo = d[["record_key_l", "record_key_r"]].min(axis=1)
    hi = d[["record_key_l", "record_key_r"]].max(axis=1)
    d = pd.DataFrame({"record_key_l": lo, "record_key_r": hi, "decision": d["decision"]}).astype("string")
    return d.drop_duplicates(["record_key_l", "record_key_r"], keep="last").reset_index(drop=True)


def _can_increment(state: ResolutionState | None, settings: EntitySettings) -> bool:
    """Whether ``state`` can take a delta: trained with these settings, and keeping the records' matching columns."""
    return (
        state is not None
        and state.model is not None
        and state.fingerprint == settings.fingerprint()
        and state.version >= STATE_VERSION
        and len(state.registry) > 0
    )


def _key_col(i: int) -> str:
    return f"_key_{i}"


def _tf_col(k: int) -> str:
    return f"_tf_{k}"


def _tf_hashes(df: pd.DataFrame, prepared: PreparedComparisons) -> dict[int, np.ndarray]:
    """Per term-frequency comparison of ``prepared``: a 64-bit hash of each ``df`` record's value (0 = none)."""
    return {
        k: value_hashes(comp.tf_key(df))
        for k, comp in enumerate(prepared.comparisons)
        if comp.spec.tf and comp.exact_codes(prepared.prep[k]) is not None
    }


def _tf_adjustments(sub_h: dict[int, np.ndarray], population: dict[int, np.ndarray], model: Model) -> list:
    """Term-frequency adjustment (bits) per compared record: log2(u_exact) − log2(frequency of its value),
    the frequency counted over every record of the entity type (not only the ones compared)."""
    out: list[np.ndarray | None] = [None] * len(model.comparisons)
    for k, mine in sub_h.items():
        if not model.tf[k]:
            continue
        pop = population[k]
        pop = pop[pop != 0]
        wanted = (
            pop[pd.Series(pop).isin(np.unique(mine[mine != 0])).to_numpy()]
            if len(pop) > 4 * len(mine)
            else pop
        )
        counts = pd.Series(wanted).value_counts()
        freq = pd.Series(mine).map(counts).to_numpy(dtype=np.float64) / max(len(pop), 1)
        u_exact = model.tf_base(k)
        out[k] = np.where(np.isnan(freq), 0.0, np.log2(u_exact) - np.log2(np.maximum(freq, 1e-10)))
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

    ``mentions``: every current record, one row each, with ``record_key`` and the columns the settings compare;
    records the state knows and ``mentions`` no longer holds are removed. ``state``: the previous run's state
    (ids stay stable; incremental when trained with the same settings). ``decisions``: reviewed pairs
    (record_key_l, record_key_r, decision = match / non_match), added to the ones the state remembers.
    ``incremental``: force (True) or forbid (False) an incremental run.
    """
    clock = _Clock()
    prev = state if state is not None else ResolutionState(entity_type=settings.entity_type)
    df = _prepare_mentions(mentions, settings, sort=False)
    can = _can_increment(prev, settings)
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
    clock = _Clock()
    if not _can_increment(state, settings):
        raise MentionsError(
            f"{settings.entity_type}: a delta needs the state of an earlier run trained with these "
            "settings (and written by this version); run resolve() on all mentions once"
        )
    df = _prepare_mentions(changes, settings)
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


class _Clock:
    """Seconds and peak memory per stage of a run."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.peaks: dict[str, float] = {}

    def lap(self, name: str) -> None:
        t1 = time.perf_counter()
        self.timings[name] = round(self.timings.get(name, 0.0) + t1 - self.t0, 4)
        self.peaks[name] = _peak_rss_mb()
        self.t0 = t1


def _decision_nodes(
    keys: pd.Series, d_index: pd.Index, state: ResolutionState, alive: np.ndarray, rpos_node: np.ndarray
) -> np.ndarray:
    """Clustering node of each decision side: its own node if it is a delta record, its entity's node if it is
    a kept record of an entity taking part, else -1."""
    at_d = d_index.get_indexer(keys)
    node = at_d.astype(np.int64)
    rest = at_d < 0
    if rest.any() and len(state.registry):
        rp = state.locate(keys[rest])
        ok = rp >= 0
        ok[ok] = alive[rp[ok]]
        vals = np.full(len(rp), -1, dtype=np.int64)
        vals[ok] = rpos_node[rp[ok]]
        node[rest] = vals
    return node


def _is_in(s: pd.Series, values: pd.Index) -> np.ndarray:
    """``s.isin(values)`` for a long string column and a short list: Arrow hashes the short side only."""
    import pyarrow.compute as pc

    arr = arrow_strings(s)
    hit = pc.is_in(arr, value_set=arrow_strings(pd.Series(values)).cast(arr.type))
    return hit.to_numpy(zero_copy_only=False).astype(bool)


def _put(s: pd.Series, at: np.ndarray, values) -> pd.Series:
    """A copy of ``s`` with the values at positions ``at`` replaced (string columns stay Arrow strings)."""
    values = np.asarray(values, dtype=object if s.dtype == "string" else s.dtype)
    if s.dtype == "string":
        import pyarrow as pa
        import pyarrow.compute as pc

        order = np.argsort(at, kind="stable")
        mask = np.zeros(len(s), dtype=bool)
        mask[at] = True
        arr = arrow_strings(s)
        out = pc.replace_with_mask(arr, pa.array(mask), pa.array(values[order], type=arr.type))
        return pd.Series(pd.array(out, dtype="string"), index=s.index, name=s.name)
    out = s.to_numpy(copy=True)
    out[at] = values
    return pd.Series(out, index=s.index, name=s.name)


def _entity_of_sub(
    idx: np.ndarray, inv_of_sub: np.ndarray, new_ids: pd.Series, r_ids: pd.Series, cand_pos: np.ndarray
) -> np.ndarray:
    """Entity id of compared records: the new one where the record took part, else the one it kept."""
    out = np.empty(len(idx), dtype=object)
    took = inv_of_sub[idx] >= 0
    out[took] = new_ids.iloc[inv_of_sub[idx[took]]].to_numpy(dtype=object)
    out[~took] = r_ids.iloc[cand_pos[idx[~took]]].to_numpy(dtype=object)
    return out


def _reopened_members(
    prev: ResolutionState, d: pd.DataFrame, gone: np.ndarray, decisions: pd.DataFrame
) -> np.ndarray:
    """Registry rows to resolve again because a cannot-link decision falls inside their (kept) entity."""
    r_ids = prev.registry["entity_id"]
    lp, rp = prev.locate(decisions["record_key_l"]), prev.locate(decisions["record_key_r"])
    inside = (decisions["decision"] == "non_match").to_numpy() & (lp >= 0) & (rp >= 0)
    inside[inside] = ~gone[lp[inside]] & ~gone[rp[inside]]
    ids_l = r_ids.iloc[lp[inside]].to_numpy(dtype=object)
    ids_r = r_ids.iloc[rp[inside]].to_numpy(dtype=object)
    reopened = pd.unique(ids_l[ids_l == ids_r])
    if not len(reopened):
        return np.empty(0, dtype=np.int64)
    members = np.flatnonzero(~gone & r_ids.isin(reopened).to_numpy())
    members = members[~pd.Index(prev.registry["record_key"].iloc[members]).isin(d["record_key"])]
    log.info(
        "%s: %d entities re-opened by cannot-link decisions (%d records)",
        prev.entity_type,
        len(reopened),
        len(members),
    )
    return members


def _candidates(registry: pd.DataFrame, d_keys: list[np.ndarray], alive: np.ndarray) -> np.ndarray:
    """Kept registry rows sharing at least one blocking key with a delta record (uint64 look-ups, no strings)."""
    cand = np.zeros(len(registry), dtype=bool)
    for i, k in enumerate(d_keys):
        vals = np.unique(k[k != 0])
        if len(vals):
            cand |= pd.Series(registry[_key_col(i)].to_numpy(dtype=np.uint64)).isin(vals).to_numpy()
    return np.flatnonzero(cand & alive)


def _new_registry(
    registry: pd.DataFrame, added: pd.DataFrame, alive: np.ndarray, updated: np.ndarray, values: dict
) -> pd.DataFrame:
    """The registry after an incremental run: kept rows as they were (no copy of a million rows when nothing
    left), the rows at ``updated`` with their new ``values`` (entity id, score, method), ``added`` appended."""
    base = registry if alive.all() else registry[alive].reset_index(drop=True)
    at = updated if alive.all() else (np.cumsum(alive) - 1)[updated]
    if len(at):
        base = base.assign(**{c: _put(base[c], at, v) for c, v in values.items()})
    base = base.reindex(columns=added.columns)  # a column the earlier runs did not have is empty for them
    return pd.concat([base, added], ignore_index=True) if len(added) else base


def _run(
    prev: ResolutionState,
    d: pd.DataFrame,
    d_hash: np.ndarray,
    gone: np.ndarray,
    settings: EntitySettings,
    decisions: pd.DataFrame | None,
    run_id: str,
    clock: _Clock,
    *,
    incremental: bool,
) -> Resolution:
    """The one resolution path. ``d``: prepared records to resolve (all of them in a full run, the delta in an
    incremental one); ``gone``: registry rows whose record left or is in ``d`` again. Kept registry rows
    (``~gone``) take part only as candidates for ``d`` and as whole entities ("nodes") when ``d`` reaches them.
    """
    etype = settings.entity_type
    R = prev.registry
    n_reg = len(R)
    seq = prev.run_seq + 1
    r_ids = R["entity_id"] if n_reg else pd.Series([], dtype="string")
    gone = gone.copy()

    # ---- reviewed decisions ---------------------------------------------------------------------------------
    new_dec = normalise_decisions(decisions)
    all_dec = normalise_decisions(pd.concat([prev.decisions, new_dec], ignore_index=True))

    def triples(x: pd.DataFrame) -> pd.Index:
        return pd.Index(
            x["record_key_l"].astype(str)
            + "\x1f"
            + x["record_key_r"].astype(str)
            + "\x1f"
            + x["decision"].astype(str)
        )

    fresh_dec = ~triples(all_dec).isin(triples(prev.decisions)) if len(all_dec) else np.zeros(0, dtype=bool)
    if incremental and len(all_dec):
        members = _reopened_members(prev, d, gone, all_dec)
        if len(members):
            d = pd.concat([d, R.iloc[members][list(d.columns)].reset_index(drop=True)], ignore_index=True)
            d_hash = np.r_[d_hash, R["record_hash"].to_numpy(dtype=np.uint64)[members]]

    nd = len(d)
    pos = prev.locate(d["record_key"], hashes=d["_rk"].to_numpy()) if n_reg else np.full(nd, -1)
    known = pos >= 0
    kp = pos[known]
    gone[kp] = True
    alive = ~gone
    old_id = np.full(nd, None, dtype=object)
    old_id[known] = r_ids.iloc[kp].to_numpy(dtype=object)
    first_seen = np.full(nd, seq, dtype=np.int64)
    first_seen[known] = R["first_seen_seq"].to_numpy()[kp]
    changed = np.zeros(nd, dtype=bool)
    changed[known] = R["record_hash"].to_numpy(dtype=np.uint64)[kp] != d_hash[known]
    old_score = np.full(nd, np.nan)
    old_score[known] = R["score"].to_numpy(dtype=np.float64)[kp]
    clock.lap("prepare")

    # ---- candidates among the kept records, blocking ------------------------------------------------------
    d_keys = [rule_keys(d, rule) for rule in settings.blocking]
    cand_pos = (
        _candidates(R, d_keys, alive) if incremental and alive.any() and nd else np.empty(0, dtype=np.int64)
    )
    nc = len(cand_pos)
    if nc:
        sub = pd.concat(
            [R.iloc[cand_pos].reindex(columns=d.columns).reset_index(drop=True), d], ignore_index=True
        )
    else:
        sub = d
    source = None
    if settings.link_type == "link_only":
        if settings.source_column not in sub.columns:
            raise MentionsError(f"{etype}: link_only needs a {settings.source_column!r} column")
        source = pd.factorize(sub[settings.source_column].astype("string"))[0]
    active = np.r_[np.zeros(nc, dtype=bool), np.ones(nd, dtype=bool)] if nc else None
    # the kept records' key hashes are in the registry already: only the delta's were computed
    sub_keys = (
        [np.r_[R[_key_col(i)].to_numpy(dtype=np.uint64)[cand_pos], k] for i, k in enumerate(d_keys)]
        if nc
        else d_keys
    )
    pairs = block(
        sub,
        settings.blocking,
        max_block_size=settings.max_block_size,
        source=source,
        active=active,
        keys=sub_keys,
    )
    clock.lap("blocking")
    prepared = PreparedComparisons(sub, settings.comparisons)
    levels = prepared.levels(pairs.left, pairs.right)
    clock.lap("comparisons")
    if incremental:
        model = prev.model
        assert model is not None
    elif nd < 2:
        # one record (or none) is one entity (or none): nothing to learn from, nothing to compare
        model = None
    else:
        model = train(prepared, pairs, levels, settings, source)
    clock.lap("training")
    d_tf = _tf_hashes(d, prepared)
    sub_tf, population = {}, {}
    for k, h in d_tf.items():
        kept = R[_tf_col(k)].to_numpy(dtype=np.uint64) if (incremental and n_reg) else np.empty(0, np.uint64)
        sub_tf[k] = np.r_[kept[cand_pos], h] if nc else h
        population[k] = np.r_[kept[alive], h] if len(kept) else h
    if model is None:
        weight = prob = np.empty(0, dtype=np.float64)
    else:
        weight, prob = score(levels, model, pairs.left, _tf_adjustments(sub_tf, population, model))
    # only the kept pairs' levels are needed from here on: let the per-record arrays go (memory at 1 M records)
    kp_sel = np.flatnonzero(prob >= settings.thresholds.keep_pairs)
    kept_levels = levels[kp_sel]
    del levels, prepared
    clock.lap("scoring")

    # ---- clustering: delta records are nodes, every kept entity they reach is one node -------------------
    left, right = pairs.left, pairs.right
    is_edge = prob >= settings.thresholds.match
    sub_is_kept = np.r_[np.ones(nc, dtype=bool), np.zeros(nd, dtype=bool)]
    touched = [
        r_ids.iloc[cand_pos[left[is_edge & sub_is_kept[left]]]],
        r_ids.iloc[cand_pos[right[is_edge & sub_is_kept[right]]]],
    ]
    if incremental:
        touched.append(r_ids.iloc[kp])  # the entities changed records leave
        touched.append(r_ids[gone & ~np.isin(np.arange(n_reg), kp)])  # and the ones removed records leave
        if len(all_dec):
            reach = (
                fresh_dec
                | pd.Index(all_dec["record_key_l"]).isin(d["record_key"])
                | pd.Index(all_dec["record_key_r"]).isin(d["record_key"])
            )
            for side in ("record_key_l", "record_key_r"):
                p = prev.locate(all_dec.loc[reach, side])
                p = p[p >= 0]
                touched.append(r_ids.iloc[p[alive[p]]])
    touched_ids = (
        pd.Index(pd.concat(touched, ignore_index=True).dropna().unique()) if touched else pd.Index([])
    )
    rpos_node = np.full(n_reg, -1, dtype=np.int64)
    ent_pos = np.empty(0, dtype=np.int64)
    ent_codes = pd.Index([], dtype="string")
    if incremental and len(touched_ids) and alive.any():
        ent_pos = np.flatnonzero(alive & _is_in(r_ids, touched_ids))
        ent_ids = r_ids.iloc[ent_pos]
        ent_codes = pd.Index(ent_ids.unique())
        rpos_node[ent_pos] = nd + ent_codes.get_indexer(ent_ids)
    node_size = np.r_[
        np.ones(nd, dtype=np.int64),
        np.bincount(rpos_node[ent_pos] - nd, minlength=len(ent_codes)).astype(np.int64),
    ]
    node_of_sub = np.r_[rpos_node[cand_pos], np.arange(nd, dtype=np.int64)]
    eu, ev = node_of_sub[left[is_edge]], node_of_sub[right[is_edge]]
    ew = weight[is_edge]
    drop_edge = eu == ev
    d_index = pd.Index(d["record_key"])
    dn_l = _decision_nodes(all_dec["record_key_l"], d_index, prev, alive, rpos_node)
    dn_r = _decision_nodes(all_dec["record_key_r"], d_index, prev, alive, rpos_node)
    both = (dn_l >= 0) & (dn_r >= 0)
    is_match = (all_dec["decision"] == "match").to_numpy()
    ml = (dn_l[both & is_match], dn_r[both & is_match])
    cl = (dn_l[both & ~is_match], dn_r[both & ~is_match])
    if settings.thresholds.cannot_link > 0:
        # strong evidence against (two different credit codes) keeps the two apart, whatever chains them
        apart = prob <= settings.thresholds.cannot_link
        al, ar = node_of_sub[left[apart]], node_of_sub[right[apart]]
        ok = (al >= 0) & (ar >= 0) & (al != ar)
        cl = (np.r_[cl[0], al[ok]].astype(np.int64), np.r_[cl[1], ar[ok]].astype(np.int64))
    non = all_dec[~is_match]
    if len(non) and is_edge.any():
        # pairs reviewed as different are never edges
        sub_index = pd.Index(sub["record_key"])
        a, b = sub_index.get_indexer(non["record_key_l"]), sub_index.get_indexer(non["record_key_r"])
        a, b = a[(a >= 0) & (b >= 0)], b[(a >= 0) & (b >= 0)]
        width = np.int64(len(sub) + 1)
        vetoed = np.r_[np.minimum(a, b) * width + np.maximum(a, b)]
        el, er = left[is_edge], right[is_edge]
        drop_edge |= np.isin(np.minimum(el, er) * width + np.maximum(el, er), vetoed)
    clusters = cluster(
        len(node_size),
        eu[~drop_edge],
        ev[~drop_edge],
        ew[~drop_edge],
        max_size=settings.max_cluster_size,
        node_size=node_size,
        must_link=ml,
        cannot_link=cl,
    )
    clock.lap("clustering")

    # ---- ids for the records taking part: the delta and every member of a reached entity -----------------
    ent_label = clusters.labels[rpos_node[ent_pos]]
    inv = pd.DataFrame(
        {
            "record_key": np.r_[
                d["record_key"].to_numpy(dtype=object), R["record_key"].iloc[ent_pos].to_numpy(dtype=object)
            ],
            "label": np.r_[clusters.labels[:nd], ent_label],
            "old_id": np.r_[old_id, r_ids.iloc[ent_pos].to_numpy(dtype=object)],
            "first_seen_seq": np.r_[first_seen, R["first_seen_seq"].to_numpy()[ent_pos]],
            "changed": np.r_[changed, np.zeros(len(ent_pos), dtype=bool)],
            "record_date": pd.concat([d["record_date"], R["record_date"].iloc[ent_pos]], ignore_index=True)
            if len(ent_pos)
            else d["record_date"].reset_index(drop=True),
        }
    )
    issued = IssuedIds(prev.issued)
    new_ids, history = assign_ids(
        inv, prefix=settings.id_prefix, entity_type=etype, issued=issued, run_id=run_id
    )
    # retired: ids that took part, that no record holds any more and that did not merge elsewhere
    gone_ids = (
        touched_ids.append(pd.Index(old_id[known].astype(str)))
        if incremental
        else pd.Index(r_ids[gone].unique())
    )
    gone_ids = gone_ids.unique().difference(pd.Index(new_ids.unique()))
    gone_ids = gone_ids.difference(pd.Index(history.loc[history["reason"] == "merge", "old_id"]))
    if len(gone_ids):
        retired = pd.DataFrame(
            {
                "entity_type": etype,
                "old_id": gone_ids.astype("string"),
                "new_id": pd.Series(pd.NA, index=range(len(gone_ids)), dtype="string"),
                "reason": "retired",
                "records": 0,
                "run_id": run_id,
            }
        )
        history = pd.concat([history, retired.astype(history.dtypes.to_dict())], ignore_index=True)
    clock.lap("ids")

    # ---- per-record score and method of the records taking part ------------------------------------------
    n_inv = len(inv)
    inv_of_sub = np.r_[np.full(nc, -1, dtype=np.int64), np.arange(nd, dtype=np.int64)]
    if nc and len(ent_pos):
        at = pd.Index(ent_pos).get_indexer(cand_pos)
        inv_of_sub[:nc] = np.where(at >= 0, nd + at, -1)
    lab_inv = inv["label"].to_numpy()
    il, ir = inv_of_sub[left], inv_of_sub[right]
    in_cluster = is_edge & (il >= 0) & (ir >= 0)
    in_cluster[in_cluster] = lab_inv[il[in_cluster]] == lab_inv[ir[in_cluster]]
    rec_score = np.full(n_inv, np.nan)
    np.fmax.at(rec_score, np.r_[il[in_cluster], ir[in_cluster]], np.r_[prob[in_cluster], prob[in_cluster]])
    inv_known = np.r_[known, np.ones(len(ent_pos), dtype=bool)]
    inv_old_score = np.r_[old_score, R["score"].to_numpy(dtype=np.float64)[ent_pos]]
    sizes = new_ids.value_counts()
    singleton = (new_ids.map(sizes) == 1).to_numpy()
    ml_mask = pd.Index(inv["record_key"]).isin(
        pd.concat([all_dec.loc[is_match, "record_key_l"], all_dec.loc[is_match, "record_key_r"]])
    )
    method = np.full(n_inv, "probabilistic", dtype=object)
    no_edge = np.isnan(rec_score)
    method[no_edge & ml_mask] = "must_link"
    method[singleton] = "singleton"
    rec_score = np.where(singleton | (no_edge & ml_mask), 1.0, rec_score)
    # members of a reached entity keep their previous score where no pair of this run speaks for them
    rec_score = np.where(np.isnan(rec_score) & inv_known, inv_old_score, rec_score)

    # ---- the new registry: kept rows as they were, the records that took part updated, the delta added --
    d_part = d.assign(
        record_hash=d_hash,
        first_seen_seq=first_seen,
        entity_id=new_ids.iloc[:nd].reset_index(drop=True),
        score=rec_score[:nd],
        method=method[:nd],
        **{_key_col(i): k for i, k in enumerate(d_keys)},
        **{_tf_col(k): h for k, h in d_tf.items()},
    )
    columns = [
        *REGISTRY_COLUMNS,
        *[c for c in d.columns if c not in (*REGISTRY_COLUMNS, "_rk")],
        "_rk",
        *[_key_col(i) for i in range(len(d_keys))],
        *[_tf_col(k) for k in d_tf],
    ]
    if incremental:
        registry = _new_registry(
            R,
            d_part[columns],
            alive,
            ent_pos,
            {"entity_id": new_ids.iloc[nd:], "score": rec_score[nd:], "method": method[nd:]},
        )
    else:
        registry = d_part[columns]
    for c in ("record_key", "entity_id", "method"):
        if registry[c].dtype != "string":
            registry[c] = registry[c].astype("string")
    assignments = registry[["record_key", "entity_id", "score", "method"]]

    # ---- pairs kept for explain and the review queue --------------------------------------------------------
    sub_record_keys = sub["record_key"].reset_index(drop=True)

    def keys_at(idx: np.ndarray) -> pd.Series:
        return sub_record_keys.iloc[idx].reset_index(drop=True)

    keep_pairs = pd.DataFrame(
        {
            "record_key_l": keys_at(left[kp_sel]),
            "record_key_r": keys_at(right[kp_sel]),
            "rule": np.asarray([r.name for r in settings.blocking], dtype=object)[pairs.rule[kp_sel]],
            "match_weight": weight[kp_sel],
            "match_probability": prob[kp_sel],
            **{f"gamma_{c.name}": kept_levels[:, k] for k, c in enumerate(settings.comparisons)},
        }
    )
    if incremental and len(prev.pairs):
        # old pairs stay unless a side changed or left
        stale = pd.Index(R["record_key"][gone])
        old_pairs = prev.pairs
        if len(stale):
            old_pairs = old_pairs[
                ~(old_pairs["record_key_l"].isin(stale) | old_pairs["record_key_r"].isin(stale))
            ]
        keep_pairs = pd.concat([old_pairs, keep_pairs], ignore_index=True)
    # an edge whose two records ended in different entities was cut by the guard or a cannot-link; both sides
    # of an edge always take part, so their cluster labels tell
    uncertain = (prob >= settings.thresholds.review) & (prob < settings.thresholds.match)
    cut = is_edge.copy()
    cut[is_edge] = lab_inv[il[is_edge]] != lab_inv[ir[is_edge]]
    rev = np.flatnonzero(uncertain | cut)
    rl, rr = left[rev], right[rev]
    review = pd.DataFrame(
        {
            "record_key_l": keys_at(rl),
            "record_key_r": keys_at(rr),
            "entity_id_l": _entity_of_sub(rl, inv_of_sub, new_ids, r_ids, cand_pos),
            "entity_id_r": _entity_of_sub(rr, inv_of_sub, new_ids, r_ids, cand_pos),
            "match_probability": prob[rev],
            "match_weight": weight[rev],
            "reason": np.where(cut[rev], "split_by_guard", "uncertain"),
            "run_id": run_id,
        },
        columns=REVIEW_COLUMNS,
    )
    if len(all_dec) and len(review):
        decided = pd.MultiIndex.from_frame(all_dec[["record_key_l", "record_key_r"]].astype(str))
        rk = pd.MultiIndex.from_arrays(
            [review["record_key_l"].astype(str), review["record_key_r"].astype(str)]
        )
        review = review[~rk.isin(decided)]
    review = review.sort_values("match_probability", ascending=False).reset_index(drop=True)
    oversized = clusters.oversized.copy()
    if len(oversized):
        first_nodes = oversized.pop("first_node").to_numpy()
        node_key = (
            pd.Series(inv["record_key"].to_numpy(), index=np.r_[np.arange(nd), rpos_node[ent_pos]])
            .groupby(level=0)
            .first()
        )
        oversized.insert(0, "example_record_key", node_key.reindex(first_nodes).to_numpy())
    clock.lap("outputs")

    issued_series = pd.concat(
        [prev.issued.astype("string"), pd.Series(sorted(issued.added), dtype="string")], ignore_index=True
    )
    # entities: in an incremental run, the ones nobody touched plus the ones the records taking part now hold
    entities = int(new_ids.nunique()) + (
        prev.entities - len(touched_ids) if incremental and prev.entities >= 0 else 0
    )
    if incremental and prev.entities < 0:
        entities = int(registry["entity_id"].nunique())
    new_state = ResolutionState(
        entity_type=etype,
        registry=registry,
        model=model,
        fingerprint=settings.fingerprint(),
        issued=issued_series,
        pairs=keep_pairs,
        decisions=all_dec,
        run_seq=seq,
        runs=[*prev.runs, run_id],
        entities=entities,
    )
    stats = {
        "records": len(registry),
        "delta_records": nd,
        "compared_records": len(sub),
        "candidate_pairs": int(len(pairs)),
        "edges": int(is_edge.sum()),
        "entities": entities,
        "incremental": incremental,
        "new_ids": len(issued.added),
        "timings": clock.timings,
        "peak_rss_mb": clock.peaks,
    }
    log.info("%s run %s: %s", etype, run_id, {k: v for k, v in stats.items() if k != "peak_rss_mb"})
    return Resolution(
        entity_type=etype,
        assignments=assignments,
        pairs=keep_pairs,
        review=review,
        blocking_report=pairs.report,
        id_history=history if len(history) else empty_history(),
        oversized=oversized,
        state=new_state,
        model=model,
        stats=stats,
    )
