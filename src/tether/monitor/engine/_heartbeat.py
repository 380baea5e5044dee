"""Heartbeats: when a push monitor's job was due to report in, and whether it is late.

Pure: :func:`missed` is given the time and the last push, and reads no clock.  A push
is expected ``interval`` seconds after the last one (or after the monitor started), or
at each time of its ``cron`` schedule; it is missed once ``grace`` more has passed with
no push.  While none comes, each further expected time missed is one more failed check
(so ``failure_threshold`` counts missed heartbeats).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import zoneinfo
from collections.abc import Iterable

from tether.monitor.config import Monitor
from tether.monitor.config._cron import parse_cron

__all__ = ["TokenIndex", "missed"]


def missed(m: Monitor, since: float, now: float) -> float | None:
    """The latest time a push was expected and is now overdue (past ``grace``), when it
    came after ``since`` (the last push, or when the monitor began to be watched);
    ``None`` while nothing is overdue."""
    cutoff = now - m.grace
    if m.cron is None:
        if cutoff < since + m.interval:
            return None
        # The k-th expected time since the last push: each one missed counts once.
        return since + math.floor((cutoff - since) / m.interval) * m.interval
    zone = zoneinfo.ZoneInfo(m.timezone)
    local = dt.datetime.fromtimestamp(cutoff, zone)
    start = parse_cron(m.cron).last_start(local, max(0.0, cutoff - since))
    if start is None:
        return None
    expected = start.timestamp()
    return expected if expected > since else None


class TokenIndex:
    """Which push monitor a token belongs to.  Every token is compared, each by its
    SHA-256 in constant time, so the answer takes as long whatever the token."""

    def __init__(self, monitors: Iterable[Monitor]) -> None:
        self._digests = [
            (hashlib.sha256(m.token.get_secret_value().encode()).digest(), m.name)
            for m in monitors
            if m.push and m.token is not None
        ]

    def find(self, token: str) -> str | None:
        """The name of the monitor ``token`` belongs to, or ``None``."""
        given = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found = None
        for digest, name in self._digests:
            if hmac.compare_digest(digest, given):
                found = name
        return found
