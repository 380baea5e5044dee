"""The ``ssh`` phase of an ``ssh://`` probe: the server's identification line, no login.

RFC 4253 section 4.2: once connected, the server sends
``SSH-protoversion-softwareversion SP comments CR LF``, at most 255 characters, and may
send other lines before it (none of which starts with ``SSH-``).  The probe reads up to
that line, says which protocol and software it names, answers with its own
identification line (so the server logs a client that went away, not a scanner that
never spoke) and closes.  Nothing else of the protocol is spoken.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import Final

from tether._classify import classify, failure_for
from tether._failure import Failure
from tether._hostport import join_hostport
from tether._kinds import Kind
from tether.probe._details import SshDetails

MAX_LINE: Final = 255
"""RFC 4253's limit for the identification line and each line before it, CR LF included."""
MAX_PREAMBLE: Final = 32
"""Lines before the identification line; more is not an SSH server."""
OUR_IDENTIFICATION: Final = b"SSH-2.0-tether_probe\r\n"


@dataclass(slots=True)
class Banner:
    """What the ``ssh`` phase found: its details, and the failure if it found no SSH."""

    details: SshDetails = field(default_factory=SshDetails)
    failure: Failure | None = None


def parse_identification(line: str) -> dict[str, str] | None:
    """``{"protocol", "software", "comments"}`` of an ``SSH-...`` line (without CR LF),
    or None when it is not one (no software version after the protocol version)."""
    if not line.startswith("SSH-"):
        return None
    protocol, dash, rest = line[4:].partition("-")
    software, _, comments = rest.partition(" ")
    if not dash or not protocol or not software:
        return None
    return {"protocol": protocol, "software": software, "comments": comments}


def _shown(raw: bytes) -> str:
    """A line as a report may show it: decoded leniently, control characters escaped, short."""
    text = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= 80 else text[:79] + "…"


def _printable(raw: bytes) -> bool:
    try:
        text = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c == "\t" for c in text)


async def read_banner(
    reader: asyncio.StreamReader, *, timeout: float, url: str, host: str, port: int
) -> Banner:
    """Read lines up to the identification line within ``timeout`` seconds."""
    where = join_hostport(host, port)
    out = Banner()
    seen: list[bytes] = []
    buf = bytearray()

    def fail(kind: Kind, detail: str) -> Banner:
        if seen:
            shown = tuple(_shown(line) for line in seen[:3])
            out.details = dataclasses.replace(out.details, received=shown)
        out.failure = failure_for(kind, detail, url=url, host=host, port=port)
        return out

    def not_ssh(why: str) -> Banner:
        return fail(Kind.RESPONSE_MALFORMED, f"{where} does not speak SSH: {why}")

    try:
        async with asyncio.timeout(timeout):
            while True:
                end = buf.find(b"\n")
                if end < 0:
                    if len(buf) >= MAX_LINE:
                        seen.append(bytes(buf[:MAX_LINE]))
                        return not_ssh(f"it sent a line longer than {MAX_LINE} characters")
                    chunk = await reader.read(1024)
                    if not chunk:
                        if buf:
                            seen.append(bytes(buf))
                        if seen:
                            return not_ssh("it closed the connection without an SSH-2.0 line")
                        return fail(
                            Kind.CONNECTION_CLOSED,
                            f"{where} accepted the connection and closed it without sending "
                            "an SSH identification line",
                        )
                    buf += chunk
                    continue
                line = bytes(buf[: end + 1])
                del buf[: end + 1]
                seen.append(line)
                if len(line) > MAX_LINE:
                    return not_ssh(f"it sent a line longer than {MAX_LINE} characters")
                if not _printable(line):
                    return not_ssh(f"it sent {_shown(line)!r}, which is not text")
                text = line.decode("utf-8").rstrip("\r\n")
                if text.startswith("SSH-"):
                    break
                if len(seen) > MAX_PREAMBLE:
                    return not_ssh(f"it sent {len(seen)} lines and no SSH identification line")
    except TimeoutError:
        if seen or buf:
            seen += [bytes(buf)] if buf else []
            return not_ssh(
                f"it sent {_shown(seen[0])!r} but no SSH identification line within {timeout:g} s"
            )
        return fail(
            Kind.READ_TIMEOUT,
            f"{where} accepted the connection but sent no SSH identification line within "
            f"{timeout:g} s",
        )
    except OSError as exc:
        out.failure = classify(exc, url=url)
        return out
    ident = parse_identification(text)
    if ident is None:
        return not_ssh(f"{_shown(seen[-1])!r} has no software version")
    out.details = SshDetails(
        ident["protocol"],
        ident["software"],
        ident["comments"],
        text,
        len(seen) - 1 if len(seen) > 1 else None,
    )
    protocol = ident["protocol"]
    if protocol not in ("2.0", "1.99"):
        # 1.99 is a server that speaks 2.0 and also 1.x; 1.x alone is obsolete and broken.
        version = f"SSH protocol {protocol}"
        if protocol.startswith("1."):
            version += ", which is obsolete and insecure: tether and modern clients speak 2.0"
        return fail(Kind.RESPONSE_MALFORMED, f"{where} speaks only {version}")
    return out
