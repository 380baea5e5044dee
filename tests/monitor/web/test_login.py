"""Login, logout, sessions, CSRF, API tokens and /metrics behind a token, against the
real server (make_app on 127.0.0.1:0, in plain HTTP and in TLS with a trustme
certificate), a real Prometheus, and Debian's headless Chromium.

What is real: sockets, the server and its middleware, scrypt, the cookies as sent, the
browser's form posts under the page's CSP.  The sessions and the login limit run on the
runner's wall clock, which the tests move (no test waits 12 hours).  "Not on loopback"
cannot be reached from a test that touches loopback alone: the refusal is shown through
the coordinator's Unix socket with the address a worker process reports (the path a
request that arrived on a public address takes), and a TCP client that forges that
header is shown to be ignored; the decision itself is tested purely in test_auth.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme
import yaml
from aiohttp import web

from tests.helpers.logins import FAST, PASSWORD
from tests.helpers.prometheus_server import found, needs_prometheus, prometheus
from tests.helpers.web_harness import Response, ServedRunner, Tab
from tether.monitor.config import parse_config
from tether.monitor.config._passwords import hash_password, hash_token
from tether.monitor.store import SQLiteStore
from tether.monitor.web._access import authorize

READER = "tether_reader-token-0123456789abcdefghijklmnopqrstuv"
WRITER = "tether_writer-token-0123456789abcdefghijklmnopqrstuv"


def config(*, users: bool = True, **server: Any) -> dict[str, Any]:
    h = hash_password(PASSWORD, n=FAST)
    out: dict[str, Any] = {
        "monitors": [{"name": "api", "url": "http://127.0.0.1:9/"}],
        "tokens": [
            {"name": "reader", "hash": hash_token(READER), "scope": "read"},
            {"name": "writer", "hash": hash_token(WRITER), "scope": "write"},
        ],
        "server": {"require_token": ["metrics", "probe"], **server},
    }
    if users:
        out["users"] = [
            {"name": "alice", "password_hash": h},
            {"name": "bob", "password_hash": h, "scopes": ["read"]},
        ]
    return out


class Served(ServedRunner):
    """make_app over a runner on a wall clock the test moves, with a test-only POST route
    that needs ``write`` (the write API's routes are another module's)."""

    def __init__(
        self,
        tmp: Path,
        settings: dict[str, Any],
        *,
        tls: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
        unix: str | None = None,
    ) -> None:
        super().__init__(
            parse_config(yaml.safe_dump(settings)),
            SQLiteStore(tmp / "login.db"),
            tls=tls,
            host=host,
            unix=unix,
        )

    def app(self) -> web.Application:
        app = super().app()

        async def change(request: web.Request) -> web.Response:
            who = authorize(request, "write")
            return web.json_response({"who": who.who})

        app.router.add_post("/api/test-write", change)
        return app

    def login(self, user: str = "alice", password: str = PASSWORD, **kw: Any) -> Response:
        return self.request("POST", "/login", form={"user": user, "password": password}, **kw)

    def session(self, user: str = "alice") -> tuple[str, str]:
        """A fresh session's cookie and CSRF token (from the page it opens on)."""
        cookie = self.login(user).cookie()
        assert cookie is not None
        page = self.request("GET", "/", cookie=cookie)
        assert page.status == 200, page.status
        found = re.search(r'name="csrf" value="([^"]+)"', page.body)
        assert found is not None
        return cookie, found.group(1)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    s = Served(tmp_path, config())
    yield s
    s.close()


# -- login and logout ---------------------------------------------------------------------


