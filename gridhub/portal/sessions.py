"""Server-side portal sessions: a sign-in lives in the workspace, the cookie only names it.

The cookie (signed with :mod:`itsdangerous`, HttpOnly, SameSite=Strict) holds ``{"sid": <random id> or None,
"csrf": <token>}``. A signed-in session is a row of ``<workspace>/state/portal_sessions.sqlite`` keyed by the
SHA-256 of the id (the file never holds a usable cookie) with the department, its CSRF token, when it began,
when it was last used, and a fingerprint of the department's password hash at sign-in. The row is the
session: a cookie whose row is gone is no sign-in, whatever its signature says. A row ends

- on 退出 (sign-out): deleted, so a copy of the cookie taken before is worthless;
- when the department's ``password_hash`` in ``gridhub.yaml`` changes (the fingerprint no longer matches);
- after ``session_idle_minutes`` without a request (the idle timeout);
- ``session_hours`` after sign-in, however active (the absolute lifetime).

SQLite keeps the store shared by every worker thread and portal process of one workspace; each call opens its
own connection. An anonymous visitor (the sign-in form) has no row: its CSRF token lives in the signed cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    sid_hash TEXT PRIMARY KEY,
    dept TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created REAL NOT NULL,
    seen REAL NOT NULL,
    password_fp TEXT NOT NULL
)
"""
# "last used" is written at most this often per session (a page load does not need a write each time)
_TOUCH_SECONDS = 15.0


def password_fingerprint(password_hash: str) -> str:
    """A short digest of a stored password hash: changes whenever the password is changed."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:32]


def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


class Sessions:
    """Signed cookies naming server-side sessions; see the module docstring.

    A session as the handlers see it is a dict ``{"sid": str | None, "dept": str | None, "csrf": str}``.
    ``password_fp(dept)`` returns the current fingerprint of a department's password hash (None when the
    department can no longer sign in); ``clock`` is for tests.
    """

    def __init__(
        self,
        secret: str,
        store: Path,
        *,
        max_age_seconds: int,
        idle_seconds: float,
        password_fp: Callable[[str], str | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="gridhub-portal-session")
        self.store = store
        self.max_age = max_age_seconds
        self.idle = idle_seconds
        self._password_fp = password_fp
        self._clock = clock

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.store.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.store, timeout=10, isolation_level=None)
        try:
            con.execute(_SCHEMA)
            yield con
        finally:
            con.close()

    # ---- cookies --------------------------------------------------------------------------------------------
    def load(self, cookie: str | None) -> dict | None:
        """The session the cookie names, or None if absent, forged, expired, signed out or revoked."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:  # SignatureExpired is a BadSignature
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        sid = data.get("sid")
        if sid is None:
            return {"sid": None, "dept": None, "csrf": data["csrf"]}
        if not isinstance(sid, str):
            return None
        return self._live(sid)

    def dump(self, session: dict) -> str:
        return self._serializer.dumps({"sid": session.get("sid"), "csrf": session["csrf"]})

    @staticmethod
    def anonymous() -> dict:
        """A fresh session that is signed in nowhere (its own CSRF token, for the sign-in form)."""
        return {"sid": None, "dept": None, "csrf": secrets.token_urlsafe(32)}

    # ---- the store ------------------------------------------------------------------------------------------
    def start(self, department: str) -> dict:
        """A new signed-in session for ``department`` (a new id and CSRF token: signing in rotates both)."""
        fp = self._password_fp(department)
        if fp is None:
            raise ValueError(f"department {department!r} cannot sign in")
        sid, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), self._clock()
        with self._db() as con:
            con.execute(
                "DELETE FROM sessions WHERE created < ? OR seen < ?", (now - self.max_age, now - self.idle)
            )
            con.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                (_sid_hash(sid), department, csrf, now, now, fp),
            )
        return {"sid": sid, "dept": department, "csrf": csrf}

    def end(self, session: dict | None) -> None:
        """Sign out: the session's row is deleted (every copy of its cookie stops working)."""
        sid = (session or {}).get("sid")
        if isinstance(sid, str):
            with self._db() as con:
                con.execute("DELETE FROM sessions WHERE sid_hash = ?", (_sid_hash(sid),))

    def _live(self, sid: str) -> dict | None:
        key, now = _sid_hash(sid), self._clock()
        with self._db() as con:
            row = con.execute(
                "SELECT dept, csrf, created, seen, password_fp FROM sessions WHERE sid_hash = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            dept, csrf, created, seen, fp = row
            current = self._password_fp(dept)
            if (
                now - created > self.max_age
                or now - seen > self.idle
                or current is None
                or not hmac.compare_digest(current, fp)
            ):
                con.execute("DELETE FROM sessions WHERE sid_hash = ?", (key,))
                return None
            if now - seen > min(_TOUCH_SECONDS, self.idle / 4):
                con.execute("UPDATE sessions SET seen = ? WHERE sid_hash = ?", (now, key))
        return {"sid": sid, "dept": dept, "csrf": csrf}


__all__ = ["Sessions", "password_fingerprint"]
