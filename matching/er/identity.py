"""Exclusive identifiers (``identity:`` in the settings): their hashes per record, per clustering node and
their identity units.

An identity column holds a value that names one entity and no other: a valid 身份证号 for persons, a valid
统一社会信用代码 for organisations (the mention columns hold only values whose check character is right, an old
15-digit number already raised to 18). Clustering (:mod:`matching.er.clustering`) joins all records of one
value and never puts two values into one entity. Values are compared as 64-bit hashes (0 = none), the same
hashes a blocking rule on the column alone computes.
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


def identity_columns(entity_type: str, raw: Any) -> tuple[str, ...]:
    """The ``identity:`` setting as column names: a list of ``{column: name}`` (or plain names)."""
    where = f"matching.{entity_type}.identity"
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        raise SettingsError(f"{where}: a list such as [{{column: id_number}}] ([] for none); got {raw!r}")
    columns = []
    for item in raw:
        if isinstance(item, dict) and set(item) == {"column"}:
            item = item["column"]
        if not isinstance(item, str) or not item.strip() or "(" in item:
            raise SettingsError(f"{where}: each entry is {{column: <mention column>}}; got {item!r}")
        columns.append(item.strip())
    if len(set(columns)) != len(columns):
        raise SettingsError(f"{where}: columns repeat: {columns}")
    return tuple(columns)


def identity_hashes(records: pd.DataFrame, settings: EntitySettings, keys: list[np.ndarray]) -> np.ndarray:
    """(records × identity columns) hash of each record's identity value, 0 = none. ``keys``: the records'
    blocking-key hashes per rule; a rule on the identity column alone has computed them already."""
    out = np.zeros((len(records), len(settings.identity)), dtype=np.uint64)
    for j, column in enumerate(settings.identity):
        same = [i for i, rule in enumerate(settings.blocking) if rule.on == (column,)]
        out[:, j] = keys[same[0]] if same else value_hashes(evaluate_key(records, column))
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
