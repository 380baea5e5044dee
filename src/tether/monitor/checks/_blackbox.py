"""A blackbox_exporter module run for ``/probe?module=NAME``: the probe it asks for, and
its verdict on the result (``valid_status_codes``, ``fail_if_ssl`` and the rest), which
may fail a probe that passed or pass one that failed only for its status.

The text answered is :func:`~tether.monitor.web.scrape._probe_metrics.blackbox_probe`'s."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass

from tether._classify import classify
from tether._hostport import join_hostport, split_hostport
from tether._kinds import Kind, Layer
from tether.monitor.config._blackbox import BlackboxModule, HttpModule
from tether.probe import (
    AllowedTargets,
    DnsQuery,
    DnsQueryDetails,
    HttpDetails,
    IcmpNotPermitted,
    ProbeOptions,
    ProbeResult,
    Response,
    Skipped,
    TargetRefused,
    probe_async,
    proxy_environment,
    redact_target,
)

log = logging.getLogger("tether.monitor")

CONDITION: str = "condition"
"""The kind of a failure the module's options make (tether's conditions use it too)."""

_STATUS_KINDS = frozenset({Kind.HTTP_CLIENT_ERROR, Kind.HTTP_SERVER_ERROR, Kind.HTTP_RATE_LIMITED})


class BadTarget(ValueError):
    """The target cannot be probed by the module (a 400, as blackbox_exporter answers)."""


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    """What a dns module's query got back: the record counts of each section."""

    answer: int
    authority: int
    additional: int


@dataclass(frozen=True, slots=True)
class ModuleProbe:
    """One ``/probe`` of a module: the probe and the module's verdict on it."""

    prober: str
    """``http``, ``tcp``, ``dns``, ``icmp`` or ``grpc``: which series the answer carries."""
    result: ProbeResult
    failure: tuple[str, str] | None
    """``(kind, layer)`` when the module fails the probe; None when it passes."""
    dns: DnsAnswer | None = None


def family(preferred: str, fallback: bool) -> int:
    """``preferred_ip_protocol`` and ``ip_protocol_fallback`` as the probe's family: one
    family only without the fallback; with it, both raced (tether's happy eyeballs, where
    blackbox_exporter tries the preferred one first)."""
    if fallback:
        return 0
    return 4 if preferred == "ip4" else 6


async def run_module(
    module: BlackboxModule, target: str, *, timeout: float, allowed: AllowedTargets
) -> ModuleProbe:
    """Probe ``target`` as ``module`` says, within ``timeout`` seconds; raises
    :class:`BadTarget` for a target the module cannot probe,
    :class:`~tether.probe.TargetRefused` for one ``allowed`` leaves out and
    :class:`~tether.probe.IcmpNotPermitted` when this machine cannot send an echo request.
    Whatever else a step raises is a failed probe, of the kind the classifier gives it
    (``unknown`` when nothing better fits), redacted: the scrape reads ``probe_success 0``,
    as for any failure, not a 500."""
    try:
        return await _run_module(module, target, timeout, allowed)
    except (BadTarget, TargetRefused, IcmpNotPermitted):
        raise
    except Exception as exc:
        failure = classify(exc, url=target if "://" in target else None)
        log.error(
            "/probe of %s raised %s",
            redact_target(target),
            failure.detail,
            extra={"event": "probe.raised", "kind": failure.kind.value},
        )
        result = ProbeResult(redact_target(target), (), failure)
        return ModuleProbe(module.prober, result, (failure.kind.value, failure.layer.value))


async def _run_module(
    module: BlackboxModule, target: str, timeout: float, allowed: AllowedTargets
) -> ModuleProbe:
    if module.timeout is not None:
        timeout = min(timeout, module.timeout)
    if module.prober == "dns":
        return await _dns(module, target, timeout, allowed)
    if module.prober == "icmp":
        return await _icmp(module, target, timeout, allowed)
    if module.prober == "grpc":
        return await _grpc(module, target, timeout, allowed)
    if module.prober == "tcp":
        tcp = module.tcp
        if "://" in target:
            raise BadTarget(f"a tcp module's target is HOST:PORT, not {target!r}")
        scheme = "tls" if tcp.tls else "tcp"
        options = ProbeOptions(
            timeout=timeout,
            deadline=timeout,
            allowed=allowed,
            insecure=tcp.tls_config.insecure_skip_verify,
            cacert=tcp.tls_config.ca_file,
            family=family(tcp.preferred_ip_protocol, tcp.ip_protocol_fallback),
        )
        result = await probe_async(f"{scheme}://{target}", options)
        return ModuleProbe("tcp", result, _failure_of(result))
    http = module.http
    if "://" not in target:
        target = f"http://{target}"  # as blackbox_exporter does
    if http.enable_http3 and target.lower().startswith("http://"):
        target = f"https://{target[len('http://') :]}"  # HTTP/3 is https, as the exporter makes it
    scheme = target.partition("://")[0].lower()
    if scheme in ("postgresql", "postgres", "mysql", "mariadb", "redis", "rediss"):
        # A scrape must not make tether log in to a database with credentials it brings.
        raise BadTarget(f"an http module does not probe {scheme}:// targets: monitor them")
    result = await probe_async(target, _http_options(module, timeout, allowed))
    return ModuleProbe("http", result, http_verdict(http, result))


