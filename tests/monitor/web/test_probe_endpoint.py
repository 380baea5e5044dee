"""``GET /probe`` reaches only what ``probe.allowed_targets`` allows (by default the
monitors' hosts and loopback), the target and every redirect hop, against the monitor's
real server.  Every address here is on loopback: 127.0.0.2 plays another host, and a
refusal is shown with an allow-list that leaves part of loopback out.  That the default
lets nothing but loopback and the monitors' hosts through is held on the list it makes
(the networks it names), not by asking for an address off loopback.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import aiohttp
import pytest

from tests.helpers.ports import free_port
from tether.monitor import Runner
from tether.monitor.config import ConfigError, parse_config
from tether.monitor.web._web import allowed_targets, serve
from tether.probe import AllowedTargets, TargetRefused
from tether.probe._allow import LOOPBACK


class Recorder:
    """A loopback HTTP server on ``host`` that counts requests; ``/go`` redirects to
    ``redirect``."""

    def __init__(self, host: str, redirect: str = "") -> None:
        self.hits: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.hits.append(self.path)
                if self.path == "/go" and recorder.redirect:
                    self.send_response(302)
                    self.send_header("Location", recorder.redirect)
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.redirect = redirect
        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,))
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def hosts() -> Iterator[tuple[Recorder, Recorder]]:
    one, two = Recorder("127.0.0.1"), Recorder("127.0.0.2")
    try:
        yield one, two
    finally:
        one.close()
        two.close()


def ask(
    runner_for: Callable[..., Runner], config_text: str, *targets: str
) -> list[tuple[int, str]]:
    """Start the monitor's server with ``config_text`` (a Runner from the ``runner_for``
    fixture) and GET /probe?target=T for each."""
    runner = runner_for(parse_config(config_text))

    async def main() -> list[tuple[int, str]]:
        port = free_port()
        server = await serve(runner, "127.0.0.1", port)
        out = []
        try:
            async with aiohttp.ClientSession() as session:
                for target in targets:
                    url = f"http://127.0.0.1:{port}/probe"
                    async with session.get(url, params={"target": target}) as r:
                        out.append((r.status, await r.text()))
        finally:
            await server.cleanup()
        return out

    return asyncio.run(main())


def test_by_default_the_monitored_host_and_loopback_are_probed_and_nothing_else(
    runner_for: Callable[..., Runner], hosts: tuple[Recorder, Recorder]
) -> None:
    """Without probe.allowed_targets, the monitored host and the rest of loopback are
    probed, and the list names no network but the monitor's address and loopback's (an
    address outside them is refused before anything is sent: the tests below, on a list
    that leaves part of loopback out)."""
    one, two = hosts
    config = f"monitors:\n  - {{name: web, url: '{one.url}/'}}\n"
    (monitored, other) = ask(runner_for, config, one.url, two.url)
    assert monitored[0] == other[0] == 200
    assert "probe_success 1" in monitored[1]
    assert (one.hits, two.hits) == (["/"], ["/"])
    allowed = allowed_targets(parse_config(config))
    assert allowed.hosts == ()
    assert set(allowed.networks) == {*LOOPBACK, AllowedTargets.parse(["127.0.0.1"]).networks[0]}


def test_allowed_targets_refuses_what_it_leaves_out(
    runner_for: Callable[..., Runner], hosts: tuple[Recorder, Recorder]
) -> None:
    """With allowed_targets: [127.0.0.2], 127.0.0.2 is probed and 127.0.0.1 refused."""
    one, two = hosts
    config = (
        f"probe:\n  allowed_targets: [127.0.0.2]\nmonitors:\n  - {{name: web, url: '{one.url}/'}}\n"
    )
    (allowed, refused) = ask(runner_for, config, two.url, one.url)
    assert allowed[0] == 200
    assert refused[0] == 403
    assert "127.0.0.1 is not in probe.allowed_targets" in refused[1]
    assert (one.hits, two.hits) == ([], ["/"])


def test_a_database_target_is_refused_before_any_connection(
    runner_for: Callable[..., Runner],
) -> None:
    """/probe?target=postgresql://user:password@... (or redis://, mysql://) is a 400: a
    scrape never makes tether log in to a database with credentials it brings; a listener
    on the target's port sees no connection."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0)
    port = listener.getsockname()[1]
    config = "monitors:\n  - {name: web, url: 'http://127.0.0.1:9/'}\n"
    try:
        answers = ask(
            runner_for,
            config,
            f"postgresql://u:pw-Hidden@127.0.0.1:{port}/db",
            f"redis://:pw-Hidden@127.0.0.1:{port}",
            f"mysql://u:pw-Hidden@127.0.0.1:{port}/db",
        )
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    for status, text in answers:
        assert status == 400
        assert "does not probe" in text
        assert "pw-Hidden" not in text


def test_every_redirect_hop_is_checked(
    runner_for: Callable[..., Runner], hosts: tuple[Recorder, Recorder]
) -> None:
    """An allowed host redirecting to one left out answers 403; the second host hears
    nothing."""
    one, two = hosts
    one.redirect = f"{two.url}/inside"
    config = (
        "probe:\n  allowed_targets: [127.0.0.1/32]\n"
        f"monitors:\n  - {{name: web, url: '{one.url}/'}}\n"
    )
    ((status, text),) = ask(runner_for, config, f"{one.url}/go")
    assert status == 403
    assert "127.0.0.2 is not in probe.allowed_targets" in text
    assert (one.hits, two.hits) == (["/go"], [])


