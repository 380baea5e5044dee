"""One call of each client a service uses (databases, caches, RPC, cloud SDKs, SSH, brokers,
mail) against a server of the lab's :class:`~tether.lab._services.ServiceLab`, and what
tether makes of what it raised: the matrix of issue 71.

Each client is called as its documentation calls it, with its own timeouts short (the
silent server is left by a timeout) and TLS verified against the lab's CA, which signed
none of the lab's servers.  :data:`EXPECTED` holds the kind each fault should give each
client where the library's own words cannot say more than that (libpq says "server closed
the connection unexpectedly" of a reset too); everywhere else a fault's kind is the one it
names.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import ssl
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import tether
from tether import Kind
from tether.lab._services import FAULTS, ServiceFault, ServiceLab

T = 3.0
"""Each client's own timeouts, in seconds."""

Call = Callable[[ServiceFault, ServiceLab], Any]

PROTOCOL: dict[str, str] = {
    "psycopg": "postgresql",
    "psycopg2": "postgresql",
    "asyncpg": "postgresql",
    "sqlalchemy": "postgresql",
    "pymysql": "mysql",
    "aiomysql": "mysql",
    "redis": "redis",
    "redis.asyncio": "redis",
    "pymongo": "mongodb",
    "grpcio": "grpc",
    "grpc.aio": "grpc",
    "botocore": "http",
    "websockets": "ws",
    "paramiko": "ssh",
    "asyncssh": "ssh",
    "pika": "amqp",
    "aio-pika": "amqp",
    "smtplib": "smtp",
    "ftplib": "ftp",
    "imaplib": "imap",
    "poplib": "pop",
}
CLIENTS = tuple(PROTOCOL)
IMPORTS: dict[str, str] = {
    **{c: c for c in PROTOCOL},
    "grpcio": "grpc",
    "grpc.aio": "grpc.aio",
    "botocore": "botocore.session",
    "websockets": "websockets.sync.client",
    "aio-pika": "aio_pika",
}
"""The module each client is imported as."""

# Clients that speak TLS from the first byte when asked (the others negotiate it inside their
# protocol: PostgreSQL's SSLRequest, MySQL's and FTP's capability flags, SSH's own crypto).
DIRECT_TLS = frozenset(
    {
        "redis",
        "redis.asyncio",
        "pymongo",
        "grpcio",
        "grpc.aio",
        "botocore",
        "websockets",
        "pika",
        "aio-pika",
        "smtplib",
        "imaplib",
        "poplib",
    }
)

EXPECTED: dict[tuple[str, str], tuple[Kind, str]] = {
    **{
        ("reset", c): (
            Kind.CONNECTION_CLOSED,
            "libpq says 'server closed the connection unexpectedly' of a reset too, and keeps "
            "no errno",
        )
        for c in ("psycopg", "psycopg2", "sqlalchemy")
    },
    ("reset", "websockets"): (
        Kind.CONNECTION_CLOSED,
        "websockets reads the opening handshake's answer from its own stream, which ends "
        "with EOFError whether the peer closed or reset",
    ),
    **{
        ("silent", c): (
            Kind.DEADLINE_EXCEEDED,
            "gRPC's deadline bounds the whole call, connecting included: DEADLINE_EXCEEDED "
            "says nothing of the phase",
        )
        for c in ("grpcio", "grpc.aio")
    },
    ("silent", "botocore"): (
        Kind.READ_TIMEOUT,
        "HTTP: the request was sent, and the answer did not come (botocore's read timeout)",
    ),
    ("silent", "paramiko"): (
        Kind.CONNECTION_CLOSED,
        "paramiko's transport thread meets the banner timeout and logs it; connect() then "
        "raises 'No existing session'",
    ),
}
"""(fault, client) where the kind is not the fault's own, and why."""


REAL_KINDS = frozenset(
    {
        Kind.DB_AUTH_FAILED,
        Kind.DB_UNKNOWN_DATABASE,
        Kind.DB_READ_ONLY,
        Kind.DB_QUERY_FAILED,
        Kind.DB_TOO_MANY_CONNECTIONS,
        Kind.SERVER_UNAVAILABLE,
        Kind.GRPC_STATUS,
        Kind.AUTH_FAILED,
    }
)
"""The kinds tests/classify/test_clients_real.py reaches against real servers (each of its
tests asserts its own)."""


