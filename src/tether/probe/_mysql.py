"""A ``mysql://`` or ``mariadb://`` check with PyMySQL (the ``mysql`` extra).

PyMySQL blocks, so it runs in a bounded pool of threads (:data:`THREADS`), never on the
event loop; the pool bounds how many MySQL checks are under way at once, and the others
wait their turn within their own deadline.  (No asyncio client was in the registry's
mirror's reach here that is maintained and typed: aiomysql wraps this same PyMySQL.)

The walk's own ``dns`` and ``connect`` phases reach the server (its connect race, its
kinds); PyMySQL takes the connected socket for the ``auth`` phase (the server's
greeting, TLS when ``?ssl=true``, verified, and the login) and the ``query`` phase (the
role check, the query in a ``READ ONLY`` transaction under ``max_statement_time``)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

from tether._classify import classify
from tether._classify._databases import MYSQL_ERRORS as ERRORS
from tether._kinds import Kind
from tether.probe import _connect
from tether.probe._dbcommon import db_failure, first_value, statement_limit
from tether.probe._dboptions import DatabaseQuery, DatabaseUrl
from tether.probe._details import ConnectDetails, DatabaseDetails
from tether.probe._target import Target
from tether.probe._walk_tls import WalkTls

THREADS: Final = 16
"""MySQL checks under way at once, each in a thread of its own."""

_T = TypeVar("_T")


@functools.cache
def _threads() -> ThreadPoolExecutor:
    """The pool, made on first use (``functools.cache`` holds its lock)."""
    return ThreadPoolExecutor(THREADS, thread_name_prefix="tether-mysql")


async def _in_thread(call: Callable[[], _T]) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_threads(), call)


@functools.lru_cache(maxsize=32)
def tls_context(cacert: str | None, insecure: bool) -> ssl.SSLContext:
    """Verified (the system's trust, and ``cacert``'s) unless ``insecure``."""
    ctx = ssl.create_default_context()
    if cacert:
        ctx.load_verify_locations(cafile=cacert)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class ReplyTooLarge(OSError):
    """The server sent more than the check's byte bound (``max_body``)."""


_MALFORMED: Final = (struct.error, IndexError, KeyError, ValueError, UnicodeDecodeError)
"""What PyMySQL raises reading bytes that are not MySQL's protocol."""


def error_kind(exc: BaseException) -> tuple[Kind, int | None]:
    """The kind and error number of what PyMySQL raised (the number when the server sent one)."""
    import pymysql

    chain = [exc, exc.__cause__, exc.__context__]
    if any(isinstance(e, ReplyTooLarge) for e in chain):
        return Kind.RESPONSE_TOO_LARGE, None
    if isinstance(exc, pymysql.err.InternalError) and "sequence number" in str(exc):
        return Kind.RESPONSE_MALFORMED, None  # packets out of order: not a MySQL server
    if isinstance(exc, _MALFORMED) and not isinstance(exc, pymysql.err.MySQLError):
        return Kind.RESPONSE_MALFORMED, None
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
        if code in ERRORS:
            return ERRORS[code], code
        if 1000 <= code < 2000 or code >= 3000:  # a server error, not the client's (2xxx)
            return Kind.DB_QUERY_FAILED, code
    cause = exc.__cause__ or exc.__context__ or exc
    kind = classify(cause).kind
    if kind is Kind.UNKNOWN and exc.args and exc.args[0] == 2026:  # CR_SSL_CONNECTION_ERROR
        kind = Kind.TLS_PROTOCOL
    return kind, None


def _message(exc: BaseException) -> str:
    if isinstance(exc.__cause__, ReplyTooLarge):
        return str(exc.__cause__)
    args: tuple[Any, ...] = exc.args
    if len(args) >= 2 and isinstance(args[0], int):
        return f"error {args[0]}: {args[1]}"
    return str(exc) or type(exc).__name__


async def walk(w: WalkTls, t: Target, url: DatabaseUrl, q: DatabaseQuery) -> None:
    o = w.options
    addresses = await w.resolve(t.ascii_host, t.port, t.url, record=True)
    if addresses is None:
        return
    w.begin("connect")
    raced = await _connect.race(addresses, t.port, o.timeout, t.url)
    w.warnings.extend(raced.warnings)
    w.end(ConnectDetails(raced.address, t.port, tuple(raced.attempts)), raced.failure)
    if raced.sock is None:
        return
    sock = raced.sock
    conn = _connection(w, t, url)
    try:
        await _session(w, t, url, q, sock, conn)
    finally:
        _hang_up(conn, sock)


