"""``resolve_entities`` on both cores: two lanes of entity types side by side, in two processes (issue #19).

The entity types are independent until the legal representatives are linked (persons, organisations, houses
and facilities share no pair, no model and no state), so two of them can resolve at once. :func:`plan` splits
the types into lanes by their estimated peak memory (:func:`estimated_bytes`: bytes per mention of the type,
plus bytes per record of its committed state, which a delta loads beside the run's mentions): of the splits
whose lanes' peaks (each its largest type's) fit :data:`MEMORY_BUDGET_GB` side by side, the one with the least
estimated bytes in its largest lane (at 1 M: persons in one lane, houses in the other; at 3 M persons and houses
share a lane beside the organisations). The step's own process resolves the first lane while one child process
resolves the other. Each type is resolved by :func:`resolve_one_type`, which reads its bound mentions and writes
its frames, diagnostics and staged state exactly as the one-process loop does; the child hands back its
summaries after each type. One child, not one per type: an interpreter with pandas and gridhub costs 1.5 CPU s.

An estimate can be wrong: a guard reads the lanes' resident memory while they run and, past :data:`GUARD_GB`
together, kills the child; the types it had not finished resolve in the step's process after the first lane.
With one core, ``GRIDHUB_ER_WORKERS=1`` or no split that fits, the types resolve one after another in the step's
own process, as before. Either way the outputs are the same files with the same contents.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gridhub import env
from gridhub.workspace import Workspace
from warehouse.files import atomic_write, atomic_write_text

if TYPE_CHECKING:
    from matching.er.settings import EntitySettings

log = logging.getLogger(__name__)

#: environment variable: how many entity types may resolve at once (default: the cores, at most 2)
WORKERS_ENV = env.ER_WORKERS
#: peak resident memory per mention of one entity type's process, by type (measured at 1,000,000 residents,
#: docs/scale.md, "The person and house engines": the engine's peak with the interpreter, persons 2,375 MB for
#: 1,891,347 mentions and houses 2,756 MB for 1,906,809, 1.3-1.5 KB; organisations carry 13 candidate pairs a
#: mention, 1.5 GB for 409,703), rounded up. Persons' pairs per mention grow with the district (namesakes):
#: ≈ 1.6 KB a person mention at 3 M
BYTES_PER_MENTION = {"person": 1_600, "house": 1_600, "organisation": 4_000}
#: the same for a type not measured
DEFAULT_BYTES_PER_MENTION = 3_000
#: what a delta adds per record of the type's committed state (its registry: every earlier record's matching
#: columns and key hashes, loaded beside the run's mentions; docs/scale.md), rounded up
STATE_BYTES_PER_RECORD = 600
#: memory the step may use for types resolving side by side (the step's limit is 12 GB: issue #19)
MEMORY_BUDGET_GB = 10.0
#: the lanes' processes together past this and the second lane is stopped: its unfinished types resolve in the
#: step's own process after the first lane (one lane), whatever the estimate said
GUARD_GB = 11.0
#: how often the guard reads the lanes' resident memory (seconds)
GUARD_POLL_S = 0.2


def estimated_bytes(entity_type: str, mentions: int, state_records: int = 0) -> int:
    """The estimated peak memory of resolving ``mentions`` mentions of ``entity_type`` in one process, beside
    ``state_records`` records of its committed state (a delta's: the registry is loaded whole)."""
    per_mention = BYTES_PER_MENTION.get(entity_type, DEFAULT_BYTES_PER_MENTION)
    return mentions * per_mention + state_records * STATE_BYTES_PER_RECORD


def _wanted_workers() -> int:
    wanted = os.environ.get(WORKERS_ENV)
    return int(wanted) if wanted else min(2, os.cpu_count() or 1)


def plan(
    counts: dict[str, int], state: dict[str, int] | None = None, workers: int | None = None
) -> list[list[str]]:
    """The lanes the types resolve in: each lane resolves its types one after another (the largest first), the
    lanes side by side. A lane's peak is its largest type's (:func:`estimated_bytes`, with ``state``: committed
    state records per type); of the splits into at most ``workers`` lanes (default: the cores, at most 2, or
    ``GRIDHUB_ER_WORKERS``) whose lanes' peaks fit :data:`MEMORY_BUDGET_GB` together, the one whose largest lane
    has the least estimated bytes to go through, then the fewest lanes; else one lane. Types without mentions
    go with the first lane (they cost nothing)."""
    state = state or {}
    need = {t: estimated_bytes(t, n, state.get(t, 0)) for t, n in counts.items()}
    busy = sorted((t for t in counts if counts[t]), key=lambda t: (-need[t], t))
    idle = [t for t in counts if not counts[t]]
    if not busy:  # nothing to resolve: every type's empty outputs in this process
        return [idle]
    budget = MEMORY_BUDGET_GB * 1024**3
    best: tuple[int, int, list[list[str]]] | None = None
    for split in _splits(busy, max(1, workers or _wanted_workers())):
        if len(split) > 1 and sum(max(need[t] for t in lane) for lane in split) > budget:
            continue
        key = (max(sum(need[t] for t in lane) for lane in split), len(split))
        if best is None or key < best[:2]:
            best = (*key, sorted(split, key=lambda lane: busy.index(lane[0])))
    lanes_ = best[2] if best else [busy]
    if len(lanes_) == 1 and len(busy) > 1 and (workers or _wanted_workers()) > 1:
        log.info(
            "resolve_entities: one entity type at a time (no split of the types fits %.0f GB side by side)",
            MEMORY_BUDGET_GB,
        )
    return [lanes_[0] + idle, *lanes_[1:]]


def _splits(types: list[str], most: int) -> Iterator[list[list[str]]]:
    """Every split of ``types`` into at most ``most`` non-empty lanes, each lane in ``types``' order, the lane
    holding the first type first."""
    if not types:
        yield []
        return
    first, rest = types[0], types[1:]
    for split in _splits(rest, most):
        for i in range(len(split)):
            yield [*split[:i], [first, *split[i]], *split[i + 1 :]]
        if len(split) < most:
            yield [[first], *split]


def workers_for(counts: dict[str, int], state: dict[str, int] | None = None) -> int:
    """How many lanes the types resolve in (:func:`plan`): 1 with one core, ``GRIDHUB_ER_WORKERS=1``, one type with
    mentions, or no split whose lanes fit the memory budget side by side."""
    return len(plan(counts, state))


def read_decisions(ws: Workspace, run_id: str) -> pd.DataFrame | None:
    """The review decisions the run pinned (None: there are none)."""
    from gridhub.runguard import pinned

    path = pinned(ws, run_id).review_decisions
    return pd.read_csv(path, dtype=str) if path.exists() else None


def resolve_one_type(ws: Workspace, run_id: str, t: str, decisions: pd.DataFrame | None = None) -> dict:
    """Resolve entity type ``t`` of the run and write its frames, diagnostics and staged state; its summary.
    ``decisions``: the run's review decisions when the caller has read them already."""
    from gridhub.pipeline import _resolve_type, _step_dir, _write, er_diagnostics_path

    if decisions is None:
        decisions = read_decisions(ws, run_id)
    out = _step_dir(ws, run_id, "resolved")
    bound = _step_dir(ws, run_id, "bound") / f"{t}.parquet"
    staged_state = out / "state" / t
    if staged_state.exists():
        shutil.rmtree(staged_state)
    frames, summary, diagnostics = _resolve_type(ws, run_id, t, bound, decisions, staged_state)
    # the golden records last: the other frames are written and let go before their peak
    for name in sorted(frames, key=lambda name: name == "golden"):
        frame = frames.pop(name)
        path = out / f"{t}_{name}.parquet"
        if isinstance(frame, pd.DataFrame):
            _write(frame, path)
        else:  # the golden records, chunk by chunk
            _write_chunks(frame, path)
        del frame
    atomic_write_text(er_diagnostics_path(ws, run_id, t), json.dumps(diagnostics, ensure_ascii=False))
    return summary


#: golden records made and written this many entities at a time (issue #19: a person entity's chunk row and
#: what makes it are 2.9 KB, 290 MB for 100,000 at any size of district; 25,000 cost no CPU)
GOLDEN_CHUNK = 25_000


def release_freed_memory() -> None:
    """Hand back to the system the memory freed objects left with the allocators (glibc keeps freed heap pages,
    Arrow's pool its segments): 110 MB of the person type's 458 MB after the engine at 100,000 residents."""
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def read_some(path: Path, columns: Iterable[str]) -> pd.DataFrame:
    """The ``columns`` a Parquet file has, in the file's order, as a frame (issue #19: the person mentions'
    34 columns are 2.4 KB a record; a reader rarely needs half of them)."""
    wanted = set(columns)
    names = pq.ParquetFile(path).schema_arrow.names
    return pq.read_table(path, columns=[c for c in names if c in wanted]).to_pandas()


def entity_settings(ws: Workspace, t: str) -> EntitySettings:
    """The engine's settings of entity type ``t``: the workspace's ``matching:`` config, and where they compare
    organisation names, the city's divisions (:func:`gridhub.reference.division_names`, its reference data),
    so that 江澜宏远贸易有限公司 is read as 江澜区 + 宏远贸易 (``EntitySettings.regions``)."""
    from gridhub.reference import division_names
    from matching.er import EntitySettings

    settings = EntitySettings.from_config(t, ws.config.matching)
    if not any(c.kind == "org_name" for c in settings.comparisons):
        return settings
    return settings.with_regions(division_names(ws))


def engine_mentions(bound: Path, settings: EntitySettings) -> pd.DataFrame:
    """The bound mentions' columns the engine reads (``matching.er.mentions.read_columns``), in its order."""
    from matching.er.mentions import read_columns

    names = pq.ParquetFile(bound).schema_arrow.names
    frame = pq.read_table(bound, columns=[c for c in read_columns(settings) if c in names]).to_pandas()
    # the decoded pages Arrow's pool keeps after the conversion: 67 MB of 369 at 300k persons (issue #19)
    release_freed_memory()
    return frame


def golden_frames(bound: Path, assignments: pd.DataFrame, settings: EntitySettings) -> Iterator[pd.DataFrame]:
    """The golden records of the bound mentions (the file ``bound``), :data:`GOLDEN_CHUNK` entities at a time
    where the chunks keep the whole's column types (``matching.er.golden.chunkable``), else at once;
    :func:`_write_chunks` writes them as they come. Only the columns they read
    (``matching.er.golden.golden_columns``), and one at a time (``golden_chunks_by_column``)."""
    from matching.er.golden import TABLE_COLUMNS, chunkable, golden_chunks_by_column, golden_columns

    schema = pq.ParquetFile(bound).schema_arrow
    columns = golden_columns(schema.names, settings)
    empty = schema.empty_table().select(columns).to_pandas()  # the columns' dtypes, no rows

    def read(column: str) -> pd.Series:
        return read_some(bound, [column])[column]

    chunk = GOLDEN_CHUNK if chunkable(empty, settings) else None
    table = read_some(bound, [c for c in columns if c in TABLE_COLUMNS])
    return golden_chunks_by_column(table, columns, read, assignments, settings, chunk)


def _write_chunks(chunks: Iterator[pd.DataFrame], path: Path) -> Path:
    """Write data frames of the same columns one after another as one Parquet file (atomically), the first
    one's Arrow schema for all: the file holds the same table as the frames concatenated."""
    with atomic_write(path) as tmp:
        writer = None
        try:
            for df in chunks:
                schema = writer.schema if writer is not None else None
                table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                del df, table
        finally:
            if writer is not None:
                writer.close()
    return path


def _command(root: Path, run_id: str, types: list[str], out: Path) -> list[str]:
    return [sys.executable, "-m", "gridhub.resolve_workers", str(root), run_id, ",".join(types), str(out)]


def _env() -> dict[str, str]:
    """The parent's environment, with gridhub's own folder first on the path and its log level."""
    import gridhub

    src = str(Path(gridhub.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH", "")
    level = logging.getLogger("matching").getEffectiveLevel()
    return {
        **os.environ,
        "PYTHONPATH": src + (os.pathsep + path if path else ""),
        env.ER_LOG_LEVEL: str(level),
    }


def resolve_types(
    ws: Workspace, run_id: str, counts: dict[str, int], decisions: pd.DataFrame | None
) -> dict[str, dict]:
    """Resolve every type of ``counts`` (mentions per type, in the order of the summaries returned): in the lanes
    of :func:`plan` (the committed state counted), side by side when there are several, else one type after
    another in this process."""
    lanes_ = plan(counts, state_records(ws))
    if len(lanes_) > 1:
        done = resolve_in_processes(ws, run_id, lanes_, decisions)
        return {t: done[t] for t in counts}
    return {t: resolve_one_type(ws, run_id, t, decisions) for t in counts}


def state_records(ws: Workspace) -> dict[str, int]:
    """Per entity type, the records of its committed state (a delta resolves beside them; none on a first run)."""
    from gridhub.pipeline import _er_state_dir
    from warehouse.schema import ENTITY_TYPES

    out = {}
    for t in ENTITY_TYPES:
        registry = _er_state_dir(ws, t) / "registry.parquet"
        out[t] = pq.ParquetFile(registry).metadata.num_rows if registry.exists() else 0
    return out


def _rss_bytes(pid: int) -> int:
    """The resident memory of process ``pid`` (0 when it cannot be read: gone, or not Linux)."""
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


class _Guard(threading.Thread):
    """Reads the resident memory of this process and the lanes' children every :data:`GUARD_POLL_S`; past
    :data:`GUARD_GB` together it kills the children (``tripped``: the bytes it saw) and stops."""

    def __init__(self, children: list[subprocess.Popen]) -> None:
        super().__init__(daemon=True)
        self.children, self.tripped = children, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(GUARD_POLL_S):
            live = [p for p in self.children if p.poll() is None]
            if not live:
                return
            rss = _rss_bytes(os.getpid()) + sum(_rss_bytes(p.pid) for p in live)
            if rss > GUARD_GB * 1024**3:
                for p in live:
                    p.kill()
                self.tripped = rss
                log.warning(
                    "resolve_entities: the lanes hold %.1f GB together, more than %.0f GB: the second lane is "
                    "stopped, its unfinished types resolve in this process after the first lane (one lane)",
                    rss / 1024**3,
                    GUARD_GB,
                )
                return


def resolve_in_processes(
    ws: Workspace, run_id: str, lanes_: list[list[str]], decisions: pd.DataFrame | None
) -> dict[str, dict]:
    """Resolve the types in the lanes ``lanes_`` (:func:`plan`) side by side: the first lane in this process,
    each other lane in a child process (one interpreter each, not one per type); each type's summary, by type.

    A child that fails raises its own exception here (a deterministic error stays one: the task fails fast). A
    :class:`_Guard` stops the children when the lanes together pass :data:`GUARD_GB`: the types they had not
    finished resolve here, after the first lane, as one lane would."""
    from gridhub.pipeline import _step_dir

    first, *others = lanes_
    outs = [_step_dir(ws, run_id, "resolved") / f".lane{i}.result" for i in range(len(others))]
    child_env = _env()
    children = []
    for lane, out in zip(others, outs, strict=True):
        out.unlink(missing_ok=True)
        children.append(subprocess.Popen(_command(ws.root, run_id, lane, out), env=child_env))
    guard = _Guard(children)
    guard.start()
    done: dict[str, dict] = {}
    try:
        for t in first:
            done[t] = resolve_one_type(ws, run_id, t, decisions)
        for i, (proc, out) in enumerate(zip(children, outs, strict=True)):
            code = proc.wait()
            if guard.tripped:  # what the child finished stays; the rest resolves here
                done.update(_finished(out))
                done.update(
                    {t: resolve_one_type(ws, run_id, t, decisions) for t in others[i] if t not in done}
                )
            else:
                done.update(_result(others[i], code, out))
    finally:
        guard.done.set()
        for proc in children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for out in outs:
            out.unlink(missing_ok=True)
    return done


def _finished(out: Path) -> dict[str, dict]:
    """The summaries a stopped child had written (after each type it finished)."""
    payload = pickle.loads(out.read_bytes()) if out.exists() else None
    return payload if isinstance(payload, dict) else {}


def _result(types: list[str], code: int, out: Path) -> dict[str, dict]:
    """A finished child's summaries, or its exception raised."""
    payload = pickle.loads(out.read_bytes()) if out.exists() else None
    if code == 0 and isinstance(payload, dict):
        return payload
    if isinstance(payload, BaseException):
        raise payload
    raise RuntimeError(
        f"resolve_entities: the process resolving {', '.join(types)} ended with exit code {code}"
    )


def _child(argv: list[str]) -> int:
    root, run_id, types, out = argv
    level = int(os.environ.get(env.ER_LOG_LEVEL, logging.WARNING))
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ws = Workspace(Path(root))
    summaries: dict[str, dict] = {}
    try:
        decisions = read_decisions(ws, run_id)
        for t in types.split(","):
            summaries[t] = resolve_one_type(ws, run_id, t, decisions)
            _hand_over(Path(out), summaries)  # after each type: a stopped lane keeps what it finished
    except BaseException as e:  # handed to the parent, which raises it
        try:
            _hand_over(Path(out), e)
        except Exception:  # an exception that does not pickle: its text
            _hand_over(Path(out), RuntimeError(f"{type(e).__name__}: {e}"))
        raise
    return 0


def _hand_over(out: Path, payload: object) -> None:
    """Write ``payload`` for the parent, atomically (a child killed mid-write leaves the previous one)."""
    data = pickle.dumps(payload)
    with atomic_write(out) as tmp:
        Path(tmp).write_bytes(data)


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1:]))
