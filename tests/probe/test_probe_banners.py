"""``ssh://`` and ``smtp://`` / ``smtps://`` probes against real servers on loopback.

The SSH peer is Debian's OpenSSH ``sshd`` when it is installed (``openssh-server``;
skipped otherwise unless ``TETHER_REQUIRE_SSHD=1``).  The peers that misbehave (silent,
garbage, an SSH-1.5 server, a preamble before the identification line, an SMTP server
that answers 554) are small socket servers that write exactly those bytes, since no real
server can be told to misbehave that way.  The SMTP peer is aiosmtpd
(``tests/helpers/smtp_receiver.py``, as the email channel's tests use it), with STARTTLS over a
trustme certificate, and without it.
"""

from __future__ import annotations

import datetime as dt
import json
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trustme

from tests.helpers.smtp_receiver import SMTPReceiver
from tests.helpers.sshd_server import sshd_server
from tether.cli import main
from tether.probe import ProbeOptions, ProbeResult, probe
from tether.probe._target import InvalidTarget, parse_target

SHORT = 0.5
"""The timeout for peers that never answer: the probe waits this long, no more."""


def _run(target: str, **options: Any) -> ProbeResult:
    return probe(target, ProbeOptions(timeout=options.pop("timeout", 5.0), **options))


class _Writer(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(self.server.greeting)  # type: ignore[attr-defined]
        self.request.settimeout(5)
        try:
            while self.request.recv(1024):
                pass
        except OSError:
            pass


@pytest.fixture
def peer() -> Iterator[Any]:
    """Start a loopback server that writes the given bytes and then only listens."""
    servers: list[socketserver.ThreadingTCPServer] = []

    def start(greeting: bytes) -> int:
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Writer)
        server.daemon_threads = True
        server.greeting = greeting  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# -- ssh ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Debian's OpenSSH server on a loopback port, with a host key made for it."""
    with sshd_server(tmp_path_factory.mktemp("sshd")) as port:
        yield port


def test_ssh_reads_openssh_identification(sshd: int) -> None:
    """A real OpenSSH server: the ssh phase names protocol 2.0 and OpenSSH's version."""
    result = _run(f"ssh://127.0.0.1:{sshd}")
    assert result.ok, result.failure
    assert [p.name for p in result.phases][-2:] == ["connect", "ssh"]
    ssh = result.phase("ssh")
    assert ssh is not None
    assert ssh.details.protocol == "2.0"
    assert ssh.details.software.startswith("OpenSSH_")
    assert ssh.details.banner.startswith("SSH-2.0-OpenSSH_")


def test_ssh_accepts_lines_before_the_identification(peer: Any) -> None:
    """RFC 4253 allows other lines first: they are counted, and the SSH line still read."""
    port = peer(b"Welcome to the lab\r\nSSH-2.0-Lab_1.2 built today\r\n")
    result = _run(f"ssh://127.0.0.1:{port}")
    assert result.ok, result.failure
    ssh = result.phase("ssh")
    assert ssh is not None
    assert ssh.details.software == "Lab_1.2"
    assert ssh.details.comments == "built today"
    assert ssh.details.preamble_lines == 1


def test_ssh_silent_server_is_a_read_timeout(peer: Any) -> None:
    """A server that accepts and says nothing: read.timeout in the ssh phase."""
    port = peer(b"")
    result = _run(f"ssh://127.0.0.1:{port}", timeout=SHORT)
    assert result.failure is not None
    assert result.failure.kind.value == "read.timeout"
    assert "no SSH identification line" in result.failure.detail
    assert result.phases[-1].name == "ssh"


def test_ssh_garbage_is_malformed(peer: Any) -> None:
    """Binary bytes instead of an identification line: response.malformed, at once."""
    port = peer(b"\x00\x01\xffnot ssh\r\n")
    result = _run(f"ssh://127.0.0.1:{port}")
    assert result.failure is not None
    assert result.failure.kind.value == "response.malformed"
    assert "does not speak SSH" in result.failure.detail


def test_ssh_other_protocol_greeting_is_malformed(peer: Any) -> None:
    """An SMTP greeting on the SSH port: malformed, quoting what was sent."""
    port = peer(b"220 mail.lab.test ESMTP\r\n")
    result = _run(f"ssh://127.0.0.1:{port}", timeout=SHORT)
    assert result.failure is not None
    assert result.failure.kind.value == "response.malformed"
    assert "220 mail.lab.test ESMTP" in result.failure.detail