def _hang_up(conn: Any, sock: socket.socket) -> None:
    """Close the connection at once, from the loop: a thread still reading it (a check
    the deadline cancelled) wakes with an error rather than waiting out its timeout.
    The socket PyMySQL reads may be its TLS wrapper of ``sock``.  Its buffered reader
    (``_rfile``) is left alone: closing it waits for the lock the reading thread holds,
    so a server dripping a byte at a time held the event loop until its packet was
    complete; the shutdown below wakes that thread, which drops the reader itself."""
    for held in (getattr(conn, "_sock", None), sock):
        if isinstance(held, socket.socket):
            with contextlib.suppress(OSError):
                held.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                held.close()


@functools.cache
def _bounded() -> type[Any]:
    """PyMySQL's connection, whose reads stop past a byte bound: PyMySQL joins a packet's
    16 MiB parts for as long as the server sends them, so a hostile server could fill
    memory within one check's timeout (333 MB in 2 s on loopback)."""
    import pymysql

    class Bounded(pymysql.connections.Connection):  # type: ignore[misc]
        budget = 1 << 20

        def _read_bytes(self, num_bytes: int) -> bytes:
            self.budget -= num_bytes
            if self.budget < 0:
                raise pymysql.err.OperationalError(
                    2013, "Lost connection to MySQL server"
                ) from ReplyTooLarge(f"the server sent more than {self.limit} bytes")
            data: bytes = super()._read_bytes(num_bytes)
            return data

    return Bounded


def _connection(w: WalkTls, t: Target, url: DatabaseUrl) -> Any:
    o = w.options
    conn = _bounded()(
        host=t.ascii_host,
        port=t.port,
        user=url.user or "",
        password=url.password or "",
        database=url.database,
        connect_timeout=o.timeout,
        read_timeout=o.timeout,
        write_timeout=o.timeout,
        ssl=tls_context(o.cacert, o.insecure) if url.tls else None,
        defer_connect=True,
        program_name="tether",
    )
    conn.budget = conn.limit = o.max_body
    return conn


async def _session(
    w: WalkTls, t: Target, url: DatabaseUrl, q: DatabaseQuery, sock: socket.socket, conn: Any
) -> None:
    o = w.options
    sock.setblocking(True)
    sock.settimeout(o.timeout)
    w.begin("auth")
    try:
        await _in_thread(lambda: conn.connect(sock))
    except Exception as exc:
        kind, code = error_kind(exc)
        w.end(
            DatabaseDetails(user=url.user, database=url.database, error=_code(code)),
            db_failure(kind, _message(exc), t, url),
        )
        return
    server = conn.get_server_info().removeprefix("5.5.5-")  # MariaDB's old-client prefix
    w.end(DatabaseDetails(server=server, user=url.user, database=url.database))
    text = q.query or "SELECT 1"
    w.begin("query")
    try:
        found = await _in_thread(lambda: _run(conn, text, q, o.timeout))
    except Exception as exc:
        kind, code = error_kind(exc)
        w.end(
            DatabaseDetails(query=text, error=_code(code)),
            db_failure(kind, f"the query failed with {_message(exc)}", t, url),
        )
        return
    read_only, rows = found
    if read_only and q.role == "primary":
        failure = db_failure(
            Kind.DB_READ_ONLY, "role: primary, but the server's @@read_only is on", t, url
        )
        w.end(DatabaseDetails(query=text, read_only=True), failure)
        return
    first = first_value(rows[0][0]) if rows and rows[0] else None
    shown = read_only if q.role == "primary" else None
    w.end(DatabaseDetails(query=text, result=first, rows=len(rows), read_only=shown))


def _code(code: int | None) -> str | None:
    return None if code is None else str(code)


def _run(conn: Any, text: str, q: DatabaseQuery, timeout: float) -> tuple[bool, list[Any]]:
    """In a thread: the server's ``@@read_only``, then the query's first rows, in a
    read-only transaction under the server's statement time limit."""
    with conn.cursor() as cur:
        cur.execute("SELECT @@read_only")
        (read_only,) = cur.fetchone()
        if read_only and q.role == "primary":
            return True, []
        seconds = statement_limit(timeout)
        try:  # MariaDB's limit, in seconds; MySQL's (max_execution_time) is its own name
            cur.execute(f"SET SESSION max_statement_time = {seconds}")
        except Exception:
            cur.execute(f"SET SESSION max_execution_time = {int(seconds * 1000)}")
        cur.execute("START TRANSACTION READ ONLY")
        cur.execute(text)
        rows = list(cur.fetchmany(q.max_rows)) if cur.description else []
        cur.execute("ROLLBACK")
    return bool(read_only), rows
