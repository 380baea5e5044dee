"""The monitor's tests' fixtures: a PostgreSQL server of a test's own (the store's and the
cluster's tests stop and start it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.postgres_server import PostgresServer, find_bindir


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
