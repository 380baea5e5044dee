"""The database drivers' and caches' exceptions: psycopg 3 and psycopg2, asyncpg, PyMySQL and
aiomysql, SQLAlchemy's wrappers, redis-py (sync and asyncio) and pymongo.

A server's own refusal has a code: a SQLSTATE (PostgreSQL), an error number (MySQL), the
first word of an error reply (Redis), a code (MongoDB).  A transport failure is the
socket's error when the driver chains it, or else only the driver's words ("Connection
refused", copied by libpq from the kernel), read by :mod:`._words`.  Whether the query left
is told by where the failure happened: in the driver's connect (the startup, the
authentication, the server's greeting), nothing was sent, and a retry is safe for any query.

The tables of codes are the probe's too (its ``postgresql://``, ``mysql://`` and
``redis://`` checks): one home, here.
"""

from __future__ import annotations

from typing import Any, Final

from tether._classify._evidence import (
    FACT,
    LIBRARY,
    TIMEOUT,
    WRAPPER,
    Evidence,
    attribute,
    first_line,
    text_of,
)
from tether._classify._origin import opening
from tether._classify._words import note_peer_in, offer_words
from tether._kinds import Kind

# --- PostgreSQL ----------------------------------------------------------------------------

SQLSTATES: Final = {
    "28P01": Kind.DB_AUTH_FAILED,
    "28000": Kind.DB_AUTH_FAILED,
    "3D000": Kind.DB_UNKNOWN_DATABASE,
    "53300": Kind.DB_TOO_MANY_CONNECTIONS,
}
"""SQLSTATEs with a kind of their own in a check; any other error of the check's query is
db.query_failed (a query that writes fails in the check's read-only transaction with 25006:
the query's fault, not a read-only server's)."""

CLASSIFIED_SQLSTATES: Final = {
    **SQLSTATES,
    # An application's write refused by a standby or a read-only transaction: after a
    # failover, the address names a replica.
    "25006": Kind.DB_READ_ONLY,
    # The server stops or starts: admin_shutdown, crash_shutdown, cannot_connect_now.
    "57P01": Kind.SERVER_UNAVAILABLE,
    "57P02": Kind.SERVER_UNAVAILABLE,
    "57P03": Kind.SERVER_UNAVAILABLE,
    # Class 08, connection exception: what the driver saw of the connection breaking (a
    # socket error further down the chain says more).
    "08000": Kind.CONNECTION_CLOSED,
    "08003": Kind.CONNECTION_CLOSED,
    "08006": Kind.CONNECTION_CLOSED,
    "08001": Kind.CONNECT_REFUSED,
}
"""What ``classify`` makes of a SQLSTATE; any other SQLSTATE is db.query_failed."""

RETRYABLE_SQLSTATES: Final = frozenset({"40001", "40P01"})
"""serialization_failure and deadlock_detected: the transaction lost a conflict and was
rolled back, and the same transaction run again may well succeed (PostgreSQL's
documentation, 13.4): retryable, and nothing of it took effect."""

_PG_REFUSALS: Final = (
    ("password authentication failed", "28P01"),
    ("no pg_hba.conf entry", "28000"),
    ('role "', "28000"),
    ("does not exist", "3D000"),
    ("too many clients", "53300"),
    ("remaining connection slots are reserved", "53300"),
)
"""libpq reports a refused connection without its SQLSTATE: the server's words name it."""

_PG_SERVER_STATES: Final = (
    ("the database system is starting up", "57P03"),
    ("the database system is shutting down", "57P03"),
    ("the database system is in recovery mode", "57P03"),
    ("the database system is not yet accepting connections", "57P03"),
    ("terminating connection due to administrator command", "57P01"),
)

