"""The review queue (复核队列): the open cases of the published run in one reviewer's scope, oldest first.

Two kinds of case, both from the run the current snapshot was made by (``work/<run_id>/``):

- **pair**: two records in the uncertain band (``resolved/<type>_review.parquet``), shown side by side with
  each comparison's level and weight (:func:`matching.er.explain.explain_pair`, masked as the reviewer's role
  allows, :func:`pair_detail`). Answers: same / different / not sure.
- **address**: an address text that did not bind (ambiguous or unmatched, ``bound/address_bindings.parquet``,
  what the warehouse's ``address_review`` holds), one case per distinct text (its canonical form), with its
  candidates. Answers: one of the candidates / not in the library / not sure.

A case is in a reviewer's scope (:class:`gridhub.config.PortalReviewer`) when one of its records lies in the
scope's grid (or a grid under it: micro-grids under a basic grid), community or street, or comes from one of
the department's feeds; an address case lies in the grids of its candidates. "Oldest first": by the date of
the record that raised the case (the later record of a pair, the earliest record of an address text).

A case someone answered (same / different, or a standard address / not in the library) leaves the queue at
once. A decision that did not hold is shown as a **conflict** (:func:`conflicts`), never dropped: two answers
on one case that disagree, a pair decision the published run did not follow (e.g. "same" for two records with
two valid different ID numbers, which clustering keeps apart), an alias to a building the library lost.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from gridhub.review_store import read_csv
from gridhub.workspace import Workspace
from warehouse.schema import ENTITY_TYPES

PROBLEM_STATUSES = ("ambiguous", "unmatched")
_MENTION_COLUMNS = ["record_key", "feed", "source_record_id", "record_date", "grid_code"]


class NoPublishedRun(LookupError):
    """Nothing is published, or the published run's work folder is gone: no queue to show."""


@dataclass
class Case:
    """One open case (or a conflict) as the queue lists it."""

    case_id: str
    kind: str  # "pair" | "address"
    since: str  # the date of the record that raised it (YYYY-MM-DD, "" unknown)
    title: str
    entity_type: str = ""
    record_key_l: str = ""
    record_key_r: str = ""
    probability: float | None = None
    address_text: str = ""
    records: int = 0
    candidates: list[dict] = field(default_factory=list)
    not_sure: int = 0
    conflict: str = ""
    history: list[dict] = field(default_factory=list)


def case_id(kind: str, *parts: str) -> str:
    return kind[0] + "-" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def published_run(ws: Workspace) -> str:
    """The run id of the current snapshot, whose work folder the queue reads."""
    from warehouse.read import current_run_id

    run_id = current_run_id(ws.warehouse)
    if run_id is None or not (ws.work_dir(run_id) / "resolved").is_dir():
        raise NoPublishedRun(run_id or "")
    return run_id


@functools.lru_cache(maxsize=2)
def _run_frames(root: Path, run_id: str) -> dict[str, pd.DataFrame]:
    """What the queue reads of one published run (cached: a run's outputs never change)."""
    ws = Workspace(root)
    work = ws.work_dir(run_id)
    out: dict[str, pd.DataFrame] = {}
    for t in ENTITY_TYPES:
        m = pd.read_parquet(work / "bound" / f"{t}.parquet")
        out[f"{t}_mentions"] = m[[c for c in _MENTION_COLUMNS if c in m.columns]].astype("string")
        out[f"{t}_review"] = pd.read_parquet(work / "resolved" / f"{t}_review.parquet")
        out[f"{t}_assignments"] = pd.read_parquet(
            work / "resolved" / f"{t}_assignments.parquet", columns=["record_key", "entity_id"]
        )
    b = pd.read_parquet(work / "bound" / "address_bindings.parquet")
    out["bindings"] = b
    return out


# ---- scope -------------------------------------------------------------------------------------------------
def _grid_scopes(ws: Workspace) -> pd.DataFrame:
    """grid_code → the grid itself and every grid above it, with its community and street codes."""
    from gridhub.reference import grid_frame

    g = grid_frame(ws)[["grid_code", "parent_grid_code", "community_code", "street_code"]].astype("string")
    parent = g.set_index("grid_code")["parent_grid_code"]
    rows, level = [], g[["grid_code"]].assign(up=g["grid_code"])
    for _ in range(8):  # grid hierarchies are a few levels deep
        rows.append(level)
        level = level.assign(up=level["up"].map(parent)).dropna(subset=["up"])
        level = level[level["up"] != ""]
        if level.empty:
            break
    ups = pd.concat(rows, ignore_index=True)
    return ups.merge(g[["grid_code", "community_code", "street_code"]], on="grid_code", how="left")


