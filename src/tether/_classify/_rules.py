"""The one table: each exception class, by ``"package.ClassName"``, to the rule that reads it.

Classes are recognised by name, so no HTTP library is imported here, and the first
name along the MRO that has a row decides: the most derived rule wins.
"""

from __future__ import annotations

from tether._classify._clients import (
    POOL_TIMEOUT,
    aiohttp_connector,
    aiohttp_proxy_status,
    aiohttp_response,
    aiohttp_timeout,
    dnspython,
    max_retry,
    pool_exhausted,
    urllib3_aborted,
    urllib3_proxy,
)
from tether._classify._databases import (
    mongo,
    mysql,
    postgres,
    redis_connection,
    redis_reply,
    sqlalchemy,
)
from tether._classify._evidence import CONTEXT, LIBRARY, TIMEOUT, Rule, context, fixed
from tether._classify._http import (
    incomplete_read,
    parser_rule,
    remote_disconnected,
    response_status,
    url_error,
    url_invalid,
    value_error,
)
from tether._classify._origin import class_names
from tether._classify._services import (
    amqp_error,
    botocore_client,
    grpc_error,
    mail_reply,
    peer_closed,
    ssh_error,
    ssh_no_connection,
    websockets_status,
)
from tether._classify._services import (
    incomplete_read as stream_incomplete,
)
from tether._classify._sockets import cancelled, gaierror, os_error, overflow, timeout_error
from tether._classify._tls import end_of_stream, ssl_error, verify_error
from tether._kinds import Kind
from tether._parser_errors import PARSER_ERRORS