_PG_TRANSPORT: Final = (
    ("connection refused", Kind.CONNECT_REFUSED),
    ("timeout expired", Kind.CONNECT_TIMEOUT),
    ("no route to host", Kind.CONNECT_UNREACHABLE),
    ("network is unreachable", Kind.CONNECT_UNREACHABLE),
    ("does not match host name", Kind.TLS_HOSTNAME_MISMATCH),
    ("certificate has expired", Kind.TLS_EXPIRED),
    ("self-signed certificate", Kind.TLS_SELF_SIGNED),
    ("certificate verify failed", Kind.TLS_UNTRUSTED),
    ("server does not support ssl", Kind.TLS_PROTOCOL),
    ("ssl syscall error: eof detected", Kind.CONNECTION_CLOSED),
    ("connection reset by peer", Kind.CONNECTION_RESET),
    ("ssl", Kind.TLS_PROTOCOL),
    ("server closed the connection unexpectedly", Kind.CONNECTION_CLOSED),
    # What libpq says of bytes that are not PostgreSQL's protocol (a hostile or a wrong
    # server on the port), and of a message too large to hold (it refuses to allocate).
    ("cannot allocate memory for input buffer", Kind.RESPONSE_TOO_LARGE),
    ("expected authentication request from server", Kind.RESPONSE_MALFORMED),
    ("authentication method", Kind.RESPONSE_MALFORMED),
    ("invalid message format", Kind.RESPONSE_MALFORMED),
    ("unexpected message type", Kind.RESPONSE_MALFORMED),
    ("message type 0x", Kind.RESPONSE_MALFORMED),
    ("message contents do not agree with length", Kind.RESPONSE_MALFORMED),
    ("lost synchronization with server", Kind.RESPONSE_MALFORMED),
    # "... response to SSL negotiation", "... authentication request", "... protocol
    # negotiation message": a first byte that names a message, and then nonsense.
    ("received invalid ", Kind.RESPONSE_MALFORMED),
    ("insufficient data in", Kind.RESPONSE_MALFORMED),
)


def connection_kind(message: str) -> tuple[Kind, str | None]:
    """The kind (and SQLSTATE, when the server gave one) of libpq's refusal to connect."""
    lower = message.lower()
    for words, state in _PG_REFUSALS:
        if words in lower and "FATAL" in message:
            return SQLSTATES[state], state
    for words, state in _PG_SERVER_STATES:
        if words in lower:
            return Kind.SERVER_UNAVAILABLE, state
    for words, kind in _PG_TRANSPORT:
        if words in lower:
            return kind, None
    # A name libpq could not resolve: the resolver's words follow.
    if "could not translate host name" in lower:
        if "name or service not known" in lower:
            return Kind.DNS_NOT_FOUND, None
        return Kind.DNS_UNAVAILABLE, None
    # A first byte of "E" and a length libpq takes for a pre-3.0 server's error: the rest
    # is printed as that error's text.  A server's words that are not text are no error
    # message: bytes that are not PostgreSQL's protocol.
    said = " ".join(message.rpartition("failed:")[2].split())
    if not said or "\ufffd" in said or not said.isprintable():
        return Kind.RESPONSE_MALFORMED, None
    return Kind.UNKNOWN, None


def _sqlstate(exc: BaseException) -> str | None:
    for name in ("sqlstate", "pgcode"):  # psycopg 3 and asyncpg; psycopg2
        value = attribute(exc, name)
        if isinstance(value, str) and len(value) == 5:
            return value
    return None


def offer_sqlstate(state: str, exc: BaseException, ev: Evidence, depth: int) -> None:
    kind = CLASSIFIED_SQLSTATES.get(state, Kind.DB_QUERY_FAILED)
    if state in RETRYABLE_SQLSTATES:
        ev.retryable = ev.undone = True
    # Class 08 is the driver's view of a broken connection: the socket's own error, deeper
    # in the chain, says more.
    strength = WRAPPER if state.startswith("08") else FACT
    ev.offer(kind, strength, depth, f"SQLSTATE {state}: {_line(exc)}")


def postgres(exc: BaseException, ev: Evidence, depth: int) -> None:
    """psycopg 3, psycopg2 and asyncpg: a SQLSTATE when the server sent one; else libpq's
    words (psycopg), which name the transport failure and the peer."""
    if opening(exc):
        ev.handshake = True
    if type(exc).__name__ == "ConnectionTimeout":  # psycopg.errors.ConnectionTimeout
        ev.connect = True
        ev.offer(Kind.CONNECT_TIMEOUT, FACT, depth, _line(exc))
        return
    state = _sqlstate(exc)
    if state is not None:
        offer_sqlstate(state, exc, ev, depth)
        return
    text = text_of(exc)
    note_peer_in(text, ev, depth)
    kind, state = connection_kind(text)
    if state is not None:
        offer_sqlstate(state, exc, ev, depth)
    elif kind is Kind.CONNECT_TIMEOUT:
        ev.connect = True
        ev.offer(kind, FACT, depth, _line(exc))
    elif kind is not Kind.UNKNOWN:
        ev.offer(kind, LIBRARY, depth, _line(exc))


# --- MySQL and MariaDB ------------------------------------------------------------------------