def test_a_page_without_a_session_goes_to_the_login_and_an_api_answers_401(
    served: Served,
) -> None:
    """A dashboard page redirects to /login with where it was going; an API and a
    page's fragment answer a JSON 401; the login, static files and status pages do not
    ask for one."""
    page = served.request("GET", "/monitors/api?x=1")
    assert page.status == 303
    location = urlsplit(page.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": ["/monitors/api?x=1"]}
    api = served.request("GET", "/api/status")
    assert api.status == 401
    assert api.headers["WWW-Authenticate"] == 'Bearer realm="tether"'
    assert "log in" in api.json()["error"]
    assert served.request("GET", "/?fragment=1").status == 401
    login = served.request("GET", "/login?next=/incidents")
    assert login.status == 200
    assert 'name="next" value="/incidents"' in login.body
    assert "form-action 'self'" in login.headers["Content-Security-Policy"]
    assert served.request("GET", "/static/dashboard.css").status == 200
    assert served.request("GET", "/status/anything").status == 404  # not a login page


def test_logging_in_sets_a_strict_httponly_cookie_and_goes_where_one_was_going(
    served: Served,
) -> None:
    """The right password: 303 to the `next` path, a tether_session cookie that is
    HttpOnly, SameSite=Strict, Path=/ and, over plain HTTP, not Secure; the page then
    shows the user's name and a logout form carrying the session's CSRF token."""
    r = served.request(
        "POST", "/login", form={"user": "alice", "password": PASSWORD, "next": "/incidents"}
    )
    assert r.status == 303
    assert r.headers["Location"] == "/incidents"
    (line,) = r.headers.get_all("Set-Cookie")
    attributes = {part.strip().split("=")[0].lower() for part in line.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "SameSite=Strict" in line
    assert "Path=/" in line
    assert "secure" not in attributes
    cookie = r.cookie()
    assert cookie is not None
    assert len(cookie) == 43
    page = served.request("GET", "/incidents", cookie=cookie)
    assert page.status == 200
    assert '<span class="who">alice</span>' in page.body
    assert re.search(r'<form class="account" method="post" action="/logout">', page.body)
    assert re.search(r'<input type="hidden" name="csrf" value="[\w-]{43}">', page.body)


def test_a_login_never_goes_on_to_another_site(served: Served) -> None:
    """A `next` of //evil.example or https://evil.example is replaced by /."""
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        form = {"user": "alice", "password": PASSWORD, "next": target}
        assert served.request("POST", "/login", form=form).headers["Location"] == "/"


def test_a_wrong_password_or_name_is_a_401_and_sets_no_cookie(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong password and an unknown name both answer 401 with the same words and no
    cookie; the log names the user (a known one only) and never the password."""
    caplog.set_level(logging.INFO, logger="tether")
    wrong = served.login(password="not the password")
    unknown = served.login(user="mallory-typed-a-secret", password="x")
    for r in (wrong, unknown):
        assert r.status == 401
        assert r.cookie() is None
        assert "Wrong name or password." in r.body
    assert "login failed for 'alice' from 127.0.0.1" in caplog.text
    assert "login failed for an unknown user name from 127.0.0.1" in caplog.text
    assert "not the password" not in caplog.text
    assert "mallory-typed-a-secret" not in caplog.text


def test_logout_ends_the_session_on_the_server(served: Served) -> None:
    """After POST /logout (with the CSRF token) the old cookie no longer opens a page
    and the response clears it."""
    cookie, csrf = served.session()
    r = served.request("POST", "/logout", form={"csrf": csrf}, cookie=cookie)
    assert r.status == 303
    assert r.headers["Location"] == "/login"
    assert any(line.startswith('tether_session=""') for line in r.headers.get_all("Set-Cookie"))
    again = served.request("GET", "/", cookie=cookie)
    assert again.status == 303
    assert again.headers["Location"].startswith("/login")
    assert served.request("GET", "/api/status", cookie=cookie).status == 401


# -- CSRF and origin --------------------------------------------------------------------


def test_a_change_without_the_csrf_token_is_refused(served: Served) -> None:
    """A session's POST with no token, or another session's token, is a 403 that says
    why; the header or the form field with its own token goes through."""
    cookie, csrf = served.session()
    _, other = served.session()
    for headers in ({}, {"X-CSRF-Token": other}, {"X-CSRF-Token": ""}):
        r = served.request("POST", "/api/test-write", cookie=cookie, headers=headers)
        assert r.status == 403
        assert "CSRF token" in r.json()["error"]
    r = served.request("POST", "/logout", cookie=cookie, form={"csrf": other})
    assert r.status == 403
    ok = served.request("POST", "/api/test-write", cookie=cookie, headers={"X-CSRF-Token": csrf})
    assert (ok.status, ok.json()) == (200, {"who": "alice"})
    ok = served.request("POST", "/api/test-write", cookie=cookie, form={"csrf": csrf})
    assert (ok.status, ok.json()) == (200, {"who": "alice"})


def test_a_change_from_another_origin_is_refused_even_with_the_token(served: Served) -> None:
    """A POST whose Origin is another site's is a 403 with the right cookie and token,
    and so is a login posted from another site; this server's own origin goes through."""
    cookie, csrf = served.session()
    evil = {"Origin": "http://evil.example", "X-CSRF-Token": csrf}
    r = served.request("POST", "/api/test-write", cookie=cookie, headers=evil)
    assert r.status == 403
    assert "own pages" in r.json()["error"]
    login = served.login(headers={"Origin": "http://evil.example"})
    assert login.status == 403
    assert login.cookie() is None
    mine = {"Origin": served.base, "X-CSRF-Token": csrf}
    assert served.request("POST", "/api/test-write", cookie=cookie, headers=mine).status == 200


def test_a_read_only_user_cannot_change_anything(served: Served) -> None:
    """bob (scopes: read) reads the dashboard but his change is a 403 naming his scopes."""
    cookie, csrf = served.session("bob")
    assert served.request("GET", "/api/status", cookie=cookie).status == 200
    r = served.request("POST", "/api/test-write", cookie=cookie, headers={"X-CSRF-Token": csrf})
    assert r.status == 403
    assert r.json()["error"] == "bob may not write: its scopes are ['read']"


# -- expiry on the injected clock --------------------------------------------------------


def test_an_idle_session_expires_and_the_page_goes_to_the_login(served: Served) -> None:
    """Used within 12 hours a session lives; left idle past them, the page redirects to
    the login and the API answers 401."""
    cookie, _ = served.session()
    served.now += 12 * 3600 - 1
    assert served.request("GET", "/", cookie=cookie).status == 200
    served.now += 12 * 3600 + 1
    r = served.request("GET", "/", cookie=cookie)
    assert r.status == 303
    assert r.headers["Location"] == "/login?next=/"
    assert served.request("GET", "/api/status", cookie=cookie).status == 401


def test_a_used_session_still_expires_after_seven_days(served: Served) -> None:
    """A session used every 11 hours ends 7 days after the login all the same."""
    cookie, _ = served.session()
    start = served.now
    while served.now + 11 * 3600 <= start + 7 * 86400:
        served.now += 11 * 3600
        assert served.request("GET", "/api/status", cookie=cookie).status == 200
    served.now = start + 7 * 86400 + 1
    assert served.request("GET", "/api/status", cookie=cookie).status == 401


# -- the login limit ---------------------------------------------------------------------


def test_five_failed_logins_answer_429_until_fifteen_minutes_pass(served: Served) -> None:
    """After five failures from one address even the right password is a 429 with a
    Retry-After; another address trying that user is held too (per name); 15 minutes
    on, the right password works."""
    for _ in range(5):
        assert served.login(password="guess").status == 401
    held = served.login()
    assert held.status == 429
    assert held.headers["Retry-After"] == "900"
    assert held.cookie() is None
    assert "Too many failed logins" in held.body
    elsewhere = served.login(source="127.0.0.2")
    assert elsewhere.status == 429
    # bob, from another address, is not held by alice's failures.
    assert served.login("bob", source="127.0.0.2").status == 303
    served.now += 900
    assert served.login().status == 303


def test_the_limiter_keys_a_name_by_its_first_256_characters(served: Served) -> None:
    """A megabyte-long user name is not kept whole in the limiter's table: names that
    share their first 256 characters are one name, held after five failures from five
    addresses (so distinct huge names cannot be made to fill its memory)."""
    long = "z" * 300
    for i in range(5):
        answer = served.login(f"{long}{i}", password="guess", source=f"127.0.0.{i + 2}")
        assert answer.status == 401
    assert served.login(f"{long}x", password="guess", source="127.0.0.9").status == 429
    served.now += 900


def test_logins_that_succeed_do_not_count_against_their_address(served: Served) -> None:
    """A team behind one address (an office, a reverse proxy) logs in ten times in a
    minute and is never held; four failures from it afterwards still leave it free,
    the fifth holds it."""
    for _ in range(10):
        assert served.login().status == 303
        served.now += 6
    for _ in range(4):
        assert served.login(password="guess").status == 401
    assert served.login("bob").status == 303
    assert served.login("bob", password="guess").status == 401
    assert served.login("bob").status == 429


# -- API tokens, /metrics and /probe ------------------------------------------------------


def test_an_api_token_without_write_is_refused_a_change(served: Served) -> None:
    """A read token reads the API but its POST is a 403; a write token's POST goes
    through (no CSRF: a token is not sent by a browser on its own); a wrong token is a
    401 whatever cookie comes with it."""
    read = {"Authorization": f"Bearer {READER}"}
    assert served.request("GET", "/api/status", headers=read).status == 200
    r = served.request("POST", "/api/test-write", headers=read)
    assert r.status == 403
    assert r.json()["error"] == "token:reader may not write: its scopes are ['read']"
    w = served.request("POST", "/api/test-write", headers={"Authorization": f"Bearer {WRITER}"})
    assert (w.status, w.json()) == (200, {"who": "token:writer"})
    cookie, _ = served.session()
    wrong = served.request(
        "GET", "/api/status", headers={"Authorization": "Bearer nope"}, cookie=cookie
    )
    assert wrong.status == 401


def test_metrics_and_probe_require_a_token_when_configured(served: Served) -> None:
    """With require_token: [metrics, probe], both answer 401 with WWW-Authenticate
    without a token, and 200 with one of either scope."""
    for path in ("/metrics", "/probe?target=http://127.0.0.1:9/"):
        bare = served.request("GET", path)
        assert bare.status == 401
        assert bare.headers["WWW-Authenticate"] == 'Bearer realm="tether"'
        for token in (READER, WRITER):
            ok = served.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            assert ok.status == 200, (path, ok.body)


def test_metrics_and_probe_are_open_when_not_required(tmp_path: Path) -> None:
    """Without require_token, /metrics and /probe answer anyone, as they always did."""
    s = Served(tmp_path, config(require_token=[]))
    try:
        assert s.request("GET", "/metrics").status == 200
        assert s.request("GET", "/probe?target=http://127.0.0.1:9/").status == 200
    finally:
        s.close()


@needs_prometheus
def test_prometheus_scrapes_metrics_with_its_authorization_credentials(
    served: Served, tmp_path: Path
) -> None:
    """A real Prometheus scrapes /metrics with `authorization: credentials:` (up = 1),
    while a job without them is refused (up = 0)."""
    scrapes = f"""
  - job_name: with
    authorization: {{credentials: "{READER}"}}
    static_configs: [{{targets: ["127.0.0.1:{served.port}"]}}]
  - job_name: without
    static_configs: [{{targets: ["127.0.0.1:{served.port}"]}}]
"""
    with prometheus(tmp_path, scrapes) as base:
        got = asyncio.run(
            found(
                base,
                {
                    "with": ('up{job="with"} == 1', 1),
                    "without": ('up{job="without"} == 0', 1),
                    "series": ('tether_cluster_leader{job="with"}', 1),
                },
            )
        )
    assert set(got) == {"with", "without", "series"}, got


# -- TLS and the Secure attribute ----------------------------------------------------------


def test_over_tls_the_session_cookie_is_secure(tmp_path: Path, ca: trustme.CA) -> None:
    """Served over TLS (a trustme certificate for 127.0.0.1), the cookie carries Secure,
    and it opens the dashboard over the same connection kind."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    s = Served(tmp_path, config(), tls=server_context)
    try:
        r = s.login(client=client)
        assert r.status == 303
        (line,) = r.headers.get_all("Set-Cookie")
        assert "; Secure" in line
        assert "HttpOnly" in line
        cookie = r.cookie()
        assert s.request("GET", "/", cookie=cookie, client=client).status == 200
    finally:
        s.close()


def test_a_forwarded_https_makes_the_cookie_secure_only_when_trusted(tmp_path: Path) -> None:
    """X-Forwarded-Proto: https is believed with trust_forwarded_proto (Secure cookie,
    and the https Origin of the proxied page is this server's), and ignored without."""
    forwarded = {"X-Forwarded-Proto": "https"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain = Served(tmp_path / "a", config())
    trusting = Served(tmp_path / "b", config(trust_forwarded_proto=True))
    try:
        line = plain.login(headers=forwarded).headers["Set-Cookie"]
        assert "Secure" not in line
        r = trusting.login(headers={**forwarded, "Origin": f"https://127.0.0.1:{trusting.port}"})
        assert r.status == 303
        assert "; Secure" in r.headers["Set-Cookie"]
    finally:
        plain.close()
        trusting.close()


# -- no users: loopback only ---------------------------------------------------------------


def test_with_no_users_the_dashboard_answers_loopback_addresses(tmp_path: Path) -> None:
    """With no users, a request to 127.0.0.2 (another loopback address the server is
    bound to) is served as `local`, changes included; a forged X-Tether-Local-Address
    header over TCP changes nothing."""
    s = Served(tmp_path, config(users=False, require_token=[]), host="127.0.0.2")
    try:
        assert s.request("GET", "/").status == 200
        assert s.request("GET", "/api/status").status == 200
        r = s.request("POST", "/api/test-write")
        assert (r.status, r.json()) == (200, {"who": "local"})
        forged = s.request("GET", "/api/status", headers={"X-Tether-Local-Address": "192.0.2.1"})
        assert forged.status == 200
        assert s.request("GET", "/login").status == 404  # nothing to log in to
    finally:
        s.close()


def test_with_no_users_a_request_from_off_loopback_is_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    """A request a worker process forwards from a non-loopback address (its
    X-Tether-Local-Address on the coordinator's Unix socket) gets a 403 page, or JSON for
    an API, saying no users are configured; /metrics and status pages are still served;
    an API token still reads."""
    sock = str(tmp_path / "coordinator.sock")
    s = Served(tmp_path, config(users=False, require_token=[]), unix=sock)

    async def get(path: str, headers: dict[str, str]) -> tuple[int, str]:
        import aiohttp

        async with (
            aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=sock)) as session,
            session.get("http://tether" + path, headers=headers) as r,
        ):
            return r.status, await r.text()

    public = {"X-Tether-Local-Address": "192.0.2.10", "X-Forwarded-For": "198.51.100.7"}
    try:
        status, page = s.call(get("/", public))
        assert status == 403
        assert "No users are configured" in page
        assert "docs/security.md#login-and-tokens" in page
        status, body = s.call(get("/api/status", public))
        assert status == 403
        assert "no users are configured" in json.loads(body)["error"]
        assert s.call(get("/metrics", public))[0] == 200
        token = {**public, "Authorization": f"Bearer {READER}"}
        assert s.call(get("/api/status", token))[0] == 200
        assert s.call(get("/", {"X-Tether-Local-Address": "127.0.0.1"}))[0] == 200
        assert s.call(get("/", {}))[0] == 403  # no word on where it arrived: not loopback
    finally:
        s.close()


# -- nothing secret in a log line or a page ------------------------------------------------


def test_no_password_token_hash_or_session_id_reaches_a_log_or_a_page(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """Through logins, failures, a 429, logout and token use, no log line and no page
    holds the password, a token, a hash of either, or a session id."""
    caplog.set_level(logging.DEBUG)
    pages = []
    cookie, csrf = served.session()
    pages.append(served.request("GET", "/", cookie=cookie).body)
    for _ in range(6):
        pages.append(served.login(password=PASSWORD + "x").body)
    pages.append(served.request("POST", "/logout", cookie=cookie, form={"csrf": csrf}).body)
    pages.append(
        served.request("GET", "/api/status", headers={"Authorization": f"Bearer {READER}"}).body
    )
    secrets = [PASSWORD, READER, WRITER, hash_token(READER), cookie, "scrypt$"]
    secrets += [u.password_hash.get_secret_value() for u in served.runner.config.users]
    for secret in secrets:
        assert secret not in caplog.text
        for page in pages:
            assert secret not in page
    assert "login failed" in caplog.text


# -- in Chromium ---------------------------------------------------------------------------


def test_chromium_logs_in_through_the_form_sees_its_name_and_logs_out(
    served: Served, browser: Any
) -> None:
    """In Chromium, under the page's CSP: the dashboard sends to the login form, the
    form posts and lands on the dashboard with alice's name, Log out lands on the login
    again and the dashboard asks for a login; no request leaves the origin, no error."""
    with Tab(browser, served.base, viewport=None) as tab:  # the refresh waits for the test
        page, requests, errors = tab.page, tab.requests, tab.errors
        base = served.base
        page.goto(base + "/incidents")
        assert page.url == base + "/login?next=/incidents"
        page.fill("input[name=user]", "alice")
        page.fill("input[name=password]", "wrong")
        page.click("form.login button")
        assert "Wrong name or password." in page.inner_text("main")
        # The console reports the 401 of the refused login, as it reports any 4xx.
        assert errors == [
            "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
        ]
        errors.clear()
        page.fill("input[name=password]", PASSWORD)
        page.click("form.login button")
        page.wait_for_url(base + "/incidents")
        assert page.inner_text("header .who") == "alice"
        cookies = tab.context.cookies()
        (session,) = [c for c in cookies if c["name"] == "tether_session"]
        assert (session["httpOnly"], session["sameSite"], session["secure"]) == (
            True,
            "Strict",
            False,
        )
        assert page.evaluate("document.cookie") == ""  # HttpOnly: no script sees it
        page.click("form.account button")
        page.wait_for_url(base + "/login")
        page.goto(base + "/")
        assert page.url == base + "/login?next=/"
        assert [c for c in tab.context.cookies() if c["name"] == "tether_session"] == []
        assert errors == []
        assert all(url.startswith(base + "/") for url in requests), requests


def test_chromium_after_the_session_expires_lands_on_the_login(
    served: Served, browser: Any
) -> None:
    """A logged-in tab whose session idled past 12 hours on the server's clock is sent
    to the login when it loads a page."""
    with Tab(browser, served.base, viewport=None) as tab:
        page = tab.page
        base = served.base
        page.goto(base + "/login")
        page.fill("input[name=user]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.login button")
        page.wait_for_url(base + "/")
        served.now += 12 * 3600 + 1
        page.goto(base + "/monitors/api")
        assert page.url == base + "/login?next=/monitors/api"
        assert page.inner_text("h1") == "Log in"