_MADE: dict[tuple[int, float, int], tuple[BlackboxModule, AllowedTargets, ProbeOptions]] = {}
"""An http or grpc module's probe options by (module, timeout, allow-list), each kept
with the module and list it was made of (so an id is not reused while it is here)."""
_MADE_MAX = 256


def _http_options(module: BlackboxModule, timeout: float, allowed: AllowedTargets) -> ProbeOptions:
    """The probe options of an http ``module``, made once for each module, timeout and
    allow-list rather than on every ``/probe`` (a scrape repeats all three), with the
    environment's proxy variables read then, as the monitor reads them once a monitor
    (:func:`~tether.probe.proxy_environment`): a reload brings a new allow-list."""
    http = module.http
    return _made(
        module,
        timeout,
        allowed,
        lambda: ProbeOptions(
            method=http.method,
            headers=tuple(http.headers.items()),
            timeout=timeout,
            deadline=timeout,
            allowed=allowed,
            insecure=http.tls_config.insecure_skip_verify,
            cacert=http.tls_config.ca_file,
            family=family(http.preferred_ip_protocol, http.ip_protocol_fallback),
            follow_redirects=http.follows,
            http_version="3" if http.enable_http3 else "1.1",
            env=proxy_environment(),
        ),
    )


def _made(
    module: BlackboxModule,
    timeout: float,
    allowed: AllowedTargets,
    make: Callable[[], ProbeOptions],
) -> ProbeOptions:
    """The options ``make()`` makes for ``module``, ``timeout`` and ``allowed``, made once
    (:data:`_MADE`)."""
    key = (id(module), timeout, id(allowed))
    made = _MADE.get(key)
    if made is not None and made[0] is module and made[1] is allowed:
        return made[2]
    options = make()
    if len(_MADE) >= _MADE_MAX:
        _MADE.clear()
    _MADE[key] = (module, allowed, options)
    return options


async def _icmp(
    module: BlackboxModule, target: str, timeout: float, allowed: AllowedTargets
) -> ModuleProbe:
    """One echo request to ``target`` (a host or address, as blackbox_exporter takes it),
    resolved in the family the module prefers."""
    icmp = module.icmp
    host = target[1:-1] if target.startswith("[") and target.endswith("]") else target
    bad = "://" in target or any(c in host for c in "/?#@[]") or not host
    if ":" in host:  # an IPv6 address, or a host with a port (which ICMP has not)
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            bad = True
        host = f"[{host}]"
    if bad:
        raise BadTarget(f"an icmp module's target is a host or an address, not {target!r}")
    options = ProbeOptions(
        timeout=timeout,
        deadline=timeout + 0.1,
        allowed=allowed,
        family=family(icmp.preferred_ip_protocol, icmp.ip_protocol_fallback),
        icmp_payload_size=icmp.payload_size,
    )
    result = await probe_async(f"icmp://{host}?count=1", options)
    return ModuleProbe("icmp", result, _failure_of(result))


async def _grpc(
    module: BlackboxModule, target: str, timeout: float, allowed: AllowedTargets
) -> ModuleProbe:
    """The health check of the module's service at ``target`` (``host:port``, or with
    ``http://`` or ``https://`` before it, which blackbox_exporter drops: ``tls`` alone
    decides), on port 80 or 443 when none is given, as blackbox_exporter dials."""
    grpc = module.grpc
    hostport = target.split("://", 1)[1] if target.startswith(("http://", "https://")) else target
    hostport = hostport.rstrip("/")
    try:
        if "://" in hostport or any(c in hostport for c in "/?#@"):
            raise ValueError(hostport)
        host, port = split_hostport(hostport, default_port=443 if grpc.tls else 80)
    except ValueError:
        raise BadTarget(f"a grpc module's target is HOST:PORT, not {target!r}") from None
    hostport = join_hostport(host, port)
    options = _made(
        module,
        timeout,
        allowed,
        lambda: ProbeOptions(
            timeout=timeout,
            deadline=timeout,
            allowed=allowed,
            insecure=grpc.tls_config.insecure_skip_verify,
            cacert=grpc.tls_config.ca_file,
            family=family(grpc.preferred_ip_protocol, grpc.ip_protocol_fallback),
        ),
    )
    scheme = "grpcs" if grpc.tls else "grpc"
    result = await probe_async(f"{scheme}://{hostport}/{grpc.service}", options)
    return ModuleProbe("grpc", result, _failure_of(result))


