"""Exclusive identifiers (``identity:`` in the settings): their hashes per record, per clustering node and
their identity units.

An identity column holds a value that names one entity and no other: a valid 身份证号 for persons, a valid
统一社会信用代码 for organisations (the mention columns hold only values whose check character is right, an old
15-digit number already raised to 18). Clustering (:mod:`matching.er.clustering`) joins all records of one
value and never puts two values into one entity. Values are compared as 64-bit hashes (0 = none), the same
hashes a blocking rule on the column alone computes.

**Implied values.** An entry may name a column whose value implies the identity (``{column: credit_code,
implied_by: org_code}``: the old 9-character 组织机构代码 is characters 9–17 of the credit code). A record
without an identity value whose ``implied_by`` value the records holding an identity carry with exactly one
identity value takes that value: an employer written with its old code is the credit code's organisation, one
identity whatever the size and whatever the names say (a renamed organisation's old-code rows). A value carried
with two identity values (a placeholder) implies nothing. Only the records of one run are looked at: in an
incremental run an old-code record whose credit code is only in the registry is matched by its edges.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from matching.er.blocking import evaluate_key, value_hashes
from matching.er.settings import EntitySettings, SettingsError

log = logging.getLogger(__name__)

_NO_IDENTITY = np.uint64(0x9E3779B97F4A7C15)  # mixed into record hashes used as units


def _column_name(where: str, item: Any) -> str:
    if not isinstance(item, str) or not item.strip() or "(" in item:
        raise SettingsError(f"{where}: each entry is {{column: <mention column>}}; got {item!r}")
    return item.strip()


def identity_columns(entity_type: str, raw: Any) -> tuple[str, ...]:
    """The ``identity:`` setting as column names: a list of ``{column: name}`` (or plain names), each entry
    optionally with ``implied_by`` (see :func:`implied_columns`)."""
    where = f"matching.{entity_type}.identity"
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        raise SettingsError(f"{where}: a list such as [{{column: id_number}}] ([] for none); got {raw!r}")
    columns = []
    for item in raw:
        if isinstance(item, dict) and set(item) in ({"column"}, {"column", "implied_by"}):
            item = item["column"]
        columns.append(_column_name(where, item))
    if len(set(columns)) != len(columns):
        raise SettingsError(f"{where}: columns repeat: {columns}")
    return tuple(columns)


def implied_columns(entity_type: str, raw: Any) -> tuple[tuple[str, str], ...]:
    """(identity column, ``implied_by`` column) of the ``identity:`` entries that have one."""
    where = f"matching.{entity_type}.identity"
    return tuple(
        (_column_name(where, item["column"]), _column_name(f"{where}.implied_by", item["implied_by"]))
        for item in (raw if isinstance(raw, (list, tuple)) else [])
        if isinstance(item, dict) and "implied_by" in item
    )


def identity_hashes(records: pd.DataFrame, settings: EntitySettings, keys: list[np.ndarray]) -> np.ndarray:
    """(records × identity columns) hash of each record's identity value, 0 = none. ``keys``: the records'
    blocking-key hashes per rule; a rule on the identity column alone has computed them already."""

    def hashes(column: str) -> np.ndarray:
        same = [i for i, rule in enumerate(settings.blocking) if rule.on == (column,)]
        return keys[same[0]] if same else value_hashes(evaluate_key(records, column))

    out = np.zeros((len(records), len(settings.identity)), dtype=np.uint64)
    implied = dict(settings.identity_implied)
    for j, column in enumerate(settings.identity):
        out[:, j] = hashes(column)
        if column in implied:
            out[:, j] = implied_identity(out[:, j], hashes(implied[column]))
    return out


def implied_identity(identity: np.ndarray, by: np.ndarray) -> np.ndarray:
    """``identity`` (hashes, 0 = none) with each missing value taken from the ``by`` value (hash) it goes with:
    where the records holding an identity carry that ``by`` value with exactly one identity value."""
    held = (identity != 0) & (by != 0)
    seen = pd.DataFrame({"by": by[held], "id": identity[held]}).drop_duplicates()
    one = seen[~seen["by"].duplicated(keep=False)]
    want = np.flatnonzero((identity == 0) & (by != 0))
    if not len(one) or not len(want):
        return identity
    at = pd.Index(one["by"].to_numpy(dtype=np.uint64)).get_indexer(by[want])
    out = identity.copy()
    out[want[at >= 0]] = one["id"].to_numpy(dtype=np.uint64)[at[at >= 0]]
    return out


def record_units(identity: np.ndarray, record_hash: np.ndarray) -> np.ndarray:
    """Identity unit of each record for the cluster-size guard: its (first) identity value, else its record
    hash, so that records sharing a value, or sharing every matching value, count once."""
    unit = np.asarray(record_hash, dtype=np.uint64) ^ _NO_IDENTITY
    for j in reversed(range(identity.shape[1])):
        unit = np.where(identity[:, j] != 0, identity[:, j], unit)
    return unit


def node_identity(
    delta_identity: np.ndarray, member_identity: np.ndarray, member_node: np.ndarray, n_nodes: int
) -> np.ndarray:
    """(nodes × identity columns) identity of each clustering node: a delta record's own, a kept entity's the
    value its members hold (an entity holds one; an older state might hold two: the largest hash is taken)."""
    n_delta, k = delta_identity.shape
    out = np.zeros((n_nodes, k), dtype=np.uint64)
    out[:n_delta] = delta_identity
    for j in range(k):
        held = member_identity[:, j] != 0
        if not held.any():
            continue
        nodes, values = member_node[held], member_identity[held, j]
        high = np.zeros(n_nodes, dtype=np.uint64)
        np.maximum.at(high, nodes, values)
        low = np.full(n_nodes, np.iinfo(np.uint64).max, dtype=np.uint64)
        np.minimum.at(low, nodes, values)
        two = int(((low != np.iinfo(np.uint64).max) & (low != high)).sum())
        if two:
            log.warning("%d kept entities hold two values of identity column %d (an older state)", two, j)
        out[n_delta:, j] = high[n_delta:]
    return out
