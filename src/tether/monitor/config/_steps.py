"""A multi-step API check's configuration: a probe monitor's ``steps``.

Each step is one HTTP request (``url``, ``method``, ``headers``, ``body``) with its own
``conditions``, and may ``extract`` values from its answer (``[BODY].data.token``,
``[HEADER].etag``, or a regular expression over either) that later steps use as
``[CONTEXT].NAME`` in their URL, header values and body.  The monitor's ``headers``,
``timeout``, ``tls`` and ``resolver`` apply to every step; its ``url``, when not written, is
the first step's (the service its failures are grouped under).

What only the whole monitor can say (a value used before a step extracts it, a
monitor-level key that steps replace) is checked by :func:`check_steps`, with the key path
of each problem (``monitors[0].steps[1].headers.Authorization``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from tether.monitor.config._base import _Model
from tether.monitor.config._errors import KeyPath, Problem, fail, show
from tether.monitor.config._fields import (
    ConditionText,
    Headers,
    Method,
    _check_target,
    one_or_many,
)

__all__ = [
    "CONTEXT",
    "MAX_STEPS",
    "MIN_STEPS",
    "Extraction",
    "Step",
    "Steps",
    "check_steps",
    "with_first_step_url",
]

MIN_STEPS: Final = 2
MAX_STEPS: Final = 20
CONTEXT: Final = re.compile(r"\[CONTEXT\]\.([A-Za-z_][A-Za-z0-9_]{0,63})")
"""A value taken from an earlier step's answer, as Gatus's suites write it."""
_STEP_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
_VALUE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_STEPS_REPLACE: Final = ("conditions", "method", "body")
"""A monitor's keys that its steps hold instead, each step its own."""


def _check_step_name(value: str) -> str:
    if not _STEP_NAME.fullmatch(value):
        raise fail(
            f"{show(value)} is not a step name: 1 to 32 letters, digits, '_' or '-' (it "
            "names the step's phases, login.dns, login.ttfb)"
        )
    return value


def _check_value_name(value: str) -> str:
    if not _VALUE_NAME.fullmatch(value):
        raise fail(
            f"{show(value)} is not a value's name: a letter or '_', then letters, digits or "
            "'_' (64 at most), used as [CONTEXT].NAME"
        )
    return value