def _failure_of(result: ProbeResult) -> tuple[str, str] | None:
    f = result.failure
    return None if f is None else (f.kind.value, f.layer.value)


def http_verdict(http: HttpModule, result: ProbeResult) -> tuple[str, str] | None:
    """The module's verdict on an http probe: ``(kind, layer)`` of the failure, or None.

    A status the module accepts passes even where tether names it a failure (a 404 in
    ``valid_status_codes``); one it does not accept fails with the kind tether gives it,
    or ``condition`` for a 1xx-3xx one."""
    response = http_response(result)
    status = response.status if response is not None else None
    failure = result.failure
    if failure is not None and not (status is not None and failure.kind in _STATUS_KINDS):
        return failure.kind.value, failure.layer.value
    if status is None:  # no failure and no status: the probe stopped before HTTP
        return CONDITION, Layer.HTTP.value
    valid = status in http.valid_status_codes if http.valid_status_codes else 200 <= status < 300
    if not valid:
        return (failure.kind.value if failure else CONDITION), Layer.HTTP.value
    assert response is not None
    version = response.version and _VERSIONS.get(response.version, response.version)
    if http.valid_http_versions and version not in http.valid_http_versions:
        return CONDITION, Layer.HTTP.value
    ssl = _final_scheme(result) == "https"
    if (http.fail_if_ssl and ssl) or (http.fail_if_not_ssl and not ssl):
        return CONDITION, Layer.TLS.value
    return None


_VERSIONS = {"HTTP/3": "HTTP/3.0", "HTTP/2": "HTTP/2.0"}
"""A response's version as blackbox_exporter writes it in ``valid_http_versions``."""


def _final_scheme(result: ProbeResult) -> str:
    """The scheme of the URL the last response came from (after redirects)."""
    phase = result.phase("http")
    hops = phase.details.redirects if phase and isinstance(phase.details, HttpDetails) else ()
    url = hops[-1].url if hops else result.target
    return url.split("://", 1)[0].lower()


def http_response(result: ProbeResult) -> Response | None:
    """The response the probe's http phase saw (the last hop's), if it came that far."""
    phase = result.phase("http")
    return phase.details.response if phase and isinstance(phase.details, HttpDetails) else None


async def _dns(
    module: BlackboxModule, target: str, timeout: float, allowed: AllowedTargets
) -> ModuleProbe:
    """Ask the DNS server ``target`` (an address, with an optional port) the module's
    query, through the probe engine's ``dns://`` prober, and judge its rcode."""
    options = module.dns
    assert options is not None  # the configuration requires it with prober: dns
    try:
        where, _ = split_hostport(target, default_port=53)
        ipaddress.ip_address(where)
    except ValueError:
        raise BadTarget(
            f"a dns module's target is the DNS server's address (IP[:PORT]), not {target!r}"
        ) from None
    allowed.check(where, [where])
    query = DnsQuery(options.query_type, None, (), options.recursion_desired)
    asked = await probe_async(
        f"dns://{options.query_name}",
        ProbeOptions(resolver=target, timeout=timeout, deadline=timeout, dns=query),
    )
    result = ProbeResult(f"dns://{target}", asked.phases, asked.failure)
    failure = asked.failure
    verdict: tuple[str, str] | None = None
    answer = None
    if failure is None:
        phase = asked.phase("dns")
        # A dns:// probe that did not fail has its dns phase, with the server's reply.
        asked_dns = phase.details if phase is not None else None
        assert isinstance(asked_dns, DnsQueryDetails)
        sections = asked_dns.sections
        assert sections is not None
        answer = DnsAnswer(sections.answer, sections.authority, sections.additional)
        if asked_dns.rcode not in options.valid_rcodes:
            verdict = CONDITION, Layer.DNS.value
    else:
        verdict = failure.kind.value, failure.layer.value
    return ModuleProbe("dns", result, verdict, answer)


BLACKBOX_PHASES = {"dns": "resolve", "connect": "connect", "tls": "tls"}


def phase_seconds(result: ProbeResult) -> dict[str, float]:
    """blackbox_exporter's phases from a probe's: resolve, connect, tls, processing, transfer."""
    out: dict[str, float] = {}
    for phase in result.phases:
        name = BLACKBOX_PHASES.get(phase.name)
        if name is not None and not isinstance(phase.details, Skipped):
            out[name] = phase.ms / 1000
    http = result.phase("http")
    if http is not None and isinstance(http.details, HttpDetails):
        ttfb = http.details.response.ttfb_ms
        if ttfb is not None:
            out["processing"] = float(ttfb) / 1000
            out["transfer"] = max(0.0, http.ms - float(ttfb)) / 1000
    return out
