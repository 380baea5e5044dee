"""The ``smtp`` phase of an ``smtp://`` or ``smtps://`` probe: greeting, EHLO, STARTTLS.

RFC 5321: the server greets with ``220``; the probe says ``EHLO tether.invalid`` (a name
that exists nowhere, RFC 2606) and reads the extensions of the ``250`` reply; when the
server offers ``STARTTLS`` (and ``?starttls=off`` does not say otherwise) it asks for it
and the engine's ``tls`` phase does the handshake on the same connection, verified and
described as for ``https://``.  Then ``QUIT``.  No mail is ever sent.

A reply that refuses (``4xx``: not now, ``5xx``: not at all) becomes the kind with the
same meaning as the HTTP status class would: ``4xx`` is transient like a ``503``
(``http.server_error``, retryable), ``5xx`` is a refusal like a ``403``
(``http.client_error``, not retryable).  Something that is not an SMTP reply at all is
``response.malformed``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Final

from tether._classify import classify, failure_for
from tether._failure import Failure
from tether._hostport import join_hostport
from tether._kinds import Kind
from tether.probe._details import SmtpDetails

EHLO_NAME: Final = "tether.invalid"
MAX_LINE: Final = 1000
"""RFC 5321 allows 512 octets per reply line; some servers send longer: be lenient."""
MAX_LINES: Final = 100
_LINE = re.compile(rb"([2-5][0-9][0-9])([ -]|\r?\n|$)(.*?)\r?\n?\Z", re.S)


class SMTPProtocolError(Exception):
    """What arrived is not an SMTP reply; the message says what arrived."""


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    lines: tuple[str, ...]
    """The text of each line, without the code."""

    @property
    def text(self) -> str:
        return " ".join(line for line in self.lines if line)


@dataclass(slots=True)
class Dialogue:
    """What the ``smtp`` phase found; ``upgrade`` once the server said 220 to STARTTLS."""

    details: SmtpDetails = field(default_factory=SmtpDetails)
    failure: Failure | None = None
    upgrade: bool = False


def parse_line(raw: bytes) -> tuple[int, bool, str]:
    """``(code, last, text)`` of one reply line; raises :class:`SMTPProtocolError`."""
    match = _LINE.match(raw)
    if match is None:
        shown = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")[:80]
        raise SMTPProtocolError(f"{shown!r} is not an SMTP reply")
    code, sep, text = match.groups()
    return int(code), sep != b"-", text.decode("utf-8", "replace").strip()


async def read_reply(reader: asyncio.StreamReader) -> Reply:
    """One reply, all its lines; ``EOFError`` when the server closed first."""
    code = None
    lines: list[str] = []
    while True:
        try:
            raw = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                parse_line(exc.partial)  # garbage before the close: say what it was
            raise EOFError from None
        except asyncio.LimitOverrunError:
            raise SMTPProtocolError("it sent a line longer than 64 KiB") from None
        if len(raw) > MAX_LINE:
            raise SMTPProtocolError(f"it sent a line longer than {MAX_LINE} characters")
        this, last, text = parse_line(raw)
        if code is not None and this != code:
            raise SMTPProtocolError(f"a reply mixes the codes {code} and {this}")
        code = this
        lines.append(text)
        if last:
            return Reply(code, tuple(lines))
        if len(lines) >= MAX_LINES:
            raise SMTPProtocolError(f"a reply of more than {MAX_LINES} lines")


async def dialogue(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    starttls: str,
    timeout: float,
    url: str,
    host: str,
    port: int,
) -> Dialogue:
    """Greeting, EHLO and (``starttls`` ``auto`` or ``required``, when offered) STARTTLS,
    each reply within ``timeout`` seconds."""
    where = join_hostport(host, port)
    out = Dialogue()
    step = "the greeting"

    def fail(kind: Kind, detail: str) -> Dialogue:
        out.failure = failure_for(kind, detail, url=url, host=host, port=port)
        return out

    def refused(reply: Reply, wanted: int) -> Dialogue:
        said = f"{reply.code} {reply.text}".strip()
        if reply.code >= 500:
            kind = Kind.HTTP_CLIENT_ERROR
        elif reply.code >= 400:
            kind = Kind.HTTP_SERVER_ERROR
        else:
            kind = Kind.RESPONSE_MALFORMED
        return fail(kind, f"{where} answered {step} with {said[:200]}, not {wanted}")

    async def ask(command: str) -> Reply:
        writer.write(command.encode() + b"\r\n")
        await writer.drain()
        return await read_reply(reader)

    try:
        async with asyncio.timeout(timeout):
            greeting = await read_reply(reader)
        out.details = SmtpDetails(greeting.code, greeting.text)
        if greeting.code != 220:
            return refused(greeting, 220)
        step = f"EHLO {EHLO_NAME}"
        async with asyncio.timeout(timeout):
            ehlo = await ask(step)
            if ehlo.code in (500, 502):  # a server of before 1995 (RFC 821): HELO, no extensions
                step = f"HELO {EHLO_NAME}"
                ehlo = await ask(step)
        if ehlo.code != 250:
            return refused(ehlo, 250)
        extensions = [line.split(" ")[0].upper() for line in ehlo.lines[1:] if line]
        offered = "STARTTLS" in extensions
        out.details = SmtpDetails(
            greeting.code, greeting.text, tuple(extensions), "offered" if offered else "not offered"
        )
        if starttls == "off":
            return out
        if not offered:
            if starttls == "required":
                return fail(
                    Kind.TLS_PROTOCOL,
                    f"{where} does not offer STARTTLS, which the URL requires "
                    "(starttls=required): mail to it would travel in clear text",
                )
            return out
        step = "STARTTLS"
        async with asyncio.timeout(timeout):
            upgrade = await ask(step)
        if upgrade.code != 220:
            return refused(upgrade, 220)
        out.upgrade = True
        return out
    except TimeoutError:
        kind = Kind.READ_TIMEOUT
        return fail(kind, f"{where} did not answer {step} within {timeout:g} s")
    except EOFError:
        return fail(Kind.CONNECTION_CLOSED, f"{where} closed the connection before {step}")
    except SMTPProtocolError as exc:
        return fail(Kind.RESPONSE_MALFORMED, f"{where} does not speak SMTP: {exc}")
    except OSError as exc:
        out.failure = classify(exc, url=url)
        return out


async def quit(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
    """Say goodbye, as a polite client does; what the server answers changes nothing."""
    try:
        async with asyncio.timeout(timeout):
            writer.write(b"QUIT\r\n")
            await writer.drain()
            await read_reply(reader)
    except (TimeoutError, EOFError, SMTPProtocolError, OSError):
        pass
