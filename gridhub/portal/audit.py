"""The portal's audit log (审计日志): one JSON line per upload and per sign-in attempt, append-only.

``<workspace>/state/portal_audit.jsonl`` (:attr:`gridhub.workspace.Workspace.portal_audit`). Each line is written with one ``write`` on a file opened
``O_APPEND`` under an exclusive ``flock``, so lines from concurrent requests or portal processes never
interleave, and nothing is ever rewritten. Times are UTC, ISO 8601.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections import deque
from datetime import UTC, datetime

from gridhub.workspace import Workspace


def append_audit(ws: Workspace, event: str, **fields: object) -> dict:
    """Append one record (``event``, ``at`` = now UTC, then ``fields``) and return it."""
    record = {"event": event, "at": datetime.now(UTC).isoformat(timespec="milliseconds"), **fields}
    line = (json.dumps(record, ensure_ascii=False, sort_keys=False, default=str) + "\n").encode("utf-8")
    path = ws.portal_audit
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    return record


def recent_uploads(ws: Workspace, department: str, limit: int = 10) -> list[dict]:
    """The department's last ``limit`` upload records, newest first (for its own home page only)."""
    path = ws.portal_audit
    if not path.exists():
        return []
    keep: deque[dict] = deque(maxlen=limit)
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if department not in line:  # cheap pre-filter before parsing
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("event") == "upload" and rec.get("department") == department:
                keep.append(rec)
    return list(reversed(keep))


__all__ = ["append_audit", "recent_uploads"]
