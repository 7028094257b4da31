"""Measured agreement (``gridhub evaluate``): a blind labelling sample of record pairs, and precision and
recall estimated from the labels, with confidence intervals, per entity type.

``gridhub evaluate`` draws, for the current snapshot's run, a stratified random sample of record pairs and
writes it as a labelling file (``labels.csv``, UTF-8 with BOM): each pair's two records side by side (ID
numbers and phones masked), by entity type and shuffled within each, with an empty ``label`` column — **no score, band or link is
shown**. The design (which stratum each pair was drawn from and how big the stratum is) goes beside it in
``design.parquet``. ``gridhub evaluate LABELS`` reads the filled file and prints the estimates
(:mod:`matching.er.estimate`: Wilson intervals per stratum, combined by MOVER) and writes ``agreement.json``.

The pairs of one entity type, from the run's own outputs (``work/<run_id>/``):

- every **linked** pair: two records resolved to the same entity (``resolved/<type>_assignments.parquet``),
  so the number of predicted pairs is known exactly;
- every **scored** pair the run kept (``resolved/<type>_pairs.parquet``: probability ≥ ``keep_pairs``);
- every **near** pair: two records sharing one of :data:`NEAR_KEYS` (a person's name pinyin or birth
  date...) that was neither scored nor linked — where blocking misses are (an ID typo and no birth date).
  Key values held by more than :data:`MAX_KEY_GROUP` records are left out.

Strata: the score band of a scored pair (:data:`BANDS`), or ``unscored`` / ``near``, each split into linked and
apart. Pairs in none of these (sharing no key and never compared) are taken as non-matches: recall is recall
over this population.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from gridhub.workspace import Workspace
from warehouse.errors import UserError
from warehouse.files import atomic_write_parquet, atomic_write_text
from warehouse.schema import ENTITY_TYPES

#: Bands of match probability the scored pairs are stratified by (lower bound inclusive, last upper too).
BANDS = (0.0, 0.5, 0.8, 0.95, 0.99, 1.0)
#: Per entity type, the mention columns two records may share to be a "near" pair.
NEAR_KEYS: dict[str, tuple[str, ...]] = {
    "person": ("name_pinyin", "birth_date"),
    "organisation": ("org_name", "credit_code"),
    "house": ("address_code", "address_text"),
    "facility": ("facility_name",),
}
MAX_KEY_GROUP = 200
#: What the labelling file shows of each record, per entity type (masked: ``MASKED``).
SHOWN: dict[str, tuple[str, ...]] = {
    "person": ("name", "sex", "birth_date", "id_number_given", "phone", "address_text"),
    "organisation": ("org_name", "credit_code", "legal_rep", "address_text"),
    "house": ("address_text", "house_code", "house_use", "house_area"),
    "facility": ("facility_type", "facility_name", "address_text", "lon", "lat"),
}
MASKED = {"id_number_given", "phone"}
LABELS_FILE, DESIGN_FILE, RESULT_FILE = "labels.csv", "design.parquet", "agreement.json"
EVALUATION_DIR = "evaluation"
SAME = {"same", "1", "yes", "y", "是", "相同", "同一"}
DIFFERENT = {"different", "0", "no", "n", "否", "不同", "不是"}
UNSURE = {"unsure", "not sure", "?", "不确定", "不清楚", ""}


class EvaluateError(UserError, ValueError):
    """The sample cannot be drawn or the labels cannot be read."""


def _run_dir(ws: Workspace, run_id: str | None) -> tuple[str, Path]:
    from warehouse.read import current_run_id

    run_id = run_id or current_run_id(ws.warehouse)
    if run_id is None:
        raise EvaluateError("还没有发布的数据 / nothing is published yet: run `gridhub run` first")
    folder = ws.work_dir(run_id)
    if not (folder / "resolved").is_dir():
        raise EvaluateError(
            f"运行 {run_id} 的中间结果不在 {folder} / the outputs of run {run_id} are gone from work/: "
            "run `gridhub run` again"
        )
    return run_id, folder


def _ordered(left: pd.Series, right: pd.Series) -> pd.DataFrame:
    left, right = left.astype(str).to_numpy(), right.astype(str).to_numpy()
    swap = left > right
    return pd.DataFrame({"l": np.where(swap, right, left), "r": np.where(swap, left, right)})


def _self_pairs(frame: pd.DataFrame, key: str, max_group: int | None = None) -> pd.DataFrame:
    """Every pair of ``record_key`` sharing a non-null ``key`` (groups above ``max_group`` left out)."""
    g = frame[["record_key", key]].dropna()
    g = g[g[key].astype(str) != ""]
    if max_group is not None:
        g = g[g.groupby(key)[key].transform("size") <= max_group]
    both = g.merge(g, on=key, suffixes=("_l", "_r"))
    both = both[both["record_key_l"] < both["record_key_r"]]
    return pd.DataFrame({"l": both["record_key_l"].to_numpy(), "r": both["record_key_r"].to_numpy()})


def pair_population(run_dir: Path, entity_type: str) -> pd.DataFrame:
    """Every pair of the population of ``entity_type`` (module docstring): ``l``, ``r`` (record keys),
    ``probability`` (NaN unless scored), ``linked``, ``stratum``."""
    resolved = run_dir / "resolved"
    assignments = pd.read_parquet(
        resolved / f"{entity_type}_assignments.parquet", columns=["record_key", "entity_id"]
    )
    mentions = pd.read_parquet(run_dir / "bound" / f"{entity_type}.parquet")
    scored = pd.read_parquet(
        resolved / f"{entity_type}_pairs.parquet",
        columns=["record_key_l", "record_key_r", "match_probability"],
    )
    kept = _ordered(scored["record_key_l"], scored["record_key_r"])
    kept["probability"] = scored["match_probability"].to_numpy(dtype=float)
    kept = kept.sort_values("probability", ascending=False).drop_duplicates(["l", "r"])
    linked = _self_pairs(assignments, "entity_id")
    near = [_self_pairs(mentions, k, MAX_KEY_GROUP) for k in NEAR_KEYS[entity_type] if k in mentions.columns]
    others = pd.concat([linked, *near], ignore_index=True).drop_duplicates()
    pairs = kept.merge(others, on=["l", "r"], how="outer")
    entity = assignments.set_index("record_key")["entity_id"]
    pairs["linked"] = (pairs["l"].map(entity) == pairs["r"].map(entity)).to_numpy(bool)
    band = np.clip(
        np.searchsorted(BANDS, pairs["probability"].fillna(0.0), side="right") - 1, 0, len(BANDS) - 2
    )
    names = np.array([f"p{lo:.2f}-{hi:.2f}" for lo, hi in zip(BANDS, BANDS[1:], strict=False)], dtype=object)
    unscored = np.where(pairs["linked"], "unscored", "near")
    labels = pd.Series(np.where(pairs["probability"].notna(), names[band], unscored), index=pairs.index)
    pairs["stratum"] = labels + np.where(pairs["linked"], " linked", " apart")
    return pairs.sort_values(["l", "r"]).reset_index(drop=True)


@dataclass(frozen=True)
class Sample:
    folder: Path
    run_id: str
    pairs: int
    population: dict[str, int]


def shown_records(mentions: pd.DataFrame, entity_type: str, *, reveal: bool = False) -> pd.DataFrame:
    """What a labeller sees of each record (index ``record_key``): feed, record id and :data:`SHOWN`, the
    :data:`MASKED` columns masked unless ``reveal`` (a data steward in the portal, as its review queue)."""
    from warehouse.privacy import mask_values

    cols = [c for c in SHOWN[entity_type] if c in mentions.columns]
    out = mentions.set_index("record_key")[["feed", "source_record_id", *cols]].copy()
    for c in cols:
        if c in MASKED and not reveal:
            out[c] = pd.Series(mask_values(pa.array(out[c].astype("string"))).to_pylist(), index=out.index)
        elif pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d")
    return out.rename(columns={"source_record_id": "record"})


def draw_sample(
    ws: Workspace,
    out: Path | None = None,
    *,
    per_stratum: int = 30,
    seed: int = 17,
    run_id: str | None = None,
) -> Sample:
    """Write ``out/labels.csv`` (blind) and ``out/design.parquet`` for the current (or ``run_id``'s) run;
    ``out`` defaults to ``state/evaluation/<run_id>/``."""
    if per_stratum < 1:
        raise EvaluateError("--per-stratum must be at least 1")
    run_id, run_dir = _run_dir(ws, run_id)
    out = out or ws.state / EVALUATION_DIR / run_id
    rng = np.random.default_rng(seed)
    designs, rows, population = [], [], {}
    for entity_type in ENTITY_TYPES:
        pairs = pair_population(run_dir, entity_type)
        population[entity_type] = len(pairs)
        if pairs.empty:
            continue
        sizes = pairs.groupby("stratum")["l"].transform("size")
        order = rng.permutation(len(pairs))
        rank = pd.Series(order, index=pairs.index).groupby(pairs["stratum"]).rank(method="first")
        chosen = pairs[rank <= per_stratum].assign(
            population=sizes[rank <= per_stratum], entity_type=entity_type
        )
        designs.append(chosen)
        shown = shown_records(pd.read_parquet(run_dir / "bound" / f"{entity_type}.parquet"), entity_type)
        left = shown.reindex(chosen["l"]).add_prefix("left_").reset_index(drop=True)
        right = shown.reindex(chosen["r"]).add_prefix("right_").reset_index(drop=True)
        rows.append(pd.concat([left, right], axis=1).assign(entity_type=entity_type))
    if not designs:
        raise EvaluateError(f"运行 {run_id} 没有记录对 / run {run_id} has no record pairs to label")
    design = pd.concat(designs, ignore_index=True)
    labels = pd.concat(rows, ignore_index=True)
    # one entity type after another (a labeller deals with one kind at a time), shuffled within each: the
    # order tells nothing about the stratum
    kind = design["entity_type"].map({t: i for i, t in enumerate(ENTITY_TYPES)}).to_numpy()
    shuffle = np.lexsort((rng.permutation(len(design)), kind))
    design, labels = design.iloc[shuffle].reset_index(drop=True), labels.iloc[shuffle].reset_index(drop=True)
    design["pair_id"] = labels["pair_id"] = [f"pair-{i + 1:05d}" for i in range(len(design))]
    labels["label"] = ""
    front = ["pair_id", "entity_type"]
    labels = labels[[*front, *[c for c in labels.columns if c not in (*front, "label")], "label"]]
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / LABELS_FILE, "\ufeff" + labels.to_csv(index=False, lineterminator="\r\n"))
    design = design.rename(columns={"l": "record_key_l", "r": "record_key_r"}).assign(run_id=run_id)
    atomic_write_parquet(pa.Table.from_pandas(design, preserve_index=False), out / DESIGN_FILE)
    return Sample(out, run_id, len(design), population)


def _label_values(raw: pd.Series) -> pd.Series:
    """same → True, different → False, not sure / blank → NA; anything else is an error naming the pair."""
    text = raw.fillna("").astype(str).str.strip().str.lower()
    bad = ~text.isin(SAME | DIFFERENT | UNSURE)
    if bad.any():
        raise EvaluateError(
            f"无法识别的标注 / labels not understood: {sorted(set(raw[bad].astype(str)))[:5]}; "
            "use same / different / unsure (相同 / 不同 / 不确定)"
        )
    return text.map(lambda v: True if v in SAME else (False if v in DIFFERENT else pd.NA))


def evaluate_labels(labels_file: Path, level: float = 0.95, ws: Workspace | None = None) -> dict[str, dict]:
    """Estimates per entity type from a filled labelling file and the ``design.parquet`` beside it, written
    to ``agreement.json`` beside them and, given ``ws``, also to the run's own evaluation folder
    (``state/evaluation/<run_id>/``), where the run report reads it (docs/report.md)."""
    from matching.er.estimate import estimate_agreement

    if not 0 < level < 1:
        raise EvaluateError(f"--level must be between 0 and 1, got {level}")
    design_file = labels_file.parent / DESIGN_FILE
    if not labels_file.is_file() or not design_file.is_file():
        raise EvaluateError(
            f"需要 {labels_file} 和同一目录下的 {DESIGN_FILE} / need {labels_file} and {design_file}"
        )
    labels = pd.read_csv(labels_file, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    if not {"pair_id", "label"} <= set(labels.columns):
        raise EvaluateError(f"{labels_file}: 缺少 pair_id 或 label 列 / no pair_id or label column")
    design = pd.read_parquet(design_file)
    merged = design.merge(labels[["pair_id", "label"]], on="pair_id", how="left")
    merged["same"] = _label_values(merged["label"])
    results, counts = {}, []
    for entity_type, d in merged.groupby("entity_type", sort=False):
        known = d["same"].notna()
        strata = d.assign(labelled=known, same=d["same"].fillna(False).astype(bool) & known)
        strata = strata.groupby("stratum").agg(
            linked=("linked", "first"),
            population=("population", "first"),
            labelled=("labelled", "sum"),
            same=("same", "sum"),
        )
        estimate = estimate_agreement(strata.reset_index(), str(entity_type), level)
        results[str(entity_type)] = estimate.as_dict()
        sampled = d.groupby("stratum").size().rename("sampled")
        counts += strata.join(sampled).reset_index().assign(entity_type=str(entity_type)).to_dict("records")
    run_id = str(design["run_id"].iloc[0])
    out = {"run_id": run_id, "level": level, "entity_types": results, "strata": _plain(counts)}
    text = json.dumps(out, ensure_ascii=False, indent=2)
    atomic_write_text(labels_file.parent / RESULT_FILE, text)
    if ws is not None and ws.work_dir(run_id).is_dir():  # the run is this workspace's
        target = agreement_path(ws, run_id)
        if target.parent.resolve() != labels_file.parent.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(target, text)
    return results


def _plain(rows: list[dict]) -> list[dict]:
    """Per-stratum counts as JSON values: stratum, linked, population, sampled, labelled, same, entity_type."""
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in rows]


def agreement_path(ws: Workspace, run_id: str) -> Path:
    """Where the run report looks for run ``run_id``'s estimates (the latest ``gridhub evaluate LABELS``)."""
    return ws.state / EVALUATION_DIR / run_id / RESULT_FILE


def labels_workspace(labels_file: Path, given: str | None) -> Workspace | None:
    """The workspace whose run the labels are of: ``--workspace``, else the one the file lies in
    (``<ws>/state/evaluation/<run_id>/labels.csv``), else ``$GRIDHUB_WORKSPACE``, else None (estimates only)."""
    import os

    from gridhub import env, layout

    up = labels_file.resolve().parents
    if not given and len(up) > 3 and up[1].name == EVALUATION_DIR and up[2].name == layout.STATE_DIR:
        return Workspace(up[3])
    root = given or os.environ.get(env.WORKSPACE)
    return Workspace.from_env(root) if root else None


def refresh_report(ws: Workspace, labels_file: Path) -> Path | None:
    """Write the run report again when the labels are of the current snapshot's run, so it shows the
    estimates just made; the report's path, or None (an older run's labels: its report stays as it was)."""
    from gridhub.runreport import write_run_report
    from warehouse.read import current_run_id

    run_id = str(pd.read_parquet(labels_file.parent / DESIGN_FILE, columns=["run_id"])["run_id"].iloc[0])
    if run_id != current_run_id(ws.warehouse):
        return None
    return write_run_report(ws, run_id)


def format_estimates(results: dict[str, dict]) -> str:
    """The estimates as a small table (intervals in brackets)."""
    lines = [
        "实体类型 entity  配对 predicted  已标注 labelled  精确率 precision [CI]      召回率 recall [CI]"
    ]
    for t, r in results.items():
        lines.append(
            f"{t:<15} {r['predicted_pairs']:>15} {r['labelled']:>16}  "
            f"{r['precision']:.3f} [{r['precision_low']:.3f}, {r['precision_high']:.3f}]   "
            f"{r['recall']:.3f} [{r['recall_low']:.3f}, {r['recall_high']:.3f}]"
        )
    level = next(iter(results.values()))["level"] if results else 0.95
    lines.append(
        f"置信水平 {level:.0%}：Wilson 区间（分层，MOVER 合并）/ {level:.0%} intervals: Wilson per stratum, "
        "combined by MOVER (docs/entity-resolution.md)"
    )
    return "\n".join(lines)


__all__ = [
    "BANDS",
    "NEAR_KEYS",
    "EvaluateError",
    "agreement_path",
    "shown_records",
    "Sample",
    "draw_sample",
    "evaluate_labels",
    "format_estimates",
    "labels_workspace",
    "refresh_report",
    "pair_population",
]