@dataclass(frozen=True)
class Cell:
    fault: str
    client: str
    kind: str
    """What tether.classify said, or ``"no error"``."""
    request_sent: bool | None
    raised: str
    """The exception's class and first words."""


def applies(fault: ServiceFault, client: str) -> bool:
    if fault.protocol == "any":
        return fault.name != "tls_untrusted" or client in DIRECT_TLS
    return fault.protocol == PROTOCOL[client]


def expected(fault: ServiceFault, client: str) -> Kind:
    return EXPECTED.get((fault.name, client), (fault.kind, ""))[0]


def planned() -> list[tuple[str, str]]:
    return [(f.name, c) for f in FAULTS for c in CLIENTS if applies(f, c)]


def run(
    lab: ServiceLab, pairs: list[tuple[str, str]], workers: int = 16
) -> dict[tuple[str, str], Cell]:
    """Every (fault, client) call at once, in threads; one Cell each."""

    def one(pair: tuple[str, str]) -> Cell:
        fault, client = lab[pair[0]], pair[1]
        try:
            CALLS[client](fault, lab)
        except BaseException as exc:
            failure = tether.classify(exc)
            words = " ".join(str(exc).split())[:120]
            return Cell(
                pair[0],
                client,
                failure.kind.value,
                failure.request_sent,
                f"{type(exc).__module__}.{type(exc).__qualname__}: {words}",
            )
        return Cell(pair[0], client, "no error", None, "")

    for client in {client for _, client in pairs}:  # imported once, not in racing threads
        with contextlib.suppress(ImportError):
            importlib.import_module(IMPORTS[client])
    # The libraries' own warnings (a ResourceWarning for a socket a failed call left open)
    # are theirs, not the cells': ignored for the whole run (one filter change, in this
    # thread: catch_warnings is not thread-safe), and what the calls left behind collected
    # before the filter goes back, rather than in whichever test the collector next runs.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ThreadPoolExecutor(workers) as pool:
            cells = {(c.fault, c.client): c for c in pool.map(one, list(pairs))}
        gc.collect()
    return cells


# --- the calls ---------------------------------------------------------------------------------


def _ctx(lab: ServiceLab) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=lab.ca_file)


def _tls(fault: ServiceFault) -> bool:
    return fault.name == "tls_untrusted"


def _async(call: Callable[[ServiceFault, ServiceLab], Any]) -> Call:
    def run_it(fault: ServiceFault, lab: ServiceLab) -> Any:
        async def bounded() -> Any:
            async with asyncio.timeout(10):  # a hang is a failure of the test, not a cell
                return await call(fault, lab)

        return asyncio.run(bounded())

    return run_it


def _psycopg(fault: ServiceFault, lab: ServiceLab) -> None:
    import psycopg

    tls = {"sslmode": "verify-full", "sslrootcert": lab.ca_file}
    with psycopg.connect(
        lab.dsn(fault.name),
        connect_timeout=2,
        **(tls if fault.name == "postgres_untrusted" else {"sslmode": "disable"}),
    ) as conn:
        conn.execute("INSERT INTO t VALUES (1)")


def _psycopg2(fault: ServiceFault, lab: ServiceLab) -> None:
    import psycopg2

    tls = {"sslmode": "verify-full", "sslrootcert": lab.ca_file}
    conn = psycopg2.connect(
        lab.dsn(fault.name),
        connect_timeout=2,
        **(tls if fault.name == "postgres_untrusted" else {"sslmode": "disable"}),
    )
    try:
        conn.cursor().execute("INSERT INTO t VALUES (1)")
    finally:
        conn.close()


async def _asyncpg(fault: ServiceFault, lab: ServiceLab) -> None:
    import asyncpg

    tls: Any = _ctx(lab) if fault.name == "postgres_untrusted" else False
    conn = await asyncpg.connect(lab.dsn(fault.name), timeout=T, ssl=tls)
    try:
        await conn.execute("INSERT INTO t VALUES (1)")
    finally:
        await conn.close()


