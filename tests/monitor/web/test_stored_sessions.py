"""Login sessions kept in the store (issue 48), on a fake clock and a real store of each
backend: two :class:`Sessions` on one store are two processes or instances (or one before
and after a restart); what one opens the other honours, what one ends the other stops
honouring within ``FRESH`` seconds, and the store never holds a session id."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from tests.helpers.stores import open_target
from tether.monitor.config._passwords import hash_token
from tether.monitor.web.auth._sessions import FRESH, TOUCH, Sessions

BACKENDS = pytest.mark.parametrize("target", ["sqlite", "postgres"], indirect=True)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _ask(sessions: Sessions, sid: str, password_hash: str | None = "H") -> str | None:
    """What a request with cookie ``sid`` gets, as the gate asks: read again from the
    store if due, the session checked, what changed written; its user or ``None``."""

    async def ask() -> str | None:
        await sessions.recall(sid)
        found = sessions.get(sid, password_hash)
        await sessions.flush()
        return None if found is None else found.user

    return asyncio.run(ask())


def _begin(sessions: Sessions, user: str = "alice", password_hash: str = "H") -> str:
    sid, _ = sessions.begin(user, password_hash)
    asyncio.run(sessions.flush())
    return sid


def _end(sessions: Sessions, sid: str) -> None:
    sessions.end(sid)
    asyncio.run(sessions.flush())


@BACKENDS
def test_a_session_outlives_its_process_and_is_honoured_by_another(target: str) -> None:
    """A session opened by one process is honoured by a second on the same store (a
    restart, another worker or instance) with its user and CSRF token; the store holds
    only the SHA-256 of its id."""
    clock = Clock()
    with open_target(target) as store:
        first, second = Sessions(clock, store=store), Sessions(clock, store=store)
        sid, opened = first.begin("alice", "H")
        asyncio.run(first.flush())
        assert _ask(second, sid) == "alice"
        assert second.peek(sid) is not None
        assert second.peek(sid).csrf == opened.csrf  # type: ignore[union-attr]
        row = store.stored_session(hash_token(sid))
        assert row is not None
        assert row.provider == "password"
        assert row.scopes is None
        assert store.stored_session(sid) is None
        if not target.startswith("postgresql://"):
            store.flush()
            with sqlite3.connect(target) as db:
                dumped = "\n".join(db.iterdump())
            assert sid not in dumped
            assert hash_token(sid) in dumped


@BACKENDS
def test_a_logout_anywhere_is_honoured_everywhere_within_fresh_seconds(target: str) -> None:
    """A session ended by one process is still honoured by another that read it less than
    FRESH seconds before, and no longer once FRESH has passed: the documented bound."""
    clock = Clock()
    with open_target(target) as store:
        first, second = Sessions(clock, store=store), Sessions(clock, store=store)
        sid = _begin(first)
        assert _ask(second, sid) == "alice"
        _end(first, sid)
        assert _ask(first, sid) is None
        clock.now += FRESH / 2
        assert _ask(second, sid) == "alice"  # what it read is still fresh
        clock.now += FRESH / 2
        assert _ask(second, sid) is None
        assert store.stored_session(hash_token(sid)) is None


@BACKENDS
def test_a_new_password_hash_ends_the_session_in_the_store(target: str) -> None:
    """A process whose configuration has a new password hash for the user ends the
    session in the store: the process still on the old one stops honouring it too (a
    reload reaches instances one at a time)."""
    clock = Clock()
    with open_target(target) as store:
        old, new = Sessions(clock, store=store), Sessions(clock, store=store)
        sid = _begin(old, password_hash="H1")
        assert _ask(new, sid, "H2") is None
        clock.now += FRESH
        assert _ask(old, sid, "H1") is None


@BACKENDS
def test_a_single_sign_on_session_keeps_its_scopes(target: str) -> None:
    """A single sign-on session's scopes are stored with it and read back by another
    process; its provider is ``oidc``."""
    clock = Clock()
    with open_target(target) as store:
        first, second = Sessions(clock, store=store), Sessions(clock, store=store)
        sid, _ = first.begin("carol@example.org", "K", scopes=frozenset({"read", "write"}))
        asyncio.run(first.flush())
        assert _ask(second, sid, "K") == "carol@example.org"
        seen = second.peek(sid)
        assert seen is not None
        assert seen.scopes == frozenset({"read", "write"})
        row = store.stored_session(hash_token(sid))
        assert row is not None
        assert row.provider == "oidc"


@BACKENDS
def test_use_is_written_now_and_then_and_the_idle_time_holds_across_processes(
    target: str,
) -> None:
    """A session used on one process every half idle time lives on in another that reads
    it afresh (the last use is written every TOUCH seconds); left idle it ends there too,
    and the prune deletes an expired session nobody asks for again."""
    clock = Clock()
    idle = 20 * TOUCH
    with open_target(target) as store:
        first = Sessions(clock, store=store, idle=idle)
        second = Sessions(clock, store=store, idle=idle)
        sid = _begin(first)
        for _ in range(4):
            clock.now += idle / 2
            assert _ask(first, sid) == "alice"
        clock.now += idle / 2
        assert _ask(second, sid) == "alice"
        forgotten = _begin(first, "bob")
        clock.now += idle + 1
        assert _ask(second, sid) is None
        assert store.stored_session(hash_token(forgotten)) is not None
        assert store.prune(clock.now).sessions == 1
        assert store.stored_session(hash_token(forgotten)) is None


def test_without_a_store_sessions_stay_in_memory() -> None:
    """Without a store (a test's app) recall and flush do nothing and a session lives in
    its process only, as before issue 48."""
    clock = Clock()
    sessions = Sessions(clock)
    sid = _begin(sessions)
    assert _ask(sessions, sid) == "alice"
    assert _ask(Sessions(clock), sid) is None


def test_a_login_while_the_store_cannot_be_written_is_kept_here(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A session opened while the store cannot be written (here: closed) is honoured by
    its own process, not dropped at its next read, and said in the log without its id."""
    clock = Clock()
    store = open_target(str(tmp_path / "t.db"))
    store.close()
    sessions = Sessions(clock, store=store)
    with caplog.at_level(logging.WARNING, logger="tether.monitor"):
        sid = _begin(sessions)
    assert "kept in this process only" in caplog.text
    assert sid not in caplog.text
    assert hash_token(sid) not in caplog.text
    clock.now += FRESH * 3
    assert _ask(sessions, sid) == "alice"
