"""Prometheus's text format, written by hand for the families of every monitor.

``/metrics`` carries lines for each monitor (``tether_monitor_up``, the per-check ones,
``tether_location_up``): tens of thousands of lines with as many monitors.  They are
written here, in the text prometheus_client's ``generate_latest`` writes for the same
families, byte for byte (tests/monitor/web/test_metrics_text.py holds it to that): each
monitor's label value is escaped once, when it is first seen, ``tether_monitor_up``'s line
when its state changes, and its per-check lines at the first scrape after a check (kept
between scrapes: one in a wave writes those of the monitors checked since the last).
Sample objects made, label names checked and values formatted again for every series
cost about 80 µs a monitor, a second of CPU per scrape at 20,000 monitors, held under the
GIL while the checks wait.  The other families are few and small, and go through
prometheus_client (:func:`family_text`, which leaves out a sample it cannot write and
counts it).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

__all__ = [
    "CHECK_FAMILIES",
    "LABELS_HEAD",
    "LOCATION_UP_HEAD",
    "UP_HEAD",
    "Last",
    "Lines",
    "One",
    "Written",
    "exposed",
    "family_text",
    "go_value",
    "head",
    "info_line",
    "label_value",
    "write_lines",
]


@dataclass(slots=True)
class Last:
    """A monitor's last check at this instance, and its failures so far, by kind: the
    values of its per-check series."""

    label: str | None
    """The monitor's name as a label value, escaped (None: it cannot be written)."""
    success: int = 0
    duration: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    expiry: float | None = None
    failures: dict[str, list[float]] = field(default_factory=dict)
    """Each kind's count, and when it was first counted (the counter's ``_created``)."""
    version: int = 0
    """Counts the checks: the lines written for an older one are written again."""
    written: Lines | None = None
    """Its lines as the last scrape wrote them."""


@dataclass(frozen=True, slots=True)
class Lines:
    """A monitor's lines of the per-check families as last written, for the check
    ``version`` it had and the location label ``here`` (``_metrics._Scrape._checks``)."""

    version: int
    here: str | None
    success: str
    duration: str
    phase: str
    total: str
    created: str
    expiry: str
    """Each family's lines, one after the other ("" for none): a scrape joins one text
    a family per monitor."""
    lost: tuple[tuple[str, int], ...]
    """The series of each family left out (and counted at each scrape)."""


def _escaped(names: dict[object, str | None], name: object) -> str | None:
    """``name`` as a label value (:func:`label_value`), escaped once a scrape."""
    if name in names:
        return names[name]
    value = names[name] = label_value(name)
    return value


def write_lines(
    last: Last, here: str | None, names: dict[object, str | None], version: int
) -> Lines:
    """A monitor's per-check series, written out (:func:`go_value`,
    :func:`label_value`): a series whose value or labels cannot be written is left out
    and counted.  ``names``: phase and kind names escaped so far."""
    go = go_value
    families: list[list[str]] = [[] for _ in range(6)]
    success, duration, phase, total, created, expiry = families
    lost = dict.fromkeys(CHECK_FAMILIES, 0)
    phases = list(last.phases.items())
    failures = list(last.failures.items())
    if here is None or last.label is None:  # every series of it
        lost["tether_probe_success"] += 1
        lost["tether_probe_duration_seconds"] += 1
        lost["tether_probe_phase_seconds"] += len(phases)
        lost["tether_probe_failures"] += sum(1 + (c is not None) for _, (_, c) in failures)
        lost["tether_certificate_expiry_seconds"] += last.expiry is not None
    else:
        at = f'location="{here}",monitor="{last.label}"'
        try:
            success.append(f"tether_probe_success{{{at}}} {go(last.success)}\n")
        except Exception:  # left out and counted, as every other below
            lost["tether_probe_success"] += 1
        try:
            duration.append(f"tether_probe_duration_seconds{{{at}}} {go(last.duration)}\n")
        except Exception:
            lost["tether_probe_duration_seconds"] += 1
        for name, seconds in phases:
            p = _escaped(names, name)
            try:
                if p is None:
                    raise ValueError(name)
                phase.append(f'tether_probe_phase_seconds{{{at},phase="{p}"}} {go(seconds)}\n')
            except Exception:
                lost["tether_probe_phase_seconds"] += 1
        for kind, (n, since) in failures:
            k = _escaped(names, kind)
            try:
                if k is None:
                    raise ValueError(kind)
                total.append(f'tether_probe_failures_total{{kind="{k}",{at}}} {go(n)}\n')
            except Exception:
                lost["tether_probe_failures"] += 1
            if since is None:  # not from _metrics; a scrape survives any value (the tests')
                continue  # type: ignore[unreachable]
            try:
                if k is None:
                    raise ValueError(kind)
                created.append(f'tether_probe_failures_created{{kind="{k}",{at}}} {go(since)}\n')
            except Exception:
                lost["tether_probe_failures"] += 1
        if last.expiry is not None:
            try:
                expiry.append(f"tether_certificate_expiry_seconds{{{at}}} {go(last.expiry)}\n")
            except Exception:
                lost["tether_certificate_expiry_seconds"] += 1
    return Lines(
        version,
        here,
        "".join(success),
        "".join(duration),
        "".join(phase),
        "".join(total),
        "".join(created),
        "".join(expiry),
        tuple((family, n) for family, n in lost.items() if n),
    )


