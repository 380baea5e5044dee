"""The pure parts of the login: password and token hashes, sessions and the login limit
on a fake clock, the configuration's users, tokens and server keys, and the small
decisions of the gate (which path needs what, where a login may go on to, what counts
as loopback)."""

from __future__ import annotations

import pytest
import yaml

from tether._hostport import is_loopback
from tether.monitor.config import ConfigError, config_warnings, parse_config
from tether.monitor.config._passwords import (
    HashError,
    hash_password,
    hash_token,
    new_token,
    parse_password_hash,
    parse_token_hash,
    verify_password,
)
from tether.monitor.web.auth._auth import area, safe_next
from tether.monitor.web.auth._sessions import LoginLimiter, Sessions

FAST = {"n": 2**10}  # the parameters are in the hash: verification follows whatever it says
MONITORS = "monitors:\n  - {name: api, url: 'http://127.0.0.1:9/'}\n"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- hashes ----------------------------------------------------------------------------


def test_a_password_verifies_against_its_hash_and_nothing_else() -> None:
    """The scrypt hash verifies the password it was made from; another password, the
    empty one, and the password with a changed case do not."""
    hashed = parse_password_hash(hash_password("correct horse", **FAST))
    assert verify_password("correct horse", hashed)
    for wrong in ("correct hors", "", "Correct horse", "correct horse "):
        assert not verify_password(wrong, hashed)


def test_the_default_hash_carries_its_parameters_and_a_fresh_salt() -> None:
    """The default is scrypt n=2**15, r=8, p=1, written into the hash; two hashes of one
    password differ (their salts do) and both verify."""
    first, second = hash_password("pw"), hash_password("pw")
    assert first.startswith("scrypt$n=32768,r=8,p=1$")
    assert first != second
    assert verify_password("pw", parse_password_hash(first))
    assert verify_password("pw", parse_password_hash(second))


def test_an_unknown_user_is_never_verified() -> None:
    """With no stored hash (no such user) verification does the same work and says no,
    whatever the password, the decoy's own included."""
    assert not verify_password("", None)
    assert not verify_password("anything", None)


@pytest.mark.parametrize(
    "text",
    [
        "hunter2",
        "scrypt$n=32768,r=8,p=1$c2FsdA",
        "scrypt$n=1000,r=8,p=1$c2FsdHNhbHRzYWx0$" + "A" * 43,  # n not a power of two
        "scrypt$n=32768,r=8,p=1,x=2$c2FsdHNhbHRzYWx0$" + "A" * 43,
        "scrypt$n=32768,r=8,p=1$not base64!$" + "A" * 43,
        "scrypt$n=2097152,r=8,p=1$c2FsdHNhbHRzYWx0$" + "A" * 43,  # 2 GiB a login
        "bcrypt$2b$12$abcdefghijklmnopqrstuv",
    ],
)
def test_what_is_not_a_scrypt_hash_is_refused_without_being_shown(text: str) -> None:
    """A password written where its hash belongs, or a malformed or outsized hash, is
    refused, and the message does not contain what was written."""
    with pytest.raises(HashError) as refused:
        parse_password_hash(text)
    assert text not in str(refused.value)
    assert "tether hash-password" in str(refused.value)


def test_a_token_is_high_entropy_and_its_hash_is_what_the_file_holds() -> None:
    """new-token's tokens carry the tether_ prefix and 256 random bits (43 URL-safe
    characters), differ every time, and hash to sha256$ and 64 hex digits; a token
    written where its hash belongs is refused."""
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    token = tokens.pop()
    assert token.startswith("tether_")
    assert len(token) == len("tether_") + 43
    digest = hash_token(token)
    assert parse_token_hash(digest) == digest
    assert parse_token_hash(digest.upper().replace("SHA256$", "sha256$")) == digest
    with pytest.raises(HashError) as refused:
        parse_token_hash(token)
    assert token not in str(refused.value)


# -- sessions on a fake clock ------------------------------------------------------------


