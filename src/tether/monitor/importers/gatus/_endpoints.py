"""One Gatus endpoint as one tether monitor: its URL by type, its client settings, its
conditions (through tether's own parser) and its alerts.

Gatus's endpoint types (``config/endpoint/endpoint.go``, ``Type()``) and tether's:
``http(s)://``, ``tcp://``, ``tls://``, ``icmp://``, ``ws(s)://`` and ``ssh://`` keep their
URL; ``starttls://`` (Gatus's SMTP STARTTLS check) is ``smtp://...?starttls=required``;
an endpoint with ``dns:`` asks its URL, a DNS server, about ``dns.query-name``: tether's
``dns://NAME`` with the server as ``resolver``; ``grpc(s)://`` (gRPC's health check of
the server as a whole, as Gatus's ``client/grpc.go`` asks) keeps its URL, and Gatus's
``[BODY].status`` (its ``{"status": "SERVING"}``) is tether's ``[GRPC_STATUS]``.  Any other
type is kept when tether has a check of that scheme (the registry,
:data:`tether.probe.SCHEMES`), else left out with why (``udp://``, ``sctp://``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from tether.monitor.config._capabilities import no_check
from tether.monitor.config._conditions import ConditionError, parse_condition
from tether.monitor.config._rdap import rdap_problems
from tether.monitor.config.labels._labels import VALUE_MAX, label_problem
from tether.monitor.importers._common import LeftOut
from tether.monitor.importers._values import go_duration, name_problem, seconds_text, shown
from tether.probe import find_scheme

__all__ = ["Alerting", "alerts_of", "endpoint_monitor"]

_RECORD_TYPES: Final = ("A", "AAAA", "CNAME", "MX", "TXT", "NS")
_GATUS_TYPES: Final = frozenset(
    {"http", "https", "tcp", "udp", "sctp", "icmp", "tls", "ws", "wss", "ssh", "grpc", "grpcs"}
)
"""The URL schemes of Gatus's endpoint types (``config/endpoint/endpoint.go``, ``Type()``)
that mean what the scheme means in tether, when tether has it (the registry decides:
``udp`` and ``sctp`` it has not); ``starttls`` and ``dns:`` are mapped on their own."""
_CLIENT_LEFT: Final = {
    "oauth2": "tether does not fetch OAuth2 tokens: put the token in headers (Authorization)",
    "identity-aware-proxy": "tether does not fetch Google IAP tokens",
    "proxy-url": "tether reaches a proxy through the environment's https_proxy/http_proxy",
    "tls": "tether's probes present no client certificate",
    "network": "tether races IPv4 and IPv6 itself",
    "tunnel": "tether has no SSH tunnels: run tether where it can reach the endpoint "
    "(an agent at that location, docs/agents.md)",
    "store-cookies": "each tether probe starts without cookies",
}


@dataclass
class Alerting:
    """What the endpoints' alerts refer to: the channels made, the providers' default
    alerts, and why a provider was left out."""

    channels: set[str]
    defaults: Mapping[str, Mapping[str, Any]]
    refused: Mapping[str, str]
    used: set[str] = field(default_factory=set)


def _duration(value: object, where: str, left: list[LeftOut]) -> float | None:
    seconds = go_duration(value)
    if seconds is None:
        left.append(LeftOut(where, f"{value!r} is not a Go duration such as 30s or 1h30m"))
    return seconds


def _target(ep: Mapping[str, Any], what: str, left: list[LeftOut]) -> dict[str, Any] | None:
    """The ``url`` (and ``resolver``, ``dns``) of the monitor; ``None`` leaves it out."""
    url = str(ep.get("url") or "")
    dns = ep.get("dns")
    if isinstance(dns, Mapping):
        name = str(dns.get("query-name") or "").rstrip(".")
        kind = str(dns.get("query-type") or "A").upper()
        if not name:
            left.append(LeftOut(what, "its dns has no query-name"))
            return None
        if kind not in _RECORD_TYPES:
            left.append(
                LeftOut(what, f"tether's dns:// asks {', '.join(_RECORD_TYPES)}, not {kind}")
            )
            return None
        server = url.split("://", 1)[-1].rstrip("/")
        host = (
            server.rsplit(":", 1)[0].strip("[]")
            if server.count(":") == 1 or "]" in server
            else server
        )
        try:
            ipaddress.ip_address(host)
        except ValueError:
            left.append(
                LeftOut(what, "tether asks a DNS server given by its IP address, not by a name")
            )
            return None
        return {"url": f"dns://{name}", "resolver": server, "dns": {"record_type": kind}}
    scheme = url.partition("://")[0].lower()
    if "${" in scheme or url.startswith("${"):
        return {"url": url}  # from the environment: tether reads it there, as Gatus did
    if scheme == "starttls":
        return {"url": f"smtp://{url.partition('://')[2].rstrip('/')}?starttls=required"}
    if scheme in ("grpc", "grpcs"):  # Gatus asks about the server as a whole: no service
        return {"url": f"{scheme}://{url.partition('://')[2].partition('/')[0]}"}
    if scheme in _GATUS_TYPES and find_scheme(scheme) is not None:
        return {"url": url}
    if scheme in _GATUS_TYPES:
        left.append(LeftOut(what, no_check(scheme)))
    else:
        left.append(LeftOut(what, f"{scheme or 'its URL'} is not an endpoint type of Gatus's"))
    return None


_PAT_BARE: Final = re.compile(r"\bpat\(([^()\"]*)\)")
_RESPONSE_MS: Final = re.compile(r"^(\s*\[RESPONSE_TIME\]\s*(?:==|!=|<=|>=|<|>)\s*)(\d+)\s*$")


def gatus_condition(text: str) -> str:
    """A Gatus condition as tether writes it: ``[RESPONSE_TIME] < 500`` (milliseconds in
    Gatus) as ``500ms``; a ``pat()`` holding spaces or punctuation in quotes."""
    text = _RESPONSE_MS.sub(lambda m: f"{m[1]}{m[2]}ms", text)

    def quoted(match: re.Match[str]) -> str:
        inner = match[1].strip()
        if re.fullmatch(r"[^\s()\[\],\"'<>=!]*", inner):
            return match[0]
        return 'pat("' + inner.replace("\\", "\\\\") + '")'

    return _PAT_BARE.sub(quoted, text)


_GRPC_BODY: Final = re.compile(r"\[BODY\]\.status\b")
"""Gatus's gRPC answer is ``{"status": "SERVING"}`` as its ``[BODY]``."""
_CONNECTED: Final = re.compile(r"\s*\[CONNECTED\]\s*(?:==\s*true\s*)?")


