"""Explain (可解释): why two records were joined, and what an entity is made of.

``gridhub explain pair <feed:rec> <feed:rec>`` prints, for each comparison, both values, the level reached,
its m, u and weight (bits of evidence: positive for, negative against), the term-frequency adjustment, the
prior, the total and the match probability. ``gridhub explain person <id>`` prints the entity's member
records and the scored links between them. Both are computed from the mentions and the saved model, so an
explanation is the same arithmetic as the run that made the decision.
"""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.text import display_width
from matching.er.comparisons import PreparedComparisons
from matching.er.evidence import held_back_probability, requires_any_mask
from matching.er.ids import ResolutionState, StateError
from matching.er.mentions import record_hashes
from matching.er.scoring import Model
from matching.er.settings import EntitySettings
from matching.er.stages_prepare import identity_hashes, tf_hashes
from matching.er.term_frequencies import tf_adjustments
from warehouse.errors import UserError
from warehouse.privacy import mask_values, scrub_text, scrub_values


class ExplainError(UserError, KeyError):
    """The record or entity asked about is not in the mentions or the state."""


@dataclass
class PairExplanation:
    record_key_l: str
    record_key_r: str
    table: pd.DataFrame  # comparison, value_l, value_r, level, m, u, weight, tf_adjustment
    prior_weight: float
    match_weight: float
    match_probability: float
    # no identity evidence (settings.requires_any): the probability was capped below the review threshold
    held_back: bool = False
    # the two records carry different values of an exclusive identifier (settings.identity): never one entity
    identity_conflict: str | None = None


@dataclass
class EntityExplanation:
    entity_id: str
    members: pd.DataFrame  # record_key, score, method and the mention's columns
    links: pd.DataFrame
    # what a terminal shows of ``members``: the columns the comparisons read (empty: all)
    key_columns: tuple[str, ...] = ()
    # what a terminal shows of ``links``: the pair, its probability and weight, each comparison's level
    link_columns: tuple[str, ...] = ()


def _model(model_or_state: Model | ResolutionState) -> Model:
    model = model_or_state.model if isinstance(model_or_state, ResolutionState) else model_or_state
    if model is None:
        raise ExplainError("the state has no trained model yet: run a resolution first")
    return model


# ---- masking: an explanation is read on a terminal, often over a shoulder ------------------------------------
#: Columns and comparisons whose every value is a personal identifier: shown as ``440***********002X`` /
#: ``138****8000`` (warehouse.privacy.mask_values, the shared layer's rule). Every other text is scrubbed of
#: ID numbers and mobiles however they are written (warehouse.privacy.scrub_text).
PII_NAME = re.compile(r"id_number|phone|mobile|(?:^|_)tel(?:$|_)")


def _mask_one(value: str) -> str:
    return str(mask_values(pa.array([value], pa.string()))[0].as_py())


#: ``address_code=…`` in an address comparison's display: codes of the reference data, never personal (the
#: shared layer's rule, warehouse.privacy.is_code_column), though an 18-digit code looks like an ID number
_CODE_PART = re.compile(r"(\b[a-z_]+_code=[^,]*)")


def _masked_display(text: str, whole: bool) -> str:
    """A comparison's display value (``a / b`` for several columns) with identifiers masked."""
    if not whole:
        return "".join(p if k % 2 else scrub_text(p) for k, p in enumerate(_CODE_PART.split(text)))
    return " / ".join(v if v == "∅" else _mask_one(v) for v in text.split(" / "))


