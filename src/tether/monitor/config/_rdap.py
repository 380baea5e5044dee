"""A monitor's ``rdap`` options: where ``[DOMAIN_EXPIRATION]`` is looked up (RFC 9224's
bootstrap, RFC 9083's answers), how long what was found is kept, and which domain."""

from __future__ import annotations

from typing import Annotated, Final
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from tether._hostport import is_loopback
from tether._redact import redact_url
from tether.monitor.config._base import _Model
from tether.monitor.config._errors import KeyPath, Problem, fail, show
from tether.monitor.config._fields import PositiveDuration

__all__ = ["IANA_BOOTSTRAP", "RdapOptions", "rdap_problems"]

IANA_BOOTSTRAP: Final = "https://data.iana.org/rdap/dns.json"
"""IANA's bootstrap file for domain names (RFC 9224)."""


def _check_source(value: str) -> str:
    """An ``https://`` URL, an ``http://`` one only to loopback, or a file's name."""
    if "://" not in value:
        if not value.strip():
            raise fail("is empty: give an https:// URL or a file of RFC 9224's JSON")
        return value
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return value
    raise fail(
        f"{show(redact_url(value))}: give an https:// URL (http:// only to loopback) "
        "or a file's name"
    )


def _check_domain(value: str) -> str:
    labels = value.lower().rstrip(".").split(".")
    if len(labels) < 2 or not all(labels) or any(" " in label for label in labels):
        raise fail(f"{show(value)} is not a registered domain name, as in corp.test")
    return value.lower().rstrip(".")


class RdapOptions(_Model):
    """Where a monitor's ``[DOMAIN_EXPIRATION]`` comes from (docs/monitor.md, "Domain
    expiry"); set once for all under ``defaults:``."""

    domain: Annotated[str, AfterValidator(_check_domain)] | None = None
    """The registered domain to look up; default: the monitor's host name less its
    labels below the longest suffix the bootstrap lists, plus one."""
    bootstrap: Annotated[str, Field(min_length=1), AfterValidator(_check_source)] = IANA_BOOTSTRAP
    """RFC 9224's ``dns.json``: a URL (fetched over verified TLS) or a file."""
    refresh: PositiveDuration = 86400.0
    """How long a fetched bootstrap is used before it is fetched again (a failed fetch
    keeps the last good one, and is tried again after 5 minutes)."""
    cache: PositiveDuration = 6 * 3600.0
    """How long a domain's answer (its expiry, or that it has none) is kept."""


def rdap_problems(
    conditions: tuple[str, ...], url: str, rdap: RdapOptions | None, at: KeyPath
) -> list[Problem]:
    """``[DOMAIN_EXPIRATION]`` on a monitor whose host is an address needs ``rdap.domain``."""
    import ipaddress

    uses = [i for i, text in enumerate(conditions) if "[DOMAIN_EXPIRATION]" in text]
    if not uses or (rdap is not None and rdap.domain is not None):
        return []
    from tether.probe import InvalidTarget, parse_target

    try:
        host = url.split("://", 1)[1] if url.startswith("dns://") else parse_target(url).host
        ipaddress.ip_address(host.strip("[]"))
    except (InvalidTarget, ValueError, IndexError):
        return []  # a name (or the url's own error, said at its key)
    return [
        (
            (*at, "conditions", i),
            f"[DOMAIN_EXPIRATION] needs a domain name, and {host} is an address: set rdap.domain",
        )
        for i in uses
    ]
