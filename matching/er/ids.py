"""Stable entity ids (实体编号) and the state that carries them from one run to the next.

Downstream systems key their own data on our ids, so an id must survive reruns and daily updates:

* A brand-new entity's id is its type letter (P/O/H/F) + 12 hex characters of SHA-256 over the entity type and
  the record_key of its earliest-seen member (first run seen, then record_date, then key): the same inputs
  always give the same ids, with or without state.
* An existing entity keeps its id: each old id goes to the cluster that holds most of its members; a cluster
  that wins several old ids keeps the one with most members and records the others as ``merge``; a cluster
  that holds old members but wins no old id gets a new id and records ``split`` from each old id it took
  members from; an old id with no members left is ``retired``. All of it goes to ``id_history``.
* Ids once issued are never issued again to another entity.

The state is a folder of Parquet files plus one JSON (``<workspace>/state/er/<entity_type>/``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from matching.er.scoring import Model
from warehouse.errors import UserError

log = logging.getLogger(__name__)

REGISTRY_COLUMNS = ["record_key", "entity_id", "record_hash", "first_seen_seq", "score", "method"]
HISTORY_COLUMNS = ["entity_type", "old_id", "new_id", "reason", "records", "run_id"]
DECISION_COLUMNS = ["record_key_l", "record_key_r", "decision"]
# 2: the registry also keeps each record's matching columns, blocking-key hashes and term-frequency hashes, so a
# daily delta is matched against the state alone (older states get one full run, ids kept through the registry)
# 3: dates hash as their epoch seconds (record hashes of version 2 differ)
STATE_VERSION = 3


class StateError(UserError, RuntimeError):
    """A saved resolution state is missing, unreadable or of another entity type."""


def _empty_registry() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_key": pd.Series(dtype="string"),
            "entity_id": pd.Series(dtype="string"),
            "record_hash": pd.Series(dtype="uint64"),
            "first_seen_seq": pd.Series(dtype="int64"),
            "score": pd.Series(dtype="float64"),
            "method": pd.Series(dtype="string"),
        }
    )


def empty_history() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="int64" if c == "records" else "string") for c in HISTORY_COLUMNS}
    )


def empty_decisions() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in DECISION_COLUMNS})


@dataclass
class ResolutionState:
    """What the next run needs: the record → entity registry, the trained model, issued ids, kept pairs,
    the review decisions applied so far."""

    entity_type: str
    registry: pd.DataFrame = field(default_factory=_empty_registry)
    model: Model | None = None
    fingerprint: str = ""
    issued: pd.Series = field(default_factory=lambda: pd.Series(dtype="string"))
    pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    decisions: pd.DataFrame = field(default_factory=empty_decisions)
    run_seq: int = 0
    runs: list[str] = field(default_factory=list)
    version: int = STATE_VERSION
    entities: int = -1  # distinct entity ids in the registry (-1 = not known)
    _lookup: tuple[int, pd.Index] | None = field(default=None, init=False, repr=False, compare=False)

    def locate(self, keys: pd.Series | pd.Index | list[str], hashes: np.ndarray | None = None) -> np.ndarray:
        """Registry row of each record_key, -1 where the registry does not hold it.

        Looks the keys' 64-bit hashes up (the registry keeps them in ``_rk``), then checks the strings of the
        rows found, so that a daily delta does not hash a million keys to find a few thousand. ``hashes``: the
        keys' hashes (:func:`record_key_hashes`) when the caller has them.
        """
        keys = pd.Series(keys, dtype="string").reset_index(drop=True)
        reg = self.registry
        if self._lookup is None or self._lookup[0] != len(reg):
            if "_rk" in reg.columns:
                index = pd.Index(reg["_rk"].to_numpy(dtype=np.uint64))
                if not index.is_unique:  # two keys share a hash (never seen): look the strings up instead
                    index = pd.Index(reg["record_key"])
            else:
                index = pd.Index(reg["record_key"])
            self._lookup = (len(reg), index)
        index = self._lookup[1]
        if index.dtype == np.uint64:
            import pyarrow.compute as pc

            pos = index.get_indexer(record_key_hashes(keys) if hashes is None else hashes)
            found = np.flatnonzero(pos >= 0)
            if len(found):
                held = arrow_strings(reg["record_key"].iloc[pos[found]])
                asked = arrow_strings(keys.iloc[found])
                same = pc.equal(held, asked).to_numpy(zero_copy_only=False).astype(bool)
                pos[found[~same]] = -1
            return pos
        return index.get_indexer(keys)

    def save(self, path: str | Path) -> Path:
        """Write the state to a folder (Parquet + ``model.json``); replaces what was there."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.registry.to_parquet(path / "registry.parquet", index=False)
        pd.DataFrame({"entity_id": self.issued.astype("string")}).to_parquet(
            path / "issued.parquet", index=False
        )
        self.pairs.to_parquet(path / "pairs.parquet", index=False)
        self.decisions.to_parquet(path / "decisions.parquet", index=False)
        meta = {
            "version": self.version,
            "entity_type": self.entity_type,
            "fingerprint": self.fingerprint,
            "run_seq": self.run_seq,
            "entities": self.entities,
            "runs": self.runs[-100:],
            "model": self.model.to_dict() if self.model else None,
        }
        tmp = path / "model.json.tmp"
        tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(path / "model.json")
        return path

    @classmethod
    def load(cls, path: str | Path, entity_type: str | None = None) -> ResolutionState:
        """Read a state folder written by :meth:`save`."""
        path = Path(path)
        meta_file = path / "model.json"
        if not meta_file.exists():
            raise StateError(f"{path}: no entity-resolution state here (model.json missing)")
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise StateError(f"{meta_file}: not valid JSON: {e}") from None
        if entity_type and meta.get("entity_type") != entity_type:
            raise StateError(f"{path}: state is for {meta.get('entity_type')!r}, not {entity_type!r}")
        registry = pd.read_parquet(path / "registry.parquet")
        for c in ("record_key", "entity_id", "method"):
            registry[c] = registry[c].astype("string")
        decisions = (
            pd.read_parquet(path / "decisions.parquet")
            if (path / "decisions.parquet").exists()
            else empty_decisions()
        )
        return cls(
            entity_type=meta["entity_type"],
            registry=registry,
            model=Model.from_dict(meta["model"]) if meta.get("model") else None,
            fingerprint=meta.get("fingerprint", ""),
            issued=pd.read_parquet(path / "issued.parquet")["entity_id"].astype("string"),
            pairs=pd.read_parquet(path / "pairs.parquet")
            if (path / "pairs.parquet").exists()
            else pd.DataFrame(),
            decisions=decisions.astype("string"),
            run_seq=int(meta.get("run_seq", 0)),
            runs=list(meta.get("runs", [])),
            version=int(meta.get("version", 1)),
            entities=int(meta.get("entities", -1)),
        )

    @staticmethod
    def folder(state_root: str | Path, entity_type: str) -> Path:
        """The committed state of ``entity_type``, given the workspace's state folder.

        All types are committed together as one generation, ``state/er/generations/<run_id>/<type>/``, named by
        the pointer file ``state/er/CURRENT`` (see gridhub/statecommit.py). Without a pointer (a workspace from
        before generations) it is the legacy ``state/er/<entity_type>/``.
        """
        er = Path(state_root) / "er"
        generation = committed_generation(er)
        return er / GENERATIONS / generation / entity_type if generation else er / entity_type


