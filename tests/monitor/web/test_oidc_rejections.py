"""Single sign-on refuses what it must, against a real OpenID provider (the certified
``oidc-provider`` package on Node, tests/helpers/oidc_server.py) and a real ``tether
monitor`` process: a wrong ``state``, a replayed code, a callback with no login begun,
a user no role maps, a read-only group's change; and the ID token's own checks (wrong
nonce, expired, another audience, another issuer) on tokens the real provider issued.
Every client here is a plain HTTP client with a cookie jar of its own, as a browser."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from joserfc.jwk import KeySet

from tests.helpers.oidc_server import CLIENT_ID, CLIENT_SECRET, sign_in
from tests.helpers.oidc_world import World, world
from tests.helpers.processes import wait_for
from tests.helpers.tether_processes import tether
from tether.lab import Lab
from tether.monitor.web.auth._oidc_flow import (
    PENDING_COOKIE,
    LoginRefused,
    PendingLogin,
    verify_id_token,
)


@pytest.fixture(scope="module")
def one(
    lab: Lab, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[World]:
    """The provider and one monitor process."""
    with world("one-process", tmp_path_factory.mktemp("oidc"), lab, request) as running:
        yield running


def callback_of(w: World, http: requests.Session, user: str, next_path: str = "/") -> str:
    begin = f"{w.first.base}/login/oidc?{urlencode({'next': next_path})}"
    return sign_in(http, begin, user, f"{w.back.base}/login/oidc/callback")


def test_a_mapped_user_signs_in_and_reads(one: World) -> None:
    """alice (group ops) comes back from the provider with a session cookie and reaches
    the dashboard's API as herself, with write."""
    http = one.http()
    answer = http.get(callback_of(one, http, "alice", "/monitors/web"), allow_redirects=False)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Refresh"] == "0; url=/monitors/web"
    assert "tether_session" in http.cookies
    page = http.get(f"{one.first.base}/monitors/web", allow_redirects=False)
    assert page.status_code == 200
    assert "alice" in page.text


def test_a_wrong_state_is_refused(one: World) -> None:
    """A callback whose state is not the one this browser's login began with is a 400
    and opens no session (the code is never sent to the provider)."""
    http = one.http()
    url = callback_of(one, http, "alice")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = "x" + query["state"][1:]
    answer = http.get(f"{one.back.base}{parts.path}?{urlencode(query)}", allow_redirects=False)
    assert answer.status_code == 400
    assert "state" in answer.text
    assert "tether_session" not in http.cookies


def test_a_callback_without_a_login_begun_is_refused(one: World) -> None:
    """Another browser (no pending-login cookie) cannot finish someone's login: a login
    CSRF sends a victim to a callback with the attacker's code."""
    http = one.http()
    url = callback_of(one, http, "alice")
    stranger = one.http()
    answer = stranger.get(url, allow_redirects=False)
    assert answer.status_code == 400
    assert "no login was begun" in answer.text
    assert "tether_session" not in stranger.cookies


def test_a_replayed_code_is_refused(one: World) -> None:
    """The callback's URL and pending-login cookie sent a second time (copied by whoever
    saw them): the provider refuses the used code, and no second session opens."""
    http = one.http()
    url = callback_of(one, http, "alice")
    pending = http.cookies.get(PENDING_COOKIE)
    assert http.get(url, allow_redirects=False).status_code == 200
    thief = one.http()
    thief.cookies.set(PENDING_COOKIE, pending, domain="127.0.0.1", path="/login/oidc")
    again = thief.get(url, allow_redirects=False)
    assert again.status_code == 400, again.text
    assert "invalid_grant" in again.text
    assert "tether_session" not in thief.cookies


def test_a_user_no_role_maps_gets_no_session(one: World) -> None:
    """carol, in no group of ``roles``, signs in at the provider but is refused here:
    a 403 that says so, and no session."""
    http = one.http()
    answer = http.get(callback_of(one, http, "carol"), allow_redirects=False)
    assert answer.status_code == 403
    assert "no role of this monitor" in answer.text
    assert "tether_session" not in http.cookies
    assert http.get(f"{one.first.base}/api/status").status_code == 401


