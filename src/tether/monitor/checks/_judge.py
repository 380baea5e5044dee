"""Judging one probe: a :class:`ProbeResult` and the monitor's conditions in, one
:class:`ProbeRecord` out.  Pure: the time and the lag are given.

A transport failure (DNS, connect, TLS, ...) always fails; an answer is judged by
the monitor's conditions when it has any, else by its status; a certificate
closer to expiry than ``tls.min_days_left`` fails an otherwise good check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from tether._kinds import Kind, Layer
from tether.monitor._records import ProbeRecord
from tether.monitor.config import Monitor
from tether.monitor.config._conditions import Condition, ProbeContext, context_from_probe
from tether.monitor.config.browser._options import BrowserOptions
from tether.probe import (
    BrowserPage,
    BrowserStep,
    Certificate,
    DatabaseQuery,
    DnsQuery,
    HttpDetails,
    IcmpDetails,
    Phase,
    ProbeOptions,
    ProbeResult,
    ProxyDetails,
    TlsDetails,
    proxy_environment,
)

__all__ = ["Verdict", "judge", "probe_options", "stored_phases", "verdict"]

_NOT_NETWORK: Final = frozenset({"url", "proxy"})
"""Phases that are not network time, kept only when they failed (or, for the proxy, when
there was one): the url phase is parsing, and the proxy phase without a proxy is a look at
the environment; together they were a tenth of a stored row."""
_BODY_KEPT: Final = 64 * 1024
"""Enough of a body for [BODY] conditions on a health endpoint; the rest is only counted."""


def stored_phases(result: ProbeResult) -> dict[str, float]:
    """The phase timings a stored check keeps (ms): the network phases, with the ``http``
    phase split at its first byte into ``ttfb`` and ``transfer`` (the names conditions use,
    ``[PHASE].ttfb``), so the dashboard's chart can stack where the time went.  An
    exchange that saw no byte keeps its one ``http`` phase."""
    phases: dict[str, float] = {}
    for p in result.phases:
        d = p.details
        if (
            p.name in _NOT_NETWORK
            and p.ok
            and not (isinstance(d, ProxyDetails) and d.proxy is not None)
        ):
            continue
        rtt = _round_trip(p)
        if rtt is not None:  # the echo series lasts count x interval: its round trip
            phases[p.name] = rtt
            continue
        ttfb = d.response.ttfb_ms if p.name == "http" and isinstance(d, HttpDetails) else None
        if ttfb is None:
            phases[p.name] = p.ms
        else:
            phases["ttfb"] = min(float(ttfb), p.ms)
            phases["transfer"] = max(0.0, p.ms - float(ttfb))
    return phases


def judge(
    m: Monitor,
    conditions: Sequence[Condition],
    result: ProbeResult,
    *,
    now: float,
    lag_ms: float | None = None,
    context: ProbeContext | None = None,
) -> ProbeRecord:
    """The verdict on ``result`` for monitor ``m``, as it is stored; ``context`` is
    ``result``'s :func:`context_from_probe` when the caller has made it already."""
    return ProbeRecord(m.name, now, *verdict(m, conditions, result, context), lag_ms)


Verdict = tuple[bool, Kind | None, float, str | None, dict[str, float], tuple[str, ...]]
"""A judged probe: ok, the failure's kind, the latency (ms), the detail, the stored phases
and the resolved conditions, as :class:`ProbeRecord` holds them."""


def verdict(
    m: Monitor,
    conditions: Sequence[Condition],
    result: ProbeResult,
    context: ProbeContext | None = None,
) -> Verdict:
    """:func:`judge`'s verdict without its record (a multi-step check's steps make one
    record of several)."""
    failure = result.failure
    phases = stored_phases(result)
    icmp = result.phase("icmp")
    rtt = None if icmp is None else _round_trip(icmp)
    # An ICMP check's latency is its round trip, as ping and blackbox_exporter report it,
    # not the time its series of echo requests took (count x interval).
    # The rdap phase (a registration looked up, cached for hours) is not the target's time.
    latency = sum(p.ms for p in result.phases if p.name != "rdap") if rtt is None else rtt
    echoes = None
    if icmp is not None and rtt is not None and isinstance(icmp.details, IcmpDetails):
        echoes = _echoes(icmp.details)
    resolved: tuple[str, ...] = ()
    # The server answered (an HTTP status, a gRPC status, a database's error): conditions
    # judge the answer, and may expect it (``[GRPC_STATUS] == NOT_SERVING``).
    # A database's refusal (db.*) is not an answer to judge: no placeholder holds it, so a
    # condition could only pass by looking elsewhere ([PHASE].connect) and hide it.
    answered = failure is None or (
        failure.layer in (Layer.HTTP, Layer.APP) and not failure.kind.value.startswith("db.")
    )
    detail: str | None
    if conditions and answered:
        if context is None:
            context = context_from_probe(result)
        outcomes = [c.evaluate(context) for c in conditions]
        resolved = tuple(o.resolved for o in outcomes)
        failed = [o.resolved for o in outcomes if not o.success]
        ok = not failed
        detail = None if ok else "condition not met: " + "; ".join(failed)
    elif failure is None:
        detail = _expires_too_soon(m, result)
        ok = detail is None
    else:
        ok, detail = False, failure.detail
    if ok and detail is None:
        detail = echoes
    kind = None if ok or failure is None else failure.kind
    return ok, kind, latency, detail, phases, resolved


