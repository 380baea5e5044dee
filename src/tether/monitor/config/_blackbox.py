"""``modules:``: blackbox_exporter's modules, as a ``blackbox.yml`` writes them, for
``/probe?module=NAME``.

The subset tether can honour is taken as written.  A module that needs what tether does
not honour (``query_response``, ``fail_if_body_matches_regexp``...)
is kept as *unavailable*, with the reason: the file loads as it is, ``check-config`` and
the monitor's start warn, and ``/probe?module=NAME`` answers 400 saying why (a probe
that silently ignored ``fail_if_body_matches_regexp`` would pass where the exporter
fails).  In a module tether runs, a key neither knows is an unknown key and a bad value
a bad value, as anywhere else in the file; an unavailable module's options are not read.
Without a ``modules:`` section the modules of blackbox_exporter's example
``blackbox.yml`` that tether can run are there (:data:`DEFAULT_MODULES`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from tether._rcodes import HeaderRcode
from tether._redact import redact_headers
from tether.monitor.config._errors import fail, show
from tether.monitor.config._fields import Headers, Method, PositiveDuration, Whole, one_or_many

PROBERS: Final = ("http", "tcp", "dns", "icmp", "grpc")
"""The probers tether runs: all of blackbox_exporter's."""

_REFUSED_PROBERS: Final[Mapping[str, str]] = {}
"""A prober tether does not run, and why: kept unavailable, not refused (none today)."""

_UNSUPPORTED: Final[Mapping[str, frozenset[str]]] = {
    # blackbox_exporter's options (its CONFIGURATION.md) that tether does not honour.
    "http": frozenset(
        {
            "compression",
            "fail_if_header_matches",
            "fail_if_header_not_matches",
            "fail_if_body_matches_regexp",
            "fail_if_body_not_matches_regexp",
            "fail_if_body_json_matches_cel",
            "fail_if_body_json_not_matches_cel",
            "body",
            "body_file",
            "body_size_limit",
            "basic_auth",
            "bearer_token",
            "bearer_token_file",
            "authorization",
            "oauth2",
            "proxy_url",
            "no_proxy",
            "proxy_from_environment",
            "proxy_connect_header",
            "skip_resolve_phase_with_proxy",
            "source_ip_address",
            "http_client_config",
        }
    ),
    "tcp": frozenset({"query_response", "source_ip_address"}),
    "icmp": frozenset({"source_ip_address", "dont_fragment", "ttl"}),
    "dns": frozenset(
        {
            "transport_protocol",
            "source_ip_address",
            "dns_over_tls",
            "tls_config",
            "validate_authority_rrs",
            "validate_additional_rrs",
            "validate_answer_rrs",
            "query_class",
        }
    ),
    "tls_config": frozenset(
        {"cert_file", "key_file", "server_name", "min_version", "max_version", "ca"}
    ),
}


class _Section(BaseModel):
    """Frozen, no unknown keys, headers masked in the repr; blackbox_exporter's options
    tether does not honour refused by name."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    _options: ClassVar[str] = ""
    """Which list of :data:`_UNSUPPORTED` applies."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, data: object) -> object:
        refused = _UNSUPPORTED.get(cls._options, frozenset())
        if isinstance(data, dict):
            for key in data:
                if key in refused:
                    raise fail(
                        f"{key}: blackbox_exporter's option is not supported by tether; "
                        f"supported: {', '.join(sorted(cls.model_fields))}"
                    )
        return data

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, redact_headers(value) if name == "headers" else value


class TlsConfig(_Section):
    """``tls_config``: what the certificate is checked against."""

    _options: ClassVar[str] = "tls_config"
    insecure_skip_verify: bool = False
    """The user's choice, written in the file: go on past a failed verification (the
    certificate's expiry is still reported).  tether never turns verification off itself."""
    ca_file: Annotated[str, Field(min_length=1)] | None = None
    """Also trust the certificate authorities in this PEM file."""


IpProtocol = Literal["ip4", "ip6"]


