"""What a retrying call reports, and who hears it.

Each event is a frozen details object.  It goes to the policy's own hook, if
any, then to logging (logger ``tether``), then to Prometheus and OpenTelemetry
when those libraries are installed.  A hook that raises is logged and ignored:
instrumentation must never change the outcome of a call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tether._failure import Failure
from tether._log import logger
from tether._plural import count


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
class HedgeDetails:
    """A hedged call is about to send attempt ``attempt`` beside those still in flight."""

    method: str
    url: str
    """Redacted."""
    endpoint: str
    attempt: int
    """The attempt about to be sent (2 for the first hedge)."""
    delay: float
    """The call's hedge delay: the fixed one, or the endpoint's latency percentile."""
    elapsed: float
    failure: Failure | None
    """The failure of an attempt that sent this one at once; ``None`` when the hedge
    delay passed with no answer."""


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
    reason: str = ""
    """Why it opened: ``5 consecutive failures``, ``12 of 20 attempts in 10 s failed``,
    ``11 of 20 attempts in 10 s took longer than 0.5 s (slow_ratio 0.5)``...; empty for
    any other change."""


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
        instrument(event, details)


def _log(event: str, d: Any) -> None:
    if event == "retry":
        logger.info(
            "retrying %s in %.2f s after attempt %d: %s",
            _what(d),
            d.delay,
            d.attempt,
            d.failure,
        )
    elif event == "hedge":
        logger.info(
            "hedging %s with attempt %d after %.2f s: %s",
            _what(d),
            d.attempt,
            d.elapsed,
            d.failure or f"no answer within {d.delay:.3f} s",
        )
    elif event == "give_up":
        logger.warning(
            "giving up on %s after %s in %.1f s (%s): %s",
            _what(d),
            count(d.attempts, "attempt"),
            d.elapsed,
            d.reason,
            d.failure,
        )
    elif event == "breaker_change":
        because = f" ({d.reason})" if d.reason else ""
        logger.warning("circuit for %s: %s -> %s%s", d.endpoint, d.old, d.new, because)
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


_Instrument = Callable[[str, Any], None]
_made: list[list[_Instrument]] = []
_making = threading.Lock()


def _instruments() -> list[_Instrument]:
    """Prometheus and OpenTelemetry, if installed; made once, whichever thread asks first.

    A Prometheus metric can be registered only once per process, so two threads making
    their first call together must not both make the instruments.
    """
    if not _made:
        with _making:
            if not _made:
                _made.append(_make_instruments())
    return _made[0]


def _make_instruments() -> list[_Instrument]:
    from tether._retry import _instrument

    made: list[_Instrument] = []
    for name, factory in (
        ("Prometheus", _instrument.prometheus),
        ("OpenTelemetry", _instrument.opentelemetry),
    ):
        try:
            instrument = factory()
        except Exception:
            # e.g. the application registered a metric of the same name itself
            logger.warning(
                "tether: %s instrumentation could not be set up; calls go on without it",
                name,
                exc_info=True,
            )
            continue
        if instrument is not None:
            made.append(_guarded(name, instrument))
    return made


def _guarded(name: str, instrument: _Instrument) -> _Instrument:
    """``instrument``, made unable to fail a call: its first error is logged as a warning,
    later ones at debug level, so a broken exporter does not flood the log."""
    warned = False

    def guarded(event: str, details: Any) -> None:
        nonlocal warned
        try:
            instrument(event, details)
        except Exception:
            level = logging.DEBUG if warned else logging.WARNING
            warned = True
            logger.log(
                level,
                "tether: %s instrumentation failed on %s; ignored",
                name,
                event,
                exc_info=True,
            )

    return guarded