#: Sub-folder of ``state/er/`` holding one complete folder per committed (or staged) state generation.
GENERATIONS = "generations"
#: The pointer naming the committed generation (one line: its run id).
STATE_POINTER = "CURRENT"


def committed_generation(er_root: str | Path) -> str | None:
    """The run id ``state/er/CURRENT`` names, or None when there is no pointer (nothing committed yet)."""
    try:
        name = (Path(er_root) / STATE_POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def arrow_strings(s: pd.Series):
    """A string column as one contiguous Arrow string array, without going through Python objects."""
    import pyarrow as pa

    arr = pa.array(s.astype("string").array) if len(s) else pa.array([], type=pa.string())
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def record_key_hashes(keys: pd.Series) -> np.ndarray:
    """The 64-bit hash the registry keeps for each record_key (``_rk``)."""
    from matching.er.blocking import value_hashes

    return value_hashes(pd.Series(keys, dtype="string"))


class IssuedIds:
    """Every id ever issued (kept as one Arrow array), and the ones added since.

    A run only asks about the ids it is about to issue, so membership is looked up for a batch at once with
    the batch as the hashed side: a daily delta does not build a set of every id the registry ever issued.
    """

    def __init__(self, issued: pd.Series):
        self._base = arrow_strings(issued)
        self.added: list[str] = []
        self._added: set[str] = set()

    def contains_many(self, ids: list[str]) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        if not ids:
            return np.zeros(0, dtype=bool)
        hit = self._base.filter(pc.is_in(self._base, value_set=pa.array(ids, type=pa.string())))
        found = set(hit.to_pylist()) | self._added
        return np.fromiter((i in found for i in ids), dtype=bool, count=len(ids))

    def __contains__(self, eid: str) -> bool:
        return eid in self._added or bool(self.contains_many([eid])[0])

    def add(self, eid: str) -> None:
        if eid not in self._added:
            self.added.append(eid)
            self._added.add(eid)

    def update(self, ids) -> None:
        for eid in ids:
            self.add(eid)


def new_entity_id(prefix: str, entity_type: str, record_key: str, salt: int = 0) -> str:
    """Deterministic id of a brand-new entity from its earliest-seen member's record_key."""
    raw = f"{entity_type}:{record_key}" + (f"#{salt}" if salt else "")
    return prefix + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]


