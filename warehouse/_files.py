"""File helpers shared by the raw zone, the snapshot manifests and the run ids.

It lives in ``warehouse`` because that is the lowest package that needs it: ``connectors`` and ``gridhub``
already import ``warehouse``, and ``warehouse`` imports neither of them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes as 64 hex digits, read in 1 MiB chunks (files of any size)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()