def _connected(text: str, url: str) -> str:
    """Gatus's ``[CONNECTED] == true`` on a DNS or ICMP endpoint means the server
    answered, on a gRPC one that the health call was answered (``client/grpc.go``);
    tether's ``[CONNECTED]`` is a TCP connection, never made by the first two and made
    before the call by the third, so it is written as what Gatus meant: an rcode came
    back, a reply came back, a health status came back."""
    if not _CONNECTED.fullmatch(text):
        return text
    if url.startswith("dns://"):
        return "has([DNS_RCODE])"
    if url.startswith("icmp://"):
        return "[PACKET_LOSS] < 100%"
    if url.startswith(("grpc://", "grpcs://")):
        return "has([GRPC_STATUS])"
    return text


def _address_of(text: str, record_type: str) -> bool:
    """Whether ``text`` is an address an ``A`` (IPv4) or ``AAAA`` (IPv6) record holds."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return record_type == ("A" if address.version == 4 else "AAAA")


def _conditions(ep: Mapping[str, Any], out: dict[str, Any], what: str, left: list[LeftOut]) -> None:
    written = ep.get("conditions") or []
    if not isinstance(written, list):
        written = [written]
    kept: list[str] = []
    dns = out["url"].startswith("dns://")
    for index, condition in enumerate(written):
        where = f"{what}: conditions[{index}] {shown(repr(str(condition)))}"
        text = _connected(gatus_condition(str(condition)), out["url"])
        answer = re.fullmatch(r"\s*\[BODY\]\s*==\s*(\S+)\s*", text)
        if dns and answer and _address_of(answer[1], out["dns"]["record_type"]):
            out["dns"]["answers"] = [*out["dns"].get("answers", []), answer[1]]
            continue
        if dns and "[BODY]" in text:
            left.append(
                LeftOut(
                    where,
                    "tether's dns:// has no [BODY]: its dns.answers says what must be in "
                    "the answer",
                )
            )
            continue
        if out["url"].startswith(("grpc://", "grpcs://")):
            text = _GRPC_BODY.sub("[GRPC_STATUS]", text)
            if "[STATUS]" in text or "[BODY]" in text:
                left.append(
                    LeftOut(
                        where,
                        "tether's grpc:// check reads the health answer as [GRPC_STATUS] "
                        "(SERVING...), the call's code as [GRPC_CODE]",
                    )
                )
                continue
        if out["url"].startswith("ssh://") and ("[STATUS]" in text or "[BODY]" in text):
            left.append(
                LeftOut(where, "tether's ssh:// reads the server's banner and runs no command")
            )
            continue
        if address := rdap_problems((text,), out["url"], None, ()):
            left.append(LeftOut(where, f"{address[0][1]} yourself (rdap: {{domain: ...}})"))
            continue
        try:
            parse_condition(text)
        except (ConditionError, ValueError) as exc:
            left.append(LeftOut(where, f"tether's parser refuses it: {exc}"))
            continue
        kept.append(text)
    if kept:
        out["conditions"] = kept


def _client(
    ep: Mapping[str, Any], out: dict[str, Any], what: str, left: list[LeftOut], interval: float
) -> None:
    client = ep.get("client")
    if not isinstance(client, Mapping):
        return
    if client.get("insecure"):
        left.append(
            LeftOut(
                f"{what}: client.insecure",
                "tether never turns TLS verification off by itself: give tls.ca_file, or "
                "write tls: {insecure: true} yourself",
            )
        )
    if client.get("ignore-redirect") and out["url"].startswith(("http://", "https://")):
        out["follow_redirects"] = False
    if "timeout" in client:
        timeout = _duration(client["timeout"], f"{what}: client.timeout", left)
        if timeout is not None and timeout >= interval:
            left.append(
                LeftOut(
                    f"{what}: client.timeout",
                    "tether's timeout is shorter than the interval: 80% of it is used",
                )
            )
        elif timeout:
            out["timeout"] = seconds_text(timeout)
    resolver = client.get("dns-resolver")
    if resolver:
        server = str(resolver).split("://", 1)[-1]
        out["resolver"] = server
        if str(resolver).lower().startswith("tcp://"):
            left.append(
                LeftOut(
                    f"{what}: client.dns-resolver",
                    "tether asks its resolver over UDP, then TCP when the answer is cut",
                )
            )
    for key, why in _CLIENT_LEFT.items():
        if client.get(key):
            left.append(LeftOut(f"{what}: client.{key}", why))


def _request(ep: Mapping[str, Any], out: dict[str, Any], what: str, left: list[LeftOut]) -> None:
    scheme = out["url"].partition("://")[0]
    http = scheme in ("http", "https")
    headers = ep.get("headers")
    body = ep.get("body")
    if http and ep.get("method"):
        out["method"] = str(ep["method"]).upper()
    if isinstance(headers, Mapping) and headers:
        if http or scheme in ("ws", "wss"):
            out["headers"] = {str(k): str(v) for k, v in headers.items()}
        else:
            left.append(LeftOut(f"{what}: headers", f"a {scheme}:// check sends no headers"))
    if body not in (None, ""):
        if http and ep.get("graphql"):
            out["body"] = json.dumps({"query": str(body)})
            headers = out.setdefault("headers", {})
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
        elif http or scheme in ("ws", "wss"):
            out["body"] = str(body)
        else:
            left.append(
                LeftOut(f"{what}: body", f"tether's {scheme}:// check sends nothing once connected")
            )
        if "[" in str(body):
            left.append(
                LeftOut(
                    f"{what}: body placeholders",
                    "tether sends the body as written: Gatus's [ENDPOINT_NAME], "
                    "[RANDOM_STRING_N]... are not replaced",
                )
            )


def endpoint_monitor(
    index: int, ep: Mapping[str, Any], alerting: Alerting, left: list[LeftOut]
) -> dict[str, Any] | None:
    """The monitor of ``endpoints[index]``, or ``None`` (left out, with why)."""
    what = f"endpoints[{index}] ({shown(ep.get('name'))})"
    name = endpoint_name(ep, what, f"endpoints[{index}]", left)
    if name is None:
        return None
    target = _target(ep, what, left)
    if target is None:
        return None
    out: dict[str, Any] = {"name": name, **target}
    interval = 60.0
    if "interval" in ep:
        interval = _duration(ep["interval"], f"{what}: interval", left) or 60.0
        out["interval"] = seconds_text(max(interval, 1.0))
    _request(ep, out, what, left)
    _client(ep, out, what, left, interval)
    _conditions(ep, out, what, left)
    labels = labels_of(ep, what, left)
    alerts_of(ep, out, labels, what, alerting, left)
    if labels:
        out["labels"] = labels
    if ep.get("enabled") is False:
        out["paused"] = True
    if ep.get("ui"):
        left.append(
            LeftOut(
                f"{what}: ui",
                "tether's dashboard has no per-monitor display settings; status pages "
                "choose what they show",
            )
        )
    if ep.get("ssh"):
        left.append(
            LeftOut(
                f"{what}: ssh",
                "tether's ssh:// reads the server's banner without logging in: no "
                "username, password or key is used",
            )
        )
    return out


def endpoint_name(
    ep: Mapping[str, Any], what: str, unnamed: str, left: list[LeftOut]
) -> str | None:
    """The endpoint's name as tether's (Gatus's spaces around it dropped); ``None`` when it
    has none, or one tether refuses (left out with the loader's reason)."""
    name = str(ep.get("name") or "").strip()
    if not name:
        left.append(LeftOut(unnamed, "it has no name"))
        return None
    problem = name_problem(name)
    if problem is not None:
        left.append(LeftOut(what, f"tether refuses its name: {problem}"))
        return None
    return name


def labels_of(ep: Mapping[str, Any], what: str, left: list[LeftOut]) -> dict[str, str]:
    """``group`` and ``extra-labels`` as labels."""
    labels: dict[str, str] = {}
    if ep.get("group"):
        labels["group"] = str(ep["group"])[:VALUE_MAX]
    extra = ep.get("extra-labels")
    if isinstance(extra, Mapping):
        for key, value in extra.items():
            problem = label_problem(str(key))
            if problem is None:
                labels[str(key)] = str(value)[:VALUE_MAX]
            else:
                left.append(LeftOut(f"{what}: extra-labels", f"tether refuses a label: {problem}"))
    return labels


def alerts_of(
    ep: Mapping[str, Any],
    out: dict[str, Any],
    labels: dict[str, str],
    what: str,
    alerting: Alerting,
    left: list[LeftOut],
) -> None:
    """The endpoint's alerts as channel names, thresholds, reminders and a description."""
    written = ep.get("alerts") or []
    channels: list[str] = []
    failures: list[int] = []
    successes: list[int] = []
    reminders: list[float] = []
    for index, alert in enumerate(written if isinstance(written, list) else []):
        kind = str(alert.get("type") if isinstance(alert, Mapping) else alert)
        where = f"{what}: alerts[{index}] ({shown(kind)})"
        if not isinstance(alert, Mapping):
            left.append(LeftOut(where, "not an alert"))
            continue
        merged = {**alerting.defaults.get(kind, {}), **alert}
        if kind not in alerting.channels:
            why = alerting.refused.get(kind, f"there is no alerting.{kind} to send it through")
            left.append(LeftOut(where, why))
            continue
        if merged.get("enabled") is False:
            left.append(LeftOut(where, "it is disabled (enabled: false)"))
            continue
        if kind not in channels:
            channels.append(kind)
        alerting.used.add(kind)
        if isinstance(merged.get("failure-threshold"), int):
            failures.append(merged["failure-threshold"])
        if isinstance(merged.get("success-threshold"), int):
            successes.append(merged["success-threshold"])
        every = go_duration(merged.get("minimum-reminder-interval"))
        if every and every >= 60:
            reminders.append(every)
        elif every:
            left.append(
                LeftOut(
                    f"{where}: minimum-reminder-interval",
                    "tether reminds at most once a minute (Gatus, every 5m)",
                )
            )
        if merged.get("send-on-resolved") is False and "send-on-resolved" in alert:
            left.append(
                LeftOut(
                    f"{where}: send-on-resolved", "tether always says when an incident is resolved"
                )
            )
        if merged.get("description") and "description" not in labels:
            labels["description"] = str(merged["description"])[:VALUE_MAX]
        if merged.get("provider-override"):
            left.append(
                LeftOut(
                    f"{where}: provider-override",
                    "one channel a provider: add a channel of your own for this monitor",
                )
            )
    if channels:
        out["alerts"] = channels
    for key, found in (("failure_threshold", failures), ("success_threshold", successes)):
        if found:
            out[key] = min(found)
            if len(set(found)) > 1:
                left.append(
                    LeftOut(
                        f"{what}: alerts",
                        f"tether has one {key} a monitor: the smallest, {min(found)}, is "
                        f"used for all its channels (Gatus's alerts had "
                        f"{', '.join(map(str, found))})",
                    )
                )
    if reminders:
        out["remind_every"] = seconds_text(min(reminders))
