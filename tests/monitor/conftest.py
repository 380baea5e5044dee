"""The monitor's tests' fixtures: a PostgreSQL server of a test's own (the store's and the
cluster's tests stop and start it), and a Runner served by make_app over a fresh SQLite
store (the web API's and the runtime's tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.helpers.postgres_server import PostgresServer, find_bindir

if TYPE_CHECKING:  # not at import: the web harness imports the monitor
    from tests.helpers.web_harness import ServedRunner
    from tether.monitor.config import MonitorConfig


@pytest.fixture
def own_postgres(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, to stop and start (the session's server is
    shared)."""
    request.getfixturevalue("postgres_server")  # skips, or fails under TETHER_REQUIRE_POSTGRES
    bindir = find_bindir()
    assert bindir is not None
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def serve_runner(tmp_path: Path) -> Iterator[Callable[..., ServedRunner]]:
    """``serve_runner(config, alerts=False, cls=ServedRunner, **options)``: a
    :class:`~tests.helpers.web_harness.ServedRunner` (or its subclass ``cls``) over
    ``config`` and a fresh SQLite store at ``tmp_path / "t.db"``, closed after the test;
    with ``alerts`` its outbox delivers to ``config``'s channels; ``options`` go to the
    ServedRunner (``unix``, ``authority``, the Runner's).  One a test: a restart on the
    same file builds its own."""
    from tests.helpers.web_harness import ServedRunner
    from tether.monitor.runtime._app import channels_for
    from tether.monitor.store import SQLiteStore

    served: list[ServedRunner] = []

    def make(
        config: MonitorConfig,
        alerts: bool = False,
        cls: type[ServedRunner] = ServedRunner,
        **options: Any,
    ) -> ServedRunner:
        s = cls(config, SQLiteStore(tmp_path / "t.db"), **options)
        served.append(s)
        if alerts:
            s.runner.outbox.channels = channels_for(config)
        return s

    yield make
    for s in served:
        s.close()
