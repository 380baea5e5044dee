"""The ``browser:`` block: what it accepts, what check-config names by its key, the
``probe:`` section's settings filled into each browser monitor, the round trip an agent
makes of it, and Chromium's network errors as kinds (a pure table: a property)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.config_text import URL, dump, errors_of, monitor_errors
from tether import Kind
from tether._catalogue import CATALOGUE
from tether._kinds import Layer
from tether.monitor.checks._judge import probe_options
from tether.monitor.config import Monitor, parse_config
from tether.monitor.config._fields import SECONDS_CONTEXT
from tether.probe import BrowserStep
from tether.probe._browser import kind_for_net_error

STEPS: list[dict[str, Any]] = [
    {"fill": {"selector": "#user", "value": "ada"}},
    {"click": "#go"},
    {"wait_for_text": "Welcome"},
    {"wait_for": "#done"},
]


def test_a_browser_monitor_loads_with_its_steps_and_the_probe_sections_settings() -> None:
    """Steps keep their order; browser_concurrency and browser_executable from probe:
    are filled into the monitor; the engine's options say the same."""
    text = dump(
        {"name": "app", "url": URL, "browser": {"steps": STEPS, "viewport": {"width": 800}}},
        probe={"browser_concurrency": 3, "browser_executable": "/opt/chromium"},
    )
    (m,) = parse_config(text).monitors
    assert m.browser is not None
    assert [s.action for s in m.browser.steps] == ["fill", "click", "wait_for_text", "wait_for"]
    assert (m.browser.concurrency, m.browser.executable) == (3, "/opt/chromium")
    page = probe_options(m).browser
    assert page is not None
    assert page.steps == (
        BrowserStep("fill", "#user", "ada"),
        BrowserStep("click", "#go"),
        BrowserStep("wait_for_text", "Welcome"),
        BrowserStep("wait_for", "#done"),
    )
    assert (page.viewport, page.concurrency, page.executable) == ((800, 720), 3, "/opt/chromium")
    assert page.fail_on_console_errors
    assert not page.fail_on_failed_requests


def test_a_monitor_without_a_browser_block_probes_as_before() -> None:
    """No browser: the options carry none (the walk, not Chromium)."""
    (m,) = parse_config(dump()).monitors
    assert m.browser is None
    assert probe_options(m).browser is None


def test_check_config_names_each_bad_key() -> None:
    """Each problem is one line at its key path."""
    assert monitor_errors(browser={"steps": [{"click": "#a", "wait_for": "#b"}]}) == [
        "monitors[0].browser.steps[0]: a step is exactly one of click, fill, wait_for_text, "
        "wait_for"
    ]
    assert monitor_errors(browser={"steps": [{"fill": {"selector": "#a"}}]})[0].startswith(
        "monitors[0].browser.steps[0].fill.value:"
    )
    assert monitor_errors(browser={"viewport": {"width": 10}})[0].startswith(
        "monitors[0].browser.viewport.width:"
    )
    assert monitor_errors(browser={"concurrency": 4}) == [
        "monitors[0].browser.concurrency: set it for every browser check as "
        "probe.browser_concurrency"
    ]
    errors = errors_of(dump({"name": "t", "url": "tcp://127.0.0.1:22", "browser": {}}))
    assert errors == [
        "monitors[0].browser: a browser check loads an http:// or https:// page; this is tcp://"
    ]
    (headers,) = monitor_errors(browser={}, headers={"X-Team": "a"})
    assert headers.startswith("monitors[0].headers: a browser check sends the browser's own")
    (ca,) = monitor_errors(url="https://127.0.0.1:8443/", browser={}, tls={"ca_file": "/x.pem"})
    assert ca.startswith("monitors[0].tls.ca_file: Chromium trusts the system's")
    steps = [
        {"name": "a", "url": "http://127.0.0.1:9/a"},
        {"name": "b", "url": "http://127.0.0.1:9/b"},
    ]
    (both,) = monitor_errors(browser={}, steps=steps)
    assert both.startswith("monitors[0].steps: a monitor is a browser check or a multi-step")
    assert errors_of(dump(probe={"browser_concurrency": 0}))[0].startswith(
        "probe.browser_concurrency:"
    )


def test_a_browser_monitor_survives_the_round_trip_to_an_agent() -> None:
    """Dumped as the server sends it, validated as the agent reads it: the same monitor."""
    text = dump(
        {"name": "app", "url": URL, "browser": {"steps": STEPS}},
        probe={"browser_concurrency": 5},
    )
    (loaded,) = parse_config(text).monitors
    raw = loaded.model_dump(mode="json")
    again = Monitor.model_validate(raw, context={SECONDS_CONTEXT: True})
    assert again == loaded
    assert probe_options(again).browser == probe_options(loaded).browser


def test_the_new_kinds_are_app_failures() -> None:
    """Conditions judge them as answers (Layer.APP), as gRPC's and databases' kinds."""
    for kind in (Kind.BROWSER_STEP_FAILED, Kind.BROWSER_PAGE_ERROR):
        assert CATALOGUE[kind].layer is Layer.APP
        assert CATALOGUE[kind].hint.endswith(".")


KNOWN = {
    "ERR_NAME_NOT_RESOLVED": Kind.DNS_NOT_FOUND,
    "ERR_CONNECTION_REFUSED": Kind.CONNECT_REFUSED,
    "ERR_CONNECTION_RESET": Kind.CONNECTION_RESET,
    "ERR_CERT_AUTHORITY_INVALID": Kind.TLS_UNTRUSTED,
    "ERR_CERT_DATE_INVALID": Kind.TLS_EXPIRED,
    "ERR_CERT_COMMON_NAME_INVALID": Kind.TLS_HOSTNAME_MISMATCH,
    "ERR_CERT_REVOKED": Kind.TLS_UNTRUSTED,
    "ERR_SSL_PROTOCOL_ERROR": Kind.TLS_PROTOCOL,
    "ERR_TIMED_OUT": Kind.READ_TIMEOUT,
    "ERR_CONNECTION_TIMED_OUT": Kind.CONNECT_TIMEOUT,
    "ERR_EMPTY_RESPONSE": Kind.CONNECTION_CLOSED,
    "ERR_TOO_MANY_REDIRECTS": Kind.HTTP_REDIRECT_LOOP,
}


def test_chromiums_network_errors_map_to_the_walks_kinds() -> None:
    """The codes the brief names give the kinds the walk gives the same faults."""
    for code, kind in KNOWN.items():
        assert kind_for_net_error(f"page.goto: net::{code} at http://x.test/") is kind, code


_CODE = st.from_regex(r"ERR_[A-Z][A-Z0-9_]{0,30}", fullmatch=True)
_TEXT = st.text(alphabet=st.characters(blacklist_characters=":"), max_size=40)


@given(code=_CODE, before=_TEXT, after=st.text(max_size=40))
def test_any_net_error_code_gets_a_kind_and_certificates_stay_tls(
    code: str, before: str, after: str
) -> None:
    """Whatever surrounds it, a net:: code gives a kind (unknown at worst); a certificate
    error is a TLS kind; text with no code gives None."""
    kind = kind_for_net_error(f"{before}net::{code} {after}")
    assert isinstance(kind, Kind)
    if code.startswith("ERR_CERT_") and not code.startswith("ERR_CERT_DATE_INVALID"):
        assert CATALOGUE[kind].layer is Layer.TLS
    assert kind_for_net_error(before) is None
