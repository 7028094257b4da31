"""Department sign-in for the upload portal: salted password hashes, signed sessions, CSRF tokens, throttling.

Passwords are stored only as ``scrypt$n$r$p$<salt>$<hash>`` (stdlib :func:`hashlib.scrypt`, 16-byte random
salt) in the workspace's ``gridhub.yaml`` (``portal.departments.<部门>.password_hash``); ``gridhub
portal-passwd`` makes one. Checking a password costs the same whether or not the department exists (a
dummy hash is checked for unknown names) and compares in constant time, so neither the message nor the
timing tells an attacker which department names are real.

Sessions live on the server (:mod:`gridhub.portal.sessions`); every form posts back the session's CSRF token.
Sign-in failures are throttled per (department, client address) and per address (:class:`SignInThrottle`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence

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
# CSRF, the session key, throttling (the sessions themselves: gridhub.portal.sessions)
# ----------------------------------------------------------------------------------------------------------
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
    """Slows password guessing without locking out a whole office.

    Failures are counted per (department entered, client address) and per client address, over the last
    ``window`` seconds. A pair is paused after ``per_account`` failures: guessing 公安's password from an
    office's NAT address does not stop 民政 signing in from the same address. The address as a whole is paused
    after ``per_client`` failures against any names (spraying many departments). A success clears only its own
    pair. The address is the connection's peer, or what a *trusted* proxy says (:func:`client_address`), so a
    client cannot start afresh by sending another ``X-Forwarded-For`` header.
    """

    def __init__(self, per_account: int = 10, per_client: int = 50, window: float = 300.0) -> None:
        self.per_account = per_account
        self.per_client = per_client
        self.window = window
        self._failures: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def _prune(self, now: float) -> None:
        if len(self._failures) > 10_000:
            for key in [k for k, q in self._failures.items() if not q or now - q[-1] > self.window]:
                del self._failures[key]

    def blocked(self, department: str, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return (
                len(self._recent(("pair", department, client), now)) >= self.per_account
                or len(self._recent(("client", client), now)) >= self.per_client
            )

    def failed(self, department: str, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._prune(now)
            self._recent(("pair", department, client), now).append(now)
            self._recent(("client", client), now).append(now)

    def succeeded(self, department: str, client: str) -> None:
        with self._lock:
            self._failures.pop(("pair", department, client), None)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[str]) -> str:
    """The client's address: the connection's ``peer``, unless the peer is one of the ``trusted`` proxies
    (addresses or CIDR networks); then the right-most ``X-Forwarded-For`` entry that is not itself a trusted
    proxy (a proxy appends the address it saw; anything to the left of that came from the client)."""
    if not peer:
        return "unknown"
    networks = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def is_trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr.strip())
        except ValueError:
            return False
        return any(ip in n for n in networks)

    if not networks or not is_trusted(peer) or not forwarded_for:
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not is_trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage where an address should be: fall back to the proxy itself
    return peer


__all__ = [
    "PasswordHashError",
    "SignInThrottle",
    "check_sign_in",
    "client_address",
    "csrf_ok",
    "hash_password",
    "session_secret",
    "verify_password",
]
