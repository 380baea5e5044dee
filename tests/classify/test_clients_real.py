"""The clients a service calls, against the real servers: Debian's PostgreSQL, MariaDB,
Redis and RabbitMQ, grpcio's own server, aiosmtpd (issue 71).  Each server's own refusals,
as the server words them, classified with the kinds the lab's fault servers give, and
request_sent true only where the query had left.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.db_servers import (
    MARIADB_PASSWORD,
    MARIADB_USER,
    RABBITMQ_PASSWORD,
    REDIS_PASSWORD,
    MariaDB,
    RabbitMQ,
    Redis,
)
from tests.helpers.grpc_server import grpc_server
from tests.helpers.postgres_server import PASSWORD, USER, PostgresServer
from tests.helpers.smtp_receiver import SMTPReceiver
from tests.helpers.sshd_server import sshd_server
from tether import Failure, Kind, classify


def _failure(call: object) -> Failure:
    assert callable(call)
    with pytest.raises(Exception) as caught:  # noqa: PT011 - each library raises its own
        call()
    return classify(caught.value)


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg(server: PostgresServer, *, database: str = "postgres", password: str = PASSWORD) -> str:
    return f"postgresql://{USER}:{password}@127.0.0.1:{server.port}/{database}"


def test_postgres_refusals(postgres_server: PostgresServer) -> None:
    """psycopg, psycopg2 and asyncpg against a real PostgreSQL: a wrong password, an unknown
    database; nothing was sent, and neither is worth retrying."""
    import asyncpg
    import psycopg
    import psycopg2

    wrong = _pg(postgres_server, password="wrong")
    nowhere = _pg(postgres_server, database="no_such_db")
    for url, kind in ((wrong, Kind.DB_AUTH_FAILED), (nowhere, Kind.DB_UNKNOWN_DATABASE)):
        for connect in (
            lambda u=url: psycopg.connect(u, connect_timeout=5),
            lambda u=url: psycopg2.connect(u, connect_timeout=5),
            lambda u=url: asyncio.run(asyncpg.connect(u, timeout=5)),
        ):
            failure = _failure(connect)
            assert failure.kind is kind, failure
            assert not failure.request_sent
            assert not failure.retryable
            assert PASSWORD not in failure.detail
            assert failure.port == postgres_server.port or failure.port is None


def test_postgres_query_errors_after_the_query_left(postgres_server: PostgresServer) -> None:
    """A syntax error is db.query_failed and was sent; a write in a read-only transaction is
    db.read_only (25006); a serialization failure's SQLSTATE 40001 makes db.query_failed
    retryable; a session ended by the administrator (57P01) is server.unavailable."""
    import psycopg

    with psycopg.connect(_pg(postgres_server), autocommit=True) as conn:
        failure = _failure(lambda: conn.execute("SELEC 1"))
        assert failure.kind is Kind.DB_QUERY_FAILED
        assert failure.request_sent
        assert not failure.retryable
        assert "42601" in failure.detail
        conn.execute("SET default_transaction_read_only = on")
        failure = _failure(lambda: conn.execute("CREATE TABLE t (x int)"))
        assert failure.kind is Kind.DB_READ_ONLY
        conn.execute("SET default_transaction_read_only = off")
        failure = _failure(
            lambda: conn.execute(
                "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'serialization_failure'; END $$"
            )
        )
        assert failure.kind is Kind.DB_QUERY_FAILED
        assert failure.retryable
        assert not failure.request_sent  # rolled back: nothing of it took effect
    victim = psycopg.connect(_pg(postgres_server), autocommit=True)
    pid = victim.info.backend_pid
    with psycopg.connect(_pg(postgres_server), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    failure = _failure(lambda: victim.execute("SELECT 1"))
    victim.close()
    assert failure.kind in (Kind.SERVER_UNAVAILABLE, Kind.CONNECTION_CLOSED), failure


def test_sqlalchemy_wraps_the_driver(postgres_server: PostgresServer) -> None:
    """SQLAlchemy's OperationalError is classified by the driver's exception it wraps."""
    import sqlalchemy

    url = _pg(postgres_server, password="wrong").replace("postgresql://", "postgresql+psycopg://")
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        failure = _failure(engine.connect)
    finally:
        engine.dispose()
    assert failure.kind is Kind.DB_AUTH_FAILED


# --- MariaDB --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mariadb() -> Iterator[MariaDB]:
    server = MariaDB(max_connections=2)
    server.start()
    yield server
    server.stop()


def test_mariadb_refusals(mariadb: MariaDB) -> None:
    """PyMySQL against a real MariaDB: a wrong password (1045), an unknown database (1049),
    a syntax error (1064, sent)."""
    import pymysql

    def connect(password: str = MARIADB_PASSWORD, database: str = "app") -> pymysql.Connection:
        return pymysql.connect(
            host="127.0.0.1",
            port=mariadb.port,
            user=MARIADB_USER,
            password=password,
            database=database,
            connect_timeout=5,
        )

    assert _failure(lambda: connect(password="wrong")).kind is Kind.DB_AUTH_FAILED
    assert _failure(lambda: connect(database="no_such_db")).kind is Kind.DB_UNKNOWN_DATABASE
    conn = connect()
    try:
        failure = _failure(lambda: conn.cursor().execute("SELEC 1"))
    finally:
        conn.close()
    assert failure.kind is Kind.DB_QUERY_FAILED
    assert failure.request_sent


# --- Redis --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_server() -> Iterator[Redis]:
    server = Redis()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis_replica(redis_server: Redis) -> Iterator[Redis]:
    server = Redis(primary=redis_server)
    server.start()
    yield server
    server.stop()


def test_redis_refusals(redis_server: Redis, redis_replica: Redis) -> None:
    """redis-py against a real Redis: no password (NOAUTH), a wrong one (WRONGPASS), a write
    to a replica (READONLY), a command on the wrong type (WRONGTYPE: db.query_failed)."""
    import redis

    def client(server: Redis, password: str | None = REDIS_PASSWORD) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=server.port, password=password, socket_timeout=5)

    assert _failure(lambda: client(redis_server, None).get("k")).kind is Kind.DB_AUTH_FAILED
    assert _failure(lambda: client(redis_server, "wrong").get("k")).kind is Kind.DB_AUTH_FAILED
    assert _failure(lambda: client(redis_replica).set("k", "v")).kind is Kind.DB_READ_ONLY
    good = client(redis_server)
    good.set("string", "v")
    failure = _failure(lambda: good.lpush("string", "x"))
    assert failure.kind is Kind.DB_QUERY_FAILED
    assert failure.request_sent


# --- gRPC and SMTP ---------------------------------------------------------------------------


def test_grpc_status_of_a_real_server() -> None:
    """grpcio's own server: a method it does not have is UNIMPLEMENTED, grpc.status, not
    retryable; the peer is named."""
    import grpc

    with grpc_server({"": 1}) as peer, grpc.insecure_channel(f"127.0.0.1:{peer.port}") as ch:
        call = ch.unary_unary("/lab.Nothing/Here")
        failure = _failure(lambda: call(b"", timeout=5))
    assert failure.kind is Kind.GRPC_STATUS
    assert "UNIMPLEMENTED" in failure.detail
    assert not failure.retryable


def test_smtp_login_refused() -> None:
    """aiosmtpd refusing a password: 535, auth.failed."""
    receiver = SMTPReceiver(users={"alice": "right"})
    receiver.start()
    try:
        with smtplib.SMTP("127.0.0.1", receiver.port, "lab.test", timeout=5) as client:
            failure = _failure(lambda: client.login("alice", "wrong"))
    finally:
        receiver.stop()
    assert failure.kind is Kind.AUTH_FAILED
    assert not failure.retryable


def test_ssh_login_refused_by_a_real_sshd(tmp_path: Path) -> None:
    """Debian's sshd refusing a password (it takes none): paramiko's and asyncssh's refusals
    are auth.failed, nothing sent, not worth another attempt."""
    import asyncssh
    import paramiko

    async def asyncssh_login(port: int) -> None:
        await asyncssh.connect(
            "127.0.0.1", port, known_hosts=None, username="lab", password="x", connect_timeout=5
        )

    with sshd_server(tmp_path) as port:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        try:
            failures = [
                _failure(
                    lambda: client.connect(
                        "127.0.0.1",
                        port,
                        username="lab",
                        password="x",
                        timeout=5,
                        look_for_keys=False,
                        allow_agent=False,
                    )
                ),
                _failure(lambda: asyncio.run(asyncssh_login(port))),
            ]
        finally:
            client.close()
    for failure in failures:
        assert failure.kind is Kind.AUTH_FAILED, failure
        assert not failure.request_sent
        assert not failure.retryable


# --- RabbitMQ (AMQP) ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rabbitmq() -> Iterator[RabbitMQ]:
    server = RabbitMQ()
    server.start()
    yield server
    server.stop()


def test_rabbitmq_refusals(rabbitmq: RabbitMQ) -> None:
    """pika and aio-pika against Debian's RabbitMQ: a wrong password (ACCESS_REFUSED) is
    auth.failed, a virtual host the broker has not is refused too; nothing was sent, and
    neither is worth another attempt.  A queue that is not there (404 NOT_FOUND on a
    passive declare) is the broker's answer to a request that left."""
    import aio_pika
    import pika

    def pika_connect(url: str) -> None:
        pika.BlockingConnection(pika.URLParameters(url)).close()

    async def aio_connect(url: str) -> None:
        connection = await aio_pika.connect(url, timeout=10)
        await connection.close()

    refused = [
        _failure(lambda: pika_connect(rabbitmq.url(password="wrong"))),
        _failure(lambda: asyncio.run(aio_connect(rabbitmq.url(password="wrong")))),
    ]
    for failure in refused:
        assert failure.kind is Kind.AUTH_FAILED, failure
        assert not failure.retryable
        assert not failure.request_sent
        assert RABBITMQ_PASSWORD not in str(failure)
    no_vhost = _failure(lambda: pika_connect(rabbitmq.url("nowhere")))
    assert no_vhost.kind is Kind.AUTH_FAILED, no_vhost
    assert not no_vhost.retryable
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq.url()))
    try:
        channel = connection.channel()
        missing = _failure(lambda: channel.queue_declare("not-there", passive=True))
    finally:
        if connection.is_open:
            connection.close()
    assert missing.request_sent
    assert not missing.retryable
    assert "NOT_FOUND" in missing.detail


