"""Certificate findings: every problem of the chain, the certificate that has it, the
names on a mismatch, 'valid from' for one not yet valid, and no 'not verified:' for a
handshake that broke before any certificate was judged."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.helpers.tls_server import https_server
from tether._kinds import Kind
from tether.cli import main
from tether.lab import Lab
from tether.probe import Certificate, ProbeOptions, _tls, probe

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _cert(
    subject: str, issuer: str, start: dt.datetime, end: dt.datetime, *sans: str
) -> Certificate:
    return Certificate(subject, issuer, sans, start.isoformat(), end.isoformat(), (end - NOW).days)


LEAF = _cert("CN=leaf", "CN=middle", NOW - DAY, NOW + 30 * DAY, "a.test", "127.0.0.1")
MIDDLE = _cert("CN=middle", "CN=root", NOW - 90 * DAY, NOW + 300 * DAY)
ROOT = _cert("CN=root", "CN=root", NOW - 900 * DAY, NOW + 900 * DAY)


def _problems(*chain: Certificate, name: str = "a.test") -> list[_tls.Problem]:
    return _tls.problems(chain, name=name, where="a.test:443", now=NOW)


# --- the pure core -------------------------------------------------------------------------------


def test_a_good_chain_has_no_problem() -> None:
    """A chain in its dates, for the name asked, has nothing to say."""
    assert _problems(LEAF, MIDDLE, ROOT) == []


def test_an_expired_intermediate_is_named_and_the_leaf_is_not_blamed() -> None:
    """Only the intermediate expired: the problem names it, and says the leaf is valid."""
    old = _cert("CN=middle", "CN=root", NOW - 90 * DAY, NOW - 2 * DAY)
    (found,) = _problems(LEAF, old, ROOT)
    assert found.kind is Kind.TLS_EXPIRED
    assert found.text == (
        "the intermediate certificate CN=middle that a.test:443 sent expired on "
        "2026-05-30 12:00 UTC, 2 days ago, while the server's own certificate is valid "
        "until 2026-07-01"
    )
    assert found.brief == (
        "the intermediate certificate CN=middle that a.test:443 sent has expired "
        "(the server's own certificate is valid)"
    )


def test_a_certificate_not_yet_valid_says_from_when() -> None:
    """A leaf whose validity starts tomorrow: 'valid from' its start, and the clock hint."""
    early = _cert(
        "CN=leaf", "CN=middle", NOW + DAY + dt.timedelta(hours=3), NOW + 9 * DAY, "a.test"
    )
    (found,) = _problems(early, MIDDLE)
    assert found.text == (
        "the certificate of a.test:443 is not valid yet: valid from 2026-06-02 15:00 UTC, "
        "in 1 day (check this machine's clock)"
    )
    assert "not yet valid" in found.brief


def test_every_problem_is_listed() -> None:
    """An expired leaf for another name under an expired root: three problems, in chain order,
    the name last."""
    leaf = _cert("CN=leaf", "CN=middle", NOW - 9 * DAY, NOW - DAY, "b.test", "*.c.test")
    root = _cert("CN=root", "CN=root", NOW - 900 * DAY, NOW - 5 * DAY)
    found = _problems(leaf, MIDDLE, root)
    assert [p.kind for p in found] == [
        Kind.TLS_EXPIRED,
        Kind.TLS_EXPIRED,
        Kind.TLS_HOSTNAME_MISMATCH,
    ]
    assert found[0].text.startswith("the certificate of a.test:443 expired on 2026-05-31")
    assert found[1].text.startswith("the root certificate CN=root that a.test:443 sent expired")
    assert "while the server's own" not in found[1].text  # the leaf is not valid either
    assert found[2].text == (
        "the certificate of a.test:443 is not valid for a.test: it names b.test, *.c.test"
    )


@pytest.mark.parametrize(
    ("sans", "name", "match"),
    [
        (["a.test"], "A.TEST", True),
        (["a.test."], "a.test", True),
        (["*.a.test"], "x.a.test", True),
        (["*.a.test"], "a.test", False),
        (["*.a.test"], "y.x.a.test", False),
        (["127.0.0.1"], "127.0.0.1", True),
        (["::1"], "0:0::1", True),
        (["a.test"], "127.0.0.1", False),
        ([], "a.test", False),
    ],
)
def test_names_match(sans: list[str], name: str, match: bool) -> None:
    """RFC 6125 matching: case and a final dot aside, a wildcard for one left label only,
    addresses compared as addresses."""
    assert _tls.names_match(sans, name) is match


# --- real handshakes against the lab --------------------------------------------------------------


@pytest.fixture(autouse=True)
def _plain_and_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    """No colour, and no proxy of the machine's between the probe and the lab."""
    monkeypatch.setenv("NO_COLOR", "1")
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def _diagnose(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, dict]:
    """The text's tls line and the --json result."""
    main(["diagnose", *args])
    out, _ = capsys.readouterr()
    (line,) = [line for line in out.splitlines() if line.startswith("  tls ")]
    main(["diagnose", "--json", *args])
    out, _ = capsys.readouterr()
    return line, json.loads(out)


