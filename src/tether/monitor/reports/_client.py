"""The write API from the command line: ``tether pause``, ``resume``, ``check``, ``note``,
``maintenance start|end|list`` and ``tether ack --server`` send one request to a running
``tether monitor`` (``_actions.py``) with the standard library's HTTP client.

Every failure is one line and one exit code (:data:`REMOTE_EXIT_CODES`): the server cannot be
reached, the token is missing or refused, the target does not exist or the input is
wrong.  The token travels in ``Authorization: Bearer`` only, and never appears in a
message: errors quote the server's own error text, which names no credential.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlsplit

from tether._hostport import join_hostport
from tether._redact import redact_url

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_DENIED",
    "EXIT_UNREACHABLE",
    "REMOTE_EXIT_CODES",
    "RemoteError",
    "monitor_api_path",
    "remote_request",
    "server_url",
]

EXIT_BAD_INPUT: Final = 2
"""400, 404, 409: the monitor, incident or window does not exist, or the input is wrong."""
EXIT_UNREACHABLE: Final = 3
"""No server answers at the address (not running, wrong address), or it answered no JSON."""
EXIT_DENIED: Final = 4
"""401 or 403: no token, a token without ``write``, or a refused origin."""
REMOTE_EXIT_CODES: Final = {
    400: EXIT_BAD_INPUT,
    404: EXIT_BAD_INPUT,
    409: EXIT_BAD_INPUT,
    401: EXIT_DENIED,
    403: EXIT_DENIED,
}
"""The exit code for each HTTP status that is not a success (others: 1)."""
TIMEOUT: Final = 60.0
"""Seconds to wait for an answer (a check asked for waits for the probe)."""


@dataclass(frozen=True, slots=True)
class RemoteError(Exception):
    """What went wrong, in one line, and the exit code that says which kind of wrong."""

    message: str
    code: int

    def __str__(self) -> str:
        return self.message


def server_url(given: str | None, env: Mapping[str, str], listen: str | None) -> str:
    """Where the monitor's server is: ``--server``, else ``$TETHER_SERVER``, else the
    configuration's ``server.listen`` (a wildcard address reached on loopback).  ``http://``
    is added to a bare ``HOST:PORT``."""
    url = given or env.get("TETHER_SERVER") or None
    if url is None:
        from tether._hostport import split_hostport

        host, port = split_hostport(listen or "127.0.0.1:8800", allow_zero=True)
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        url = join_hostport(host, port)
    if "://" not in url:
        url = "http://" + url
    return url.rstrip("/")


def monitor_api_path(name: str, action: str) -> str:
    """The API path of ``action`` on monitor ``name`` (any character of a name survives)."""
    return f"/api/monitors/{quote(name, safe='')}/{action}"


def remote_request(
    server: str,
    method: str,
    path: str,
    body: Mapping[str, Any] | None = None,
    *,
    token: str | None = None,
    timeout: float = TIMEOUT,
) -> tuple[int, dict[str, Any]]:
    """Send one request; the status and the JSON answer of a success.  Raises
    :class:`RemoteError` for anything else."""
    shown = redact_url(server)
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(f"--server {shown}: give http://HOST:PORT", EXIT_BAD_INPUT)
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    sent = urllib.request.Request(server + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(sent, timeout=timeout) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
        exc.close()
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, socket.timeout | TimeoutError):
            why = f"no answer within {timeout:g} s"
        else:
            why = getattr(reason, "strerror", None) or str(reason)
        raise RemoteError(
            f"cannot reach tether monitor at {shown}: {why} (is it running? --server, "
            "$TETHER_SERVER)",
            EXIT_UNREACHABLE,
        ) from None
    try:
        doc = json.loads(raw) if raw else {}
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise RemoteError(
            f"{shown} answered {status} without JSON: is it tether monitor?", EXIT_UNREACHABLE
        )
    if status >= 400:
        error = str(doc.get("error") or f"the server answered {status}")
        if status == 401 and not token:
            error += " (--token, $TETHER_TOKEN)"
        raise RemoteError(error, REMOTE_EXIT_CODES.get(status, 1))
    return status, doc
