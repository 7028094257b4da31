"""``bind_addresses`` per part of the mention files, so a daily delta binds its new rows only.

``prepare_mentions`` lists the parts of every mention file in row order (``mentions/segments.json``,
:func:`gridhub.partitioned.write_segments`): a part is a chunk's *kept* mentions (``mentions/files/…``, the
own mentions of rows of a staged file), less those of the record ids a later file replaced, or mentions made
afresh. Binding a row depends on that row and its texts' matches alone, so:

- a kept part is bound once, whole, and its bound rows and bindings rows are kept beside the step's output
  (``bound/files/<feed>/<staged file>/<chunk>-<piece>…``, a marker with the key: the matches key and the
  kept part's own key); a later run under the same keys links them from the published run instead of binding
  the rows again, and filters out the rows of the ``removed`` record ids as ``prepare_mentions`` does;
- a part made afresh (a staged file whose record ids repeat) is read from the mention file and bound.

The step's files are those parts in order: the same rows a binding of the whole files writes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gridhub.mentionfiles import link_or_copy, marker_key
from warehouse.files import atomic_write, atomic_write_text
from warehouse.schema import ENTITY_TYPES

if TYPE_CHECKING:
    from matching.address import AddressLibrary

#: Kept bound parts, beside the step's output (``bound/files``), as ``prepare_mentions`` keeps its parts.
CACHE_DIR = "files"
SEGMENTS_FILE = "segments.json"
#: The address library as built for the run (reused by the next run under the same key).
LIBRARY_FILE = "address_library.pickle"


@dataclass
class Segment:
    """Rows ``start:start+rows`` of mention file ``entity_type``: the kept part ``own`` (relative to the
    mentions cache) less the mentions of the ``removed`` record ids, or rows made afresh (``own`` None)."""

    entity_type: str
    index: int
    start: int
    rows: int
    own: str | None = None
    removed: tuple[str, ...] = ()
    key: str | None = None  # what the kept bound rows are made under (set by :func:`plan`)

    @property
    def name(self) -> str:
        return f"{self.index:06d}"


def read_segments(src: Path) -> dict[str, list[Segment]]:
    """The parts of each mention file of ``src`` in row order; one part made afresh per file (the whole file)
    for mentions written without a list, or a file with no part (no rows)."""
    try:
        listed = json.loads((src / SEGMENTS_FILE).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError):
        listed = {}
    out: dict[str, list[Segment]] = {}
    for t in ENTITY_TYPES:
        start, segments = 0, []
        for i, s in enumerate(listed.get(t, [])):
            segments.append(Segment(t, i, start, int(s["rows"]), s.get("own"), tuple(s.get("removed", ()))))
            start += int(s["rows"])
        if not segments or start != pq.ParquetFile(src / f"{t}.parquet").metadata.num_rows:
            segments = [Segment(t, 0, 0, pq.ParquetFile(src / f"{t}.parquet").metadata.num_rows)]
        out[t] = segments
    return out


def _own_key(src: Path, own: str) -> str | None:
    """The key the kept mention part ``own`` was made under (its chunk's marker), None without one."""
    folder, name = own.rsplit("/", 1)
    return marker_key(src / "files" / folder / f"{name.split('-')[0]}.json")


def _marker(cache: Path, own: str) -> Path:
    return cache / f"{own}.json"


def kept_files(cache: Path, own: str) -> list[Path]:
    """The kept bound rows (``<part>.parquet``) and bindings rows (``<part>.b<field>.parquet``) of a part."""
    folder, name = own.rsplit("/", 1)
    return sorted((cache / folder).glob(f"{name}.*parquet"))


def _ready(cache: Path, own: str, key: str) -> bool:
    return marker_key(_marker(cache, own)) == key


def plan(
    segments: dict[str, list[Segment]], src: Path, out: Path, matches_key: str, previous: Path | None
) -> list[Segment]:
    """The segments to bind now: the kept parts whose bound rows neither this run (an attempt killed after
    them) nor the published run's ``previous`` folder holds under the same key, and every fresh part. The
    published run's kept bound parts are linked into ``out`` as they are found."""
    cache = out / CACHE_DIR
    todo = []
    for segs in segments.values():
        for s in segs:
            own_key = _own_key(src, s.own) if s.own else None
            if s.own is None or own_key is None:
                s.own = None
                todo.append(s)
                continue
            s.key = hashlib.sha256(f"{matches_key}\n{own_key}".encode()).hexdigest()
            if _ready(cache, s.own, s.key):
                continue
            before = previous / CACHE_DIR if previous is not None else None
            if before is not None and _ready(before, s.own, s.key):
                for p in [*kept_files(before, s.own), _marker(before, s.own)]:
                    link_or_copy(p, cache / p.relative_to(before))
                continue
            todo.append(s)
    return todo


def segment_rows(src: Path, s: Segment) -> pa.Table:
    """The mention rows a segment binds: its whole kept part, or its rows of the mention file."""
    if s.own is not None:
        return pq.read_table(src / "files" / f"{s.own}.parquet")
    pf = pq.ParquetFile(src / f"{s.entity_type}.parquet")
    if pf.metadata.num_rows == 0 or s.rows == pf.metadata.num_rows:
        return pf.read()
    groups, first, seen = [], None, 0
    for i in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(i).num_rows
        if seen < s.start + s.rows and seen + n > s.start:
            groups.append(i)
            first = seen if first is None else first
        seen += n
    return pf.read_row_groups(groups).slice(s.start - (first or 0), s.rows)


def segment_texts(src: Path, s: Segment, columns: list[str]) -> Iterator[pa.Array]:
    """The distinct non-null texts of ``columns`` in the rows a segment binds."""
    if s.own is not None:
        table = pq.read_table(src / "files" / f"{s.own}.parquet", columns=columns)
    else:
        table = segment_rows(src, s).select(columns)
    for c in columns:
        yield pc.unique(table.column(c).combine_chunks().cast(pa.string()))


def write_kept(cache: Path, s: Segment, bound: pa.Table, bindings: dict[int, pa.Table]) -> None:
    """Keep a bound part's rows and bindings rows (one file per field), then its marker."""
    from warehouse.files import atomic_write_parquet

    assert s.own is not None and s.key is not None
    folder, name = s.own.rsplit("/", 1)
    atomic_write_parquet(bound, cache / folder / f"{name}.parquet")
    for fi, table in bindings.items():
        atomic_write_parquet(table, cache / folder / f"{name}.b{fi:02d}.parquet")
    atomic_write_text(_marker(cache, s.own), json.dumps({"key": s.key}) + "\n")


def current_parts(cache: Path, s: Segment) -> list[tuple[str, Path]]:
    """A kept part's bound rows and bindings rows as (part name, kept file): ``<type>/<segment>`` and
    ``bindings/<field>-<type>-<segment>``, named so that name order is the rows' order. The rows of the
    segment's removed record ids are left out when they are combined (:func:`keep_current`)."""
    assert s.own is not None
    out = []
    for p in kept_files(cache, s.own):
        stem = p.name[: -len(".parquet")]
        if ".b" in stem:
            out.append((f"bindings/{stem.split('.b')[1]}-{s.entity_type}-{s.name}", p))
        else:
            out.append((f"{s.entity_type}/{s.name}", p))
    return out


def keep_current(s: Segment) -> Callable[[pa.Table], pa.Table] | None:
    """The filter of a kept part's rows to the segment's (those of its removed record ids out), None for all."""
    if not s.removed:
        return None
    gone = pa.array(sorted(s.removed), type=pa.string())

    def keep(table: pa.Table) -> pa.Table:
        ids = table["source_record_id"].cast(pa.string())
        return table.filter(pc.invert(pc.fill_null(pc.is_in(ids, value_set=gone), False)))

    return keep


def library_loader(
    build: Callable[[], AddressLibrary], out: Path, previous: Path | None
) -> Callable[[], AddressLibrary]:
    """The library when first asked for (a delta whose texts are all known never builds it): the published
    run's copy (:data:`LIBRARY_FILE`, made under the same key: the same reference files and code) when it has
    one, else ``build()``, kept in ``out`` for the next run. The copy is a pickle the step itself wrote in the
    workspace's work folder."""

    @functools.cache
    def load() -> AddressLibrary:
        kept = previous / LIBRARY_FILE if previous is not None else None
        if kept is not None and kept.is_file():
            if kept != out / LIBRARY_FILE:
                link_or_copy(kept, out / LIBRARY_FILE)
            with open(kept, "rb") as f:
                return pickle.load(f)  # noqa: S301 - written by this step, under the same key
        library = build()  # its lookup indexes are built later, per process: the pickle holds none
        with atomic_write(out / LIBRARY_FILE) as tmp, open(tmp, "wb") as f:
            pickle.dump(library, f, protocol=pickle.HIGHEST_PROTOCOL)
        return library

    return load


def carry_library(out: Path, previous: Path | None) -> None:
    """Link the published run's library copy into ``out`` when this run did not need it."""
    if previous is not None and (previous / LIBRARY_FILE).is_file() and not (out / LIBRARY_FILE).exists():
        link_or_copy(previous / LIBRARY_FILE, out / LIBRARY_FILE)


__all__ = [
    "CACHE_DIR",
    "LIBRARY_FILE",
    "SEGMENTS_FILE",
    "Segment",
    "carry_library",
    "current_parts",
    "keep_current",
    "library_loader",
    "kept_files",
    "plan",
    "read_segments",
    "segment_rows",
    "segment_texts",
    "write_kept",
]
