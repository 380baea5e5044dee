"""Rendering a probe: phase by phase with timing bars (after httpstat), then the verdict."""

from __future__ import annotations

import json
import os
from typing import IO

from tether._catalogue import CATALOGUE
from tether._durations import human_ms
from tether._hostport import join_hostport
from tether._kinds import Layer
from tether._plural import count
from tether.probe import (
    ConnectDetails,
    DatabaseDetails,
    DnsDetails,
    DnsQueryDetails,
    DnssecDetails,
    GrpcDetails,
    HttpDetails,
    IcmpDetails,
    Phase,
    ProbeResult,
    ProxyDetails,
    Response,
    Skipped,
    SmtpDetails,
    SshDetails,
    TlsDetails,
    UrlDetails,
    WsDetails,
)

BAR_WIDTH = 24


def render_json(result: ProbeResult) -> str:
    """One line of JSON: the schema documented in docs/diagnose.md."""
    return json.dumps(result.to_dict(), default=str)


Line = list[tuple[str, str | None]]
"""One line of output: (text, rich style or None) pieces."""


def render_text(results: list[ProbeResult], out: IO[str], *, colour: bool | None = None) -> None:
    """The human view.  Colour on a terminal, plain text when piped (or as ``colour`` says).

    rich is imported only to colour: plain output needs none of it, and importing it
    is a large share of start-up (benchmarks/results.md, "tether diagnose and
    start-up")."""
    lines: list[Line] = []
    for i, result in enumerate(results):
        lines += ([[]] if i else []) + _lines(result)
    if not (_wants_colour(out) if colour is None else colour):
        out.write("".join("".join(text for text, _ in line) + "\n" for line in lines))
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out, highlight=False, soft_wrap=True, force_terminal=True)
    for line in lines:
        console.print(Text.assemble(*(t if style is None else (t, style) for t, style in line)))


