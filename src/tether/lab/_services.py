"""The lab's servers for the clients a service calls besides HTTP: databases, caches, RPC,
brokers, SSH and mail.  Each speaks just enough of its protocol to fail at one phase, so a
driver meets the failure as it would meet a real server's (issue 71):

* any protocol: a port that refuses, a server that accepts and says nothing, one that
  resets or closes once it has read the client's first bytes;
* PostgreSQL: ``S`` to the client's ``SSLRequest`` and then a certificate no client trusts;
  the server's refusals of a login (28P01), a database (3D000), a client too many (53300),
  a server starting up (57P03), and a write on a read-only server (25006);
* MySQL and MariaDB: a login refused (1045), an unknown database (1049), too many
  connections (1040, sent in place of the greeting);
* Redis: ``-ERR max number of clients reached``, ``-LOADING``, ``-READONLY``, ``-NOAUTH``;
* gRPC: UNAVAILABLE (Trailers-Only), a GOAWAY before the answer, an RST_STREAM, a stream
  that is never answered;
* SMTP: a ``421`` and a ``554`` greeting;
* SSH: a banner that is not SSH's (silence is the generic ``silent``);
* AMQP: a login refused (``ACCESS_REFUSED``, 403, after ``Connection.Start-Ok``).

``tether.lab.ServiceLab`` starts them all on loopback; the ``service_lab`` fixture of the
pytest plugin gives one per test session.  Real servers stay the peers of tether's own
tests wherever Debian or PyPI has them; these are for what a real server will not do on
demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final

from tether._hostport import bracketed
from tether._kinds import Kind
from tether.lab._certs import LabCerts, make_certs
from tether.lab._servers import Handler, end_loop, run_loop

HOLD: Final = 30.0
"""How long a silent server holds a connection before it lets it go."""
FIRST_BYTES_WAIT: Final = 0.3
"""How long a resetting or closing server waits for the client's first bytes."""


@dataclass(frozen=True, slots=True)
class ServiceFault:
    """One misbehaviour of a service's server, and what a client meets."""

    name: str
    protocol: str
    """``any`` (every protocol's client meets it the same way), or the protocol."""
    kind: Kind
    """The kind a client's failure is classified as."""
    description: str
    url: str = ""
    """Where the server listens (``protocol://host:port``); set by :meth:`ServiceLab.start`."""

    @property
    def host(self) -> str:
        return self.url.split("//", 1)[1].rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


