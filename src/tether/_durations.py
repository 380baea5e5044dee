"""Durations, read and written in one place: what people read (``3 min 2 s``) and what
the configuration and conditions read back (``1m30s``)."""

from __future__ import annotations

import math

__all__ = ["human_duration"]


def human_duration(seconds: float) -> str:
    """``42 s``, ``3 min 2 s``, ``5 h 12 min``, ``2 d 3 h``: for people, in logs, alerts and
    pages (halves round up, so the same moment reads the same everywhere)."""
    seconds = max(0, math.floor(seconds + 0.5))
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {s} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
