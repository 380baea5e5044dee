"""A ``redis://`` or ``rediss://`` check: tether speaks RESP itself, over the walk's own
connection.

Why not redis-py: its asyncio client connects, secures and authenticates in one call,
so its ``connect``, ``tls`` and ``auth`` would be one phase, and a refused port or a bad
certificate would be its exceptions rather than the walk's own phases with their kinds.
The exchange a check needs is five commands (``AUTH``, ``SELECT``, ``ROLE``, ``COMMAND
INFO``, the configured one) and RESP2's five reply types: written here, it runs on the walk's stream
(its connect race, its TLS with the monitor's ``tls.ca_file``/``tls.insecure``), needs
no extra and no thread, and every read is bounded by the check's timeout and
``max_body``."""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass
from typing import Final

from tether._classify import classify
from tether._classify._databases import redis_error_kind
from tether._kinds import Kind
from tether.probe._dbcommon import db_failure, first_value
from tether.probe._dboptions import DatabaseQuery, DatabaseUrl
from tether.probe._details import DatabaseDetails
from tether.probe._target import Target
from tether.probe._walk import Stream
from tether.probe._walk_tls import WalkTls

_MAX_ITEMS: Final = 100_000
"""Items in one reply array, at most: a reply past it is ``response.too_large``."""


@dataclass(frozen=True, slots=True)
class ServerError:
    """A RESP error reply: ``-WRONGPASS invalid username-password pair``."""

    message: str

    @property
    def code(self) -> str:
        return self.message.split(" ", 1)[0]


