"""Numbers a request carries (a query parameter, a header), read in one place.

A peer decides what these texts are, so each is held to a plain decimal of the digits
0-9, finite, positive and within bounds, and anything else is one 400 answer that says
what to send.  ``float()`` alone reads ``nan``, ``inf``, ``1e309`` and ``٣``; a NaN timeout
handed to the event loop corrupts its timer queue, and with it every check.
"""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web

__all__ = ["request_number"]

# No sign, no exponent, no other script's digits; short enough to read at a glance.
_DECIMAL: Final = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?", re.ASCII)
_WHOLE: Final = re.compile(r"[0-9]{1,12}", re.ASCII)


def request_number(raw: str, name: str, *, least: float, most: float, whole: bool = False) -> float:
    """``raw`` as a number from ``least`` to ``most`` (a whole one with ``whole``); raise
    :class:`aiohttp.web.HTTPBadRequest` with ``name: give ... not 'raw'`` otherwise."""
    pattern = _WHOLE if whole else _DECIMAL
    if pattern.fullmatch(raw):
        value = float(raw)
        if least <= value <= most:
            return value
    kind = "a whole number" if whole else "a number"
    shown = raw if len(raw) <= 40 else raw[:39] + "…"
    bounds = f"from {least:g} to {most:g}"
    raise web.HTTPBadRequest(text=f"{name}: give {kind} {bounds}, not {shown!r}\n")