def _sqlalchemy(fault: ServiceFault, lab: ServiceLab) -> None:
    import sqlalchemy

    tls = {"sslmode": "verify-full", "sslrootcert": lab.ca_file}
    url = lab.dsn(fault.name).replace("postgresql://", "postgresql+psycopg://")
    engine = sqlalchemy.create_engine(
        url,
        connect_args={
            "connect_timeout": 2,
            **(tls if fault.name == "postgres_untrusted" else {"sslmode": "disable"}),
        },
        poolclass=sqlalchemy.pool.NullPool,
    )
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("INSERT INTO t VALUES (1)"))
    finally:
        engine.dispose()


def _pymysql(fault: ServiceFault, lab: ServiceLab) -> None:
    import pymysql

    pymysql.connect(
        host=fault.host,
        port=fault.port,
        user="lab",
        password="x",
        database="lab",
        connect_timeout=T,
        read_timeout=T,
    ).close()


async def _aiomysql(fault: ServiceFault, lab: ServiceLab) -> None:
    import aiomysql

    conn = await asyncio.wait_for(
        aiomysql.connect(
            host=fault.host,
            port=fault.port,
            user="lab",
            password="x",
            db="lab",
            connect_timeout=T,
        ),
        T,
    )
    conn.close()


def _redis_args(fault: ServiceFault, lab: ServiceLab) -> dict[str, Any]:
    tls = {"ssl": True, "ssl_ca_certs": lab.ca_file} if _tls(fault) else {}
    return {
        "host": fault.host,
        "port": fault.port,
        "socket_timeout": T,
        "socket_connect_timeout": T,
        **tls,
    }


def _redis(fault: ServiceFault, lab: ServiceLab) -> None:
    import redis

    client = redis.Redis(**_redis_args(fault, lab))
    try:
        client.set("lab", "1")
    finally:
        client.close()


async def _redis_asyncio(fault: ServiceFault, lab: ServiceLab) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis(**_redis_args(fault, lab))
    try:
        await client.set("lab", "1")
    finally:
        await client.aclose()


def _pymongo(fault: ServiceFault, lab: ServiceLab) -> None:
    import pymongo

    tls = {"tls": True, "tlsCAFile": lab.ca_file} if _tls(fault) else {}
    client: Any = pymongo.MongoClient(
        host=fault.host,
        port=fault.port,
        serverSelectionTimeoutMS=int(T * 1000),
        connectTimeoutMS=int(T * 1000),
        socketTimeoutMS=int(T * 1000),
        **tls,
    )
    try:
        client.admin.command("ping")
    finally:
        client.close()


def _grpc_channel(fault: ServiceFault, lab: ServiceLab, aio: bool) -> Any:
    import grpc

    target = f"{fault.host}:{fault.port}"
    module: Any = grpc.aio if aio else grpc
    if _tls(fault):
        with open(lab.ca_file, "rb") as f:
            credentials = grpc.ssl_channel_credentials(f.read())
        return module.secure_channel(target, credentials)
    return module.insecure_channel(target)


def _grpcio(fault: ServiceFault, lab: ServiceLab) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with _grpc_channel(fault, lab, aio=False) as channel:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=T)


async def _grpc_aio(fault: ServiceFault, lab: ServiceLab) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with _grpc_channel(fault, lab, aio=True) as channel:
        await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=T)


def _botocore(fault: ServiceFault, lab: ServiceLab) -> None:
    import botocore.config
    import botocore.session

    scheme = "https" if _tls(fault) else "http"
    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=f"{scheme}://{fault.host}:{fault.port}",
        region_name="us-east-1",
        aws_access_key_id="lab",
        aws_secret_access_key="lab",
        verify=lab.ca_file if _tls(fault) else None,
        config=botocore.config.Config(
            connect_timeout=T, read_timeout=T, retries={"total_max_attempts": 1}
        ),
    )
    try:
        client.list_buckets()
    finally:
        client.close()


