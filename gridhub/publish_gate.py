"""The publish gate (发布审批): a run that changes too much waits for a person before it is published.

A run is held when, against the snapshot that is current now,

- more than ``publish_gate.max_entity_change_share`` of an entity type's published entities would be merged
  into another, split or retired (this run's own rows of ``id_history``: ``work/<run_id>/resolved/``), or
- the share of rows quarantined rose by more than ``publish_gate.max_quarantine_jump`` (overall, or in one
  feed that was in the previous run too), counted over the staged files each run read (its lineage).

The first publish has nothing to compare with and is never held; neither is a run whose id is already published.
With the gate off (the default) nothing is computed. The figures are written to
``work/<run_id>/gate/figures.json``. In Airflow a held run waits at the
``approve_publish`` task (Required Actions page); ``gridhub run`` refuses to publish it unless ``--approve``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd

from warehouse.errors import UserError
from warehouse.files import atomic_write_text
from warehouse.schema import ENTITY_TYPES
from warehouse.schema_ids import ID_CHANGE_REASONS

if TYPE_CHECKING:
    from gridhub.config import PublishGate
    from gridhub.workspace import Workspace


class PublishHeld(UserError, RuntimeError):
    """``gridhub run`` stopped before publishing: the run is above the gate's thresholds (exit code 3)."""


def entity_changes(history: pd.DataFrame, published: dict[str, int]) -> pd.DataFrame:
    """Per entity type: the entities published now, the ids this run merges / splits / retires (distinct
    ``old_id``) and the share of the published entities they are."""
    h = history.reindex(columns=["entity_type", "old_id", "reason"])
    h = h[h["reason"].isin(ID_CHANGE_REASONS)]
    types = pd.Index(ENTITY_TYPES, name="entity_type")
    by_reason = h.groupby(["entity_type", "reason"])["old_id"].nunique().unstack("reason")
    out = by_reason.reindex(index=types, columns=list(ID_CHANGE_REASONS)).fillna(0).astype("int64")
    out["changed"] = h.groupby("entity_type")["old_id"].nunique().reindex(types).fillna(0).astype("int64")
    out.insert(0, "published", pd.Series(published, dtype="int64").reindex(types).fillna(0).astype("int64"))
    out["share"] = (out["changed"] / out["published"].where(out["published"] > 0)).fillna(0.0)
    return out.reset_index()


def quarantine_shares(files: pd.DataFrame) -> pd.DataFrame:
    """Rows read and quarantined, and their share, per feed and over all feeds (``feed`` = ``*``), from a
    run's lineage (one row per staged file read, as the raw manifest records it)."""
    f = files.reindex(columns=["feed", "rows_read", "rows_quarantined"])
    f = f.astype({"rows_read": "float64", "rows_quarantined": "float64"}).fillna({"feed": "?"}).fillna(0)
    per_feed = f.groupby("feed", sort=True)[["rows_read", "rows_quarantined"]].sum()
    per_feed.loc["*"] = per_feed.sum()
    per_feed["share"] = per_feed["rows_quarantined"] / per_feed["rows_read"].where(per_feed["rows_read"] > 0)
    return per_feed.fillna({"share": 0.0}).rename_axis("feed").reset_index()


def held_reasons(
    changes: pd.DataFrame, now: pd.DataFrame, before: pd.DataFrame, gate: PublishGate
) -> list[str]:
    """Why the run is held (empty: it is not), one sentence per threshold passed."""
    out = [
        f"{r.entity_type}: {r.changed} of {r.published} entities merged/split/retired ({r.share:.1%} > "
        f"{gate.max_entity_change_share:.1%})"
        for r in changes[changes["share"] > gate.max_entity_change_share].itertuples()
    ]
    q = now.merge(before, on="feed", suffixes=("", "_before"))
    q["jump"] = q["share"] - q["share_before"]
    for r in q[q["jump"] > gate.max_quarantine_jump].itertuples():
        where = "all feeds" if r.feed == "*" else f"feed {r.feed}"
        out.append(
            f"quarantine share of {where}: {r.share_before:.1%} → {r.share:.1%} (+{r.jump * 100:.1f} points > "
            f"{gate.max_quarantine_jump * 100:.1f})"
        )
    return out