class _Broken(Exception):
    """The exchange could not go on: the failure's kind and detail."""

    def __init__(self, kind: Kind, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.code = code


Reply = str | int | bytes | list["Reply"] | ServerError | None


def command(*args: str) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


async def read_reply(reader: asyncio.StreamReader, limit: int) -> Reply:
    """One reply; :class:`_Broken` when it is cut off, malformed or too large: ``limit``
    bounds the bytes of the whole reply (every bulk string of every nested array
    together) and :data:`_MAX_ITEMS` its items, so a hostile server's reply costs at most
    that much memory."""
    return await _read(reader, [limit, _MAX_ITEMS, limit], 0)


async def _read(reader: asyncio.StreamReader, left: list[int], depth: int) -> Reply:
    """One reply; ``left``: the bytes and items the whole reply may still take, and its
    byte limit."""
    try:
        line = await reader.readline()
    except ValueError:  # asyncio's line limit (64 KiB): no RESP header is that long
        raise _Broken(Kind.RESPONSE_MALFORMED, "a reply line longer than 64 KiB") from None
    if not line.endswith(b"\r\n"):
        raise _Broken(Kind.CONNECTION_CLOSED, "the server closed the connection mid-reply")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode("utf-8", "replace")
    if kind == b"-":
        return ServerError(rest.decode("utf-8", "replace"))
    try:
        number = int(rest)
    except ValueError:
        raise _Broken(Kind.RESPONSE_MALFORMED, f"not a RESP reply: {line[:40]!r}") from None
    if kind == b":":
        return number
    if kind == b"$":
        if number < 0:
            return None
        if number > left[0]:
            raise _Broken(Kind.RESPONSE_TOO_LARGE, f"a reply of more than {left[2]} bytes")
        left[0] -= number
        try:
            data = await reader.readexactly(number + 2)
        except asyncio.IncompleteReadError:
            raise _Broken(Kind.RESPONSE_TRUNCATED, "the reply was cut off") from None
        return data[:-2]
    if kind == b"*":
        if number < 0:
            return None
        if number > left[1] or depth > 8:
            raise _Broken(Kind.RESPONSE_TOO_LARGE, f"a reply of more than {_MAX_ITEMS} items")
        left[1] -= number
        return [await _read(reader, left, depth + 1) for _ in range(number)]
    raise _Broken(Kind.RESPONSE_MALFORMED, f"not a RESP reply: {line[:40]!r}")


def as_value(reply: Reply) -> str | int | float | bool | None:
    """A reply's value for ``[RESULT]``: text that is a number is that number."""
    if isinstance(reply, list):
        return None if not reply else as_value(reply[0])
    value = first_value(reply if not isinstance(reply, ServerError) else reply.message)
    if isinstance(value, str):
        try:
            return int(value) if value.lstrip("-").isdigit() else value
        except ValueError:
            return value
    return value


def split_command(text: str) -> list[str]:
    """A command's words, as ``redis-cli`` reads them (quotes group, backslashes escape);
    ValueError for unbalanced quotes or no words."""
    words = shlex.split(text)
    if not words:
        raise ValueError("the command is empty: write one, as in PING or GET health")
    return words


class _Session:
    """One connection's exchange: each command sent, its reply read within the timeout."""

    def __init__(self, w: WalkTls, stream: Stream, t: Target, url: DatabaseUrl) -> None:
        self.w, self.stream, self.t, self.url = w, stream, t, url

    async def ask(self, *args: str) -> Reply:
        o = self.w.options
        self.stream.writer.write(command(*args))
        try:
            async with asyncio.timeout(o.timeout):
                return await read_reply(self.stream.reader, o.max_body)
        except TimeoutError:
            raise _Broken(
                Kind.READ_TIMEOUT, f"no answer to {args[0]} within {o.timeout:g} s"
            ) from None
        except OSError as exc:
            failure = classify(exc, url=self.t.url)
            raise _Broken(failure.kind, failure.detail) from None

    def refused(self, what: str, error: ServerError) -> _Broken:
        detail = f"the server refused {what}: {error.message}"
        return _Broken(redis_error_kind(error.message), detail, error.code)


async def walk(w: WalkTls, t: Target, url: DatabaseUrl, q: DatabaseQuery) -> None:
    """``dns``, ``connect`` and ``tls`` (``rediss://``) by the walk, then ``auth`` (AUTH
    and SELECT, when the URL gives a password or a database) and ``query`` (ROLE when
    ``role: primary``, then the command)."""
    stream = await w.direct(t, record=True)
    if stream is not None and t.scheme == "rediss":
        stream = await w.tls(t, stream, record=True)
    if stream is None:
        return
    s = _Session(w, stream, t, url)
    database = url.database if url.database not in (None, "0") else None
    if url.password is not None or database is not None:
        w.begin("auth")
        details = DatabaseDetails(user=url.user or "default", database=url.database or "0")
        try:
            if url.password is not None:
                who = (url.user,) if url.user else ()
                said = await s.ask("AUTH", *who, url.password)
                if isinstance(said, ServerError):
                    raise s.refused("the credentials", said)
            if database is not None:
                said = await s.ask("SELECT", database)
                if isinstance(said, ServerError):
                    raise s.refused(f"database {database}", said)
        except _Broken as exc:
            w.end(
                DatabaseDetails(user=details.user, database=details.database, error=exc.code),
                db_failure(exc.kind, exc.detail, t, url),
            )
            return
        w.end(details)
    await _query(w, s, q)


REFUSED_FLAGS: Final = frozenset(
    {"write", "admin", "may_replicate", "pubsub", "blocking", "scripting"}
)
"""A command the server flags so (its flags, and its ACL categories without the ``@``) is
not run: it writes, administers (SHUTDOWN, CONFIG SET), runs a script that may write
(EVAL, FCALL), subscribes or blocks."""


async def _refuse_writes(s: _Session, args: list[str]) -> None:
    """Redis has no read-only session: ask the server what the command does (``COMMAND
    INFO``, a subcommand's own for a container such as ``CONFIG GET``) and refuse one it
    flags in :data:`REFUSED_FLAGS`.  A server whose ACL refuses ``COMMAND`` to this user
    is trusted to refuse it the writes too; an unknown command is left to the server."""
    name = args[0].lower()
    flags = await _flags(s, name)
    if flags is not None and flags[1] and len(args) > 1:  # a container: its subcommand's
        flags = await _flags(s, f"{name}|{args[1].lower()}") or flags
    found = sorted(REFUSED_FLAGS & set(flags[0])) if flags is not None else []
    if found:
        raise _Broken(
            Kind.DB_QUERY_FAILED,
            f"{args[0]} is flagged {', '.join(found)} by the server: a check runs only "
            "commands that read",
        )


async def _flags(s: _Session, name: str) -> tuple[list[str], bool] | None:
    """A command's flags, and whether it has subcommands; None when not known."""
    info = await s.ask("COMMAND", "INFO", name)
    entry = info[0] if isinstance(info, list) and info else None
    if not isinstance(entry, list) or len(entry) < 3 or not isinstance(entry[2], list):
        return None
    said = [*entry[2], *(entry[6] if len(entry) > 6 and isinstance(entry[6], list) else [])]
    flags = [(f.decode() if isinstance(f, bytes) else str(f)).lstrip("@") for f in said]
    subcommands = len(entry) > 9 and isinstance(entry[9], list) and bool(entry[9])
    return flags, subcommands


async def _query(w: WalkTls, s: _Session, q: DatabaseQuery) -> None:
    text = q.query or "PING"
    w.begin("query")
    read_only: bool | None = None
    try:
        args = split_command(text)
        if q.role == "primary":
            role = await s.ask("ROLE")
            if isinstance(role, ServerError):
                raise s.refused("ROLE", role)
            name = as_value(role)
            read_only = name != "master"
            if read_only:
                raise _Broken(
                    Kind.DB_READ_ONLY,
                    f"role: primary, but the server's ROLE is {name} (a read-only replica)",
                )
        await _refuse_writes(s, args)
        reply = await s.ask(*args)
        if isinstance(reply, ServerError):
            raise s.refused(args[0], reply)
    except ValueError as exc:
        failure = db_failure(Kind.DB_QUERY_FAILED, f"the command cannot be read: {exc}", s.t, s.url)
        w.end(DatabaseDetails(query=text), failure)
        return
    except _Broken as exc:
        details = DatabaseDetails(query=text, read_only=read_only, error=exc.code)
        w.end(details, db_failure(exc.kind, exc.detail, s.t, s.url))
        return
    rows = 0 if reply is None else len(reply) if isinstance(reply, list) else 1
    details = DatabaseDetails(
        query=text, result=as_value(reply), rows=min(rows, q.max_rows), read_only=read_only
    )
    w.end(details)
