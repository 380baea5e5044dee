"""A throwaway PostgreSQL server on loopback for the store's tests.

The server comes from the machine's PostgreSQL binaries (Debian's
``postgresql`` package: ``pg_config --bindir`` or /usr/lib/postgresql/*/bin).
It gets a fresh cluster in a temporary directory, listens on 127.0.0.1 on a
free port and on a Unix socket in that directory, runs with fsync off (the
tests throw it away), and asks for a password over TCP, so the tests connect
the way a user does.  PostgreSQL refuses to run as root: under root the
cluster belongs to ``nobody``.

Without binaries or psycopg the tests that need the server skip, unless
``TETHER_REQUIRE_POSTGRES=1`` (set by .ci/run), which makes them fail.
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.helpers.ports import free_port

USER = "tether"
PASSWORD = "pg-Secret-4711"
"""The superuser's password: the redaction tests look for it in every message."""

_START_LIMIT = 30.0
_schemas = itertools.count(1)


def required() -> bool:
    """Whether a missing server is a failure rather than a skip."""
    return os.environ.get("TETHER_REQUIRE_POSTGRES") == "1"


def find_bindir() -> Path | None:
    """The directory holding initdb and postgres, or None."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False, timeout=10
        )
        candidates.append(Path(out.stdout.strip()))

    def major(path: Path) -> int:
        found = re.search(r"\d+", path.parent.name)
        return int(found.group()) if found else 0

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=major, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for path in candidates:
        if (path / "initdb").is_file() and (path / "postgres").is_file():
            return path
    return None


class PostgresServer:
    """A PostgreSQL cluster of its own, started by :meth:`start`, removed by :meth:`stop`."""

    def __init__(self, bindir: Path, settings: tuple[str, ...] = ()) -> None:
        self.bindir = bindir
        self.settings = settings
        """More ``NAME=VALUE`` server settings (``max_connections=5``), each a ``-c``."""
        self.root = Path(tempfile.mkdtemp(prefix="tether-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.startup_seconds = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._admin: Any = None
        # Root may not run PostgreSQL: hand the directory to nobody and run as nobody.
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.root, nobody.pw_uid, nobody.pw_gid)
            self._as = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}

    def start(self) -> None:
        began = time.perf_counter()
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self._as:
            os.chown(pwfile, self._as["user"], self._as["group"])
        # --no-sync and fsync=off: a cluster thrown away after the run needs no durability.
        subprocess.run(
            [
                str(self.bindir / "initdb"),
                f"--pgdata={self.data}",
                f"--username={USER}",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-locale",
                "--encoding=UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            timeout=120,
            **self._as,
        )
        self._launch()
        self.startup_seconds = time.perf_counter() - began

    def halt(self) -> None:
        """Stop the server the way an operator does (a fast shutdown), keeping its data."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        assert self._process is not None
        self._process.send_signal(signal.SIGINT)
        self._process.wait(timeout=20)

    def resume(self) -> None:
        """Start the halted server again, on the same port with the same data."""
        self._launch()

    def _launch(self) -> None:
        with open(self.root / "server.log", "ab") as log:
            self._process = subprocess.Popen(
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.root),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    *(arg for setting in self.settings for arg in ("-c", setting)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                **self._as,
            )
        self._admin = self._wait_until_ready()

    def _wait_until_ready(self) -> Any:
        """An admin connection over the Unix socket, once the server accepts one."""
        import psycopg

        assert self._process is not None
        give_up = time.monotonic() + _START_LIMIT
        while True:
            try:
                return psycopg.connect(
                    host=str(self.root), port=self.port, user=USER, dbname="postgres",
                    autocommit=True,
                )  # fmt: skip
            except psycopg.OperationalError:
                if self._process.poll() is not None or time.monotonic() > give_up:
                    log = (self.root / "server.log").read_text(errors="replace")
                    raise RuntimeError(f"PostgreSQL did not start:\n{log}") from None
                time.sleep(0.02)  # a real server starting: poll its socket, bounded above

    def dsn(self, schema: str | None = None, *, password: str = PASSWORD) -> str:
        """A URL for the ``postgres`` database over TCP, with ``schema`` first on the path."""
        url = f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/postgres"
        return f"{url}?options=-csearch_path%3D{schema}" if schema else url

    def new_schema(self) -> str:
        """An empty schema of its own for one test: tables and migrations start from nothing."""
        name = f"t{next(_schemas)}"
        self.execute(f"CREATE SCHEMA {name}")
        return name

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` run as the superuser (an empty list when it returns none)."""
        cur = self._admin.execute(sql, params or None)
        return list(cur.fetchall()) if cur.description else []

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # "fast" shutdown: ends every session
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