def _wants_colour(out: IO[str]) -> bool:
    """As rich decides: NO_COLOR or a dumb terminal stop it, FORCE_COLOR forces it, else a tty."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM", "").lower() in ("dumb", "unknown"):
        return False
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # not a real file, or a closed one
        return False


def _lines(result: ProbeResult) -> list[Line]:
    lines: list[Line] = [[(result.target, "bold")]]
    total = sum(p.ms for p in result.phases) or 1.0
    for phase in result.phases:
        mark: Line = [("ok", "green"), ("    ", None)] if phase.ok else [("FAILED", "red bold")]
        filled = max(1, round(BAR_WIDTH * phase.ms / total)) if phase.ms >= 0.05 else 0
        bar = "█" * filled + "·" * (BAR_WIDTH - filled)
        lines.append(
            [
                (f"  {phase.name:<8} ", None),
                *mark,
                (f" {human_ms(phase.ms):>9}  ", None),
                (bar, "green" if phase.ok else "red"),
                (f"  {_summary(phase)}", None),
            ]
        )
    for warning in result.warnings:
        lines.append([("  ", None), ("warning:", "yellow"), (f" {warning}", None)])
    failure = result.failure
    if failure is None:
        lines.append([("healthy", "green bold"), (f" in {human_ms(total)}", None)])
        return lines
    entry = CATALOGUE[failure.kind]
    lines.append(
        [
            (failure.kind.value, "red bold"),
            (f" ({entry.title}, {failure.layer.value} layer): {failure.detail}", None),
        ]
    )
    lines.append([("How to fix it:", None)])
    lines += [[(f"  {n}. {fix}", None)] for n, fix in enumerate(entry.fixes, 1)]
    return lines


def _summary(phase: Phase) -> str:
    """The phase's details in a few words.  A phase that learnt nothing (NoDetails) reads
    as its kind's empty record: an http phase is "no response"."""
    d = phase.details
    if isinstance(d, Skipped):
        return f"skipped: {d.why}"
    name = phase.name
    if name == "url":
        u = d if isinstance(d, UrlDetails) else UrlDetails("", "")
        text = f"{u.scheme} {join_hostport(u.host, u.port)}".strip()
        return text + (" (credentials redacted)" if u.credentials else "")
    if name == "proxy":
        p = d if isinstance(d, ProxyDetails) else ProxyDetails(None, "")
        if not p.proxy:
            text = "no proxy" if p.source == "none" else p.source
            return text + (f" ({p.bypass})" if p.bypass else "")
        return f"{p.proxy} from {p.source}" + (f", CONNECT {p.status}" if p.status else "")
    if name == "dns":
        return _dns_summary(d if isinstance(d, DnsDetails | DnsQueryDetails) else DnsDetails(None))
    if name == "connect":
        c = d if isinstance(d, ConnectDetails) else ConnectDetails(None, 0)
        if c.address:
            many = len(c.attempts) > 1
            return f"{c.address} port {c.port}" + (
                f" after {len(c.attempts)} attempts" if many else ""
            )
        return "; ".join(f"{a.address}: {a.outcome}" for a in c.attempts)
    if name in ("tls", "quic"):  # quic: HTTP/3's handshake, TLS 1.3 within it
        return _tls_summary(phase, d if isinstance(d, TlsDetails) else TlsDetails(None, False))
    if name in ("http", "h3"):  # h3: the request over HTTP/3 that Alt-Svc offered
        return _http_summary(phase)
    if name == "ssh" and isinstance(d, SshDetails):
        if d.banner:
            return f"SSH {d.protocol}, {d.software}" + (f" ({d.comments})" if d.comments else "")
        return "received: " + " / ".join(d.received) if d.received else ""
    if name == "smtp" and isinstance(d, SmtpDetails) and d.greeting is not None:
        text = f"{d.greeting} {d.banner}".strip()
        return text + (f"; STARTTLS {d.starttls}" if d.starttls else "")
    if name == "icmp" and isinstance(d, IcmpDetails) and d.received is not None:
        return _icmp_summary(d)
    if name == "ws":
        return _ws_summary(d if isinstance(d, WsDetails) else WsDetails())
    if name == "grpc" and isinstance(d, GrpcDetails):
        return _grpc_summary(d)
    if name == "dnssec" and isinstance(d, DnssecDetails):
        return _dnssec_summary(d)
    if isinstance(d, DatabaseDetails):
        return d.summary()
    return ""


def _grpc_summary(d: GrpcDetails) -> str:
    """``my.Service: SERVING`` or ``the server: UNIMPLEMENTED (12)``."""
    asked = d.service or "the server"
    if d.serving_status is not None and d.code in (0, None):
        return f"{asked}: {d.serving_status}"
    if d.code is not None:
        return f"{asked}: {d.code_name} ({d.code})" + (f" {d.message}" if d.message else "")
    if d.http_status is not None:
        return f"{asked}: HTTP {d.http_status}"
    return f"{asked}: no gRPC answer"


def _dnssec_summary(d: DnssecDetails) -> str:
    """``secure from lab.test.: lab.test. → ok.lab.test., signed by ok.lab.test.``, or
    how far the chain was proven before it broke."""
    chain = " → ".join(d.zones)
    if d.secure:
        return f"secure from {d.anchor}: {chain}, signed by {', '.join(d.signers)}"
    return f"not proven from {d.anchor}" + (f" (keys proven: {chain})" if chain else "")


def _dns_summary(d: DnsDetails | DnsQueryDetails) -> str:
    answers = ", ".join(a.address for a in d.answers or ())
    literal = isinstance(d, DnsDetails) and d.literal
    where = "literal address" if literal else f"via {d.resolver}"
    return f"{answers or 'no address'} ({where})"


