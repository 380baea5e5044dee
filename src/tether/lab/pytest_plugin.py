"""pytest plugin: the ``lab``, ``service_lab`` and ``fast_retries`` fixtures, for testing code
against real failures.

Registered through the ``pytest11`` entry point, so it is active wherever
tether is installed::

    def test_my_client_survives_a_reset(lab):
        with pytest.raises(requests.ConnectionError):
            my_client.fetch(lab["reset_on_accept"].url)

    def test_fetch_gives_up_quickly(lab, fast_retries):
        with pytest.raises(requests.ConnectionError):
            my_client.fetch(lab["refused"].url)     # no real backoff waits
        assert len(fast_retries.waits) == 2          # the waits it skipped

    def test_my_repository_retries_a_refused_database(service_lab):
        repository = Repository(service_lab.dsn("refused"))
        with pytest.raises(psycopg.OperationalError):
            repository.save(order)

``fast_retries`` needs only the core.  ``lab`` and ``service_lab`` need the ``lab`` extra,
imported when a test first asks for it: pytest starts wherever tether is installed, with or
without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tether._extras import problem
from tether.testing import Override
from tether.testing import fast_retries as _fast_retries

if TYPE_CHECKING:
    from tether.lab import Lab, ServiceLab


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """Every fault-lab scenario, started once per test session on 127.0.0.1.

    ``lab["refused"].url`` is a URL that refuses; ``lab.ca_file`` is the CA to
    trust for the TLS scenarios; ``lab.resolver`` is the lab's DNS server.
    """
    if (missing := problem("the lab fixture", "lab")) is not None:
        pytest.fail(missing, pytrace=False)
    from tether.lab import Lab

    with Lab() as running:
        yield running


@pytest.fixture(scope="session")
def service_lab() -> Iterator[ServiceLab]:
    """The servers of databases, caches, RPC, brokers, SSH and mail that fail on purpose,
    started once per test session on 127.0.0.1 (docs/lab.md, "Services").

    ``service_lab["postgres_auth"].url`` is where a server refuses a PostgreSQL login,
    ``service_lab.dsn(name)`` its ``postgresql://`` URL, and ``service_lab.ca_file`` the CA
    to trust (which signed none of its servers: ``tls_untrusted`` is untrusted for real).
    """
    if (missing := problem("the service_lab fixture", "lab")) is not None:
        pytest.fail(missing, pytrace=False)
    from tether.lab import ServiceLab

    with ServiceLab() as running:
        yield running


@pytest.fixture
def fast_retries() -> Iterator[Override]:
    """No real retry waits during the test; ``.waits`` lists the ones skipped.

    Attempts are left as each policy says; use ``tether.testing.fast_retries(attempts=1)``
    as a context manager to cap them too.
    """
    with _fast_retries() as override:
        yield override
