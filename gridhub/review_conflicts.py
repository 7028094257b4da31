"""Decisions that did not hold (复核冲突), shown in the review queue instead of being dropped.

- **answers disagree**: the last two answers on one pair (same / different) or one address text (two
  buildings, or a building and "not in the library") differ and come from two people. The latest applies; the
  queue shows every answer, who and when, until an answer agrees with the latest.
- **the run did not follow it**: a pair decision the published run read (its pinned copy of
  ``review_decisions.csv``) but whose records it did not put together ("same") or apart ("different"). The
  usual cause is hard evidence: two different values of an identity column (two valid ID numbers), which
  clustering never puts in one entity whatever a person says.
- **the alias points nowhere**: an alias to a building the standard address library no longer has; the text
  is matched as usual until someone decides again.
"""

from __future__ import annotations

import pandas as pd

from gridhub.review_queue import Case, case_id, where_pair
from gridhub.review_store import PAIR_DECISIONS, read_csv
from gridhub.runguard import pinned
from gridhub.workspace import Workspace
from warehouse.schema import ENTITY_TYPES

_WORD = {v: k for k, v in PAIR_DECISIONS.items()}
_EMPTY_WHERE = pd.DataFrame(columns=["grid_code", "feed", "case_id"])


def _pair_rows(ws: Workspace) -> pd.DataFrame:
    """The pair decisions with the pair's case id (a hand-written row without entity_type: every type)."""
    d = read_csv(ws.review_decisions)
    if d is None or d.empty:
        return pd.DataFrame(columns=["record_key_l", "record_key_r", "decision", "entity_type", "case_id"])
    d = d.copy()
    for c in ("entity_type", "reviewer", "decided_at"):
        if c not in d.columns:
            d[c] = ""
    lo = d[["record_key_l", "record_key_r"]].min(axis=1)
    hi = d[["record_key_l", "record_key_r"]].max(axis=1)
    d["record_key_l"], d["record_key_r"] = lo, hi
    d["decision"] = d["decision"].str.strip().str.lower()
    typed = d[d["entity_type"] != ""]
    untyped = d[d["entity_type"] == ""].drop(columns="entity_type")
    spread = untyped.merge(pd.DataFrame({"entity_type": list(ENTITY_TYPES)}), how="cross")
    d = pd.concat([typed, spread], ignore_index=True)
    d["case_id"] = [
        case_id("pair", t, left, right)
        for t, left, right in zip(d["entity_type"], d["record_key_l"], d["record_key_r"], strict=True)
    ]
    return d


def _alias_rows(ws: Workspace) -> pd.DataFrame:
    from matching.address import canonical_address_text

    a = read_csv(ws.address_aliases)
    if a is None or a.empty:
        return pd.DataFrame(columns=["address_text", "decision", "building_code", "canonical", "case_id"])
    a = a.copy()
    a["canonical"] = canonical_address_text(a["address_text"].astype("string")).to_numpy()
    a["case_id"] = [case_id("address", str(c)) for c in a["canonical"]]
    return a


def decided_case_ids(ws: Workspace) -> set[str]:
    """The cases someone answered (same / different, a building / not in the library)."""
    return set(_pair_rows(ws)["case_id"]) | set(_alias_rows(ws)["case_id"])


def _history(rows: pd.DataFrame, answer: pd.Series) -> list[dict]:
    return [
        {"reviewer": r, "decided_at": str(at)[:19].replace("T", " "), "answer": a}
        for r, at, a in zip(rows["reviewer"], rows["decided_at"], answer, strict=True)
    ]


def _disagree(rows: pd.DataFrame, answers: pd.Series) -> bool:
    """The last two answers differ and come from two people (one changing their own mind is no conflict;
    a third answer agreeing with the latest settles it)."""
    if len(rows) < 2:
        return False
    return answers.iloc[-1] != answers.iloc[-2] and rows["reviewer"].iloc[-1] != rows["reviewer"].iloc[-2]