def test_a_session_ends_after_its_idle_time_unless_used() -> None:
    """A session used within the idle time lives on; one left idle longer ends, and stays
    ended when asked again."""
    clock = Clock()
    sessions = Sessions(clock, idle=3600, absolute=86400)
    sid, session = sessions.begin("alice", "H")
    assert (session.user, session.began) == ("alice", clock.now)
    clock.now += 3599
    assert sessions.get(sid, "H") is not None  # used: the idle time starts again
    clock.now += 3600
    assert sessions.get(sid, "H") is not None
    clock.now += 3601
    assert sessions.get(sid, "H") is None
    clock.now -= 3601
    assert sessions.get(sid, "H") is None  # ended, not merely expired
    assert len(sessions) == 0


def test_a_session_ends_at_its_absolute_limit_however_used() -> None:
    """A session used every half hour still ends once older than the absolute limit."""
    clock = Clock()
    sessions = Sessions(clock, idle=3600, absolute=4 * 3600)
    sid, _ = sessions.begin("alice", "H")
    for _ in range(8):
        clock.now += 1800
        assert sessions.get(sid, "H") is not None
    clock.now += 1
    assert sessions.get(sid, "H") is None


def test_a_session_ends_with_its_user_or_its_password_hash() -> None:
    """A changed password hash or a user gone from the configuration ends the session;
    logout ends it at once; a session id never seen is no session."""
    clock = Clock()
    sessions = Sessions(clock)
    one, _ = sessions.begin("alice", "H1")
    two, _ = sessions.begin("alice", "H1")
    three, _ = sessions.begin("bob", "B")
    assert sessions.get(one, "H2") is None
    assert sessions.get(two, None) is None
    assert sessions.end(three) is True
    assert sessions.get(three, "B") is None
    assert sessions.end(three) is False
    assert sessions.get("made-up", "H1") is None


def test_sessions_are_bounded_and_each_has_its_own_id_and_csrf_token() -> None:
    """Past the bound the least recently used session goes; ids and CSRF tokens are
    distinct random strings of 256 bits."""
    clock = Clock()
    sessions = Sessions(clock, max_sessions=3)
    made = [sessions.begin("alice", "H") for _ in range(3)]
    clock.now += 1
    assert sessions.get(made[0][0], "H") is not None  # now the most recently used
    sessions.begin("alice", "H")
    assert len(sessions) == 3
    assert sessions.get(made[1][0], "H") is None
    assert sessions.get(made[0][0], "H") is not None
    ids = {sid for sid, _ in made} | {s.csrf for _, s in made}
    assert len(ids) == 6
    assert all(len(x) == 43 for x in ids)


# -- the login limit on a fake clock -----------------------------------------------------


def test_five_failures_in_fifteen_minutes_hold_a_key_until_the_oldest_leaves() -> None:
    """Four failures leave the key free; the fifth holds it for what is left of the first
    one's 15 minutes; once it leaves the window the key may try again."""
    clock = Clock()
    limiter = LoginLimiter(clock, limit=5, window=900)
    keys = ("addr:127.0.0.1", "user:alice")
    for _ in range(4):
        limiter.failed(keys)
        clock.now += 60
    assert limiter.retry_after(keys) is None
    limiter.failed(keys)  # at 240 s
    assert limiter.retry_after(keys) == pytest.approx(900 - 240)
    assert limiter.retry_after(["user:alice"]) == pytest.approx(660)
    assert limiter.retry_after(["addr:127.0.0.2", "user:bob"]) is None
    clock.now += 659
    assert limiter.retry_after(keys) == pytest.approx(1)
    clock.now += 1
    assert limiter.retry_after(keys) is None


def test_a_success_clears_the_user_but_not_the_address() -> None:
    """Forgetting the user's key leaves the address's failures counted: logging in to
    one's own account does not reset the guesses made at another's."""
    clock = Clock()
    limiter = LoginLimiter(clock, limit=2, window=900)
    limiter.failed(("addr:a", "user:alice"))
    limiter.failed(("addr:a", "user:alice"))
    limiter.forget("user:alice")
    assert limiter.retry_after(["user:alice"]) is None
    assert limiter.retry_after(["addr:a"]) == pytest.approx(900)