class HttpModule(_Section):
    """``http:`` of a module whose prober is http."""

    _options: ClassVar[str] = "http"
    valid_status_codes: Annotated[
        tuple[Annotated[int, Whole, Field(ge=100, le=599)], ...], BeforeValidator(one_or_many)
    ] = ()
    """Empty: any 2xx, as blackbox_exporter."""
    valid_http_versions: Annotated[
        tuple[Literal["HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/3.0"], ...],
        BeforeValidator(one_or_many),
    ] = ()
    enable_http3: bool = False
    """Ask over HTTP/3 (QUIC) instead, an ``http://`` target as ``https://``, as
    blackbox_exporter does; the check needs ``tether[http3]``."""
    enable_http2: bool = True
    """blackbox_exporter's offer of HTTP/2: tether's probe speaks HTTP/1.1 (or HTTP/3), so
    ``true`` and ``false`` alike are what it does (``valid_http_versions: [HTTP/2.0]``
    fails)."""
    method: Method = "GET"
    headers: Headers = Field(default_factory=dict)
    follow_redirects: bool = True
    no_follow_redirects: bool | None = None
    """blackbox_exporter's older spelling: true means ``follow_redirects: false``."""
    fail_if_ssl: bool = False
    fail_if_not_ssl: bool = False
    tls_config: TlsConfig = Field(default_factory=TlsConfig)
    preferred_ip_protocol: IpProtocol = "ip6"
    ip_protocol_fallback: bool = True

    @model_validator(mode="after")
    def _http3_alone(self) -> HttpModule:
        # blackbox_exporter's own rules (config/config.go, HTTPProbe.UnmarshalYAML).
        versions = set(self.valid_http_versions)
        if "HTTP/3.0" in versions and not self.enable_http3:
            raise fail("valid_http_versions: HTTP/3.0 needs enable_http3: true")
        if self.enable_http3 and versions - {"HTTP/3.0"}:
            raise fail(
                "valid_http_versions: with enable_http3: true only HTTP/3.0 can be valid, "
                "as blackbox_exporter says"
            )
        return self

    @property
    def follows(self) -> bool:
        """Whether redirects are followed (``no_follow_redirects`` wins when given)."""
        if self.no_follow_redirects is not None:
            return not self.no_follow_redirects
        return self.follow_redirects


class TcpModule(_Section):
    """``tcp:`` of a module whose prober is tcp."""

    _options: ClassVar[str] = "tcp"
    tls: bool = False
    """Make a TLS handshake once connected (the certificate's expiry is then reported)."""
    tls_config: TlsConfig = Field(default_factory=TlsConfig)
    preferred_ip_protocol: IpProtocol = "ip6"
    ip_protocol_fallback: bool = True


class IcmpModule(_Section):
    """``icmp:`` of a module whose prober is icmp: one echo request to the target."""

    _options: ClassVar[str] = "icmp"
    preferred_ip_protocol: IpProtocol = "ip6"
    ip_protocol_fallback: bool = True
    payload_size: Annotated[int, Whole, Field(ge=0, le=65000)] = 0
    """Bytes after the ICMP header (blackbox_exporter's default sends its own short text;
    tether sends at least its 8-byte token)."""


RecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "PTR", "SRV", "CAA", "ANY"]


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class DnsModule(_Section):
    """``dns:`` of a module whose prober is dns: the target is the DNS server asked."""

    _options: ClassVar[str] = "dns"
    query_name: Annotated[str, Field(min_length=1)]
    query_type: Annotated[RecordType, BeforeValidator(_upper)] = "ANY"
    valid_rcodes: Annotated[
        tuple[Annotated[HeaderRcode, BeforeValidator(_upper)], ...],
        BeforeValidator(one_or_many),
        Field(min_length=1),
    ] = ("NOERROR",)
    recursion_desired: bool = True
    preferred_ip_protocol: IpProtocol = "ip6"
    ip_protocol_fallback: bool = True


class GrpcModule(_Section):
    """``grpc:`` of a module whose prober is grpc: the standard health check of ``service``
    (empty: the server as a whole)."""

    _options: ClassVar[str] = "grpc"
    service: str = ""
    tls: bool = False
    """Call over TLS (ALPN h2, the certificate verified) rather than plaintext HTTP/2."""
    tls_config: TlsConfig = Field(default_factory=TlsConfig)
    preferred_ip_protocol: IpProtocol = "ip6"
    ip_protocol_fallback: bool = True

    @field_validator("service")
    @classmethod
    def _one_service_name(cls, value: str) -> str:
        if "/" in value or "%" in value:
            raise fail(f"{show(value)} is not a gRPC service name, as in pkg.v1.Service")
        return value