def _websockets(fault: ServiceFault, lab: ServiceLab) -> None:
    from websockets.sync.client import connect

    scheme = "wss" if _tls(fault) else "ws"
    with connect(
        f"{scheme}://{fault.host}:{fault.port}/",
        open_timeout=T,
        ssl=_ctx(lab) if _tls(fault) else None,
    ):
        pass


def _paramiko(fault: ServiceFault, lab: ServiceLab) -> None:
    import paramiko

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            fault.host,
            fault.port,
            username="lab",
            password="x",
            timeout=T,
            banner_timeout=T,
            auth_timeout=T,
            look_for_keys=False,
            allow_agent=False,
        )
    finally:
        client.close()


async def _asyncssh(fault: ServiceFault, lab: ServiceLab) -> None:
    import asyncssh

    conn = await asyncssh.connect(
        fault.host,
        fault.port,
        connect_timeout=T,
        login_timeout=T,
        known_hosts=None,
        username="lab",
        password="x",
    )
    conn.close()


def _pika(fault: ServiceFault, lab: ServiceLab) -> None:
    import pika

    tls = {"ssl_options": pika.SSLOptions(_ctx(lab))} if _tls(fault) else {}
    pika.BlockingConnection(
        pika.ConnectionParameters(
            fault.host,
            fault.port,
            socket_timeout=T,
            stack_timeout=T,
            blocked_connection_timeout=T,
            connection_attempts=1,
            credentials=pika.PlainCredentials("lab", "x"),
            **tls,
        )
    ).close()


async def _aio_pika(fault: ServiceFault, lab: ServiceLab) -> None:
    import aio_pika

    scheme = "amqps" if _tls(fault) else "amqp"
    kwargs: dict[str, Any] = {"ssl_context": _ctx(lab)} if _tls(fault) else {}
    conn = await aio_pika.connect(
        f"{scheme}://lab:x@{fault.host}:{fault.port}/", timeout=T, **kwargs
    )
    await conn.close()


def _smtplib(fault: ServiceFault, lab: ServiceLab) -> None:
    import smtplib

    if _tls(fault):
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            fault.host, fault.port, "lab.test", timeout=T, context=_ctx(lab)
        )
    else:
        client = smtplib.SMTP(fault.host, fault.port, "lab.test", timeout=T)
    with contextlib.closing(client):
        client.noop()


def _ftplib(fault: ServiceFault, lab: ServiceLab) -> None:
    import ftplib

    with ftplib.FTP(timeout=T) as client:
        client.connect(fault.host, fault.port)


def _imaplib(fault: ServiceFault, lab: ServiceLab) -> None:
    import imaplib

    if _tls(fault):
        imaplib.IMAP4_SSL(fault.host, fault.port, timeout=T, ssl_context=_ctx(lab)).logout()
    else:
        imaplib.IMAP4(fault.host, fault.port, timeout=T).logout()


def _poplib(fault: ServiceFault, lab: ServiceLab) -> None:
    import poplib

    if _tls(fault):
        poplib.POP3_SSL(fault.host, fault.port, timeout=T, context=_ctx(lab)).quit()
    else:
        poplib.POP3(fault.host, fault.port, timeout=T).quit()


CALLS: dict[str, Call] = {
    "psycopg": _psycopg,
    "psycopg2": _psycopg2,
    "asyncpg": _async(_asyncpg),
    "sqlalchemy": _sqlalchemy,
    "pymysql": _pymysql,
    "aiomysql": _async(_aiomysql),
    "redis": _redis,
    "redis.asyncio": _async(_redis_asyncio),
    "pymongo": _pymongo,
    "grpcio": _grpcio,
    "grpc.aio": _async(_grpc_aio),
    "botocore": _botocore,
    "websockets": _websockets,
    "paramiko": _paramiko,
    "asyncssh": _async(_asyncssh),
    "pika": _pika,
    "aio-pika": _async(_aio_pika),
    "smtplib": _smtplib,
    "ftplib": _ftplib,
    "imaplib": _imaplib,
    "poplib": _poplib,
}
