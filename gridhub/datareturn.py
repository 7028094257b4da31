"""Data return (数据回流) for a workspace: a department's feeds as the published snapshot read them.

:func:`feed_return` gives one feed's current records — exactly the staged rows the current snapshot's run
read (its pinned inputs, ``work/<run_id>/inputs/``), the department's own values — with the entity ids,
standard address codes and grid codes attached, plus the list of its values that disagree with the published
golden records (:mod:`warehouse.datareturn`). The values are compared as the run normalised them
(:func:`matching.mentions.build_mentions`: 繁→简, half-width, IDs upgraded from 15 digits), so a value that
only differs in form is no disagreement. Only the fields the feed itself maps are compared.

:func:`return_feeds` says which feeds a department gets back; :mod:`gridhub.datareturn_files` writes the
result as CSV (UTF-8 with BOM) or xlsx under the department's own column headers. The portal serves both
(:mod:`gridhub.portal.data_return`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from gridhub.config import WorkspaceConfig
from gridhub.workspace import Workspace
from warehouse.datareturn import COMPARED_FIELDS, DataReturn
from warehouse.errors import UserError

if TYPE_CHECKING:
    from connectors.feeds import Feed
    from gridhub.runguard import PinnedInputs

#: Mention column → the golden-record column it is compared with (mentions use the staging fields' names).
GOLDEN_FIELD: dict[str, dict[str, str]] = {
    "person": {f: f for f in COMPARED_FIELDS["person"]},
    "organisation": {
        "credit_code": "credit_code",
        "org_name": "name",
        "legal_rep": "legal_rep",
        "industry": "industry",
        "org_status": "status",
        "established": "established",
    },
    "house": {"house_use": "use", "house_area": "area", "rented": "rented"},
    "facility": {
        "facility_type": "facility_type",
        "facility_name": "name",
        "responsible": "responsible",
        "facility_status": "status",
    },
}
_META = {"_feed": "feed", "_raw_sha256": None, "_line": None}


class DataReturnError(UserError, LookupError):
    """The data return cannot be made: nothing published, an unknown feed, the run's inputs gone."""


def return_feeds(cfg: WorkspaceConfig, department: str) -> list[Feed]:
    """The feeds whose records ``department`` gets back: those its portal entry lists (``feeds:``), else every
    feed (file or database) whose ``department`` it is."""
    listed = None
    if cfg.portal is not None and department in cfg.portal.departments:
        listed = cfg.portal.departments[department].feeds
    return [f for f in cfg.feeds if (f.name in listed if listed is not None else f.department == department)]


def _snapshot_inputs(ws: Workspace, snapshot: str | None) -> tuple[str, PinnedInputs]:
    """(run id, the staged files that run read): the current snapshot's, or ``snapshot``'s."""
    from gridhub.runguard import INPUTS, PinnedInputs
    from warehouse.read import current_run_id

    run_id = snapshot or current_run_id(ws.warehouse)
    if run_id is None:
        raise DataReturnError(
            "还没有发布的数据，无法回流 / nothing is published yet: run `gridhub run` (or the DAG) first"
        )
    folder = ws.work_dir(run_id) / INPUTS
    if not folder.is_dir():
        raise DataReturnError(
            f"快照 {run_id} 读取的暂存文件清单已不在 {folder} / the list of staged files that snapshot {run_id} "
            "read is gone from work/: run `gridhub run` again to publish a snapshot whose inputs are known"
        )
    return run_id, PinnedInputs(ws, folder)


def _staged_records(inputs: PinnedInputs, feeds: Sequence[Feed]) -> dict[str, pd.DataFrame]:
    from connectors import load_staging

    staged = {}
    for feed in feeds:
        if inputs.staging_dir(feed.name).exists():
            staged[feed.name] = load_staging(inputs, feed.name)
    return staged


def _records(staged: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The staged rows as the department's records: ``feed``, its fields, without the other meta columns."""
    frames = []
    for df in staged.values():
        keep = [c for c in df.columns if _META.get(c, c) is not None]
        frames.append(df[keep].rename(columns={"_feed": "feed"}))
    if not frames:
        return pd.DataFrame(
            {"feed": pd.Series(dtype="string"), "source_record_id": pd.Series(dtype="string")}
        )
    return pd.concat(frames, ignore_index=True)


def comparable_values(staged: dict[str, pd.DataFrame], feeds: Sequence[Feed]) -> dict[str, pd.DataFrame]:
    """Per entity type, the records' normalised values named as the golden record's columns; a field the
    record's feed does not map is left out (null), so only what the department itself said is compared."""
    from matching.mentions import build_mentions

    mapped = {f.name: set(f.fields) for f in feeds}
    mentions = build_mentions(staged, list(feeds)).by_type()
    values = {}
    for entity_type, frame in mentions.items():
        renames = {c: g for c, g in GOLDEN_FIELD[entity_type].items() if c in frame.columns}
        if frame.empty or not renames:
            continue
        out = frame[["feed", "source_record_id"]].astype(str)
        for column, golden in renames.items():
            said = frame["feed"].isin([feed for feed, fields in mapped.items() if column in fields])
            out[golden] = frame[column].where(said.to_numpy())
        values[entity_type] = out.drop_duplicates(["feed", "source_record_id"])
    return values


def feed_return(ws: Workspace, feeds: Sequence[str], *, snapshot: str | None = None) -> DataReturn:
    """The records of ``feeds`` as the current snapshot (or ``snapshot``) read them, with codes, and their
    disagreements with the golden records (see the module docstring). Raises :class:`DataReturnError`."""
    from warehouse.datareturn import data_return

    known = {f.name: f for f in ws.config.feeds}
    unknown = [f for f in feeds if f not in known]
    if unknown:
        raise DataReturnError(f"没有这个数据源 / no such feed: {', '.join(unknown)}")
    specs = [known[f] for f in feeds]
    run_id, inputs = _snapshot_inputs(ws, snapshot)
    staged = _staged_records(inputs, specs)
    return data_return(ws.warehouse, _records(staged), comparable_values(staged, specs), snapshot=run_id)


def department_return(ws: Workspace, department: str, *, snapshot: str | None = None) -> DataReturn:
    """:func:`feed_return` over every feed of ``department`` (:func:`return_feeds`)."""
    feeds = return_feeds(ws.config, department)
    if not feeds:
        raise DataReturnError(f"部门 {department} 没有数据源 / department {department} has no feeds")
    return feed_return(ws, [f.name for f in feeds], snapshot=snapshot)


__all__ = [
    "DataReturnError",
    "comparable_values",
    "department_return",
    "feed_return",
    "return_feeds",
]
