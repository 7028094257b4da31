"""Blind labelling (盲标) in the portal: a reviewer answers the pairs of the current run's evaluation sample
(:mod:`gridhub.evaluate`) one at a time, and the answers go straight into the sample's ``labels.csv``, the file
``gridhub evaluate LABELS`` reads.

- The sample is the one ``gridhub evaluate`` drew for the run the current snapshot was made by, in its default
  folder ``state/evaluation/<run_id>/`` (``labels.csv`` + ``design.parquet``). The portal never draws one: a
  sample is a deliberate step of a data steward (``--per-stratum``, ``--seed``); without one the page says to
  run ``gridhub evaluate``.
- A labeller sees the sample's pairs in their scope (the same rule as the review queue: one of the pair's
  records lies in the scope's grids, or comes from the department's feeds), in the file's order (by entity
  type, shuffled within each: the order tells nothing about the stratum). Shown: the same fields as the file,
  masked as the review queue masks for the role (:data:`gridhub.evaluate.MASKED` unless ``data_steward``).
  Never shown: score, band, stratum, link status, entity ids.
- An answer (``same`` / ``different`` / ``unsure``) is written into the ``label`` column of ``labels.csv``
  with ``labelled_by`` and ``labelled_at``, the whole file rewritten atomically under the review lock
  (``state/review.lock``), so answers given at once are all kept. A pair already labelled is not relabelled.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gridhub.evaluate import DESIGN_FILE, EVALUATION_DIR, LABELS_FILE, SHOWN, shown_records
from gridhub.review_store import LOCK_FILE, now_utc
from gridhub.workspace import Workspace
from warehouse.files import atomic_write_text, locked

#: What the portal writes in the ``label`` column (words ``gridhub evaluate`` reads).
ANSWERS = {"same": "same", "different": "different", "not_sure": "unsure"}
WHO, WHEN = "labelled_by", "labelled_at"


class NoSample(LookupError):
    """The current run has no evaluation sample in its default folder (``args[0]``: the run id, or "")."""


@dataclass
class Sample:
    """The current run's sample as a labeller sees it: only what is in their scope."""

    run_id: str
    folder: Path
    pair_ids: list[str]  # in the file's order, in scope
    labelled: int  # of pair_ids

    @property
    def total(self) -> int:
        return len(self.pair_ids)


def sample_folder(ws: Workspace, run_id: str) -> Path:
    return ws.state / EVALUATION_DIR / run_id


def _read_labels(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)


def _design(folder: Path) -> pd.DataFrame:
    cols = ["pair_id", "entity_type", "record_key_l", "record_key_r"]
    return pd.read_parquet(folder / DESIGN_FILE, columns=cols).astype(str)


def load_sample(ws: Workspace, scope: tuple[str, str]) -> Sample:
    """The current run's sample restricted to ``scope``; raises :class:`NoSample`."""
    from gridhub.review_queue import NoPublishedRun, _in_scope, published_run

    try:
        run_id = published_run(ws)
    except NoPublishedRun as e:
        raise NoSample("") from e
    folder = sample_folder(ws, run_id)
    if not (folder / LABELS_FILE).is_file() or not (folder / DESIGN_FILE).is_file():
        raise NoSample(run_id)
    design = _design(folder)
    located = []
    for t, d in design.groupby("entity_type", sort=False):
        m = pd.read_parquet(
            ws.work_dir(run_id) / "bound" / f"{t}.parquet", columns=["record_key", "grid_code", "feed"]
        )
        m = m.astype("string").set_index("record_key")
        for side in ("record_key_l", "record_key_r"):
            located.append(m.reindex(d[side])[["grid_code", "feed"]].assign(case_id=d["pair_id"].to_numpy()))
    mine = _in_scope(ws, scope, pd.concat(located, ignore_index=True))
    labels = _read_labels(folder / LABELS_FILE)
    ids = [p for p in labels["pair_id"] if p in mine]
    done = labels.set_index("pair_id")["label"].reindex(ids).str.strip() != ""
    return Sample(run_id, folder, ids, int(done.sum()))


def next_pair(sample: Sample) -> str | None:
    """The first pair of the labeller's share with no label yet."""
    labels = _read_labels(sample.folder / LABELS_FILE).set_index("pair_id")["label"]
    empty = labels.reindex(sample.pair_ids).str.strip() == ""
    return next((p for p, e in zip(sample.pair_ids, empty, strict=True) if e), None)


def pair_token(sample: Sample, pair_id: str) -> str:
    """Names exactly this pair of this sample: a form answered before the sample was drawn again is refused."""
    d = _design(sample.folder).set_index("pair_id").loc[pair_id]
    raw = "\x1f".join([sample.run_id, pair_id, d["record_key_l"], d["record_key_r"]])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


def pair_view(ws: Workspace, sample: Sample, pair_id: str, *, reveal: bool) -> dict:
    """What the page shows of one pair: the entity type and each shown field's two values (no score)."""
    d = _design(sample.folder).set_index("pair_id").loc[pair_id]
    t = str(d["entity_type"])
    mentions = pd.read_parquet(ws.work_dir(sample.run_id) / "bound" / f"{t}.parquet")
    shown = shown_records(mentions, t, reveal=reveal).reindex([d["record_key_l"], d["record_key_r"]])
    fields = ["feed", "record", *[c for c in SHOWN[t] if c in shown.columns]]
    rows = [{"field": c, "left": _text(shown[c].iloc[0]), "right": _text(shown[c].iloc[1])} for c in fields]
    return {"entity_type": t, "rows": rows}


def _text(v: object) -> str:
    return "" if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)) else str(v)


def record_label(ws: Workspace, sample: Sample, pair_id: str, answer: str, *, labeller: str) -> bool:
    """Write ``answer`` (a key of :data:`ANSWERS`) for ``pair_id`` into ``labels.csv``; False when the pair
    already has a label (someone answered it meanwhile)."""
    path = sample.folder / LABELS_FILE
    with locked(ws.state / LOCK_FILE):
        labels = _read_labels(path)
        row = labels.index[labels["pair_id"] == pair_id]
        if len(row) != 1 or labels.at[row[0], "label"].strip():
            return False
        for col in (WHO, WHEN):
            if col not in labels.columns:
                labels[col] = ""
        labels.loc[row[0], ["label", WHO, WHEN]] = [ANSWERS[answer], labeller, now_utc()]
        buf = io.StringIO()
        labels.to_csv(buf, index=False, lineterminator="\r\n")
        atomic_write_text(path, "\ufeff" + buf.getvalue(), fsync=True)
    return True


__all__ = [
    "ANSWERS",
    "NoSample",
    "Sample",
    "load_sample",
    "next_pair",
    "pair_token",
    "pair_view",
    "record_label",
    "sample_folder",
]