def scope_exists(ws: Workspace, scope: tuple[str, str]) -> bool:
    """The scope's code is in the workspace's grids (its grid, community or street), or its department has a
    feed (the config already checks that): a reviewer scoped to a code nobody uses sees an empty queue."""
    from gridhub.reference import grid_frame

    kind, value = scope
    if kind == "department":
        return any(f.department == value for f in ws.config.feeds)
    column = "grid_code" if kind == "grid" else f"{kind}_code"
    return bool((grid_frame(ws)[column] == value).any())


def _in_scope(ws: Workspace, scope: tuple[str, str], cases: pd.DataFrame) -> set[str]:
    """The case ids of ``cases`` (columns case_id, grid_code, feed; one row per record) in ``scope``."""
    kind, value = scope
    if kind == "department":
        feeds = {f.name for f in ws.config.feeds if f.department == value}
        return set(cases.loc[cases["feed"].isin(feeds).fillna(False), "case_id"])
    grids = _grid_scopes(ws)
    if kind == "grid":
        inside = set(grids.loc[grids["up"] == value, "grid_code"])
    else:
        inside = set(grids.loc[grids[f"{kind}_code"] == value, "grid_code"])
    return set(cases.loc[cases["grid_code"].isin(inside).fillna(False), "case_id"])


# ---- the cases -----------------------------------------------------------------------------------------------
def where_pair(frames: dict[str, pd.DataFrame], entity_type: str, cid: str, keys: list[str]) -> pd.DataFrame:
    """(grid_code, feed, case_id) of each of the pair's records that the run has."""
    m = frames[f"{entity_type}_mentions"].set_index("record_key")
    return m.reindex(keys)[["grid_code", "feed"]].assign(case_id=cid)


def _pair_cases(frames: dict[str, pd.DataFrame]) -> tuple[list[Case], pd.DataFrame]:
    """Every uncertain pair of the run as a case, and (case_id, grid_code, feed) per record of each."""
    cases, located = [], []
    for t in ENTITY_TYPES:
        review = frames[f"{t}_review"]
        if review.empty:
            continue
        m = frames[f"{t}_mentions"].set_index("record_key")
        left, right = review["record_key_l"].astype(str), review["record_key_r"].astype(str)
        ids = [case_id("pair", t, a, b) for a, b in zip(left, right, strict=True)]
        dates = pd.DataFrame(
            {
                side: m["record_date"].reindex(keys).str[:10].to_numpy()
                for side, keys in (("l", left), ("r", right))
            }
        )
        since = dates.max(axis=1).fillna("")
        cases += [
            Case(cid, "pair", since=str(d), title=f"{t}: {a} ↔ {b}", entity_type=t, record_key_l=a,
                 record_key_r=b, probability=float(p))
            for cid, d, a, b, p in zip(ids, since, left, right, review["match_probability"], strict=True)
        ]  # fmt: skip
        for keys in (left, right):
            located.append(m.reindex(keys)[["grid_code", "feed"]].assign(case_id=ids))
    where = pd.concat(located) if located else pd.DataFrame(columns=["grid_code", "feed", "case_id"])
    return cases, where