def _check_step_url(value: str) -> str:
    """An http(s) URL once its ``[CONTEXT].NAME`` are filled in, with none of them before
    its path: a value from an answer never chooses where a request goes."""
    stray = CONTEXT.sub("", value)
    if "[CONTEXT]" in stray:
        raise fail(f"{show(value)}: write a value as [CONTEXT].NAME, as in [CONTEXT].id")
    scheme, _, rest = value.partition("://")
    if scheme.lower() not in ("http", "https"):
        raise fail(f"{show(value)}: a step sends an HTTP request: write http:// or https://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if CONTEXT.search(authority):
        raise fail(
            f"{show(value)}: a value taken from an answer goes in the path or the query, "
            "not the host"
        )
    _check_target(CONTEXT.sub("x", value))
    return value


def _check_source(value: str) -> str:
    from tether.monitor.config._conditions import ConditionError, parse_operand

    try:
        operand = parse_operand(value)
    except ConditionError as exc:
        raise fail(f"{show(value)}: {' '.join(str(exc).split())}") from None
    if operand.placeholder not in ("BODY", "HEADER") or operand.function is not None:
        raise fail(
            f"{show(value)}: a value is taken from the answer's [BODY] (a JSON path, as in "
            "[BODY].data.token) or a [HEADER] (as in [HEADER].etag)"
        )
    return value


def _check_regex(value: str) -> str:
    import regex

    from tether.monitor.config._regex_guard import backtracking_problem

    problem = backtracking_problem(value)
    if problem is not None:
        raise fail(problem)
    try:
        compiled = regex.compile(value)
    except (regex.error, OverflowError, RecursionError) as exc:
        raise fail(f"{show(value)} is not a regular expression: {exc}") from None
    if compiled.groups > 1:
        raise fail(f"{show(value)} has {compiled.groups} groups: at most one (the value)")
    return value


def _extraction(value: object) -> object:
    """``token: "[BODY].data.token"`` means ``{from: "[BODY].data.token"}``."""
    return {"from": value} if isinstance(value, str) else value


class Extraction(_Model):
    """Where a step finds a value in its answer: a placeholder and its path, and
    optionally a regular expression searched in what that finds (its one group, or the
    whole match, is the value)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: Annotated[str, AfterValidator(_check_source)] = Field(alias="from")
    regex: Annotated[str, AfterValidator(_check_regex)] | None = None


StepName = Annotated[str, AfterValidator(_check_step_name)]
ValueName = Annotated[str, AfterValidator(_check_value_name)]
StepUrl = Annotated[str, AfterValidator(_check_step_url)]


class Step(_Model):
    """One request of a multi-step check."""

    name: StepName
    url: StepUrl
    method: Method = "GET"
    headers: Headers = Field(default_factory=dict)
    """Added to the monitor's ``headers`` (a name written here wins, whatever its case)."""
    body: str | None = None
    conditions: Annotated[tuple[ConditionText, ...], BeforeValidator(one_or_many)] = ()
    """Judge this step's answer; none: a status below 400 passes, as a monitor's."""
    extract: dict[ValueName, Annotated[Extraction, BeforeValidator(_extraction)]] = Field(
        default_factory=dict
    )
    """Values taken from this step's answer for later steps: ``[CONTEXT].NAME``."""

    def used(self) -> Iterator[tuple[KeyPath, str]]:
        """Each ``[CONTEXT].NAME`` this step uses, with the key it is written under."""
        for key, text in (("url",), self.url), (("body",), self.body):
            for match in CONTEXT.finditer(text or ""):
                yield key, match.group(1)
        for name, value in self.headers.items():
            for match in CONTEXT.finditer(value):
                yield ("headers", name), match.group(1)


def _count(value: tuple[Step, ...]) -> tuple[Step, ...]:
    if not MIN_STEPS <= len(value) <= MAX_STEPS:
        raise fail(
            f"has {len(value)} step{'' if len(value) == 1 else 's'}: a multi-step check has "
            f"{MIN_STEPS} to {MAX_STEPS} (one request is a monitor of its own)"
        )
    return value


Steps = Annotated[tuple[Step, ...], AfterValidator(_count)]


def with_first_step_url(data: object) -> object:
    """A monitor's raw data with its ``url`` filled in from its first step's, when it has
    steps and writes none (the service its failures are grouped under)."""
    if not isinstance(data, dict) or "url" in data:
        return data
    steps = data.get("steps")
    first: Any = steps[0] if isinstance(steps, list | tuple) and steps else None
    url = first.get("url") if isinstance(first, dict) else None
    if isinstance(url, str) and "[CONTEXT]" not in url:
        return {**data, "url": url}
    return data


def check_steps(
    steps: tuple[Step, ...] | None, given: set[str], url: str, at: KeyPath
) -> list[Problem]:
    """What a monitor's steps cannot say alone: a step's name written twice, a value used
    before a step extracts it, the monitor's keys that each step holds instead (``given``:
    the keys the monitor writes), and a monitor ``url`` that is not HTTP."""
    if steps is None:
        return []
    errors: list[Problem] = [
        ((*at, key), f"a monitor with steps has no {key} of its own: write it on each step")
        for key in _STEPS_REPLACE
        if key in given
    ]
    if url.partition("://")[0].lower() not in ("http", "https"):
        errors.append(
            (
                (*at, "url"),
                f"{show(url)}: a monitor with steps is grouped under an http:// or https:// "
                "URL (leave url out: it is the first step's)",
            )
        )
    seen: dict[str, int] = {}
    extracted: dict[str, int] = {}
    for i, step in enumerate(steps):
        here: KeyPath = (*at, "steps", i)
        if step.name in seen:
            errors.append(
                ((*here, "name"), f"{show(step.name)} is the name of step {seen[step.name] + 1}")
            )
        seen.setdefault(step.name, i)
        errors += [
            ((*here, "headers", name), "Host is the URL's own: a step sends its URL's host")
            for name in step.headers
            if name.lower() == "host"
        ]
        for key, name in step.used():
            if name in extracted:
                continue
            later = next((j for j, s in enumerate(steps) if name in s.extract), None)
            why = "no step extracts it"
            if later == i:
                why = "this step extracts it from its own answer, after its request"
            elif later is not None:
                why = f"step {later + 1} ({steps[later].name}) extracts it, after this one"
            errors.append(
                ((*here, *key), f"[CONTEXT].{name} is used in step {i + 1} ({step.name}): {why}")
            )
        for name in step.extract:
            extracted.setdefault(name, i)
    return errors
