"""Login, sessions, API tokens and the write API working together, as a team uses them:
a real Runner over the lab with users and tokens in its configuration (hashed by
tether's own ``hash_password`` and ``new_token``), served by the real ``make_app`` on
127.0.0.1:0 (tests/helpers/actions_harness.py), Debian's headless Chromium clicking the
dashboard's buttons, and a real ``tether monitor`` process with ``workers: 2`` for the
CLI and the workers' own ``/probe``.

The unit of each part is tested beside it (tests/monitor/web/test_login.py on a test-only
route, tests/monitor/web/test_actions*.py and tests/cli/test_actions_cli.py with no users);
here the routes are the real ones and the principal is a real login or token.  One server
serves the module (each test makes its own session and changes only what it puts back, or
what no other test reads); the token test, which acknowledges the lab's incident, has one of
its own.  Sessions expire on the runner's wall clock, which the tests move.  Every answer,
page and log line seen is kept, and the last test looks for a secret in all of them.
"""

from __future__ import annotations

import http.client
import http.server
import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.helpers.actions_harness import Served
from tests.helpers.logins import FAST, PASSWORD
from tests.helpers.ports import free_port
from tests.helpers.processes import wait_for
from tests.helpers.tether_processes import monitor, tether
from tests.helpers.web_harness import Response, Tab
from tether.lab import Lab
from tether.monitor.config._passwords import hash_password, hash_token, new_token
from tether.monitor.runtime._log import logging_to

READ_TOKEN = new_token()
WRITE_TOKEN = new_token()
PASSWORD_HASH = hash_password(PASSWORD, n=FAST)
IDLE = 30 * 60
"""server.session_idle in the configuration below (the default is 12 hours)."""
READER = {"Authorization": f"Bearer {READ_TOKEN}"}
WRITER = {"Authorization": f"Bearer {WRITE_TOKEN}"}
SECRETS = (
    PASSWORD,
    READ_TOKEN,
    WRITE_TOKEN,
    hash_token(READ_TOKEN),
    hash_token(WRITE_TOKEN),
    PASSWORD_HASH,
    PASSWORD_HASH.split("$")[-1],  # the derived key alone
    "scrypt$",
    "sha256$",
)
SEEN: list[str] = []
"""Every body and header block answered, every page Chromium showed, every output of a
command: what the last test searches for secrets."""
BODIES: list[str] = []
"""The bodies alone of the answers to :func:`ask` (a session id is in its Set-Cookie)."""


def settings() -> dict[str, Any]:
    """Users (alice may write, bob only read), a token of each scope, a short idle
    limit, and a public status page with one of the lab's monitors on it."""
    return {
        "users": [
            {"name": "alice", "password_hash": PASSWORD_HASH},
            {"name": "bob", "password_hash": PASSWORD_HASH, "scopes": ["read"]},
        ],
        "tokens": [
            {"name": "ci-read", "hash": hash_token(READ_TOKEN), "scope": "read"},
            {"name": "ci-write", "hash": hash_token(WRITE_TOKEN), "scope": "write"},
        ],
        "server": {"session_idle": "30m"},
        "status_pages": [
            {
                "slug": "public",
                "title": "Service status",
                "groups": [{"name": "Core", "monitors": [{"monitor": "web", "name": "Website"}]}],
            }
        ],
    }


# -- the server and a client that keeps what it saw ------------------------------------------


_LOG_HANDLERS: list[logging.Handler] = []


@pytest.fixture(scope="module")
def logged() -> Iterator[io.StringIO]:
    """The tether loggers' lines (JSON, debug and up) while the module runs."""
    stream = io.StringIO()
    with logging_to(stream, "json", level=10) as handler:
        _LOG_HANDLERS.append(handler)
        yield stream
    _LOG_HANDLERS.clear()


def serve(tmp: Path, lab: Lab) -> Served:
    s = Served(tmp / "e2e.db", lab, extra=settings())
    s.check("web", "down")  # web up, and down's incident open
    return s


