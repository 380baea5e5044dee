"""SQLAlchemy's own seams, its engine events and its units of work, on tether's
classification and :class:`tether.RetryPolicy`.

:func:`instrument` listens to the engine's ``handle_error`` event: each DBAPI error is
classified (``exc.failure``, on SQLAlchemy's own exception), and a failure that means the
pooled connection should not be used again (lost, reset, a server shutting down, a server
that became read-only under a failover) sets ``is_disconnect``, so SQLAlchemy invalidates
the connection (and, as it does for any disconnect, the connections pooled with it)::

    engine = sqlalchemy.create_engine(url)
    tether.integrations.sqlalchemy.instrument(engine)

:func:`run` re-runs a unit of work, ``work(connection)`` inside ``engine.begin()``, when it
failed before any of it took effect: a connection refused or dropped while connecting, a
server starting up, a transaction the server rolled back for a conflict (SQLSTATE 40001,
40P01, MySQL's 1213).  A connection lost after the work was sent (a COMMIT that may have
happened) is re-run only with ``idempotent=True``::

    total = tether.integrations.sqlalchemy.run(engine, lambda conn: conn.execute(q).scalar())
"""

from __future__ import annotations

from tether._extras import require

# A missing client is one line naming the extra, not a bare ModuleNotFoundError.
require("tether.integrations.sqlalchemy", "sqlalchemy")

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy
import sqlalchemy.engine
import sqlalchemy.event

from tether._classify import classify
from tether._kinds import Kind
from tether._retry._decorator import retry
from tether._retry._policy import RetryPolicy
from tether._retry._state import Guard

__all__ = ["instrument", "run"]

T = TypeVar("T")

INVALIDATING: frozenset[Kind] = frozenset(
    {
        Kind.CONNECTION_RESET,
        Kind.CONNECTION_CLOSED,
        Kind.CONNECTION_BROKEN_PIPE,
        Kind.CONNECTION_ABORTED,
        Kind.SERVER_UNAVAILABLE,
        Kind.DB_READ_ONLY,
    }
)
"""The kinds that make a pooled connection one not to use again: it broke, its server is
going away, or its server no longer takes writes (a failover left it on a replica)."""

_MARK = "_tether_instrumented"


def instrument(engine: sqlalchemy.engine.Engine | Any) -> None:
    """Classify every DBAPI error of ``engine`` (an ``Engine``, or an ``AsyncEngine``'s
    ``sync_engine``), and count the failures in :data:`INVALIDATING` as disconnects.  Calling
    it twice on one engine listens once."""
    engine = getattr(engine, "sync_engine", engine)
    if getattr(engine, _MARK, False):
        return
    sqlalchemy.event.listen(engine, "handle_error", _handle_error)
    setattr(engine, _MARK, True)


def _handle_error(context: Any) -> None:
    original = context.original_exception
    failure = classify(original)
    wrapped = context.sqlalchemy_exception
    for exc in (original, wrapped):
        if exc is not None:
            with contextlib.suppress(AttributeError, TypeError):  # __slots__, read-only
                exc.failure = failure
    if failure.kind in INVALIDATING:
        context.is_disconnect = True


def run(
    engine: sqlalchemy.engine.Engine,
    work: Callable[[sqlalchemy.engine.Connection], T],
    *,
    policy: RetryPolicy | None = None,
    guard: Guard | None = None,
    idempotent: bool = False,
) -> T:
    """``work(connection)`` in a transaction of its own (``engine.begin()``), run again as
    ``policy`` says when it failed before any of it took effect; with ``idempotent``, also
    when it may have.  Raises what the last attempt raised, with ``.failure`` on it.

    Budgets and breakers are kept per engine and policy (or in ``guard``, to share them)."""
    runner: Callable[..., T]
    if guard is not None:
        runner = retry(guard=guard, idempotent=idempotent)(_unit)
    else:
        runners: dict[tuple[RetryPolicy | None, bool], Callable[..., Any]]
        runners = engine.__dict__.setdefault("_tether_runners", {})
        found = runners.get((policy, idempotent))
        if found is None:
            found = retry(policy=policy, idempotent=idempotent)(_unit)
            runners[policy, idempotent] = found
        runner = found
    return runner(engine, work)


def _unit(engine: sqlalchemy.engine.Engine, work: Callable[[sqlalchemy.engine.Connection], T]) -> T:
    with engine.begin() as connection:
        return work(connection)
