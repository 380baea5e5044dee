"""One row of Uptime Kuma's ``monitor`` table as one tether monitor, or why not.

Pure: a row is a mapping of Kuma's column names to values (the columns of 1.23 and of
2.x, a column a version lacks simply absent), and the result is tether's keys for the
monitor, the parts of the row that were not carried with why, or why the monitor as a
whole was not.  How Kuma reads each column is from ``server/model/monitor.js`` (1.23.16
and 2.0.2): an ``http`` or ``keyword`` monitor passes on an accepted status code (and
the keyword found in the body, or not found with ``invert_keyword``), ``maxretries``
failures are retried at ``retry_interval`` before the monitor is down, ``upside_down``
swaps up and down.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from tether.monitor.config._fields import push_token_problem

__all__ = ["Mapped", "map_monitor"]

# Kuma's types that tether has no check for, with what they are (Kuma's own names).
_NO_CHECK = {
    "docker": "Docker container",
    "grpc-keyword": "gRPC keyword: a method of yours and a keyword in its answer; tether's "
    "grpc:// asks gRPC's health service",
    "steam": "Steam game server",
    "gamedig": "GameDig game server",
    "mqtt": "MQTT",
    "kafka-producer": "Kafka producer",
    "sqlserver": "Microsoft SQL Server",
    "mongodb": "MongoDB",
    "radius": "RADIUS",
    "tailscale-ping": "Tailscale ping",
    "snmp": "SNMP",
    "rabbitmq": "RabbitMQ",
    "manual": "manual (a state set by hand)",
}
_DNS_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS")
_JSON_PATH = re.compile(r"\$?\.?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*")
_COMPARE = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass(slots=True)
class Mapped:
    """A Kuma monitor read: tether's keys for it (None when it is left out as a whole),
    and (what, why) for each part not carried."""

    monitor: dict[str, Any] | None
    left_out: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def map_monitor(row: Mapping[str, Any]) -> Mapped:
    """The tether monitor a Kuma ``monitor`` row becomes (without name, labels, alerts)."""
    kind = str(row.get("type") or "")
    if kind in _NO_CHECK:
        return Mapped(None, [("", f"tether has no check of this type ({_NO_CHECK[kind]})")])
    if row.get("upside_down"):
        return Mapped(
            None,
            [
                (
                    "",
                    "upside-down mode (up when the check fails): tether has no inverted "
                    "check, and imported as it is it would alert whenever Kuma is quiet",
                )
            ],
        )
    mapper = _MAPPERS.get(kind)
    if mapper is None:
        return Mapped(None, [("", f"tether has no check of this type ({kind or 'none'})")])
    mapped = mapper(row)
    if mapped.monitor is not None:
        _timing(row, mapped)
        if not row.get("active", 1):
            mapped.monitor["paused"] = True
    return mapped


def _timing(row: Mapping[str, Any], mapped: Mapped) -> None:
    """Interval, timeout, reminders and retries.  Kuma is down at its first failure and up
    at its first success: ``import_kuma`` writes that once, in ``defaults``; a monitor
    that retries (``maxretries``) is down at ``maxretries + 1`` failures in a row."""
    assert mapped.monitor is not None
    monitor = mapped.monitor
    interval = max(int(row.get("interval") or 60), 1)
    monitor["interval"] = f"{interval}s"
    timeout = float(row.get("timeout") or 0)
    if monitor.get("type") != "push" and 0 < timeout < interval:
        millis = round(timeout * 1000)
        monitor["timeout"] = f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"
    resend = int(row.get("resend_interval") or 0)
    if resend > 0:  # Kuma notifies again every `resend` checks while down
        monitor["remind_every"] = f"{resend * interval}s"
    retries = max(int(row.get("maxretries") or 0), 0)
    if monitor.get("type") == "push":
        if retries:
            mapped.left_out.append(
                ("maxretries", "a push monitor fails once its push is late; tether has no retries")
            )
        return
    if retries:
        monitor["failure_threshold"] = retries + 1
        retry = int(row.get("retry_interval") or 0)
        if retry and retry != interval:
            mapped.left_out.append(
                (
                    "retry_interval",
                    f"tether checks every {interval}s, failing or not: "
                    f"{retries + 1} failures in a row take {retries * interval}s to count, "
                    f"not {retries * retry}s",
                )
            )


# -- HTTP ----------------------------------------------------------------------------


def _http(row: Mapping[str, Any]) -> Mapped:
    mapped = Mapped(None)
    url = str(row.get("url") or "")
    if urlsplit(url).scheme not in ("http", "https"):
        return Mapped(None, [("url", f"{_scheme_of(url)} is not an http:// or https:// URL")])
    monitor: dict[str, Any] = {}
    auth = str(row.get("auth_method") or ("basic" if row.get("basic_auth_user") else ""))
    if auth == "basic" and row.get("basic_auth_user"):
        url = _with_user(url, str(row["basic_auth_user"]), str(row.get("basic_auth_pass") or ""))
    elif auth not in ("", "basic"):
        mapped.left_out.append(
            (
                "auth_method",
                f"tether sends HTTP basic auth only, not {auth}: put the credential in a header",
            )
        )
    monitor["url"] = url
    method = str(row.get("method") or "GET").upper()
    if method != "GET":
        monitor["method"] = method
    headers = _headers(row.get("headers"), mapped)
    body = row.get("body")
    if body:
        monitor["body"] = str(body)
        encoding = str(row.get("http_body_encoding") or "json").lower()
        if encoding == "json" and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"  # as Kuma's axios sends it
    if headers:
        monitor["headers"] = headers
    redirects = row.get("maxredirects")
    if redirects is not None and int(redirects) != 10:
        if int(redirects) == 0:
            monitor["follow_redirects"] = False
        else:
            monitor["max_redirects"] = min(int(redirects), 50)
    conditions = [*_status_conditions(row.get("accepted_statuscodes_json"), mapped)]
    kind = str(row.get("type"))
    if kind == "keyword":
        keyword = str(row.get("keyword") or "")
        verb = "not contains" if row.get("invert_keyword") else "contains"
        conditions.append(f"[BODY] {verb} {_text(keyword)}")
    elif kind == "json-query":
        conditions += _json_condition(row, mapped)
    if conditions:
        monitor["conditions"] = conditions
    if row.get("ignore_tls"):
        mapped.left_out.append(
            (
                "ignore_tls",
                "tether never turns certificate verification off; the monitor "
                "verifies it (give tls: {ca_file: ...} for a private CA)",
            )
        )
    for column, what in (("proxy_id", "proxy"), ("tls_cert", "client certificate")):
        if row.get(column):
            mapped.left_out.append((column, f"tether's checks have no {what}"))
    mapped.monitor = monitor
    return mapped


def _scheme_of(url: str) -> str:
    scheme = urlsplit(url).scheme
    return f"{scheme}://" if scheme else "no scheme"


def _with_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def _headers(raw: object, mapped: Mapped) -> dict[str, str]:
    if not raw:
        return {}
    try:
        headers = json.loads(str(raw))
    except ValueError:
        mapped.left_out.append(("headers", "they are not JSON, as Kuma's editor writes them"))
        return {}
    if not isinstance(headers, dict):
        mapped.left_out.append(("headers", "they are not a JSON object"))
        return {}
    return {str(k): str(v) for k, v in headers.items()}


def _status_conditions(raw: object, mapped: Mapped) -> list[str]:
    try:
        codes = json.loads(str(raw)) if raw else ["200-299"]
    except ValueError:
        codes = None
    if not isinstance(codes, list) or not codes:
        mapped.left_out.append(("accepted_statuscodes_json", "not a JSON list: 2xx is expected"))
        codes = ["200-299"]
    items: list[str] = []
    for code in (str(c).strip() for c in codes):
        low, _, high = code.partition("-")
        if not (low.isdigit() and (not high or high.isdigit())):
            mapped.left_out.append(("accepted_statuscodes_json", f"{code!r} is not a code"))
            continue
        if not high or low == high:
            items.append(str(int(low)))
        elif low.endswith("00") and high == f"{low[:-2]}99":
            items.append(f"pat({low[:-2]}??)")
        elif len(codes) == 1:
            return [f"[STATUS] >= {int(low)}", f"[STATUS] <= {int(high)}"]
        else:
            items += [str(n) for n in range(int(low), int(high) + 1)]
    if items == ["pat(2??)"]:
        return ["[STATUS] >= 200", "[STATUS] <= 299"]
    if len(items) == 1 and items[0].isdigit():
        return [f"[STATUS] == {items[0]}"]
    return [f"[STATUS] == any({', '.join(items)})"] if items else []


def _text(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _json_condition(row: Mapping[str, Any], mapped: Mapped) -> list[str]:
    # Kuma evaluates json_path as a JSONata expression and compares its result, as text
    # in 1.23 and with json_path_operator (default ==) in 2.x, to expected_value.
    path = str(row.get("json_path") or "").strip()
    expected = str(row.get("expected_value") or "")
    operator = str(row.get("json_path_operator") or "==")
    if not _JSON_PATH.fullmatch(path):
        mapped.left_out.append(
            (
                "json_path",
                f"{path!r} is a JSONata expression tether's [BODY] paths cannot "
                "say (they take .key and [n])",
            )
        )
        return []
    where = "[BODY]" + ("" if path.startswith(("$.", ".")) else ".") + path.removeprefix("$")
    if operator == "contains":
        return [f"{where} contains {_text(expected)}"]
    if operator not in _COMPARE:
        mapped.left_out.append(("json_path_operator", f"tether has no {operator!r}"))
        return []
    if operator in ("<", "<=", ">", ">="):
        try:
            return [f"{where} {operator} {float(expected):g}"]
        except ValueError:
            mapped.left_out.append(("expected_value", f"{expected!r} is not a number"))
            return []
    return [f"{where} {operator} {_json_value(expected)}"]


def _json_value(expected: str) -> str:
    # Kuma compares the result as text: "true" matches true, "3" matches 3.
    if expected in ("true", "false", "null") or re.fullmatch(r"-?\d+(\.\d+)?", expected):
        return f"any({expected}, {_text(expected)})"
    return _text(expected)


# -- the others -----------------------------------------------------------------------


def _host(row: Mapping[str, Any]) -> str:
    host = str(row.get("hostname") or "").strip()
    return f"[{host}]" if ":" in host else host


def _port(row: Mapping[str, Any]) -> Mapped:
    if not row.get("hostname") or not row.get("port"):
        return Mapped(None, [("", "a port monitor without hostname and port")])
    return Mapped({"url": f"tcp://{_host(row)}:{int(row['port'])}"})


def _ping(row: Mapping[str, Any]) -> Mapped:
    if not row.get("hostname"):
        return Mapped(None, [("", "a ping monitor without hostname")])
    count = int(row.get("ping_count") or 1)  # 1.23 pings once; 2.x's ping_count
    mapped = Mapped({"url": f"icmp://{_host(row)}?count={count}"})
    size = row.get("packet_size")
    if size is not None and int(size) != 56:
        mapped.left_out.append(("packet_size", "tether's echo requests carry 56 bytes"))
    return mapped


def _dns(row: Mapping[str, Any]) -> Mapped:
    name = str(row.get("hostname") or "").strip()
    if not name:
        return Mapped(None, [("", "a dns monitor without hostname")])
    record = str(row.get("dns_resolve_type") or "A").upper()
    if record not in _DNS_TYPES:
        return Mapped(
            None,
            [
                (
                    "",
                    f"tether's dns check has no {record} records "
                    f"(it asks for {', '.join(_DNS_TYPES)})",
                )
            ],
        )
    monitor: dict[str, Any] = {"url": f"dns://{name}", "dns": {"record_type": record}}
    mapped = Mapped(monitor)
    server = str(row.get("dns_resolve_server") or "").strip()
    if server:
        port = int(row.get("port") or 53)
        host = f"[{server}]" if ":" in server else server
        monitor["resolver"] = host if port == 53 else f"{host}:{port}"
    conditions = str(row.get("conditions") or "[]").strip()
    if conditions not in ("", "[]"):
        mapped.left_out.append(
            ("conditions", "Kuma 2's DNS conditions are not read: give dns: {answers: [...]}")
        )
    return mapped


def _push(row: Mapping[str, Any]) -> Mapped:
    """A push monitor keeps Kuma's token (1.23 makes 10 letters and digits, 2.x 32), so
    its job keeps pushing to the same path, ``/api/push/TOKEN``, on tether's address; one
    tether cannot take is replaced by a new one, and said."""
    token = str(row.get("push_token") or "")
    notes = [
        "its job pushes to tether's /api/push/TOKEN, the same token: status= and msg= "
        "are read as Kuma's, ping= is not (tether's duration_ms= is)"
    ]
    if push_token_problem(token) is not None:
        token = secrets.token_hex(16)
        notes = [
            "a new push token was made (Kuma's is not one tether takes: 10 to 256 letters, "
            "digits, -, _, . or ~): give its job tether's /api/push/TOKEN with the new one"
        ]
    return Mapped({"type": "push", "token": token}, notes=notes)


def _browser(row: Mapping[str, Any]) -> Mapped:
    """Kuma's ``real-browser``: the page loaded in Chromium, up on a 2xx or 3xx answer to
    its document (``server/monitor-types/real-browser-monitor-type.js``).  tether's browser
    check fails on those too, and on errors the page logs, which Kuma does not read: so
    ``fail_on_console_errors: false``."""
    url = str(row.get("url") or "")
    if urlsplit(url).scheme not in ("http", "https"):
        return Mapped(None, [("url", f"{_scheme_of(url)} is not an http:// or https:// URL")])
    mapped = Mapped({"url": url, "browser": {"fail_on_console_errors": False}})
    if row.get("remote_browser"):
        mapped.left_out.append(
            (
                "remote_browser",
                "tether starts its own headless Chromium (probe.browser_executable), not "
                "a remote one",
            )
        )
    return mapped


def _smtp(row: Mapping[str, Any]) -> Mapped:
    port = int(row.get("port") or 25)
    security = str(row.get("smtp_security") or "nostarttls")
    if security == "secure":
        return Mapped({"url": f"smtps://{_host(row)}:{port}"})
    starttls = "required" if security == "starttls" else "off"
    return Mapped({"url": f"smtp://{_host(row)}:{port}?starttls={starttls}"})


def _websocket(row: Mapping[str, Any]) -> Mapped:
    url = str(row.get("url") or "")
    if urlsplit(url).scheme not in ("ws", "wss"):
        return Mapped(None, [("url", f"{_scheme_of(url)} is not a ws:// or wss:// URL")])
    return Mapped({"url": url})


_DATABASE_SCHEMES = {
    "postgres": ("postgres", "postgresql"),
    "mysql": ("mysql", "mariadb"),
    "redis": ("redis", "rediss"),
}


def _database(row: Mapping[str, Any]) -> Mapped:
    """Kuma's ``postgres``, ``mysql`` and ``redis`` monitors: its connection string is the
    URL (credentials and all), its query the monitor's ``query``."""
    from tether.probe import InvalidTarget, parse_target

    kind = str(row.get("type"))
    url = str(row.get("database_connection_string") or "").strip()
    schemes = _DATABASE_SCHEMES[kind]
    if urlsplit(url).scheme.lower() not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        return Mapped(None, [("database_connection_string", f"{_scheme_of(url)} is not {wanted}")])
    try:
        parse_target(url)
    except InvalidTarget as exc:
        return Mapped(None, [("database_connection_string", str(exc))])
    mapped = Mapped({"url": url})
    query = str(row.get("database_query") or "").strip()
    if query and kind != "redis":
        mapped.monitor["query"] = query  # type: ignore[index]
        mapped.notes.append(
            "its query runs in a read-only transaction in tether: one that writes fails"
        )
    if urlsplit(url).password:
        mapped.notes.append(
            "its URL holds the database's password as Kuma had it: keep this file private, "
            "or write ${NAME} in its place and set NAME where tether runs"
        )
    return mapped


_MAPPERS = {
    "postgres": _database,
    "mysql": _database,
    "redis": _database,
    "http": _http,
    "keyword": _http,
    "json-query": _http,
    "port": _port,
    "ping": _ping,
    "dns": _dns,
    "push": _push,
    "real-browser": _browser,
    "smtp": _smtp,
    "websocket-upgrade": _websocket,
}