FAULTS: Final[tuple[ServiceFault, ...]] = (
    ServiceFault("refused", "any", Kind.CONNECT_REFUSED, "a port nothing listens on"),
    ServiceFault(
        "silent", "any", Kind.CONNECT_TIMEOUT, "accepts the connection and never says a word"
    ),
    ServiceFault(
        "reset", "any", Kind.CONNECTION_RESET, "reads the client's first bytes, then resets"
    ),
    ServiceFault(
        "closed", "any", Kind.CONNECTION_CLOSED, "reads the client's first bytes, then closes"
    ),
    ServiceFault(
        "tls_untrusted",
        "any",
        Kind.TLS_UNTRUSTED,
        "TLS from the first byte, with a certificate of a CA the client does not trust",
    ),
    ServiceFault(
        "postgres_untrusted",
        "postgresql",
        Kind.TLS_UNTRUSTED,
        "answers SSLRequest with S, then a certificate of a CA the client does not trust",
    ),
    ServiceFault(
        "postgres_auth", "postgresql", Kind.DB_AUTH_FAILED, "refuses the password (28P01)"
    ),
    ServiceFault(
        "postgres_unknown_database",
        "postgresql",
        Kind.DB_UNKNOWN_DATABASE,
        "has no such database (3D000)",
    ),
    ServiceFault(
        "postgres_too_many",
        "postgresql",
        Kind.DB_TOO_MANY_CONNECTIONS,
        "has too many clients already (53300)",
    ),
    ServiceFault(
        "postgres_starting",
        "postgresql",
        Kind.SERVER_UNAVAILABLE,
        "the database system is starting up (57P03)",
    ),
    ServiceFault(
        "postgres_read_only",
        "postgresql",
        Kind.DB_READ_ONLY,
        "logs in, then refuses every query as a read-only transaction's (25006)",
    ),
    ServiceFault("mysql_auth", "mysql", Kind.DB_AUTH_FAILED, "refuses the login (1045)"),
    ServiceFault(
        "mysql_unknown_database", "mysql", Kind.DB_UNKNOWN_DATABASE, "has no such database (1049)"
    ),
    ServiceFault(
        "mysql_too_many",
        "mysql",
        Kind.DB_TOO_MANY_CONNECTIONS,
        "sends 1040 (too many connections) in place of its greeting",
    ),
    ServiceFault(
        "redis_max_clients",
        "redis",
        Kind.DB_TOO_MANY_CONNECTIONS,
        "-ERR max number of clients reached, then closes",
    ),
    ServiceFault("redis_loading", "redis", Kind.SERVER_UNAVAILABLE, "-LOADING to every command"),
    ServiceFault("redis_readonly", "redis", Kind.DB_READ_ONLY, "-READONLY to every command"),
    ServiceFault("redis_noauth", "redis", Kind.DB_AUTH_FAILED, "-NOAUTH to every command"),
    ServiceFault(
        "grpc_unavailable", "grpc", Kind.SERVER_UNAVAILABLE, "answers every call UNAVAILABLE (14)"
    ),
    ServiceFault(
        "grpc_goaway",
        "grpc",
        Kind.CONNECTION_CLOSED,
        "a GOAWAY and the connection closed once a call arrives",
    ),
    ServiceFault(
        "grpc_rst_stream",
        "grpc",
        Kind.CONNECTION_RESET,
        "resets each call's stream (RST_STREAM, CANCEL)",
    ),
    ServiceFault(
        "grpc_stall", "grpc", Kind.DEADLINE_EXCEEDED, "takes each call and never answers it"
    ),
    ServiceFault(
        "smtp_421", "smtp", Kind.SERVER_UNAVAILABLE, "greets with 421 (closing, come back later)"
    ),
    ServiceFault(
        "smtp_554", "smtp", Kind.SERVER_UNAVAILABLE, "greets with 554 (no service here, for good)"
    ),
    ServiceFault(
        "ssh_garbage_banner", "ssh", Kind.CONNECTION_CLOSED, "greets with HTTP, not SSH, and closes"
    ),
    ServiceFault(
        "amqp_refused_login",
        "amqp",
        Kind.AUTH_FAILED,
        "refuses the login after Connection.Start-Ok (403 ACCESS_REFUSED)",
    ),
)


