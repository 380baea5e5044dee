"""Credential headers and the origin they belong to: the one rule for redirects.

A request's credentials go to the first URL's origin and nowhere else.  The probe
engine and the three integrations (requests, httpx, aiohttp) drop the same headers
when a redirect leaves it: those :func:`tether._redact.is_secret_name` calls secret
(``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``X-Api-Key``,
``X-Auth-Token``, and any name whose words say token, key, secret...: the list and
the words live there, with redaction, so that what is masked in a log and what stays
behind on a redirect are one set), and the names a caller adds
(``RetryPolicy.sensitive_headers``).
"""

from __future__ import annotations

from collections.abc import Collection, MutableMapping
from urllib.parse import urlsplit

from tether._redact import is_secret_name

Origin = tuple[str, str, int | None]
"""(scheme, host, port) in lower case, the port filled in for the schemes that have one."""

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def is_sensitive(name: str, extra: Collection[str] = ()) -> bool:
    """Does a request header called ``name`` carry a credential?  ``extra``: more names,
    in lower case."""
    return is_secret_name(name) or (bool(extra) and name.lower() in extra)


def origin(scheme: str, host: str | None, port: int | None) -> Origin:
    """The origin of a URL given in parts: ``http://h`` and ``HTTP://H:80`` are one."""
    scheme = scheme.lower()
    return scheme, (host or "").lower(), _DEFAULT_PORTS.get(scheme) if port is None else port


def same_origin(url: str, other: str) -> bool:
    """Do two URLs share scheme, host and port?  Not when either cannot be read."""
    first, second = _url_origin(url), _url_origin(other)
    return first is not None and first == second


def _url_origin(url: str) -> Origin | None:
    try:
        parts = urlsplit(url)
        return origin(parts.scheme, parts.hostname, parts.port)
    except ValueError:  # a port out of range, a bracket left open
        return None


def drop_sensitive(
    headers: MutableMapping[str, str], extra: Collection[str] = (), *, keep: Collection[str] = ()
) -> None:
    """Remove every credential header from ``headers``, in place, but those in ``keep``
    (lower case): a header the client library itself rebuilds for each hop."""
    doomed = {n.lower(): n for n in headers if is_sensitive(n, extra) and n.lower() not in keep}
    for name in doomed.values():
        if name in headers:  # a multidict lists a repeated name more than once
            del headers[name]
