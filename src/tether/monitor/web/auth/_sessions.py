"""Login sessions and the login rate limit: pure, in memory, on an injected clock.

**Sessions** live in the memory of the process that serves the dashboard (the
coordinator, with worker processes).  A session id is 256 random bits, sent as the
``tether_session`` cookie; the server keeps who it belongs to, its CSRF token, and when
it began and was last used.  It ends when idle longer than ``idle`` or older than
``absolute``, at logout, or when the user's password hash or the user goes from the
configuration.  Kept on the server rather than in a signed cookie so that a logout ends
it for good (a signed cookie stays valid until it expires, whoever holds a copy), at the
cost that a restart logs everyone out and that instances behind one load balancer do not
share sessions (docs/security.md, "Login and tokens").

**The login limit** counts failed logins per client address and per user name in a
sliding window; at ``limit`` failures within ``window`` seconds, a key is refused until
its oldest failure leaves the window.  Both tables are bounded: past ``max_keys`` the
least recently touched key goes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Final

__all__ = ["LoginLimiter", "Session", "Sessions"]

IDLE: Final = 12 * 3600.0
ABSOLUTE: Final = 7 * 86400.0
MAX_SESSIONS: Final = 10_000


@dataclass(frozen=True, slots=True)
class Session:
    """One logged-in browser."""

    user: str
    csrf: str
    """Sent back by every change this session makes (a form's ``csrf`` field, or the
    ``X-CSRF-Token`` header)."""
    began: float
    used: float
    credential: str
    """A digest of the password hash it was opened with: a new hash ends it (a single
    sign-on session's: of the ``oidc:`` settings it was opened under)."""
    scopes: frozenset[str] | None = None
    """A single sign-on session's scopes, given by the provider's claims at its login;
    ``None``: a password login's, whose scopes are its user's in the configuration."""

    def __repr__(self) -> str:
        return f"<Session {self.user} began={self.began:.0f}>"


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


class Sessions:
    """The open sessions, by id."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        idle: float = IDLE,
        absolute: float = ABSOLUTE,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self._clock = clock
        self.idle = idle
        self.absolute = absolute
        self._max = max_sessions
        self._open: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._open)

    def begin(
        self, user: str, password_hash: str, *, scopes: frozenset[str] | None = None
    ) -> tuple[str, Session]:
        """A new session for ``user``: its id (the cookie's value) and the session
        (``scopes``: a single sign-on session's, ``password_hash`` then the digest of its
        settings)."""
        now = self._clock()
        sid = secrets.token_urlsafe(32)
        credential = fingerprint(password_hash)
        session = Session(user, secrets.token_urlsafe(32), now, now, credential, scopes)
        self._open[sid] = session
        while len(self._open) > self._max:  # the least recently used go first
            self._open.popitem(last=False)
        return sid, session

    def peek(self, sid: str) -> Session | None:
        """Session ``sid`` as it stands, expired or not, unchanged."""
        return self._open.get(sid)

    def get(self, sid: str, password_hash: str | None) -> Session | None:
        """The live session ``sid``, now used once more; ``None`` (and it is ended) when it
        has expired, when its user is gone from the configuration (``password_hash``
        ``None``), or when the user's password hash changed."""
        session = self._open.get(sid)
        if session is None:
            return None
        now = self._clock()
        if (
            password_hash is None
            or session.credential != fingerprint(password_hash)
            or now - session.used > self.idle
            or now - session.began > self.absolute
            or now < session.began  # the clock went back: trust nothing
        ):
            del self._open[sid]
            return None
        session = replace(session, used=now)
        self._open[sid] = session
        self._open.move_to_end(sid)
        return session

    def end(self, sid: str) -> bool:
        """End session ``sid``; whether it was open."""
        return self._open.pop(sid, None) is not None


class LoginLimiter:
    """Failed logins per key (``addr:ADDRESS``, ``user:NAME``) in a sliding window."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        limit: int = 5,
        window: float = 900.0,
        max_keys: int = 10_000,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit: must be at least 1, not {limit!r}")
        self._clock = clock
        self.limit = limit
        self.window = window
        self._max = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and (now - times[0] >= self.window or times[0] > now):
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, keys: Iterable[str]) -> float | None:
        """Seconds until every key of ``keys`` may try again, or ``None`` if none is held."""
        now = self._clock()
        wait = None
        for key in keys:
            times = self._recent(key, now)
            if times is not None and len(times) >= self.limit:
                left = times[0] + self.window - now
                wait = left if wait is None else max(wait, left)
        return wait

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        for key in keys:
            times = self._recent(key, now)
            if times is None:
                times = self._failures[key] = deque(maxlen=self.limit)
            times.append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self._max:
            self._failures.popitem(last=False)

    def forget(self, key: str) -> None:
        """A success clears ``key`` (the user's name; not the address, which a working
        account of one's own would otherwise reset for guesses at another)."""
        self._failures.pop(key, None)

    def forgive(self, key: str) -> None:
        """Take back one failure counted for ``key``: an attempt is counted before its
        password is checked, and one that turned out right is no failure (else every
        login from an office or through a proxy would bring its address nearer the
        limit).  The failures before it stay counted."""
        times = self._failures.get(key)
        if times:
            times.pop()
            if not times:
                del self._failures[key]

    def __len__(self) -> int:
        return len(self._failures)