def test_ssh_protocol_one_is_named(peer: Any) -> None:
    """An SSH-1.5 server fails, saying the protocol is obsolete."""
    port = peer(b"SSH-1.5-OldSSH_1.2.27\r\n")
    result = _run(f"ssh://127.0.0.1:{port}")
    assert result.failure is not None
    assert result.failure.kind.value == "response.malformed"
    assert "SSH protocol 1.5" in result.failure.detail
    assert "obsolete" in result.failure.detail


# -- smtp -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # About 400 days left, as a real certificate has: tls.min_days_left can be above it.
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    ca.issue_cert("127.0.0.1", not_after=until).configure_cert(context)
    return context


@pytest.fixture
def starttls(server_tls: ssl.SSLContext) -> Iterator[SMTPReceiver]:
    server = SMTPReceiver(tls=server_tls)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def plain() -> Iterator[SMTPReceiver]:
    server = SMTPReceiver()
    server.start()
    yield server
    server.stop()


def test_smtp_starttls_verifies_the_certificate(starttls: SMTPReceiver, cafile: str) -> None:
    """aiosmtpd offering STARTTLS: smtp then tls phases, verified, with days left; QUIT, no mail."""
    result = _run(f"smtp://127.0.0.1:{starttls.port}", cacert=cafile)
    assert result.ok, result.failure
    assert [p.name for p in result.phases][-3:] == ["connect", "smtp", "tls"]
    smtp = result.phase("smtp")
    tls = result.phase("tls")
    assert smtp is not None
    assert tls is not None
    assert smtp.details.greeting == 220
    assert "smtp.lab.test" in smtp.details.banner
    assert "STARTTLS" in smtp.details.extensions
    assert tls.details.verified is True
    assert tls.details.alpn is None  # no HTTP ALPN offered to a mail server
    assert tls.details.chain[0].days_left in (399, 400)
    assert b"STARTTLS\r\n" in starttls.wire
    assert b"MAIL FROM" not in starttls.wire
    assert starttls.received == []


def test_smtp_untrusted_certificate_is_shown(starttls: SMTPReceiver) -> None:
    """Without the CA: tls.untrusted, and the certificate read after a second STARTTLS."""
    result = _run(f"smtp://127.0.0.1:{starttls.port}")
    assert result.failure is not None
    assert result.failure.kind.value in ("tls.untrusted", "tls.self_signed")
    tls = result.phase("tls")
    assert tls is not None
    assert not tls.ok
    assert tls.details.chain[0].sans == ("127.0.0.1",)


def test_smtp_without_starttls_passes_unless_required(plain: SMTPReceiver) -> None:
    """No STARTTLS offered: fine by default (no tls phase), a tls.protocol failure when required."""
    result = _run(f"smtp://127.0.0.1:{plain.port}")
    assert result.ok, result.failure
    assert result.phase("tls") is None
    smtp = result.phase("smtp")
    assert smtp is not None
    assert smtp.details.starttls == "not offered"
    required = _run(f"smtp://127.0.0.1:{plain.port}?starttls=required")
    assert required.failure is not None
    assert required.failure.kind.value == "tls.protocol"
    assert "does not offer STARTTLS" in required.failure.detail


def test_smtp_starttls_off_skips_the_upgrade(starttls: SMTPReceiver) -> None:
    """?starttls=off: the server offers it, the probe does not ask."""
    result = _run(f"smtp://127.0.0.1:{starttls.port}?starttls=off")
    assert result.ok, result.failure
    assert result.phase("tls") is None
    assert b"STARTTLS" not in starttls.wire


def test_smtps_implicit_tls(server_tls: ssl.SSLContext, cafile: str) -> None:
    """smtps://: the handshake first, then the greeting and EHLO over it."""
    server = SMTPReceiver(tls=server_tls, implicit=True)
    server.start()
    try:
        result = _run(f"smtps://127.0.0.1:{server.port}", cacert=cafile)
    finally:
        server.stop()
    assert result.ok, result.failure
    assert [p.name for p in result.phases][-3:] == ["connect", "tls", "smtp"]


def test_smtp_554_greeting_is_a_refusal(peer: Any) -> None:
    """A 554 greeting: http.client_error (a permanent refusal) quoting the reply."""
    port = peer(b"554 5.7.1 no SMTP service here\r\n")
    result = _run(f"smtp://127.0.0.1:{port}")
    assert result.failure is not None
    assert result.failure.kind.value == "http.client_error"
    assert "554 5.7.1 no SMTP service here" in result.failure.detail
    assert not result.failure.retryable