def test_forgiving_takes_back_one_failure_and_keeps_the_others() -> None:
    """An attempt counted and then forgiven leaves the key as it was: the failures
    before it still count, and a key with none left is dropped."""
    clock = Clock()
    limiter = LoginLimiter(clock, limit=2, window=900)
    limiter.failed(["addr:a"])
    limiter.forgive("addr:a")
    assert len(limiter) == 0
    limiter.failed(["addr:a"])
    limiter.failed(["addr:a"])
    limiter.forgive("addr:a")
    assert limiter.retry_after(["addr:a"]) is None
    limiter.failed(["addr:a"])
    assert limiter.retry_after(["addr:a"]) == pytest.approx(900)
    limiter.forgive("addr:b")  # nothing counted: nothing to take back
    assert len(limiter) == 1


def test_the_limiter_keeps_a_bounded_number_of_keys() -> None:
    """A flood of distinct names keeps at most max_keys keys, the least recently
    touched going first."""
    clock = Clock()
    limiter = LoginLimiter(clock, limit=1, window=900, max_keys=100)
    for i in range(1000):
        limiter.failed([f"user:{i}"])
    assert len(limiter) == 100
    assert limiter.retry_after(["user:999"]) is not None
    assert limiter.retry_after(["user:0"]) is None


# -- the configuration -------------------------------------------------------------------


def test_users_tokens_and_server_keys_load_with_their_defaults() -> None:
    """users take read and write by default; a token's hash is kept as sha256$hex; the
    server's session times and cookie settings have their documented defaults; the repr
    of the whole shows no hash."""
    password_hash = hash_password("pw", **FAST)
    token_hash = hash_token(new_token())
    config = parse_config(
        MONITORS
        + yaml.safe_dump(
            {
                "users": [
                    {"name": "alice", "password_hash": password_hash},
                    {"name": "bob", "password_hash": password_hash, "scopes": "read"},
                ],
                "tokens": [{"name": "prometheus", "hash": token_hash, "scope": "read"}],
                "server": {"require_token": ["metrics", "probe"]},
            }
        )
    )
    alice, bob = config.users
    assert (alice.scopes, bob.scopes) == (("read", "write"), ("read",))
    assert config.tokens[0].hash.get_secret_value() == token_hash
    server = config.server
    assert server.require_token == ("metrics", "probe")
    assert (server.session_idle, server.session_max) == (12 * 3600, 7 * 86400)
    assert (server.secure_cookies, server.trust_forwarded_proto) == ("auto", False)
    shown = repr(config)
    assert password_hash not in shown
    assert token_hash not in shown


@pytest.mark.parametrize(
    ("section", "error"),
    [
        (
            "users:\n  - {name: alice, password_hash: hunter2-secret}\n",
            "users[0].password_hash: is not a password hash: write the scrypt$... line "
            "tether hash-password prints (the file never holds a password)",
        ),
        (
            "users:\n  - {name: alice, password: hunter2-secret}\n",
            "users[0].password_hash: is required\n"
            "users[0].password: unknown key, did you mean password_hash?",
        ),
        (
            "tokens:\n  - {name: ci, hash: tether_hunter2-secret, scope: read}\n",
            "tokens[0].hash: is not a token hash: write the sha256$... value tether "
            "new-token prints (the file never holds a token)",
        ),
        ("users:\n  - {name: a, password_hash: 123456}\n", None),
        (
            "server: {require_token: [metric]}\n",
            'server.require_token[0]: "metric" is not one of metrics, probe, did you mean metrics?',
        ),
        (
            "server: {session_idle: 8d}\n",
            "server.session_idle: 8d is longer than session_max (7d): a session ends at "
            "the shorter",
        ),
    ],
)
def test_bad_users_tokens_and_server_keys_are_refused_without_the_secret(
    section: str, error: str | None
) -> None:
    """Each mistake is one line naming the key path, and no line holds what was written
    where a hash belongs (a password or a token, likely)."""
    with pytest.raises(ConfigError) as refused:
        parse_config(MONITORS + section)
    text = str(refused.value)
    if error is not None:
        assert text == error
    assert "hunter2-secret" not in text
    assert "123456" not in text


