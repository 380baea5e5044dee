"""Errors as the user reads them: :class:`ConfigError`, one ``key.path: message`` line per
problem, each located at ``FILE:LINE:COLUMN``, with values shown as written and secrets
masked."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Final

from pydantic_core import PydanticCustomError

from tether._redact import MASK, quote, redact_headers, redact_text
from tether._text import visible

KeyPath = tuple[str | int, ...]
"""A key path: mapping keys and list indexes, ``("monitors", 3, "interval")``."""

Problem = tuple[KeyPath, str]
"""One problem: where, and the message."""


class ConfigError(ValueError):
    """The configuration is invalid.  ``errors`` holds one ``key.path: message`` per
    problem; ``located`` the same lines prefixed with ``FILE:LINE:COLUMN:``."""

    def __init__(self, errors: list[str], located: list[str] | None = None) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors
        self.located = located if located is not None else list(errors)


def fail(message: str) -> PydanticCustomError:
    """A validation error whose message is used as written (``type`` "tether")."""
    return PydanticCustomError("tether", "{message}", {"message": message})


SECRET_KEYS: Final = frozenset(
    {"password", "secret", "password_hash", "hash", "token", "credentials"}
)
"""Keys whose value no error message shows."""


def is_secret(path: KeyPath) -> bool:
    """Is the value at ``path`` a credential (a secret key, or a header that
    :func:`redact_headers` masks), which an error names as "the value"?"""
    key = path[-1] if path else ""
    if key in SECRET_KEYS:
        return True
    return (
        len(path) > 1
        and path[-2] == "headers"
        and isinstance(key, str)
        and (redact_headers({key: "x"})[key] == MASK)
    )


def show(value: object) -> str:
    """A value as the user wrote it, short enough for one line."""
    if isinstance(value, str):
        return quote(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        # str() refuses past 4,300 digits, and a line of hundreds helps nobody.
        return str(value) if value.bit_length() <= 128 else "a number too large for any key"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return type(value).__name__


def render_path(path: KeyPath) -> str:
    """``monitors[3].dns.answers[1]``; an odd key quoted (``headers["X A"]``)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f".{part}" if out else part
        else:
            out += f"[{visible(json.dumps(part, ensure_ascii=False))}]"
    return out or "(top level)"


def config_error(
    errors: list[Problem], marks: Mapping[KeyPath, tuple[int, int]], source: str
) -> ConfigError:
    """Every problem, in file order (by the position of its key, or of the nearest
    enclosing one), each line once."""

    def position(path: KeyPath) -> tuple[int, int]:
        for end in range(len(path), -1, -1):
            if path[:end] in marks:
                return marks[path[:end]]
        return (1, 1)

    ordered = sorted(errors, key=lambda e: position(e[0]))  # stable: file order, then found
    lines, located = [], []
    for path, message in ordered:
        # Escaped once more as a whole: a message that quotes a value without show()
        # must not break its line (a vertical tab, U+2028) nor reorder it.
        line = visible(f"{render_path(path)}: {redact_text(message)}")
        if line not in lines:
            lines.append(line)
            row, column = position(path)
            located.append(f"{source}:{row}:{column}: {line}")
    return ConfigError(lines, located)