def _identity_clash(ws: Workspace, run_id: str, entity_type: str, keys: list[str]) -> str:
    """``column`` where the two records hold different values of an identity column, else ""."""
    from matching.er import EntitySettings

    identity = list(EntitySettings.from_config(entity_type, ws.config.matching).identity)
    if not identity:
        return ""
    path = ws.work_dir(run_id) / "bound" / f"{entity_type}.parquet"
    m = pd.read_parquet(path, columns=["record_key", *identity]).set_index("record_key").reindex(keys)
    for column in identity:
        a, b = m[column].iloc[0], m[column].iloc[1]
        if pd.notna(a) and pd.notna(b) and str(a) != str(b):
            return column
    return ""


def _pair_conflicts(ws: Workspace, run_id: str, frames: dict[str, pd.DataFrame]) -> tuple[list[Case], list]:
    d = _pair_rows(ws)
    applied = read_csv(pinned(ws, run_id).review_decisions)
    applied_keys = (
        set(
            zip(
                applied["record_key_l"], applied["record_key_r"], applied["decision"].str.lower(), strict=True
            )
        )
        if applied is not None
        else set()
    )
    cases, where = [], []
    for cid, g in d.groupby("case_id", sort=True):
        t, left, right = g["entity_type"].iloc[0], g["record_key_l"].iloc[0], g["record_key_r"].iloc[0]
        ids = frames[f"{t}_assignments"].set_index("record_key")["entity_id"].reindex([left, right])
        if ids.isna().any():
            continue  # not records of this type (an untyped row spread over every type), or gone
        answers = g["decision"].map(_WORD).fillna(g["decision"])
        latest = g["decision"].iloc[-1]
        problem = ""
        if _disagree(g, answers):
            problem = "答案不一致，以最后一次为准 / The answers disagree; the latest applies"
        together = ids.iloc[0] == ids.iloc[1]
        if (left, right, latest) in applied_keys and together != (latest == "match"):
            clash = _identity_clash(ws, run_id, t, [left, right])
            why = f"（{clash} 不同 / two different {clash} values）" if clash else ""
            problem = (
                f"本次运行未按结论处理{why} / The published run did not follow the decision"
                f"{' (hard evidence: two different ' + clash + ' values)' if clash else ''}"
            )
        if problem:
            cases.append(
                Case(cid, "pair", since="", title=f"{t}: {left} ↔ {right}", entity_type=t, record_key_l=left,
                     record_key_r=right, conflict=problem, history=_history(g, answers))
            )  # fmt: skip
            where.append(where_pair(frames, t, cid, [left, right]))
    return cases, where


def _address_conflicts(ws: Workspace, frames: dict[str, pd.DataFrame]) -> tuple[list[Case], list]:
    a = _alias_rows(ws)
    if a.empty:
        return [], []
    stale: set[str] = set()
    if (a["decision"] == "standard").any():
        from gridhub.reference import address_library
        from matching.address import stale_aliases

        gone = stale_aliases(a, address_library(ws))
        stale = set(gone["building_code"])
    b = frames["bindings"]
    cases, where = [], []
    for cid, g in a.groupby("case_id", sort=True):
        answers = g["decision"].where(g["decision"] != "standard", g["building_code"])
        latest = g.iloc[-1]
        problem = ""
        if _disagree(g, answers):
            problem = "答案不一致，以最后一次为准 / The answers disagree; the latest applies"
        if latest["decision"] == "standard" and latest["building_code"] in stale:
            problem = "所选建筑已不在标准地址库中 / The chosen building is no longer in the address library"
        if not problem:
            continue
        text = str(latest["address_text"])
        cases.append(Case(cid, "address", since="", title=text, address_text=text, conflict=problem,
                          history=_history(g, answers)))  # fmt: skip
        rows = b[b["address_text"].isin(g["address_text"])]
        where.append(pd.DataFrame({"grid_code": rows["grid_code"], "feed": rows["feed"], "case_id": cid}))
    return cases, where


def conflicts(ws: Workspace, run_id: str, frames: dict[str, pd.DataFrame]) -> tuple[list[Case], pd.DataFrame]:
    """Every conflict (see the module docstring) and where each lies (case_id, grid_code, feed)."""
    pairs, pair_where = _pair_conflicts(ws, run_id, frames)
    addresses, address_where = _address_conflicts(ws, frames)
    parts = [w for w in pair_where + address_where if len(w)]
    return pairs + addresses, pd.concat(parts, ignore_index=True) if parts else _EMPTY_WHERE


__all__ = ["conflicts", "decided_case_ids"]