def test_two_users_or_tokens_of_one_name_are_refused() -> None:
    """Names are unique among users and among tokens (the audit log tells them apart)."""
    h = hash_password("pw", **FAST)
    t = hash_token("x")
    with pytest.raises(ConfigError) as refused:
        parse_config(
            MONITORS
            + f"users:\n  - {{name: a, password_hash: '{h}'}}\n"
            + f"  - {{name: a, password_hash: '{h}'}}\n"
            + f"tokens:\n  - {{name: t, hash: '{t}', scope: read}}\n"
            + f"  - {{name: t, hash: '{t}', scope: write}}\n"
        )
    assert str(refused.value).splitlines() == [
        'users[1].name: "a" is already the name of users[0]; each user needs its own',
        'tokens[1].name: "t" is already the name of tokens[0]; each token needs its own',
    ]


def test_listening_off_loopback_warns_without_users_and_without_required_tokens() -> None:
    """Off loopback with no users, the warning says the dashboard stays on loopback;
    with tokens that /metrics and /probe do not require, it says to require them; on
    loopback, or with both settled, nothing."""
    h = hash_password("pw", **FAST)
    t = hash_token("x")
    users = f"users:\n  - {{name: a, password_hash: '{h}'}}\n"
    tokens = f"tokens:\n  - {{name: t, hash: '{t}', scope: read}}\n"
    wide = "server: {listen: '0.0.0.0:8800'}\n"
    (alone,) = config_warnings(parse_config(MONITORS + wide))
    assert alone.startswith("server.listen: 0.0.0.0 is not a loopback address and no users")
    (untokened,) = config_warnings(parse_config(MONITORS + wide + users + tokens))
    assert "require_token: [metrics, probe]" in untokened
    settled = "server: {listen: '0.0.0.0:8800', require_token: [metrics, probe]}\n"
    assert config_warnings(parse_config(MONITORS + settled + users + tokens)) == []
    assert config_warnings(parse_config(MONITORS + tokens)) == []
    assert config_warnings(parse_config(MONITORS + "server: {listen: '[::1]:0'}\n")) == []


def test_a_warning_shows_a_hidden_character_of_the_host_as_an_escape() -> None:
    """A quoted host holding an Arabic letter mark and a newline (the config fuzzer's find)
    is warned about on one line, each hidden character written as an escape: the line
    printed raw split in two, the second not a warning."""
    hostile = 'server: {listen: "\u061c\\n127.0.0.1:8800"}\n'
    (line,) = config_warnings(parse_config(MONITORS + hostile))
    assert "\n" not in line
    assert line.startswith("server.listen: \\u061c\\u000a127.0.0.1 is not a loopback")


# -- the gate's small decisions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/", "dashboard"),
        ("/api/status", "dashboard"),
        ("/monitors/a", "dashboard"),
        ("/logout", "dashboard"),
        ("/nowhere", "dashboard"),
        ("/status/public", "public"),
        ("/badge/api/status.svg", "public"),
        ("/static/dashboard.js", "public"),
        ("/login", "public"),
        ("/statusx", "dashboard"),
        ("/metrics", "metrics"),
        ("/probe", "probe"),
        ("/metrics/x", "dashboard"),
    ],
)
def test_each_path_falls_under_its_rule(path: str, where: str) -> None:
    """Status pages, badges, static files and the login are public; /metrics and /probe
    have their own rule; everything else is the dashboard's."""
    assert area(path) == where


@pytest.mark.parametrize(
    ("given", "goes"),
    [
        (None, "/"),
        ("/monitors/a%2Fb?x=1", "/monitors/a%2Fb?x=1"),
        ("/incidents", "/incidents"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("evil", "/"),
        ("/\tx", "/"),
    ],
)
def test_a_login_goes_on_only_to_a_path_of_this_server(given: str | None, goes: str) -> None:
    """Open redirects are closed: only a path on this server is followed after a login."""
    assert safe_next(given) == goes


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("203.0.113.9", False),
        ("192.0.2.1", False),
        ("api.lab.test", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    """127.0.0.0/8, ::1 (also as IPv4-mapped) and localhost; not 0.0.0.0 (every address)
    nor a name that may resolve anywhere."""
    assert is_loopback(host) is loopback
