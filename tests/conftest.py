"""Suite-wide rules: nothing leaves loopback, and nothing waits on the real clock.

This conftest applies to every test; it also hands out the fixtures that tests of
several folders use (a webhook receiver, PostgreSQL, a store's target, a test CA, a
fresh SQLite store and a Runner over it).  A fixture only one folder uses lives in that
folder's conftest.py (``browser`` in tests/monitor/web/; ``own_postgres`` and
``serve_runner`` in tests/monitor/).

The network guard (tests/helpers/child_guard/tether_netguard.py) wraps the socket calls
that connect, send and resolve: a connection to an address outside 127.0.0.0/8 and ::1,
or a lookup of any name but localhost, is refused with :class:`NetworkGuardError` and
fails the test, even when the code under test swallows the error.  The Python processes
a test starts get it too (that folder's sitecustomize, put on their ``PYTHONPATH``),
and report to a file this process reads after each test; those that run in private
network namespaces have only loopback and the test's own hosts to reach, by
construction, and are left unguarded.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trustme
from hypothesis import settings

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.child_guard.tether_netguard import install
from tests.helpers.postgres_server import PostgresServer, find_bindir, required

if TYPE_CHECKING:  # the fixtures import the monitor when a test asks for them, not here
    from tether.monitor import Runner
    from tether.monitor._records import ProbeRecord
    from tether.monitor.alerts import Channel
    from tether.monitor.config import MonitorConfig
    from tether.monitor.store import SQLiteStore

# Hypothesis's per-example deadline (200 ms) is a timing assertion: on a loaded machine
# (a full run beside other work) a pure property's example took longer and failed it.
# Speed lives in benchmarks/, never in a test: no deadline anywhere.
settings.register_profile("tether", deadline=None)
settings.load_profile("tether")

_violations: list[str] = []
install(_violations.append)

_GUARD_DIR = str(Path(__file__).parent / "helpers" / "child_guard")
_CHILD_LOG = Path(tempfile.gettempdir()) / f"tether-netguard-{os.getpid()}.log"
_CHILD_LOG.write_text("")
try:
    _NETNS = str(os.stat("/proc/self/ns/net").st_ino)
except OSError:
    _NETNS = ""
_real_popen_init = subprocess.Popen.__init__


def _popen_init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
    """Every process a test starts gets the guard too, if it is Python: this folder's
    sitecustomize first on its ``PYTHONPATH``, and where to report (asyncio's
    subprocesses are made here as well)."""
    env = dict(os.environ if kwargs.get("env") is None else kwargs["env"])
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([_GUARD_DIR, *paths])
    env.setdefault("TETHER_NETWORK_GUARD_LOG", str(_CHILD_LOG))  # a test may name its own
    env.setdefault("TETHER_NETWORK_GUARD_NETNS", _NETNS)
    kwargs["env"] = env
    _real_popen_init(self, args, *rest, **kwargs)


subprocess.Popen.__init__ = _popen_init  # type: ignore[method-assign]


LONGEST_FIRST: tuple[str, ...] = (
    "tests/monitor/lifecycle/",
    "tests/monitor/web/test_one_view.py",
    "tests/monitor/runtime/test_discovery_lifecycle.py",
    "tests/monitor/web/test_openapi_fuzz.py",
    "tests/monitor/runtime/test_monitor_process.py",
    "tests/monitor/runtime/test_objectives_lifecycle.py",
)
"""The files whose tests run real processes for a minute or two each: handed out first,
so that under ``-n`` (``--dist worksteal``, pyproject.toml) they overlap the thousands of
short tests rather than run alone at the end."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests of :data:`LONGEST_FIRST` first, each group in its own order."""
    root = Path(str(config.rootpath))

    def rank(item: pytest.Item) -> int:
        where = Path(str(item.path)).relative_to(root).as_posix()
        return next((i for i, p in enumerate(LONGEST_FIRST) if where.startswith(p)), 99)

    items.sort(key=rank)


@pytest.fixture(autouse=True)
def _network_guard() -> Iterator[None]:
    """Fail the test if it tried to reach beyond loopback, even if the error was swallowed."""
    start = len(_violations)
    with _CHILD_LOG.open(encoding="utf-8") as log:
        log.seek(0, os.SEEK_END)
        yield
        children = log.read().splitlines()
    if len(_violations) > start or children:
        pytest.fail("; ".join([*_violations[start:], *children]), pytrace=False)


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
