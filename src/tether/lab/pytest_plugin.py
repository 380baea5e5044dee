"""pytest plugin: the ``lab`` fixture, so users test their code against real failures.

Registered through the ``pytest11`` entry point, so it is active wherever
tether is installed::

    def test_my_client_survives_a_reset(lab):
        with pytest.raises(requests.ConnectionError):
            my_client.fetch(lab["reset_on_accept"].url)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tether.lab._lab import Lab


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """Every fault-lab scenario, started once per test session on 127.0.0.1.

    ``lab["refused"].url`` is a URL that refuses; ``lab.ca_file`` is the CA to
    trust for the TLS scenarios; ``lab.resolver`` is the lab's DNS server.
    """
    with Lab() as running:
        yield running