MYSQL_ERRORS: Final = {
    1045: Kind.DB_AUTH_FAILED,  # ER_ACCESS_DENIED_ERROR
    1698: Kind.DB_AUTH_FAILED,  # ER_ACCESS_DENIED_NO_PASSWORD_ERROR
    1044: Kind.DB_UNKNOWN_DATABASE,  # ER_DBACCESS_DENIED_ERROR: no such database for this user
    1049: Kind.DB_UNKNOWN_DATABASE,  # ER_BAD_DB_ERROR
    1040: Kind.DB_TOO_MANY_CONNECTIONS,  # ER_CON_COUNT_ERROR
    1203: Kind.DB_TOO_MANY_CONNECTIONS,  # ER_TOO_MANY_USER_CONNECTIONS
}
"""Error numbers with a kind of their own in a check; any other server error of the
check's query is db.query_failed."""

CLASSIFIED_MYSQL_ERRORS: Final = {
    **MYSQL_ERRORS,
    1290: Kind.DB_READ_ONLY,  # ER_OPTION_PREVENTS_STATEMENT: --read-only
    1792: Kind.DB_READ_ONLY,  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    1836: Kind.DB_READ_ONLY,  # ER_READ_ONLY_MODE
    1053: Kind.SERVER_UNAVAILABLE,  # ER_SERVER_SHUTDOWN
    2003: Kind.CONNECT_REFUSED,  # CR_CONN_HOST_ERROR: the socket's errno, chained, says more
    2005: Kind.DNS_NOT_FOUND,  # CR_UNKNOWN_HOST
    2006: Kind.CONNECTION_CLOSED,  # CR_SERVER_GONE_ERROR
    2013: Kind.CONNECTION_CLOSED,  # CR_SERVER_LOST
    2026: Kind.TLS_PROTOCOL,  # CR_SSL_CONNECTION_ERROR
}
"""What ``classify`` makes of an error number: the client's (2xxx) name a transport failure
whose socket error, when chained, decides."""

RETRYABLE_MYSQL_ERRORS: Final = frozenset({1205, 1213})
"""ER_LOCK_WAIT_TIMEOUT (the statement rolled back) and ER_LOCK_DEADLOCK (the transaction
rolled back): nothing of it took effect; run the transaction again."""


def mysql(exc: BaseException, ev: Evidence, depth: int) -> None:
    """PyMySQL and aiomysql: ``args`` is ``(number, message)``."""
    if opening(exc):
        ev.handshake = True
    args: tuple[Any, ...] = exc.args
    if not args or not isinstance(args[0], int) or isinstance(args[0], bool):
        return
    code = args[0]
    message = str(args[1]) if len(args) > 1 else ""
    note_peer_in(message, ev, depth)
    if code in RETRYABLE_MYSQL_ERRORS:
        ev.retryable = ev.undone = True  # the statement (or its transaction) rolled back
    kind = CLASSIFIED_MYSQL_ERRORS.get(code)
    if kind is None:
        if 1000 <= code < 2000 or code >= 3000:  # a server error, not the client's (2xxx)
            ev.offer(Kind.DB_QUERY_FAILED, FACT, depth, f"error {code}: {message}")
        return
    if code >= 2000:  # the client's own: what it saw of the transport, said in its words
        if not offer_words(message, ev, depth, LIBRARY):
            ev.offer(kind, WRAPPER, depth, f"error {code}: {message}")
        if code == 2003:
            ev.connect = True
        return
    ev.offer(kind, FACT, depth, f"error {code}: {message}")


# --- Redis ----------------------------------------------------------------------------------


