"""A single sign-on session through the monitor's lifecycle, and the local login switched
off, against a real OpenID provider and a real ``tether monitor`` process.

Sessions are kept in the store, single sign-on's as a password login's (docs/security.md,
"Sessions"; issue 48): a reload that keeps the ``oidc:`` settings keeps them, one that
changes the provider, the client or the roles ends them, and a restart (SIGTERM, or
``kill -9``) keeps them.  Once one is ended, what a user keeps is the provider's own
session: the next login comes back without a password asked, in one redirect."""

from __future__ import annotations

import json
import os
import signal
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from tests.helpers.logins import PASSWORD
from tests.helpers.oidc_server import sign_in
from tests.helpers.oidc_world import SHAPES, Instance, World, ready, world
from tests.helpers.processes import wait_for
from tests.helpers.tether_processes import monitor
from tether.lab import Lab


def login(w: World, http: requests.Session, user: str = "alice") -> None:
    callback = sign_in(
        http, f"{w.first.base}/login/oidc?next=/", user, f"{w.back.base}/login/oidc/callback"
    )
    assert http.get(callback, allow_redirects=False).status_code == 200


def signed_in(w: World, http: requests.Session) -> bool:
    return http.get(f"{w.first.base}/api/status", allow_redirects=False).status_code == 200


def reload(instance: Instance, change: dict[str, object] | None = None) -> None:
    """SIGHUP, the file changed by ``change`` (its oidc: section's keys) or not."""
    if change is not None:
        config = json.loads(instance.config.read_text())
        config["oidc"] = {**config["oidc"], **change}
        instance.config.write_text(json.dumps(config))
    before = instance.log.read_text().count("reloaded")
    instance.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: instance.log.read_text().count("reloaded") > before, procs=[instance.proc])


def back_without_a_password(w: World, http: requests.Session) -> None:
    """A new login goes to the provider and straight back (its session holds)."""
    begun = http.get(f"{w.first.base}/login/oidc?next=/", allow_redirects=False)
    url = begun.headers["Location"]
    for _ in range(5):
        answer = http.get(url, allow_redirects=False)
        assert answer.is_redirect, "the provider asked for a login again"
        url = requests.compat.urljoin(url, answer.headers["Location"])
        if url.startswith(f"{w.back.base}/login/oidc/callback"):
            assert http.get(url, allow_redirects=False).status_code == 200
            return
    raise AssertionError("the login did not come back")


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_a_session_through_reload_and_restart(
    stop: str, lab: Lab, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A reload of the same settings keeps the session; a reload that changes the roles
    ends it, and the next login comes back from the provider without a password; a
    restart (SIGTERM or kill -9, then start) keeps the new one (it is in the store)."""
    with world("one-process", tmp_path, lab, request) as w:
        http = w.http()
        login(w, http)
        reload(w.first)
        assert signed_in(w, http)
        reload(w.first, {"label": "Company login"})
        assert signed_in(w, http)
        reload(w.first, {"roles": [{"value": "ops", "scopes": ["read"]}]})
        assert not signed_in(w, http)
        back_without_a_password(w, http)
        assert signed_in(w, http)
        w.first.proc.send_signal(signal.SIGTERM if stop == "SIGTERM" else signal.SIGKILL)
        w.first.proc.wait(timeout=60)
        with monitor(w.first.config, w.first.log) as again:
            w.first.proc = again
            wait_for(lambda: ready(w.first), limit=60, procs=[again])
            assert signed_in(w, http)
            reload(w.first, {"roles": [{"value": "ops", "scopes": ["write"]}]})
            assert not signed_in(w, http)


def signed_in_everywhere(w: World, http: requests.Session, up: list[Instance]) -> bool:
    """The cookie alone signs ``http`` in on each of ``up`` (no provider asked: a lost
    session would be a 401, or a redirect to the login)."""
    return all(
        http.get(f"{i.base}/api/status", allow_redirects=False).status_code == 200 for i in up
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_a_session_through_every_event_in_every_shape(
    shape: str, lab: Lab, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The lifecycle matrix's events for a single sign-on session (issue 48), in the three
    deployment shapes: SIGHUP, SIGTERM and start, kill -9 and start, of each instance in
    turn; with two instances on PostgreSQL the other one runs on meanwhile (a takeover)
    and honours the session while the first is down.  After each event the cookie still
    signs the browser in on every running instance, the provider never asked again."""
    env = {**os.environ, "TETHER_LOCATION": "local"}
    with world(shape, tmp_path, lab, request) as w, ExitStack() as restarted:
        http = w.http()
        login(w, http)
        assert signed_in_everywhere(w, http, w.instances)
        for event in ("SIGHUP", "SIGTERM", "SIGKILL"):
            for instance in w.instances:
                if event == "SIGHUP":
                    reload(instance)
                    assert signed_in_everywhere(w, http, w.instances), event
                    continue
                instance.proc.send_signal(getattr(signal, event))
                instance.proc.wait(timeout=60)
                others = [i for i in w.instances if i is not instance]
                assert signed_in_everywhere(w, http, others), f"{event}: the others"
                again = restarted.enter_context(monitor(instance.config, instance.log, env=env))
                instance.proc = again
                wait_for(lambda i=instance: ready(i), limit=60, procs=[again])
                assert signed_in_everywhere(w, http, w.instances), f"{event} and start"


def test_the_local_login_can_be_switched_off(
    lab: Lab, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """With ``local_login: false`` the login page offers single sign-on alone, and a
    configured user's right password is refused (403, no session); single sign-on
    still logs in."""
    with world("one-process", tmp_path, lab, request, local_login=False) as w:
        http = w.http()
        page = http.get(f"{w.first.base}/login")
        assert 'id="sso"' in page.text
        assert 'name="password"' not in page.text
        refused = http.post(
            f"{w.first.base}/login",
            data={"user": "admin", "password": PASSWORD},
            allow_redirects=False,
        )
        assert refused.status_code == 403
        assert "tether_session" not in http.cookies
        login(w, http)
        assert signed_in(w, http)
