"""The body of ``bind_addresses``: memory bounded by the distinct texts and one batch, not by the district.

1. The distinct address texts of every field are read column by column (Arrow, no pandas frame of all the
   fields), sorted in code-point order and matched partition by partition
   (:func:`matching.address.distinct.match_partitions`, on both cores); each partition's results are
   written to ``address_matches.parquet`` (text → match) as it is done and kept in memory as Arrow.
2. Each mention file is then read in batches of :data:`MENTION_ROWS_PER_BATCH` rows; a batch is bound
   (:func:`matching.address.bind_frame`, with the results of its own texts only), written as a part file,
   and its bindings rows are written as part files per field; the parts are streamed into the bound files
   and ``address_bindings.parquet`` (fields in :data:`matching.address.ADDRESS_FIELD_OF` order). The step's
   summary (matched, levels, statuses) is counted batch by batch.
3. A daily delta matches only its new texts: ``address_matches.parquet`` of the run the warehouse publishes
   now is reused when its key (:func:`matches_key`: code, config, reference files, address aliases) is this
   run's; a text's match depends on the text, the library, the aliases and the code alone.

Binding a row depends on that row and its text's match alone, so the files are those the whole-table code
wrote (``tests/test_bind_files.py`` checks it, and that a run reusing a published run's matches writes the
files a run from scratch writes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gridhub.bindsegments import library_loader
from gridhub.partitioned import combine_parts, write_partitions
from gridhub.textmatches import TEXT, TextMatches, _match_schema
from warehouse.files import atomic_write, atomic_write_parquet, atomic_write_text
from warehouse.progress import Progress
from warehouse.schema import ENTITY_TYPES

if TYPE_CHECKING:
    from gridhub.bindsegments import Segment
    from gridhub.workspace import Workspace
    from matching.address import AddressLibrary

log = logging.getLogger(__name__)

#: Mention rows bound at a time (one batch of a mention file).
MENTION_ROWS_PER_BATCH = 200_000
#: Every distinct address text of a run and its match (what a later run reuses).
MATCHES_FILE = "address_matches.parquet"
#: The key of :data:`MATCHES_FILE`: a later run reuses the matches only under the same key.
MATCHES_KEY_FILE = "address_matches.json"
BINDINGS_FILE = "address_bindings.parquet"
#: Matches files of earlier runs a run looks texts up in (linked into ``bound/matches/``), at most.
EARLIER_MATCHES = 8


def matches_key(ws: Workspace, run_id: str) -> str:
    """What a text's match depends on besides the text: gridhub's code, the config, the reference files and
    the run's address aliases (SHA-256)."""
    from gridhub.runguard import pinned
    from gridhub.runid import code_digest
    from warehouse.files import sha256_file

    h = hashlib.sha256(code_digest().encode())
    h.update(ws.config_file.read_bytes())
    for kind in ("addresses", "grids", "divisions"):
        p = ws.reference_file(kind)
        h.update(sha256_file(p).encode() if p.is_file() else b"-")
    aliases = pinned(ws, run_id).address_aliases
    h.update(sha256_file(aliases).encode() if aliases.exists() else b"-")
    return h.hexdigest()


def previous_matches(ws: Workspace, key: str) -> Path | None:
    """The bound folder of the run the warehouse publishes now, when its matches were made under ``key``
    (its matches, and its kept bound parts, are then valid for this run)."""
    from warehouse.read import current_run_id

    run_id = current_run_id(ws.warehouse)
    if run_id is None:
        return None
    from gridhub.mentionfiles import marker_key

    folder = ws.step_dir(run_id, "bound")
    made = marker_key(folder / MATCHES_KEY_FILE)
    return folder if made == key and (folder / MATCHES_FILE).is_file() else None


