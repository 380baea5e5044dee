"""Throwaway MariaDB and Redis servers on loopback, for the database checks' tests.

Each comes from the machine's binaries (Debian's ``mariadb-server``: mariadbd and
mariadb-install-db; ``redis-server``), with a data directory of its own in a temporary
directory, listening on 127.0.0.1 on a free port, with real authentication: a user and a
password the checks log in with.  Without the binaries the tests that need a server skip,
unless ``TETHER_REQUIRE_MARIADB=1`` / ``TETHER_REQUIRE_REDIS=1``, which makes them fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.ports import free_port

MARIADB_USER = "checker"
MARIADB_PASSWORD = "my-Secret-0815"
REDIS_PASSWORD = "rd-Secret-2342"
"""The passwords the redaction tests look for in every message."""

_START_LIMIT = 60.0


def need(binary: str, env: str) -> str:
    """The path of ``binary``; skips the test without it, or fails when ``env`` is 1."""
    found = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").is_file() else None
    )
    if found is None:
        message = f"{binary} is not installed"
        if os.environ.get(env) == "1":
            pytest.fail(f"{message} ({env}=1)")
        pytest.skip(message)
    return found


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``ready`` until it holds; fail when the process dies or the bound runs out."""
    give_up = time.monotonic() + _START_LIMIT
    while not ready():
        if process.poll() is not None or time.monotonic() > give_up:
            text = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"the server did not start:\n{text}")
        time.sleep(0.05)  # a real server starting: poll it, bounded above


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class MariaDB:
    """A MariaDB server of its own: a ``checker`` user with a password, a database
    ``app`` with a table, and ``max_connections`` as given."""

    def __init__(self, max_connections: int = 20, tls: tuple[Path, Path] | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tether-mariadb-"))
        self.port = free_port()
        self.max_connections = max_connections
        self.tls = tls
        """The server's certificate and key files, for TLS (``?ssl=true``)."""
        self.process: subprocess.Popen[bytes] | None = None
        self.admin: Any = None

    def start(self) -> None:
        mariadbd = need("mariadbd", "TETHER_REQUIRE_MARIADB")
        install = need("mariadb-install-db", "TETHER_REQUIRE_MARIADB")
        data = self.root / "data"
        scratch = self.root / "tmp"  # its own: bootstraps running at once collided in /tmp
        scratch.mkdir()
        subprocess.run(
            [
                install,
                "--no-defaults",
                f"--datadir={data}",
                f"--tmpdir={scratch}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        log = self.root / "server.log"
        self.process = subprocess.Popen(
            [
                mariadbd,
                "--no-defaults",
                f"--datadir={data}",
                f"--tmpdir={scratch}",
                "--user=root",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.root / 'sock'}",
                f"--pid-file={self.root / 'pid'}",
                f"--log-error={log}",
                f"--max-connections={self.max_connections}",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=8M",
                "--skip-log-bin",
                *([f"--ssl-cert={self.tls[0]}", f"--ssl-key={self.tls[1]}"] if self.tls else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: (self.root / "sock").exists() and _answers(self.port), self.process, log)
        import pymysql

        # Root logs in over the Unix socket with no password (install-db's root@localhost).
        self.admin = pymysql.connect(
            unix_socket=str(self.root / "sock"), user="root", autocommit=True
        )
        for sql in (
            f"CREATE USER '{MARIADB_USER}'@'%' IDENTIFIED BY '{MARIADB_PASSWORD}'",
            "CREATE DATABASE app",
            f"GRANT ALL ON app.* TO '{MARIADB_USER}'@'%'",
            "CREATE TABLE app.jobs (id INT PRIMARY KEY, state VARCHAR(20))",
            "INSERT INTO app.jobs VALUES (1, 'done'), (2, 'queued'), (3, 'queued')",
        ):
            self.execute(sql)

    def execute(self, sql: str) -> list[tuple[Any, ...]]:
        with self.admin.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())

    def url(self, database: str = "app", *, password: str = MARIADB_PASSWORD) -> str:
        return f"mysql://{MARIADB_USER}:{password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.admin is not None:
            self.admin.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


class Redis:
    """A redis-server of its own, with a password; a replica of ``primary`` when given;
    TLS on ``tls_port`` with ``cert``/``key`` when given."""

    def __init__(
        self,
        *,
        primary: Redis | None = None,
        maxclients: int | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tether-redis-"))
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.primary = primary
        self.maxclients = maxclients
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = need("redis-server", "TETHER_REQUIRE_REDIS")
        args = [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.root),
            "--logfile", str(self.root / "server.log"),
            "--requirepass", REDIS_PASSWORD,
        ]  # fmt: skip
        if self.primary is not None:
            args += ["--replicaof", "127.0.0.1", str(self.primary.port)]
            args += ["--masterauth", REDIS_PASSWORD]
        if self.maxclients is not None:
            args += ["--maxclients", str(self.maxclients)]
        if self.tls is not None:
            cert, key = self.tls
            args += ["--tls-port", str(self.tls_port), "--tls-cert-file", str(cert)]
            args += ["--tls-key-file", str(key), "--tls-auth-clients", "no"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: _answers(self.port), self.process, self.root / "server.log")

    def url(self, path: str = "", *, password: str = REDIS_PASSWORD) -> str:
        return f"redis://:{password}@127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


RABBITMQ_USER = "checker"
RABBITMQ_PASSWORD = "mq-Secret-4711"


class RabbitMQ:
    """Debian's rabbitmq-server of its own: its data, logs, Erlang cookie and epmd on
    ports of its own, everything bound to 127.0.0.1; a user ``checker`` with a password
    and the default virtual host.  Without the binary the tests skip, unless
    ``TETHER_REQUIRE_RABBITMQ=1``."""

    SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tether-rabbitmq-"))
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        node = f"tether{self.port}@localhost"
        return {
            **os.environ,
            "HOME": str(self.root),  # the Erlang cookie lives here
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_PID_FILE": str(self.root / "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_NODENAME": node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
        }

    def start(self) -> None:
        if not Path(self.SERVER).is_file():
            need("rabbitmq-server-is-not-installed", "TETHER_REQUIRE_RABBITMQ")
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            f"default_user = {RABBITMQ_USER}\n"
            f"default_pass = {RABBITMQ_PASSWORD}\n"
            "loopback_users = none\n"
        )
        log = self.root / "server.log"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [self.SERVER], stdout=out, stderr=subprocess.STDOUT, env=self._env()
            )
        wait_until(lambda: _answers(self.port), self.process, log)

    def url(self, vhost: str = "%2F", *, password: str = RABBITMQ_PASSWORD) -> str:
        return f"amqp://{RABBITMQ_USER}:{password}@127.0.0.1:{self.port}/{vhost}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # the broker's own shutdown: CONNECTION_FORCED
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # epmd outlives the node that started it: end this server's own (its port).
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        if Path(epmd).is_file():
            subprocess.run(
                [epmd, "-kill"], env=self._env(), check=False, capture_output=True, timeout=10
            )
        shutil.rmtree(self.root, ignore_errors=True)
