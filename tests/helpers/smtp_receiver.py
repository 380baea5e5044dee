"""An SMTP server (aiosmtpd) on loopback for the email alert tests: its port refuses until started.

The client talks to a small relay that records every byte it sends as it
travelled, then hands it to aiosmtpd: after STARTTLS those bytes are TLS
records, so a password found in ``wire`` was sent in clear text.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOSTNAME = "smtp.lab.test"
"""The server's name in its greeting: given, so aiosmtpd does not look up this host's."""


@dataclass(frozen=True, slots=True)
class Received:
    """One message as the server took it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    over_tls: bool


@dataclass(frozen=True, slots=True)
class Login:
    """One AUTH attempt as the server saw it."""

    username: str
    password: str
    over_tls: bool
    accepted: bool


def _over_tls(server: SMTP) -> bool:
    """Whether this connection is encrypted now, by STARTTLS or from the start."""
    return (
        server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
    )


class _Handler:
    def __init__(self, received: list[Received], refuse: frozenset[str]) -> None:
        self.received = received
        self.refuse = refuse

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            # A mailbox that is not there; one whose name is no address (553, RFC 5321).
            if address.startswith("syntax"):
                return "553 5.1.3 mailbox name not allowed"
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # SMTP's CRLF line ends, as a local mailbox would store them.
        raw = (envelope.original_content or b"").replace(b"\r\n", b"\n")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(
            Received(
                envelope.mail_from or "",
                tuple(envelope.rcpt_tos),
                message,
                _over_tls(server),
            )
        )
        return "250 OK"


class SMTPReceiver:
    """aiosmtpd on a loopback port that refuses until :meth:`start`.

    ``tls`` offers STARTTLS with that server context (or, with ``implicit``,
    speaks TLS from the first byte); ``users`` (name to password) are checked
    on AUTH, which STARTTLS must precede when it is offered; addresses in
    ``refuse`` are answered 550 at RCPT TO (553 for one whose name begins ``syntax``).
    """

    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        implicit: bool = False,
        users: Mapping[str, str] | None = None,
        refuse: frozenset[str] = frozenset(),
    ) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        self.port: int = self.sock.getsockname()[1]
        self.tls = tls
        self.implicit = implicit
        self.users = dict(users or {})
        self.refuse = refuse
        self.received: list[Received] = []
        self.logins: list[Login] = []
        self.wire = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self._open: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), loop).result(timeout=5)

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        options: dict[str, Any] = {"hostname": HOSTNAME, "loop": loop}
        if self.tls is not None and not self.implicit:
            options["tls_context"] = self.tls
        if self.users:
            # With STARTTLS, AUTH is required and offered only after it.  Otherwise
            # it is offered from the start and not required, as aiosmtpd would
            # warn about requiring it without STARTTLS (it does not count
            # implicit TLS as TLS).
            starttls = self.tls is not None and not self.implicit
            options.update(
                authenticator=self._authenticate,
                auth_required=starttls,
                auth_require_tls=starttls,
            )
        handler = _Handler(self.received, self.refuse)
        inner = await loop.create_server(
            lambda: SMTP(handler, **options),
            "127.0.0.1",
            0,
            ssl=self.tls if self.implicit else None,
        )
        inner_port = inner.sockets[0].getsockname()[1]
        self.sock.setblocking(False)
        relay = await asyncio.start_server(
            lambda r, w: self._relay(r, w, inner_port), sock=self.sock
        )
        self._servers = [relay, inner]

    async def _relay(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int
    ) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", port)
        ends = {writer, server_writer}
        self._open |= ends
        try:
            await asyncio.gather(
                self._pipe(reader, server_writer, record=True),
                self._pipe(server_reader, writer, record=False),
            )
        finally:
            self._open -= ends
            for end in ends:
                end.close()
                with contextlib.suppress(ConnectionError, ssl.SSLError):
                    await end.wait_closed()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, record: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if record:
                    self.wire += data
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()  # one side done: the other side's reader sees the end too

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        username, password = data.login.decode(), data.password.decode()
        accepted = self.users.get(username) == password
        self.logins.append(Login(username, password, _over_tls(server), accepted))
        # handled=False: aiosmtpd answers a refusal with 535 itself.
        return AuthResult(success=accepted, handled=False)

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            self.sock.close()
            return

        async def close() -> None:
            for server in self._servers:
                server.close()
            # Ending the relayed connections ends aiosmtpd's sessions on them too.
            for end in list(self._open):
                end.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if others:
                _, pending = await asyncio.wait(others, timeout=2)
                for task in pending:
                    task.cancel()
            for server in self._servers:
                await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(timeout=5)
        loop.close()
