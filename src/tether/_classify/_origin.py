"""Where an exception came from, and what its class is called.

Message text is matched only on exceptions from the clients whose messages are known.
A builtin exception (OSError, ValueError, TimeoutError) says nothing of its source but
by its traceback: the function that raised it.
"""

from __future__ import annotations

_HTTP_PACKAGES = frozenset({"aiohttp", "dns", "h11", "httpcore", "httpx", "requests", "urllib3"})
# The other clients a service calls (databases, caches, RPC, cloud SDKs, SSH, brokers):
# their messages are known too (tether._classify._databases and _services read them).
_SERVICE_PACKAGES = frozenset(
    {
        "aio_pika",
        "aiobotocore",
        "aiomysql",
        "aiormq",
        "asyncpg",
        "asyncssh",
        "boto3",
        "botocore",
        "grpc",
        "paramiko",
        "pika",
        "psycopg",
        "psycopg2",
        "pymongo",
        "pymysql",
        "redis",
        "sqlalchemy",
        "websockets",
    }
)
_CLIENT_PACKAGES = _HTTP_PACKAGES | _SERVICE_PACKAGES
_CLIENT_MODULES = frozenset(
    {
        "http.client",
        "smtplib",
        "ftplib",
        "imaplib",
        "poplib",
        "urllib.error",
        "urllib.request",
        "socket",
        "ssl",
        "asyncio.selector_events",
        "asyncio.proactor_events",
        "asyncio.streams",
        "asyncio.sslproto",
    }
)
# asyncio's event loop runs everything: only these of its functions are a client's.
_ASYNCIO_CLIENT = frozenset(
    ("asyncio.base_events", name)
    for name in (
        "create_connection",
        "_connect_sock",
        "_create_connection_transport",
        "start_tls",
        "getaddrinfo",
        "_ensure_resolved",
        "sock_connect",
        "sock_recv",
        "sock_sendall",
    )
)
# Helpers a client calls, which raise on its behalf: the caller is the source.
_HELPERS = ("urllib.parse", "encodings", "codecs", "idna", "ipaddress")

Frame = tuple[str, str]


def client_class(cls: type) -> bool:
    known = _client_class_cache.get(cls)
    if known is None:
        module = cls.__module__
        known = module.partition(".")[0] in _CLIENT_PACKAGES or module in _CLIENT_MODULES
        _client_class_cache[cls] = known
    return known


_client_class_cache: dict[type, bool] = {}


def client_code(frame: Frame | None) -> bool:
    if frame is None:
        return False
    module = frame[0]
    return (
        module.partition(".")[0] in _CLIENT_PACKAGES
        or module in _CLIENT_MODULES
        or frame in _ASYNCIO_CLIENT
    )


def traceback_frames(exc: BaseException) -> list[Frame]:
    """(module, function) of each frame of the traceback, the raising one last."""
    frames: list[Frame] = []
    tb = exc.__traceback__
    while tb is not None and len(frames) < 200:
        code = tb.tb_frame.f_code
        frames.append((str(tb.tb_frame.f_globals.get("__name__", "")), code.co_name))
        tb = tb.tb_next
    return frames


def raised_at(exc: BaseException) -> Frame | None:
    """The frame that raised ``exc``, past the helpers that raised for their caller."""
    for frame in reversed(traceback_frames(exc)):
        module = frame[0]
        if not any(module == h or module.startswith(h + ".") for h in _HELPERS):
            return frame
    return None


def chain_functions(exc: BaseException) -> set[str]:
    """The names of the functions ``exc`` passed through, and those of what caused it."""
    names: set[str] = set()
    node: BaseException | None = exc
    for _ in range(4):
        if node is None:
            break
        names.update(function for _, function in traceback_frames(node))
        node = node.__cause__ or node.__context__
    return names


def class_names(cls: type) -> list[str]:
    """``cls`` and its bases as the rules name them: ``"urllib3.NewConnectionError"``."""
    names = _names_cache.get(cls)
    if names is None:
        names = [f"{k.__module__.partition('.')[0]}.{k.__name__}" for k in cls.__mro__]
        _names_cache[cls] = names
    return names


_names_cache: dict[type, list[str]] = {}


# A client's functions that open its connection or read its server's greeting: a failure
# raised through one of them happened before any query, command or call was sent.  Keyed by
# (top-level package or module, function).
_OPENING = frozenset(
    {
        ("psycopg", "connect"),
        ("psycopg2", "connect"),
        ("asyncpg", "connect"),
        ("asyncpg", "_connect"),
        ("asyncpg", "_connect_addr"),
        ("asyncpg", "__connect_addr"),
        ("pymysql", "connect"),
        ("pymysql", "_get_server_information"),
        ("pymysql", "_request_authentication"),
        ("aiomysql", "_connect"),
        ("aiomysql", "_get_server_information"),
        ("aiomysql", "_request_authentication"),
        ("redis", "connect"),
        ("redis", "on_connect"),
        ("redis", "_connect"),
        ("pymongo", "_configured_socket"),
        ("pymongo", "_create_connection"),
        ("asyncssh", "connect"),
        ("asyncssh", "_connect"),
        ("paramiko", "connect"),
        ("paramiko", "start_client"),
        ("aiormq", "connect"),
        ("aio_pika", "connect"),
        ("aio_pika", "connect_robust"),
        # the standard library's mail and file clients read the greeting in connect
        ("smtplib", "connect"),
        ("smtplib", "__init__"),
        ("ftplib", "connect"),
        ("imaplib", "__init__"),
        ("imaplib", "_connect"),
        ("poplib", "__init__"),
    }
)
_OPENING_FUNCTIONS = frozenset(function for _, function in _OPENING)


def opening(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) passed through a client's function that opens its
    connection or reads its server's greeting: nothing had been sent."""
    node: BaseException | None = exc
    for _ in range(3):
        if node is None:
            return False
        tb = node.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_name in _OPENING_FUNCTIONS:
                module = str(tb.tb_frame.f_globals.get("__name__", ""))
                if (module.partition(".")[0], code.co_name) in _OPENING:
                    return True
            tb = tb.tb_next
        node = node.__cause__ or node.__context__
    return False
