"""blackbox_exporter's HTTP/3 module options (``enable_http3``, ``valid_http_versions:
[HTTP/3.0]``, with ``enable_http2: false`` as its example ``blackbox.yml`` writes them):
read by its own rules, and run by ``/probe?module=`` over HTTP/3 against a real aioquic
server on loopback (tests/helpers/h3_server.py).  Debian's exporter (0.23) predates
HTTP/3, so it is not run beside."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator

import pytest

from tests.helpers.h3_server import h3_server
from tether.lab._certs import LabCerts, make_certs
from tether.monitor.checks._blackbox import run_module
from tether.monitor.config._blackbox import BlackboxModule
from tether.probe import LOOPBACK, AllowedTargets


@pytest.fixture(scope="module")
def certs() -> Iterator[LabCerts]:
    made = make_certs()
    yield made
    shutil.rmtree(made.directory, ignore_errors=True)


def module(certs: LabCerts, **http: object) -> BlackboxModule:
    options = {"tls_config": {"ca_file": str(certs.ca_file)}, "enable_http2": False, **http}
    return BlackboxModule.model_validate({"prober": "http", "http": options})


def test_the_example_http3_module_is_available(certs: LabCerts) -> None:
    """enable_http3 with enable_http2: false and valid_http_versions [HTTP/3.0] is a module
    tether runs, not one kept unavailable."""
    found = module(certs, enable_http3=True, valid_http_versions=["HTTP/3.0"])
    assert found.unavailable is None
    assert found.http.enable_http3


@pytest.mark.parametrize(
    ("http", "said"),
    [
        ({"valid_http_versions": ["HTTP/3.0"]}, "HTTP/3.0 needs enable_http3: true"),
        (
            {"enable_http3": True, "valid_http_versions": ["HTTP/1.1", "HTTP/3.0"]},
            "only HTTP/3.0 can be valid",
        ),
    ],
)
def test_blackbox_exporters_http3_rules_hold(
    certs: LabCerts, http: dict[str, object], said: str
) -> None:
    """HTTP/3.0 is valid only with enable_http3, and with it nothing else is: the
    exporter's own rules, said when the file is read."""
    with pytest.raises(ValueError, match=said):
        module(certs, **http)


def test_probe_runs_the_module_over_http3(certs: LabCerts) -> None:
    """/probe with the module asks over HTTP/3 (an http:// target made https://, as the
    exporter makes it), and HTTP/3.0 is the valid version it answered in."""
    with h3_server(certs.valid) as port:
        probed = asyncio.run(
            run_module(
                module(certs, enable_http3=True, valid_http_versions=["HTTP/3.0"]),
                f"http://localhost:{port}/",
                timeout=5.0,
                allowed=AllowedTargets(networks=LOOPBACK),
            )
        )
    assert probed.failure is None, probed.result.failure
    assert "quic" in [phase.name for phase in probed.result.phases]
