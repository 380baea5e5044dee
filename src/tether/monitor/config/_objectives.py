"""``objectives:``: service level objectives over monitors, and the burn-rate alerts on
their error budgets (docs/objectives.md).

An objective names its monitors by name (``monitors: [api, login]``) or by label matcher
(``match: {service: checkout}``, over each monitor's labels and ``monitor``, its name),
an SLI (``availability``, or ``latency`` under ``below``), a target over a rolling window
(``target: 99.9%`` over ``window: 30d``), the channels its alerts go to, and optionally
its own burn-rate rules in place of the SRE Workbook's.  What the numbers mean and how
they are computed is the engine's (``engine/objectives/_budget.py``); here they are read and
checked: one message per mistake, at its key path.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, model_validator

from tether._durations import format_duration
from tether._kinds import Kind
from tether._suggest import did_you_mean
from tether.monitor.config._discovery import References
from tether.monitor.config._errors import KeyPath, Problem, fail, show
from tether.monitor.config._fields import Name, Names, PositiveDuration, one_or_many
from tether.monitor.config.labels._labels import MatcherList, matches

__all__ = [
    "DEFAULT_BURN_RATES",
    "BurnRateConfig",
    "ObjectiveConfig",
    "check_objectives",
    "parse_target",
]

_FAMILIES: Final = frozenset(k.value.partition(".")[0] for k in Kind)
_KINDS: Final = frozenset(k.value for k in Kind) | _FAMILIES | {"condition"}
"""What ``kinds`` may list: a kind, a family of them, or ``condition`` (a failed
condition, which has no kind)."""


def parse_target(value: object) -> float:
    """A target as a share between 0 and 1: ``99.9%``, ``0.999`` or ``99.9`` (a number
    above 1 is a percentage).  Raises :func:`fail` with the fix."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise fail(f"{show(value)} is not a target: write a percentage, as in 99.9%")
    text = value.strip() if isinstance(value, str) else str(value)
    try:
        # Decimal, so 99.9% is 0.999 and not 0.9990000000000001.
        number = decimal.Decimal(text.removesuffix("%").strip())
    except decimal.InvalidOperation:
        raise fail(f"{show(value)} is not a target: write a percentage, as in 99.9%") from None
    if number.is_finite() and (text.endswith("%") or number > 1):
        number /= 100
    if not number.is_finite() or not 0 < number < 1:
        raise fail(f"{show(value)} is not between 0 and 100% (both left out): write e.g. 99.9%")
    return float(number)


def _target(value: object) -> object:
    return None if value is None else parse_target(value)


Target = Annotated[float, BeforeValidator(_target)]


