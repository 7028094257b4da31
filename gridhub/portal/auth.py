"""Department sign-in for the upload portal: salted password hashes, signed sessions, CSRF tokens, throttling.

Passwords are stored only as ``scrypt$n$r$p$<salt>$<hash>`` (stdlib :func:`hashlib.scrypt`, 16-byte random
salt) in the workspace's ``gridhub.yaml`` (``portal.departments.<部门>.password_hash``); ``gridhub
portal-passwd`` makes one. Checking a password costs the same whether or not the department exists (a
dummy hash is checked for unknown names) and compares in constant time, so neither the message nor the
timing tells an attacker which department names are real.

The session is a cookie signed with :mod:`itsdangerous` (HttpOnly, SameSite=Strict, timestamped): it holds
the signed-in department and the CSRF token that every form posts back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections import deque

from itsdangerous import BadSignature, URLSafeTimedSerializer

from warehouse.errors import UserError

log = logging.getLogger(__name__)

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_DKLEN = 32


class PasswordHashError(UserError, ValueError):
    """A stored password hash is malformed (not made by :func:`hash_password`)."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A salted scrypt hash of ``password`` to put in ``gridhub.yaml`` (``scrypt$n$r$p$salt$hash``)."""
    if not password:
        raise ValueError("an empty password cannot be used")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_DKLEN)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def _derive(password: str, stored: str) -> tuple[bytes, bytes]:
    """(derived, expected) digests of ``password`` under the parameters and salt of ``stored``."""
    parts = stored.split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = (int(x) for x in parts[1:4])
            salt, expected = _unb64(parts[4]), _unb64(parts[5])
            derived = hashlib.scrypt(
                password.encode("utf-8"),
                salt=salt,
                n=n,
                r=r,
                p=p,
                maxmem=256 * 1024 * 1024,
                dklen=len(expected),
            )
            return derived, expected
        if parts[0] == "pbkdf2_sha256" and len(parts) == 4:
            iterations = int(parts[1])
            salt, expected = _unb64(parts[2]), _unb64(parts[3])
            derived = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations, len(expected))
            return derived, expected
    except (ValueError, TypeError) as e:
        raise PasswordHashError(f"malformed password hash: {e}") from None
    raise PasswordHashError("unknown password hash scheme (expected scrypt$... or pbkdf2_sha256$...)")


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the ``stored`` hash; compared in constant time."""
    derived, expected = _derive(password, stored)
    return hmac.compare_digest(derived, expected)


# Checked when the department name is unknown, so a wrong name costs as much time as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def check_sign_in(hashes: dict[str, str], department: str, password: str) -> bool:
    """True when ``department`` has a sign-in and ``password`` is its password; same cost either way."""
    stored = hashes.get(department)
    ok = verify_password(password, stored if stored is not None else _DUMMY_HASH)
    return ok and stored is not None


# ----------------------------------------------------------------------------------------------------------
# sessions and CSRF
# ----------------------------------------------------------------------------------------------------------
class Sessions:
    """Signed, timestamped session cookies: ``{"dept": <部门> or None, "csrf": <token>}``."""

    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="gridhub-portal-session")
        self.max_age = max_age_seconds

    def load(self, cookie: str | None) -> dict | None:
        """The session in ``cookie``, or None if absent, forged or expired."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:  # SignatureExpired is a BadSignature
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        return data

    def dump(self, session: dict) -> str:
        return self._serializer.dumps(session)

    @staticmethod
    def new(department: str | None = None) -> dict:
        """A fresh session (a new CSRF token every time: signing in rotates it)."""
        return {"dept": department, "csrf": secrets.token_urlsafe(32)}


def csrf_ok(session: dict | None, submitted: str | None) -> bool:
    """The form's CSRF token equals the session's (constant-time)."""
    if not session or not submitted:
        return False
    return hmac.compare_digest(str(session.get("csrf", "")).encode(), submitted.encode())


def session_secret(env_name: str) -> str:
    """The cookie-signing key from ``$env_name``; a random per-process key (with a warning) if unset."""
    value = os.environ.get(env_name, "")
    if len(value) >= 16:
        return value
    if value:
        log.warning("%s is shorter than 16 characters: using a random session key instead", env_name)
    else:
        log.warning(
            "%s is not set: using a random session key (sign-ins end when the portal restarts)", env_name
        )
    return secrets.token_urlsafe(32)


class SignInThrottle:
    """At most ``limit`` failed sign-ins per client address in ``window`` seconds (slows password guessing)."""

    def __init__(self, limit: int = 10, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        q = self._failures.setdefault(client, deque())
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def blocked(self, client: str) -> bool:
        with self._lock:
            return len(self._recent(client, time.monotonic())) >= self.limit

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client, time.monotonic()).append(time.monotonic())

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


__all__ = [
    "PasswordHashError",
    "Sessions",
    "SignInThrottle",
    "check_sign_in",
    "csrf_ok",
    "hash_password",
    "session_secret",
    "verify_password",
]
