"""``[DOMAIN_EXPIRATION]``: the prober looks the domain up at an RDAP server on loopback
(tests/helpers/rdap_server.py) found through an RFC 9224 bootstrap, on injected clocks:
far passes, near fails, no event / 404 / no server for the TLD leave the value missing
(saying why), a server down or answering 500 fails with its kind; answers and the
bootstrap are cached; the domain is the host's longest listed suffix plus one label."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.config_text import dump, errors_of
from tests.helpers.ports import free_port
from tests.helpers.rdap_server import RdapServer, bootstrap, registration
from tests.helpers.signed_zones import make_zones, serving
from tether.monitor._records import ProbeRecord
from tether.monitor.checks._prober import Prober
from tether.monitor.checks._rdap import parse_bootstrap, registered_domain
from tether.monitor.config import Monitor, parse_config
from tether.monitor.config._fields import SECONDS_CONTEXT

NOW = 1_800_000_000.0
DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.mono = 1000.0

    def __call__(self) -> float:
        return self.mono


@pytest.fixture
def rdap() -> Iterator[RdapServer]:
    server = RdapServer(
        {
            "far.test": (200, registration("far.test", NOW + 365 * DAY)),
            "near.test": (200, registration("near.test", NOW + 10 * DAY)),
            "noevent.test": (200, registration("noevent.test", None)),
            "broken.test": (500, {"errorCode": 500}),
        }
    )
    with server.running() as running:
        yield running


def _monitor(name: str, domain: str, source: str, port: int, **more: Any) -> str:
    extra = "".join(f", {k}: {v}" for k, v in more.items())
    return (
        f"  - {{name: {name}, url: 'tcp://127.0.0.1:{port}', "
        f"rdap: {{domain: {domain}, bootstrap: '{source}'{extra}}}, "
        "conditions: ['[DOMAIN_EXPIRATION] > 720h']}\n"
    )


def _prober(text: str, clock: Clock) -> Prober:
    prober = Prober(wall=lambda: NOW, mono=clock)
    prober.assign(parse_config(text).monitors)
    return prober


def _check(prober: Prober, name: str) -> ProbeRecord:
    async def go() -> ProbeRecord:
        return (await prober.check(name, prober.mono())).record

    return asyncio.run(go())


def test_expiry_far_passes_near_fails_and_a_missing_one_says_why(
    rdap: RdapServer, tmp_path: Path
) -> None:
    """365 days left passes > 720h; 10 days fails with the value; no event, a 404 and a
    TLD the bootstrap does not list fail the condition with the reason as its value."""
    source = tmp_path / "dns.json"
    source.write_text(bootstrap(rdap.base))
    text = "monitors:\n" + "".join(
        _monitor(n, d, str(source), rdap.port)
        for n, d in [
            ("far", "far.test"),
            ("near", "near.test"),
            ("noevent", "noevent.test"),
            ("gone", "gone.test"),
            ("other", "corp.example"),
        ]
    )
    prober = _prober(text, Clock())
    found = {n: _check(prober, n) for n in ("far", "near", "noevent", "gone", "other")}
    assert found["far"].ok, found["far"].detail
    assert found["far"].conditions == ("[DOMAIN_EXPIRATION] (365d) > 720h",)
    assert not found["near"].ok
    assert found["near"].kind is None  # a condition not met, on a good probe
    assert found["near"].conditions == ("[DOMAIN_EXPIRATION] (10d) > 720h",)
    assert "has no expiration event" in (found["noevent"].detail or "")
    assert "no registration found for gone.test" in (found["gone"].detail or "")
    assert "lists no server for .example" in (found["other"].detail or "")
    assert sorted(rdap.hits) == ["far.test", "gone.test", "near.test", "noevent.test"]


def test_an_rdap_server_down_or_failing_fails_the_check_with_its_kind(
    rdap: RdapServer, tmp_path: Path
) -> None:
    """A closed port is connect.refused, a 500 http.server_error, each saying it was
    the RDAP lookup; the target itself was fine."""
    closed = tmp_path / "closed.json"
    closed.write_text(bootstrap(f"http://127.0.0.1:{free_port()}/rdap/"))
    served = tmp_path / "served.json"
    served.write_text(bootstrap(rdap.base))
    text = "monitors:\n" + _monitor("down", "far.test", str(closed), rdap.port)
    text += _monitor("broken", "broken.test", str(served), rdap.port)
    prober = _prober(text, Clock())
    down, broken = _check(prober, "down"), _check(prober, "broken")
    assert down.kind == "connect.refused"
    assert (down.detail or "").startswith("the RDAP lookup of far.test at http://127.0.0.1:")
    assert broken.kind == "http.server_error"
    assert "the RDAP lookup of broken.test" in (broken.detail or "")


def test_answers_and_the_bootstrap_are_cached_until_their_time(rdap: RdapServer) -> None:
    """A second check asks nothing; past rdap.cache the domain is asked again, past
    rdap.refresh the bootstrap too; a failed refresh keeps the last good bootstrap."""
    url = f"http://127.0.0.1:{rdap.port}/dns.json"
    clock = Clock()
    text = "monitors:\n" + _monitor("far", "far.test", url, rdap.port, cache="6h", refresh="24h")
    prober = _prober(text, clock)
    assert _check(prober, "far").ok
    assert rdap.hits == ["dns.json", "far.test"]
    clock.mono += 6 * 3600 - 1
    assert _check(prober, "far").ok
    assert rdap.hits == ["dns.json", "far.test"]
    clock.mono += 2
    assert _check(prober, "far").ok
    assert rdap.hits == ["dns.json", "far.test", "far.test"]
    rdap.serve_bootstrap = False
    clock.mono += 24 * 3600
    assert _check(prober, "far").ok  # the refresh failed: the last good copy serves
    assert rdap.hits[-2:] == ["dns.json", "far.test"]
    n = len(rdap.hits)
    clock.mono += 60
    assert _check(prober, "far").ok
    assert len(rdap.hits) == n  # the bootstrap waits RETRY_BOOTSTRAP; the answer is kept
    clock.mono += 300
    assert _check(prober, "far").ok
    assert rdap.hits[n:] == ["dns.json"]  # tried again, failed again: the old copy serves
    rdap.serve_bootstrap = True
    clock.mono += 301
    assert _check(prober, "far").ok
    assert rdap.hits[n:] == ["dns.json", "dns.json"]


def test_the_domain_is_taken_from_the_host(rdap: RdapServer, tmp_path: Path) -> None:
    """A dns:// monitor of www.far.test looks up far.test (the bootstrap lists test)."""
    source = tmp_path / "dns.json"
    source.write_text(bootstrap(rdap.base))
    signed = make_zones()
    with serving(signed.zones) as resolver:
        text = (
            f"monitors:\n  - {{name: www, url: 'dns://good.test', resolver: '{resolver}', "
            f"rdap: {{bootstrap: '{source}'}}, conditions: ['[DOMAIN_EXPIRATION] > 720h']}}\n"
        )
        record = _check(_prober(text, Clock()), "www")
    assert "no registration found for good.test" in (record.detail or "")


