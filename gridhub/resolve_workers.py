"""``resolve_entities`` on both cores: two lanes of entity types side by side, in two processes (issue #19).

The entity types are independent until the legal representatives are linked (persons, organisations, houses
and facilities share no pair, no model and no state), so two of them can resolve at once. The types are split
into two lanes of about equal mentions (:func:`lanes`: the persons in one, the houses in the other, the smaller
types where there is less); the step's own process resolves the first lane while one child process resolves
the other. Each type is resolved by :func:`resolve_one_type`, which reads its bound mentions and writes its
frames, diagnostics and staged state exactly as the one-process loop does; the child hands back its summaries.
One child, not one per type: an interpreter with pandas and gridhub costs 1.5 CPU s to start.

Two processes need two types' memory at once. The step runs them side by side only while the two largest
estimated peaks (:data:`BYTES_PER_MENTION` of the type × its mentions) fit :data:`MEMORY_BUDGET_GB`; otherwise,
or with one core, or with ``GRIDHUB_ER_WORKERS=1``, it resolves the types one after another in its own process,
as before. Either way the outputs are the same files with the same contents.
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
#: memory the step may use for types resolving side by side (the step's limit is 12 GB: issue #19)
MEMORY_BUDGET_GB = 10.0


def estimated_bytes(entity_type: str, mentions: int) -> int:
    """The estimated peak memory of resolving ``mentions`` mentions of ``entity_type`` in one process."""
    return mentions * BYTES_PER_MENTION.get(entity_type, DEFAULT_BYTES_PER_MENTION)


def workers_for(counts: dict[str, int]) -> int:
    """How many types may resolve at once: the cores (at most 2, or ``GRIDHUB_ER_WORKERS``), and 1 when the types
    with the largest estimated peaks (:func:`estimated_bytes`) would not fit the memory budget side by side, or
    when only one type has mentions."""
    wanted = os.environ.get(WORKERS_ENV)
    workers = int(wanted) if wanted else min(2, os.cpu_count() or 1)
    needs = sorted((estimated_bytes(t, n) for t, n in counts.items() if n), reverse=True)
    if workers < 2 or len(needs) < 2:
        return 1
    if sum(needs[:workers]) > MEMORY_BUDGET_GB * 1024**3:
        log.info(
            "resolve_entities: one entity type at a time (the largest types need %.1f GB side by side, more "
            "than %.0f GB)",
            sum(needs[:workers]) / 1024**3,
            MEMORY_BUDGET_GB,
        )
        return 1
    return min(workers, len(needs))


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
    from matching.er.golden import chunkable, golden_chunks_by_column, golden_columns

    schema = pq.ParquetFile(bound).schema_arrow
    columns = golden_columns(schema.names, settings)
    empty = schema.empty_table().select(columns).to_pandas()  # the columns' dtypes, no rows

    def read(column: str) -> pd.Series:
        return read_some(bound, [column])[column]

    chunk = GOLDEN_CHUNK if chunkable(empty, settings) else None
    table = read_some(bound, [c for c in columns if c in ("record_key", "feed", "priority", "record_date")])
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


def lanes(counts: dict[str, int], workers: int) -> list[list[str]]:
    """The types split into ``workers`` lanes of about equal mentions, the largest type first (greedy): each lane
    resolves its types one after another."""
    out: list[list[str]] = [[] for _ in range(workers)]
    load = [0] * workers
    for t in sorted(counts, key=lambda t: -counts[t]):
        i = load.index(min(load))
        out[i].append(t)
        load[i] += counts[t]
    return [lane for lane in out if lane]


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


def resolve_in_processes(
    ws: Workspace, run_id: str, counts: dict[str, int], workers: int, decisions: pd.DataFrame | None
) -> dict[str, dict]:
    """Resolve the types in ``workers`` lanes side by side: the first lane in this process, each other lane in
    a child process (one interpreter each, not one per type); each type's summary, in ``counts``' order.

    A child that fails raises its own exception here (a deterministic error stays one: the task fails fast)."""
    from gridhub.pipeline import _step_dir

    first, *others = lanes(counts, workers)
    outs = [_step_dir(ws, run_id, "resolved") / f".lane{i}.result" for i in range(len(others))]
    child_env = _env()
    children = []
    for lane, out in zip(others, outs, strict=True):
        out.unlink(missing_ok=True)
        children.append(subprocess.Popen(_command(ws.root, run_id, lane, out), env=child_env))
    done: dict[str, dict] = {}
    try:
        for t in first:
            done[t] = resolve_one_type(ws, run_id, t, decisions)
        for i, (proc, out) in enumerate(zip(children, outs, strict=True)):
            done.update(_result(others[i], proc.wait(), out))
    finally:
        for proc in children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for out in outs:
            out.unlink(missing_ok=True)
    return {t: done[t] for t in counts}


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
    try:
        decisions = read_decisions(ws, run_id)
        summaries = {t: resolve_one_type(ws, run_id, t, decisions) for t in types.split(",")}
    except BaseException as e:  # handed to the parent, which raises it
        try:
            Path(out).write_bytes(pickle.dumps(e))
        except Exception:  # an exception that does not pickle: its text
            Path(out).write_bytes(pickle.dumps(RuntimeError(f"{type(e).__name__}: {e}")))
        raise
    Path(out).write_bytes(pickle.dumps(summaries))
    return 0


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1:]))
