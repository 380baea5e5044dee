"""Suite-wide rules: nothing leaves loopback, and nothing waits on the real clock.

This conftest applies to every test; it also hands out the fixtures that tests of
several folders use (a webhook receiver, PostgreSQL, a store's target, a test CA, a
fresh SQLite store and a Runner over it).  A fixture only one folder uses lives in that
folder's conftest.py (``browser`` in tests/monitor/web/; ``own_postgres`` and
``serve_runner`` in tests/monitor/).

The network guard wraps ``socket.socket.connect``, ``connect_ex`` and
``sendto`` (which every client library goes through, asyncio included) and
``socket.getaddrinfo``, ``gethostbyname(_ex)`` and ``gethostbyaddr`` (the
machine's configured resolver).  A connection to an
address outside 127.0.0.0/8 and ::1, or a lookup of any name but localhost,
is refused with :class:`NetworkGuardError` and fails the test, even when the
code under test swallows the error.  Child processes that run in private
network namespaces have only loopback to reach, by construction.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trustme

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.postgres_server import PostgresServer, find_bindir, required

if TYPE_CHECKING:  # the fixtures import the monitor when a test asks for them, not here
    from tether.monitor import Runner
    from tether.monitor._records import ProbeRecord
    from tether.monitor.alerts import Channel
    from tether.monitor.config import MonitorConfig
    from tether.monitor.store import SQLiteStore

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_violations: list[str] = []


class NetworkGuardError(OSError):
    """A test tried to reach beyond loopback."""


def _is_loopback(host: Any) -> bool:
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%")[0]
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check(address: Any, what: str) -> None:
    if isinstance(address, tuple) and address and not _is_loopback(address[0]):
        message = f"network guard: {what} to {address[0]!r} is not loopback"
        _violations.append(message)
        raise NetworkGuardError(message)


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_sendto = socket.socket.sendto
_real_getaddrinfo = socket.getaddrinfo


def _connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address, "connect")
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address, "connect")
    return _real_connect_ex(self, address)


def _sendto(self: socket.socket, data: Any, *args: Any) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(args[-1], "sendto")
    return _real_sendto(self, data, *args)  # type: ignore[arg-type]


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None and not _is_loopback(host.decode() if isinstance(host, bytes) else host):
        message = f"network guard: resolving {host!r} would ask the machine's DNS resolver"
        _violations.append(message)
        raise NetworkGuardError(message)
    return _real_getaddrinfo(host, *args, **kwargs)


def _resolver_guard(real: Any) -> Any:
    """gethostbyname, gethostbyname_ex and gethostbyaddr (which getfqdn and smtplib's
    EHLO name use) ask the machine's resolver too."""

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            message = f"network guard: {real.__name__}({host!r}) would ask the machine's resolver"
            _violations.append(message)
            raise NetworkGuardError(message)
        return real(host, *args, **kwargs)

    return guarded


for _name in ("gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
    setattr(socket, _name, _resolver_guard(getattr(socket, _name)))

socket.socket.connect = _connect  # type: ignore[method-assign]
socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
socket.socket.sendto = _sendto  # type: ignore[method-assign, assignment]
socket.getaddrinfo = _getaddrinfo


@pytest.fixture(autouse=True)
def _network_guard() -> Iterator[None]:
    """Fail the test if it tried to reach beyond loopback, even if the error was swallowed."""
    start = len(_violations)
    yield
    if len(_violations) > start:
        pytest.fail("; ".join(_violations[start:]), pytrace=False)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback whose port refuses until ``.start()``."""
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the session's own on loopback (skips without binaries or
    psycopg, fails instead when TETHER_REQUIRE_POSTGRES=1)."""
    bindir = find_bindir()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        bindir = None
    if bindir is None:
        why = "needs PostgreSQL's binaries (Debian's postgresql package) and psycopg"
        if required():
            pytest.fail(f"TETHER_REQUIRE_POSTGRES=1 but this {why}", pytrace=False)
        pytest.skip(why)
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """A URL with a password for an empty schema of this test's own on the session's server."""
    return postgres_server.dsn(postgres_server.new_schema())


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh store lives: an SQLite file, or a PostgreSQL URL with an empty schema
    (the store tests run once per backend)."""
    if request.param == "sqlite":
        return str(tmp_path / "t.db")
    return str(request.getfixturevalue("postgres_dsn"))


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A test certificate authority (trustme), one per module."""
    return trustme.CA()


@pytest.fixture(scope="module")
def cafile(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``ca``'s certificate as a PEM file, for a client's ``ca_file``."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """An empty SQLite store at ``tmp_path / "t.db"``, closed after the test (a test that
    reopens its file, or needs it closed before it asserts, builds its own)."""
    from tether.monitor.store import SQLiteStore

    with SQLiteStore(tmp_path / "t.db") as store:
        yield store


@pytest.fixture
def runner_for(fresh_store: SQLiteStore) -> Callable[..., Runner]:
    """``runner_for(config, channels=None, **options)``: a Runner over ``config`` and
    ``fresh_store``, its outbox delivering to ``channels`` (none by default); ``options``
    go to the Runner (``wall``, ``mono``, ``sleep``, ``rand``, ``probe``, ``location``).
    One a test: they would share the store."""
    from tether.monitor import Runner
    from tether.monitor.alerts import Outbox

    def make(
        config: MonitorConfig, channels: Mapping[str, Channel] | None = None, **options: Any
    ) -> Runner:
        outbox = Outbox(fresh_store, channels if channels is not None else {})
        return Runner(config, fresh_store, outbox, **options)

    return make


@pytest.fixture
def checked(runner_for: Callable[..., Runner]) -> Callable[..., dict[str, ProbeRecord]]:
    """``checked(config, *names)``: what one check of each monitor named (every monitor of
    ``config`` without names) found, by name, checked by ``runner_for(config)`` on the
    real clock."""
    import asyncio

    def check(config: MonitorConfig, *names: str) -> dict[str, ProbeRecord]:
        runner = runner_for(config)

        async def main() -> dict[str, ProbeRecord]:
            wanted = names or tuple(m.name for m in config.monitors)
            return {name: await runner.check(name, runner.mono()) for name in wanted}

        return asyncio.run(main())

    return check
