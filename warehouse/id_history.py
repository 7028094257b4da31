"""The builder of ``id_history``: the merges, splits and retirements of entity ids over all published runs.

Entity resolution records each run's id changes (``matching.er.ids``: ``old_id → new_id``, reason ``merge``,
``split`` or ``retired``); the warehouse keeps them all. A downstream system that keys its own data on our ids
may skip snapshots, so the table **accumulates**: each snapshot's ``id_history`` is the previous published
snapshot's rows plus the rows of its own run, numbered with the next ``run_seq``. Nothing time-dependent goes
in (the order is ``run_seq``), so the same inputs and the same previous snapshot give the same bytes, and a
rerun of the published run id keeps its rows as they were published, never adds them twice.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from warehouse.build import Assembly, builds
from warehouse.read import NoSnapshot, current_run_id, read_table
from warehouse.schema import TABLES, Layer

COLUMNS = TABLES["id_history"].column_names
#: The columns entity resolution writes (``matching.er.ids.HISTORY_COLUMNS``): all but ``run_seq``.
RUN_COLUMNS = [c for c in COLUMNS if c != "run_seq"]


def published_id_history(warehouse_dir: str | Path) -> pd.DataFrame:
    """The ``id_history`` of the current snapshot (restricted layer); no rows when nothing is published yet
    or the current snapshot predates the table."""
    try:
        if current_run_id(warehouse_dir) is None:
            return pd.DataFrame(columns=COLUMNS)
        return read_table(warehouse_dir, "id_history", layer=Layer.RESTRICTED, columns=COLUMNS).to_pandas()
    except NoSnapshot:
        return pd.DataFrame(columns=COLUMNS)


def accumulate_id_history(previous: pd.DataFrame | None, this_run: pd.DataFrame | None) -> pd.DataFrame:
    """``previous`` (the last snapshot's rows, with ``run_seq``) and ``this_run``'s rows (the columns entity
    resolution writes). This run's rows get the run sequence its run id already has in ``previous`` (a rerun
    of the published run id), else the one after the greatest (1 for the first). A change already in
    ``previous`` is kept once, as it was first published: a rerun of a published run id, whose resolution
    starts from the state that run committed, gives the same table."""
    previous, this_run = (
        _as_objects(pd.DataFrame(f).reindex(columns=c))
        for f, c in ((previous, COLUMNS), (this_run, RUN_COLUMNS))
    )
    if this_run.empty:
        return previous
    seqs = pd.to_numeric(previous["run_seq"])
    run_ids = this_run["run_id"].unique()
    mine = seqs[previous["run_id"].isin(run_ids)]
    seq = int(mine.max()) if len(mine) else int(seqs.max()) + 1 if len(seqs) else 1
    frames = [f for f in (previous, this_run.assign(run_seq=seq)) if len(f)]
    both = pd.concat(frames, ignore_index=True)
    return both.drop_duplicates(list(TABLES["id_history"].key), keep="first")


def _as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Every value a Python object, every kind of missing value ``None`` (so equal rows compare equal)."""
    frame = frame.astype(object)
    return frame.where(frame.notna(), None)


@builds("id_history")
def build_id_history(a: Assembly) -> pd.DataFrame:
    """The previous snapshot's id changes and this run's (see :func:`accumulate_id_history`)."""
    return accumulate_id_history(a.previous_id_history, a.id_history)
