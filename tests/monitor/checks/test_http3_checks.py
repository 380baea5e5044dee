"""HTTP/3 monitors (``http_version``): the configuration, the check the prober makes
against a real aioquic HTTP/3 server on loopback (tests/helpers/h3_server.py), with its
certificate checks and conditions, and the same monitor as an agent receives it."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator

import pytest
import yaml

from tests.helpers.config_text import dump, errors_of
from tests.helpers.h3_server import h3_server
from tether._kinds import Kind
from tether.lab._certs import LabCerts, make_certs
from tether.monitor.checks._prober import Check, Prober
from tether.monitor.config import Monitor, parse_config
from tether.monitor.config._fields import SECONDS_CONTEXT
from tether.monitor.config._monitor_wire import monitor_json


@pytest.fixture(scope="module")
def certs() -> Iterator[LabCerts]:
    made = make_certs()
    yield made
    shutil.rmtree(made.directory, ignore_errors=True)


@pytest.fixture(scope="module")
def h3(certs: LabCerts) -> Iterator[int]:
    with h3_server(certs.valid) as port:
        yield port


def monitor(certs: LabCerts, url: str, **fields: object) -> Monitor:
    entry = {
        "name": "h3",
        "url": url,
        "http_version": 3,
        "tls": {"ca_file": str(certs.ca_file)},
        **fields,
    }
    return parse_config(dump(entry)).monitors[0]


def check(m: Monitor) -> Check:
    prober = Prober()
    prober.assign([m])
    return asyncio.run(prober.check(m.name, time.monotonic()))


@pytest.mark.parametrize(
    ("written", "read"), [("3", "3"), ("1.1", "1.1"), ("auto", "auto"), ('"3"', "3")]
)
def test_http_version_is_read_as_written(written: str, read: str) -> None:
    """YAML's 3 (an int) and 1.1 (a float) mean the versions, as their text does."""
    text = f"monitors:\n  - {{name: a, url: 'https://127.0.0.1:1/', http_version: {written}}}\n"
    assert parse_config(text).monitors[0].http_version == read


def test_the_default_is_http11() -> None:
    """A monitor that does not say is checked over HTTP/1.1, as before."""
    text = "monitors:\n  - {name: a, url: 'https://127.0.0.1:1/'}\n"
    assert parse_config(text).monitors[0].http_version == "1.1"


@pytest.mark.parametrize("bad", ["2", "h3", "yes", "[3]"])
def test_an_unknown_version_is_one_line_naming_the_key(bad: str) -> None:
    """A version that is not 1.1, 3 or auto is one line naming monitors[0].http_version."""
    text = f"monitors:\n  - {{name: a, url: 'https://127.0.0.1:1/', http_version: {bad}}}\n"
    errors = errors_of(text)
    assert len(errors) == 1
    assert errors[0].startswith("monitors[0].http_version: ")
    assert " is not one of 1.1, 3, auto" in errors[0]


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/", "tcp://127.0.0.1:1", "tls://127.0.0.1:1"])
def test_http3_is_for_https_monitors_only(url: str) -> None:
    """HTTP/3 on a scheme without TLS over QUIC is refused, naming the key."""
    errors = errors_of(dump({"name": "a", "url": url, "http_version": "3"}))
    assert errors == [
        "monitors[0].http_version: only https:// monitors can use HTTP/3 (it runs over "
        f"QUIC, TLS within); this is {url.partition(':')[0]}://"
    ]


def test_an_http3_check_passes_with_its_conditions(h3: int, certs: LabCerts) -> None:
    """Every condition reads an HTTP/3 check: status, body, header, certificate,
    quic phase, connected."""
    m = monitor(
        certs,
        f"https://localhost:{h3}/",
        conditions=[
            "[STATUS] == 200",
            "[BODY] == ok",
            "[HEADER].x-h3 == yes",
            "[CERTIFICATE_EXPIRATION] > 48h",
            "[PHASE].quic < 5s",
            "[CONNECTED] == true",
        ],
    )
    done = check(m)
    assert done.record.ok, done.record.detail
    assert done.cert_days_left is not None
    assert done.cert_days_left >= 395


def test_an_http3_503_fails_the_check(h3: int, certs: LabCerts) -> None:
    """A 503 over HTTP/3 fails the check with http.server_error."""
    done = check(monitor(certs, f"https://localhost:{h3}/503"))
    assert not done.record.ok
    assert done.record.kind is Kind.HTTP_SERVER_ERROR


def test_min_days_left_reads_the_quic_handshakes_certificate(h3: int, certs: LabCerts) -> None:
    """The lab's valid leaf has 396 days left: asking for 400 fails the check."""
    m = monitor(certs, f"https://localhost:{h3}/")
    m = m.model_copy(update={"tls": m.tls.model_copy(update={"min_days_left": 400})})  # type: ignore[union-attr]
    done = check(m)
    assert not done.record.ok
    assert "tls.min_days_left (400)" in (done.record.detail or "")


def test_an_expired_certificate_over_http3_fails_as_tls_expired(certs: LabCerts) -> None:
    """An expired certificate in the QUIC handshake fails the check as tls.expired."""
    with h3_server(certs.expired) as port:
        done = check(monitor(certs, f"https://localhost:{port}/"))
    assert not done.record.ok
    assert done.record.kind is Kind.TLS_EXPIRED


def test_the_monitor_as_an_agent_receives_it_probes_the_same(h3: int, certs: LabCerts) -> None:
    """Dumped as the server sends it to an agent (JSON, durations in seconds), validated
    as the agent validates it, and checked by the agent's prober."""
    m = monitor(certs, f"https://localhost:{h3}/", conditions=["[STATUS] == 200"])
    raw = yaml.safe_load(yaml.safe_dump(monitor_json(m)))
    assert raw["http_version"] == "3"
    received = Monitor.model_validate(raw, context={SECONDS_CONTEXT: True})
    assert received == m
    done = check(received)
    assert done.record.ok, done.record.detail
    assert "quic" in done.record.phases
