"""Rendering a probe: phase by phase with timing bars (after httpstat), then the verdict."""

from __future__ import annotations

import json
import os
from typing import IO, Any

from tether._catalogue import CATALOGUE
from tether._durations import human_ms
from tether._hostport import join_hostport
from tether._kinds import Layer
from tether._plural import count
from tether.probe import Phase, ProbeResult

BAR_WIDTH = 24


def render_json(result: ProbeResult) -> str:
    """One line of JSON: the schema documented in docs/diagnose.md."""
    return json.dumps(result.to_dict(), default=str)


Line = list[tuple[str, str | None]]
"""One line of output: (text, rich style or None) pieces."""


def render_text(results: list[ProbeResult], out: IO[str], *, colour: bool | None = None) -> None:
    """The human view.  Colour on a terminal, plain text when piped (or as ``colour`` says).

    rich is imported only to colour: plain output needs none of it, and it costs some
    30 ms of start-up."""
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
    d: dict[str, Any] = phase.details
    if "skipped" in d:
        return f"skipped: {d['skipped']}"
    if phase.name == "url":
        where = join_hostport(str(d.get("host", "")), d.get("port"))
        text = f"{d.get('scheme', '')} {where}".strip()
        return text + (" (credentials redacted)" if d.get("credentials") else "")
    if phase.name == "proxy":
        if not d.get("proxy"):
            text = "no proxy" if d.get("source") == "none" else str(d.get("source", ""))
            return text + (f" ({d['bypass']})" if d.get("bypass") else "")
        return f"{d['proxy']} from {d.get('source')}" + (
            f", CONNECT {d['status']}" if d.get("status") else ""
        )
    if phase.name == "dns":
        answers = ", ".join(a["address"] for a in d.get("answers", []))
        where = "literal address" if d.get("literal") else f"via {d.get('resolver')}"
        return f"{answers or 'no address'} ({where})"
    if phase.name == "connect":
        tried = d.get("attempts", [])
        if d.get("address"):
            return f"{d['address']} port {d.get('port')}" + (
                f" after {len(tried)} attempts" if len(tried) > 1 else ""
            )
        return "; ".join(f"{a['address']}: {a['outcome']}" for a in tried)
    if phase.name == "tls":
        chain = d.get("chain") or []
        leaf = chain[0] if chain else None
        parts = [p for p in (d.get("version"), d.get("alpn")) if p]
        if leaf:
            parts.append(f"cert {leaf['subject']}")
        if phase.ok or not d.get("error"):
            if leaf:
                parts[-1] += f", {leaf['days_left']} days left"
            return ", ".join(parts)
        # The verdict first; what the handshake showed after, in brackets.  Only a
        # certificate that was looked at and refused is "not verified": a handshake that
        # broke (no shared version, an EOF, a timeout) says what broke.
        if d.get("problems"):
            verdict = "not verified: " + "; ".join(_lower(p) for p in d["problems"])
        else:
            verdict = str(d["error"])
        return verdict + (f" (seen without verifying: {', '.join(parts)})" if parts else "")
    if phase.name == "http":
        return _http_summary(phase)
    if phase.name == "ssh" and d.get("banner"):
        return f"SSH {d['protocol']}, {d['software']}" + (
            f" ({d['comments']})" if d.get("comments") else ""
        )
    if phase.name == "smtp" and d.get("greeting") is not None:
        text = f"{d['greeting']} {d.get('banner', '')}".strip()
        if d.get("starttls"):
            text += f"; STARTTLS {d['starttls']}"
        return text
    if phase.name == "icmp" and "received" in d:
        return _icmp_summary(d)
    if phase.name in ("ssh", "smtp") and d.get("received"):
        return "received: " + " / ".join(d["received"])
    if phase.name == "ws":
        return _ws_summary(d)
    return ""


def _icmp_summary(d: dict[str, Any]) -> str:
    """``127.0.0.1: 3 of 3 replies, 0% loss, rtt 0.1/0.2/0.4 ms (raw socket)``."""
    text = f"{d.get('address', '')}: {d['received']} of {d.get('sent', 0)} replies"
    text += f", {d.get('loss_percent', 0):g}% loss"
    if d.get("rtt_avg_ms") is not None:
        rtt = "/".join(f"{d[k]:.3g}" for k in ("rtt_min_ms", "rtt_avg_ms", "rtt_max_ms"))
        text += f", rtt min/avg/max {rtt} ms"
    if d.get("unreachable"):
        text += f"; {d['unreachable']}"
    return text + f" ({d.get('socket', '?')} socket)"


def _ws_summary(d: dict[str, Any]) -> str:
    """``101 Switching Protocols at 1.2 ms, sent 4 bytes, reply "pong" at 3.4 ms``."""
    if d.get("status") is None:
        return "no answer to the upgrade"
    if d["status"] != 101:
        return f"{d['status']}, not upgraded"
    if d.get("accept") == "mismatch":
        return "101, Sec-WebSocket-Accept does not match"
    text = "101 Switching Protocols"
    if d.get("upgrade_ms") is not None:
        text += f" at {human_ms(d['upgrade_ms'])}"
    if d.get("subprotocol"):
        text += f", subprotocol {d['subprotocol']}"
    if d.get("sent"):
        text += f", sent {count(d['sent']['bytes'], 'byte')}"
    reply = d.get("reply")
    if reply:
        shown = reply["text"] if len(reply["text"]) <= 40 else reply["text"][:39] + "…"
        text += f", reply {json.dumps(shown, ensure_ascii=False)}"
        if d.get("reply_ms") is not None:
            text += f" at {human_ms(d['reply_ms'])}"
    elif d.get("close"):
        close = d["close"]
        text += f", closed with {close['code']}" + (
            f" {json.dumps(close['reason'], ensure_ascii=False)}" if close.get("reason") else ""
        )
    return text


def _http_summary(phase: Phase) -> str:
    """``GET 200, 1,024 of 4,096 bytes, then: connection reset``: what arrived, and what
    ended it when the body broke off after the status line."""
    d: dict[str, Any] = phase.details
    method = d.get("method", "")
    if d.get("status") is None:
        return f"{method} no response".strip()
    failure = phase.failure
    # A failure that is not the status's own (a 503 is the http layer's): the body broke
    # off after the status line.  (A HEAD's Content-Length announces a body never sent.)
    broke = failure is not None and failure.layer is not Layer.HTTP
    size = f"{d.get('size', 0):,}"
    if broke and d.get("expected_size") is not None and d["expected_size"] != d.get("size"):
        size += f" of {d['expected_size']:,}"
    text = f"{method} {d['status']}, {size} bytes"
    if d.get("ttfb_ms") is not None:
        text += f", first byte at {human_ms(d['ttfb_ms'])}"
    if d.get("redirects"):
        text += f", {count(len(d['redirects']) - 1, 'redirect')}"
    if broke and failure is not None:
        text += f", then: {_lower(CATALOGUE[failure.kind].title)}"
    return text


def _lower(title: str) -> str:
    """``Connection reset`` -> ``connection reset``; ``TLS handshake failed`` stays."""
    return title[:1].lower() + title[1:] if title[1:2].islower() else title