def _earliest_members(df: pd.DataFrame) -> pd.DataFrame:
    """Per cluster label: its earliest-seen member's record_key and rank (first run seen, then record_date,
    missing last, then key); ``df`` gains the ``_rank`` column."""
    record_date = pd.to_datetime(df["record_date"], errors="coerce")
    order = np.lexsort(
        (
            df["record_key"].astype(str).to_numpy(),
            record_date.fillna(pd.Timestamp.max).to_numpy(),
            df["first_seen_seq"].to_numpy(),
        )
    )
    rank = np.empty(len(df), dtype=np.int64)
    rank[order] = np.arange(len(df))
    df["_rank"] = rank
    first = df.sort_values("_rank").drop_duplicates("label")[["label", "record_key", "_rank"]]
    return first.rename(columns={"record_key": "first_key", "_rank": "first_rank"}).set_index("label")


def _old_id_winners(df: pd.DataFrame, first: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Which cluster keeps which old id: the members per (old id, cluster), the id each cluster keeps
    (label → id) and the won ids that merge into another (old_id, kept_id, n)."""
    old = df[df["old_id"].notna()]
    counts = (
        old.groupby(["old_id", "label"], sort=False)
        .agg(n=("stayed", "size"), stayed=("stayed", "sum"))
        .reset_index()
    )
    counts["first_rank"] = first.loc[counts["label"], "first_rank"].to_numpy()
    counts["old_id"] = counts["old_id"].astype(str)
    # each old id goes to the cluster holding most of its members (ties: the one holding more members whose
    # matching columns did not change since, then the cluster seen first)
    winners = counts.sort_values(
        ["old_id", "n", "stayed", "first_rank"], ascending=[True, False, False, True]
    ).drop_duplicates("old_id")
    # each cluster keeps the won id with most members (ties: the smaller id); the other won ids merge into it
    kept = winners.sort_values(["label", "n", "old_id"], ascending=[True, False, True]).drop_duplicates(
        "label"
    )
    label_id = pd.Series(kept["old_id"].to_numpy(), index=kept["label"].to_numpy(), dtype=object)
    merged = winners.merge(kept[["label", "old_id"]].rename(columns={"old_id": "kept_id"}), on="label")
    return counts, label_id, merged[merged["old_id"] != merged["kept_id"]]


def _issue_new_ids(
    labels: pd.Index, keys: list[str], *, prefix: str, entity_type: str, issued: IssuedIds
) -> dict:
    """A new id per cluster label from its earliest member's key, salted where the id was issued before (or
    twice in this batch); ``issued`` is updated in place."""
    sha = hashlib.sha256
    head = f"{entity_type}:"
    candidates = [prefix + sha((head + k).encode("utf-8")).hexdigest()[:12] for k in keys]
    new_ids = dict(zip(labels.tolist(), candidates, strict=True))
    clash = pd.Series(candidates, dtype=object).duplicated().to_numpy() | issued.contains_many(candidates)
    issued.update(c for c, bad in zip(candidates, clash, strict=True) if not bad)
    for label, key, bad in zip(labels.tolist(), keys, clash, strict=True):
        if not bad:
            continue
        salt = 1
        eid = new_entity_id(prefix, entity_type, key, salt)
        while eid in issued:
            salt += 1
            eid = new_entity_id(prefix, entity_type, key, salt)
        issued.add(eid)
        new_ids[label] = eid
    return new_ids


def _merge_split_history(
    counts: pd.DataFrame, merged: pd.DataFrame, new_ids: dict, *, entity_type: str, run_id: str
) -> pd.DataFrame:
    """``merge`` rows (a won id folded into the cluster's kept one) and ``split`` rows (a cluster with a new id
    that took members of old entities), sorted."""
    rows = [
        pd.DataFrame(
            {
                "old_id": merged["old_id"],
                "new_id": merged["kept_id"],
                "reason": "merge",
                "records": merged["n"],
            }
        )
    ]
    split = counts[counts["label"].isin(list(new_ids))]
    if len(split):
        rows.append(
            pd.DataFrame(
                {
                    "old_id": split["old_id"],
                    "new_id": split["label"].map(new_ids),
                    "reason": "split",
                    "records": split["n"],
                }
            )
        )
    hist = pd.concat(rows, ignore_index=True)
    hist.insert(0, "entity_type", entity_type)
    hist["run_id"] = run_id
    hist = hist[HISTORY_COLUMNS].astype({c: "string" for c in HISTORY_COLUMNS if c != "records"})
    hist["records"] = hist["records"].astype("int64")
    return hist.sort_values(["reason", "old_id", "new_id"]).reset_index(drop=True)


def assign_ids(
    records: pd.DataFrame,
    *,
    prefix: str,
    entity_type: str,
    issued: IssuedIds,
    run_id: str,
) -> tuple[pd.Series, pd.DataFrame]:
    """Entity id for every record from its cluster label and the ids its members had.

    ``records`` has columns record_key, label (cluster), old_id (NA for records never seen), first_seen_seq,
    record_date, and optionally changed (the record's matching columns changed since the last run). Every
    record of an old id that appears must be in ``records``. Returns the ids (aligned with ``records``) and the
    merge / split rows of ``id_history``. ``issued`` is updated in place.
    """
    df = records[["record_key", "label", "old_id", "first_seen_seq", "record_date"]].copy()
    df["stayed"] = ~records["changed"].to_numpy(dtype=bool) if "changed" in records.columns else True
    first = _earliest_members(df)
    counts, label_id, merged = _old_id_winners(df, first)
    need = first.index.difference(label_id.index)
    need_keys = first.loc[need, "first_key"].astype(str).tolist()
    new_ids = _issue_new_ids(need, need_keys, prefix=prefix, entity_type=entity_type, issued=issued)
    label_id = pd.concat([label_id, pd.Series(new_ids, dtype=object)])
    ids = pd.Series(label_id.loc[df["label"].to_numpy()].to_numpy(), index=records.index, dtype="string")
    return ids, _merge_split_history(counts, merged, new_ids, entity_type=entity_type, run_id=run_id)
