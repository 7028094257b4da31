"""The identity of a resolve-and-publish run: a fingerprint of everything it reads.

The run id is a fingerprint of gridhub's code, the config, the reference data, the staged files and the
review decisions, so the same inputs give the same run id, the same work folder and the same snapshot
(:mod:`gridhub.pipeline` runs the steps; :mod:`gridhub.runguard` pins the inputs).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from gridhub.workspace import Workspace
from warehouse.files import sha256_file

if TYPE_CHECKING:
    from connectors.feeds import Zones


@functools.cache
def code_digest() -> str:
    """SHA-256 over gridhub's own source: a code change is a new run even on the same inputs.

    Computed once per process: a process runs the code it imported, whatever happens to the files later."""
    import connectors
    import gridhub
    import matching
    import warehouse

    h = hashlib.sha256()
    for pkg in (connectors, gridhub, matching, warehouse):
        root = Path(pkg.__path__[0])  # the package's folder
        for f in sorted(root.rglob("*.py")):
            h.update(f.relative_to(root.parent).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def staged_names(inputs: Zones, feed: str) -> list[str]:
    """The staged files of ``feed`` the run reads (``connectors.staged_files``: what ``load_staging`` reads)."""
    from connectors import staged_files

    return [p.name for p in staged_files(inputs, feed)]


def input_fingerprint(ws: Workspace, inputs: Zones | None = None) -> str:
    """SHA-256 over the code, the config, the reference files and the staged files the run reads (raw hashes,
    from the run's pinned copy of the raw manifest ``inputs``, else from the workspace's manifest as it is)."""
    h = hashlib.sha256()
    h.update(code_digest().encode())
    h.update(ws.config_file.read_bytes())
    for kind in ("addresses", "grids", "divisions"):  # each configured file, its mapping and its content
        p = ws.reference_file(kind)
        h.update(getattr(ws.config.reference, kind).model_dump_json().encode())
        h.update(sha256_file(p).encode() if p.is_file() else b"-")
    for feed in ws.config.feeds:
        h.update(feed.name.encode())
        for name in staged_names(inputs or ws, feed.name):
            h.update(name.encode())
    from gridhub.runguard import PinnedInputs

    pins = inputs if isinstance(inputs, PinnedInputs) else ws  # the run's copies of the review files
    for review in (pins.review_decisions, pins.address_aliases):
        h.update(sha256_file(review).encode() if review.exists() else b"-")
    return h.hexdigest()


def new_run_id(ws: Workspace) -> str:
    """The run id of the inputs as they are now; the staged files it reads are pinned under
    ``work/<run_id>/inputs/`` (:mod:`gridhub.runguard`), so an ingest during the run does not change them."""
    from gridhub.runguard import PinnedInputs, install_pin, pin_inputs

    folder = pin_inputs(ws)
    run_id = "run-" + input_fingerprint(ws, PinnedInputs(ws, folder))[:16]
    install_pin(ws, run_id, folder)
    return run_id