@pytest.fixture(scope="module")
def served(
    lab: Lab, tmp_path_factory: pytest.TempPathFactory, logged: io.StringIO
) -> Iterator[Served]:
    s = serve(tmp_path_factory.mktemp("e2e"), lab)
    yield s
    s.close()


def ask(served: Served, method: str, path: str, **options: Any) -> Response:
    """One request as a browser or a script sends it (``options`` as
    :meth:`web_harness.ServedRunner.request`'s), its answer kept in SEEN."""
    r = served.request(method, path, **options)
    SEEN.append(f"{method} {path} -> {r.status}\n{r.headers}\n{r.body}")
    BODIES.append(r.body)
    return r


def session(served: Served, user: str = "alice") -> tuple[str, str]:
    """A fresh login's cookie, and the CSRF token of the page it opens."""
    login = ask(served, "POST", "/login", form={"user": user, "password": PASSWORD})
    assert login.status == 303, login.body
    cookie = login.cookie()
    assert cookie is not None
    page = ask(served, "GET", "/monitors/web", cookie=cookie)
    assert page.status == 200
    found = re.search(r'name="csrf" value="([^"]+)"', page.body)
    assert found is not None
    return cookie, found.group(1)


def read(served: Served, path: str) -> Any:
    """A GET of the JSON API with the read token."""
    r = ask(served, "GET", path, headers=READER)
    assert r.status == 200, (path, r.status, r.body)
    return r.json()


def audit(served: Served) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = read(served, "/api/audit")["entries"]
    return entries


def state(served: Served, name: str) -> str:
    states: dict[str, str] = read(served, "/api/status")["monitors"]
    return states[name]


def open_incident(served: Served) -> dict[str, Any]:
    incident: dict[str, Any]
    (incident,) = read(served, "/api/incidents?open=1")["incidents"]
    return incident


# -- what is public and what is not ----------------------------------------------------------


def test_status_pages_and_badges_stay_public_and_the_dashboard_does_not(served: Served) -> None:
    """With users configured, /status/SLUG (HTML and JSON) and a listed monitor's badges
    answer without a login; a badge of a monitor on no page is a 404, not a login; the
    dashboard's pages go to the login, its APIs answer 401."""
    page = ask(served, "GET", "/status/public")
    assert page.status == 200
    assert "Website" in page.body
    assert ask(served, "GET", "/status/public.json").json()["title"] == "Service status"
    for which in ("status", "uptime-30d", "response-time"):
        badge = ask(served, "GET", f"/badge/web/{which}.svg")
        assert badge.status == 200, which
        assert badge.headers["Content-Type"].startswith("image/svg+xml")
    assert ask(served, "GET", "/badge/down/status.svg").status == 404
    for path in ("/", "/monitors/web", "/incidents"):
        r = ask(served, "GET", path)
        assert r.status == 303, path
        assert r.headers["Location"] == "/login?next=" + quote(path, safe="/")
    for path in ("/api/status", "/api/series/web", "/api/audit", "/api/openapi.json"):
        r = ask(served, "GET", path)
        assert r.status == 401, path
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="tether"'


# -- CSRF and origin on the real routes --------------------------------------------------------


