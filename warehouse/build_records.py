"""Builders of the record-level tables: which source record became which entity (``source_xref``), the rows
and fields that did not make it (``quarantine``, ``field_issue``) and every address field's binding
(``address_binding``, ``address_review``). Registered with :func:`warehouse.build.builds` when imported."""

from __future__ import annotations

import pandas as pd

from warehouse.build import Assembly, builds
from warehouse.schema import ENTITY_TYPES, TABLES

_ISSUE_COLUMNS = TABLES["field_issue"].column_names


@builds("source_xref")
def build_source_xref(a: Assembly) -> pd.DataFrame:
    frames = []
    for t in ENTITY_TYPES:
        x = a.assignments[t].merge(
            a.mentions[t][["record_key", "feed", "source_record_id", "raw_sha256", "line"]], on="record_key"
        )
        x["entity_type"] = t
        frames.append(x)
    return pd.concat(frames, ignore_index=True)


@builds("quarantine")
def build_quarantine(a: Assembly) -> pd.DataFrame:
    return a.quarantine


@builds("address_review")
def build_address_review(a: Assembly) -> pd.DataFrame:
    review = a.bindings[a.bindings["status"].isin(["unmatched", "ambiguous"])]
    return review.drop_duplicates(["feed", "source_record_id", "field"])


@builds("address_binding")
def build_address_binding(a: Assembly) -> pd.DataFrame:
    """One row per (source record, address field) with text: the department's address and what it was bound
    to (the address text is published in the restricted layer only)."""
    key = [c for c in TABLES["address_binding"].key if c in a.bindings.columns]
    return a.bindings.drop_duplicates(key)


@builds("field_issue")
def build_field_issue(a: Assembly) -> pd.DataFrame:
    """The field issues of the mentions step and of staging, one per key (the mentions step's first)."""
    frames = [f.reindex(columns=_ISSUE_COLUMNS).astype(object) for f in (a.issues, a.staged_issues) if len(f)]
    if not frames:
        return pd.DataFrame(columns=_ISSUE_COLUMNS)
    issues = pd.concat(frames, ignore_index=True)
    return issues.drop_duplicates(list(TABLES["field_issue"].key))
