"""A database or cache monitor's options (``postgresql://``, ``mysql://``, ``redis://``):
the ``query`` it runs and the ``role`` it expects, and the checks that need the URL."""

from __future__ import annotations

import shlex
from typing import Annotated, Final, Literal

from pydantic import AfterValidator

from tether.monitor.config._errors import KeyPath, Problem, fail, show

DB_SCHEMES: Final = ("postgresql", "postgres", "mysql", "mariadb", "redis", "rediss")
DB_ONLY: Final = ("query", "role")
MAX_QUERY: Final = 4000
"""Characters in a query, at most: a check's query is a probe, not a report."""


def _check_query(value: str) -> str:
    if not value.strip():
        raise fail("is empty: write a query (SELECT 1) or, for Redis, a command (PING)")
    if len(value) > MAX_QUERY:
        raise fail(f"is {len(value)} characters long; a check's query may have {MAX_QUERY}")
    if "\x00" in value:
        raise fail("holds a NUL character")
    return value


QueryText = Annotated[str, AfterValidator(_check_query)]
Role = Literal["primary", "any"]


def database_problems(
    scheme: str, given: set[str], query: str | None, at: KeyPath
) -> list[Problem]:
    """What is wrong with a monitor's ``query`` and ``role`` for its ``scheme``."""
    if scheme not in DB_SCHEMES:
        return [
            (
                (*at, key),
                f"only postgresql://, mysql:// and redis:// monitors take it; this is {scheme}://",
            )
            for key in DB_ONLY
            if key in given
        ]
    if query is not None and scheme in ("redis", "rediss"):
        try:
            words = shlex.split(query)
        except ValueError as exc:
            return [((*at, "query"), f"{show(query)} cannot be read as a command: {exc}")]
        if not words:
            return [((*at, "query"), "is empty: write a command, as in PING or GET health")]
    return []
