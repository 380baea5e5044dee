"""A monitor's ``http_version``: which HTTP an ``https://`` check speaks.

YAML reads ``1.1`` as a float and ``3`` as an int: both are taken as the text they were
written as, so ``http_version: 3`` and ``http_version: "3"`` mean the same."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator

__all__ = ["HttpVersion"]


def _as_text(value: object) -> object:
    if isinstance(value, bool):  # YAML's yes/no: not a version (the Literal says so)
        return value
    if isinstance(value, int | float):
        return f"{value:g}"
    if isinstance(value, str):
        return value.strip().lower()
    return value


HttpVersion = Annotated[Literal["1.1", "3", "auto"], BeforeValidator(_as_text)]
"""``1.1`` (HTTP/1.1 over TCP, the default); ``3`` (HTTP/3 over QUIC instead); ``auto``
(HTTP/1.1, then HTTP/3 too where the answer's ``Alt-Svc`` offers it)."""
