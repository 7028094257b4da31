"""The golden records as gridhub computed them before issue #19 (pandas sorts over string columns, one
``sort_values`` per field): the reference :mod:`matching.er.golden` must reproduce exactly
(tests/test_er_golden.py). Not used by the project's code."""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.er.settings import META_COLUMNS, EntitySettings, Survivorship


def _json_escape(s: pd.Series) -> pd.Series:
    """Backslashes and double quotes escaped, for a JSON string literal."""
    return s.str.replace("\\", "\\\\", regex=False).str.replace('"', '\\"', regex=False)


def _surviving(df: pd.DataFrame, f: str, surv: Survivorship) -> pd.DataFrame:
    """Per entity (index), the row whose value of field ``f`` survives: non-missing values ranked by the
    field's rules, ties to the smallest record_key."""
    vals = df[f]
    present = vals.notna()
    if vals.dtype == object or isinstance(vals.dtype, pd.StringDtype):
        as_text = vals.astype("string")
        present &= as_text.str.len().fillna(0) > 0
    nulls = surv.null_values.get(f)
    if nulls:
        present &= ~vals.astype("string").isin(list(nulls)).fillna(False)
    sub = df.loc[present, ["entity_id", f, "_prio", "_date", "_key"]]
    sort_cols, ascending = ["entity_id"], [True]
    for rule in surv.rules_for(f):
        if rule == "priority":
            sort_cols.append("_prio")
            ascending.append(False)
        elif rule == "recent":
            sort_cols.append("_date")
            ascending.append(False)
        elif rule == "complete":
            sub = sub.assign(_len=sub[f].astype("string").str.len())
            sort_cols.append("_len")
            ascending.append(False)
        elif rule == "frequent":
            sub = sub.assign(_freq=sub.groupby(["entity_id", f], sort=False)[f].transform("size"))
            sort_cols.append("_freq")
            ascending.append(False)
    sort_cols.append("_key")
    ascending.append(True)
    best = sub.sort_values(sort_cols, ascending=ascending, na_position="last").drop_duplicates("entity_id")
    return best.set_index("entity_id")


def _lists_by_entity(entity_ids: pd.Series, values: pd.Series) -> pd.Series:
    """The values of each entity as a list, in the given order (``entity_ids`` sorted): ``groupby().agg(list)``
    without its Python call per entity (20 s for 99,000 persons at 100,000 residents, now a split)."""
    eid = entity_ids.to_numpy(dtype=object)
    vals = values.to_numpy(dtype=object)
    if len(eid) == 0:
        return pd.Series([], dtype=object)
    starts = np.flatnonzero(np.r_[True, eid[1:] != eid[:-1]])
    return pd.Series([part.tolist() for part in np.split(vals, starts[1:])], index=pd.Index(eid[starts]))


def golden_records(
    mentions: pd.DataFrame, assignments: pd.DataFrame, settings: EntitySettings
) -> pd.DataFrame:
    """matching.er.golden.golden_records as it was (a sort per field, string keys)."""
    surv = settings.survivorship
    idc = settings.id_column
    df = mentions.merge(
        assignments[["record_key", "entity_id"]], on="record_key", how="inner", validate="1:1"
    )
    if "priority" not in df.columns:
        df["priority"] = 0
    if "record_date" not in df.columns:
        df["record_date"] = pd.NaT
    df["_prio"] = pd.to_numeric(df["priority"], errors="coerce").fillna(0).to_numpy()
    df["_date"] = pd.to_datetime(df["record_date"], errors="coerce")
    df["_key"] = df["record_key"].astype("string")
    fields = (
        list(surv.include)
        if surv.include
        else [c for c in mentions.columns if c not in META_COLUMNS and c not in ("true_id",)]
    )
    fields = [f for f in fields if f not in surv.exclude]
    ents = pd.Index(df["entity_id"].unique()).sort_values()
    out = pd.DataFrame({idc: ents.astype("string")})
    sources_json = pd.Series("", index=ents, dtype="string")
    for f in fields:
        if f not in df.columns:
            continue
        vals = df[f]
        best = _surviving(df, f, surv)
        name = surv.rename.get(f, f)
        out[name] = best[f].reindex(ents).to_numpy()
        if vals.dtype != object and not isinstance(vals.dtype, pd.StringDtype):
            out[name] = out[name].astype(vals.dtype)
        src = best["_key"].reindex(ents)
        piece = ('"' + name + '":"' + _json_escape(src.astype("string")) + '"').astype("string")
        joined = (sources_json + ",").where(sources_json != "", "") + piece
        sources_json = joined.where(piece.notna(), sources_json)
    out["field_sources"] = ("{" + sources_json.fillna("") + "}").to_numpy()
    feeds = df[["entity_id", "feed"]].drop_duplicates().sort_values(["entity_id", "feed"])
    out["sources"] = _lists_by_entity(feeds["entity_id"], feeds["feed"]).reindex(ents).to_numpy()
    out["records"] = df.groupby("entity_id").size().reindex(ents).to_numpy().astype(np.int64)
    for list_col, field in surv.collect.items():
        if field not in df.columns:
            continue
        surviving = out.set_index(idc)[surv.rename.get(field, field)]
        seen = df[["entity_id", field]].dropna().drop_duplicates()
        seen = seen[
            seen[field].astype("string") != surviving.reindex(seen["entity_id"]).astype("string").to_numpy()
        ]
        lists = seen.sort_values(["entity_id", field]).groupby("entity_id")[field].agg(list)
        out[list_col] = pd.Series(
            [x if isinstance(x, list) else [] for x in lists.reindex(ents)], index=out.index, dtype=object
        )
    return out.reset_index(drop=True)