class ServiceLab:
    """Start every :data:`FAULTS` server on loopback; use as a context manager.

    >>> with ServiceLab() as lab:                                    # doctest: +SKIP
    ...     psycopg.connect(lab.dsn("postgres_auth"))                # raises, for real
    """

    def __init__(self, *, host: str = "127.0.0.1", cert_dir: Path | None = None) -> None:
        self.host = host
        self._cert_dir = cert_dir
        self.faults: dict[str, ServiceFault] = {}
        self.certs: LabCerts | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self._reserved: list[socket.socket] = []
        self._writers: set[asyncio.StreamWriter] = set()

    def __getitem__(self, name: str) -> ServiceFault:
        return self.faults[name]

    def __iter__(self) -> Iterator[ServiceFault]:
        return iter(self.faults.values())

    @property
    def ca_file(self) -> str:
        """The CA the clients are to trust: the lab's, which signed none of these servers."""
        assert self.certs is not None, "the lab is not started"
        return str(self.certs.ca_file)

    def dsn(self, name: str, *, user: str = "lab", database: str = "lab") -> str:
        """A ``postgresql://`` URL of fault ``name``'s server."""
        fault = self.faults[name]
        return f"postgresql://{user}@{bracketed(fault.host)}:{fault.port}/{database}"

    def start(self) -> ServiceLab:
        self.certs = make_certs(self._cert_dir)
        loop, thread = run_loop("tether-lab-services")
        self._loop, self._thread = loop, thread
        try:
            asyncio.run_coroutine_threadsafe(self._start(), loop).result(timeout=30)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            end_loop(loop, self._thread, self._stop)
        for sock in self._reserved:
            sock.close()
        self._reserved.clear()
        if self.certs is not None and self._cert_dir is None:
            import shutil

            shutil.rmtree(self.certs.directory, ignore_errors=True)

    def __enter__(self) -> ServiceLab:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- inside the loop ---------------------------------------------------------------------

    async def _start(self) -> None:
        certs = self.certs
        assert certs is not None
        untrusted = certs.server_context(certs.unknown_ca)
        untrusted.set_alpn_protocols(["h2", "http/1.1"])
        handlers: dict[str, tuple[Handler, ssl.SSLContext | None]] = {
            "silent": (_silent, None),
            "reset": (_reset, None),
            "closed": (_closed, None),
            "tls_untrusted": (_silent, untrusted),
            "postgres_untrusted": (_postgres_untrusted(untrusted), None),
            "postgres_auth": (
                _postgres_refusal("28P01", 'password authentication failed for user "lab"'),
                None,
            ),
            "postgres_unknown_database": (
                _postgres_refusal("3D000", 'database "lab" does not exist'),
                None,
            ),
            "postgres_too_many": (
                _postgres_refusal("53300", "sorry, too many clients already"),
                None,
            ),
            "postgres_starting": (
                _postgres_refusal("57P03", "the database system is starting up"),
                None,
            ),
            "postgres_read_only": (_postgres_read_only, None),
            "mysql_auth": (
                _mysql_refusal(1045, "28000", "Access denied for user 'lab'@'localhost'"),
                None,
            ),
            "mysql_unknown_database": (
                _mysql_refusal(1049, "42000", "Unknown database 'lab'"),
                None,
            ),
            "mysql_too_many": (_mysql_too_many, None),
            "redis_max_clients": (_redis_max_clients, None),
            "redis_loading": (
                _redis_error(b"-LOADING Redis is loading the dataset in memory\r\n"),
                None,
            ),
            "redis_readonly": (
                _redis_error(b"-READONLY You can't write against a read only replica.\r\n"),
                None,
            ),
            "redis_noauth": (_redis_error(b"-NOAUTH Authentication required.\r\n"), None),
            "grpc_unavailable": (_grpc("unavailable"), None),
            "grpc_goaway": (_grpc("goaway"), None),
            "grpc_rst_stream": (_grpc("rst_stream"), None),
            "grpc_stall": (_grpc("stall"), None),
            "smtp_421": (
                _greet(b"421 lab.test Service not available, closing transmission channel\r\n"),
                None,
            ),
            "smtp_554": (_greet(b"554 lab.test No SMTP service here\r\n"), None),
            "ssh_garbage_banner": (_greet(b"HTTP/1.1 400 Bad Request\r\n\r\n"), None),
            "amqp_refused_login": (_amqp_refused_login, None),
        }
        for fault in FAULTS:
            scheme = fault.protocol if fault.protocol != "any" else "tcp"
            if fault.name == "refused":
                port = self._reserve()
            else:
                handler, context = handlers[fault.name]
                port = await self._serve(handler, context)
            url = f"{scheme}://{bracketed(self.host)}:{port}"
            self.faults[fault.name] = ServiceFault(
                fault.name, fault.protocol, fault.kind, fault.description, url
            )

    async def _stop(self) -> None:
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    def _reserve(self) -> int:
        """A port that refuses: bound (so nobody else takes it) but not listening."""
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.bind((self.host, 0))
        self._reserved.append(sock)
        return int(sock.getsockname()[1])

    async def _serve(self, handler: Handler, context: ssl.SSLContext | None) -> int:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.add(writer)
            try:
                await handler(reader, writer)
            except (OSError, asyncio.IncompleteReadError, ssl.SSLError, asyncio.CancelledError):
                pass  # the client misbehaving back, or the lab stopping: part of the game
            finally:
                self._writers.discard(writer)
                with contextlib.suppress(Exception):
                    writer.close()

        server = await asyncio.start_server(
            tracked, self.host, 0, ssl=context, ssl_handshake_timeout=5 if context else None
        )
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])


# --- any protocol -----------------------------------------------------------------------------


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(HOLD):
            while await reader.read(65536):
                pass


