"""Where reviewers' decisions are kept (复核结论), so that the next run honours them.

Three CSV files in the workspace's ``state/``, each replaced atomically (the whole file rewritten beside it
and renamed) under one lock, so a run pinning them (:func:`gridhub.runguard.pin_inputs`) copies one version:

- ``review_decisions.csv`` (:attr:`Workspace.review_decisions`): pair decisions, ``same`` → must-link
  (``match``), ``different`` → cannot-link (``non_match``); what :func:`matching.er.normalise_decisions`
  reads. The columns after ``decision`` say who, when and about which run's case.
- ``address_aliases.csv`` (:attr:`Workspace.address_aliases`): an address text → a standard building
  (``standard``) or ``not_in_library``; applied by :func:`matching.address.apply_aliases` in every binding.
- ``review_not_sure.csv``: "not sure" answers; no run reads them, the queue marks the case.

Both files the runs read are part of the run id (:func:`gridhub.runid.input_fingerprint`), so a decision
makes the next ``gridhub run`` a new run; each run keeps the copies it applied in its state generation
(``state/er/generations/<run_id>/review/``, :mod:`gridhub.statecommit`), versioned with the rest.
"""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from gridhub.workspace import Workspace
from warehouse.files import atomic_write_text, locked

REVIEW_STATE = "review"
LOCK_FILE = "review.lock"
PAIR_DECISIONS = {"same": "match", "different": "non_match"}
PAIR_COLUMNS = ("record_key_l", "record_key_r", "decision", "entity_type", "reviewer", "decided_at", "run_id")
ALIAS_FILE_COLUMNS = (
    "address_text",
    "decision",
    "building_code",
    "address_code",
    "reviewer",
    "decided_at",
    "run_id",
)
NOT_SURE_COLUMNS = ("case_id", "reviewer", "decided_at", "run_id")


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def read_csv(path: Path) -> pd.DataFrame | None:
    """A review file as text (empty cells ``""``), or None when there is none."""
    if not path.exists():
        return None
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def read_address_aliases(path: Path) -> pd.DataFrame | None:
    """The aliases file at ``path`` (the run's pinned copy, or the workspace's), None if there is none."""
    return read_csv(path)


def append_row(ws: Workspace, path: Path, columns: tuple[str, ...], row: dict[str, str]) -> None:
    """Add ``row`` to the CSV at ``path`` (created with ``columns``): the whole file rewritten atomically under
    the review lock, so a concurrent reader or run sees the file before or after, never half of it."""
    ws.state.mkdir(parents=True, exist_ok=True)
    with locked(ws.state / LOCK_FILE):
        old = read_csv(path)
        new = pd.DataFrame([{c: row.get(c, "") for c in columns}], dtype="string")
        frame = new if old is None else pd.concat([old, new], ignore_index=True)
        buf = io.StringIO()
        frame.to_csv(buf, index=False, lineterminator="\n")
        atomic_write_text(path, buf.getvalue(), fsync=True)


def record_pair_decision(
    ws: Workspace, left: str, right: str, answer: str, *, entity_type: str, reviewer: str, run_id: str
) -> str:
    """Append a ``same`` / ``different`` decision on the pair; returns the engine's word (match / non_match)."""
    decision = PAIR_DECISIONS[answer]
    row = {
        "record_key_l": min(left, right),
        "record_key_r": max(left, right),
        "decision": decision,
        "entity_type": entity_type,
        "reviewer": reviewer,
        "decided_at": now_utc(),
        "run_id": run_id,
    }
    append_row(ws, ws.review_decisions, PAIR_COLUMNS, row)
    return decision


def record_address_decision(
    ws: Workspace,
    text: str,
    decision: str,
    *,
    building_code: str = "",
    address_code: str = "",
    reviewer: str,
    run_id: str,
) -> None:
    """Append an alias: ``text`` is the standard ``building_code`` (``standard``) or ``not_in_library``."""
    row = {
        "address_text": text,
        "decision": decision,
        "building_code": building_code,
        "address_code": address_code,
        "reviewer": reviewer,
        "decided_at": now_utc(),
        "run_id": run_id,
    }
    append_row(ws, ws.address_aliases, ALIAS_FILE_COLUMNS, row)


def record_not_sure(ws: Workspace, case_id: str, *, reviewer: str, run_id: str) -> None:
    row = {"case_id": case_id, "reviewer": reviewer, "decided_at": now_utc(), "run_id": run_id}
    append_row(ws, ws.review_not_sure, NOT_SURE_COLUMNS, row)


def keep_review_inputs(ws: Workspace, run_id: str, dest: Path) -> None:
    """Copy the review files run ``run_id`` applies (its pinned copies) to ``dest``, which becomes the
    ``review/`` folder of the run's state generation."""
    from gridhub.runguard import pinned

    inputs = pinned(ws, run_id)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for src in (inputs.review_decisions, inputs.address_aliases):
        if src.exists():
            shutil.copyfile(src, dest / src.name)


__all__ = [
    "PAIR_DECISIONS",
    "REVIEW_STATE",
    "keep_review_inputs",
    "read_address_aliases",
    "read_csv",
    "record_address_decision",
    "record_not_sure",
    "record_pair_decision",
]
