"""What a database or cache check is given: its URL's parts (``postgresql://``,
``mysql://``, ``redis://``...) read strictly, and what it asks (``query``, ``role``).

Kept apart from the clients so the URL phase can check a target without importing one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

POSTGRES_SCHEMES: Final = ("postgresql", "postgres")
MYSQL_SCHEMES: Final = ("mysql", "mariadb")
REDIS_SCHEMES: Final = ("redis", "rediss")
DB_SCHEMES: Final = (*POSTGRES_SCHEMES, *MYSQL_SCHEMES, *REDIS_SCHEMES)

SSLMODES: Final = ("disable", "require", "verify-ca", "verify-full")
"""``postgresql://...?sslmode=``: ``prefer`` and ``allow`` are refused, since they fall back
to no TLS without a word; every mode that asks for TLS is verified as ``verify-full``."""

MAX_ROWS: Final = 100
"""Rows a query's answer is read for, at most: ``[ROWS]`` counts no further."""

Role = Literal["primary", "any"]


@dataclass(frozen=True, slots=True)
class DatabaseQuery:
    """What a database check runs once logged in, and what the server must be."""

    query: str | None = None
    """SQL for PostgreSQL and MySQL (default ``SELECT 1``); a command for Redis (default
    ``PING``)."""
    role: Role = "any"
    """``primary``: a server that is read-only (in recovery, a replica, read-only
    transactions) fails with ``db.read_only``."""
    max_rows: int = MAX_ROWS


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """The parts of a database URL a client needs (credentials included: never shown)."""

    user: str | None
    password: str | None
    database: str | None
    """The path without its slash: a database name, or Redis's database number."""
    tls: bool
    """Whether the connection is secured: ``rediss://``, ``?sslmode=require`` (or a
    verifying mode), ``?ssl=true``."""


def database_url(text: str) -> DatabaseUrl:
    """The parts of ``text``, a URL that :func:`database_url_problem` passed."""
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    query = dict(parse_qsl(parts.query))
    if scheme in POSTGRES_SCHEMES:
        tls = query.get("sslmode", "disable") != "disable"
    elif scheme in MYSQL_SCHEMES:
        tls = query.get("ssl", "false").lower() == "true"
    else:
        tls = scheme == "rediss"
    path = unquote(parts.path.removeprefix("/"))
    return DatabaseUrl(
        None if parts.username is None else unquote(parts.username),
        None if parts.password is None else unquote(parts.password),
        path or None,
        tls,
    )


def database_url_problem(scheme: str, parts: SplitResult) -> str | None:
    """What is wrong with a database URL's path and options, or None."""
    path = unquote(parts.path.removeprefix("/"))
    if "/" in path:
        return f"a {scheme}:// URL's path is one database name: write {scheme}://host/NAME"
    if scheme in REDIS_SCHEMES and path and not (path.isascii() and path.isdigit()):
        return f"a {scheme}:// URL's path is a database number, as in {scheme}://host/0"
    allowed = {"postgresql": "sslmode", "postgres": "sslmode", "mysql": "ssl", "mariadb": "ssl"}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name != allowed.get(scheme):
            takes = f"only {allowed[scheme]}=" if scheme in allowed else "no options"
            return f"unknown option {name!r} in the {scheme}:// URL: it takes {takes}"
        if name == "sslmode" and value not in SSLMODES:
            return (
                f"sslmode={value!r}: use {', '.join(SSLMODES)} (prefer and allow may fall "
                "back to no TLS without a word; tether does not)"
            )
        if name == "ssl" and value.lower() not in ("true", "false"):
            return f"ssl={value!r}: use true or false"
    return None
