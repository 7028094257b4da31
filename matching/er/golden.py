"""Golden records (主数据): one row per entity, every field chosen by survivorship, its source kept.

For each field, the entity's non-missing values are ranked by the field's rules (``priority``: the feed's
priority, high first; ``recent``: latest record_date first; ``complete``: longest value first; ``frequent``:
the value most of the entity's records give) and the first survives. Ties end on the smallest record_key,
so the same inputs always give the same golden record. ``field_sources`` (JSON) names, for every surviving
field, the record (``feed:source_record_id``) it came from; ``sources`` lists the feeds that describe the
entity.

Everything is integer work over the whole table (issue #19): each entity, record_key, feed and value is
numbered once, a field's survivor is one ``np.lexsort`` over integer keys (no string sorts: they were a
third of ``resolve_entities`` at 100,000 residents), and ``field_sources`` is joined by Arrow, not by
pandas string concatenation per field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from matching.er.settings import META_COLUMNS, EntitySettings, Survivorship

_LAST = np.iinfo(np.int64).max  # a missing record_date sorts after every date


def _present(vals: pd.Series, f: str, surv: Survivorship) -> np.ndarray:
    """Per record: field ``f`` has a value (not missing, not an empty text, not one of its null values)."""
    present = vals.notna().to_numpy(dtype=bool, copy=True)
    if vals.dtype == object or isinstance(vals.dtype, pd.StringDtype):
        present &= vals.astype("string").str.len().fillna(0).to_numpy() > 0
    nulls = surv.null_values.get(f)
    if nulls:
        present &= ~vals.astype("string").isin(list(nulls)).fillna(False).to_numpy(dtype=bool)
    return present


def _value_codes(vals: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Dense codes of present values (equal values, equal codes) and the distinct values."""
    codes, uniques = pd.factorize(vals, use_na_sentinel=True)
    return codes.astype(np.int64), pd.Series(uniques)


