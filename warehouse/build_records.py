"""Builders of the record-level tables: which source record became which entity (``source_xref``), the rows
and fields that did not make it (``quarantine``, ``field_issue``) and every address field's binding
(``address_binding``, ``address_review``). Registered with :func:`warehouse.build.builds` when imported."""

from __future__ import annotations

import pandas as pd

from warehouse.build import Assembly, builds, builds_query
from warehouse.build_sql import Inputs, first_per_key_query, source_xref_query
from warehouse.schema import TABLES

_ISSUE_COLUMNS = TABLES["field_issue"].column_names


@builds_query("source_xref")
def build_source_xref(inputs: Inputs) -> tuple[str, list[str]]:
    """Every mention's record and the entity it was resolved to (assignments joined to mentions)."""
    return source_xref_query(inputs)


@builds("quarantine")
def build_quarantine(a: Assembly) -> pd.DataFrame:
    return a.quarantine


@builds_query("address_review")
def build_address_review(inputs: Inputs) -> tuple[str, list[str]]:
    """The unmatched and ambiguous bindings, the first of each (feed, record, field)."""
    return first_per_key_query("address_review", inputs, "status IN ('unmatched', 'ambiguous')")


@builds_query("address_binding")
def build_address_binding(inputs: Inputs) -> tuple[str, list[str]]:
    """One row per (source record, address field) with text: the department's address and what it was bound
    to (the address text is published in the restricted layer only)."""
    return first_per_key_query("address_binding", inputs)


@builds("field_issue")
def build_field_issue(a: Assembly) -> pd.DataFrame:
    """The field issues of the mentions step and of staging, one per key (the mentions step's first)."""
    frames = [f.reindex(columns=_ISSUE_COLUMNS).astype(object) for f in (a.issues, a.staged_issues) if len(f)]
    if not frames:
        return pd.DataFrame(columns=_ISSUE_COLUMNS)
    issues = pd.concat(frames, ignore_index=True)
    return issues.drop_duplicates(list(TABLES["field_issue"].key))