def _round_trip(phase: Phase) -> float | None:
    """An ``icmp`` phase's average round trip (ms), when a reply came."""
    if phase.name != "icmp":
        return None
    d = phase.details
    rtt = d.rtt_avg_ms if isinstance(d, IcmpDetails) else None
    return None if rtt is None else float(rtt)


def _echoes(d: IcmpDetails) -> str:
    """What ping's summary says: ``2/2 replies, 0% loss, round trip min/avg/max
    0.031/0.042/0.053 ms``."""
    loss = d.loss_percent or 0.0
    return (
        f"{d.received}/{d.sent} replies, {loss:g}% loss, round trip "
        f"min/avg/max {d.rtt_min_ms}/{d.rtt_avg_ms}/{d.rtt_max_ms} ms"
    )


def probe_options(
    m: Monitor, env: Mapping[str, str] | None = None, clock: Callable[[], float] | None = None
) -> ProbeOptions:
    """How the probe engine should probe ``m``; made once per monitor and configuration
    (the prober keeps it), so the proxy variables are read then, not at every probe:
    a running monitor's environment does not change.  ``env``: those variables read
    already (:func:`proxy_environment`), once for a whole assignment of monitors (read
    per monitor, they slowed each load of a large configuration: benchmarks/results.md,
    "Figures behind choices in the code").  ``clock``: the wall clock DNSSEC signatures
    are checked at (None: the real one)."""
    tls = m.tls
    dns = m.dns
    return ProbeOptions(
        method=m.method,
        headers=tuple(m.headers.items()),
        resolver=m.resolver,
        cacert=tls.ca_file if tls else None,
        insecure=tls.insecure if tls else False,
        timeout=m.timeout,
        deadline=m.timeout,
        follow_redirects=m.follow_redirects,
        max_redirects=m.max_redirects,
        http_version=m.http_version,
        keep_body=_BODY_KEPT if m.conditions else 0,
        body=m.body.encode() if m.body is not None else None,
        env=proxy_environment() if env is None else dict(env),
        dns=None
        if dns is None
        else DnsQuery(
            dns.record_type,
            dns.rcode,
            dns.answers,
            dnssec=dns.dnssec,
            trust_anchor=dns.trust_anchor,
            clock=clock,
        ),
        browser=None if m.browser is None else _browser_page(m.browser),
        database=DatabaseQuery(m.query, m.role) if m.query is not None or m.role != "any" else None,
    )


def _browser_page(b: BrowserOptions) -> BrowserPage:
    """A ``browser:`` block as the probe engine takes it."""
    steps = tuple(
        BrowserStep("fill", s.fill.selector, s.fill.value)
        if s.fill is not None
        else BrowserStep(s.action, str(getattr(s, s.action)))
        for s in b.steps
    )
    return BrowserPage(
        steps,
        b.fail_on_console_errors,
        b.fail_on_failed_requests,
        (b.viewport.width, b.viewport.height),
        b.executable,
        b.concurrency,
    )


def _expires_too_soon(m: Monitor, result: ProbeResult) -> str | None:
    """With ``tls.min_days_left``, a certificate closer to expiry than that fails the check."""
    if m.tls is None:
        return None
    leaf = tls_leaf(result)
    if leaf is None:
        return None
    days = leaf.days_left
    if days >= m.tls.min_days_left:
        return None
    wanted = m.tls.min_days_left
    return f"the certificate expires in {days} days, fewer than tls.min_days_left ({wanted})"


def tls_leaf(result: ProbeResult) -> Certificate | None:
    """The leaf certificate the probe's tls phase (or an HTTP/3 check's quic phase) saw,
    if it saw one."""
    tls = quic = None
    for phase in result.phases:  # the first tls phase, else the first quic phase
        if phase.name == "tls":
            tls = phase
            break
        if phase.name == "quic" and quic is None:
            quic = phase
    tls = tls or quic
    return tls.details.leaf if tls is not None and isinstance(tls.details, TlsDetails) else None