RULES: dict[str, Rule] = {
    # parsers' errors, from the table the probe reads too
    **{name: parser_rule for row in PARSER_ERRORS for name in row.classes},
    # stdlib
    "socket.gaierror": gaierror,
    "ssl.SSLCertVerificationError": verify_error,
    "ssl.CertificateError": verify_error,
    "ssl.SSLError": ssl_error,
    "builtins.TimeoutError": timeout_error,
    "asyncio.CancelledError": cancelled,
    "builtins.OSError": os_error,
    "http.RemoteDisconnected": remote_disconnected,
    "http.IncompleteRead": incomplete_read,
    "http.InvalidURL": url_invalid,
    "urllib.HTTPError": response_status,
    "urllib.URLError": url_error,
    "builtins.UnicodeError": value_error,
    "builtins.ValueError": value_error,
    "builtins.OverflowError": overflow,
    # anyio, under httpcore
    "anyio.EndOfStream": end_of_stream,
    # dnspython
    "dns.NXDOMAIN": dnspython(Kind.DNS_NOT_FOUND),
    "dns.NoAnswer": dnspython(Kind.DNS_NO_ADDRESS),
    "dns.NoNameservers": dnspython(Kind.DNS_UNAVAILABLE),
    "dns.LifetimeTimeout": dnspython(Kind.DNS_TIMEOUT),
    "dns.Timeout": dnspython(Kind.DNS_TIMEOUT),
    # urllib3 2.x (most derived first is automatic: the MRO decides)
    "urllib3.MaxRetryError": max_retry,
    "urllib3.ProxyError": urllib3_proxy,
    "urllib3.NameResolutionError": context("connect", kind=Kind.DNS_UNAVAILABLE),
    "urllib3.NewConnectionError": context("connect"),
    "urllib3.ConnectTimeoutError": context("connect", kind=TIMEOUT, strength=CONTEXT),
    "urllib3.ReadTimeoutError": context("read", kind=TIMEOUT, strength=CONTEXT),
    "urllib3.SSLError": context("tls", "connect"),
    "urllib3.IncompleteRead": incomplete_read,
    "urllib3.ProtocolError": urllib3_aborted,
    "urllib3.LocationValueError": url_invalid,
    "urllib3.URLSchemeUnknown": url_invalid,
    "urllib3.EmptyPoolError": pool_exhausted(POOL_TIMEOUT),
    "urllib3.FullPoolError": pool_exhausted(
        "the connection pool was already full when a connection came back to it",
        returned=True,
    ),
    # requests
    "requests.ProxyError": context("proxy"),
    "requests.SSLError": context("tls", "connect"),
    "requests.ConnectTimeout": context("connect", kind=TIMEOUT, strength=CONTEXT),
    "requests.ReadTimeout": context("read", kind=TIMEOUT, strength=CONTEXT),
    "requests.ChunkedEncodingError": context("read", kind=Kind.RESPONSE_TRUNCATED),
    "requests.ContentDecodingError": fixed(Kind.RESPONSE_MALFORMED, LIBRARY),
    "requests.TooManyRedirects": fixed(Kind.HTTP_REDIRECT_LOOP),
    "requests.InvalidURL": url_invalid,
    "requests.InvalidSchema": url_invalid,
    "requests.MissingSchema": url_invalid,
    "requests.URLRequired": url_invalid,
    "requests.HTTPError": response_status,
    # httpx and httpcore
    "httpx.ConnectTimeout": context("connect", kind=TIMEOUT, strength=CONTEXT),
    "httpcore.ConnectTimeout": context("connect", kind=TIMEOUT, strength=CONTEXT),
    "httpx.ReadTimeout": context("read", kind=TIMEOUT, strength=CONTEXT),
    "httpcore.ReadTimeout": context("read", kind=TIMEOUT, strength=CONTEXT),
    "httpx.WriteTimeout": context("write", kind=Kind.WRITE_TIMEOUT),
    "httpcore.WriteTimeout": context("write", kind=Kind.WRITE_TIMEOUT),
    "httpx.ConnectError": context("connect"),
    "httpcore.ConnectError": context("connect"),
    "httpx.ReadError": context("read"),
    "httpcore.ReadError": context("read"),
    "httpx.ProxyError": urllib3_proxy,
    "httpcore.ProxyError": urllib3_proxy,
    "httpx.UnsupportedProtocol": url_invalid,
    "httpcore.UnsupportedProtocol": url_invalid,
    "httpx.InvalidURL": url_invalid,
    "httpx.TooManyRedirects": fixed(Kind.HTTP_REDIRECT_LOOP),
    "httpx.HTTPStatusError": response_status,
    "httpx.DecodingError": fixed(Kind.RESPONSE_MALFORMED, LIBRARY),
    "httpx.PoolTimeout": pool_exhausted(POOL_TIMEOUT),
    "httpcore.PoolTimeout": pool_exhausted(POOL_TIMEOUT),
    # aiohttp
    "aiohttp.ClientConnectorCertificateError": aiohttp_connector("tls"),
    "aiohttp.ClientConnectorSSLError": aiohttp_connector("tls"),
    "aiohttp.ClientProxyConnectionError": aiohttp_connector("proxy"),
    "aiohttp.ClientConnectorDNSError": aiohttp_connector(),
    "aiohttp.ClientConnectorError": aiohttp_connector(),
    "aiohttp.ClientHttpProxyError": aiohttp_proxy_status,
    "aiohttp.ServerDisconnectedError": fixed(Kind.CONNECTION_CLOSED, LIBRARY),
    "aiohttp.ConnectionTimeoutError": aiohttp_timeout,
    "aiohttp.SocketTimeoutError": context("read", kind=Kind.READ_TIMEOUT, strength=LIBRARY),
    "aiohttp.ServerTimeoutError": context("read", kind=TIMEOUT, strength=CONTEXT),
    "aiohttp.ClientOSError": os_error,
    "aiohttp.ClientPayloadError": context("read", kind=Kind.RESPONSE_TRUNCATED),
    "aiohttp.TooManyRedirects": fixed(Kind.HTTP_REDIRECT_LOOP),
    "aiohttp.InvalidURL": url_invalid,
    "aiohttp.NonHttpUrlClientError": url_invalid,
    "aiohttp.ServerFingerprintMismatch": fixed(Kind.TLS_UNTRUSTED),
    "aiohttp.ClientResponseError": aiohttp_response,
    # asyncio's streams, read by the clients built on them (aiomysql, aiormq, asyncssh)
    "asyncio.IncompleteReadError": stream_incomplete,
    "builtins.EOFError": peer_closed,
    # databases and caches (_databases)
    "psycopg.Error": postgres,
    "psycopg2.Error": postgres,
    "asyncpg.PostgresError": postgres,
    "asyncpg.InterfaceError": postgres,
    "pymysql.MySQLError": mysql,
    "sqlalchemy.DBAPIError": sqlalchemy,
    "redis.ResponseError": redis_reply,
    "redis.AuthenticationError": fixed(Kind.DB_AUTH_FAILED),
    "redis.AuthenticationWrongNumberOfArgsError": fixed(Kind.DB_AUTH_FAILED),
    "redis.BusyLoadingError": fixed(Kind.SERVER_UNAVAILABLE),
    "redis.ReadOnlyError": fixed(Kind.DB_READ_ONLY),
    "redis.MasterDownError": fixed(Kind.SERVER_UNAVAILABLE),
    "redis.TryAgainError": fixed(Kind.SERVER_UNAVAILABLE),
    "redis.ClusterDownError": fixed(Kind.SERVER_UNAVAILABLE),
    "redis.MaxConnectionsError": fixed(Kind.CONNECT_RESOURCE_EXHAUSTED, LIBRARY),
    "redis.ConnectionError": redis_connection,
    "redis.TimeoutError": redis_connection,
    "pymongo.PyMongoError": mongo,
    # RPC, cloud SDKs, SSH, brokers, mail (_services)
    "grpc.RpcError": grpc_error,
    "botocore.ClientError": botocore_client,
    "websockets.InvalidStatus": websockets_status,
    "websockets.InvalidStatusCode": websockets_status,
    "websockets.ConnectionClosedError": peer_closed,
    "websockets.InvalidURI": url_invalid,
    "paramiko.NoValidConnectionsError": ssh_no_connection,
    "paramiko.SSHException": ssh_error,
    "asyncssh.DisconnectError": ssh_error,
    "pika.AMQPError": amqp_error,
    "pika.AMQPConnectorException": amqp_error,
    "aiormq.AMQPError": amqp_error,
    "smtplib.SMTPServerDisconnected": peer_closed,
    "smtplib.SMTPResponseException": mail_reply,
    "ftplib.Error": mail_reply,
    "imaplib.abort": mail_reply,
    "imaplib.error": mail_reply,
    "poplib.error_proto": mail_reply,
}


_rule_cache: dict[type, Rule | None] = {}


def rule_for(cls: type) -> Rule | None:
    try:
        return _rule_cache[cls]
    except KeyError:
        pass
    rule = next((r for name in class_names(cls) if (r := RULES.get(name)) is not None), None)
    _rule_cache[cls] = rule
    return rule
