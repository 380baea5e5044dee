"""The oldest clients tether says it supports are the ones CI tests it on.

pyproject.toml's lower bounds for the integrations' clients, .ci/oldest.txt's pins and
the versions a CI run on them imports must agree: a bound raised in one place and not
the others would leave a version untested, or claimed without a test.
"""

from __future__ import annotations

import os
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = (
    *("requests", "urllib3", "httpx", "httpcore", "aiohttp"),
    *("redis", "SQLAlchemy", "grpcio", "botocore"),
)


# The clients tether.classify reads without an extra of their own, run through
# tests/classify/test_clients.py on their oldest tested releases (.ci/oldest-classified.txt).
CLASSIFIED = (
    *("psycopg", "psycopg2-binary", "asyncpg", "PyMySQL", "aiomysql", "pymongo"),
    *("websockets", "paramiko", "asyncssh", "pika", "aio-pika"),
)


def oldest_pins(file: str = "oldest.txt") -> dict[str, str]:
    pins = {}
    for written in (ROOT / ".ci" / file).read_text().splitlines():
        line = written.split("#", 1)[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            pins[Requirement(name).name] = pinned
    return pins


def test_the_classified_clients_oldest_and_newest_are_in_the_docs() -> None:
    """Each client classify reads is pinned at its oldest tested release, and
    docs/classify.md names that release and the newest (the test extra's pin) for it."""
    oldest = oldest_pins("oldest-classified.txt")
    assert set(CLASSIFIED) <= set(oldest)
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    newest = {
        Requirement(t).name: str(Requirement(t).specifier)[2:]
        for t in extras["test"]
        if "==" in str(Requirement(t).specifier)
    }
    newest["psycopg"] = version("psycopg")  # the postgres extra's, bounded below only
    newest["PyMySQL"] = version("PyMySQL")  # the mysql extra's, bounded below only
    doc = (ROOT / "docs" / "classify.md").read_text()
    for name in CLASSIFIED:
        said = f"| {name} | {oldest[name]} |"
        assert said in doc, f"docs/classify.md lacks the row {said} ..."
        if name not in ("psycopg", "PyMySQL"):
            assert f"{said} {newest[name]} |" in doc, f"{name}: the newest is {newest[name]}"


@pytest.mark.skipif(
    os.environ.get("TETHER_OLDEST_CLIENTS") != "1", reason="the CI step on the oldest clients"
)
def test_a_run_on_the_oldest_classified_clients_imports_them() -> None:
    """The CI step on the oldest clients imports the classified clients' oldest releases."""
    oldest = oldest_pins("oldest-classified.txt")
    assert {name: version(name) for name in CLASSIFIED} == {n: oldest[n] for n in CLASSIFIED}


def lower_bounds() -> dict[str, str]:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    bounds = {}
    for extra in ("requests", "httpx", "aiohttp", "redis", "sqlalchemy", "grpcio", "botocore"):
        for text in extras[extra]:
            req = Requirement(text)
            (spec,) = [s for s in req.specifier if s.operator == ">="]
            bounds[req.name] = spec.version
    return bounds


def test_the_pins_are_pyprojects_lower_bounds() -> None:
    """Each client in .ci/oldest.txt is pinned at pyproject.toml's lower bound, and every
    bounded client is pinned."""
    pins = {name: Version(v) for name, v in oldest_pins().items()}
    assert pins == {name: Version(v) for name, v in lower_bounds().items()}
    assert set(pins) == set(CLIENTS)


def test_this_run_imports_the_clients_it_means_to() -> None:
    """The CI step on the oldest clients (TETHER_OLDEST_CLIENTS=1) imports those, not the
    newest ones its venv sits over; every other run imports the test extra's pins."""
    if os.environ.get("TETHER_OLDEST_CLIENTS") == "1":
        wanted = oldest_pins()
    else:
        extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
            "optional-dependencies"
        ]
        pinned = (Requirement(text) for text in extras["test"])
        wanted = {r.name: str(r.specifier)[2:] for r in pinned if r.name in CLIENTS}
    assert {name: version(name) for name in CLIENTS} == wanted