def test_a_host_pattern_allows_by_name(
    runner_for: Callable[..., Runner], hosts: tuple[Recorder, Recorder]
) -> None:
    """A pattern allows a name whatever it resolves to (localhost, here), and '*' allows
    everything."""
    one, _ = hosts
    port = one.url.rsplit(":", 1)[1]
    config = (
        "probe:\n  allowed_targets: ['local*']\nmonitors:\n  - {name: w, url: 'http://x.test/'}\n"
    )
    ((status, _),) = ask(runner_for, config, f"http://localhost:{port}/")
    assert status == 200
    assert one.hits == ["/"]


def test_a_reload_changes_what_probe_allows(
    runner_for: Callable[..., Runner], hosts: tuple[Recorder, Recorder]
) -> None:
    """The allow-list is worked out once per configuration: the same server refuses
    127.0.0.1, then probes it once a reload allows it."""
    one, _ = hosts
    monitors = f"monitors:\n  - {{name: web, url: '{one.url}/'}}\n"
    before = parse_config("probe:\n  allowed_targets: [127.0.0.2]\n" + monitors)
    after = parse_config("probe:\n  allowed_targets: [127.0.0.1]\n" + monitors)

    runner = runner_for(before)

    async def main() -> list[int]:
        port = free_port()
        server = await serve(runner, "127.0.0.1", port)
        statuses = []
        try:
            async with aiohttp.ClientSession() as session:
                for config in (before, before, after, after):
                    if config is not runner.config:
                        runner.reload(config)
                    url = f"http://127.0.0.1:{port}/probe"
                    async with session.get(url, params={"target": one.url}) as r:
                        statuses.append(r.status)
        finally:
            await server.cleanup()
        return statuses

    assert asyncio.run(main()) == [403, 403, 200, 200]
    assert one.hits == ["/", "/"]


def test_the_default_follows_the_monitors() -> None:
    """The default is each monitor's host (by name) plus 127.0.0.0/8 and ::1."""
    config = parse_config(
        "monitors:\n  - {name: a, url: 'https://api.example.test/health'}\n"
        "  - {name: b, url: 'tcp://db.example.test:5432'}\n"
        "  - {name: c, url: 'http://127.0.0.9/'}\n  - {name: d, url: 'http://[::1]/'}\n"
    )
    allowed = allowed_targets(config)
    assert allowed.hosts == ("api.example.test", "db.example.test")
    assert allowed.networks[-len(LOOPBACK) :] == LOOPBACK
    assert {str(n) for n in allowed.networks[: -len(LOOPBACK)]} == {"127.0.0.9/32", "::1/128"}
    allowed.check("api.example.test", [])  # by name, whatever it resolves to
    allowed.check("db.example.test", ["127.0.0.3"])
    allowed.check("localhost", ["127.0.0.1", "::1"])
    with pytest.raises(TargetRefused):
        allowed.check("other.example.test", [])  # a name not monitored, not resolved


def test_a_name_is_allowed_only_if_every_address_is() -> None:
    """A name that matches no pattern needs all its addresses inside the networks."""
    allowed = AllowedTargets.parse(["127.10.0.0/16", "*.corp.test", "::1"])
    allowed.check("app.corp.test", ["127.20.0.5"])
    allowed.check("svc.test", ["127.10.1.1", "::1"])
    with pytest.raises(TargetRefused, match=r"127\.20\.0\.5"):
        allowed.check("svc.test", ["127.10.1.1", "127.20.0.5"])
    with pytest.raises(TargetRefused):
        allowed.check("corp.test", ["127.20.0.5"])  # *.corp.test is its subdomains


def test_exact_entries_allow_what_a_pattern_or_network_of_them_would() -> None:
    """Exact names and single addresses (looked up in a set, for the default list of every
    monitor's host) allow just themselves, in any case and with a trailing dot, beside
    patterns and wider networks."""
    allowed = AllowedTargets.parse(
        ["API.example.test.", "*.corp.test", "h?.test", "127.0.0.7", "127.1.0.0/16", "::1"]
    )
    for host in ("api.example.test", "Api.Example.Test.", "db.corp.test", "h1.test"):
        assert allowed.host_allowed(host), host
    for host in ("x.api.example.test", "api.example", "corp.test", "h12.test"):
        assert not allowed.host_allowed(host), host
    for address in ("127.0.0.7", "127.1.200.3", "::1", "0:0:0::1"):
        assert allowed.address_allowed(address), address
    for address in ("127.0.0.8", "127.2.0.1", "::ffff:127.0.0.7", "nonsense"):
        assert not allowed.address_allowed(address), address


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("127.0.0.0/33", "'127.0.0.0/33' is not a network: write it as 127.0.0.0/8 or ::1/128"),
        ("http://x/", "'http://x/' is not a host name pattern"),
        ("", "an entry is empty"),
        ("x..test", "'x..test' is not a host name pattern: it has an empty label (..)"),
        ("[a-z].test", "'[a-z].test' is not a host name pattern: '[' cannot be in a host name"),
        (
            "a" * 64 + ".test",
            f"'{'a' * 39}…' is not a host name pattern: a label has 64 characters, and a host "
            "name's have 63 at most",
        ),
        (
            "*." + "b" * 300,
            f"'*.{'b' * 37}…' is not a host name pattern: 302 characters, and a host name has "
            "253 at most",
        ),
        (
            "api\u202e.test",
            "'api\\u202e.test' is not a host name pattern: it contains a right-to-left override "
            "(U+202E) at character 4",
        ),
    ],
)
def test_a_bad_entry_is_a_config_error(entry: str, message: str) -> None:
    """Each entry is checked when the file is read; the error names its place."""
    text = f"probe:\n  allowed_targets: ['{entry}']\nmonitors:\n  - {{name: a, url: 'http://h.test/'}}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert "probe.allowed_targets[0]: " + message in str(caught.value)
