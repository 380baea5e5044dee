"""What tether can check, scheme by scheme: the one table of them (STYLE.md, "One
registry of capabilities"), as blackbox_exporter keeps one table of its probers.

The probe engine reads it (the schemes a URL may have, the extra a check needs), and so
do the monitor's configuration (which options fit a scheme, :mod:`tether.monitor.config.
_capabilities`), ``tether check-config`` and the agents (what this installation cannot
run, and why), the importers (what another tool's check becomes here, or why nothing)
and the docs' tables (tests/docs/test_capability_tables.py holds them to it).  A scheme
added to tether is a row here first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from tether import _extras

__all__ = [
    "FEATURES",
    "SCHEMES",
    "CheckFamily",
    "Feature",
    "Scheme",
    "feature_lacking",
    "find_scheme",
    "listed_schemes",
    "scheme_lacking",
    "scheme_names",
]

CheckFamily = Literal[
    "http", "websocket", "tcp", "tls", "ssh", "smtp", "grpc", "dns", "icmp", "database"
]


@dataclass(frozen=True, slots=True)
class Scheme:
    """One scheme a monitor's ``url`` (and ``tether diagnose``'s target) may have."""

    name: str
    check: CheckFamily
    """The check it makes: schemes of one family share a prober and their options."""
    certificate: bool
    """Whether its check may meet a certificate, so that ``tls:`` applies (TLS from the
    start, STARTTLS, or a database's own TLS)."""
    extra: str | None = None
    """The optional extra its check needs beyond the core (``pip install 'tether[EXTRA]'``)."""
    alias_of: str | None = None
    """Another spelling of that scheme (``postgres`` of ``postgresql``): not listed in hints."""
    http_versions: tuple[str, ...] = ()
    """The HTTP versions a check of it may speak (``http_version:``), for the http family."""

    @property
    def walked(self) -> bool:
        """Whether its check takes the walk (URL, proxy, DNS, connect...) of
        :func:`tether.probe.parse_target`; ``dns://`` is a probe of its own."""
        return self.check != "dns"


SCHEMES: Final[tuple[Scheme, ...]] = (
    Scheme("http", "http", False, http_versions=("1.1",)),
    Scheme("https", "http", True, http_versions=("1.1", "3", "auto")),
    Scheme("ws", "websocket", False, extra="ws"),
    Scheme("wss", "websocket", True, extra="ws"),
    Scheme("tcp", "tcp", False),
    Scheme("tls", "tls", True),
    Scheme("dns", "dns", False),
    Scheme("ssh", "ssh", False),
    Scheme("smtp", "smtp", True),  # STARTTLS, when offered or required
    Scheme("smtps", "smtp", True),
    Scheme("grpc", "grpc", False, extra="grpc"),
    Scheme("grpcs", "grpc", True, extra="grpc"),
    Scheme("icmp", "icmp", False),
    Scheme("postgresql", "database", True, extra="postgres"),  # sslmode=
    Scheme("postgres", "database", True, extra="postgres", alias_of="postgresql"),
    Scheme("mysql", "database", True, extra="mysql"),  # ssl=true
    Scheme("mariadb", "database", True, extra="mysql"),
    Scheme("redis", "database", True),  # tether speaks RESP itself: no extra
    Scheme("rediss", "database", True),
)
"""Every scheme, in the order the hints list them."""

_BY_NAME: Final[Mapping[str, Scheme]] = MappingProxyType({s.name: s for s in SCHEMES})


@dataclass(frozen=True, slots=True)
class Feature:
    """An option of a check that needs an extra of its own, whatever its scheme."""

    what: str
    """The check, as a line naming what to install says it: ``an HTTP/3 check``."""
    extra: str
    written: str
    """How a monitor asks for it: ``http_version: 3`` (for the docs' table)."""


FEATURES: Final[Mapping[str, Feature]] = MappingProxyType(
    {
        "http3": Feature("an HTTP/3 check", "http3", "http_version: 3 or auto"),
        "dnssec": Feature("a dns:// check with dnssec", "dnssec", "dns: {dnssec: true}"),
        "browser": Feature("a browser check", "browser", "browser:"),
    }
)


def find_scheme(name: str) -> Scheme | None:
    """The scheme called ``name`` (any case), or None when tether has no check of it."""
    return _BY_NAME.get(name.lower())


def scheme_names(*, walked: bool | None = None) -> tuple[str, ...]:
    """Every scheme's name (only those the walk takes, with ``walked=True``)."""
    return tuple(s.name for s in SCHEMES if walked is None or s.walked == walked)


def listed_schemes(*, walked: bool | None = None) -> tuple[str, ...]:
    """The schemes a hint lists: every one but another's alias."""
    return tuple(
        s.name for s in SCHEMES if s.alias_of is None and (walked is None or s.walked == walked)
    )


def scheme_lacking(name: str) -> str | None:
    """One line naming what to install for a ``name://`` check, or None (nothing is
    missing, or it is no scheme of tether's)."""
    found = find_scheme(name)
    if found is None or found.extra is None:
        return None
    return _extras.problem(f"a {found.name}:// check", found.extra)


def feature_lacking(name: str) -> str | None:
    """One line naming what to install for :data:`FEATURES`'s ``name``, or None."""
    feature = FEATURES[name]
    return _extras.problem(feature.what, feature.extra)
