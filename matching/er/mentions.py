"""What a run reads: the mentions of one entity type and the reviewed decisions, checked and narrowed.

:func:`prepare_mentions` checks the record keys and keeps only the columns matching reads (:func:`read_columns`);
:func:`record_hashes` tells which records changed since the state was saved; :func:`normalise_decisions`
puts a reviewer's match / non-match decisions into one shape.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd

from matching.er.blocking import combine_hashes, key_columns, value_hashes
from matching.er.ids import DECISION_COLUMNS, empty_decisions, record_key_hashes
from matching.er.settings import EntitySettings
from warehouse.errors import UserError

_MATCH = {"match", "same", "must_link", "yes", "true", "1", "是", "同一"}
_NON_MATCH = {"non_match", "nonmatch", "different", "cannot_link", "no", "false", "0", "否", "不同"}


class MentionsError(UserError, ValueError):
    """The mentions handed to :func:`~matching.er.engine.resolve` break the contract (missing or repeated
    record_key ...)."""


def prepare_mentions(mentions: pd.DataFrame, settings: EntitySettings, *, sort: bool = True) -> pd.DataFrame:
    """The columns matching reads, dates parsed once, ``_rk`` (the record key's hash); sorted by record_key
    unless ``sort`` is False (an incremental run sorts only the records it resolves)."""
    if "record_key" not in mentions.columns:
        raise MentionsError(
            f"{settings.entity_type} mentions need a record_key column ('feed:source_record_id')"
        )
    keys = mentions["record_key"].astype("string")
    if keys.isna().any():
        raise MentionsError(f"{settings.entity_type}: {int(keys.isna().sum())} mentions have no record_key")
    key_hashes = record_key_hashes(keys)
    maybe = pd.Series(key_hashes).duplicated(keep=False).to_numpy()  # equal hashes first, then the strings
    repeated = keys[maybe].duplicated() if maybe.any() else pd.Series([], dtype=bool)
    if repeated.any():
        raise MentionsError(
            f"{settings.entity_type}: record_key repeats, e.g. {keys[maybe][repeated].iloc[0]!r}; "
            "each input record must appear once per entity type"
        )
    # only what matching reads: a narrow copy keeps memory down on a million records
    df = mentions[[c for c in read_columns(settings) if c in mentions.columns]]
    df["record_key"] = keys
    for c in df.columns:
        # dates arrive as python date objects (object dtype): parse once, every key and comparison reuses it
        if df[c].dtype == object:
            first = df[c].dropna().head(1)
            if len(first) and isinstance(first.iloc[0], (_dt.date, _dt.datetime)):
                df[c] = pd.to_datetime(df[c], errors="coerce")
    if "feed" not in df.columns:
        df["feed"] = keys.str.split(":", n=1).str[0]
    if "record_date" not in df.columns:
        df["record_date"] = pd.NaT
    if "priority" not in df.columns:
        df["priority"] = 0
    df["_rk"] = key_hashes
    return (
        df.sort_values("record_key", kind="stable").reset_index(drop=True)
        if sort
        else df.reset_index(drop=True)
    )


def read_columns(settings: EntitySettings) -> list[str]:
    """The mention columns a run reads (:func:`prepare_mentions` drops every other one first): a caller that
    reads mentions from a file for :func:`~matching.er.engine.resolve` need read no more."""
    wanted = [
        "record_key",
        "feed",
        "record_date",
        "priority",
        settings.source_column,
        *compared_columns(settings),
    ]
    return list(dict.fromkeys(wanted))


def compared_columns(settings: EntitySettings) -> list[str]:
    """Mention columns whose change makes a record 'changed' (blocking keys, compared and identity columns)."""
    cols: set[str] = set()
    for rule in settings.blocking:
        for e in (*rule.on, *([rule.unless_both] if rule.unless_both else [])):
            cols |= key_columns(e)
    for c in settings.comparisons:
        cols |= set(c.columns)
    cols |= set(settings.identity)  # kept in the registry whatever the comparisons read
    cols |= {by for _, by in settings.identity_implied}
    return sorted(cols)


def record_hashes(df: pd.DataFrame, settings: EntitySettings) -> np.ndarray:
    """A 64-bit hash per record over the columns that matter to matching (to find changed records).

    Stable from run to run and across machines (SipHash with a fixed key over each distinct value, combined
    per record), so that a saved state tells which records changed since.
    """
    cols = [c for c in compared_columns(settings) if c in df.columns]
    if not cols:
        return np.zeros(len(df), dtype=np.uint64)
    # a missing value is a value here: mark it so that it does not blank the whole record's hash
    parts = [np.where(h == 0, np.uint64(0x9E3779B97F4A7C15), h) for h in (value_hashes(df[c]) for c in cols)]
    return combine_hashes(parts)


def normalise_decisions(decisions: pd.DataFrame | None) -> pd.DataFrame:
    """Reviewed pairs as (record_key_l ≤ record_key_r, decision ∈ {match, non_match}); later rows win."""
    if decisions is None or len(decisions) == 0:
        return empty_decisions()
    missing = set(DECISION_COLUMNS) - set(decisions.columns)
    if missing:
        raise MentionsError(f"decisions need columns {DECISION_COLUMNS}; missing {sorted(missing)}")
    d = decisions[DECISION_COLUMNS].astype("string").dropna()
    word = d["decision"].str.strip().str.lower()
    unknown = np.array(None, dtype=object)
    d = d.assign(
        decision=np.where(word.isin(_MATCH), "match", np.where(word.isin(_NON_MATCH), "non_match", unknown))
    )
    bad = d["decision"].isna()
    if bad.any():
        raise MentionsError(
            f"decision {decisions.loc[bad.index[bad][0], 'decision']!r} is neither match nor non_match"
        )
    lo = d[["record_key_l", "record_key_r"]].min(axis=1)
    hi = d[["record_key_l", "record_key_r"]].max(axis=1)
    d = pd.DataFrame({"record_key_l": lo, "record_key_r": hi, "decision": d["decision"]}).astype("string")
    return d.drop_duplicates(["record_key_l", "record_key_r"], keep="last").reset_index(drop=True)