CHECK_FAMILIES: Final = {
    "tether_probe_success": ("gauge", "1 if the last check passed"),
    "tether_probe_duration_seconds": ("gauge", "Duration of the last check"),
    "tether_probe_phase_seconds": (
        "gauge",
        "Duration of each phase of the last check (blackbox_exporter's phase names)",
    ),
    "tether_probe_failures": ("counter", "Failed checks by failure kind"),
    "tether_certificate_expiry_seconds": ("gauge", "Seconds until the leaf certificate expires"),
}
"""The per-check families, in their order: each one's type and help."""


def exposed(name: str, kind: str) -> str:
    """The name a family is written under: a counter's with ``_total``."""
    return f"{name}_total" if kind == "counter" else name


def head(name: str, text: str, kind: str) -> str:
    """A family's ``# HELP`` and ``# TYPE`` lines, as ``generate_latest`` writes them."""
    text = text.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {text}\n# TYPE {name} {kind}\n"


UP_HEAD: Final = head("tether_monitor_up", "1 while the monitor is up", "gauge")
LABELS_HEAD: Final = head(
    "tether_monitor_labels",
    "1 for each monitor with labels: its labels, to join on the monitor label",
    "gauge",
)
LOCATION_UP_HEAD: Final = head(
    "tether_location_up",
    "What each location of a monitor of several sees: 1 up, 0 down (as tether_monitor_up); "
    "absent while it has no result there, has it paused, or has no live instance",
    "gauge",
)


@dataclass(frozen=True, slots=True)
class Written:
    """A family written out here, and how many of its series were left out."""

    name: str
    text: bytes
    left_out: int

    @classmethod
    def of(cls, name: str, head: str, lines: list[str], left_out: int) -> Written:
        return cls(name, "".join([head, *lines]).encode(), left_out)


def label_value(value: object) -> str | None:
    """``value`` as a label value in the text format (backslash, newline and double quote
    escaped, as ``generate_latest`` escapes them); None for what cannot be written: not
    text, or text UTF-8 cannot encode (a lone surrogate)."""
    if not isinstance(value, str):
        return None
    escaped = value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    try:
        escaped.encode()
    except UnicodeEncodeError:
        return None
    return escaped


def info_line(monitor: str, labels: Mapping[str, str]) -> str | None:
    """``tether_monitor_labels{monitor="api",team="payments"} 1.0``, each value escaped
    once, the names sorted as ``generate_latest`` sorts them (None: one cannot be
    written)."""
    pairs = sorted({**labels, "monitor": monitor}.items())
    values = [label_value(value) for _, value in pairs]
    if None in values:
        return None
    body = ",".join(f'{name}="{value}"' for (name, _), value in zip(pairs, values, strict=True))
    return f"tether_monitor_labels{{{body}}} 1.0\n"


_INF: Final = math.inf


def go_value(value: object) -> str:
    """A sample's value as ``generate_latest`` writes it (prometheus_client's
    ``floatToGoString``: ``1.0``, ``+Inf``, ``NaN``, ``1.5e+06``); raises for what no
    float holds (a count past 1.8e308, text that is not a number)."""
    f = float(value)  # type: ignore[arg-type]  # what it cannot take raises: left out
    s = repr(f)
    if f >= 1e6:  # Go writes an exponent from a million on, Python from 1e16
        if f == _INF:
            return "+Inf"
        dot = s.find(".")
        if dot > 6:
            mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
            return f"{mantissa}e+{dot - 1:02d}"
        return s
    if s[-1] > "9":  # inf or nan: every other repr ends with a digit
        return "-Inf" if f == -_INF else "NaN"
    return s


class One(Collector):
    """One family, as ``generate_latest`` takes it."""

    def __init__(self, metric: Metric) -> None:
        self._metric = metric

    def collect(self) -> Iterator[Metric]:
        yield self._metric


def family_text(metric: Metric) -> tuple[bytes, int]:
    """``metric`` in the text format, and how many of its samples were left out because
    they could not be written (a value no float holds, a label that is not text)."""
    try:
        return generate_latest(One(metric)), 0
    except Exception:  # which sample, and why, is found below
        pass

    def alone(samples: list[Any]) -> Metric:
        copy = Metric(metric.name, metric.documentation, metric.type, metric.unit)
        copy.samples = samples
        return copy

    kept = []
    for sample in metric.samples:
        try:
            generate_latest(One(alone([sample])))
        except Exception:  # left out and counted
            continue
        kept.append(sample)
    try:
        return generate_latest(One(alone(kept))), len(metric.samples) - len(kept)
    except Exception:  # samples that render alone but not together
        return b"", len(metric.samples)
