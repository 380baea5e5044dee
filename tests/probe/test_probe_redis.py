"""redis:// and rediss:// checks against real redis-servers started here on loopback: a
primary with a password, its replica, one with TLS (trustme certificates) and one whose
``maxclients`` the test holds full.  Skipped without redis-server unless
TETHER_REQUIRE_REDIS=1."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.helpers.db_servers import REDIS_PASSWORD, Redis
from tests.helpers.ports import free_port
from tether.probe import DatabaseDetails, DatabaseQuery, ProbeOptions, ProbeResult, probe


@pytest.fixture(scope="module")
def primary() -> Iterator[Redis]:
    server = Redis()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replica(primary: Redis) -> Iterator[Redis]:
    server = Redis(primary=primary)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def secured(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    where = tmp_path_factory.mktemp("redis-tls")
    leaf = ca.issue_cert("127.0.0.1", "cache.test")
    cert, key = where / "cert.pem", where / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    server = Redis(tls=(cert, key))
    server.start()
    yield server
    server.stop()


def run(url: str, query: str | None = None, **options: object) -> ProbeResult:
    database = DatabaseQuery(query, **options)  # type: ignore[arg-type]
    return probe(url, ProbeOptions(database=database, timeout=3, deadline=6))


def names(result: ProbeResult) -> list[tuple[str, bool]]:
    return [(p.name, p.ok) for p in result.phases]


def kind(result: ProbeResult) -> str | None:
    return None if result.failure is None else result.failure.kind.value


def no_password(result: ProbeResult) -> None:
    """Neither the password nor any part of it beyond the URL's mask shows anywhere."""
    shown = json.dumps(result.to_dict()) + repr(result) + str(result.failure)
    assert REDIS_PASSWORD not in shown


def test_ping_with_password_passes_every_phase(primary: Redis) -> None:
    result = run(primary.url())
    assert result.ok, result.failure
    assert names(result) == [
        ("url", True),
        ("proxy", True),
        ("dns", True),
        ("connect", True),
        ("auth", True),
        ("query", True),
    ]
    query = result.phase("query")
    assert query is not None
    assert isinstance(query.details, DatabaseDetails)
    assert (query.details.result, query.details.rows) == ("PONG", 1)
    no_password(result)