def _masked_frame(df: pd.DataFrame, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """``df`` with identifier columns masked and other text columns (those in ``columns``, default all but
    codes ``*_code``) scrubbed of identifiers (vectorised, Arrow)."""
    df = df.copy()
    for c in df.columns if columns is None else [c for c in columns if c in df.columns]:
        col = df[c]
        if str(c).endswith("_code") and columns is None:
            continue
        if PII_NAME.search(str(c)) and columns is None:
            arr = pa.array(col.astype("string").to_numpy(na_value=None), pa.string())
            df[c] = pd.array(mask_values(arr).to_pylist(), dtype="string")
        elif col.dtype == object or isinstance(col.dtype, pd.StringDtype):
            arr = pa.array(col.astype("string").to_numpy(na_value=None), pa.string())
            df[c] = pd.array(scrub_values(arr).to_pylist(), dtype="string")
    return df


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
    for wanted in (record_key_l, record_key_r):
        hit = np.flatnonzero((keys == wanted).fillna(False).to_numpy())
        if not len(hit):
            raise ExplainError(f"no {settings.entity_type} record {wanted!r} in the mentions")
        pos.append(int(hit[0]))
    prepared = PreparedComparisons(mentions, settings.comparisons)
    left, right = np.array([pos[0]]), np.array([pos[1]])
    levels = prepared.levels(left, right)[0]
    weights = model.weights()
    population = tf_hashes(mentions, prepared)
    identities = identity_hashes(settings, mentions) if settings.correct_u_for_duplicates else None
    side = pos[0] if identities is None or identities[pos[0]] else pos[1]  # as scoring reads it (tf_side)
    adjustments = tf_adjustments(
        {k: h[[side]] for k, h in population.items()},
        population,
        model,
        record_hashes(mentions, settings) if settings.correct_u_for_duplicates else None,
        identities,
        identities[[side]] if identities is not None else None,
    )
    rows, total = [], model.prior_weight
    for k, comp in enumerate(prepared.comparisons):
        lv = int(levels[k])
        adjustment = adjustments.get((k, lv))
        tf_adj = float(adjustment[0]) if adjustment is not None else 0.0
        w = float(weights[k][lv]) if lv >= 0 else 0.0
        total += w + tf_adj
        rows.append(
            {
                "comparison": comp.name,
                "value_l": comp.display(mentions, pos[0]),
                "value_r": comp.display(mentions, pos[1]),
                "level": comp.levels[lv] if lv >= 0 else "missing",
                "m": float(model.m[k][lv]) if lv >= 0 else np.nan,
                "u": float(model.u[k][lv]) if lv >= 0 else np.nan,
                "weight": w,
                "tf_adjustment": tf_adj,
            }
        )
    prob = float(1.0 / (1.0 + 2.0 ** (-total)))
    cap = held_back_probability(settings.thresholds)
    held = bool(
        prob > cap
        and not requires_any_mask(levels[None, :], model.comparisons, model.levels, settings.requires_any)[0]
    )
    if held:
        prob, total = cap, float(np.log2(cap / (1 - cap)))
    return PairExplanation(
        record_key_l,
        record_key_r,
        pd.DataFrame(rows),
        model.prior_weight,
        total,
        prob,
        held,
        _identity_conflict(mentions, settings, pos[0], pos[1]),
    )


def _identity_conflict(mentions: pd.DataFrame, settings: EntitySettings, a: int, b: int) -> str | None:
    """``column: left ≠ right`` for the first identity column where both records hold different values."""
    for column in settings.identity:
        if column not in mentions.columns:
            continue
        left, right = mentions[column].iloc[a], mentions[column].iloc[b]
        if pd.notna(left) and pd.notna(right) and str(left) != str(right):
            return f"{column}: {left} ≠ {right}"
    return None


def shown_pair_table(e: PairExplanation, *, reveal: bool = False) -> pd.DataFrame:
    """The comparisons of ``e`` (comparison, value_l, value_r, level, weight, tf_adjustment) as
    :func:`format_pair` shows them: ID numbers and phones masked, other text scrubbed, unless ``reveal``."""
    t = e.table[["comparison", "value_l", "value_r", "level", "weight", "tf_adjustment"]].copy()
    if not reveal:
        pii = t["comparison"].str.contains(PII_NAME).to_numpy()
        for side in ("value_l", "value_r"):
            t[side] = [_masked_display(str(v), bool(w)) for v, w in zip(t[side], pii, strict=True)]
    return t


def format_pair(e: PairExplanation, *, reveal: bool = False, columns: int | None = None) -> str:
    """The explanation as text for a terminal ``columns`` wide (default: this terminal's); ID numbers and phones
    masked unless ``reveal``. A comparison whose two values do not fit on one line puts the right one below."""
    show = (lambda text, whole: text) if reveal else _masked_display
    columns = columns or shutil.get_terminal_size((120, 24)).columns
    lines = [f"{show(e.record_key_l, False)}  ↔  {show(e.record_key_r, False)}", ""]
    t = e.table
    width = max([len(c) for c in t["comparison"]] + [10])
    lines.append(f"{'comparison':<{width}}  {'level':<16} {'weight':>8} {'tf':>6}   left | right")
    for r in t.itertuples():
        head = f"{r.comparison:<{width}}  {r.level:<16} {r.weight:>+8.2f} {r.tf_adjustment:>+6.2f}   "
        pii = bool(PII_NAME.search(r.comparison))
        left, right = show(str(r.value_l), pii), show(str(r.value_r), pii)
        if display_width(head + left + right) + 3 <= columns:
            lines.append(f"{head}{left} | {right}")
        else:
            lines += [f"{head}{left} |", " " * len(head) + right]
    lines.append(f"{'prior':<{width}}  {'':<16} {e.prior_weight:>+8.2f}")
    lines.append(
        f"{'total':<{width}}  {'':<16} {e.match_weight:>+8.2f}   match probability {e.match_probability:.4f}"
    )
    if e.held_back:
        lines.append(
            "held back: no identity evidence of requires_any agrees (for persons: ID number, name, or birth "
            "date where a name is missing); capped below the review threshold"
        )
    if e.identity_conflict:
        column, _, values = e.identity_conflict.partition(": ")
        if not reveal:
            values = " ≠ ".join(
                _masked_display(v, bool(PII_NAME.search(column))) for v in values.split(" ≠ ")
            )
        lines.append(
            f"kept apart: two different identities ({column}: {values}); clustering never puts two values "
            "of an identity column in one entity, whatever the probability"
        )
    return "\n".join(lines)


#: links: the pair, its probability and weight (then each comparison's level)
LINK_COLUMNS = ("record_key_l", "record_key_r", "match_probability", "match_weight")


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
    shown = [*LINK_COLUMNS, *(state.model.comparisons if state.model is not None else ())]
    return EntityExplanation(
        entity_id,
        members.reset_index(drop=True),
        links,
        key_columns(settings, members),
        tuple(c for c in shown if c in links.columns),
    )


def key_columns(settings: EntitySettings, members: pd.DataFrame) -> tuple[str, ...]:
    """The member columns a reader needs: the record, its score and method, then the columns the comparisons
    read, without derived ones (``*_pinyin``) and, for an address, its text rather than its codes."""
    wanted = ["record_key", "score", "method"]
    for spec in settings.comparisons:
        cols = [c for c in spec.columns if not c.endswith("_pinyin")]
        if "address_text" in spec.columns:
            cols = ["address_text"]
        wanted += cols
    return tuple(dict.fromkeys(c for c in wanted if c in members.columns))


def format_entity(e: EntityExplanation, *, reveal: bool = False, width: int | None = None) -> str:
    """The entity explanation as text for a terminal ``width`` columns wide (default: this terminal's): the key
    columns only, wrapped in blocks; ID numbers and phones masked unless ``reveal``."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    members = e.members[list(e.key_columns)] if e.key_columns else e.members
    links = e.links[list(e.link_columns)] if e.link_columns and len(e.links) else e.links
    if not reveal:
        # the links' comparison columns hold levels (``exact``), not values: only their record keys are scrubbed
        members, links = _masked_frame(members), _masked_frame(links, ("record_key_l", "record_key_r"))
    opts = ("display.unicode.east_asian_width", True, "display.max_colwidth", 30)
    with pd.option_context(*opts):
        parts = [
            f"entity {e.entity_id}: {len(e.members)} records",
            "",
            members.to_string(index=False, line_width=width),
            "",
        ]
        if len(links):
            parts += [
                "links (scored pairs inside the entity):",
                links.to_string(index=False, line_width=width),
            ]
        else:
            parts.append("no scored links kept (a singleton, or joined by a reviewer's decision)")
    return "\n".join(parts)


# ---- the CLI: gridhub explain ---------------------------------------------------------------------------
ENTITY_TYPES = ("person", "organisation", "house", "facility")
MAX_EXPLAINED_LINKS = 10  # an entity's strongest links explained comparison by comparison


class _Unknown(LookupError):
    """An id asked about is not in the current run or the committed state (message for the user)."""


def _current_run(ws: Any) -> tuple[str, Path]:
    """The run id of the published ``current`` snapshot and its ``bound`` folder (the mentions it resolved)."""
    from warehouse import current_manifest

    manifest = current_manifest(ws.warehouse)
    if manifest is None:
        raise _Unknown(f"nothing is published in {ws.warehouse}: run `gridhub run` first")
    run_id = str(manifest["run_id"])
    bound = ws.work_dir(run_id) / "bound"
    if not bound.is_dir():
        raise _Unknown(
            f"the current run {run_id} has no mentions at {bound} (work folder cleaned?): "
            f"rerun `gridhub run` to rebuild them"
        )
    return run_id, bound


def _load_type(
    ws: Any, bound: Path, entity_type: str, regions: tuple[tuple[str, ...], ...] = ()
) -> tuple[pd.DataFrame, EntitySettings, ResolutionState]:
    path = bound / f"{entity_type}.parquet"
    if not path.exists():
        raise _Unknown(f"no {entity_type} mentions at {path}")
    folder = ResolutionState.folder(ws.state, entity_type)
    if not (folder / "model.json").exists():
        raise _Unknown(f"no committed {entity_type} resolution state at {folder}: run `gridhub run` first")
    settings = EntitySettings.from_config(entity_type, ws.config.matching).with_regions(regions)
    return pd.read_parquet(path), settings, ResolutionState.load(folder, entity_type)


def _record_key(mentions: pd.DataFrame, given: str) -> str | None:
    """The mention's record_key for ``feed:rec`` — exact, or the feed and source record id of a mention
    whose key carries a suffix (人社's employer mention ``renshe_insured:100001#org``)."""
    keys = mentions["record_key"].astype("string")
    if (keys == given).fillna(False).any():
        return given
    feed, sep, rec = given.partition(":")
    if not sep:
        return None
    hit = mentions.loc[
        (
            (mentions["feed"].astype("string") == feed)
            & (mentions["source_record_id"].astype("string") == rec)
        ).fillna(False),
        "record_key",
    ]
    return str(hit.iloc[0]) if len(hit) else None


def _explain_pair_text(
    ws: Any, bound: Path, left: str, right: str, reveal: bool, regions: tuple[tuple[str, ...], ...]
) -> str:
    parts = []
    for t in ENTITY_TYPES:
        path = bound / f"{t}.parquet"
        # a type no feed carries (a district without a facility feed) has no mentions and no state
        if not path.exists() or pq.read_metadata(path).num_rows == 0:
            continue
        mentions, settings, state = _load_type(ws, bound, t, regions)
        kl, kr = _record_key(mentions, left), _record_key(mentions, right)
        if kl is None or kr is None:
            continue
        reg = state.registry.set_index("record_key")["entity_id"]
        ids = [str(reg.get(k, "∅")) for k in (kl, kr)]
        verdict = "same entity" if ids[0] == ids[1] and ids[0] != "∅" else "different entities"
        e = explain_pair(mentions, settings, state, kl, kr)
        parts.append(f"[{t}] {ids[0]} / {ids[1]}: {verdict}\n{format_pair(e, reveal=reveal)}")
    if not parts:
        raise _Unknown(
            f"no entity type has both records {left!r} and {right!r} in the current run "
            f"(give them as feed:source_record_id)"
        )
    return "\n\n".join(parts)


def _explain_entity_text(
    ws: Any, bound: Path, entity_type: str, entity_id: str, reveal: bool, regions: tuple[tuple[str, ...], ...]
) -> str:
    mentions, settings, state = _load_type(ws, bound, entity_type, regions)
    try:
        e = explain_entity(entity_id, mentions, state, settings)
    except ExplainError:
        prefix = settings.id_prefix
        hint = f" ({entity_type} ids start with {prefix!r})" if not entity_id.startswith(prefix) else ""
        raise _Unknown(f"no {entity_type} entity {entity_id!r} in the committed state{hint}") from None
    parts = [format_entity(e, reveal=reveal)]
    links = e.links.head(MAX_EXPLAINED_LINKS) if len(e.links) else e.links
    for row in links.itertuples():
        parts.append(
            format_pair(
                explain_pair(mentions, settings, state, str(row.record_key_l), str(row.record_key_r)),
                reveal=reveal,
            )
        )
    if len(e.links) > MAX_EXPLAINED_LINKS:
        parts.append(f"… {len(e.links) - MAX_EXPLAINED_LINKS} weaker links not explained")
    return "\n\n".join(parts)


def explain_command(
    ws: Any,
    what: str,
    ids: list[str],
    out: TextIO | None = None,
    err: TextIO | None = None,
    *,
    reveal: bool = False,
    regions: tuple[tuple[str, ...], ...] = (),
) -> int:
    """``gridhub explain``: ``person|organisation|house|facility <entity_id>…`` or ``pair <feed:rec> <feed:rec>``.

    Uses the mentions of the published ``current`` run (``work/<run_id>/bound/<type>.parquet``) and the
    committed state (``state/er/<type>/``). Writes the explanation to ``out`` (stdout) and problems to ``err``
    (stderr). ID numbers and phones are masked unless ``reveal`` (the caller records a reveal in the
    workspace's audit log: this library knows no users). ``regions``: the city's divisions, as the run's
    resolution had them (``EntitySettings.regions``). Returns the exit code: 0 explained, 1 an id or the run is unknown, 2 wrong arguments.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if what == "pair":
            if len(ids) != 2:
                err.write(
                    "gridhub explain pair: give two records, e.g. gongan_population:GA001 renshe_insured:100001\n"
                )
                return 2
            _, bound = _current_run(ws)
            out.write(_explain_pair_text(ws, bound, ids[0], ids[1], reveal, regions) + "\n")
            return 0
        if what not in ENTITY_TYPES:
            err.write(f"gridhub explain: {what!r} is not one of {', '.join(ENTITY_TYPES)}, pair\n")
            return 2
        if not ids:
            err.write(f"gridhub explain {what}: give an entity id\n")
            return 2
        _, bound = _current_run(ws)
        texts = [_explain_entity_text(ws, bound, what, i, reveal, regions) for i in ids]
        out.write("\n\n".join(texts) + "\n")
        return 0
    except (_Unknown, ExplainError, StateError) as e:
        msg = e.args[0] if e.args else str(e)
        err.write(f"gridhub explain: {msg}\n")
        return 1