def test_an_expired_intermediate_in_the_lab(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """The lab's chain through an expired intermediate: the verdict names the intermediate
    and never says the server's certificate has expired."""
    line, result = _diagnose(capsys, lab["tls_expired_intermediate"].url, "--cacert", lab.ca_file)
    detail = result["failure"]["detail"]
    assert result["failure"]["kind"] == "tls.expired"
    assert detail.startswith("The intermediate certificate CN=tether lab old intermediate")
    assert "(the server's own certificate is valid)" in detail
    assert "certificate of" not in detail
    tls = result["phases"][-1]
    assert len(tls["problems"]) == 1
    assert line.split("  ")[-1].startswith(
        "not verified: the intermediate certificate CN=tether lab old intermediate"
    )


def test_a_name_mismatch_shows_the_names(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """The verdict of a certificate for another name lists the names it has."""
    line, result = _diagnose(capsys, lab["tls_wrong_host"].url, "--cacert", lab.ca_file)
    assert result["failure"]["kind"] == "tls.hostname_mismatch"
    assert result["failure"]["detail"].endswith(
        "is not valid for 127.0.0.1: it names wrong.lab.test"
    )
    assert "it names wrong.lab.test" in line


def test_not_yet_valid_says_valid_from(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """The tls line of a certificate not valid yet says from when it is (tomorrow's date)."""
    line, result = _diagnose(capsys, lab["tls_not_yet_valid"].url, "--cacert", lab.ca_file)
    start = result["phases"][-1]["chain"][0]["not_before"]
    assert result["failure"]["kind"] == "tls.expired"
    assert f"valid from {start[:10]} {start[11:16]} UTC" in line


@pytest.mark.parametrize(
    ("scenario", "first"),
    [("tls_expired", "Renew the certificate"), ("tls_not_yet_valid", "Check this machine's clock")],
)
def test_the_clock_comes_first_only_for_a_certificate_not_yet_valid(
    lab: Lab, capsys: pytest.CaptureFixture[str], scenario: str, first: str
) -> None:
    """A certificate that has expired: renew it first (the dates say so); one not valid
    yet: the clock first (issue 24: the clock led for a certificate expired a year ago).
    In diagnose's verdict and in the monitor's incident alike."""
    from tether.monitor._records import ProbeRecord
    from tether.monitor._state import State
    from tether.monitor.engine._detect import Observation, StateChanged
    from tether.monitor.engine.incidents._engine import IncidentEngine
    from tether.monitor.engine.incidents._events import IncidentRoute

    _, result = _diagnose(capsys, lab[scenario].url, "--cacert", lab.ca_file)
    assert result["failure"]["kind"] == "tls.expired"
    assert result["failure"]["hint"].startswith(first)
    detail = result["failure"]["detail"]
    engine = IncidentEngine({"m": IncidentRoute(("ops",))}, iter(range(1, 9)).__next__)
    down = Observation("m", False, 0.0, 1.0, Kind.TLS_EXPIRED, "127.0.0.1:443")
    change = StateChanged("m", 0.0, State.UP, State.DOWN, "3 failed checks")
    record = ProbeRecord("m", 0.0, False, Kind.TLS_EXPIRED, 1.0, detail)
    engine.changed(change, record, [down], {"m": "127.0.0.1"})
    (incident,) = engine.open_incidents()
    assert incident.detail.startswith("certificate expired or not yet valid on 127.0.0.1:443")
    assert incident.hint.startswith(first)


@pytest.mark.parametrize("scenario", ["tls_version", "tls_no_cipher", "tls_to_plain", "tls_eof"])
def test_a_broken_handshake_is_not_not_verified(
    scenario: str, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """A handshake that broke before any certificate was judged says what broke, never
    'not verified:', and has no problems list."""
    line, result = _diagnose(capsys, lab[scenario].url, "--cacert", lab.ca_file, "--timeout", "2")
    tls = result["phases"][-1]
    assert (tls["name"], tls["ok"]) == ("tls", False)
    assert "problems" not in tls
    assert "not verified" not in line
    assert line.split("  ")[-1] == tls["error"]


@pytest.fixture
def expired_for_another_name(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(URL, CA file) of a loopback TLS server whose certificate expired and is for
    another name: two problems, of which OpenSSL reports one."""
    ca = trustme.CA()
    now = dt.datetime.now(dt.UTC)
    leaf = ca.issue_cert("other.test", not_before=now - 9 * DAY, not_after=now - DAY)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    with https_server(leaf) as port:
        yield f"https://127.0.0.1:{port}/", str(ca_file)


def test_every_problem_of_a_real_chain(expired_for_another_name: tuple[str, str]) -> None:
    """Expired and for another name: both are listed, the verdict's own first, and the
    failure's detail says both."""
    url, ca_file = expired_for_another_name
    result = probe(url, ProbeOptions(cacert=ca_file, timeout=2, env={}))
    assert result.failure is not None
    tls = result.phase("tls")
    assert tls is not None
    problems = tls.details.problems
    assert len(problems) == 2
    expired = next(p for p in problems if " expired on " in p)
    named = next(p for p in problems if p.endswith("it names other.test"))
    first = expired if result.failure.kind is Kind.TLS_EXPIRED else named
    assert result.failure.kind in (Kind.TLS_EXPIRED, Kind.TLS_HOSTNAME_MISMATCH)
    assert problems[0] == first
    assert "has expired" in result.failure.detail
    assert "it names other.test" in result.failure.detail


def test_an_expired_root_in_the_clients_bundle(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lab's valid leaf of a root that expired, trusted alone (an outdated CA bundle):
    the verdict names the client's root and never says the server's certificate expired."""
    s = lab["tls_expired_root"]
    assert s.ca_file is not None
    line, result = _diagnose(capsys, s.url, "--cacert", s.ca_file)
    detail = result["failure"]["detail"]
    assert result["failure"]["kind"] == "tls.expired"
    assert detail.startswith(
        "The root certificate CN=tether lab old root CA that this client trusts has expired"
    )
    assert detail.endswith("this client's CA bundle is outdated")
    assert "certificate of" not in detail
    assert "not verified: the root certificate CN=tether lab old root CA" in line
