"""The registry (record → entity, with each record's matching columns and key hashes) before and after a run.

The registry keeps, per record, the 64-bit hash of each blocking rule's key (column :func:`key_column`) and
of each term-frequency value (:func:`tf_column`), so that a delta finds its candidates among the kept records
(:func:`candidate_rows`) without re-reading them; and of each identity value (:func:`identity_column`), so that
a delta record finds the entity holding its ID number (:func:`identity_holders`). After a run, :func:`merged_registry` keeps the untouched
rows as they were and writes the new entity ids of the records that took part.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.er.ids import arrow_strings


def key_column(rule_index: int) -> str:
    """Registry column holding the hash of blocking rule ``rule_index``'s key per record."""
    return f"_key_{rule_index}"


def tf_column(slot: tuple[int, int]) -> str:
    """Registry column holding the hash of a term-frequency value per record: ``slot`` is (comparison index,
    level); level 0 keeps the column name of engines that counted only that level."""
    k, level = slot
    return f"_tf_{k}" if level == 0 else f"_tf_{k}_{level}"


def identity_column(identity_index: int) -> str:
    """Registry column holding the hash of identity column ``identity_index``'s value per record (0 = none)."""
    return f"_id_{identity_index}"


def identity_holders(registry: pd.DataFrame, identity: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Kept registry rows holding an identity value that one of the ``identity`` rows (records × identity
    columns, uint64 hashes) holds: the delta joins the entities holding its ID numbers, candidates or not."""
    holds = np.zeros(len(registry), dtype=bool)
    for j in range(identity.shape[1]):
        wanted = np.unique(identity[:, j][identity[:, j] != 0])
        if len(wanted):
            held = registry[identity_column(j)].to_numpy(dtype=np.uint64)
            holds |= pd.Series(held).isin(wanted).to_numpy()
    return np.flatnonzero(holds & alive)


def candidate_rows(registry: pd.DataFrame, delta_keys: list[np.ndarray], alive: np.ndarray) -> np.ndarray:
    """Kept registry rows sharing at least one blocking key with a delta record (uint64 look-ups, no strings)."""
    candidate = np.zeros(len(registry), dtype=bool)
    for rule_index, keys in enumerate(delta_keys):
        wanted = np.unique(keys[keys != 0])
        if len(wanted):
            held = registry[key_column(rule_index)].to_numpy(dtype=np.uint64)
            candidate |= pd.Series(held).isin(wanted).to_numpy()
    return np.flatnonzero(candidate & alive)


def is_in(s: pd.Series, values: pd.Index) -> np.ndarray:
    """``s.isin(values)`` for a long string column and a short list: Arrow hashes the short side only."""
    import pyarrow.compute as pc

    arr = arrow_strings(s)
    hit = pc.is_in(arr, value_set=arrow_strings(pd.Series(values)).cast(arr.type))
    return hit.to_numpy(zero_copy_only=False).astype(bool)


def _replaced_at(s: pd.Series, at: np.ndarray, values) -> pd.Series:
    """A copy of ``s`` with the values at positions ``at`` replaced (string columns stay Arrow strings)."""
    values = np.asarray(values, dtype=object if s.dtype == "string" else s.dtype)
    if s.dtype == "string":
        import pyarrow as pa
        import pyarrow.compute as pc

        order = np.argsort(at, kind="stable")
        mask = np.zeros(len(s), dtype=bool)
        mask[at] = True
        arr = arrow_strings(s)
        replaced = pc.replace_with_mask(arr, pa.array(mask), pa.array(values[order], type=arr.type))
        return pd.Series(pd.array(replaced, dtype="string"), index=s.index, name=s.name)
    out = s.to_numpy(copy=True)
    out[at] = values
    return pd.Series(out, index=s.index, name=s.name)


def merged_registry(
    registry: pd.DataFrame, added: pd.DataFrame, alive: np.ndarray, updated: np.ndarray, values: dict
) -> pd.DataFrame:
    """The registry after an incremental run: kept rows as they were (no copy of a million rows when nothing
    left), the rows at ``updated`` with their new ``values`` (entity id, score, method), ``added`` appended."""
    base = registry if alive.all() else registry[alive].reset_index(drop=True)
    at = updated if alive.all() else (np.cumsum(alive) - 1)[updated]
    if len(at):
        base = base.assign(**{c: _replaced_at(base[c], at, v) for c, v in values.items()})
    base = base.reindex(columns=added.columns)  # a column the earlier runs did not have is empty for them
    return pd.concat([base, added], ignore_index=True) if len(added) else base
