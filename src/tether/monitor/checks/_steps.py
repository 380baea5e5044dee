"""Running a multi-step API check: its steps in order, each one probe of the one engine
(:func:`tether.probe.probe_async`), values taken from one step's answer into the next
step's URL, headers and body, stopping at the first step that fails.

The verdict is one :class:`ProbeRecord`: which step failed and why (``step 2 "create":
condition not met: [STATUS] (500) == 201``), that step's failure kind, the whole run's
latency, each step's phases keyed ``STEP.PHASE`` (``login.dns``, ``create.ttfb``) and its
conditions prefixed with its name.  Every value taken from an answer is a secret: no
stored text (detail, conditions) shows it, only ``***``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any, Final
from urllib.parse import quote, quote_plus

from tether._classify import classify, failure_for
from tether._failure import Failure
from tether._fieldsyntax import value_problem
from tether._kinds import Kind
from tether._redact import MASK
from tether.monitor._records import ProbeRecord
from tether.monitor.checks._judge import verdict
from tether.monitor.config import Monitor
from tether.monitor.config._conditions import (
    Condition,
    Operand,
    ProbeContext,
    _patterns,
    compact_json,
    context_from_probe,
    operand_value,
    parse_operand,
)
from tether.monitor.config._steps import CONTEXT, Extraction, Step
from tether.probe import ProbeOptions, ProbeResult, redact_target

__all__ = [
    "StepPlan",
    "StepsRun",
    "fill_body",
    "fill_header",
    "fill_url",
    "mask",
    "plan_steps",
    "run_steps",
]

Probe = Callable[[str, ProbeOptions], Awaitable[ProbeResult]]
_BODY_KEPT: Final = 64 * 1024
_SHORT: Final = 4
"""A value shorter than this (an id such as ``7``) is masked only where it stands alone:
masked everywhere, it would mask the digits of every status and time."""


_OPTION_FIELDS: Final = tuple(f.name for f in fields(ProbeOptions))
_HEADERS, _BODY, _TIMEOUT, _DEADLINE = map(
    _OPTION_FIELDS.index, ("headers", "body", "timeout", "deadline")
)
"""Where a run's own values go among :class:`ProbeOptions`' arguments, in order."""


class StepProblem(ValueError):
    """A value that cannot go where a step puts it (a line break in a header)."""


@dataclass(frozen=True, slots=True)
class _Extractor:
    name: str
    written: str
    operand: Operand
    pattern: Any = None

    def find(self, context: ProbeContext) -> str | None:
        """The value in an answer (``context``), as text; None when there is none (a
        missing path, a null, an empty string, no match)."""
        value = operand_value(self.operand, context)
        if value is None:
            return None
        if not isinstance(value, str):  # a number, true, an object: as JSON
            value = compact_json(value)
        if self.pattern is not None:
            try:
                match = self.pattern.search(value, timeout=_patterns.REGEX_TIMEOUT_S)
            except TimeoutError:
                return None
            if match is None:
                return None
            value = match.group(1) if self.pattern.groups else match.group(0)
        return value or None


@dataclass(frozen=True, slots=True)
class _Template:
    """A URL, a header's value or a body with its ``[CONTEXT].NAME`` places found once per
    configuration: the text around them (one piece more than places), each place's name,
    and whether it stands inside a JSON string (the text before it read as JSON's quotes
    and escapes), so a run fills it in without searching it again."""

    text: str
    pieces: tuple[str, ...]
    names: tuple[str, ...]
    quoted: tuple[bool, ...]

    @classmethod
    def of(cls, text: str) -> _Template:
        pieces: list[str] = []
        names: list[str] = []
        quoted: list[bool] = []
        at = 0
        inside = escaped = False
        for match in CONTEXT.finditer(text):
            piece = text[at : match.start()]
            for ch in piece:
                if escaped:
                    escaped = False
                elif inside and ch == "\\":
                    escaped = True
                elif ch == '"':
                    inside = not inside
            pieces.append(piece)
            names.append(match.group(1))
            quoted.append(inside)
            at = match.end()
        pieces.append(text[at:])
        return cls(text, tuple(pieces), tuple(names), tuple(quoted))

    def fill(self, values: Mapping[str, str], encode: Callable[[str], str]) -> str:
        """The text with each place's value in, as ``encode`` writes it."""
        if not self.names:
            return self.text
        pieces = self.pieces
        out = [pieces[0]]
        for i, name in enumerate(self.names, 1):
            out += (encode(_value(values, name)), pieces[i])
        return "".join(out)

    def fill_json(self, values: Mapping[str, str]) -> str:
        """JSON: a value inside a string escaped as string content, one outside a string
        written as a JSON string."""
        pieces = self.pieces
        out = [pieces[0]]
        for i, (name, quoted) in enumerate(zip(self.names, self.quoted, strict=True), 1):
            text = encode_basestring(_value(values, name))  # json.dumps(ensure_ascii=False)'s
            out += (text[1:-1] if quoted else text, pieces[i])
        return "".join(out)


