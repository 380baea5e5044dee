"""``tether._hostport``: HOST:PORT read and written in one place, and the ports a scheme
implies.  Pure."""

from __future__ import annotations

from typing import Any

import pytest

from tether._hostport import (
    DEFAULT_PORTS,
    DNS_PORT,
    InvalidHostPort,
    ascii_host,
    bracketed,
    default_port,
    join_hostport,
    split_hostport,
)


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("127.0.0.1:8800", {}, ("127.0.0.1", 8800)),
        ("localhost:1", {}, ("localhost", 1)),
        ("[::1]:8800", {}, ("::1", 8800)),
        ("[fe80::1%eth0]:53", {}, ("fe80::1%eth0", 53)),
        ("127.0.0.1", {"default_port": 53}, ("127.0.0.1", 53)),
        ("[::1]", {"default_port": 53}, ("::1", 53)),
        ("127.0.0.1:0", {"allow_zero": True}, ("127.0.0.1", 0)),
        ("h:65535", {}, ("h", 65535)),
    ],
)
def test_split_hostport(text: str, options: dict[str, Any], expected: tuple[str, int]) -> None:
    """Host and port, IPv6 without its brackets, the default port when none is written."""
    assert split_hostport(text, **options) == expected


@pytest.mark.parametrize(
    ("text", "options", "problem"),
    [
        ("8800", {}, " has no host: write HOST:PORT, as in 127.0.0.1:8800"),
        (":8800", {}, " has no host, as in 127.0.0.1:8800"),
        ("localhost", {}, " has no port: write HOST:PORT, as in 127.0.0.1:8800"),
        ("::1", {"default_port": 53}, ": an IPv6 address needs brackets, as in [::1]:8800"),
        ("::1:53", {}, ": an IPv6 address needs brackets, as in [::1]:8800"),
        ("[::1]x", {}, " has something after ']' that is not :PORT"),
        ("h:0", {}, ": the port must be a number from 1 to 65535"),
        ("h:65536", {"allow_zero": True}, ": the port must be a number from 0 to 65535"),
        ("h:http", {}, ": the port must be a number from 1 to 65535"),
        ("h:²", {}, ": the port must be a number from 1 to 65535"),  # a digit, not ASCII
    ],
)
def test_split_hostport_says_what_is_wrong(
    text: str, options: dict[str, Any], problem: str
) -> None:
    """Each mistake has its own problem, which goes on from the value as each caller shows it."""
    with pytest.raises(InvalidHostPort) as caught:
        split_hostport(text, **options)
    assert caught.value.problem == problem
    assert caught.value.value == text
    assert str(caught.value) == f"{text!r}{problem}"


@pytest.mark.parametrize(
    ("host", "port", "written"),
    [
        ("127.0.0.1", 80, "127.0.0.1:80"),
        ("::1", 53, "[::1]:53"),
        ("example.com", None, "example.com"),
        ("::1", None, "[::1]"),
    ],
)
def test_join_hostport_reads_back(host: str, port: int | None, written: str) -> None:
    """An IPv6 host is written in brackets, and what is written splits back to the same."""
    assert join_hostport(host, port) == written
    if port is not None:
        assert split_hostport(written) == (host, port)


def test_bracketed() -> None:
    """Only an IPv6 address gets brackets."""
    assert bracketed("::1") == "[::1]"
    assert bracketed("127.0.0.1") == "127.0.0.1"
    assert bracketed("example.com") == "example.com"


def test_default_ports() -> None:
    """The ports a scheme implies, in any case; tcp and tls imply none."""
    assert (default_port("http"), default_port("HTTPS"), default_port("dns")) == (80, 443, 53)
    assert (default_port("ws"), default_port("wss")) == (80, 443)
    assert default_port("tcp") is None
    assert default_port("tls") is None
    assert DEFAULT_PORTS["dns"] == DNS_PORT == 53
    with pytest.raises(TypeError):
        DEFAULT_PORTS["gopher"] = 70


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("999.1.1.1:80", "'999.1.1.1' is not an IP address, and a name cannot end in a number"),
        ("10.0.0.256:80", "'10.0.0.256' is not an IP address"),
        ("[foo]:80", "'foo' is not an IPv6 address"),
        ("a..b:80", "the label '' must have 1 to 63 characters"),
        ("-a.example:80", "the label '-a' starts or ends with '-'"),
        ("a b.example:80", "the label 'a b' has characters a name cannot have"),
        (
            "a" * 64 + ".example:80",
            "the label 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…' must have",
        ),
        (".".join(["a" * 63] * 4) + ":80", "the name has 255 characters; the most is 253"),
    ],
)
def test_split_hostport_checks_the_host(text: str, problem: str) -> None:
    """The host is an IP address or a name DNS can carry: a mistyped address, an empty
    or over-long label and an over-long name are refused, saying which."""
    with pytest.raises(InvalidHostPort) as caught:
        split_hostport(text)
    assert problem in caught.value.problem


@pytest.mark.parametrize(
    ("host", "written"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com."),
        ("_dmarc.example", "_dmarc.example"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("::1", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        (".".join(["a" * 63] * 3) + "." + "b" * 61, ".".join(["a" * 63] * 3) + "." + "b" * 61),
    ],
)
def test_ascii_host(host: str, written: str) -> None:
    """An address as written, a name in lower case or IDNA; 253 characters are allowed."""
    assert ascii_host(host) == written
