"""classify never raises on the clients' exceptions built by hand (issue 71 §6): any class of
theirs made with arbitrary arguments, missing the state their own code sets, with a code()
that raises or details that are not text, attributes of the wrong types.  It returns a kind:
at worst ``unknown``, with the exception's own words.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether import Failure, Kind, classify
from tether._classify import _from_chain

# Each client's modules of exceptions: every exception class in them is tried.
MODULES = (
    "psycopg.errors",
    "psycopg2.errors",
    "psycopg2.extensions",
    "asyncpg.exceptions",
    "pymysql.err",
    "sqlalchemy.exc",
    "redis.exceptions",
    "pymongo.errors",
    "grpc",
    "grpc.aio",
    "botocore.exceptions",
    "websockets.exceptions",
    "paramiko.ssh_exception",
    "asyncssh.misc",
    "pika.exceptions",
    "pika.adapters.utils.connection_workflow",
    "aiormq.exceptions",
    "smtplib",
    "ftplib",
    "poplib",
)


def _classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, BaseException):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    import imaplib

    found["imaplib.IMAP4.error"] = imaplib.IMAP4.error
    found["imaplib.IMAP4.abort"] = imaplib.IMAP4.abort
    return [found[k] for k in sorted(found)]


CLASSES = _classes()

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text()
    | st.binary()
    | st.just(object()),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


class _Raises:
    """A value whose every use raises: str(), a call, an attribute, a comparison."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name}")

    def __call__(self, *args: object) -> Any:
        raise RuntimeError("cannot be called")

    def __str__(self) -> str:
        raise RuntimeError("no words")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparison")

    __hash__ = None  # type: ignore[assignment]


attributes = st.dictionaries(
    st.sampled_from(
        [
            "code",
            "details",
            "debug_error_string",
            "sqlstate",
            "pgcode",
            "orig",
            "errors",
            "response",
            "reply_code",
            "smtp_code",
            "partial",
            "connection_invalidated",
            "exception",
            "reason",
        ]
    ),
    values | st.builds(_Raises) | st.builds(lambda v: lambda: v, values),
    max_size=4,
)


def _build(cls: type[BaseException], args: list[Any], attrs: dict[str, Any]) -> BaseException:
    exc = cls.__new__(cls)
    with contextlib.suppress(Exception):  # a class that refuses its args keeps none
        object.__setattr__(exc, "args", tuple(args))
    for name, value in attrs.items():
        with contextlib.suppress(Exception):  # a read-only property keeps its own
            object.__setattr__(exc, name, value)
    return exc


@settings(
    max_examples=1500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    cls=st.sampled_from(CLASSES),
    args=st.lists(values, max_size=4),
    attrs=attributes,
    chained=st.booleans(),
)
def test_a_clients_exception_built_by_hand_gets_a_kind(
    cls: type[BaseException], args: list[Any], attrs: dict[str, Any], chained: bool
) -> None:
    """Whatever state a client's exception is in, the rules read it without raising: the
    walk itself (``_from_chain``, inside classify's last-resort guard) returns a Failure."""
    exc = _build(cls, args, attrs)
    if chained:  # asyncpg's warnings refuse any attribute, __cause__ too
        object.__setattr__(exc, "__cause__", _build(cls, list(reversed(args)), {}))
    failure = _from_chain(exc, None)
    assert classify(exc).kind is failure.kind
    assert isinstance(failure, Failure)
    assert isinstance(failure.kind, Kind)
    assert isinstance(failure.detail, str)


def test_classes_of_every_client_are_tried() -> None:
    """The property reaches every client's exception classes (a guard against trying none)."""
    packages = {c.__module__.partition(".")[0] for c in CLASSES}
    assert packages >= {
        "psycopg",
        "psycopg2",
        "asyncpg",
        "pymysql",
        "sqlalchemy",
        "redis",
        "pymongo",
        "grpc",
        "botocore",
        "websockets",
        "paramiko",
        "asyncssh",
        "pika",
        "aiormq",
        "smtplib",
        "ftplib",
        "imaplib",
        "poplib",
    }
    assert len(CLASSES) > 300


@pytest.mark.parametrize(
    "exc",
    [
        # a gRPC error whose details are bytes, and one whose code() raises
        type("Call", (Exception,), {"code": lambda self: None, "details": lambda self: b"\xff"})(),
        type("RpcError", (Exception,), {"__module__": "grpc", "code": lambda self: 1 / 0})(),
    ],
    ids=["details-not-text", "code-raises"],
)
def test_odd_grpc_errors_get_a_kind(exc: BaseException) -> None:
    """A gRPC-like error whose code or details misbehave is unknown, not a crash."""
    assert classify(exc).kind is Kind.UNKNOWN


def test_a_pymongo_selection_error_with_no_servers() -> None:
    """pymongo's ServerSelectionTimeoutError with no server list: a timeout of connecting."""
    from pymongo.errors import ServerSelectionTimeoutError

    failure = classify(ServerSelectionTimeoutError("No servers found yet, Timeout: 1.0s"))
    assert failure.kind is Kind.CONNECT_TIMEOUT
    assert not failure.request_sent


def test_a_property_that_raises_is_read_as_missing() -> None:
    """pika's ConnectionClosed built with no args: its reply_code property raises
    IndexError; the rules read it as missing (a hypothesis run found it)."""
    from pika.exceptions import ConnectionClosed

    exc = ConnectionClosed.__new__(ConnectionClosed)
    assert isinstance(_from_chain(exc, None).kind, Kind)