def evaluate_gate(ws: Workspace, run_id: str) -> dict:
    """The gate's figures for run ``run_id`` (after :func:`gridhub.pipeline.build_tables`) and whether it is
    held; written to ``work/<run_id>/gate/figures.json``. A small JSON-able dict (an XCom in Airflow)."""
    from gridhub.pipeline import is_published, lineage, resolved_id_history
    from warehouse.read import current_manifest

    gate = ws.config.publish_gate
    previous = current_manifest(ws.warehouse)
    result: dict = {"run_id": run_id, "enabled": gate.enabled, "previous_run": None, "reasons": []}
    if gate.enabled and previous is not None and not is_published(ws, run_id):
        changes = entity_changes(resolved_id_history(ws, run_id), previous.get("row_counts", {}))
        now = quarantine_shares(pd.DataFrame(lineage(ws, run_id)["raw_files"]))
        before = quarantine_shares(pd.DataFrame(previous.get("lineage", {}).get("raw_files", [])))
        result |= {
            "previous_run": previous["run_id"],
            "entities": changes.to_dict("records"),
            "quarantine": now.merge(before, on="feed", how="left", suffixes=("", "_before")).to_dict(
                "records"
            ),
            "reasons": held_reasons(changes, now, before, gate),
        }
    result["held"] = bool(result["reasons"])
    result["text"] = describe(result)
    atomic_write_text(
        ws.step_dir(run_id, "gate") / "figures.json",
        json.dumps(result, ensure_ascii=False, indent=2, default=str),
    )
    return result


def describe(result: dict) -> str:
    """The figures as Markdown (the approval task's body in Airflow, the message of ``gridhub run``)."""
    if not result["enabled"]:
        return "发布审批未启用 / the publish gate is off (publish_gate.enabled in gridhub.yaml)"
    if result["previous_run"] is None:
        return (
            f"运行 {result['run_id']}：没有可比较的已发布快照（首次发布），或本运行已发布 / "
            "nothing published to compare with, or the run is published already"
        )
    lines = [
        f"运行 {result['run_id']} 与当前快照 {result['previous_run']} 相比 / "
        f"run {result['run_id']} against the current snapshot {result['previous_run']}:",
        "",
        "| 实体 entity | 已发布 published | 合并 merge | 拆分 split | 注销 retired | 占比 share |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {e['entity_type']} | {e['published']} | {e['merge']} | {e['split']} | {e['retired']} | "
        f"{e['share']:.1%} |"
        for e in result["entities"]
    ]
    lines += ["", "| 数据源 feed | 隔离率 quarantined (before → now) |", "|---|---:|"]
    for q in result["quarantine"]:
        before = "–" if pd.isna(q.get("share_before")) else f"{q['share_before']:.1%}"
        name = "全部 all feeds" if q["feed"] == "*" else q["feed"]
        rows = f"{int(q['rows_quarantined'])} of {int(q['rows_read'])} rows"
        lines.append(f"| {name} | {before} → {q['share']:.1%} ({rows}) |")
    reasons = result["reasons"]
    lines += ["", "超过阈值 / above the thresholds:" if reasons else "未超过阈值 / within the thresholds"]
    lines += [f"- {r}" for r in reasons]
    return "\n".join(lines)


def check_gate(ws: Workspace, run_id: str, *, approved: bool = False) -> dict:
    """``gridhub run``'s gate: raise :class:`PublishHeld` with the figures when the run is held and not
    ``approved``; otherwise return the figures (an approval is recorded in ``figures.json``)."""
    result = evaluate_gate(ws, run_id)
    if result["held"] and not approved:
        raise PublishHeld(
            f"{result['text']}\n\n运行 {run_id} 未发布，当前快照不变；确认无误后用 `gridhub run --approve` 发布 / "
            f"run {run_id} was not published and the current snapshot stays: check the figures above, then "
            "publish it with `gridhub run --approve`"
        )
    if result["held"]:
        result["approved_by"] = "gridhub run --approve"
        atomic_write_text(
            ws.step_dir(run_id, "gate") / "figures.json",
            json.dumps(result, ensure_ascii=False, indent=2, default=str),
        )
    return result
