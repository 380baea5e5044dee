"""What a retrying call reports, and who hears it.

Each event is a frozen details object.  It goes to the policy's own hook, if
any, then to logging (logger ``tether``), then to Prometheus and OpenTelemetry
when those libraries are installed.  A hook that raises is logged and ignored:
instrumentation must never change the outcome of a call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tether._failure import Failure

logger = logging.getLogger("tether")
logger.addHandler(logging.NullHandler())


@dataclass(frozen=True, slots=True)
class RetryDetails:
    """A retry is about to wait ``delay`` seconds, then make attempt ``attempt + 1``."""

    method: str
    url: str
    """Redacted."""
    endpoint: str
    attempt: int
    """The attempt that just failed (1 for the first)."""
    delay: float
    elapsed: float
    failure: Failure


@dataclass(frozen=True, slots=True)
class GiveUpDetails:
    """The call ends in ``failure`` after ``attempts`` attempts; ``reason`` says why it stopped."""

    method: str
    url: str
    endpoint: str
    attempts: int
    elapsed: float
    failure: Failure
    reason: str


@dataclass(frozen=True, slots=True)
class BreakerChange:
    """The circuit breaker of ``endpoint`` went from ``old`` to ``new``."""

    endpoint: str
    old: str
    new: str
    failure: Failure | None
    """The failure that opened it, if one did."""


@dataclass(frozen=True, slots=True)
class HealthChange:
    """``endpoint`` became unhealthy (``healthy`` false) or recovered."""

    endpoint: str
    healthy: bool
    consecutive_failures: int
    failure: Failure | None
    """The last failure (for a recovery: the one before it)."""
    down_for: float | None
    """For a recovery: seconds since the first failure of the run."""


def emit(hook: Callable[[Any], object] | None, event: str, details: Any) -> None:
    """Send ``details`` to ``hook`` and to the built-in instruments."""
    if hook is not None:
        try:
            hook(details)
        except Exception:
            logger.exception("tether: the %s hook raised; ignored", event)
    _log(event, details)
    for instrument in _instruments():
        try:
            instrument(event, details)
        except Exception:  # pragma: no cover - an instrument's own bug
            logger.exception("tether: instrument failed on %s; ignored", event)


def _log(event: str, d: Any) -> None:
    if event == "retry":
        logger.info(
            "retrying %s in %.2f s after attempt %d: %s",
            _what(d),
            d.delay,
            d.attempt,
            d.failure,
        )
    elif event == "give_up":
        logger.warning(
            "giving up on %s after %d attempt%s in %.1f s (%s): %s",
            _what(d),
            d.attempts,
            "" if d.attempts == 1 else "s",
            d.elapsed,
            d.reason,
            d.failure,
        )
    elif event == "breaker_change":
        logger.warning("circuit for %s: %s -> %s", d.endpoint, d.old, d.new)
    elif event == "unhealthy":
        logger.warning(
            "%s is unhealthy after %d consecutive failures: %s",
            d.endpoint,
            d.consecutive_failures,
            d.failure,
        )
    elif event == "recovered":
        logger.info("%s recovered", d.endpoint)


def _what(d: Any) -> str:
    """``GET http://...``, or ``fetch()`` for a decorated function (which has no method)."""
    return f"{d.method} {d.url}" if d.method else str(d.url)


_loaded: list[list[Callable[[str, Any], None]]] = []


def _instruments() -> list[Callable[[str, Any], None]]:
    """Prometheus and OpenTelemetry, if installed; looked up once."""
    if not _loaded:
        from tether._retry import _instrument

        made = (_instrument.prometheus(), _instrument.opentelemetry())
        _loaded.append([instrument for instrument in made if instrument is not None])
    return _loaded[0]