async def _first_bytes(reader: asyncio.StreamReader) -> None:
    """Wait a moment for what the client sends first (a server-first client sends nothing)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(FIRST_BYTES_WAIT):
            await reader.read(65536)


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _first_bytes(reader)
    sock = writer.get_extra_info("socket")
    if sock is not None:  # SO_LINGER 0: close() sends RST, not FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _closed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _first_bytes(reader)
    writer.close()


def _greet(line: bytes) -> Handler:
    """A server-first protocol's greeting (SMTP's, SSH's banner), then the connection closed."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(line)
        await writer.drain()
        await _first_bytes(reader)
        writer.close()

    return handle


# --- PostgreSQL ---------------------------------------------------------------------------------

_SSL_REQUEST: Final = 80877103
_GSS_REQUEST: Final = 80877104


async def _startup(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the client's startup message, answering ``N`` to SSL and GSS requests."""
    while True:
        length = struct.unpack("!I", await reader.readexactly(4))[0]
        body = await reader.readexactly(max(0, length - 4))
        code = struct.unpack("!I", body[:4])[0] if len(body) >= 4 else 0
        if code in (_SSL_REQUEST, _GSS_REQUEST):
            writer.write(b"N")
            await writer.drain()
            continue
        return


def _pg_message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def _pg_error(severity: str, state: str, message: str) -> bytes:
    fields = b"".join(
        code + text.encode() + b"\x00"
        for code, text in ((b"S", severity), (b"V", severity), (b"C", state), (b"M", message))
    )
    return _pg_message(b"E", fields + b"\x00")


def _postgres_refusal(state: str, message: str) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _startup(reader, writer)
        writer.write(_pg_error("FATAL", state, message))
        await writer.drain()
        writer.close()

    return handle


def _postgres_untrusted(context: ssl.SSLContext) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(8)  # the SSLRequest
        writer.write(b"S")
        await writer.drain()
        await writer.start_tls(context)
        await _silent(reader, writer)

    return handle


_PG_PARAMETERS: Final = (
    ("server_version", "16.0"),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("DateStyle", "ISO, MDY"),
    ("integer_datetimes", "on"),
    ("standard_conforming_strings", "on"),
    ("TimeZone", "UTC"),
)


async def _postgres_read_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Logs in (trust), then answers every query, simple or extended, with 25006."""
    await _startup(reader, writer)
    out = _pg_message(b"R", struct.pack("!I", 0))
    for name, value in _PG_PARAMETERS:
        out += _pg_message(b"S", name.encode() + b"\x00" + value.encode() + b"\x00")
    out += _pg_message(b"K", struct.pack("!II", 1, 1))
    out += _pg_message(b"Z", b"I")
    writer.write(out)
    await writer.drain()
    refusal = _pg_error(
        "ERROR", "25006", "cannot execute INSERT in a read-only transaction"
    ) + _pg_message(b"Z", b"I")
    pending = False  # an extended query (Parse, Bind, Execute) waits for its Sync
    while True:
        kind = await reader.readexactly(1)
        length = struct.unpack("!I", await reader.readexactly(4))[0]
        await reader.readexactly(max(0, length - 4))
        if kind == b"X":  # Terminate
            return
        if kind in (b"P", b"B", b"D", b"E"):
            pending = True
            continue
        if kind == b"Q" or (kind == b"S" and pending):
            writer.write(refusal)
        elif kind == b"S":
            writer.write(_pg_message(b"Z", b"I"))
        pending = False
        await writer.drain()


# --- MySQL --------------------------------------------------------------------------------------


def _mysql_packet(sequence: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([sequence]) + payload


def _mysql_err(sequence: int, code: int, state: str, message: str) -> bytes:
    payload = b"\xff" + struct.pack("<H", code) + b"#" + state.encode() + message.encode()
    return _mysql_packet(sequence, payload)


def _mysql_greeting() -> bytes:
    capabilities = 0x0001 | 0x0008 | 0x0200 | 0x8000 | 0x80000  # long password, with db,
    # protocol 4.1, secure connection, plugin auth
    salt = b"12345678" + b"901234567890"
    payload = (
        b"\x0a"
        + b"10.11.0-lab\x00"
        + struct.pack("<I", 1)
        + salt[:8]
        + b"\x00"
        + struct.pack("<H", capabilities & 0xFFFF)
        + b"\x21"  # utf8_general_ci
        + struct.pack("<H", 0x0002)  # autocommit
        + struct.pack("<H", capabilities >> 16)
        + bytes([21])
        + b"\x00" * 10
        + salt[8:]
        + b"\x00"
        + b"mysql_native_password\x00"
    )
    return _mysql_packet(0, payload)


def _mysql_refusal(code: int, state: str, message: str) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_mysql_greeting())
        await writer.drain()
        header = await reader.readexactly(4)
        await reader.readexactly(int.from_bytes(header[:3], "little"))
        writer.write(_mysql_err(header[3] + 1, code, state, message))
        await writer.drain()
        writer.close()

    return handle


async def _mysql_too_many(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(_mysql_err(0, 1040, "08004", "Too many connections"))
    await writer.drain()
    writer.close()


# --- Redis --------------------------------------------------------------------------------------


async def _redis_commands(reader: asyncio.StreamReader) -> bool:
    """Read one command (RESP array or inline); False once the client has gone."""
    line = await reader.readline()
    if not line:
        return False
    if line.startswith(b"*"):
        for _ in range(int(line[1:].strip() or 0)):
            size = await reader.readline()
            if size.startswith(b"$"):
                await reader.readexactly(int(size[1:].strip()) + 2)
    return True


def _redis_error(reply: bytes) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await _redis_commands(reader):
            writer.write(reply)
            await writer.drain()

    return handle


async def _redis_max_clients(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # What Redis does at maxclients: the error, unasked, and the connection closed.
    writer.write(b"-ERR max number of clients reached\r\n")
    await writer.drain()
    await _first_bytes(reader)
    writer.close()


# --- gRPC ----------------------------------------------------------------------------------------


def _grpc(how: str) -> Handler:
    """An HTTP/2 server that takes gRPC calls and fails each as ``how`` says."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from h2.config import H2Configuration
        from h2.connection import H2Connection
        from h2.errors import ErrorCodes
        from h2.events import RequestReceived
        from h2.exceptions import H2Error

        conn = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        while data := await reader.read(65536):
            try:
                events = conn.receive_data(data)
            except H2Error:
                return
            for event in events:
                if not isinstance(event, RequestReceived):
                    continue
                stream = event.stream_id
                if how == "unavailable":
                    conn.send_headers(
                        stream,
                        [
                            (":status", "200"),
                            ("content-type", "application/grpc"),
                            ("grpc-status", "14"),
                            ("grpc-message", "lab: the service is draining"),
                        ],
                        end_stream=True,
                    )
                elif how == "goaway":
                    conn.close_connection(ErrorCodes.NO_ERROR, last_stream_id=0)
                    writer.write(conn.data_to_send())
                    await writer.drain()
                    writer.close()
                    return
                elif how == "rst_stream":
                    conn.reset_stream(stream, ErrorCodes.CANCEL)
            writer.write(conn.data_to_send())
            with contextlib.suppress(ConnectionError):
                await writer.drain()

    return handle


# --- AMQP 0-9-1 ----------------------------------------------------------------------------------


def _amqp_method(class_id: int, method_id: int, arguments: bytes) -> bytes:
    payload = struct.pack("!HH", class_id, method_id) + arguments
    return struct.pack("!BHI", 1, 0, len(payload)) + payload + b"\xce"


def _longstr(value: bytes) -> bytes:
    return struct.pack("!I", len(value)) + value


def _shortstr(value: bytes) -> bytes:
    return bytes([len(value)]) + value


async def _amqp_refused_login(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Connection.Start; the client's Start-Ok; Connection.Close 403 ACCESS_REFUSED, as
    RabbitMQ answers a wrong password to a client that announces
    ``authentication_failure_close``."""
    await reader.readexactly(8)  # "AMQP\x00\x00\x09\x01"
    start = struct.pack("!BB", 0, 9) + _longstr(b"") + _longstr(b"PLAIN AMQPLAIN")
    writer.write(_amqp_method(10, 10, start + _longstr(b"en_US")))
    await writer.drain()
    _, _, size = struct.unpack("!BHI", await reader.readexactly(7))
    await reader.readexactly(size + 1)  # Start-Ok and its frame end
    text = b"ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN."
    close = struct.pack("!H", 403) + _shortstr(text) + struct.pack("!HH", 0, 0)
    writer.write(_amqp_method(10, 50, close))
    await writer.drain()
    await _first_bytes(reader)
    writer.close()