def seed(server: Redis, key: str, value: str) -> None:
    """Set a key with redis-py, the reference client (a check runs no command that writes)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=server.port, password=REDIS_PASSWORD)
    try:
        client.set(key, value)
    finally:
        client.close()


def test_a_command_answer_that_is_a_number_reads_as_one(primary: Redis) -> None:
    seed(primary, "health", "42")
    result = run(primary.url(), "GET health")
    query = result.phase("query")
    assert query is not None
    assert isinstance(query.details, DatabaseDetails)
    assert query.details.result == 42


def test_a_wrong_password_is_auth_failed_and_redacted(primary: Redis) -> None:
    result = run(primary.url(password="wrong-Guess-99"))
    assert kind(result) == "db.auth_failed"
    assert names(result)[-1] == ("auth", False)
    assert "WRONGPASS" in str(result.failure)
    assert "wrong-Guess-99" not in json.dumps(result.to_dict()) + str(result.failure)


def test_no_password_to_a_server_that_wants_one_is_auth_failed(primary: Redis) -> None:
    result = run(f"redis://127.0.0.1:{primary.port}")
    assert kind(result) == "db.auth_failed"
    assert "NOAUTH" in str(result.failure)


def test_a_database_number_out_of_range_is_unknown_database(primary: Redis) -> None:
    result = run(primary.url("/999"))
    assert kind(result) == "db.unknown_database"
    no_password(result)


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        ("SET health broken", "write"),
        ("FLUSHALL", "write"),
        ("SHUTDOWN NOSAVE", "admin"),
        ("CONFIG SET maxclients 1", "admin"),
        ('EVAL "return 1" 0', "scripting"),
    ],
)
def test_a_command_that_writes_is_not_run(primary: Redis, command: str, flag: str) -> None:
    """The server's own flags (COMMAND INFO) say what a command does; one that writes or
    administers fails the check and is never sent."""
    seed(primary, "health", "ok")
    result = run(primary.url(), command)
    assert kind(result) == "db.query_failed"
    assert f"flagged {flag}" in str(result.failure)
    assert run(primary.url(), "GET health").ok  # still there, still running
    read_back = run(primary.url(), "GET health").phase("query")
    assert read_back is not None
    assert isinstance(read_back.details, DatabaseDetails)
    assert read_back.details.result == "ok"


def test_a_read_only_subcommand_of_a_container_runs(primary: Redis) -> None:
    result = run(primary.url(), "CLIENT GETNAME")
    assert result.ok, result.failure


def test_a_command_the_server_refuses_is_query_failed(primary: Redis) -> None:
    result = run(primary.url(), "NOSUCHCOMMAND x")
    assert kind(result) == "db.query_failed"
    assert names(result)[-1] == ("query", False)


def test_role_primary_passes_a_primary_and_fails_a_replica(primary: Redis, replica: Redis) -> None:
    assert run(primary.url(), role="primary").ok
    result = run(replica.url(), role="primary")
    assert kind(result) == "db.read_only"
    assert "slave" in str(result.failure)
    assert run(replica.url(), role="any").ok  # any role: a replica answers PING


def test_a_refused_port_keeps_its_kind() -> None:
    result = run(f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}")
    assert kind(result) == "connect.refused"
    no_password(result)


def _hold(port: int, count: int) -> list[socket.socket]:
    """``count`` logged-in clients; one the server refused (the start-up poll's connection
    may not be gone yet) is tried again, 50 times at most."""
    auth = b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(REDIS_PASSWORD), REDIS_PASSWORD.encode())
    held: list[socket.socket] = []
    for _ in range(50):
        if len(held) == count:
            return held
        conn = socket.create_connection(("127.0.0.1", port))
        conn.sendall(auth)
        if conn.recv(100).startswith(b"+OK"):
            held.append(conn)
        else:
            conn.close()
    raise AssertionError(f"could not hold {count} clients")


def test_max_clients_reached_is_too_many_connections() -> None:
    server = Redis(maxclients=2)
    server.start()
    held: list[socket.socket] = []
    try:
        held = _hold(server.port, 2)
        result = run(server.url())
        assert kind(result) == "db.too_many_connections"
        assert result.failure is not None
        assert result.failure.retryable
        no_password(result)
    finally:
        for conn in held:
            conn.close()
        server.stop()


def test_rediss_is_verified_against_the_ca_file(secured: Redis, cafile: str) -> None:
    url = f"rediss://:{REDIS_PASSWORD}@127.0.0.1:{secured.tls_port}"
    result = probe(url, ProbeOptions(cacert=cafile, timeout=3))
    assert result.ok, result.failure
    assert [n for n, _ in names(result)][3:] == ["connect", "tls", "auth", "query"]
    unverified = probe(url, ProbeOptions(timeout=3))
    assert kind(unverified) == "tls.untrusted"
    assert names(unverified)[-1] == ("tls", False)


def test_a_malformed_url_is_one_line() -> None:
    result = probe("redis://127.0.0.1/zero")
    assert kind(result) == "url.invalid"
    assert "database number" in str(result.failure)
    assert "\n" not in str(result.failure.detail if result.failure else "")


def test_the_resp_reader_rejects_what_is_not_resp(tmp_path: Path) -> None:
    """A server that answers with something else (here an HTTP-ish line) is
    response.malformed, not a traceback: a real listener of the wrong protocol."""
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer() -> None:
        conn, _ = listener.accept()
        conn.recv(100)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        conn.close()

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        result = probe(f"redis://127.0.0.1:{port}", ProbeOptions(timeout=3))
    finally:
        thread.join(5)
        listener.close()
    assert kind(result) == "response.malformed"


def test_tether_diagnose_shows_each_phase_without_the_password(
    primary: Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tether diagnose redis://...`: exit 0 with the auth and query phases; a refused
    password exits 1 naming db.auth_failed; the password shows in neither."""
    from tether.cli import main

    assert main(["diagnose", primary.url()]) == 0
    healthy = capsys.readouterr().out
    assert "auth" in healthy
    assert "PING, 1 row, first 'PONG'" in healthy
    assert main(["diagnose", primary.url(password="wrong-Guess-99")]) == 1
    refused = capsys.readouterr().out
    assert "db.auth_failed" in refused
    for shown in (healthy, refused):
        assert REDIS_PASSWORD not in shown
        assert "wrong-Guess-99" not in shown
        assert "redis://:***@127.0.0.1" in shown