def test_a_read_only_group_may_read_and_not_write(one: World) -> None:
    """bob (group viewers: read) reads the API and is refused a change, his CSRF token
    sent as the pages send it."""
    http = one.http()
    assert http.get(callback_of(one, http, "bob"), allow_redirects=False).status_code == 200
    assert http.get(f"{one.first.base}/api/status").status_code == 200
    page = http.get(f"{one.first.base}/monitors/web").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    change = http.post(
        f"{one.first.base}/api/monitors/web/pause",
        json={},
        headers={"X-CSRF-Token": csrf, "Origin": one.first.base},
    )
    assert change.status_code == 403
    assert "may not write" in change.text


def test_no_secret_is_logged_or_shown(one: World) -> None:
    """After a login and a replay of its code, the monitor's log, its pages and APIs, the
    refusal and ``tether check-config`` hold no client secret, no code, no pending-login
    cookie and no session id."""
    http = one.http()
    url = callback_of(one, http, "alice")
    pending = http.cookies.get(PENDING_COOKIE)
    http.get(url, allow_redirects=False)
    sid = http.cookies.get("tether_session")
    code = parse_qs(urlsplit(url).query)["code"][0]

    def logged() -> str | None:
        text = one.logs()
        return text if "alice logged in through single sign-on" in text else None

    logs = wait_for(logged, procs=[one.first.proc])
    shown = [
        http.get(f"{one.first.base}{path}").text
        for path in ("/login", "/", "/monitors/web", "/api/status", "/api/audit")
    ]
    shown.append(http.get(url, allow_redirects=False).text)  # the replay's refusal
    shown.append(tether("check-config", str(one.first.config))[1])
    for secret in (CLIENT_SECRET, code, pending, sid):
        assert secret
        assert secret not in logs
        assert not any(secret in page for page in shown)


def real_id_token(w: World) -> tuple[dict[str, Any], str, PendingLogin]:
    """An ID token the real provider issued for alice's login (the code exchanged here,
    as the monitor would), with the provider's keys and the login it was for."""
    http = w.http()
    url = callback_of(w, http, "alice")
    pending = PendingLogin.parse(http.cookies.get(PENDING_COOKIE))
    assert pending is not None
    config = http.get(f"{w.provider.issuer}/.well-known/openid-configuration").json()
    tokens = http.post(
        config["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": parse_qs(urlsplit(url).query)["code"][0],
            "redirect_uri": f"{w.back.base}/login/oidc/callback",
            "code_verifier": pending.verifier,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
    ).json()
    return http.get(config["jwks_uri"]).json(), tokens["id_token"], pending


def test_the_real_id_token_passes_and_each_check_fails_alone(one: World) -> None:
    """A real ID token of the provider verifies with its login's nonce, and is refused
    with another nonce, past its exp, for another audience, from another issuer, and
    under keys that are not the provider's."""
    jwks, token, pending = real_id_token(one)
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    good = {"issuer": one.provider.issuer, "client_id": CLIENT_ID, "nonce": pending.nonce}
    now = payload["iat"] + 1
    assert verify_id_token(token, jwks, **good, now=now)["sub"] == "alice"
    wrong = {
        "nonce": {**good, "nonce": hashlib.sha256(b"other").hexdigest()},
        "audience": {**good, "client_id": "another-client"},
        "issuer": {**good, "issuer": "https://127.0.0.2:1"},
    }
    for arguments in wrong.values():
        with pytest.raises(LoginRefused, match="claim"):
            verify_id_token(token, jwks, **arguments, now=now)
    with pytest.raises(LoginRefused, match="expired"):
        verify_id_token(token, jwks, **good, now=payload["exp"] + 61)
    foreign = KeySet.generate_key_set("RSA", 2048, count=1).as_dict(private=False)
    with pytest.raises(LoginRefused, match="signature"):
        verify_id_token(token, foreign, **good, now=now)


def test_the_provider_is_verified_against_its_ca(
    lab: Lab, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Without ``ca_file`` the provider's certificate (a private CA's) is not trusted: the
    login does not begin, and the page says the TLS is untrusted."""
    with world("one-process", tmp_path, lab, request, ca_file=None) as w:
        answer = w.http().get(f"{w.first.base}/login/oidc", allow_redirects=False)
        assert answer.status_code == 502
        assert "tls.untrusted" in answer.text
        assert "PENDING" not in answer.text