@dataclass(frozen=True, slots=True)
class StepPlan:
    """One step, worked out once per configuration."""

    step: Step
    options: ProbeOptions
    conditions: tuple[Condition, ...]
    extract: tuple[_Extractor, ...]
    url: _Template = field(init=False, repr=False, compare=False)
    headers: tuple[tuple[str, _Template], ...] = field(init=False, repr=False, compare=False)
    """``options``' headers, each value's places found."""
    filled_headers: bool = field(init=False, repr=False, compare=False)
    """Whether any header takes a value (else a run sends ``options``' headers as they are)."""
    body: _Template | None = field(init=False, repr=False, compare=False)
    """The body when it takes values; None when it has none (``options.body`` is sent)."""
    body_kind: str | None = field(init=False, repr=False, compare=False)
    """How the body takes its values (:func:`_body_kind`) when its ``Content-Type`` takes
    none; None: worked out from each run's filled headers."""
    arguments: tuple[Any, ...] = field(init=False, repr=False, compare=False)
    """``options``' arguments in order, to make each run's options from."""
    prefix: str = field(init=False, repr=False, compare=False)
    """``NAME.``, before each of the step's phases."""

    def __post_init__(self) -> None:
        step, o = self.step, self.options
        headers = tuple((k, _Template.of(v)) for k, v in o.headers)
        body = None if step.body is None else _Template.of(step.body)
        typed = next((t for k, t in headers if k.lower() == "content-type"), None)
        kind = None
        if body is not None and body.names and (typed is None or not typed.names):
            kind = _body_kind(body.text, None if typed is None else typed.text)
        fixed = {
            "url": _Template.of(step.url),
            "headers": headers,
            "filled_headers": any(t.names for _, t in headers),
            "body": body if body is not None and body.names else None,
            "body_kind": kind,
            "prefix": step.name + ".",
        }
        options = replace(o, body=None if step.body is None else step.body.encode())
        fixed["arguments"] = tuple(getattr(options, name) for name in _OPTION_FIELDS)
        for name, value in fixed.items():
            object.__setattr__(self, name, value)


def _extractor(name: str, ex: Extraction) -> _Extractor:
    pattern = None
    written = ex.from_
    if ex.regex is not None:
        import regex

        pattern = regex.compile(ex.regex)
        written = f"{ex.from_} regex {ex.regex}"
    return _Extractor(name, written, parse_operand(ex.from_), pattern)


def plan_steps(
    m: Monitor, base: ProbeOptions, condition: Callable[[str], Condition]
) -> tuple[StepPlan, ...]:
    """Each of ``m``'s steps with its options (``base``: the monitor's) and its parsed
    conditions and extractions."""
    plans = []
    for step in m.steps or ():
        mine = {name.lower() for name in step.headers}
        headers = [(k, v) for k, v in base.headers if k.lower() not in mine]
        options = replace(
            base,
            method=step.method,
            headers=(*headers, *step.headers.items()),
            body=None,
            keep_body=_BODY_KEPT,
        )
        conditions = tuple(condition(c) for c in step.conditions)
        extract = tuple(_extractor(n, ex) for n, ex in step.extract.items())
        plans.append(StepPlan(step, options, conditions, extract))
    return tuple(plans)


# -- filling in values -----------------------------------------------------------------


def _value(values: Mapping[str, str], name: str) -> str:
    if name not in values:
        raise StepProblem(f"[CONTEXT].{name} has no value (no earlier step extracted it)")
    value = values[name]
    try:
        value.encode()
    except UnicodeEncodeError:
        raise StepProblem(f"[CONTEXT].{name} is not text (it holds a lone surrogate)") from None
    return value


def _as_is(value: str) -> str:
    return value


def _path_segment(value: str) -> str:
    return value if _PLAIN.fullmatch(value) else quote(value, safe="")