def _percentile(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(f"{show(value)} is not a percentile: write a number, as in p: 95")
    if not 0 < value < 100:
        raise fail(f"{show(value)} is not a percentile between 0 and 100 (both left out)")
    return value / 100


MAX_WINDOW: Final = 366 * 86400.0


def _at_most_a_year(seconds: float) -> float:
    if seconds > MAX_WINDOW:
        raise fail(f"{format_duration(seconds)} is too long: the maximum is 366d")
    return seconds


def _burn(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(f"{show(value)} is not a burn rate: write a number, as in 14.4")
    if not math.isfinite(value) or value <= 0:
        raise fail(f"{show(value)} is not a burn rate above 0")
    return value


def _kind(value: object) -> object:
    if isinstance(value, str) and value not in _KINDS:
        hint = did_you_mean(value, sorted(_KINDS)) or " (tether explain lists them)"
        raise fail(f"{show(value)} is not a failure kind nor a family of them{hint}")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BurnRateConfig(_Model):
    """One alert rule: ``severity`` while the budget burns at ``burn`` times the rate that
    spends it exactly over the window, over both ``long`` and ``short``."""

    severity: Literal["page", "ticket"]
    burn: Annotated[float, BeforeValidator(_burn)]
    long: PositiveDuration
    short: PositiveDuration


_RULE_KEYS: Final = ("severity", "burn", "long", "short")
DEFAULT_BURN_RATES: Final = tuple(
    BurnRateConfig.model_validate(
        dict(zip(("severity", "burn", "long", "short"), rule, strict=True))
    )
    for rule in (("page", 14.4, "1h", "5m"), ("page", 6, "6h", "30m"), ("ticket", 1, "3d", "6h"))
)
"""The SRE Workbook's recommended rules (engine/objectives/_budget.py: ``DEFAULT_RULES``)."""


class ObjectiveConfig(_Model):
    """One objective: a share of good checks or calls over a rolling window."""

    name: Name
    match: MatcherList = ()
    """Label matchers selecting the monitors (over their labels and ``monitor``)."""
    monitors: Names = ()
    """Or the monitors by name."""
    sli: Literal["availability", "latency"] = "availability"
    target: Target | None = None
    """The share of good events: ``99.9%``, ``0.999`` or ``99.9``."""
    p: Annotated[float | None, BeforeValidator(_percentile)] = None
    """A latency objective's target written as a percentile: ``p: 95`` is ``target: 95%``."""
    below: PositiveDuration | None = None
    """A latency objective's threshold: good when faster than this."""
    window: Annotated[PositiveDuration, AfterValidator(_at_most_a_year)] = 30 * 86400.0
    """At most a year: a window is kept in hour buckets, 8,760 of them a year."""
    kinds: Annotated[
        tuple[Annotated[str, BeforeValidator(_kind)], ...], BeforeValidator(one_or_many)
    ] = ()
    """Failure kinds (or families, ``connect``, or ``condition`` for a failed condition)
    that count against an availability objective; empty: every kind."""
    alerts: Names = ()
    """The channels its alerts go to."""
    burn_rates: tuple[BurnRateConfig, ...] = DEFAULT_BURN_RATES
    """Its alert rules, in place of the Workbook's."""

    @model_validator(mode="after")
    def _shape(self) -> ObjectiveConfig:
        if self.match and self.monitors:
            raise fail("give either match or monitors, not both")
        if not self.match and not self.monitors:
            raise fail("names no monitor: give match (label matchers) or monitors (names)")
        if self.sli == "latency":
            if self.below is None:
                raise fail("a latency objective needs below, as in below: 300ms")
            if self.target is not None and self.p is not None:
                raise fail("give either target or p, not both (p: 95 is target: 95%)")
            if self.target is None and self.p is None:
                raise fail("needs a target, as in target: 95% (or p: 95)")
        else:
            for key in ("below", "p"):
                if getattr(self, key) is not None:
                    raise fail(f"{key} is for a latency objective: write sli: latency")
            if self.target is None:
                raise fail("needs a target, as in target: 99.9%")
        if self.kinds and self.sli == "latency":
            raise fail("kinds is for an availability objective (a latency one counts all)")
        return self

    @property
    def share(self) -> float:
        """The target as a share between 0 and 1 (``p`` read as one)."""
        share = self.target if self.target is not None else self.p
        assert share is not None  # checked with the file
        return share

    def selects(self, name: str, labels: Mapping[str, str]) -> bool:
        """Whether the monitor ``name`` with ``labels`` counts towards this objective."""
        if self.monitors:
            return name in self.monitors
        return matches(self.match, {**labels, "monitor": name})

    def selected(self, monitors: Sequence[object]) -> tuple[str, ...]:
        """The names of the ``monitors`` (config models) this objective covers.  A
        monitor's labels are read with ``getattr`` so a monitor without ``labels:``
        reads as having none."""
        out = []
        for monitor in monitors:
            name: str = getattr(monitor, "name")  # noqa: B009  # any model with a name
            if self.selects(name, getattr(monitor, "labels", {})):
                out.append(name)
        return tuple(out)


def check_objectives(
    objectives: Sequence[ObjectiveConfig],
    monitors: Sequence[object],
    channels: Sequence[str],
    refs: References | None = None,
) -> list[Problem]:
    """What one objective cannot see: unique names, monitors and channels that exist, a
    matcher that selects some monitor, windows that fit.  A monitor or a selection that
    discovery may still add is no error: ``refs`` keeps it as a warning."""
    refs = refs if refs is not None else References(())
    errors: list[Problem] = []
    first: dict[str, int] = {}
    names = [str(getattr(m, "name")) for m in monitors]  # noqa: B009
    for i, objective in enumerate(objectives):
        at: KeyPath = ("objectives", i)
        if objective.name in first:
            errors.append(
                (
                    (*at, "name"),
                    f"{show(objective.name)} is already the name of "
                    f"objectives[{first[objective.name]}]; each objective needs its own",
                )
            )
        first.setdefault(objective.name, i)
        errors += _named(objective.monitors, names, (*at, "monitors"), "monitor", "monitors", refs)
        errors += _named(
            objective.alerts, list(channels), (*at, "alerts"), "alert channel", "alerts"
        )
        if objective.match and not objective.selected(monitors):
            errors += refs.selector((*at, "match"), objective.match, _SELECTS_NONE)
        errors += _check_windows(objective, at)
    return errors


_SELECTS_NONE: Final = "selects no monitor: check the labels and values"


def _named(
    given: tuple[str, ...],
    known: list[str],
    at: KeyPath,
    what: str,
    section: str,
    refs: References | None = None,
) -> list[Problem]:
    errors: list[Problem] = []
    for j, name in enumerate(given):
        if name in known:
            continue
        hint = did_you_mean(name, known) or f"; define it under {section}"
        error = f"no {what} named {show(name)}{hint}"
        errors += [((*at, j), error)] if refs is None else refs.name((*at, j), name, error)
    return errors


def _check_windows(objective: ObjectiveConfig, at: KeyPath) -> list[Problem]:
    errors: list[Problem] = []
    window = format_duration(objective.window)
    own = "burn_rates" in objective.model_fields_set
    unreachable = False  # said once of the defaults, at the target
    for j, rule in enumerate(objective.burn_rates):
        where: KeyPath = (*at, "burn_rates", j)
        if rule.short >= rule.long:
            errors.append(
                (
                    (*where, "short"),
                    f"{format_duration(rule.short)} is not shorter than long "
                    f"({format_duration(rule.long)}): the short window is the one that "
                    "ends the alert soon after the trouble",
                )
            )
        if rule.long > objective.window and "burn_rates" in objective.model_fields_set:
            errors.append(
                (
                    (*where, "long"),
                    f"{format_duration(rule.long)} is longer than the objective's window "
                    f"({window}): lengthen window, or shorten long",
                )
            )
        ceiling = 1 / (1 - objective.share)
        if rule.burn > ceiling * (1 + 1e-9) and (own or not unreachable):
            unreachable = True
            errors.append(_unreachable(objective, j, rule.burn, ceiling, at))
    longest = max((r.long for r in objective.burn_rates), default=0.0)
    if longest > objective.window and "burn_rates" not in objective.model_fields_set:
        errors.append(
            (
                (*at, "window"),
                f"{window} is shorter than the longest alert window of the default "
                f"burn_rates ({format_duration(longest)}): lengthen window, or give "
                "burn_rates of your own",
            )
        )
    return errors


def _unreachable(
    objective: ObjectiveConfig, j: int, burn: float, ceiling: float, at: KeyPath
) -> Problem:
    """A rule whose rate even a total outage cannot reach: it would never fire."""
    allowed = f"{(1 - objective.share) * 100:.4g}%"
    why = (
        f"can never be reached: a target of {objective.share * 100:.4g}% allows {allowed} "
        f"of events to fail, so a total outage burns at {ceiling:.4g}"
    )
    if "burn_rates" in objective.model_fields_set:
        return ((*at, "burn_rates", j, "burn"), f"{burn:g} {why}; lower burn")
    return (
        (*at, "target"),
        f"the default burn rate {burn:g} {why}: raise the target, or give burn_rates of your own",
    )
