"""``gridhub snapshots``: the published snapshots of a workspace's warehouse, oldest first (快照列表).

One line per kept snapshot: its run id, when it was published (local time, ISO, usable as ``as_of``), ``*`` for the current one, the
row counts of the main tables and how many input files it was built from (all from its manifest). Any of the
run ids or times can be given to ``warehouse.read_table(..., snapshot=...)`` / ``as_of=...``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from connectors.text import display_width
from warehouse.read import current_run_id, list_snapshots, read_manifest
from warehouse.schema import ENTITY_TYPES

_HEADER = ["run_id", "published", "current", *ENTITY_TYPES, "inputs"]
_RIGHT = {*ENTITY_TYPES, "inputs"}


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - display_width(text))
    return fill + text if right else text + fill


def _published(manifest: dict) -> str:
    try:
        when = dt.datetime.fromisoformat(manifest["published_at"])
    except (KeyError, TypeError, ValueError):
        return "-"
    # to the millisecond, as in the manifest: pasted into as_of=..., it selects this very snapshot
    return when.astimezone().isoformat(timespec="milliseconds")


def snapshot_rows(warehouse_dir: Path) -> list[list[str]]:
    """One row of cells per published snapshot (oldest first), in :data:`_HEADER` order."""
    current = current_run_id(warehouse_dir)
    rows = []
    for run_id in list_snapshots(warehouse_dir):
        m = read_manifest(warehouse_dir, run_id)
        counts = m.get("row_counts", {})
        raw = (m.get("lineage") or {}).get("raw_files")
        rows.append(
            [
                run_id,
                _published(m),
                "*" if run_id == current else "",
                *(f"{counts[t]:,}" if t in counts else "-" for t in ENTITY_TYPES),
                str(len(raw)) if isinstance(raw, list) else "-",
            ]
        )
    return rows


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain text table, columns aligned (numbers to the right), two spaces apart."""
    widths = [max(display_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = [h in _RIGHT for h in header]
    return "\n".join(
        "  ".join(_pad(c, w, r) for c, w, r in zip(row, widths, right, strict=True)).rstrip()
        for row in [header, *rows]
    )


def snapshots_report(warehouse_dir: Path) -> str:
    """The text ``gridhub snapshots`` prints: the snapshot table, or a sentence when nothing is published."""
    rows = snapshot_rows(warehouse_dir)
    if not rows:
        return (
            f"{warehouse_dir}: 尚未发布任何快照（先运行 gridhub run 或 resolve DAG）/ nothing published yet "
            "(run `gridhub run` or the resolve DAG first)"
        )
    current = current_run_id(warehouse_dir) or "-"
    return (
        f"{format_table(_HEADER, rows)}\n\n{len(rows)} 个快照，当前 {current} / {len(rows)} snapshot(s), "
        f"current {current}; read an older one with warehouse.read_table(..., snapshot=RUN_ID) or as_of=TIME"
    )


__all__ = ["format_table", "snapshot_rows", "snapshots_report"]