def redis_error_kind(message: str) -> Kind:
    """The kind of a Redis error reply."""
    upper = message.upper()
    if upper.startswith(("WRONGPASS", "NOAUTH")) or "PASSWORD" in upper:
        return Kind.DB_AUTH_FAILED
    if "MAX NUMBER OF CLIENTS" in upper:
        return Kind.DB_TOO_MANY_CONNECTIONS
    if "DB INDEX" in upper:
        return Kind.DB_UNKNOWN_DATABASE
    if upper.startswith("READONLY"):
        return Kind.DB_READ_ONLY
    if upper.startswith(("LOADING", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN")):
        return Kind.SERVER_UNAVAILABLE
    return Kind.DB_QUERY_FAILED


def redis_reply(exc: BaseException, ev: Evidence, depth: int) -> None:
    """redis-py's ``ResponseError`` and its kin: the server's error reply, by its words."""
    text = text_of(exc)
    if opening(exc):
        ev.handshake = True
    ev.offer(redis_error_kind(text), FACT, depth, first_line(exc))


def redis_connection(exc: BaseException, ev: Evidence, depth: int) -> None:
    """redis-py's ``ConnectionError`` and ``TimeoutError``: the socket's error is chained
    when there was one; the words name the peer, the phase and a peer that hung up."""
    text = text_of(exc)
    note_peer_in(text, ev, depth)
    if opening(exc) or text.startswith(("Error ", "Timeout connecting")):
        ev.handshake = True
        if " connecting to " in text or text.startswith("Timeout connecting"):
            ev.connect = True
    if text.startswith("Timeout reading"):
        ev.read = True
    elif text.startswith("Timeout writing"):
        ev.write = True
    if type(exc).__name__ == "TimeoutError" or "Timeout " in text:
        ev.timeouts.append(exc)
        ev.offer(TIMEOUT, WRAPPER, depth)
    elif "closed by server" in text:
        ev.offer(Kind.CONNECTION_CLOSED, LIBRARY, depth, first_line(exc))
    elif (said := redis_error_kind(text)) is not Kind.DB_QUERY_FAILED:
        # An error reply redis-py raises as a connection's failure: the server's refusal
        # while connecting ("max number of clients reached", unasked, then the close).
        ev.offer(said, FACT, depth, first_line(exc))
    else:
        offer_words(text, ev, depth, WRAPPER)


# --- MongoDB --------------------------------------------------------------------------------

_MONGO_CODES: Final = {
    18: Kind.DB_AUTH_FAILED,  # AuthenticationFailed
    13: Kind.DB_QUERY_FAILED,  # Unauthorized
    10107: Kind.DB_READ_ONLY,  # NotWritablePrimary
    13435: Kind.DB_READ_ONLY,  # NotPrimaryNoSecondaryOk
    11600: Kind.SERVER_UNAVAILABLE,  # InterruptedAtShutdown
    91: Kind.SERVER_UNAVAILABLE,  # ShutdownInProgress
    189: Kind.SERVER_UNAVAILABLE,  # PrimarySteppedDown
}


def mongo(exc: BaseException, ev: Evidence, depth: int) -> None:
    """pymongo: a server's error has a ``code``; a connection's failure is only words.  A
    server-selection error found no server to send the operation to, so nothing left; its
    message starts with each server's own error (``host:port: [Errno 111] ...``)."""
    name = type(exc).__name__
    code = attribute(exc, "code")
    if (
        isinstance(code, int)
        and not isinstance(code, bool)
        and name != "ServerSelectionTimeoutError"
    ):
        kind = _MONGO_CODES.get(code)
        if kind is None and code in (6, 7, 89, 9001):  # HostUnreachable, HostNotFound,
            kind = Kind.CONNECTION_CLOSED  # NetworkTimeout, SocketException
        if kind is not None or name == "OperationFailure":
            ev.offer(kind or Kind.DB_QUERY_FAILED, FACT, depth, f"code {code}: {first_line(exc)}")
            return
    text = text_of(exc)
    if name in ("ServerSelectionTimeoutError", "ConfigurationError") or opening(exc):
        ev.handshake = True
        ev.connect = True
    # The first server's error, before pymongo's own "(configured timeouts: ...)" and the
    # topology's description (which repeats every server's).
    first = text.split(" (configured timeouts", 1)[0].split(", Timeout:", 1)[0]
    note_peer_in(first, ev, depth)
    if name == "NetworkTimeout" or "timed out" in first or first.startswith("No servers found"):
        ev.timeouts.append(exc)
        if not ev.connect:
            ev.read = True
        ev.offer(TIMEOUT, LIBRARY, depth)
        return
    offer_words(first, ev, depth, LIBRARY)


# --- SQLAlchemy ---------------------------------------------------------------------------------


def sqlalchemy(exc: BaseException, ev: Evidence, depth: int) -> None:
    """SQLAlchemy's ``DBAPIError`` wraps the driver's exception (``.orig``, walked); its
    ``connection_invalidated`` says the pool threw the connection away (a disconnect)."""
    if attribute(exc, "connection_invalidated") is True:
        ev.offer(Kind.CONNECTION_CLOSED, WRAPPER, depth, first_line(exc))


# --- shared -------------------------------------------------------------------------------------


def _line(exc: BaseException) -> str:
    return " ".join(text_of(exc).split())[:300]
