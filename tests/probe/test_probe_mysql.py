"""mysql:// and mariadb:// checks against a real MariaDB server started here on loopback
(its own data directory, a user with a password, a small ``max_connections``).  Skipped
without mariadbd unless TETHER_REQUIRE_MARIADB=1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from tests.helpers.db_servers import MARIADB_PASSWORD, MARIADB_USER, MariaDB
from tests.helpers.ports import free_port
from tether.probe import DatabaseDetails, DatabaseQuery, ProbeOptions, ProbeResult, probe

MAX_CONNECTIONS = 10  # MariaDB's least


@pytest.fixture(scope="module")
def server(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    where = tmp_path_factory.mktemp("mariadb-tls")
    leaf = ca.issue_cert("127.0.0.1", "db.test")
    cert, key = where / "cert.pem", where / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    s = MariaDB(max_connections=MAX_CONNECTIONS, tls=(cert, key))
    try:
        s.start()
        yield s
    finally:
        s.stop()


def run(target: str, query: str | None = None, **options: Any) -> ProbeResult:
    return probe(
        target, ProbeOptions(database=DatabaseQuery(query, **options), timeout=3, deadline=8)
    )


def kind(result: ProbeResult) -> str | None:
    return None if result.failure is None else result.failure.kind.value


def query_details(result: ProbeResult) -> DatabaseDetails:
    phase = result.phase("query")
    assert phase is not None
    assert isinstance(phase.details, DatabaseDetails)
    return phase.details


def no_secret(result: ProbeResult, secret: str = MARIADB_PASSWORD) -> None:
    assert secret not in json.dumps(result.to_dict()) + repr(result) + str(result.failure)


def test_select_one_passes_and_times_each_phase(server: MariaDB) -> None:
    result = run(server.url())
    assert result.ok, result.failure
    assert [p.name for p in result.phases] == ["url", "proxy", "dns", "connect", "auth", "query"]
    auth = result.phase("auth")
    assert auth is not None
    assert isinstance(auth.details, DatabaseDetails)
    assert "MariaDB" in (auth.details.server or "")
    no_secret(result)


def test_the_mariadb_scheme_and_a_counting_query(server: MariaDB) -> None:
    target = server.url().replace("mysql://", "mariadb://")
    result = run(target, "SELECT count(*) FROM jobs WHERE state = 'queued'")
    assert (query_details(result).result, query_details(result).rows) == (2, 1)
    listed = run(server.url(), "SELECT state FROM jobs ORDER BY id")
    assert (query_details(listed).result, query_details(listed).rows) == ("done", 3)


def test_a_wrong_password_is_auth_failed_and_redacted(server: MariaDB) -> None:
    result = run(server.url(password="wrong-Guess-55"))
    assert kind(result) == "db.auth_failed"
    assert "1045" in str(result.failure)
    no_secret(result, "wrong-Guess-55")


def test_an_unknown_database(server: MariaDB) -> None:
    result = run(server.url("nowhere"))
    assert kind(result) == "db.unknown_database"


def test_a_query_that_errors_and_one_that_writes(server: MariaDB) -> None:
    result = run(server.url(), "SELEC 1")
    assert kind(result) == "db.query_failed"
    assert query_details(result).error == "1064"
    written = run(server.url(), "INSERT INTO jobs VALUES (9, 'new')")
    assert kind(written) == "db.query_failed"  # the read-only transaction refused it
    assert server.execute("SELECT count(*) FROM app.jobs") == [(3,)]


def test_a_slow_query_is_stopped_by_max_statement_time(server: MariaDB) -> None:
    """The server stops the query first (a second before the check's timeout), so the
    failure is the server's own error, not the client's read timeout."""
    target = server.url()
    result = probe(target, ProbeOptions(database=DatabaseQuery("SELECT SLEEP(20)"), timeout=4))
    assert kind(result) == "db.query_failed", result.failure


def test_role_primary_fails_a_read_only_server(server: MariaDB) -> None:
    assert run(server.url(), role="primary").ok
    server.execute("SET GLOBAL read_only = 1")
    try:
        result = run(server.url(), role="primary")
        assert kind(result) == "db.read_only"
        assert run(server.url()).ok  # role: any
    finally:
        server.execute("SET GLOBAL read_only = 0")


def test_too_many_connections(server: MariaDB) -> None:
    import pymysql

    held: list[Any] = []
    try:
        for _ in range(MAX_CONNECTIONS + 4):  # bounded: the limit is met well before
            try:
                held.append(
                    pymysql.connect(
                        host="127.0.0.1",
                        port=server.port,
                        user=MARIADB_USER,
                        password=MARIADB_PASSWORD,
                    )
                )
            except pymysql.err.OperationalError:
                break
        else:
            raise AssertionError("max_connections was never reached")
        result = run(server.url())
        assert kind(result) == "db.too_many_connections", result.failure
        assert result.failure is not None
        assert result.failure.retryable
    finally:
        for conn in held:
            conn.close()


def test_ssl_is_verified_against_the_ca_file(server: MariaDB, cafile: str) -> None:
    target = server.url() + "?ssl=true"
    verified = probe(target, ProbeOptions(cacert=cafile, timeout=3))
    assert verified.ok, verified.failure
    assert kind(probe(target, ProbeOptions(timeout=3))) == "tls.untrusted"
    assert probe(target, ProbeOptions(insecure=True, timeout=3)).ok


def test_ssl_to_a_server_without_tls_is_a_tls_failure() -> None:
    plain = MariaDB()
    try:
        plain.start()
        result = run(plain.url() + "?ssl=true")
        assert kind(result) == "tls.protocol"
    finally:
        plain.stop()


def test_a_refused_port() -> None:
    result = run(f"mysql://{MARIADB_USER}:{MARIADB_PASSWORD}@127.0.0.1:{free_port()}/app")
    assert kind(result) == "connect.refused"
    no_secret(result)
