"""Login sessions kept in the store (issue 48), so that a restart, a ``kill -9``, a reload
and a takeover log nobody out and every instance sharing a database honours every
session: the value type, the protocol, and the SQL both backends share.

``tether_sessions`` holds one row per open session, keyed by the SHA-256 of its id (the
``tether_session`` cookie's value, ``sha256$HEX`` as :func:`~tether.monitor.config.
_passwords.hash_token` writes it): the id itself is never stored, so a copy of the
database opens no session.  Beside it, what the server knows of the session: its user,
how it logged in (``password`` or ``oidc``), a single sign-on session's scopes, its CSRF
token, a digest of the credential it was opened with (a new password hash, or new
``oidc:`` settings, end it), when it began, when it was last used (written at most every
minute: ``web/auth/_sessions.py``) and when it expires unless used again.  The prune
(``_retention.py``) deletes the rows past ``expires``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from tether.monitor.store._dialect import C, SQLStore

__all__ = ["SESSION_COLUMNS", "SessionSQL", "SessionStore", "StoredSession"]

SESSION_COLUMNS: Final = "digest, who, provider, scopes, csrf, credential, began, used, expires"


@dataclass(frozen=True, slots=True)
class StoredSession:
    """One open login session as the store keeps it."""

    digest: str
    """The SHA-256 of its id (``sha256$HEX``), never the id."""
    user: str
    provider: str
    """``password`` or ``oidc``."""
    scopes: tuple[str, ...] | None
    """A single sign-on session's scopes; ``None``: its user's in the configuration."""
    csrf: str
    credential: str
    began: float
    used: float
    expires: float
    """When it ends unless used again (the shorter of its idle and absolute limits)."""

    def __repr__(self) -> str:
        return f"<StoredSession {self.user} {self.provider} began={self.began:.0f}>"


class SessionStore(Protocol):
    """A store's login sessions."""

    def open_session(self, session: StoredSession) -> None:
        """Store ``session`` (a digest stored already is replaced)."""

    def stored_session(self, digest: str) -> StoredSession | None:
        """The session whose id hashes to ``digest``, expired or not."""

    def touch_session(self, digest: str, used: float, expires: float) -> None:
        """Note that session ``digest`` was used at ``used``, so expires at ``expires``."""

    def end_session(self, digest: str) -> bool:
        """Delete session ``digest``; whether it was stored."""


def _session(row: Sequence[Any]) -> StoredSession:
    digest, who, provider, scopes, csrf, credential, began, used, expires = row
    return StoredSession(
        digest,
        who,
        provider,
        None if scopes is None else tuple(s for s in str(scopes).split(" ") if s),
        csrf,
        credential,
        float(began),
        float(used),
        float(expires),
    )


class SessionSQL(SQLStore[C]):
    """The SQL of login sessions, both backends alike."""

    def open_session(self, session: StoredSession) -> None:
        s = session
        scopes = None if s.scopes is None else " ".join(s.scopes)
        params = (s.digest, s.user, s.provider, scopes, s.csrf, s.credential)
        times = (s.began, s.used, s.expires)
        self._call(
            lambda conn: self._execute(
                conn,
                f"INSERT INTO tether_sessions ({SESSION_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (digest) DO UPDATE "
                "SET who = excluded.who, provider = excluded.provider, "
                "scopes = excluded.scopes, csrf = excluded.csrf, "
                "credential = excluded.credential, began = excluded.began, "
                "used = excluded.used, expires = excluded.expires",
                params + times,
            )
        )

    def stored_session(self, digest: str) -> StoredSession | None:
        rows = self._rows(
            f"SELECT {SESSION_COLUMNS} FROM tether_sessions WHERE digest = %s", (digest,)
        )
        return _session(rows[0]) if rows else None

    def touch_session(self, digest: str, used: float, expires: float) -> None:
        self._call(
            lambda conn: self._execute(
                conn,
                "UPDATE tether_sessions SET used = %s, expires = %s "
                "WHERE digest = %s AND used < %s",
                (used, expires, digest, used),
            )
        )

    def end_session(self, digest: str) -> bool:
        return bool(
            self._call(
                lambda conn: int(
                    self._execute(
                        conn, "DELETE FROM tether_sessions WHERE digest = %s", (digest,)
                    ).rowcount
                )
            )
        )