def fill_url(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each ``[CONTEXT].NAME`` percent-encoded whole (every character
    but letters, digits and ``-._~``): a value is one path segment or one query value."""
    return _Template.of(template).fill(values, _path_segment)


def fill_header(name: str, template: str, values: Mapping[str, str]) -> str:
    """A header's value with its values in, as they are; refused (:class:`StepProblem`)
    when one would break the header (a line break, a non-ASCII character)."""
    if "[CONTEXT]." not in template:  # most headers take no value
        return template
    return _fill_header(name, _Template.of(template), values)


def _fill_header(name: str, template: _Template, values: Mapping[str, str]) -> str:
    filled = template.fill(values, _as_is)
    if filled != template.text and (problem := value_problem(filled)) is not None:
        raise StepProblem(f"the value of header {name} {problem} once its values are in")
    return filled


def fill_body(template: str, values: Mapping[str, str], content_type: str | None) -> str:
    """A body with its values in: in JSON (a ``Content-Type`` naming json, or none and a
    body starting with ``{`` or ``[``) a value inside a string is escaped as JSON string
    content and one outside a string becomes a JSON string; in a form
    (``application/x-www-form-urlencoded``) it is percent-encoded; elsewhere it goes in as
    it is."""
    return _fill_body(_Template.of(template), values, _body_kind(template, content_type))


def _body_kind(template: str, content_type: str | None) -> str:
    """How a body takes its values (:func:`fill_body`): ``json``, ``form`` or ``text``."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind.endswith("json") or (not kind and template.lstrip()[:1] in ("{", "[")):
        return "json"
    if kind == "application/x-www-form-urlencoded":
        return "form"
    return "text"


def _fill_body(template: _Template, values: Mapping[str, str], kind: str) -> str:
    if kind == "json":
        return template.fill_json(values)
    return template.fill(values, quote_plus if kind == "form" else _as_is)


# -- masking ---------------------------------------------------------------------------


_PLAIN: Final = re.compile(r"[A-Za-z0-9._~-]*")
"""Characters every form below writes as they are (an id, most tokens)."""


def _forms(value: str) -> set[str]:
    """How a value may be written where it could be shown: as it is, percent-encoded, as
    JSON string content, and as a condition shows text (a plain value has one form).
    :func:`every_form`'s set, percent-encoding the value once: the other two encodings
    differ from it only where ``/`` and a space are."""
    if _PLAIN.fullmatch(value):
        return {value}
    shown = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    encoded = quote(value.encode("utf-8", "surrogatepass"), safe="")
    return {
        value,
        encoded,
        encoded.replace("%2F", "/"),  # quote(safe="/"): "%2F" is only ever a "/"
        encoded.replace("%20", "+"),  # quote_plus: "%20" is only ever a space
        encode_basestring(value)[1:-1],  # json.dumps(value, ensure_ascii=False)'s
        encode_basestring_ascii(value)[1:-1],  # json.dumps(value)'s
        shown.replace("\t", "\\t"),
    }


def every_form(value: str) -> set[str]:
    """Every form :func:`_forms` stands for, worked out in full."""
    shown = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    raw = value.encode("utf-8", "surrogatepass")
    return {
        value,
        quote(raw, safe=""),
        quote(raw, safe="/"),
        quote_plus(raw),
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(value)[1:-1],
        shown.replace("\t", "\\t"),
    }


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret (in each form it may be written) replaced by ``***``,
    and a secret's start cut short by a condition's ``…`` masked too."""
    return _Masker(secrets)(text)


class _Masker:
    """:func:`mask` for one set of secrets, their forms worked out once."""

    __slots__ = ("long", "short")

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = sorted({f for s in secrets for f in _forms(s) if f}, key=len, reverse=True)
        self.long = [f for f in forms if len(f) >= _SHORT]
        self.short = [f for f in forms if len(f) < _SHORT]

    def __call__(self, text: str) -> str:
        # Masking never adds a "…" (MASK has none): a text without one never has one.
        cut = "…" in text
        for form in self.long:
            if form in text:
                text = text.replace(form, MASK)
            if cut and "…" in text:
                text = _cut_short(text, form)
        for form in self.short:
            if form in text:
                text = _standalone(text, form)
        return text


def _standalone(text: str, form: str) -> str:
    """``text`` with ``form`` masked where no ASCII letter or digit touches it."""
    out: list[str] = []
    at = 0
    while (j := text.find(form, at)) >= 0:
        end = j + len(form)
        touching = (j > 0 and _word(text[j - 1])) or (end < len(text) and _word(text[end]))
        out += (text[at : j + 1],) if touching else (text[at:j], MASK)
        at = j + 1 if touching else end
    out.append(text[at:])
    return "".join(out)


def _word(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _cut_short(text: str, form: str) -> str:
    """``text`` with ``form``'s start cut short by ``…`` (a condition's long value) masked."""
    for k in range(min(len(form) - 1, 200), _SHORT - 1, -1):
        if form[:k] + "…" in text:
            return text.replace(form[:k] + "…", MASK + "…")
    return text


# -- running ---------------------------------------------------------------------------


@dataclass(slots=True)
class StepsRun:
    """What a run of steps found: the verdict, and the probes behind it."""

    record: ProbeRecord
    results: list[ProbeResult] = field(default_factory=list)
    url: str = ""
    """The URL of the step that failed (its values not filled in), else the first's."""
    failure: Failure | None = None


@dataclass(slots=True)
class _Run:
    m: Monitor
    now: Callable[[], float]
    lag_ms: float | None
    secrets: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    conditions: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    """Each step's name and its conditions, resolved (masked when stored)."""
    latency: float = 0.0
    results: list[ProbeResult] = field(default_factory=list)

    def done(
        self,
        ok: bool,
        kind: Kind | None = None,
        detail: tuple[str, str] | None = None,
        *,
        url: str = "",
        failure: Failure | None = None,
    ) -> StepsRun:
        masked = _Masker(self.secrets)
        record = ProbeRecord(
            self.m.name,
            self.now(),
            ok,
            kind,
            round(self.latency, 3),
            None if detail is None else detail[0] + masked(detail[1]),
            self.phases,
            tuple(f"{name}: {masked(c)}" for name, said in self.conditions for c in said),
            self.lag_ms,
        )
        return StepsRun(record, self.results, url or self.m.url, failure)


async def run_steps(
    m: Monitor,
    plans: Sequence[StepPlan],
    probe: Probe,
    *,
    wall: Callable[[], float],
    mono: Callable[[], float],
    lag_ms: float | None = None,
) -> StepsRun:
    """Run ``plans`` in order within ``m.timeout`` (each step gets what is left), stopping
    at the first that fails.  Never raises (but for cancellation)."""
    run = _Run(m, wall, lag_ms)
    values: dict[str, str] = {}
    started = mono()
    for i, plan in enumerate(plans, 1):
        step = plan.step
        left = m.timeout - (mono() - started)
        if left <= 0:
            where = _where(i, step)
            why = f"no time left of the monitor's timeout ({m.timeout:g} s)"
            failure = failure_for(Kind.DEADLINE_EXCEEDED, where + why)
            return run.done(False, failure.kind, (where, why), url=step.url, failure=failure)
        try:
            url, options = _filled(plan, values, left)
        except StepProblem as exc:
            return run.done(False, None, (_where(i, step), str(exc)), url=step.url)
        try:
            result = await probe(url, options)
        except Exception as exc:  # a failed check, as the prober makes of any step's
            failure = classify(exc, url=redact_target(url))
            detail = (_where(i, step), failure.detail)
            return run.done(False, failure.kind, detail, url=step.url, failure=failure)
        run.results.append(result)
        # One context for the extraction and the conditions (the judge makes it otherwise).
        context = context_from_probe(result) if plan.extract or plan.conditions else None
        found: list[tuple[_Extractor, str | None]] = []
        if context is not None:
            for ex in plan.extract:
                value = ex.find(context)
                found.append((ex, value))
                if value is not None:
                    run.secrets.append(value)
        # The step's verdict, not a record of its own: the run's one record holds them all.
        ok, kind, latency, said, phases, resolved = verdict(m, plan.conditions, result, context)
        run.latency += latency or 0.0
        prefix, named = plan.prefix, run.phases
        for phase, ms in phases.items():
            named[prefix + phase] = ms
        if resolved:
            run.conditions.append((step.name, resolved))
        if not ok:
            detail = (_where(i, step), said or "failed")
            return run.done(False, kind, detail, url=step.url, failure=result.failure)
        for ex, value in found:
            if value is None:
                missing = f"extract {ex.name}: {ex.written} found nothing in the answer"
                return run.done(False, None, (_where(i, step), missing), url=step.url)
            values[ex.name] = value
    return run.done(True)


def _where(i: int, step: Step) -> str:
    """How a step's failure starts: ``step 2 "create": ``."""
    return f'step {i} "{step.name}": '


def _filled(plan: StepPlan, values: Mapping[str, str], left: float) -> tuple[str, ProbeOptions]:
    o = plan.options
    headers = o.headers
    if plan.filled_headers:
        headers = tuple((k, _fill_header(k, t, values)) for k, t in plan.headers)
    args = list(plan.arguments)
    if plan.body is not None:
        kind = plan.body_kind
        if kind is None:
            typed = next((v for k, v in headers if k.lower() == "content-type"), None)
            kind = _body_kind(plan.body.text, typed)
        args[_BODY] = _fill_body(plan.body, values, kind).encode()
    # The plan's options with the run's own: made from their arguments in order, without
    # dataclasses.replace's walk over every field's definition, on every step.
    args[_HEADERS] = headers
    args[_TIMEOUT] = min(o.timeout, left)
    args[_DEADLINE] = left
    return plan.url.fill(values, _path_segment), ProbeOptions(*args)