def test_smtp_421_greeting_is_transient(peer: Any) -> None:
    """A 421 greeting (busy): http.server_error, which is retryable."""
    port = peer(b"421-4.3.2 too busy\r\n421 4.3.2 try later\r\n")
    result = _run(f"smtp://127.0.0.1:{port}")
    assert result.failure is not None
    assert result.failure.kind.value == "http.server_error"
    assert "421 4.3.2 too busy 4.3.2 try later" in result.failure.detail
    assert result.failure.retryable


def test_smtp_on_an_ssh_port_is_malformed(peer: Any) -> None:
    """An SSH identification line where SMTP was expected: response.malformed."""
    port = peer(b"SSH-2.0-OpenSSH_9.2\r\n")
    result = _run(f"smtp://127.0.0.1:{port}")
    assert result.failure is not None
    assert result.failure.kind.value == "response.malformed"
    assert "does not speak SMTP" in result.failure.detail


def test_smtp_silent_server_is_a_read_timeout(peer: Any) -> None:
    """No greeting within the timeout: read.timeout."""
    port = peer(b"")
    result = _run(f"smtp://127.0.0.1:{port}", timeout=SHORT)
    assert result.failure is not None
    assert result.failure.kind.value == "read.timeout"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("smtp://127.0.0.1?starttls=maybe", "starttls='maybe'"),
        ("smtp://127.0.0.1?tls=1", "unknown option 'tls'"),
        ("ssh://127.0.0.1/home", "has no path"),
        ("ssh://127.0.0.1?starttls=off", "only smtp://"),
    ],
)
def test_bad_options_are_refused(url: str, message: str) -> None:
    """An option the scheme does not take is an error, not silently ignored."""
    with pytest.raises(InvalidTarget, match=message.replace("?", r"\?")):
        parse_target(url)


def test_default_ports() -> None:
    """ssh 22, smtp 25, smtps 465."""
    assert parse_target("ssh://h").port == 22
    assert parse_target("smtp://h").port == 25
    assert parse_target("smtps://h").port == 465


# -- diagnose -------------------------------------------------------------------------


def test_diagnose_renders_ssh_and_smtp(
    capsys: pytest.CaptureFixture[str], peer: Any, plain: SMTPReceiver
) -> None:
    """`tether diagnose` shows the banner in text and the phase in --json."""
    port = peer(b"SSH-2.0-Lab_1.2\r\n")
    code = main(["diagnose", "--json", f"ssh://127.0.0.1:{port}"])
    out = capsys.readouterr().out
    assert code == 0
    ssh = next(p for p in json.loads(out)["phases"] if p["name"] == "ssh")
    assert ssh["software"] == "Lab_1.2"
    code = main(["diagnose", f"smtp://127.0.0.1:{plain.port}"])
    out = capsys.readouterr().out
    assert code == 0
    assert "220 smtp.lab.test" in out


# -- the monitor ----------------------------------------------------------------------


def test_monitor_checks_ssh_and_smtp(
    checked: Callable[..., dict[str, Any]], peer: Any, starttls: SMTPReceiver, cafile: str
) -> None:
    """url: ssh:// and smtp:// monitors: [BANNER] conditions, tls.min_days_left, failures."""
    from tether.monitor.config import parse_config

    ssh = peer(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    old = peer(b"SSH-2.0-OpenSSH_7.4\r\n")
    busy = peer(b"421 4.3.2 try later\r\n")
    cfg = parse_config(
        f"""
monitors:
  - {{name: ssh, url: "ssh://127.0.0.1:{ssh}", conditions: ['[BANNER] contains "OpenSSH_9"']}}
  - {{name: old, url: "ssh://127.0.0.1:{old}", conditions: ['[BANNER] contains "OpenSSH_9"']}}
  - name: mail
    url: "smtp://127.0.0.1:{starttls.port}?starttls=required"
    tls: {{ca_file: "{cafile}", min_days_left: 14}}
  - name: mail_soon
    url: "smtp://127.0.0.1:{starttls.port}"
    tls: {{ca_file: "{cafile}", min_days_left: 36500}}
  - {{name: busy, url: "smtp://127.0.0.1:{busy}"}}
"""
    )

    found = checked(cfg)
    assert found["ssh"].ok, found["ssh"].detail
    assert not found["old"].ok
    assert "[BANNER] (SSH-2.0-OpenSSH_7.4) contains" in (found["old"].detail or "")
    assert found["mail"].ok, found["mail"].detail
    assert "smtp" in found["mail"].phases
    assert "tls" in found["mail"].phases
    assert not found["mail_soon"].ok
    assert "fewer than tls.min_days_left (36500)" in (found["mail_soon"].detail or "")
    assert found["busy"].kind == "http.server_error"
