"""Login sessions and the login rate limit, on an injected clock.

**Sessions** are kept in the store (``store/_sessions.py``, issue 48) when the monitor has
one, so that a restart, a ``kill -9`` or a reload logs nobody out, and every instance
sharing a PostgreSQL database honours a session any of them opened (a takeover too).  A
session id is 256 random bits, sent as the ``tether_session`` cookie; the store holds
only its SHA-256, with who it belongs to, its CSRF token, and when it began and was last
used.  It ends when idle longer than ``idle`` or older than ``absolute``, at logout, or
when the user's password hash or the user goes from the configuration (a single sign-on
session: when the ``oidc:`` settings it was opened under change).  Kept on the server
rather than in a signed cookie so that a logout ends it for good (a signed cookie stays
valid until it expires, whoever holds a copy).

The process keeps what it read of each session for :data:`FRESH` seconds at most, so that
a page's requests cost no read each: the gate (``_auth.py``) reads a session again from
the store (:meth:`Sessions.recall`) once what it holds is older than that, and writes what
a request changed after it (:meth:`Sessions.flush`).  A logout or a revocation on one
process or instance is thus honoured by every other within :data:`FRESH` seconds
(docs/security.md).  The last use is written at most every :data:`TOUCH` seconds (or a
tenth of ``idle``), so an idle session may end up to that much earlier than ``idle``
after its last use.  While the store cannot be read, what was read is trusted; a session
opened while it cannot be written is kept in this process only (and said in the log).

**The login limit** counts failed logins per client address and per user name in a
sliding window; at ``limit`` failures within ``window`` seconds, a key is refused until
its oldest failure leaves the window.  Both tables are bounded: past ``max_keys`` the
least recently touched key goes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from tether.monitor.config._passwords import hash_token
from tether.monitor.store._sessions import StoredSession
from tether.monitor.store._values import StoreError

if TYPE_CHECKING:
    from tether.monitor.store._sessions import SessionStore

__all__ = ["LoginLimiter", "LoginSession", "Sessions"]

log = logging.getLogger("tether.monitor")

IDLE: Final = 12 * 3600.0
ABSOLUTE: Final = 7 * 86400.0
MAX_SESSIONS: Final = 10_000
FRESH: Final = 1.0
"""Seconds a process trusts what it read of a session before it reads it again: the
longest a logout or revocation elsewhere takes to be honoured here."""
TOUCH: Final = 60.0
"""Seconds between two writes of a session's last use (a tenth of ``idle`` if shorter)."""


@dataclass(frozen=True, slots=True)
class LoginSession:
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
        return f"<LoginSession {self.user} began={self.began:.0f}>"


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


@dataclass(slots=True)
class _Held:
    """What this process holds of a session: as read (or opened) at ``read``; ``written``
    the last use the store has; ``local``: not in the store (it could not be written)."""

    session: LoginSession
    read: float
    written: float
    local: bool = False


