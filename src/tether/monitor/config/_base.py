"""The base of every configuration model: frozen, no unknown key, and a repr that shows
no secret."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict

from tether._redact import redact, redact_headers

__all__ = ["_Model"]


class _Model(BaseModel):
    """Frozen, no unknown keys, and a repr that shows no secret."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, _redacted(name, value)


def _redacted(name: str | None, value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, tuple):
        return tuple(_redacted(name, item) for item in value)
    if isinstance(value, dict) and name == "headers":
        return redact_headers(value)
    return value
