"""``alert_when:``, a probed monitor's rule over a window of its recent checks, for a
target behind a load balancer where one bad backend fails one check in three and no run
of ``failure_threshold`` failures ever comes:

- ``{failures: 5, within: 5m}``: down while at least 5 checks failed in the last 5 min;
- ``{failure_ratio: 20%, within: 10m, min_checks: 10}``: down while at least 20% of the
  checks of the last 10 min failed, and there were at least 10 of them.

The shape of the key is checked here; what needs the monitor (its interval, its type, a
``failure_threshold`` beside it) in ``_checks.py``.  The detector applies the rule
(``engine/_window.py``)."""

from __future__ import annotations

import math
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, model_validator

from tether._durations import format_duration
from tether.monitor.config._errors import fail, show
from tether.monitor.config._fields import Count, PositiveDuration

__all__ = ["LONGEST_WITHIN", "AlertWhen", "not_inherited"]

LONGEST_WITHIN: Final = 86400.0
"""A window of a day at most: it is kept check by check, in memory and in the saved
state."""


def _share(value: object) -> object:
    """``20%`` or ``0.2``: a share of the checks, above 0 and at most 100%."""
    if isinstance(value, bool):
        raise fail(f"{show(value)} is not a share: write a percentage, as in 20%")
    number: float | None = None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1]) / 100
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise fail(f"{show(value)} is not a share: write a percentage, as in 20%")
    if not 0 < number <= 1:
        raise fail(f"{show(value)} is not a share above 0% and at most 100% (or 0 to 1)")
    return number


def _day_at_most(seconds: float) -> float:
    if seconds > LONGEST_WITHIN:
        raise fail(f"{format_duration(seconds)} is too long: 1d at most")
    if seconds < 1:
        raise fail(f"{format_duration(seconds)} is too short: 1s at least")
    return seconds


Share = Annotated[float, BeforeValidator(_share)]
Within = Annotated[PositiveDuration, AfterValidator(_day_at_most)]


class AlertWhen(BaseModel):
    """When a monitor is down, over a window of its checks (the module's docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failures: Count | None = None
    """Down while at least this many checks failed within ``within``..."""
    failure_ratio: Share | None = None
    """...or while at least this share of them did (``20%``)..."""
    within: Within
    """...over the last this long (1 s to 1 d)..."""
    min_checks: Count = 10
    """...when the window holds at least this many checks (``failure_ratio`` only)."""

    @model_validator(mode="after")
    def _one_rule(self) -> AlertWhen:
        if (self.failures is None) == (self.failure_ratio is None):
            raise fail(
                "give failures (a number of checks) or failure_ratio (a share of them), not both"
                if self.failures is not None
                else "give failures (a number of checks) or failure_ratio (a share of them)"
            )
        if self.failures is not None and "min_checks" in self.model_fields_set:
            raise fail("min_checks goes with failure_ratio: failures counts checks already")
        return self

    @property
    def needed(self) -> int:
        """The fewest checks the window must hold for the rule to hold."""
        return self.failures if self.failures is not None else self.min_checks


def not_inherited(own: set[str], *, probed: bool) -> set[str]:
    """The keys ``defaults`` does not give a monitor that sets ``own``: its ``headers``
    (merged instead), and the rule it did not choose: a monitor that sets
    ``failure_threshold`` or ``alert_when`` takes neither from ``defaults``, nor does a
    push or traffic monitor take ``alert_when`` (they have rules of their own)."""
    keys = {"headers"}
    if {"failure_threshold", "alert_when"} & own:
        keys |= {"failure_threshold", "alert_when"}
    if not probed:
        keys.add("alert_when")
    return keys
