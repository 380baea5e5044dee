"""SQLAlchemy's own seams on tether (issue 71 §2): the engine's ``handle_error`` event
classifies and invalidates; ``run`` re-runs a unit of work that failed before any of it took
effect.  Against Debian's real PostgreSQL; sleeps injected through the policy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy

from tests.helpers.postgres_server import PASSWORD, USER, PostgresServer
from tether import Kind, RetryPolicy
from tether.integrations import sqlalchemy as seam
from tether.integrations.sqlalchemy import instrument, run


def _url(server: PostgresServer, database: str = "postgres") -> str:
    return f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{server.port}/{database}"


@pytest.fixture
def engine(postgres_server: PostgresServer) -> Iterator[sqlalchemy.engine.Engine]:
    made = sqlalchemy.create_engine(_url(postgres_server), pool_size=1, max_overflow=0)
    with made.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE IF NOT EXISTS seam (x int)"))
        conn.execute(sqlalchemy.text("TRUNCATE seam"))
    yield made
    made.dispose()


def _read_only_now(engine: sqlalchemy.engine.Engine) -> None:
    """The pool's one connection answers as a server that became a standby would: its
    session refuses writes (25006), as after a failover that left it on a replica."""
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text("SET SESSION default_transaction_read_only = on"))
        conn.commit()


def _insert(conn: sqlalchemy.engine.Connection) -> None:
    conn.execute(sqlalchemy.text("INSERT INTO seam VALUES (1)"))


def test_a_read_only_connection_is_invalidated(engine: sqlalchemy.engine.Engine) -> None:
    """With instrument(), a write refused as read-only (db.read_only) counts as a disconnect:
    SQLAlchemy throws the pooled connection away, and the next checkout gets a new one that
    takes the write.  The exception carries tether's failure."""
    instrument(engine)
    _read_only_now(engine)
    with pytest.raises(sqlalchemy.exc.DBAPIError) as caught, engine.begin() as conn:
        _insert(conn)
    assert caught.value.connection_invalidated
    assert caught.value.failure.kind is Kind.DB_READ_ONLY  # type: ignore[attr-defined]
    with engine.begin() as conn:
        _insert(conn)


def test_without_instrument_the_read_only_connection_stays(
    engine: sqlalchemy.engine.Engine,
) -> None:
    """The peer: SQLAlchemy alone keeps the read-only connection in its pool, and the next
    write fails on it again (what instrument() fixes)."""
    _read_only_now(engine)
    for _ in range(2):
        with pytest.raises(sqlalchemy.exc.DBAPIError) as caught, engine.begin() as conn:
            _insert(conn)
        assert not caught.value.connection_invalidated


def test_instrument_on_an_engine_twice_listens_once(engine: sqlalchemy.engine.Engine) -> None:
    """Calling instrument() again adds no second listener."""
    instrument(engine)
    instrument(engine)
    assert sqlalchemy.event.contains(engine, "handle_error", seam._handle_error)
    sqlalchemy.event.remove(engine, "handle_error", seam._handle_error)
    assert not sqlalchemy.event.contains(engine, "handle_error", seam._handle_error)


def test_run_re_runs_a_transaction_that_lost_a_conflict(engine: sqlalchemy.engine.Engine) -> None:
    """A serialization failure (40001) rolled the transaction back: run() runs it again,
    once, and its write is there once."""
    waits: list[float] = []
    tries: list[int] = []

    def work(conn: sqlalchemy.engine.Connection) -> int:
        tries.append(1)
        _insert(conn)
        if len(tries) == 1:
            conn.execute(
                sqlalchemy.text(
                    "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'serialization_failure'; END $$"
                )
            )
        return len(tries)

    policy = RetryPolicy(attempts=3, sleep=waits.append, jitter="none")
    assert run(engine, work, policy=policy) == 2
    assert len(waits) == 1
    with engine.connect() as conn:
        assert conn.execute(sqlalchemy.text("SELECT count(*) FROM seam")).scalar() == 1


def test_run_does_not_re_run_what_will_not_change(engine: sqlalchemy.engine.Engine) -> None:
    """A syntax error is db.query_failed: raised at once, with its failure."""
    waits: list[float] = []
    policy = RetryPolicy(attempts=3, sleep=waits.append)
    with pytest.raises(sqlalchemy.exc.ProgrammingError) as caught:
        run(engine, lambda conn: conn.execute(sqlalchemy.text("SELEC 1")), policy=policy)
    assert caught.value.failure.kind is Kind.DB_QUERY_FAILED  # type: ignore[attr-defined]
    assert waits == []


def test_run_reaches_a_server_that_comes_back(postgres_server: PostgresServer) -> None:
    """A server of its own, not yet started when the unit of work begins (connect.refused,
    nothing sent), started during the backoff's wait: the work runs once, after one wait."""
    later = PostgresServer(postgres_server.bindir)
    engine = sqlalchemy.create_engine(_url(later), poolclass=sqlalchemy.pool.NullPool)
    waits: list[float] = []

    def sleep(delay: float) -> None:
        waits.append(delay)
        later.start()

    try:
        policy = RetryPolicy(attempts=3, deadline=120, sleep=sleep, jitter="none")
        select = sqlalchemy.text("SELECT 1")
        assert run(engine, lambda conn: conn.execute(select).scalar(), policy=policy) == 1
    finally:
        engine.dispose()
        later.stop()
    assert len(waits) == 1
