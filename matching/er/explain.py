"""Explain (可解释): why two records were joined, and what an entity is made of.

``gridhub explain pair <feed:rec> <feed:rec>`` prints, for each comparison, both values, the level reached,
its m, u and weight (bits of evidence: positive for, negative against), the term-frequency adjustment, the
prior, the total and the match probability. ``gridhub explain person <id>`` prints the entity's member
records and the scored links between them. Both are computed from the mentions and the saved model, so an
explanation is the same arithmetic as the run that made the decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.er.comparisons import PreparedComparisons
from matching.er.ids import ResolutionState
from matching.er.scoring import Model
from matching.er.settings import EntitySettings


class ExplainError(KeyError):
    """The record or entity asked about is not in the mentions or the state."""


@dataclass
class PairExplanation:
    record_key_l: str
    record_key_r: str
    table: pd.DataFrame  # comparison, value_l, value_r, level, m, u, weight, tf_adjustment
    prior_weight: float
    match_weight: float
    match_probability: float


@dataclass
class EntityExplanation:
    entity_id: str
    members: pd.DataFrame
    links: pd.DataFrame


def _model(model_or_state: Model | ResolutionState) -> Model:
    model = model_or_state.model if isinstance(model_or_state, ResolutionState) else model_or_state
    if model is None:
        raise ExplainError("the state has no trained model yet: run a resolution first")
    return model


def explain_pair(
    mentions: pd.DataFrame,
    settings: EntitySettings,
    model_or_state: Model | ResolutionState,
    record_key_l: str,
    record_key_r: str,
) -> PairExplanation:
    """Each comparison's level and weight for two records (any two, candidate pair or not)."""
    model = _model(model_or_state)
    keys = mentions["record_key"].astype("string")
    pos = []
    for k in (record_key_l, record_key_r):
        hit = np.flatnonzero((keys == k).fillna(False).to_numpy())
        if not len(hit):
            raise ExplainError(f"no {settings.entity_type} record {k!r} in the mentions")
        pos.append(int(hit[0]))
    prepared = PreparedComparisons(mentions, settings.comparisons)
    left, right = np.array([pos[0]]), np.array([pos[1]])
    levels = prepared.levels(left, right)[0]
    weights = model.weights()
    rows, total = [], model.prior_weight
    for k, comp in enumerate(prepared.comparisons):
        lv = int(levels[k])
        tf_adj = 0.0
        if lv >= 0 and lv == 0 and model.tf[k]:
            key = comp.tf_key(mentions)
            freq = key.value_counts(normalize=True)
            v = key.iloc[pos[0]]
            if pd.notna(v) and v in freq.index:
                tf_adj = float(np.log2(max(model.u[k][0], 1e-10)) - np.log2(max(freq[v], 1e-10)))
        w = float(weights[k][lv]) if lv >= 0 else 0.0
        total += w + tf_adj
        rows.append({
            "comparison": comp.name,
            "value_l": comp.display(mentions, pos[0]),
            "value_r": comp.display(mentions, pos[1]),
            "level": comp.levels[lv] if lv >= 0 else "missing",
            "m": float(model.m[k][lv]) if lv >= 0 else np.nan,
            "u": float(model.u[k][lv]) if lv >= 0 else np.nan,
            "weight": w,
            "tf_adjustment": tf_adj,
        })
    prob = float(1.0 / (1.0 + 2.0 ** (-total)))
    return PairExplanation(record_key_l, record_key_r, pd.DataFrame(rows), model.prior_weight, total, prob)


def format_pair(e: PairExplanation) -> str:
    """The explanation as text for a terminal."""
    lines = [f"{e.record_key_l}  ↔  {e.record_key_r}", ""]
    t = e.table
    width = max([len(c) for c in t["comparison"]] + [10])
    lines.append(f"{'comparison':<{width}}  {'level':<16} {'weight':>8} {'tf':>6}   left | right")
    for r in t.itertuples():
        lines.append(f"{r.comparison:<{width}}  {r.level:<16} {r.weight:>+8.2f} {r.tf_adjustment:>+6.2f}   "
                     f"{r.value_l} | {r.value_r}")
    lines.append(f"{'prior':<{width}}  {'':<16} {e.prior_weight:>+8.2f}")
    lines.append(f"{'total':<{width}}  {'':<16} {e.match_weight:>+8.2f}   match probability {e.match_probability:.4f}")
    return "\n".join(lines)


def explain_entity(
    entity_id: str,
    mentions: pd.DataFrame,
    state: ResolutionState,
    settings: EntitySettings,
) -> EntityExplanation:
    """An entity's member records (with score and method) and the scored links among them."""
    reg = state.registry
    members = reg[reg["entity_id"] == entity_id]
    if members.empty:
        raise ExplainError(f"no {settings.entity_type} entity {entity_id!r} in the state")
    show = [c for c in mentions.columns if c not in ("raw_sha256", "line", "true_id")]
    members = members[["record_key", "score", "method"]].merge(mentions[show], on="record_key", how="left")
    keys = set(members["record_key"].astype(str))
    p = state.pairs
    if len(p):
        links = p[p["record_key_l"].isin(keys) & p["record_key_r"].isin(keys)].copy()
        model = state.model
        if model is not None:
            for k, name in enumerate(model.comparisons):
                col = f"gamma_{name}"
                if col in links.columns:
                    labels = np.array([*model.levels[k], "missing"], dtype=object)
                    links[name] = labels[links[col].to_numpy().astype(np.int64)]
                    links = links.drop(columns=col)
        links = links.sort_values("match_probability", ascending=False).reset_index(drop=True)
    else:
        links = pd.DataFrame()
    return EntityExplanation(entity_id, members.reset_index(drop=True), links)


def format_entity(e: EntityExplanation) -> str:
    """The entity explanation as text for a terminal."""
    with pd.option_context("display.width", 160, "display.max_columns", 30, "display.max_colwidth", 40):
        parts = [f"entity {e.entity_id}: {len(e.members)} records", "", e.members.to_string(index=False), ""]
        if len(e.links):
            parts += ["links (scored pairs inside the entity):", e.links.to_string(index=False)]
        else:
            parts.append("no scored links kept (a singleton, or joined by a reviewer's decision)")
    return "\n".join(parts)
