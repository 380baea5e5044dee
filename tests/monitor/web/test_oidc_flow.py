"""The single sign-on's pure decisions: the pending login a browser carries, the
authorization request, the ID token's checks on tokens signed here by joserfc (real
signatures, keys of the test's own), and the roles claims give."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey

from tests.helpers.config_text import dump
from tether.monitor.config import parse_config
from tether.monitor.config._oidc import OidcRole
from tether.monitor.web.auth._oidc_flow import (
    PENDING_TTL,
    LoginRefused,
    PendingLogin,
    authorization_url,
    scopes_for,
    user_name,
    verify_id_token,
)

NOW = 1_800_000_000
ISSUER = "https://id.example.com"
KEYS = KeySet.generate_key_set("RSA", 2048, count=1)
PUBLIC = KEYS.as_dict(private=False)


def token(**claims: Any) -> str:
    body = {
        "iss": ISSUER,
        "aud": "tether",
        "sub": "u-1",
        "iat": NOW,
        "exp": NOW + 300,
        "nonce": "n-1",
        **claims,
    }
    body = {k: v for k, v in body.items() if v is not None}
    key = KEYS.keys[0]
    return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


def verify(text: str, now: float = NOW + 1, **overrides: Any) -> dict[str, object]:
    args = {"issuer": ISSUER, "client_id": "tether", "nonce": "n-1", **overrides}
    return verify_id_token(text, PUBLIC, now=now, **args)


def test_a_good_token_verifies() -> None:
    """The token as the provider would sign it gives its claims."""
    assert verify(token())["sub"] == "u-1"


@pytest.mark.parametrize(
    ("claims", "said"),
    [
        ({"nonce": "another"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"aud": "another-client"}, "aud"),
        ({"iss": "https://evil.example.com"}, "iss"),
        ({"exp": NOW - 120}, "expired"),
        ({"iat": NOW + 3600}, "iat"),
        ({"sub": None}, "sub"),
        ({"aud": ["tether", "other"]}, "azp"),
        ({"azp": "other"}, "azp"),
    ],
)
def test_each_check_refuses_alone(claims: dict[str, Any], said: str) -> None:
    """Each wrong claim alone is refused, saying which check failed."""
    with pytest.raises(LoginRefused, match=said):
        verify(token(**claims))


def test_an_unsigned_or_hmac_token_is_refused() -> None:
    """``alg: none`` and an HMAC signature (keyed by anything public) are not accepted,
    whatever the claims."""
    claims = {
        "iss": ISSUER,
        "aud": "tether",
        "sub": "u",
        "iat": NOW,
        "exp": NOW + 60,
        "nonce": "n-1",
    }
    hmac_token = jwt.encode({"alg": "HS256"}, claims, OctKey.generate_key(256))
    with pytest.raises(LoginRefused, match="signature"):
        verify(hmac_token)
    unsigned = ".".join(hmac_token.split(".")[:2]) + "."
    with pytest.raises(LoginRefused):
        verify(unsigned)


def test_a_leeway_of_a_minute_and_no_more() -> None:
    """A token 59 s past its exp passes (clocks differ), 61 s past does not."""
    assert verify(token(), now=NOW + 300 + 59)
    with pytest.raises(LoginRefused, match="expired"):
        verify(token(), now=NOW + 300 + 61)


def test_the_pending_login_round_trips_and_expires() -> None:
    """A pending login read back from its cookie derives the same state, nonce and
    verifier; it holds for ten minutes; its repr shows no key."""
    pending = PendingLogin.begin(NOW, "/monitors/web")
    back = PendingLogin.parse(pending.cookie)
    assert back == pending
    assert back.state == pending.state
    assert len(pending.verifier) == 43
    assert pending.states_match(pending.state)
    assert not pending.expired(NOW + PENDING_TTL)
    assert pending.expired(NOW + PENDING_TTL + 1)
    assert pending.key not in repr(pending)


@given(st.text(max_size=40), st.integers(min_value=0, max_value=2**40))
def test_a_tampered_cookie_derives_another_state(next_path: str, began: int) -> None:
    """Changing where a pending login goes on to, or when it began, changes its state:
    the provider's answer no longer matches (a cookie cannot be edited into another)."""
    pending = PendingLogin.begin(NOW, "/")
    tampered = PendingLogin(pending.key, began, next_path)
    if (began, next_path) != (pending.began, pending.next_path):
        assert not tampered.states_match(pending.state)
    assert PendingLogin.parse(tampered.cookie) == tampered


@pytest.mark.parametrize("value", [None, "", "v1", "v2.1.k.x", "v1.x.k.e", "v1.1.short.e"])
def test_a_cookie_that_is_not_one_reads_as_none(value: str | None) -> None:
    """What is not a pending login's cookie is none (no exception)."""
    assert PendingLogin.parse(value) is None


def test_the_authorization_request_asks_for_the_code_flow_with_pkce() -> None:
    """response_type=code, S256 challenge of the verifier, the state and nonce of the
    pending login, the configured client, callback and scopes."""
    text = dump(
        oidc={
            "issuer": ISSUER,
            "client_id": "tether",
            "redirect_uri": "https://m.example.com/login/oidc/callback",
            "roles": [{"value": "ops"}],
        }
    )
    settings = parse_config(text).oidc
    assert settings is not None
    pending = PendingLogin.begin(time.time(), "/")
    url = authorization_url(f"{ISSUER}/auth?x=1", settings, pending)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["x"] == "1"
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == pending.challenge
    assert query["state"] == pending.state
    assert query["nonce"] == pending.nonce
    assert query["scope"] == "openid profile email"
    assert pending.verifier not in url


def test_roles_map_claims_to_scopes() -> None:
    """A group in a list claim, a plain claim's value; the union of the rules matched;
    none matched, no scope."""
    roles = [
        OidcRole(value="ops", scopes=("read", "write")),
        OidcRole(value="viewers"),
        OidcRole(claim="email", value="boss@example.com", scopes=("write",)),
    ]
    assert scopes_for({"groups": ["viewers"]}, roles) == {"read"}
    assert scopes_for({"groups": ["ops", "viewers"]}, roles) == {"read", "write"}
    assert scopes_for({"email": "boss@example.com"}, roles) == {"write"}
    assert scopes_for({"groups": "viewers"}, roles) == {"read"}
    assert scopes_for({"groups": ["devs"], "email": "x@example.com"}, roles) == frozenset()
    assert scopes_for({}, roles) == frozenset()


def test_the_user_is_named_by_the_claim_or_sub() -> None:
    """The configured claim, else sub; control characters dropped; no sub, refused."""
    assert user_name({"preferred_username": "alice", "sub": "1"}, "preferred_username") == "alice"
    assert user_name({"sub": "1"}, "preferred_username") == "1"
    assert user_name({"email": "a\nb@x", "sub": "1"}, "email") == "ab@x"
    with pytest.raises(LoginRefused):
        user_name({}, "email")
