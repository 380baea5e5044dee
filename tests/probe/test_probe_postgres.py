"""postgresql:// checks against a real PostgreSQL server started here on loopback, with
TLS on (trustme certificates), password authentication, a read-only database and a small
``max_connections``.  Skipped without PostgreSQL's binaries or psycopg unless
TETHER_REQUIRE_POSTGRES=1."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from tests.helpers.ports import free_port
from tests.helpers.postgres_server import PASSWORD, USER, PostgresServer, find_bindir, required
from tether.lab import Lab
from tether.probe import (
    DatabaseDetails,
    DatabaseQuery,
    DnsDetails,
    ProbeOptions,
    ProbeResult,
    probe,
)

CHECKER, CHECKER_PASSWORD = "checker", "ck-Secret-1234"
MAX_CONNECTIONS = 6


@pytest.fixture(scope="module")
def server(ca: trustme.CA) -> Iterator[PostgresServer]:
    bindir = find_bindir()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        bindir = None
    if bindir is None:
        if required():
            pytest.fail("PostgreSQL or psycopg is missing (TETHER_REQUIRE_POSTGRES=1)")
        pytest.skip("PostgreSQL's binaries or psycopg are not installed")
    s = PostgresServer(bindir)
    leaf = ca.issue_cert("127.0.0.1", "db.test")
    cert, key = s.root / "server.crt", s.root / "server.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    os.chmod(key, 0o600)
    if s._as:  # the server runs as nobody: its key must be its own
        for path in (cert, key):
            os.chown(path, s._as["user"], s._as["group"])
    s.settings = (
        f"max_connections={MAX_CONNECTIONS}",
        "superuser_reserved_connections=0",
        "ssl=on",
        f"ssl_cert_file={cert}",
        f"ssl_key_file={key}",
    )
    s.start()
    s.execute(f"CREATE ROLE {CHECKER} LOGIN PASSWORD '{CHECKER_PASSWORD}'")
    s.execute("CREATE DATABASE ro")
    s.execute("ALTER DATABASE ro SET default_transaction_read_only = on")
    yield s
    s.stop()


def url(s: PostgresServer, database: str = "postgres", password: str = CHECKER_PASSWORD) -> str:
    return f"postgresql://{CHECKER}:{password}@127.0.0.1:{s.port}/{database}"


def run(target: str, query: str | None = None, **options: Any) -> ProbeResult:
    extra = {k: options.pop(k) for k in ("cacert", "insecure") if k in options}
    database = DatabaseQuery(query, **options)
    return probe(target, ProbeOptions(database=database, timeout=3, deadline=8, **extra))


def kind(result: ProbeResult) -> str | None:
    return None if result.failure is None else result.failure.kind.value


def query_details(result: ProbeResult) -> DatabaseDetails:
    phase = result.phase("query")
    assert phase is not None
    assert isinstance(phase.details, DatabaseDetails)
    return phase.details


def no_secret(result: ProbeResult, secret: str = CHECKER_PASSWORD) -> None:
    assert secret not in json.dumps(result.to_dict()) + repr(result) + str(result.failure)


def test_select_one_passes_and_times_each_phase(server: PostgresServer) -> None:
    result = run(url(server))
    assert result.ok, result.failure
    assert [p.name for p in result.phases] == ["url", "proxy", "dns", "auth", "query"]
    assert (query_details(result).result, query_details(result).rows) == (1, 1)
    auth = result.phase("auth")
    assert auth is not None
    assert isinstance(auth.details, DatabaseDetails)
    assert (auth.details.server or "").startswith("PostgreSQL ")
    no_secret(result)


def test_the_result_and_rows_of_a_query(server: PostgresServer) -> None:
    result = run(url(server), "SELECT 2.50::numeric UNION ALL SELECT 3 UNION ALL SELECT 4")
    assert (query_details(result).result, query_details(result).rows) == (2.5, 3)
    capped = run(url(server), "SELECT generate_series(1, 500)")
    assert query_details(capped).rows == 100


def test_a_wrong_password_is_auth_failed_and_redacted(server: PostgresServer) -> None:
    result = run(url(server, password="wrong-Guess-77"))
    assert kind(result) == "db.auth_failed"
    assert [p.name for p in result.phases][-1] == "auth"
    no_secret(result, "wrong-Guess-77")


def test_an_unknown_database(server: PostgresServer) -> None:
    result = run(url(server, "nowhere"))
    assert kind(result) == "db.unknown_database"
    assert "nowhere" in str(result.failure)


def test_role_primary_fails_a_read_only_database(server: PostgresServer) -> None:
    """What read-only means here: the server's transactions are read-only by default
    (``default_transaction_read_only``), as on a primary fenced off for maintenance; a
    standby (``pg_is_in_recovery()``) is the other case the check names."""
    result = run(url(server, "ro"), role="primary")
    assert kind(result) == "db.read_only"
    assert "default_transaction_read_only" in str(result.failure)
    assert run(url(server, "ro")).ok  # role: any takes it
    assert run(url(server), role="primary").ok


def test_a_query_that_errors_names_its_sqlstate(server: PostgresServer) -> None:
    result = run(url(server), "SELEC 1")
    assert kind(result) == "db.query_failed"
    assert "42601" in str(result.failure)
    assert query_details(result).error == "42601"


def test_a_query_that_writes_fails_in_the_read_only_transaction(server: PostgresServer) -> None:
    result = run(url(server), "CREATE TABLE written (a int)")
    assert kind(result) == "db.query_failed"
    assert "25006" in str(result.failure)
    assert server.execute("SELECT to_regclass('written')") == [(None,)]


def test_a_slow_query_is_stopped_by_the_statement_timeout(server: PostgresServer) -> None:
    """The server stops the query first (a second before the check's timeout): SQLSTATE
    57014, not the client's timeout."""
    target = url(server)
    result = probe(target, ProbeOptions(database=DatabaseQuery("SELECT pg_sleep(20)"), timeout=4))
    assert kind(result) == "db.query_failed"
    assert "57014" in str(result.failure)


def test_too_many_connections(server: PostgresServer) -> None:
    import psycopg

    held: list[Any] = []
    try:
        for _ in range(MAX_CONNECTIONS + 2):  # bounded: the limit is met well before
            try:
                held.append(psycopg.connect(url(server)))
            except psycopg.OperationalError:
                break
        else:
            raise AssertionError("max_connections was never reached")
        result = run(url(server))
        assert kind(result) == "db.too_many_connections"
    finally:
        for conn in held:
            conn.close()


def test_tls_verified_against_the_ca_file(server: PostgresServer, cafile: str) -> None:
    result = run(url(server) + "?sslmode=verify-full", cacert=cafile)
    assert result.ok, result.failure
    untrusted = run(url(server) + "?sslmode=require")
    assert kind(untrusted) == "tls.untrusted"
    assert run(url(server) + "?sslmode=require", insecure=True).ok


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


def test_a_name_resolved_by_tethers_resolver_tries_each_address(
    server: PostgresServer, lab: Lab
) -> None:
    """ok.lab.test (the lab's DNS server on loopback) has ::1 and 127.0.0.1; the server
    listens on 127.0.0.1 alone: libpq is given both addresses and gets in by the second."""
    target = url(server).replace("127.0.0.1", "ok.lab.test")
    result = probe(target, ProbeOptions(resolver=lab.resolver, timeout=3))
    assert result.ok, result.failure
    dns = result.phase("dns")
    assert dns is not None
    assert isinstance(dns.details, DnsDetails)
    assert {a.address for a in dns.details.answers or ()} == {"127.0.0.1", "::1"}
    missing = probe(
        target.replace("ok.lab.test", "nothing-here.lab.test"),
        ProbeOptions(resolver=lab.resolver, timeout=3),
    )
    assert kind(missing) == "dns.not_found"
    no_secret(missing)


def test_a_refused_port_and_a_bad_sslmode() -> None:
    assert kind(run(f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{free_port()}/x")) == (
        "connect.refused"
    )
    bad = probe("postgresql://127.0.0.1/x?sslmode=prefer")
    assert kind(bad) == "url.invalid"
    assert "prefer" in str(bad.failure)