@given(
    labels=st.lists(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), min_size=0, max_size=4),
    suffix=st.sampled_from(["test", "corp.test", "invalid"]),
)
def test_the_registered_domain_is_the_longest_suffix_plus_one(
    labels: list[str], suffix: str
) -> None:
    """The longest listed suffix wins; the host that is a suffix has no domain."""
    table = parse_bootstrap(
        '{"services": [[["test", "corp.test"], ["https://a.invalid/"]],'
        ' [["invalid"], ["http://b.invalid", "https://b.invalid"]]]}'
    )
    host = ".".join([*labels, suffix])
    parts = host.split(".")
    suffixes = [".".join(parts[k:]) for k in range(len(parts))]  # longest first
    found = registered_domain(host, table)
    if found is None:  # nothing listed, or the host is itself a listed suffix
        assert host in table or not any(s in table for s in suffixes)
        return
    domain, server = found
    tail = domain.split(".", 1)[1]
    assert host.endswith("." + tail)
    assert tail in table
    assert domain in suffixes
    longer = suffixes[: suffixes.index(tail)]
    assert not any(s in table for s in longer)  # no longer listed suffix was passed over
    assert server.startswith("https://")


def test_an_rdap_monitor_survives_the_agent_round_trip(tmp_path: Path) -> None:
    """The monitor as the server dumps it for an agent validates to the same monitor."""
    text = "monitors:\n" + _monitor("far", "far.test", str(tmp_path / "dns.json"), 9)
    (loaded,) = parse_config(text).monitors
    dumped = loaded.model_dump(mode="json")
    assert Monitor.model_validate(dumped, context={SECONDS_CONTEXT: True}) == loaded


@pytest.mark.parametrize(
    ("rdap", "error"),
    [
        (
            {"bootstrap": "http://rdap.corp.test/dns.json"},
            'monitors[0].rdap.bootstrap: "http://rdap.corp.test/dns.json": give an https:// '
            "URL (http:// only to loopback) or a file's name",
        ),
        (
            {"domain": "test"},
            'monitors[0].rdap.domain: "test" is not a registered domain name, as in corp.test',
        ),
        ({"cache": "0s"}, "monitors[0].rdap.cache: 0s is too short"),
        ({"refresh": 5}, "monitors[0].rdap.refresh: "),
        ({"bootstap": "x"}, "monitors[0].rdap.bootstap: unknown key"),
    ],
)
def test_rdap_option_errors_name_their_key(rdap: dict[str, Any], error: str) -> None:
    """Each mistake in rdap options is one line at its key."""
    (got,) = errors_of(dump({"name": "n", "url": "tcp://127.0.0.1:9", "rdap": rdap}))
    assert got.startswith(error), got


def test_domain_expiration_on_an_address_needs_rdap_domain() -> None:
    """An address has no registration: the condition's key says to set rdap.domain."""
    monitor = {"name": "n", "url": "tcp://127.0.0.1:9", "conditions": ["[DOMAIN_EXPIRATION] > 1d"]}
    assert errors_of(dump(monitor)) == [
        "monitors[0].conditions[0]: [DOMAIN_EXPIRATION] needs a domain name, and 127.0.0.1 "
        "is an address: set rdap.domain"
    ]
    assert parse_config(dump({**monitor, "rdap": {"domain": "corp.test"}})).monitors