class _Table:
    """The mentions of the assigned records, numbered: entity (in sorted id order), record_key rank.

    ``mentions`` holds the keys and what the rules rank by; ``read`` gives other columns of the same mentions
    (:meth:`column`), so that a caller reading them from a file never holds every column at once."""

    def __init__(self, mentions: pd.DataFrame, assignments: pd.DataFrame, read: ColumnReader | None = None):
        # each mention's assignment row (-1: none), hashed by Arrow (a third of pandas' get_indexer's time)
        found = pc.index_in(_arrow(mentions["record_key"]), value_set=_arrow(assignments["record_key"]))
        at = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        self.assigned = np.flatnonzero(at >= 0) if (at < 0).any() else None  # None: every mention
        df = mentions.iloc[self.assigned].reset_index(drop=True) if self.assigned is not None else mentions
        eid = assignments["entity_id"].iloc[at[at >= 0]].reset_index(drop=True)
        self.df = df
        self.read = read
        self.ents = pd.Index(eid.unique()).sort_values()
        self.entity = self.ents.get_indexer(eid).astype(np.int64)
        self.keys = _arrow(df["record_key"])
        self.key_rank = np.empty(len(df), dtype=np.int64)  # record_keys are unique: no ties
        self.key_rank[pc.array_sort_indices(self.keys).to_numpy()] = np.arange(len(df))
        prio = df["priority"] if "priority" in df.columns else pd.Series(0, index=df.index)
        self.prio = pd.to_numeric(prio, errors="coerce").fillna(0).to_numpy(dtype=np.float64)
        date = (
            pd.to_datetime(df["record_date"], errors="coerce")
            if "record_date" in df.columns
            else pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
        )
        ns = date.to_numpy(dtype="datetime64[ns]").view(np.int64)
        self.date_desc = np.where(np.isnat(date.to_numpy(dtype="datetime64[ns]")), _LAST, -ns)

    def column(self, f: str) -> pd.Series:
        """Column ``f`` of the assigned mentions, in the table's row order."""
        if self.read is None or f in self.df.columns:
            return self.df[f]
        vals = self.read(f)
        return vals.iloc[self.assigned].reset_index(drop=True) if self.assigned is not None else vals

    def surviving(self, f: str, surv: Survivorship, vals: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Per entity with a value of ``f`` (its column ``vals``): its number and the row whose value survives
        (the field's rules in order, ties to the smallest record_key)."""
        rows = np.flatnonzero(_present(vals, f, surv))
        if not len(rows):
            return np.empty(0, dtype=np.int64), rows
        entity = self.entity[rows]
        keys: list[np.ndarray] = [entity]  # most significant first
        for rule in surv.rules_for(f):
            if rule == "priority":
                keys.append(-self.prio[rows])
            elif rule == "recent":
                keys.append(self.date_desc[rows])
            elif rule == "complete":
                codes, uniques = _value_codes(vals.iloc[rows])
                length = uniques.astype("string").str.len().to_numpy(dtype=np.int64)
                keys.append(-length[codes])
            elif rule == "frequent":
                codes, _ = _value_codes(vals.iloc[rows])
                _, inverse, counts = np.unique(
                    entity * np.int64(codes.max() + 1) + codes, return_inverse=True, return_counts=True
                )
                keys.append(-counts[inverse])
        keys.append(self.key_rank[rows])
        order = np.lexsort(keys[::-1])
        sorted_entity = entity[order]
        first = np.r_[True, sorted_entity[1:] != sorted_entity[:-1]]
        return sorted_entity[first], rows[order[first]]


#: entities whose ``field_sources`` are joined at a time: the per-field pieces exist for one chunk only
#: (issue #19: at a million persons, all pieces at once were 1 KB per entity per copy, four copies)
SOURCES_CHUNK = 25_000


def _field_sources(escaped: pa.Array, names: list[str], sources: list[np.ndarray], n: int) -> pd.Series:
    """``{"field":"key",...}`` per entity (Arrow-backed, no Python string per entity): for each field its
    name and, per entity, the row of ``escaped`` (record_keys) its value survived from (-1: no survivor)."""
    if not names:
        return pd.Series(np.full(n, "{}", dtype=object)).astype("str")
    chunks = []
    for lo in range(0, n, SOURCES_CHUNK):
        pieces = []
        for name, src in zip(names, sources, strict=True):
            part = src[lo : lo + SOURCES_CHUNK]
            taken = escaped.take(pa.array(np.maximum(part, 0)))
            taken = pc.if_else(pa.array(part >= 0), taken, pa.scalar(None, pa.string()))
            pieces.append(pc.binary_join_element_wise(f'"{name}":"', taken, '"', ""))
        joined = pc.binary_join_element_wise(*pieces, ",", null_handling="skip")
        del pieces
        chunks.append(pc.binary_join_element_wise("{", joined, "}", "").cast(pa.large_string()))
    out = (
        pa.chunked_array(chunks, type=pa.large_string())
        if chunks
        else pa.chunked_array([], pa.large_string())
    )
    return out.to_pandas()


def _arrow(s: pd.Series) -> pa.Array:
    """A column as one Arrow string array."""
    arr = pa.array(s.astype("string").array)
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return arr.cast(pa.string())


def _escaped(keys: pa.Array) -> pa.Array:
    """record_keys with backslashes and double quotes escaped for a JSON string literal."""
    return pc.replace_substring(pc.replace_substring(keys, "\\", "\\\\"), '"', '\\"')


def _sources(t: _Table, n: int) -> np.ndarray:
    """Per entity: the feeds that describe it, sorted, as a list (a feed missing as None, first)."""
    out = np.empty(n, dtype=object)
    if n == 0:
        return out
    feed, feeds = pd.factorize(t.df["feed"], sort=True)  # codes in the feeds' sorted order
    width = np.int64(len(feeds) + 1)
    by_bit = [None, *np.asarray(feeds, dtype=object)]  # bit 0: no feed, bit i: the i-th feed
    if width < 63:  # entities give few sets of feeds: a bit per feed, each set's list made once
        sets = np.zeros(n, dtype=np.int64)
        np.bitwise_or.at(sets, t.entity, np.left_shift(np.int64(1), feed.astype(np.int64) + 1))
        at, uniques = pd.factorize(sets)
        lists = [[by_bit[b] for b in range(int(width)) if int(u) >> b & 1] for u in uniques]
        out[:] = [lists[i].copy() for i in at]
        return out
    pairs = np.unique(t.entity * width + (feed + 1))  # by entity, then feed
    ent = pairs // width
    names = np.asarray(by_bit, dtype=object)[pairs % width]
    starts = np.flatnonzero(np.r_[True, ent[1:] != ent[:-1]])
    out[:] = [part.tolist() for part in np.split(names, starts[1:])]
    return out


def golden_records(
    mentions: pd.DataFrame, assignments: pd.DataFrame, settings: EntitySettings
) -> pd.DataFrame:
    """One row per entity: id, surviving field values, ``sources``, ``field_sources`` (JSON), ``records``.

    The id column is named after the entity type (person_id, org_id, house_id, facility_id); fields are
    renamed by ``survivorship.rename`` (org_name → name ...); ``survivorship.collect`` adds list columns of
    the other values seen (an organisation's former names).
    """
    return next(golden_chunks(mentions, assignments, settings))


def chunkable(mentions: pd.DataFrame, settings: EntitySettings) -> bool:
    """Whether :func:`golden_chunks` may cut these golden records into chunks whose columns have the types of
    the whole: no collected lists, and only text (``str`` / ``string``) and numpy numbers and dates; an object
    column's type (or a masked number's, made object on the way) a chunk's own values would decide."""
    dtypes = mentions.dtypes[_fields(list(mentions.columns), settings.survivorship)]
    return not settings.survivorship.collect and all(
        isinstance(d, pd.StringDtype) or (isinstance(d, np.dtype) and d.kind in "biufmM") for d in dtypes
    )


def _fields(columns: list[str], surv: Survivorship) -> list[str]:
    """The mention columns that are golden fields."""
    fields = (
        list(surv.include)
        if surv.include
        else [c for c in columns if c not in META_COLUMNS and c != "true_id"]
    )
    return [f for f in fields if f not in surv.exclude and f in columns]


def golden_columns(columns: list[str], settings: EntitySettings) -> list[str]:
    """The mention columns the golden records read, in ``columns``' order: the fields, the keys and what the
    survivorship rules rank by (a caller reading mentions from a file need read no more; the source file's
    hash and line, 80 bytes a record, are never read)."""
    surv = settings.survivorship
    wanted = {
        "record_key",
        "feed",
        "priority",
        "record_date",
        *_fields(columns, surv),
        *surv.collect.values(),
    }
    return [c for c in columns if c in wanted]


#: reads one column of the mentions (by name), every row in the mentions' order
ColumnReader = Callable[[str], pd.Series]
#: the columns the golden records' table holds throughout (the keys, what the rules rank by)
TABLE_COLUMNS = ("record_key", "feed", "priority", "record_date")


def golden_chunks(
    mentions: pd.DataFrame, assignments: pd.DataFrame, settings: EntitySettings, chunk: int | None = None
) -> Iterator[pd.DataFrame]:
    """:func:`golden_records`, ``chunk`` entities at a time (in id order; None: all at once, and always with
    ``survivorship.collect``): a caller that writes each chunk as it comes holds one chunk's values and
    ``field_sources``, not every entity's (issue #19: 1.9 KB per person). Concatenated, the chunks are the
    golden records; each chunk's columns have the same dtypes when :func:`chunkable` says so."""
    return golden_chunks_by_column(
        mentions, list(mentions.columns), mentions.__getitem__, assignments, settings, chunk
    )


def golden_chunks_by_column(
    table: pd.DataFrame,
    columns: list[str],
    read: ColumnReader,
    assignments: pd.DataFrame,
    settings: EntitySettings,
    chunk: int | None = None,
) -> Iterator[pd.DataFrame]:
    """:func:`golden_chunks` over mentions whose ``columns`` are read one at a time (``read``): ``table`` holds
    their keys and what the rules rank by (:data:`TABLE_COLUMNS`, those they have). Each field is read, its
    survivors found and their values taken, then let go: the mentions' columns are never all in memory (issue
    #19: 600 bytes a person mention; the survivors' values are one per entity)."""
    surv = settings.survivorship
    t = _Table(table, assignments, read)
    n = len(t.ents)
    fields = _fields(columns, surv)
    narrow = np.int32 if len(t.df) < 2**31 else np.int64
    # per field: the entities with a survivor (sorted), the row it survived from, its value, the column's dtype
    survivors = {}
    for f in fields:
        vals = t.column(f)
        entity, rows = (a.astype(narrow) for a in t.surviving(f, surv, vals))
        survivors[f] = (entity, rows, vals.iloc[rows].reset_index(drop=True), vals.dtype)
        del vals
    escaped = _escaped(t.keys)  # a field's source: the surviving record's key
    sources = _sources(t, n)
    records = np.bincount(t.entity, minlength=n).astype(np.int64)
    step = n if chunk is None or surv.collect else max(int(chunk), 1)
    for lo in range(0, max(n, 1), max(step, 1)):
        hi = min(lo + step, n)
        out = pd.DataFrame({settings.id_column: t.ents[lo:hi].astype("string")})
        names, at = [], []
        for f in fields:
            entity, rows, values, dtype = survivors[f]
            a, b = np.searchsorted(entity, [lo, hi])
            name = surv.rename.get(f, f)
            best = values.iloc[a:b]
            best.index = entity[a:b] - lo
            if isinstance(dtype, pd.StringDtype) and len(entity):
                # text stays Arrow, no Python string per entity and field: ``str``, the type the Python strings
                # made, in every chunk whatever its own values
                out[name] = best.reindex(range(hi - lo)).astype("str").array
            else:
                out[name] = best.reindex(range(hi - lo)).to_numpy()
            if dtype != np.dtype(object) and not isinstance(dtype, pd.StringDtype):
                out[name] = out[name].astype(dtype)
            src = np.full(hi - lo, -1, dtype=narrow)
            src[entity[a:b] - lo] = rows[a:b]
            names.append(name)
            at.append(src)
        out["field_sources"] = _field_sources(escaped, names, at, hi - lo)
        del at
        out["sources"] = sources[lo:hi]
        out["records"] = records[lo:hi]
        for list_col, field in surv.collect.items():  # one chunk: every entity
            if field in columns:
                out[list_col] = _collected(t, out, settings, field)
        yield out.reset_index(drop=True)


def _collected(t: _Table, out: pd.DataFrame, settings: EntitySettings, field: str) -> pd.Series:
    """Per entity of ``out`` (all of them): the other values of ``field`` its records give, sorted."""
    df = pd.DataFrame({"entity_id": t.ents[t.entity], field: t.column(field).reset_index(drop=True)})
    surviving = out.set_index(settings.id_column)[settings.survivorship.rename.get(field, field)]
    seen = df.dropna().drop_duplicates()
    seen = seen[
        seen[field].astype("string") != surviving.reindex(seen["entity_id"]).astype("string").to_numpy()
    ]
    lists = seen.sort_values(["entity_id", field]).groupby("entity_id")[field].agg(list)
    return pd.Series(
        [x if isinstance(x, list) else [] for x in lists.reindex(t.ents)], index=out.index, dtype=object
    )


def empty_golden(mentions: pd.DataFrame, settings: EntitySettings) -> pd.DataFrame:
    """The golden records of an entity type with no entities yet (none of its feeds has arrived): no rows,
    and the columns :func:`golden_records` gives for these mention columns, so later steps find each one."""
    no_assignments = pd.DataFrame(
        {"record_key": pd.Series(dtype="string"), "entity_id": pd.Series(dtype="string")}
    )
    return golden_records(mentions.iloc[:0], no_assignments, settings)


def source_xref(assignments: pd.DataFrame, mentions: pd.DataFrame, entity_type: str) -> pd.DataFrame:
    """The ``source_xref`` rows of one entity type: every input record and the entity it resolved to."""
    cols = ["record_key", "feed", "source_record_id"] + [
        c for c in ("raw_sha256", "line") if c in mentions.columns
    ]
    m = mentions[cols].merge(assignments, on="record_key", how="inner", validate="1:1")
    out = pd.DataFrame(
        {
            "feed": m["feed"].astype("string"),
            "source_record_id": m["source_record_id"].astype("string"),
            "entity_type": entity_type,
            "entity_id": m["entity_id"].astype("string"),
            "score": m["score"].astype("float64"),
            "method": m["method"].astype("string"),
            "raw_sha256": m["raw_sha256"].astype("string") if "raw_sha256" in m.columns else pd.NA,
            "line": m["line"].astype("Int64") if "line" in m.columns else pd.NA,
        }
    )
    return out
