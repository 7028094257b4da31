"""What each pipeline task did, as a few readable lines for the Airflow task log (and the CLI with ``-v``).

Both DAG kinds log through :mod:`gridhub.tasks`, which passes :func:`ingest_lines` and :func:`step_lines` to
:func:`emit`; the lines come from the small dicts the pipeline functions return, so the log, the XCom and the
asset event say the same. Each line is its own log record on the ``gridhub.task`` logger, at INFO, whatever level the libraries'
loggers are kept at: :func:`quiet_libraries` keeps Great Expectations, the connectors' and matching's own
(dict-shaped) debug lines and the portal plugin out of task logs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

log = logging.getLogger("gridhub.task")

#: Loggers whose INFO lines are for developers (dicts, GX progress): kept at WARNING, or ERROR, in tasks.
_QUIET = {
    "great_expectations": logging.ERROR,
    "py.warnings": logging.ERROR,
    "gridhub.portal": logging.ERROR,
    "connectors": logging.WARNING,
    "matching": logging.WARNING,
    "warehouse": logging.WARNING,
    "gridhub": logging.WARNING,
}


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """For the block (a task): library noise out of the log, this module's lines in it (at INFO); the levels
    are put back afterwards (``dag.test()`` runs tasks in the caller's process)."""
    loggers = [logging.getLogger(name) for name in (*_QUIET, log.name)]
    before = [lg.level for lg in loggers]
    for name, level in _QUIET.items():
        logging.getLogger(name).setLevel(level)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        for lg, level in zip(loggers, before, strict=True):
            lg.setLevel(level)


def emit(lines: Iterable[str]) -> None:
    """Log each line as its own INFO record (one entry per line in the Airflow UI)."""
    for line in lines:
        log.info("%s", line)


def _n(value: object) -> str:
    """A count with thousands separators (``12,345``)."""
    return f"{int(value):,}" if isinstance(value, (int, float)) else str(value)


def _pairs(counts: dict, empty: str = "none") -> str:
    """``{a: 3, b: 1}`` → ``a 3, b 1`` (largest first)."""
    items = sorted(((k, v) for k, v in (counts or {}).items() if v), key=lambda kv: (-kv[1], str(kv[0])))
    return ", ".join(f"{k} {_n(v)}" for k, v in items) or empty


def _pct(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "-"


# ----------------------------------------------------------------------------------------------------------
# ingest
# ----------------------------------------------------------------------------------------------------------
def ingest_lines(feed: str, files: list[dict], totals: dict) -> list[str]:
    """Files and rows in / staged / quarantined by reason, for one ingest of ``feed``.

    ``files`` are :meth:`connectors.results.FileResult.to_dict` rows, ``totals`` is
    :meth:`connectors.results.IngestResult.totals`."""
    if not files:
        return [f"feed {feed}: no new file waiting; nothing to ingest"]
    lines = [
        f"feed {feed}: {len(files)} file(s): {totals['files_staged']} staged, "
        f"{totals['files_duplicate']} already received, {totals['files_failed']} failed"
    ]
    for f in files:
        name = f.get("file_name") or (f.get("sha256") or "")[:12]
        if f.get("error"):
            lines.append(f"  {name}: FAILED ({f.get('error_code') or 'error'}), nothing staged")
        elif f.get("skipped_duplicate"):
            lines.append(f"  {name}: already received, nothing staged again")
        else:
            lines.append(
                f"  {name}: read {_n(f['rows_read'])}, staged {_n(f['rows_staged'])}, "
                f"quarantined {_n(f['rows_quarantined'])}"
                + (f", blank lines {_n(f['rows_blank'])}" if f.get("rows_blank") else "")
                + (f" [{f['encoding']}]" if f.get("encoding") else "")
            )
    lines.append(
        f"rows: read {_n(totals['rows_read'])} = staged {_n(totals['rows_staged'])} "
        f"+ quarantined {_n(totals['rows_quarantined'])}"
    )
    if totals["rows_quarantined"]:
        lines.append(f"quarantined by reason: {_pairs(totals['reasons'])}")
    if totals.get("field_issues"):
        lines.append(f"field issues (values nulled or noted, rows kept): {_pairs(totals['field_issues'])}")
    return lines


# ----------------------------------------------------------------------------------------------------------
# resolve-and-publish steps
# ----------------------------------------------------------------------------------------------------------
def _mentions(r: dict) -> list[str]:
    staged = r.get("staged_rows", {})
    return [
        f"staged rows read: {_n(sum(staged.values()))} from {len(staged)} feed(s) ({_pairs(staged)})",
        f"mentions per type: {_pairs(r.get('mentions', {}))}",
    ]


def _bindings(r: dict) -> list[str]:
    n, matched = r.get("address_fields", 0), r.get("matched", 0)
    lines = [
        f"address fields bound to the standard address library: {_n(matched)} of {_n(n)} ({_pct(matched, n)})"
    ]
    if "levels" in r:
        lines.append(f"binding levels of the bound ones: {_pairs(r['levels'])}")
        lines.append(f"binding status: {_pairs(r['status'])}")
        lines.append(f"with a grid (进网入格): {_n(r['grid_bound'])} ({_pct(r['grid_bound'], n)})")
    return lines


def _entities(r: dict) -> list[str]:
    lines = []
    for t, s in (r.get("entities") or {}).items():
        if not s.get("mentions"):
            lines.append(f"{t}: no mentions (none of its feeds has arrived yet)")
            continue
        lines.append(
            f"{t}: {_n(s['mentions'])} mentions → {_n(s['entities'])} entities; "
            f"{_n(s.get('matches', 0))} matches, {_n(s.get('clusters_split', 0))} cluster(s) split by the guard, "
            f"{_n(s.get('review_pairs', 0))} pair(s) for review"
        )
        rules = [
            f"{b['rule']} {_n(b['candidate_pairs'])} (new {_n(b.get('new_pairs', 0))})"
            for b in s.get("blocking") or []
        ]
        if rules:
            lines.append(f"  candidate pairs per blocking rule: {', '.join(rules)}")
        lines.append(f"  id changes: {_pairs(s.get('id_changes', {}))}; new ids {_n(s.get('new_ids', 0))}")
    reps = r.get("legal_representatives")
    if reps:
        lines.append(f"legal representatives linked: {_pairs(reps)}")
    return lines


def _tables(r: dict) -> list[str]:
    rows = r.get("rows", {})
    return [f"rows per table: {', '.join(f'{k} {_n(v)}' for k, v in rows.items())}"]


def _publish(r: dict) -> list[str]:
    v = r.get("validation") or {}
    lines = []
    if v:
        lines.append(
            f"validation: {_n(v.get('expectations', 0))} expectation(s), all passed"
            + (f" ({v['seconds']:.1f} s)" if isinstance(v.get("seconds"), (int, float)) else "")
        )
    if r.get("reused"):
        lines.append(
            f"run {r['run_id']} was already published with the same inputs: snapshot {r['snapshot']} kept"
        )
    else:
        lines.append(f"snapshot written: {r.get('snapshot')} (run {r['run_id']}), now current")
    if r.get("data_docs"):
        lines.append(f"Data Docs: {r['data_docs']}")
    return lines


_STEP_LINES = {
    "prepare_mentions": _mentions,
    "bind_addresses": _bindings,
    "resolve_entities": _entities,
    "build_tables": _tables,
    "publish_run": _publish,
}


def step_lines(step: str, result: dict) -> list[str]:
    """The readable lines of one resolve-and-publish step's result (``step``: the pipeline function's name)."""
    lines = _STEP_LINES.get(step, lambda r: [])(result)
    return [f"{step} (run {result.get('run_id', '-')})", *(f"  {line}" for line in lines)]


def blocked_lines(report: object) -> list[str]:
    """Validation that failed: how many expectations and which (a :class:`warehouse.ValidationReport`)."""
    results = getattr(report, "results", [])
    failures = getattr(report, "failures", [])
    lines = [
        f"validation: {len(results)} expectation(s), {len(failures)} failed: nothing published, "
        "the current snapshot stays"
    ]
    lines += [f"  failed: {m}" for m in failures]
    return lines


@contextmanager
def timed(what: str) -> Iterator[None]:
    """Log how long the block took (``<what> done after 3.2 s``, or ``failed after``)."""
    start = time.perf_counter()
    ok = False
    try:
        yield
        ok = True
    finally:
        log.info("%s %s after %.1f s", what, "done" if ok else "failed", time.perf_counter() - start)


__all__ = ["blocked_lines", "emit", "ingest_lines", "quiet_libraries", "step_lines", "timed"]