def matches_chain(previous: Path | None) -> list[Path]:
    """The matches files a run looks texts up in, newest first: the published run's own, then the earlier
    ones it looked up (a delta's matches file holds the texts of the rows it bound; the full run's, all)."""
    if previous is None:
        return []
    try:
        earlier = json.loads((previous / MATCHES_KEY_FILE).read_text(encoding="utf-8")).get("earlier", [])
    except (OSError, ValueError):
        earlier = []
    files = [previous / MATCHES_FILE, *(previous / e for e in earlier)]
    return [f for f in files if f.is_file()]


def _link_chain(chain: list[Path], out: Path) -> list[str]:
    """Link the chain's files into ``out/matches/`` (named by their run); at most :data:`EARLIER_MATCHES`,
    the oldest (a full run's, with most texts) and the newest kept. Returns their names relative to ``out``."""
    from gridhub.mentionfiles import link_or_copy

    if len(chain) > EARLIER_MATCHES:
        chain = [*chain[: EARLIER_MATCHES - 1], chain[-1]]
    names = []
    for f in chain:
        name = f"matches/{f.parent.parent.name}.parquet" if f.name == MATCHES_FILE else f"matches/{f.name}"
        if f != out / name:
            link_or_copy(f, out / name)
        names.append(name)
    return names


def known_matches(chain: list[Path], texts: pd.Series) -> TextMatches | None:
    """The matches the ``chain`` holds for ``texts`` (each from the newest file holding it), reading only the
    row groups (partitions) where one of them is."""
    if not chain or not len(texts):
        return None
    remaining = pa.array(texts.to_numpy(), type=pa.string())
    found = []
    for f in chain:
        hit = pc.is_in(pq.read_table(f, columns=[TEXT])[TEXT], value_set=remaining).combine_chunks()
        if not pc.any(hit).as_py():
            continue
        pf, groups, masks, seen = pq.ParquetFile(f), [], [], 0
        for g in range(pf.metadata.num_row_groups):
            n = pf.metadata.row_group(g).num_rows
            mask = hit.slice(seen, n)
            if pc.any(mask).as_py():
                groups.append(g)
                masks.append(mask)
            seen += n
        table = pf.read_row_groups(groups).cast(_match_schema()).filter(pa.concat_arrays(masks))
        found.append(table)
        remaining = remaining.filter(pc.invert(pc.is_in(remaining, value_set=table[TEXT])))
        if not len(remaining):
            break
    return TextMatches(pa.concat_tables(found)) if found else None


def distinct_texts(src: Path, segments: list[Segment], columns: dict[str, list[str]]) -> pd.Series:
    """The distinct non-null texts of the address ``columns`` (per mention type) of the rows the ``segments``
    bind, in code-point order."""
    from gridhub.bindsegments import segment_texts

    uniques = [u for s in segments for u in segment_texts(src, s, columns.get(s.entity_type, []))]
    if not uniques:
        return pd.Series([], dtype="string")
    unique = pc.unique(pa.chunked_array(uniques, type=pa.string())).drop_null()
    unique = unique.take(pc.array_sort_indices(unique))
    return pd.Series(pd.arrays.ArrowStringArray(unique))  # Arrow-backed: no Python string per text


