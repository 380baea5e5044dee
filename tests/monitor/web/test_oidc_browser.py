"""Single sign-on as a user meets it: Debian's Chromium (Playwright) signs in through a
real OpenID provider (the certified ``oidc-provider`` package on Node,
tests/helpers/oidc_server.py), uses the dashboard, makes a change and logs out at both
ends, against real ``tether monitor`` processes in each deployment shape: one process,
``workers: 2``, and two instances on one PostgreSQL database, where the login begins on
the first instance and the provider sends it back to the second.  The browser is held to
loopback: a request anywhere else is aborted and fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.helpers.logins import PASSWORD
from tests.helpers.oidc_world import READ_TOKEN, SHAPES, World, world
from tether.lab import Lab


@pytest.fixture(scope="module", params=SHAPES)
def shaped(
    request: pytest.FixtureRequest, lab: Lab, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with world(request.param, tmp_path_factory.mktemp(request.param), lab, request) as running:
        yield running


class Loopback:
    """A browser context held to 127.0.0.1 (the provider's pages @import a web font)."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(ignore_https_errors=True)
        self.elsewhere: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()

    def _route(self, route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.elsewhere.append(route.request.url)
            route.abort()

    def close(self) -> None:
        self.context.close()


def provider_login(page: Any, user: str) -> None:
    """Sign in on the provider's login page (any password)."""
    page.wait_for_selector('input[name="login"]')
    page.fill('input[name="login"]', user)
    page.fill('input[name="password"]', "any password")
    page.click('button[type="submit"]')


def test_chromium_signs_in_changes_and_logs_out(shaped: World, browser: Any) -> None:
    """A page asked for without a session goes to /login; its single sign-on button goes
    to the provider and back to that page as alice (whichever process or instance the
    callback reaches), whose session makes a change with the page's CSRF token; logging
    out ends the session here and, after the provider asks, there: the next login asks
    for the password again."""
    w = shaped
    tab = Loopback(browser)
    page = tab.page
    try:
        page.goto(f"{w.first.base}/monitors/web")
        assert urlsplit(page.url).path == "/login"
        page.click("#sso")
        provider_login(page, "alice")
        page.wait_for_url(f"{w.back.base}/monitors/web")
        assert page.locator(".who").inner_text() == "alice"
        csrf = page.locator('form.account input[name="csrf"]').get_attribute("value")
        headers = {"X-CSRF-Token": csrf, "Origin": w.back.base}
        base = w.back.base
        paused = tab.context.request.post(
            f"{base}/api/monitors/web/pause", headers=headers, data={}
        )
        assert paused.status == 200, paused.text()
        audit = requests.get(
            f"{base}/api/audit", headers={"Authorization": f"Bearer {READ_TOKEN}"}, timeout=10
        ).json()
        assert "oidc:alice" in str(audit)  # never taken for a configured user alice
        resumed = tab.context.request.post(
            f"{base}/api/monitors/web/resume", headers=headers, data={}
        )
        assert resumed.status == 200
        page.click("form.account button")
        page.wait_for_selector('button[name="logout"]')  # the provider asks
        page.click('button[name="logout"]')
        page.wait_for_url(f"{w.back.base}/login")
        assert tab.context.request.get(f"{base}/api/status").status == 401
        page.goto(f"{w.first.base}/login/oidc?next=/")
        page.wait_for_selector('input[name="login"]')  # the provider's session is over too
        assert tab.elsewhere == [] or all("fonts.googleapis.com" in u for u in tab.elsewhere)
    finally:
        tab.close()


def test_a_login_ends_where_the_provider_sends_it(shaped: World, browser: Any) -> None:
    """The login begun on the first instance (or process) ends where the provider sends
    the browser back, with the session there: its page shows the user; a read-only
    group's user (bob) sees the dashboard without a way to write."""
    w = shaped
    tab = Loopback(browser)
    try:
        tab.page.goto(f"{w.first.base}/login/oidc?next=/incidents")
        provider_login(tab.page, "bob")
        tab.page.wait_for_url(f"{w.back.base}/incidents")
        assert tab.page.locator(".who").inner_text() == "bob"
        change = tab.context.request.post(
            f"{w.back.base}/api/monitors/web/pause",
            headers={
                "X-CSRF-Token": tab.page.locator('input[name="csrf"]').first.get_attribute("value"),
                "Origin": w.back.base,
            },
            data={},
        )
        assert change.status == 403
    finally:
        tab.close()


def test_the_routes_answer_alike_whoever_asks(shaped: World) -> None:
    """The access matrix's rows for single sign-on with a provider configured, on every
    instance of the shape: /login/oidc sends anyone (nobody, a token, a session) to the
    provider with a pending-login cookie, and the callback without a login begun in that
    client is a 400 for all; neither needs nor takes a credential."""
    sessions = {}
    for instance in shaped.instances:
        http = shaped.http()
        http.post(f"{instance.base}/login", data={"user": "admin", "password": PASSWORD})
        sessions[instance.port] = http.cookies.get("tether_session")
        assert sessions[instance.port], "the password login made no session"
    for instance in shaped.instances:
        callers = {
            "anonymous": {},
            "read-token": {"Authorization": f"Bearer {READ_TOKEN}"},
            "session": {"Cookie": f"tether_session={sessions[instance.port]}"},
        }
        for who, headers in callers.items():
            begun = requests.get(
                f"{instance.base}/login/oidc?next=/",
                headers=headers,
                allow_redirects=False,
                timeout=30,
            )
            assert begun.status_code == 303, (who, begun.status_code)
            assert begun.headers["Location"].startswith(f"{shaped.provider.issuer}/auth?"), who
            assert "tether_oidc=" in begun.headers["Set-Cookie"], who
            back = requests.get(
                f"{instance.base}/login/oidc/callback?code=x&state=y",
                headers=headers,
                allow_redirects=False,
                timeout=30,
            )
            assert back.status_code == 400, (who, back.status_code)
            assert "tether_session=" not in back.headers.get("Set-Cookie", ""), who
