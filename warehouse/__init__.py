"""The gridhub warehouse: canonical schema, validation gate, versioned snapshots and the privacy layer.

A thin re-export of :mod:`warehouse.validate`, :mod:`warehouse.validation_report`, :mod:`warehouse.snapshot`,
:mod:`warehouse.read`, :mod:`warehouse.privacy`, :mod:`warehouse.datareturn` and :mod:`warehouse.schema` (see ``docs/warehouse.md``). ``publish`` lives in :mod:`warehouse.snapshot`: a
module named ``warehouse.publish`` would shadow the function of the same name here. Names are resolved on
first use (PEP 562), so that
``import warehouse.schema`` — which the config model and every DAG file do — stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "validate_tables": "warehouse.validate",
    "ValidationReport": "warehouse.validation_report",
    "ExpectationOutcome": "warehouse.validation_report",
    "SchemaMismatch": "warehouse.validate",
    "publish": "warehouse.snapshot",
    "Snapshot": "warehouse.snapshot",
    "PublishBlocked": "warehouse.snapshot",
    "PublishError": "warehouse.snapshot",
    "read_table": "warehouse.read",
    "connect": "warehouse.read",
    "sql_views": "warehouse.read",
    "current_manifest": "warehouse.read",
    "current_run_id": "warehouse.read",
    "list_snapshots": "warehouse.read",
    "read_manifest": "warehouse.read",
    "NoSnapshot": "warehouse.read",
    "SnapshotChoiceError": "warehouse.read",
    "snapshot_as_of": "warehouse.read",
    "data_return": "warehouse.datareturn",
    "DataReturn": "warehouse.datareturn",
    "layer_schema": "warehouse.privacy",
    "PrivacyKeyError": "warehouse.privacy",
    "TABLES": "warehouse.schema",
    "Layer": "warehouse.schema",
    "arrow_schema": "warehouse.schema",
}

__all__ = [
    "DataReturn",
    "ExpectationOutcome",
    "Layer",
    "NoSnapshot",
    "PrivacyKeyError",
    "PublishBlocked",
    "PublishError",
    "SchemaMismatch",
    "Snapshot",
    "SnapshotChoiceError",
    "TABLES",
    "ValidationReport",
    "arrow_schema",
    "connect",
    "current_manifest",
    "current_run_id",
    "data_return",
    "layer_schema",
    "list_snapshots",
    "publish",
    "read_manifest",
    "read_table",
    "snapshot_as_of",
    "sql_views",
    "validate_tables",
]

if TYPE_CHECKING:
    from warehouse.datareturn import DataReturn, data_return
    from warehouse.privacy import PrivacyKeyError, layer_schema
    from warehouse.read import (
        NoSnapshot,
        SnapshotChoiceError,
        connect,
        current_manifest,
        current_run_id,
        list_snapshots,
        read_manifest,
        read_table,
        snapshot_as_of,
        sql_views,
    )
    from warehouse.schema import TABLES, Layer, arrow_schema
    from warehouse.snapshot import PublishBlocked, PublishError, Snapshot, publish
    from warehouse.validate import SchemaMismatch, validate_tables
    from warehouse.validation_report import ExpectationOutcome, ValidationReport


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'warehouse' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