def _address_cases(frames: dict[str, pd.DataFrame]) -> tuple[list[Case], pd.DataFrame]:
    """One case per canonical text of the run's unbound address fields, and where each lies."""
    from matching.address import canonical_address_text

    b = frames["bindings"]
    b = b[b["status"].isin(PROBLEM_STATUSES)].copy()
    if b.empty:
        return [], pd.DataFrame(columns=["grid_code", "feed", "case_id"])
    b["canonical"] = canonical_address_text(b["address_text"].astype("string")).to_numpy()
    dates = pd.concat([frames[f"{t}_mentions"] for t in ENTITY_TYPES])[
        ["feed", "source_record_id", "record_date"]
    ]
    b = b.merge(
        dates.drop_duplicates(["feed", "source_record_id"]), on=["feed", "source_record_id"], how="left"
    )
    cases, located = [], []
    for canonical, g in b.groupby("canonical", sort=True):
        cid = case_id("address", str(canonical))
        candidates: dict[str, dict] = {}
        for text in g["candidates"].dropna().unique():
            for c in json.loads(text):
                candidates.setdefault(c["building_code"], c)
        since = g["record_date"].dropna().str[:10]
        cases.append(
            Case(
                cid,
                "address",
                since=str(since.min()) if len(since) else "",
                title=str(g["address_text"].iloc[0]),
                address_text=str(g["address_text"].iloc[0]),
                records=len(g),
                candidates=sorted(candidates.values(), key=lambda c: (-c["score"], c["building_code"])),
            )
        )
        grids = [c["grid_code"] for c in candidates.values()] or [None]
        located.append(pd.DataFrame({"grid_code": grids, "feed": None, "case_id": cid}))
        located.append(pd.DataFrame({"grid_code": None, "feed": g["feed"].unique(), "case_id": cid}))
    return cases, pd.concat(located, ignore_index=True)


@dataclass
class Queue:
    run_id: str
    open: list[Case]
    conflicts: list[Case]

    def find(self, cid: str) -> Case | None:
        return next((c for c in self.open + self.conflicts if c.case_id == cid), None)


def build_queue(ws: Workspace, scope: tuple[str, str]) -> Queue:
    """The open cases and the conflicts in ``scope`` (:attr:`PortalReviewer.scope`), oldest first."""
    from gridhub.review_conflicts import conflicts, decided_case_ids

    run_id = published_run(ws)
    frames = _run_frames(ws.root, run_id)
    pairs, pair_where = _pair_cases(frames)
    addresses, address_where = _address_cases(frames)
    mine = _in_scope(ws, scope, pd.concat([pair_where, address_where], ignore_index=True))
    decided = decided_case_ids(ws)
    not_sure = read_csv(ws.review_not_sure)
    unsure = not_sure["case_id"].value_counts().to_dict() if not_sure is not None else {}
    open_cases = []
    for c in pairs + addresses:
        if c.case_id in mine and c.case_id not in decided:
            c.not_sure = int(unsure.get(c.case_id, 0))
            open_cases.append(c)
    open_cases.sort(key=lambda c: (c.not_sure > 0, c.since or "9999", c.case_id))
    found, conflict_where = conflicts(ws, run_id, frames)
    in_conflict = _in_scope(ws, scope, conflict_where)
    return Queue(run_id, open_cases, [c for c in found if c.case_id in in_conflict])


@dataclass
class PairDetail:
    """What a reviewer sees of a pair: each comparison side by side with its level and weight."""

    rows: list[dict]
    prior_weight: float
    match_weight: float
    match_probability: float
    entity_ids: tuple[str, str]
    identity_conflict: str  # the identity column whose two values differ ("" none)


def pair_detail(ws: Workspace, run_id: str, case: Case, *, reveal: bool) -> PairDetail:
    """``gridhub explain pair`` for the case's two records, from the run's mentions and the committed state;
    values masked unless ``reveal`` (the reviewer's role, :attr:`PortalReviewer.role`)."""
    from gridhub.resolve_workers import entity_settings
    from matching.er import ResolutionState
    from matching.er.explain import explain_pair, shown_pair_table

    t = case.entity_type
    mentions = pd.read_parquet(ws.work_dir(run_id) / "bound" / f"{t}.parquet")
    settings = entity_settings(ws, t)
    state = ResolutionState.load(ResolutionState.folder(ws.state, t), t)
    e = explain_pair(mentions, settings, state, case.record_key_l, case.record_key_r)
    ids = _run_frames(ws.root, run_id)[f"{t}_assignments"].set_index("record_key")["entity_id"]
    pair = ids.reindex([case.record_key_l, case.record_key_r]).fillna("∅")
    clash = e.identity_conflict or ""
    return PairDetail(
        shown_pair_table(e, reveal=reveal).to_dict("records"),
        float(e.prior_weight),
        float(e.match_weight),
        float(e.match_probability),
        (str(pair.iloc[0]), str(pair.iloc[1])),
        clash if reveal else clash.partition(":")[0],
    )


__all__ = [
    "Case",
    "NoPublishedRun",
    "PairDetail",
    "Queue",
    "build_queue",
    "case_id",
    "pair_detail",
    "published_run",
    "scope_exists",
    "where_pair",
]