class Sessions:
    """The open sessions, by the digest of their id: in ``store`` when given (read again
    after :data:`FRESH` seconds), else in this process's memory only."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        idle: float = IDLE,
        absolute: float = ABSOLUTE,
        max_sessions: int = MAX_SESSIONS,
        store: SessionStore | None = None,
    ) -> None:
        self._clock = clock
        self.idle = idle
        self.absolute = absolute
        self._max = max_sessions
        self._store = store
        self._open: OrderedDict[str, _Held] = OrderedDict()
        self._writes: deque[tuple[str, str, _Held | None]] = deque()
        self._writing = asyncio.Lock()  # in order: an end never overtakes its open
        self._unreadable = False

    def __len__(self) -> int:
        return len(self._open)

    def _expires(self, session: LoginSession) -> float:
        return min(session.began + self.absolute, session.used + self.idle)

    def _hold(self, digest: str, held: _Held) -> None:
        self._open[digest] = held
        self._open.move_to_end(digest)
        # The least recently used go first: from memory only, when the store has them.
        while len(self._open) > self._max:
            self._open.popitem(last=False)

    def begin(
        self, user: str, password_hash: str, *, scopes: frozenset[str] | None = None
    ) -> tuple[str, LoginSession]:
        """A new session for ``user``: its id (the cookie's value) and the session
        (``scopes``: a single sign-on session's, ``password_hash`` then the digest of its
        settings); stored at the next :meth:`flush`."""
        now = self._clock()
        sid = secrets.token_urlsafe(32)
        credential = fingerprint(password_hash)
        session = LoginSession(user, secrets.token_urlsafe(32), now, now, credential, scopes)
        digest = hash_token(sid)
        held = _Held(session, now, now, local=self._store is None)
        self._hold(digest, held)
        if self._store is not None:
            self._writes.append(("open", digest, held))
        return sid, session

    def peek(self, sid: str) -> LoginSession | None:
        """Session ``sid`` as it stands, expired or not, unchanged."""
        held = self._open.get(hash_token(sid))
        return None if held is None else held.session

    def get(self, sid: str, password_hash: str | None) -> LoginSession | None:
        """The live session ``sid``, now used once more; ``None`` (and it is ended) when it
        has expired, when its user is gone from the configuration (``password_hash``
        ``None``), or when the user's password hash changed."""
        digest = hash_token(sid)
        held = self._open.get(digest)
        if held is None:
            return None
        session = held.session
        now = self._clock()
        if (
            password_hash is None
            or session.credential != fingerprint(password_hash)
            or now - session.used > self.idle
            or now - session.began > self.absolute
            or now < session.began  # the clock went back: trust nothing
        ):
            self._end(digest)
            return None
        held.session = session = replace(session, used=now)
        self._open.move_to_end(digest)
        if not held.local and now - held.written >= min(TOUCH, self.idle / 10):
            held.written = now
            self._writes.append(("touch", digest, held))
        return session

    def end(self, sid: str) -> bool:
        """End session ``sid`` (in the store at the next :meth:`flush`); whether it was
        open here."""
        return self._end(hash_token(sid))

    def _end(self, digest: str) -> bool:
        held = self._open.pop(digest, None)
        if self._store is not None:
            self._writes.append(("end", digest, None))
        return held is not None

    async def recall(self, sid: str) -> None:
        """Read session ``sid`` from the store unless what this process holds of it was
        read less than :data:`FRESH` seconds ago (no store: nothing to do)."""
        store = self._store
        if store is None:
            return
        digest = hash_token(sid)
        now = self._clock()
        held = self._open.get(digest)
        if held is not None and (held.local or 0 <= now - held.read < FRESH):
            return
        try:
            row = await asyncio.to_thread(store.stored_session, digest)
        except StoreError as exc:
            if not self._unreadable:
                self._unreadable = True
                log.warning("sessions: the store cannot be read (%s): trusting what was read", exc)
            return
        self._unreadable = False
        if row is None:
            self._open.pop(digest, None)
            return
        scopes = None if row.scopes is None else frozenset(row.scopes)
        # A use here not written yet is kept.
        used = max(row.used, held.session.used) if held is not None else row.used
        session = LoginSession(row.user, row.csrf, row.began, used, row.credential, scopes)
        self._hold(digest, _Held(session, now, row.used))

    async def flush(self) -> None:
        """Write what was changed since the last flush: sessions opened, used, ended."""
        store = self._store
        if store is None or not self._writes:
            return
        async with self._writing:
            while self._writes:
                what, digest, held = self._writes.popleft()
                try:
                    await asyncio.to_thread(self._write, store, what, digest, held)
                except StoreError as exc:
                    if held is not None and what == "open":
                        held.local = True
                    log.warning(
                        "sessions: a session could not be %s in the store (%s)%s",
                        {"open": "stored", "touch": "noted as used", "end": "deleted"}[what],
                        exc,
                        ": it is kept in this process only" if what == "open" else "",
                    )

    def _write(self, store: SessionStore, what: str, digest: str, held: _Held | None) -> None:
        if what == "end" or held is None:
            store.end_session(digest)
            return
        s = held.session
        if what == "touch":
            store.touch_session(digest, s.used, self._expires(s))
            return
        provider = "password" if s.scopes is None else "oidc"
        scopes = None if s.scopes is None else tuple(sorted(s.scopes))
        row = StoredSession(
            digest,
            s.user,
            provider,
            scopes,
            s.csrf,
            s.credential,
            s.began,
            s.used,
            self._expires(s),
        )
        store.open_session(row)


class LoginLimiter:
    """Failed logins per key (``addr:ADDRESS``, ``user:NAME``) in a sliding window.

    At most ``max_keys`` keys are kept.  With ``churn=True`` (the login's) a new key past
    them forgets the least recently counted one; with ``churn=False`` (the subscriptions',
    issue 72 §4) only a key whose window has run out is forgotten, and while every kept
    key is still counting a new key is held (:meth:`retry_after`) until the oldest runs
    out: many other keys cannot reset a victim's count."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        limit: int = 5,
        window: float = 900.0,
        max_keys: int = 10_000,
        churn: bool = True,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit: must be at least 1, not {limit!r}")
        self._clock = clock
        self.limit = limit
        self.window = window
        self._max = max_keys
        self._churn = churn
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _room(self, now: float) -> float | None:
        """Forget the keys whose window has run out, least recently counted first (the
        order kept: the first one still counting ends the search); ``None`` when a new key
        may be counted, else the seconds until one may."""
        failures = self._failures
        while failures:
            key, times = next(iter(failures.items()))
            if times and times[-1] > now - self.window and times[-1] <= now:
                break
            del failures[key]
        if len(failures) < self._max:
            return None
        times = next(iter(failures.values()))
        return times[-1] + self.window - now

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
            elif times is None and not self._churn:
                left_full = self._room(now)
                if left_full is not None:
                    wait = left_full if wait is None else max(wait, left_full)
        return wait

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        for key in keys:
            times = self._recent(key, now)
            if times is None:
                if not self._churn and self._room(now) is not None:
                    continue  # full of keys still counting: held by retry_after
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
