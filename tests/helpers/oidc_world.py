"""A real OpenID provider and real ``tether monitor`` processes configured to sign in with
it, in the three deployment shapes (one process, ``workers: 2``, two instances on one
PostgreSQL database): the world of the single sign-on tests.

In the two-instance shape the provider sends every login back to the *second* instance
(both configurations' ``redirect_uri``), so a login begun on the first ends on the other,
as behind a load balancer that sends each request anywhere."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
import requests

from tests.helpers.logins import FAST, PASSWORD
from tests.helpers.oidc_server import CLIENT_ID, CLIENT_SECRET, Provider, oidc_provider
from tests.helpers.ports import free_port
from tests.helpers.processes import wait_for
from tests.helpers.tether_processes import monitor
from tether.lab import Lab
from tether.monitor.config._passwords import hash_password, hash_token, new_token

READ_TOKEN: Final = new_token()
PASSWORD_HASH: Final = hash_password(PASSWORD, n=FAST)
SHAPES: Final = ("one-process", "workers-2", "two-instances")


@dataclass
class Instance:
    port: int
    proc: subprocess.Popen[str]
    config: Path
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class World:
    shape: str
    provider: Provider
    instances: list[Instance]

    @property
    def first(self) -> Instance:
        return self.instances[0]

    @property
    def back(self) -> Instance:
        """Where the provider sends a login back: the last instance."""
        return self.instances[-1]

    def http(self) -> requests.Session:
        """A client with a cookie jar of its own that trusts the provider's CA."""
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would replace verify
        session.verify = str(self.provider.ca_file)
        return session

    def logs(self) -> str:
        return "".join(i.log.read_text(errors="replace") for i in self.instances)


def oidc_section(provider: Provider, back_port: int, **more: Any) -> dict[str, Any]:
    return {
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": f"http://127.0.0.1:{back_port}/login/oidc/callback",
        "scopes": ["openid", "profile", "email", "groups"],
        "ca_file": str(provider.ca_file),
        "roles": [
            {"value": "ops", "scopes": ["read", "write"]},
            {"value": "viewers", "scopes": ["read"]},
        ],
        **more,
    }


def configuration(
    path: Path,
    lab: Lab,
    port: int,
    storage: dict[str, str],
    workers: int,
    oidc: dict[str, Any],
) -> Path:
    config = {
        "storage": storage,
        "workers": workers,
        "server": {"listen": f"127.0.0.1:{port}"},
        "users": [{"name": "admin", "password_hash": PASSWORD_HASH}],
        "tokens": [{"name": "reader", "hash": hash_token(READ_TOKEN), "scope": "read"}],
        "oidc": oidc,
        "monitors": [
            {"name": "web", "url": lab["healthy"].url, "interval": "1h", "timeout": "2s"},
        ],
    }
    if "path" not in storage:
        config["cluster"] = {"lease": "2s"}
    path.write_text(json.dumps(config))
    return path


def ready(instance: Instance) -> bool:
    try:
        answer = requests.get(
            f"{instance.base}/api/status",
            headers={"Authorization": f"Bearer {READ_TOKEN}"},
            timeout=5,
        )
    except requests.ConnectionError:
        return False
    return answer.status_code == 200 and "web" in answer.json().get("monitors", {})


@contextmanager
def world(
    shape: str,
    tmp: Path,
    lab: Lab,
    request: pytest.FixtureRequest,
    **oidc: Any,
) -> Iterator[World]:
    """The provider and the shape's monitors, running and answering."""
    if shape == "two-instances":
        server = request.getfixturevalue("postgres_server")  # skips, or fails when required
        storage = {"postgres": server.dsn(server.new_schema())}
        counts = [1, 1]
    else:
        storage = {"path": str(tmp / "tether.db")}
        counts = [2 if shape == "workers-2" else 1]
    ports = [free_port() for _ in counts]
    redirects = [f"http://127.0.0.1:{p}/login/oidc/callback" for p in ports]
    logouts = [f"http://127.0.0.1:{p}/login" for p in ports]
    with ExitStack() as stack:
        provider = stack.enter_context(oidc_provider(tmp, redirects, logouts))
        instances = []
        for i, (port, workers) in enumerate(zip(ports, counts, strict=True)):
            section = oidc_section(provider, ports[-1], **oidc)
            config = configuration(tmp / f"tether-{i}.yaml", lab, port, storage, workers, section)
            log = tmp / f"monitor-{i}.log"
            env = {**os.environ, "TETHER_LOCATION": "local"}
            proc = stack.enter_context(monitor(config, log, env=env))
            instances.append(Instance(port, proc, config, log))
        procs = [i.proc for i in instances]
        for each in instances:
            wait_for(lambda i=each: ready(i), limit=60, procs=procs)
        yield World(shape, provider, instances)
