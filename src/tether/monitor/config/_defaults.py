"""Each default of a monitor, written once.

A monitor's key takes its own value, else the ``defaults`` section's, else the value
here; :class:`~tether.monitor.config.Monitor` and
:class:`~tether.monitor.config.MonitorDefaults` both read them from this module.  The
thresholds and the latency margin are the detector's own defaults
(:class:`~tether.monitor.config._rules.Rules` and its
:class:`~tether.monitor.config._rules.Latency`), so a monitor that sets nothing is judged as
a detector that is given nothing.
"""

from __future__ import annotations

from typing import Final

from tether.monitor.config._rules import Rules

_DETECTOR: Final = Rules()

INTERVAL: Final = 60.0
"""Seconds between probes."""
TIMEOUT: Final = 10.0
"""Seconds a probe may take, unless that is not shorter than the interval: see
:func:`default_timeout`."""
FAILURE_THRESHOLD: Final = _DETECTOR.failure_threshold
SUCCESS_THRESHOLD: Final = _DETECTOR.success_threshold
LATENCY_MARGIN: Final[float | None] = _DETECTOR.latency.k
"""Robust standard deviations above the latency baseline before a monitor is degraded."""

# A timeout left unset is capped below a short interval instead of making the file
# invalid for a key the user never wrote.
_TIMEOUT_SHARE: Final = 0.8


def default_timeout(interval: float) -> float:
    """The timeout of a monitor that sets none, nor its ``defaults``: :data:`TIMEOUT`, or
    80% of a shorter ``interval``."""
    return min(TIMEOUT, interval * _TIMEOUT_SHARE)