class BlackboxModule(BaseModel):
    """One module of ``modules:``: its prober, its timeout, and the prober's options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prober: str
    timeout: PositiveDuration | None = None
    """The probe's time at most (the scrape's timeout, less half a second, caps it)."""
    http: HttpModule = Field(default_factory=HttpModule)
    tcp: TcpModule = Field(default_factory=TcpModule)
    icmp: IcmpModule = Field(default_factory=IcmpModule)
    grpc: GrpcModule = Field(default_factory=GrpcModule)
    dns: DnsModule | None = None
    unavailable: str | None = None
    """Why tether cannot run this module as written (None: it can): what it needs that
    tether does not honour.  Set when the file is read; ``/probe`` answers 400 with it."""

    @model_validator(mode="before")
    @classmethod
    def _known_prober(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        prober = data.get("prober")
        if prober is None:
            raise fail(f"prober is required: {', '.join(PROBERS)}")
        if not isinstance(prober, str):
            raise fail(f"prober: {show(prober)} is not one of {', '.join(PROBERS)}")
        if prober in _REFUSED_PROBERS:
            return _unavailable(data, f"prober {prober}: {_REFUSED_PROBERS[prober]}")
        if prober not in PROBERS:
            raise fail(f"prober {prober!s} is not one of {', '.join(PROBERS)}")
        for other in _REFUSED_PROBERS:
            if other in data:
                raise fail(f"{other}: tether does not run the {other} prober")
        needs = _needs(prober, data.get(prober))
        if needs:
            return _unavailable(
                data, f"tether does not honour blackbox_exporter's {', '.join(needs)}"
            )
        if prober == "dns" and data.get("dns") is None:
            raise fail("dns.query_name is required with prober: dns")
        return data


def _needs(prober: str, section: object) -> list[str]:
    """The options of ``section`` (a module's ``http:``, ``tcp:``...) that tether does not
    honour, as ``tcp.query_response``."""
    if not isinstance(section, dict):
        return []
    needs = [f"{prober}.{key}" for key in section if key in _UNSUPPORTED.get(prober, ())]
    headers = section.get("headers")
    if prober == "http" and isinstance(headers, dict):
        # blackbox_exporter's virtual host: tether sends the target's own host as Host
        # (and each redirect's its own), as a monitor does, and never another.
        needs += [f"http.headers.{k}" for k in headers if str(k).lower() == "host"]
    tls = section.get("tls_config")
    if isinstance(tls, dict):
        needs += [f"{prober}.tls_config.{k}" for k in tls if k in _UNSUPPORTED["tls_config"]]
    return needs


def _unavailable(data: dict[str, Any], reason: str) -> dict[str, Any]:
    """An unavailable module: its prober, its timeout (checked as any other) and why; the
    prober's options are not read."""
    kept: dict[str, Any] = {key: data[key] for key in ("prober", "timeout") if key in data}
    return {**kept, "unavailable": reason}


DEFAULT_MODULES: Final[Mapping[str, BlackboxModule]] = {
    # blackbox_exporter's example blackbox.yml (the Debian package's default), less the
    # modules that need what tether does not honour (query_response, icmp.ttl).
    "http_2xx": BlackboxModule(prober="http"),
    "http_post_2xx": BlackboxModule(prober="http", http=HttpModule(method="POST")),
    "tcp_connect": BlackboxModule(prober="tcp"),
    "icmp": BlackboxModule(prober="icmp"),
    "grpc": BlackboxModule(prober="grpc", grpc=GrpcModule(tls=True, preferred_ip_protocol="ip4")),
    "grpc_plain": BlackboxModule(prober="grpc", grpc=GrpcModule(service="service1")),
}


def honoured_part(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A module as written, split in two: what tether honours (a module to validate) and
    the options it does not (``{"http.fail_if_body_matches_regexp": [...]}``), for the
    importer, which carries a monitor with the first and says, monitor by monitor, what
    became of the second (``/probe?module=`` still refuses the whole module)."""
    prober = data.get("prober")
    section = data.get(prober) if isinstance(prober, str) else None
    if not isinstance(section, Mapping):
        return dict(data), {}
    refused = _UNSUPPORTED.get(str(prober), frozenset())
    kept = {k: v for k, v in section.items() if k not in refused}
    dropped = {f"{prober}.{k}": v for k, v in section.items() if k in refused}
    headers = kept.get("headers")
    if prober == "http" and isinstance(headers, Mapping):
        kept["headers"] = {k: v for k, v in headers.items() if str(k).lower() != "host"}
        dropped |= {f"http.headers.{k}": v for k, v in headers.items() if str(k).lower() == "host"}
    tls = kept.get("tls_config")
    if isinstance(tls, Mapping):
        kept["tls_config"] = {k: v for k, v in tls.items() if k not in _UNSUPPORTED["tls_config"]}
        dropped |= {
            f"{prober}.tls_config.{k}": v for k, v in tls.items() if k in _UNSUPPORTED["tls_config"]
        }
    return {**data, str(prober): kept}, dropped