def test_a_session_change_needs_the_pages_csrf_token_and_this_origin(served: Served) -> None:
    """alice's POST to pause a monitor with no CSRF token, a wrong one, another session's,
    or from another Origin with the right one, is a 403 that changes nothing and is not
    audited; with the page's token (header or form field) it pauses and resumes, audited
    under her name."""
    cookie, csrf = session(served)
    _, other = session(served)
    before = audit(served)
    path = "/api/monitors/api%2Fv1/pause"
    refused = [
        ({}, "CSRF token"),
        ({"X-CSRF-Token": "x" * 43}, "CSRF token"),
        ({"X-CSRF-Token": other}, "CSRF token"),
        ({"X-CSRF-Token": csrf, "Origin": "http://evil.example"}, "own pages"),
        ({"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}, "own pages"),
    ]
    for headers, why in refused:
        r = ask(served, "POST", path, headers=headers, body={}, cookie=cookie)
        assert r.status == 403, headers
        assert why in r.json()["error"], (headers, r.body)
    r = ask(served, "POST", path, form={"back": "/"}, cookie=cookie)  # a form without it
    assert r.status == 403
    assert state(served, "api/v1") != "paused"
    assert audit(served) == before
    ok = ask(served, "POST", path, headers={"X-CSRF-Token": csrf}, body={}, cookie=cookie)
    assert (ok.status, ok.json()["state"]) == (200, "paused")
    back = ask(
        served,
        "POST",
        "/api/monitors/api%2Fv1/resume",
        headers={"Origin": served.base},
        form={"csrf": csrf, "back": "/incidents"},
        cookie=cookie,
    )
    assert (back.status, back.headers["Location"]) == (303, "/incidents")
    assert state(served, "api/v1") != "paused"
    made = audit(served)[:2]
    assert [(e["action"], e["target"], e["who"], e["via"]) for e in made] == [
        ("resume", "monitor:api/v1", "alice", "session"),
        ("pause", "monitor:api/v1", "alice", "session"),
    ]


def test_an_idle_session_expires_and_its_changes_are_refused(served: Served) -> None:
    """A session used within server.session_idle (30 minutes here) lives; left idle past
    it, a page goes to the login, the API answers 401, and a POST with the session's own
    CSRF token is refused and changes nothing (a JSON one with a 401, a form with a 303
    to the login and back to the form's page); logging in again works."""
    cookie, csrf = session(served)
    served.now += IDLE - 1
    assert ask(served, "GET", "/monitors/web", cookie=cookie).status == 200
    served.now += IDLE + 1
    page = ask(served, "GET", "/monitors/web", cookie=cookie)
    assert (page.status, page.headers["Location"]) == (303, "/login?next=/monitors/web")
    assert ask(served, "GET", "/api/status", cookie=cookie).status == 401
    before = audit(served)
    notes = f"/api/incidents/{open_incident(served)['id']}/notes"
    for path in ("/api/monitors/web/pause", notes):
        r = ask(served, "POST", path, headers={"X-CSRF-Token": csrf}, body={}, cookie=cookie)
        assert r.status == 401, path
    # A page's form (its button) is sent to the login, to come back to that page.
    form = {"csrf": csrf, "back": "/monitors/web", "text": "x"}
    r = ask(served, "POST", notes, form=form, cookie=cookie)
    assert (r.status, r.headers["Location"]) == (303, "/login?next=/monitors/web")
    form = {"back": "//evil.example/"}
    r = ask(served, "POST", "/api/monitors/web/pause", form=form, cookie=cookie)
    assert (r.status, r.headers["Location"]) == (303, "/login?next=/")
    # Without a session cookie, a form is a script's: a 401, its body unread.
    assert ask(served, "POST", "/api/monitors/web/pause", form=form).status == 401
    assert state(served, "web") != "paused"
    assert audit(served) == before
    session(served)


# -- in Chromium -------------------------------------------------------------------------------


@pytest.fixture
def tab(browser: Any, served: Served) -> Iterator[Tab]:
    with Tab(browser, served.base, clock=served.now, viewport=None, console_errors=False) as t:
        yield t


def log_in(page: Any, served: Served, user: str, where: str) -> None:
    page.goto(served.base + where)
    assert page.url == served.base + "/login?next=" + quote(where, safe="/")
    page.fill("input[name=user]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button")
    page.wait_for_url(served.base + where)
    assert page.inner_text("header .who") == user


def keep(page: Any) -> None:
    SEEN.append(page.url + "\n" + page.content())


def same_origin(tab: Tab, served: Served) -> None:
    assert all(url.startswith(served.base + "/") for url in tab.requests), tab.requests
    assert tab.errors == []


def session_cookie(page: Any) -> str:
    (value,) = [c["value"] for c in page.context.cookies() if c["name"] == "tether_session"]
    return str(value)


def test_chromium_a_writer_pauses_resumes_acknowledges_notes_and_logs_out(
    tab: Tab, served: Served
) -> None:
    """Logged in as alice: Pause pauses web (off the prober, a check refused), Resume
    brings it back; on down's page Acknowledge and Add note land on the incident's
    timeline under her name; the audit log has all four as hers; after Log out the old
    cookie opens nothing and changes nothing."""
    from playwright.sync_api import expect

    page = tab.page
    log_in(page, served, "alice", "/monitors/web")
    expect(page.locator("#state-line .state")).to_have_text("up")
    results = len(read(served, "/api/monitors/web")["results"])
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#state-line .state")).to_have_text("paused")
    keep(page)
    assert state(served, "web") == "paused"
    assert "web" not in served.runner.prober.names
    check = ask(served, "POST", "/api/monitors/web/check", headers=WRITER)
    assert (check.status, check.json()) == (409, {"error": "web is paused: resume it to check it"})
    served.store.flush()
    assert len(read(served, "/api/monitors/web")["results"]) == results
    checked = served.next_check("web")
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    assert "web" in served.runner.prober.names
    # Resumed as unknown, then checked at once (its interval is an hour): up again.
    assert checked.result(timeout=10).ok  # a bound on a failure, never waited out
    assert state(served, "web") == "up"

    incident = open_incident(served)
    assert incident["acknowledged"] is None
    page.goto(served.base + "/monitors/down")
    card = page.locator(f'article[data-incident="{incident["id"]}"]')
    card.get_by_role("button", name="Acknowledge").click()
    expect(card.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(card.locator(".timeline")).to_contain_text("acknowledged by alice")
    card.get_by_label("note").fill("failed over to the standby")
    card.get_by_role("button", name="Add note").click()
    expect(card.locator(".timeline")).to_contain_text("alice: failed over to the standby")
    assert page.url == served.base + "/monitors/down"
    keep(page)
    timeline = [(e["event"], e["detail"]) for e in open_incident(served)["timeline"]]
    assert ("acknowledged", "by alice") in timeline
    assert ("note", "alice: failed over to the standby") in timeline
    made = audit(served)[:4]
    assert [(e["action"], e["target"], e["who"], e["via"]) for e in made] == [
        ("note", f"incident:{incident['id']}", "alice", "session"),
        ("acknowledge", f"incident:{incident['id']}", "alice", "session"),
        ("resume", "monitor:web", "alice", "session"),
        ("pause", "monitor:web", "alice", "session"),
    ]

    cookie = session_cookie(page)
    csrf = page.get_attribute("form.account input[name=csrf]", "value")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(served.base + "/login")
    old = ask(served, "GET", "/monitors/web", cookie=cookie)
    assert (old.status, old.headers["Location"]) == (303, "/login?next=/monitors/web")
    assert ask(served, "GET", "/api/status", cookie=cookie).status == 401
    r = ask(
        served, "POST", "/api/monitors/web/pause", headers={"X-CSRF-Token": csrf}, cookie=cookie
    )
    assert r.status == 401
    assert state(served, "web") == "up"
    same_origin(tab, served)


def test_chromium_a_reader_sees_no_buttons_and_cannot_post(tab: Tab, served: Served) -> None:
    """bob (scopes: read) sees down's page and the incidents without a button to change
    anything (alice's same page has them); a POST his own page's script forges with his
    session and CSRF token is a 403 naming his scopes, and nothing changes."""
    page = tab.page
    cookie, _ = session(served, "alice")
    writer_page = ask(served, "GET", "/monitors/down", cookie=cookie).body
    for button in ("Pause</button>", "Check now</button>", "Add note</button>"):
        assert button in writer_page
    log_in(page, served, "bob", "/monitors/down")
    incident = open_incident(served)
    for where in ("/monitors/down", "/incidents"):
        page.goto(served.base + where)
        assert page.locator(f'article[data-incident="{incident["id"]}"]').count() == 1
        keep(page)
        for name in ("Pause", "Resume", "Check now", "Acknowledge", "Add note"):
            assert page.get_by_role("button", name=name).count() == 0, (where, name)
        # The one form that posts is his own logout.
        assert page.locator("form[method=post]").evaluate_all(
            "forms => forms.map(f => f.getAttribute('action'))"
        ) == ["/logout"]
    before = audit(served)
    csrf = page.get_attribute("form.account input[name=csrf]", "value")
    forged = page.evaluate(
        """async ([csrf, id]) => {
            const out = [];
            for (const [path, body] of [
                ['/api/monitors/web/pause', '{}'],
                [`/api/incidents/${id}/notes`, '{"text": "bob was here"}'],
                ['/api/maintenance', '{"for": "1h", "reason": "bob"}'],
            ]) {
                const r = await fetch(path, {method: 'POST', body, headers: {
                    'X-CSRF-Token': csrf, 'Content-Type': 'application/json'}});
                out.push([r.status, (await r.json()).error]);
            }
            return out;
        }""",
        [csrf, incident["id"]],
    )
    refused = [403, "bob may not write: its scopes are ['read']"]
    assert forged == [refused] * 3
    assert audit(served) == before
    assert state(served, "web") != "paused"
    assert read(served, "/api/maintenance")["windows"] == []
    same_origin(tab, served)


class _Attacker(http.server.BaseHTTPRequestHandler):
    """Another site, on 127.0.0.2: its one page posts a form to the monitor at once."""

    target = ""

    def do_GET(self) -> None:
        body = (
            "<!doctype html><title>win a prize</title>"
            f'<form id="f" method="post" action="{self.target}">'
            '<input type="hidden" name="reason" value="csrf"></form>'
            "<script>document.getElementById('f').submit()</script>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_chromium_a_forged_post_from_another_site_or_without_the_token_is_refused(
    tab: Tab, served: Served
) -> None:
    """alice is logged in; a page of another site (127.0.0.2) that submits a form to
    pause web changes nothing: her SameSite=Strict cookie does not go with it (nor could
    it carry her CSRF token), so it is a 401; on the dashboard's own origin, a
    script's POST without the token is a 403.  web stays unpaused and the audit log
    gains nothing."""
    page = tab.page
    log_in(page, served, "alice", "/monitors/web")
    before = audit(served)
    handler = type("Attacker", (_Attacker,), {"target": served.base + "/api/monitors/web/pause"})
    evil = http.server.ThreadingHTTPServer(("127.0.0.2", 0), handler)
    thread = threading.Thread(target=evil.serve_forever, daemon=True)
    thread.start()
    try:
        with page.expect_response(lambda r: r.url.endswith("/api/monitors/web/pause")) as posted:
            page.goto(f"http://127.0.0.2:{evil.server_address[1]}/")
        forged = posted.value
        assert forged.request.method == "POST"
        # No session came with it (SameSite=Strict): a change with no credential, a 401
        # (not the login's redirect, which a page's own button whose session ended gets),
        # and nothing is changed.
        assert "tether_session" not in (forged.request.headers.get("cookie") or "")
        assert forged.status == 401, forged.headers
    finally:
        evil.shutdown()
        evil.server_close()
    page.goto(served.base + "/monitors/web")
    assert page.inner_text("header .who") == "alice"  # still logged in: only the post failed
    tokenless = page.evaluate(
        """async () => {
            const r = await fetch('/api/monitors/web/pause', {method: 'POST', body: '{}',
                headers: {'Content-Type': 'application/json'}});
            return [r.status, (await r.json()).error];
        }"""
    )
    assert tokenless[0] == 403, tokenless
    assert "CSRF" in tokenless[1] or "csrf" in tokenless[1], tokenless
    assert audit(served) == before
    assert state(served, "web") != "paused"


def test_chromium_a_button_pressed_after_the_session_expired_goes_to_the_login(
    tab: Tab, served: Served
) -> None:
    """alice's tab left idle past session_idle: Pause changes nothing and lands on the
    login (not on an error document), which brings her back to the monitor's page."""
    from playwright.sync_api import expect

    page = tab.page
    log_in(page, served, "alice", "/monitors/web")
    before = audit(served)
    served.now += IDLE + 1
    page.get_by_role("button", name="Pause").click()
    page.wait_for_url(served.base + "/login?next=/monitors/web", timeout=5000)
    assert page.inner_text("h1") == "Log in"
    assert state(served, "web") == "up"
    assert audit(served) == before
    page.fill("input[name=user]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button")
    page.wait_for_url(served.base + "/monitors/web")
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    same_origin(tab, served)


def test_chromium_an_open_tab_whose_session_ends_goes_to_the_login(
    tab: Tab, served: Served
) -> None:
    """A tab left open on a monitor's page: once the session has idled out on the
    server's clock, the page's next refresh sends it to the login (and back after)
    rather than marking it stale for ever; while a note is being written it only says
    so, keeping the note."""
    from playwright.sync_api import expect

    page = tab.page
    log_in(page, served, "alice", "/monitors/down")
    # The first refresh answered before the server's clock moves on: answered after it,
    # it would send the tab to the login before the note below is written.
    with page.expect_response(lambda r: "fragment=1" in r.url) as first:
        page.clock.run_for(5_000)
    assert first.value.status == 200
    expect(page.locator("#updated")).not_to_have_class(re.compile("stale"))
    served.now += IDLE + 1
    page.get_by_label("note").fill("half a thought")
    page.clock.run_for(5_000)
    expect(page.locator("#updated")).to_have_text(
        "not updated: the session has ended: log in again"
    )
    assert page.url == served.base + "/monitors/down"
    page.get_by_label("note").fill("")
    page.locator("body").click(position={"x": 1, "y": 1})  # the field loses the focus
    page.clock.run_for(5_000)
    page.wait_for_url(served.base + "/login?next=%2Fmonitors%2Fdown", timeout=5000)
    page.fill("input[name=user]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button")
    page.wait_for_url(served.base + "/monitors/down", timeout=5000)
    same_origin(tab, served)


# -- API tokens on the real routes ------------------------------------------------------------


@pytest.fixture
def fresh(lab: Lab, tmp_path: Path, logged: io.StringIO) -> Iterator[Served]:
    s = serve(tmp_path, lab)
    yield s
    s.close()


def test_a_read_token_reads_and_is_refused_every_change_a_write_token_makes(
    fresh: Served,
) -> None:
    """No token: 401.  The read token reads the status, a series, the incidents and the
    audit log, and each of the seven changes is a 403 that changes nothing (the audit
    log, the states, the incident and the window are as they were); the write token
    makes each of them, audited as token:ci-write."""
    served = fresh
    assert ask(served, "GET", "/api/status").status == 401
    assert ask(served, "POST", "/api/monitors/web/pause", body={}).status == 401
    assert ask(served, "GET", "/api/status", headers={"Authorization": "Bearer nope"}).status == 401
    assert read(served, "/api/status")["monitors"]["web"] == "up"
    series = read(served, "/api/series/web?range=1h")
    assert (series["monitor"], series["checks"]) == ("web", [1])  # the one check made
    incident = open_incident(served)["id"]
    opened = ask(
        served, "POST", "/api/maintenance", headers=WRITER, body={"for": "1h", "reason": "x"}
    )
    assert opened.status == 201
    window = opened.json()["id"]
    changes: list[tuple[str, object]] = [
        ("/api/monitors/web/pause", {}),
        ("/api/monitors/web/resume", {}),
        ("/api/monitors/web/check", {}),
        (f"/api/incidents/{incident}/acknowledge", {}),
        (f"/api/incidents/{incident}/notes", {"text": "from ci"}),
        ("/api/maintenance", {"for": "30m", "reason": "ci"}),
        (f"/api/maintenance/{window}/close", {}),
    ]
    before = (
        audit(served),
        read(served, "/api/status")["monitors"],
        open_incident(served),
        read(served, "/api/maintenance")["windows"],
    )
    served.store.flush()
    results = len(read(served, "/api/monitors/web")["results"])
    for path, body in changes:
        r = ask(served, "POST", path, headers=READER, body=body)
        assert r.status == 403, path
        assert r.json() == {"error": "token:ci-read may not write: its scopes are ['read']"}
    after = (
        audit(served),
        read(served, "/api/status")["monitors"],
        open_incident(served),
        read(served, "/api/maintenance")["windows"],
    )
    assert after == before
    served.store.flush()
    assert len(read(served, "/api/monitors/web")["results"]) == results
    assert "web" in served.runner.prober.names

    expected = [200, 200, 200, 200, 201, 201, 200]
    for (path, body), status in zip(changes, expected, strict=True):
        r = ask(served, "POST", path, headers=WRITER, body=body)
        assert r.status == status, (path, r.body)
    entries = audit(served)
    assert [(e["action"], e["who"], e["via"]) for e in entries] == [
        (action, "token:ci-write", "token")
        for action in (
            "maintenance.close",
            "maintenance.open",
            "note",
            "acknowledge",
            "check",
            "resume",
            "pause",
            "maintenance.open",
        )
    ]
    timeline = [(e["event"], e["detail"]) for e in open_incident(served)["timeline"]]
    assert ("acknowledged", "by token:ci-write") in timeline
    assert ("note", "token:ci-write: from ci") in timeline


# -- a real `tether monitor` with workers: the CLI and the workers' /probe ------------------------


class Process:
    """`tether monitor` with ``workers: 2``, the users, tokens and status page above, and
    ``require_token: [probe]``: the workers answer /probe themselves and forward the rest."""

    def __init__(self, tmp: Path, lab: Lab) -> None:
        self.port = free_port()
        self.server = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "monitor.log"
        self.config = tmp / "tether.yaml"
        extra = settings()
        extra["server"] = {"listen": f"127.0.0.1:{self.port}", "require_token": ["probe"]}
        monitors = [
            {"name": "web", "url": lab["healthy"].url, "interval": "1s", "timeout": "500ms"},
            {"name": "slow", "url": lab["healthy"].url, "interval": "1h", "timeout": "1s"},
        ]
        self.config.write_text(
            json.dumps(
                {"storage": {"path": str(tmp / "tether.db")}, "workers": 2, "monitors": monitors}
                | extra
            )
        )

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            body = r.read().decode("utf-8", "replace")
        finally:
            conn.close()
        SEEN.append(f"GET {path} -> {r.status}\n{r.headers}\n{body}")
        return r.status, body

    def states(self) -> dict[str, str]:
        try:
            status, body = self.get("/api/status", READER)
        except OSError:
            return {}
        found: dict[str, str] = json.loads(body)["monitors"] if status == 200 else {}
        return found

    def cli(self, *args: str, token: str | None = None) -> tuple[int, str, str]:
        more = ("--token", token) if token else ()
        done = tether(*args, "--server", self.server, *more)
        SEEN.append("\n".join(map(str, done)))
        return done


@pytest.fixture(scope="module")
def process(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    p = Process(tmp_path_factory.mktemp("process"), lab)
    with monitor(p.config, p.log) as proc:
        wait_for(lambda: p.states().get("web") == "up", procs=[proc])
        yield p


def test_the_cli_with_a_read_token_is_refused_and_with_a_write_token_pauses(
    process: Process,
) -> None:
    """`tether pause web --token READ` exits 4 with one line naming the token's scope and
    pauses nothing; with no token it exits 4 too; with the write token it pauses web
    (in whichever worker probes it), `tether resume` brings it back, and the audit log
    names token:ci-write for both."""
    assert process.cli("pause", "web", token=READ_TOKEN) == (
        4,
        "",
        "tether pause: token:ci-read may not write: its scopes are ['read']\n",
    )
    code, out, err = process.cli("pause", "web")
    assert (code, out, err.count("\n")) == (4, "", 1)
    assert "send an API token" in err
    assert process.states()["web"] == "up"
    assert process.cli("pause", "web", "--reason", "racks", token=WRITE_TOKEN) == (
        0,
        "web paused\n",
        "",
    )
    assert process.states()["web"] == "paused"
    assert process.cli("resume", "web", token=WRITE_TOKEN)[:2] == (0, "web resumed\n")
    wait_for(lambda: process.states()["web"] == "up")
    status, body = process.get("/api/audit", READER)
    assert status == 200
    entries = [(e["action"], e["who"], e["via"]) for e in json.loads(body)["entries"]]
    assert entries == [("resume", "token:ci-write", "token"), ("pause", "token:ci-write", "token")]


def test_the_workers_answer_probe_only_with_a_token(process: Process, lab: Lab) -> None:
    """With require_token: [probe] and workers: 2 (only the workers listen, and they
    answer /probe themselves), /probe is a 401 without a token or with a wrong one and
    a 200 with the read token, each of several connections; the status page is open,
    the dashboard's API is not."""
    path = f"/probe?target={quote(lab['healthy'].url, safe='')}"
    for _ in range(4):  # new connections, spread over the workers by the kernel
        status, body = process.get(path)
        assert (status, body) == (401, "probe: send an API token: Authorization: Bearer TOKEN\n")
        assert process.get(path, {"Authorization": "Bearer nope"})[0] == 401
        status, body = process.get(path, READER)
        assert status == 200
        assert "probe_success 1" in body
    assert process.get("/status/public")[0] == 200
    assert process.get("/api/status")[0] == 401
    assert process.get("/metrics")[0] == 200  # not in require_token: open on loopback


# -- no secret anywhere --------------------------------------------------------------------------


def test_no_secret_reaches_a_page_an_answer_an_audit_entry_or_a_log_line(
    served: Served, process: Process, logged: io.StringIO
) -> None:
    """Beyond all the module's tests saw: a token typed as a password and a password
    typed as a name (logged by neither), pages and documents read by a session and by
    each token, a change and its audit entry; no page, answer (headers included),
    command output, audit entry in the store or log line, in this process or the
    monitor's, holds a password, a token, a hash of either, or (outside its Set-Cookie)
    a session id."""
    said = len(BODIES)
    ask(served, "POST", "/login", form={"user": "alice", "password": WRITE_TOKEN})
    assert ask(served, "POST", "/login", form={"user": PASSWORD, "password": "x"}).status == 401
    # Its answer fills the name field again with what was typed, for the one who typed
    # it (no-store): not a leak; what matters is that no log keeps it.
    SEEN.pop()
    BODIES.pop()
    cookie, csrf = session(served)
    for path in ("/", "/monitors/down", "/incidents", "/api/status", "/api/openapi.json"):
        assert ask(served, "GET", path, cookie=cookie).status == 200, path
    for token in (READER, WRITER):
        for path in ("/api/monitors/down", "/api/incidents", "/api/audit", "/metrics"):
            assert ask(served, "GET", path, headers=token).status == 200, path
    incident = open_incident(served)["id"]
    note = ask(
        served,
        "POST",
        f"/api/incidents/{incident}/notes",
        headers={"X-CSRF-Token": csrf},
        body={"text": "checked"},
        cookie=cookie,
    )
    assert note.status == 201
    assert len(BODIES) > said
    entries = [repr(e) for e in served.store.audit(limit=1000)]
    assert any("checked" in e for e in entries)
    process_log = process.log.read_text()
    for handler in _LOG_HANDLERS:
        handler.flush()  # the lines are written from a thread of their own
    log = logged.getvalue()
    assert "alice logged in" in log
    assert "login failed for 'alice'" in log
    for secret in SECRETS:
        for i, text in enumerate([*SEEN, *entries, log, process_log]):
            assert secret not in text, (secret, i, text[:300])
    for text in [*BODIES[said:], *entries, log, process_log]:
        assert cookie not in text