def _tls_summary(phase: Phase, d: TlsDetails) -> str:
    leaf = d.leaf
    parts = [p for p in (d.version, d.alpn) if p]
    if leaf:
        parts.append(f"cert {leaf.subject}")
    if phase.ok or not d.error:
        if leaf:
            parts[-1] += f", {leaf.days_left} days left"
        return ", ".join(parts)
    # The verdict first; what the handshake showed after, in brackets.  Only a
    # certificate that was looked at and refused is "not verified": a handshake that
    # broke (no shared version, an EOF, a timeout) says what broke.
    refused = "not verified: " + "; ".join(_lower(p) for p in d.problems or ())
    verdict = refused if d.problems else d.error
    return verdict + (f" (seen without verifying: {', '.join(parts)})" if parts else "")


def _icmp_summary(d: IcmpDetails) -> str:
    """``127.0.0.1: 3 of 3 replies, 0% loss, rtt 0.1/0.2/0.4 ms (raw socket)``."""
    text = f"{d.address or ''}: {d.received} of {d.sent} replies"
    text += f", {d.loss_percent or 0:g}% loss"
    if d.rtt_avg_ms is not None:
        rtt = "/".join(f"{ms:.3g}" for ms in (d.rtt_min_ms, d.rtt_avg_ms, d.rtt_max_ms))
        text += f", rtt min/avg/max {rtt} ms"
    if d.unreachable:
        text += f"; {d.unreachable}"
    return text + f" ({d.socket or '?'} socket)"


def _ws_summary(d: WsDetails) -> str:
    """``101 Switching Protocols at 1.2 ms, sent 4 bytes, reply "pong" at 3.4 ms``."""
    if d.status is None:
        return "no answer to the upgrade"
    if d.status != 101:
        return f"{d.status}, not upgraded"
    if d.accept == "mismatch":
        return "101, Sec-WebSocket-Accept does not match"
    text = "101 Switching Protocols"
    if d.upgrade_ms is not None:
        text += f" at {human_ms(d.upgrade_ms)}"
    if d.subprotocol:
        text += f", subprotocol {d.subprotocol}"
    if d.sent:
        text += f", sent {count(d.sent.bytes, 'byte')}"
    reply = d.reply
    if reply:
        said = reply.text or ""
        shown = said if len(said) <= 40 else said[:39] + "…"
        text += f", reply {json.dumps(shown, ensure_ascii=False)}"
        if d.reply_ms is not None:
            text += f" at {human_ms(d.reply_ms)}"
    elif d.close:
        close = d.close
        text += f", closed with {close.code}" + (
            f" {json.dumps(close.reason, ensure_ascii=False)}" if close.reason else ""
        )
    return text


def _http_summary(phase: Phase) -> str:
    """``GET 200, 1,024 of 4,096 bytes, then: connection reset``: what arrived, and what
    ended it when the body broke off after the status line."""
    d = phase.details
    method, r = (d.method, d.response) if isinstance(d, HttpDetails) else ("", Response(None, 0))
    if r.status is None:
        return f"{method} no response".strip()
    failure = phase.failure
    # A failure that is not the status's own (a 503 is the http layer's): the body broke
    # off after the status line.  (A HEAD's Content-Length announces a body never sent.)
    broke = failure is not None and failure.layer is not Layer.HTTP
    size = f"{r.size:,}"
    if broke and r.expected_size is not None and r.expected_size != r.size:
        size += f" of {r.expected_size:,}"
    text = f"{method} {r.status}, {size} bytes"
    if r.ttfb_ms is not None:
        text += f", first byte at {human_ms(r.ttfb_ms)}"
    if isinstance(d, HttpDetails) and d.redirects:
        text += f", {count(len(d.redirects) - 1, 'redirect')}"
    if broke and failure is not None:
        text += f", then: {_lower(CATALOGUE[failure.kind].title)}"
    return text


def _lower(title: str) -> str:
    """``Connection reset`` -> ``connection reset``; ``TLS handshake failed`` stays."""
    return title[:1].lower() + title[1:] if title[1:2].islower() else title
