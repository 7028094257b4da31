"""What a publish can take from the current snapshot instead of doing again (a daily delta: 增量发布).

A run's table file that is **byte-identical** to the one the current snapshot was published from (the
manifest records each table file's SHA-256 as ``source_sha256``) gives byte-identical snapshot files, as long
as what turns table rows into snapshot files is the same: the schema, pyarrow, the writing and privacy code,
and the HMAC key. The manifest records all of these as one ``write_fingerprint`` (an HMAC under the privacy
key, so it says nothing about the key). When both match:

- **writing**: the previous snapshot's files of that table are hard-linked into the new snapshot (snapshots are
  never written in place, only deleted whole, so a shared inode is safe), each file's SHA-256 checked against
  the previous manifest first; a file that is missing or differs is written again from the rows;
- **validation**: the table's checks other than the row-count drift bound are not run again when they are the
  same checks (expectation, column, arguments) as the previous validation ran, all passed, and every table
  the table ``references`` is byte-identical too (a referenced key may have gone); their outcomes are taken
  from the previous snapshot's ``validation.json``, which records the SHA-256 of the table files it validated
  (``sources``) and a fingerprint of the checking code and Great Expectations' version: both must match. The drift bound, which depends on the previous row
  counts, is always run by Great Expectations. A changed table is always validated in full.

Anything missing (an older snapshot without these fields, a pruned report, tables given in memory) means no
reuse: the publish does the work, and the snapshot is the same either way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

from warehouse.files import sha256_file
from warehouse.read import RUNS, snapshot_path
from warehouse.schema import TABLES, Layer, schema_hash
from warehouse.tablefiles import TableFiles
from warehouse.validation_report import ExpectationOutcome

log = logging.getLogger(__name__)

#: The modules whose code decides a snapshot file's bytes from the table rows.
_WRITING_CODE = ("snapshot_write.py", "privacy.py", "schema.py", "schema_base.py")
#: The modules whose code decides a check's verdict (with the Great Expectations version).
_CHECKING_CODE = ("expectations.py", "gx_runner.py", "codes.py", "validate.py", "validate_batches.py")


def source_digests(tables: Mapping[str, pa.Table]) -> dict[str, str]:
    """SHA-256 of every table file (empty for tables given in memory: nothing to compare)."""
    if not isinstance(tables, TableFiles):
        return {}
    return {name: sha256_file(tables.path(name)) for name in TABLES}


def _code_digest(names: tuple[str, ...], versions: str) -> bytes:
    h = hashlib.sha256(f"{schema_hash()}\n{versions}\n".encode())
    here = Path(__file__).parent
    for name in names:
        path = here / name
        h.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b""))
    return h.digest()


def write_fingerprint(hmac_key: bytes) -> str:
    """What besides the rows decides a snapshot file's bytes, as an HMAC under the privacy key."""
    digest = _code_digest(_WRITING_CODE, f"pyarrow {pa.__version__}")
    return hmac.new(hmac_key, digest, hashlib.sha256).hexdigest()


def validation_fingerprint() -> str:
    """What besides the rows and the checks' arguments decides a verdict: the checking code, GX's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        gx = version("great_expectations")
    except PackageNotFoundError:
        gx = "?"
    return _code_digest(_CHECKING_CODE, f"great_expectations {gx}, pyarrow {pa.__version__}").hex()


def same_tables(previous: dict | None, digests: Mapping[str, str]) -> set[str]:
    """The tables whose file is byte-identical to the one the ``previous`` snapshot was published from."""
    if not previous or not digests:
        return set()
    recorded = {n: (t or {}).get("source_sha256") for n, t in (previous.get("tables") or {}).items()}
    return {n for n, d in digests.items() if recorded.get(n) == d}


def linkable_tables(previous: dict | None, digests: Mapping[str, str], fingerprint: str) -> set[str]:
    """The tables whose snapshot files can be hard-linked from ``previous`` (same rows, same writing)."""
    if not previous or previous.get("write_fingerprint") != fingerprint:
        return set()
    return same_tables(previous, digests)


def link_table(
    warehouse_dir: Path, previous: dict | None, name: str, incoming: Mapping[Layer, Path]
) -> dict[str, list[dict]] | None:
    """Hard-link table ``name``'s files of the ``previous`` snapshot into the incoming folders; the file
    entries per layer, or None (nothing linked) when a file is missing or not what the manifest says."""
    if previous is None:
        return None
    entries = ((previous.get("tables") or {}).get(name) or {}).get("files") or {}
    if set(entries) != {str(layer) for layer in incoming}:
        return None
    run_id = previous["run_id"]
    for layer in incoming:
        source = snapshot_path(warehouse_dir, run_id, layer)
        for entry in entries[str(layer)]:
            path = source / entry["path"]
            if not path.is_file() or sha256_file(path) != entry["sha256"]:
                log.warning("not reusing %s of snapshot %s: %s is missing or changed", name, run_id, path)
                return None
    for layer in incoming:
        source = snapshot_path(warehouse_dir, run_id, layer)
        for entry in entries[str(layer)]:
            target = incoming[layer] / entry["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source / entry["path"], target)
    return {layer: [dict(e) for e in files] for layer, files in entries.items()}


def reusable_outcomes(
    warehouse_dir: Path, previous: dict | None, digests: Mapping[str, str]
) -> dict[str, list[ExpectationOutcome]]:
    """Per table whose checks need not run again (see the module's text), the previous validation's outcomes
    of that table; :func:`warehouse.validate.validate_tables` still compares them with its own checks."""
    same = same_tables(previous, digests)
    if not same or previous is None:
        return {}
    report = Path(warehouse_dir) / RUNS / previous["run_id"] / "data_docs" / "validation.json"
    try:
        earlier = json.loads(report.read_text(encoding="utf-8"))
        outcomes = [ExpectationOutcome(**r) for r in earlier["results"]]
        sources = earlier.get("sources") or {}
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if earlier.get("fingerprint") != validation_fingerprint():
        return {}
    out: dict[str, list[ExpectationOutcome]] = {}
    for name in same:
        if (
            sources.get(name) != digests[name]
        ):  # the report is of other bytes (a later attempt of that run id)
            continue
        refs = {c.references.split(".")[0] for c in TABLES[name].columns if c.references}
        mine = [o for o in outcomes if o.table == name]
        if refs <= same and mine and all(o.success for o in mine):
            out[name] = mine
    return out


def check_identity(expectation: str, column: str | None, kwargs: dict) -> str:
    """A check as text, equal for the same check before and after a round trip through JSON."""
    return json.dumps([expectation, column, kwargs], sort_keys=True, ensure_ascii=False, default=str)
