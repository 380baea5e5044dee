"""The failure taxonomy: stable kind codes and the layer each belongs to.

The codes are a public contract: they are documented, stored by the monitor,
matched by users' code, and never renamed. New kinds may be added.

    url ........ url.invalid
    proxy ...... proxy.unreachable, proxy.auth_required, proxy.rejected
    dns ........ dns.not_found, dns.no_address, dns.unavailable, dns.timeout
    connect .... connect.refused, connect.timeout, connect.unreachable,
                 connect.resource_exhausted
    tls ........ tls.expired, tls.hostname_mismatch, tls.self_signed,
                 tls.untrusted, tls.protocol, tls.timeout
    request .... connection.reset, connection.closed, connection.broken_pipe,
                 connection.aborted, write.timeout, unknown
    response ... read.timeout, response.truncated, response.malformed,
                 response.too_large
    http ....... http.redirect_loop, http.rate_limited, http.client_error,
                 http.server_error
    app ........ browser.step_failed, browser.page_error, grpc.not_serving, grpc.status,
                 db.auth_failed, db.unknown_database, db.read_only,
                 db.too_many_connections, db.query_failed, auth.failed,
                 server.unavailable (the protocols above the connection: browsers,
                 gRPC, databases, caches, brokers, SSH and mail)
    policy ..... deadline.exceeded, circuit.open, bulkhead.full, throttle.rejected,
                 heartbeat.missed
"""

from __future__ import annotations

import enum


class Layer(enum.StrEnum):
    """Where along URL → proxy → DNS → TCP → TLS → HTTP a failure happened."""

    URL = "url"
    PROXY = "proxy"
    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    REQUEST = "request"
    RESPONSE = "response"
    HTTP = "http"
    APP = "app"
    """The protocol a check speaks above its connection, other than HTTP's status: a
    gRPC status, a database's or a cache's answer, a page in a browser."""
    POLICY = "policy"

    def __str__(self) -> str:
        return self.value


class Kind(enum.StrEnum):
    """What went wrong, as a stable code such as ``"connect.refused"``."""

    URL_INVALID = "url.invalid"

    PROXY_UNREACHABLE = "proxy.unreachable"
    PROXY_AUTH_REQUIRED = "proxy.auth_required"
    PROXY_REJECTED = "proxy.rejected"

    DNS_NOT_FOUND = "dns.not_found"
    DNS_NO_ADDRESS = "dns.no_address"
    DNS_UNAVAILABLE = "dns.unavailable"
    DNS_TIMEOUT = "dns.timeout"
    DNS_DNSSEC_BOGUS = "dns.dnssec_bogus"
    DNS_DNSSEC_EXPIRED = "dns.dnssec_expired"
    DNS_DNSSEC_INSECURE = "dns.dnssec_insecure"

    CONNECT_REFUSED = "connect.refused"
    CONNECT_TIMEOUT = "connect.timeout"
    CONNECT_UNREACHABLE = "connect.unreachable"
    CONNECT_RESOURCE_EXHAUSTED = "connect.resource_exhausted"

    TLS_EXPIRED = "tls.expired"
    TLS_HOSTNAME_MISMATCH = "tls.hostname_mismatch"
    TLS_SELF_SIGNED = "tls.self_signed"
    TLS_UNTRUSTED = "tls.untrusted"
    TLS_PROTOCOL = "tls.protocol"
    TLS_TIMEOUT = "tls.timeout"

    CONNECTION_RESET = "connection.reset"
    CONNECTION_CLOSED = "connection.closed"
    CONNECTION_BROKEN_PIPE = "connection.broken_pipe"
    CONNECTION_ABORTED = "connection.aborted"
    WRITE_TIMEOUT = "write.timeout"

    READ_TIMEOUT = "read.timeout"
    DEADLINE_EXCEEDED = "deadline.exceeded"

    RESPONSE_TRUNCATED = "response.truncated"
    RESPONSE_MALFORMED = "response.malformed"
    RESPONSE_TOO_LARGE = "response.too_large"

    HTTP_REDIRECT_LOOP = "http.redirect_loop"
    HTTP_RATE_LIMITED = "http.rate_limited"
    HTTP_CLIENT_ERROR = "http.client_error"
    HTTP_SERVER_ERROR = "http.server_error"

    BROWSER_STEP_FAILED = "browser.step_failed"
    BROWSER_PAGE_ERROR = "browser.page_error"
    GRPC_NOT_SERVING = "grpc.not_serving"
    GRPC_STATUS = "grpc.status"
    DB_AUTH_FAILED = "db.auth_failed"
    DB_UNKNOWN_DATABASE = "db.unknown_database"
    DB_READ_ONLY = "db.read_only"
    DB_TOO_MANY_CONNECTIONS = "db.too_many_connections"
    DB_QUERY_FAILED = "db.query_failed"
    AUTH_FAILED = "auth.failed"
    SERVER_UNAVAILABLE = "server.unavailable"

    CIRCUIT_OPEN = "circuit.open"
    BULKHEAD_FULL = "bulkhead.full"
    THROTTLE_REJECTED = "throttle.rejected"
    HEARTBEAT_MISSED = "heartbeat.missed"

    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value