def _match_all(
    library: Callable[[], AddressLibrary],
    unique: pd.Series,
    out: Path,
    aliases: pd.DataFrame | None,
    previous: TextMatches | None,
) -> tuple[TextMatches, list]:
    """Match ``unique`` partition by partition, writing :data:`MATCHES_FILE` as it goes (the library is
    asked for only when ``previous`` does not hold every text)."""
    from matching.address.distinct import match_partitions

    held = previous.table.num_rows if previous is not None else 0
    lib = library() if held < len(unique) else cast("AddressLibrary", None)  # None: never used
    schema = _match_schema()
    progress = Progress("bind_addresses", -(-len(unique) // _per_partition()), total_rows=len(unique))
    tables, partitions, fresh = [], [], 0
    known = previous.rows if previous is not None else None
    with atomic_write(out / MATCHES_FILE) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for part, matched, n_new in match_partitions(
            lib, unique, aliases=aliases, known=known, per_partition=_per_partition()
        ):
            table = pa.Table.from_pandas(matched.rename_axis(TEXT).reset_index(), preserve_index=False)
            table = table.select(schema.names).cast(schema)
            writer.write_table(table)
            tables.append(table)
            partitions.append(part)
            fresh += n_new
            n_matched = int((matched["status"] == "matched").sum())
            progress.advance(f"texts {part.first!r}…{part.last!r}", part.texts, n_matched)
    log.info(
        "bind_addresses: %s distinct texts, %s matched now, %s reused",
        len(unique),
        fresh,
        len(unique) - fresh,
    )
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    return TextMatches(table), partitions


def _per_partition() -> int:
    import matching.address.binding as binding

    return max(binding.TEXTS_PER_PARTITION, 1)


class _Summary:
    """The step's counts over every field's bindings rows, kept per field and added up in field order."""

    def __init__(self) -> None:
        self.rows = self.matched = self.grid_bound = 0
        self.levels: dict[int, dict[str, int]] = {}
        self.status: dict[int, dict[str, int]] = {}

    @staticmethod
    def _add(into: dict[str, int], values: pd.Series) -> None:
        for k, v in values.astype(object).fillna("-").astype(str).value_counts(sort=False).items():
            into[str(k)] = into.get(str(k), 0) + int(v)

    def add(self, field: int, b: pd.DataFrame) -> None:
        matched = b["status"] == "matched"
        self.rows += len(b)
        self.matched += int(matched.sum())
        self.grid_bound += int(b["grid_code"].notna().sum())
        self._add(self.levels.setdefault(field, {}), b.loc[matched, "level"])
        self._add(self.status.setdefault(field, {}), b["status"])

    @staticmethod
    def _ordered(per_field: dict[int, dict[str, int]]) -> dict[str, int]:
        total: dict[str, int] = {}
        for f in sorted(per_field):
            for k, v in per_field[f].items():
                total[k] = total.get(k, 0) + v
        counts = pd.Series(total, dtype="int64").sort_values(ascending=False)  # as value_counts orders
        return {str(k): int(v) for k, v in counts.items()}

    def result(self) -> dict:
        return {
            "address_fields": self.rows,
            "matched": self.matched,
            "rate": self.matched / self.rows if self.rows else 0.0,
            "levels": self._ordered(self.levels),
            "status": self._ordered(self.status),
            "grid_bound": self.grid_bound,
        }


def _combine(parts: list[Path], path: Path, keep: dict | None = None) -> None:
    """The parts streamed into ``path``; one part bound afresh is moved, one kept part linked."""
    from gridhub.mentionfiles import link_or_copy

    if len(parts) == 1 and parts[0] not in (keep or {}):
        if parts[0].parent.parent.name == "parts":
            os.replace(parts[0], path)
        else:
            link_or_copy(parts[0], path)
    else:
        combine_parts(parts, path, keep)


def _bind_rows(
    t: str, df: pd.DataFrame, matches: TextMatches, facility_grids: Callable[[pd.DataFrame], pd.DataFrame]
) -> tuple[pa.Table, dict[int, pa.Table], dict[int, pd.DataFrame]]:
    """Bind mention rows of type ``t``: the bound rows, the bindings rows per field index (fields with rows),
    and an empty bindings frame per field (for a district without bindings rows)."""
    from matching.address import ADDRESS_FIELD_OF, address_fields, bind_frame

    fields = list(ADDRESS_FIELD_OF)
    cols = [col for _, col in address_fields({t: df.columns})]
    texts = pd.unique(pd.concat([df[c] for c in cols], ignore_index=True).dropna()) if cols else []
    _, matched = matches.rows(pd.Index(texts, dtype=object))
    bound, bindings = bind_frame(t, df, matched)
    if t == "facility":
        bound = facility_grids(bound)
    tables, empty = {}, {}
    for key, rows_of_field in bindings.items():
        empty[fields.index(key)] = rows_of_field.iloc[0:0]
        if len(rows_of_field):
            tables[fields.index(key)] = pa.Table.from_pandas(rows_of_field, preserve_index=False)
    return pa.Table.from_pandas(bound, preserve_index=False), tables, empty


def _bind_segment(
    src: Path,
    out: Path,
    s: Segment,
    matches: TextMatches,
    facility_grids: Callable[[pd.DataFrame], pd.DataFrame],
) -> dict[int, pd.DataFrame]:
    """Bind a segment's rows: a kept part whole, into the kept bound parts; rows made afresh a batch at a
    time, into the step's parts. Returns an empty bindings frame per field."""
    from gridhub.bindsegments import CACHE_DIR, segment_rows, write_kept

    schema = pq.read_schema(src / f"{s.entity_type}.parquet")
    table = segment_rows(src, s).cast(schema)  # typed as the mention file, as a batch of it is
    empty: dict[int, pd.DataFrame] = {}
    if s.own is not None:
        bound, bindings, empty = _bind_rows(s.entity_type, table.to_pandas(), matches, facility_grids)
        write_kept(out / CACHE_DIR, s, bound, bindings)
        return empty
    parts = out / "parts"
    batches = table.to_batches(MENTION_ROWS_PER_BATCH) or [schema.empty_table()]
    for b, batch in enumerate(batches):
        df = (
            pa.Table.from_batches([batch]).to_pandas()
            if isinstance(batch, pa.RecordBatch)
            else batch.to_pandas()
        )
        bound, bindings, empty = _bind_rows(s.entity_type, df, matches, facility_grids)
        name = f"{s.name}-{b:04d}"
        atomic_write_parquet(bound, parts / s.entity_type / f"{name}.parquet")
        for fi, rows in bindings.items():
            atomic_write_parquet(rows, parts / "bindings" / f"{fi:02d}-{s.entity_type}-{name}.parquet")
    return empty


def _summary(path: Path) -> dict:
    """The step's counts over the bindings file (rows in field order)."""
    from matching.address import ADDRESS_FIELD_OF

    index = {(t, field): i for i, ((t, _), (field, _)) in enumerate(ADDRESS_FIELD_OF.items())}
    summary = _Summary()
    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(MENTION_ROWS_PER_BATCH, columns=["entity_type", "field", *_COUNTED]):
        df = pa.Table.from_batches([batch]).to_pandas()
        keys = df["entity_type"].astype(str) + "\t" + df["field"].astype(str)
        for key, rows in df.groupby(keys, sort=False):
            t, field = str(key).split("\t")
            summary.add(index[(t, field)], rows)
    return summary.result()


_COUNTED = ("status", "level", "grid_code")


def bind_mention_files(
    src: Path,
    out: Path,
    library: AddressLibrary | Callable[[], AddressLibrary],
    facility_grids: Callable[[pd.DataFrame], pd.DataFrame],
    aliases: pd.DataFrame | None = None,
    *,
    key: str | None = None,
    previous: Path | None = None,
) -> dict:
    """Bind the address fields of the mention files in ``src``; write the bound files, the bindings
    (:data:`BINDINGS_FILE`) and the matches (:data:`MATCHES_FILE`, with ``key`` beside it) to ``out``.

    ``facility_grids`` adds the facilities' point-in-polygon grids (a batch at a time); ``previous``: the
    published run's bound folder, its matches and kept bound parts made under the same key: its kept parts are
    taken as they are, and the texts its matches hold are not matched again. Returns the step's summary:
    address fields, matched, rate, levels (of the matched), status, grid_bound."""
    from gridhub.bindsegments import (
        CACHE_DIR,
        carry_library,
        current_parts,
        keep_current,
        plan,
        read_segments,
    )
    from matching.address import address_fields

    if previous is not None and previous.resolve() == out.resolve():
        previous = None  # this run again (its kept parts are found in place)
    segments = read_segments(src)
    todo = plan(segments, src, out, key or "", previous)
    columns: dict[str, list[str]] = {}
    for t, col in address_fields({t: pq.read_schema(src / f"{t}.parquet").names for t in ENTITY_TYPES}):
        columns.setdefault(t, []).append(col)
    unique = distinct_texts(src, todo, columns)
    chain = matches_chain(previous)
    get = library if callable(library) else lambda: library
    matches, partitions = _match_all(get, unique, out, aliases, known_matches(chain, unique))
    del unique
    getattr(library, "cache_clear", lambda: None)()  # the matching processes are gone: let the library go
    parts = out / "parts"
    if parts.exists():
        shutil.rmtree(parts)  # a killed attempt's parts
    empty: dict[int, pd.DataFrame] = {}
    for s in todo:
        empty.update(_bind_segment(src, out, s, matches, facility_grids))
    del matches
    named = {f"{p.parent.name}/{p.stem}": p for p in parts.glob("*/*.parquet")}  # parts bound afresh
    keep = {}
    for s in (s for t in ENTITY_TYPES for s in segments[t] if s.own is not None):
        found = current_parts(out / CACHE_DIR, s)
        named.update(found)
        if (k := keep_current(s)) is not None:
            keep.update({p: k for _, p in found})
    for t in ENTITY_TYPES:
        files = [named[n] for n in sorted(named) if n.startswith(f"{t}/")]
        _combine(files, out / f"{t}.parquet", keep)
        rows = sum(s.rows for s in segments[t])
        log.info("bind_addresses: %s: %s mentions bound and written", t, f"{rows:,}")
    _write_bindings([named[n] for n in sorted(named) if n.startswith("bindings/")], out, empty, src, keep)
    shutil.rmtree(parts, ignore_errors=True)
    write_partitions(out, "distinct address text", [vars(p) for p in partitions])
    earlier = _link_chain(chain, out)
    carry_library(out, previous)
    atomic_write_text(out / MATCHES_KEY_FILE, json.dumps({"key": key, "earlier": earlier}) + "\n")
    log.info("bind_addresses: %s of %s parts bound now", len(todo), sum(len(v) for v in segments.values()))
    return _summary(out / BINDINGS_FILE)


def _write_bindings(
    found: list[Path], out: Path, empty: dict[int, pd.DataFrame], src: Path, keep: dict
) -> None:
    """Stream the bindings parts into :data:`BINDINGS_FILE` (an empty file typed as binding writes it when
    there is no part)."""
    from matching.address import ADDRESS_FIELD_OF, bind_frame, concat_bindings

    if found:
        _combine(found, out / BINDINGS_FILE, keep)
        return
    fields = list(ADDRESS_FIELD_OF)
    if not empty:  # no row bound now: the empty frames of binding no row
        for t in ENTITY_TYPES:
            df = pq.read_schema(src / f"{t}.parquet").empty_table().to_pandas()
            none = TextMatches(_match_schema().empty_table()).rows(pd.Index([], dtype=object))[1]
            for k, b in bind_frame(t, df, none)[1].items():
                empty[fields.index(k)] = b
    frames = {k: empty[i] for i, k in enumerate(ADDRESS_FIELD_OF) if i in empty}
    atomic_write_parquet(
        pa.Table.from_pandas(concat_bindings(frames), preserve_index=False), out / BINDINGS_FILE
    )


__all__ = [
    "BINDINGS_FILE",
    "MATCHES_FILE",
    "MATCHES_KEY_FILE",
    "MENTION_ROWS_PER_BATCH",
    "TextMatches",
    "known_matches",
    "library_loader",
    "matches_chain",
    "bind_mention_files",
    "distinct_texts",
    "matches_key",
    "previous_matches",
]