def test_rabbitmq_shutting_down_is_worth_another_attempt() -> None:
    """The broker stopping (SIGTERM, its own shutdown) closes each connection with 320
    CONNECTION_FORCED: server.unavailable, which a retry fixes (another node, or this one
    back); pika's blocking and aio-pika's connections alike."""
    import aio_pika
    import pika

    server = RabbitMQ()
    server.start()
    connection = pika.BlockingConnection(pika.URLParameters(server.url()))
    try:
        server.stop()
        failure = _failure(lambda: connection.process_data_events(time_limit=10))
    finally:
        server.stop()
    assert failure.kind is Kind.SERVER_UNAVAILABLE, failure
    assert failure.retryable

    async def closed_by_broker() -> Failure:
        other = RabbitMQ()
        other.start()
        try:
            connection = await aio_pika.connect(other.url(), timeout=10)
            channel = await connection.channel()
            other.stop()
            with pytest.raises(Exception) as caught:  # noqa: PT011 - aio-pika's own
                await channel.declare_queue("q", timeout=10)
            return classify(caught.value)
        finally:
            other.stop()

    later = asyncio.run(closed_by_broker())
    assert later.kind in (Kind.SERVER_UNAVAILABLE, Kind.CONNECTION_CLOSED), later
    assert later.retryable
