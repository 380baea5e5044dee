"""The lab's page_* scenarios, checked by a real browser check: Debian's Chromium, driven
by Playwright through the probe engine, loads each page from the lab on loopback and gets
the scenario's kind.  The checks are the monitors docs/lab.md shows, read from it.

One event loop for the module, so one Chromium serves every check (the engine keeps one
per loop).  Skips without playwright or /usr/bin/chromium, fails instead when
TETHER_REQUIRE_CHROMIUM=1 (tests/helpers/web_harness.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.helpers.browser_checks import BrowserLoop
from tests.helpers.docs_blocks import ROOT
from tests.helpers.web_harness import chromium_or_skip
from tether import Kind
from tether.lab import Lab
from tether.lab._lab import BROWSER_SCENARIOS, PORT_OFFSETS
from tether.lab._matrix import planned
from tether.monitor.checks._judge import probe_options
from tether.monitor.config import Monitor, parse_config
from tether.probe import (
    BrowserDetails,
    BrowserStep,
    HttpDetails,
    ProbeOptions,
    ProbeResult,
    _browser,
    probe,
)

DOC_BASE = 18000
"""The ``tether lab --port`` base docs/lab.md's example is written against."""
SHORT = 2.0
"""The deadline of the checks below that wait for what never comes."""


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserLoop]:
    chromium_or_skip()
    loop = BrowserLoop()
    try:
        yield loop
    finally:
        loop.close()


def _doc_monitors(lab: Lab) -> dict[str, Monitor]:
    """docs/lab.md's browser monitors, moved from the documented port to this lab's."""
    text = (ROOT / "docs" / "lab.md").read_text()
    (block,) = re.findall(r"```yaml\n(.*?)```", text, re.S)
    documented = f"127.0.0.1:{DOC_BASE + PORT_OFFSETS['pages']}"
    assert documented in block, f"docs/lab.md's example should use {documented}"
    here = lab["page_ok"].url.split("/")[2]
    return {m.name: m for m in parse_config(block.replace(documented, here)).monitors}


def _last(result: ProbeResult) -> BrowserDetails:
    details = result.phases[-1].details
    assert isinstance(details, BrowserDetails)
    return details


def _kind(result: ProbeResult) -> Kind | None:
    return result.failure.kind if result.failure else None


def test_the_docs_monitors_cover_every_page_scenario(lab: Lab) -> None:
    """docs/lab.md has one browser monitor per page_* scenario, each at its URL."""
    monitors = _doc_monitors(lab)
    assert set(monitors) == BROWSER_SCENARIOS
    for name, m in monitors.items():
        assert m.browser is not None, name
        assert m.url == lab[name].url


@pytest.mark.parametrize("name", sorted(BROWSER_SCENARIOS))
def test_each_page_scenario_gives_its_kind(lab: Lab, browser: BrowserLoop, name: str) -> None:
    """The documented monitor's browser check of each page: the kind the lab promises
    (page_ok passes), made the way the monitor makes its probe options."""
    m = _doc_monitors(lab)[name]
    result = browser.run_probe(m.url, probe_options(m, env={}))
    assert _kind(result) == lab[name].kind, result.failure
    assert result.phase("navigation").details.status == 200


def test_page_ok_draws_its_text(lab: Lab, browser: BrowserLoop) -> None:
    """The text is in the page only once its script ran: the rendered body has it."""
    result = browser.probe(
        lab["page_ok"].url, steps=(BrowserStep("wait_for", "#ready"),), keep_body=65536
    )
    assert result.failure is None, result.failure
    assert result.body is not None
    assert b'<p id="ready">rendered by script</p>' in result.body
    assert _last(result).console_errors == ()
    assert _last(result).failed_requests == ()


def test_page_script_error_names_the_error_and_the_missing_library(
    lab: Lab, browser: BrowserLoop
) -> None:
    """The uncaught ReferenceError fails the check; the 404 library behind it is listed."""
    url = lab["page_script_error"].url
    result = browser.probe(url)
    assert _kind(result) is Kind.BROWSER_PAGE_ERROR
    assert result.failure is not None
    assert "uncaught LabChart is not defined" in result.failure.detail
    assert _last(result).failed_requests == (url.replace("/script_error", "/lib.js -> 404"),)
    passed = browser.probe(url, fail_on_console_errors=False)
    assert passed.failure is None, passed.failure


def test_page_never_renders_fails_a_step_within_the_deadline(
    lab: Lab, browser: BrowserLoop
) -> None:
    """wait_for #ready is never done, nor a click on the hidden #retry: step_failed, each
    naming its step, with the failed API call recorded; without a step the page passes."""
    url = lab["page_never_renders"].url
    for step in (BrowserStep("wait_for", "#ready"), BrowserStep("click", "#retry")):
        result = browser.probe(url, deadline=SHORT, steps=(step,))
        assert _kind(result) is Kind.BROWSER_STEP_FAILED
        assert result.failure is not None
        assert f"step 1 ({step.action} '{step.target}')" in result.failure.detail
        assert result.phases[-1].name == f"step1.{step.action}"
        assert _last(result).failed_requests == (url.replace("/never_renders", "/api/data -> 503"),)
        assert sum(p.ms for p in result.phases) < SHORT * 1000 + 500
    assert browser.probe(url, deadline=SHORT).failure is None


def test_a_step_the_deadline_ends_keeps_the_failed_api_call(
    lab: Lab, browser: BrowserLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step whose own timeout would come after the check's deadline (as on a loaded
    machine, where the deadline came first by chance and the step's phase lost what the
    page did) is ended by the deadline: step_failed, naming the step, and the failed API
    call recorded on its phase all the same."""
    monkeypatch.setattr(_browser, "STEP_MARGIN", -30.0)
    url = lab["page_never_renders"].url
    result = browser.probe(url, deadline=SHORT, steps=(BrowserStep("wait_for", "#ready"),))
    assert _kind(result) is Kind.BROWSER_STEP_FAILED
    assert result.failure is not None
    assert "step 1 (wait_for '#ready') was not done within the check's" in result.failure.detail
    assert result.phases[-1].name == "step1.wait_for"
    assert _last(result).step == "wait_for '#ready'"
    assert _last(result).failed_requests == (url.replace("/never_renders", "/api/data -> 503"),)


def test_page_broken_asset_fails_only_when_asked(lab: Lab, browser: BrowserLoop) -> None:
    """The 404 image is a failed request: recorded, and http.client_error with
    fail_on_failed_requests."""
    url = lab["page_broken_asset"].url
    image = url.replace("/broken_asset", "/logo.png -> 404")
    passed = browser.probe(url)
    assert passed.failure is None, passed.failure
    assert _last(passed).failed_requests == (image,)
    failed = browser.probe(url, fail_on_failed_requests=True)
    assert _kind(failed) is Kind.HTTP_CLIENT_ERROR
    assert failed.failure is not None
    assert image in failed.failure.detail


@pytest.mark.parametrize("name", sorted(BROWSER_SCENARIOS))
def test_an_http_check_sees_200(lab: Lab, name: str) -> None:
    """Without a browser every page answers 200: the fault is only a browser check's."""
    result = probe(lab[name].url, ProbeOptions(timeout=2, env={}))
    assert result.failure is None, result.failure
    details = result.phases[-1].details
    assert isinstance(details, HttpDetails)
    assert details.response.status == 200


def test_the_matrix_leaves_them_out() -> None:
    """The HTTP clients' matrix plans no page_* cell."""
    assert not {name for name, _ in planned(netns=False)} & BROWSER_SCENARIOS
