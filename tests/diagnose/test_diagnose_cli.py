"""`tether diagnose` end to end: every lab scenario through the CLI, options, output, exit codes.

The CLI runs in-process (``tether.cli.main``) against a lab on loopback; DNS
names go to the lab's resolver, never the system's.  The command line for each
scenario is the one benchmarks/diagnose_table.py documents in docs/diagnose.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.bench_runs import bench_module
from tether._catalogue import CATALOGUE, hint_for
from tether._kinds import Kind
from tether.cli import main
from tether.lab import SPECS, Lab
from tether.probe import PHASES

ROOT = Path(__file__).resolve().parents[2]


table = bench_module("diagnose_table")

# scenario -> (kind, the failure's layer, the phase that failed); None for healthy.
EXPECTED: dict[str, tuple[str, str, str] | None] = {
    "healthy": None,
    "tls_ok": None,
    "latency": None,
    "stall_one_in_ten": None,  # one request: not the tenth
    "load_latency": None,
    "refused": ("connect.refused", "connect", "connect"),
    "blackhole": ("connect.timeout", "connect", "connect"),
    "reset_on_accept": ("connection.reset", "request", "http"),
    "reset_mid_head": ("connection.reset", "request", "http"),
    "reset_after_head": ("connection.reset", "request", "http"),
    "reset_mid_body": ("connection.reset", "request", "http"),
    "close_no_response": ("connection.closed", "request", "http"),
    # The probe opens a new connection for each redirect, so none is reused.
    "reset_on_reuse": None,
    "close_on_reuse": None,
    "truncated_body": ("response.truncated", "response", "http"),
    "cut_chunked": ("response.truncated", "response", "http"),
    "stall_headers": ("read.timeout", "response", "http"),
    "slow_drip": ("deadline.exceeded", "policy", "http"),
    "garbage": ("response.malformed", "response", "http"),
    "bad_header": ("response.malformed", "response", "http"),
    "bad_chunk_size": ("response.malformed", "response", "http"),
    "bad_chunk_footer": ("response.malformed", "response", "http"),
    "bad_length": ("response.malformed", "response", "http"),
    # h11's rules read both framings as chunked (RFC 9112 allows it) and take any HTTP/x.y.
    "length_and_chunked": None,
    "bad_version": None,
    "conflicting_length": ("response.malformed", "response", "http"),
    # The probe reads the body as sent, without decoding it, and opens a new
    # connection for each redirect; h11's rules limit a head's size, not its fields.
    "bad_gzip": None,
    "surplus_body": None,
    "too_many_headers": None,
    "long_header": ("response.too_large", "response", "http"),
    "long_status_line": ("response.too_large", "response", "http"),
    "long_chunk_line": ("response.too_large", "response", "http"),
    "long_trailer": ("response.too_large", "response", "http"),
    "http_404": ("http.client_error", "http", "http"),
    "http_429": ("http.rate_limited", "http", "http"),
    "http_503": ("http.server_error", "http", "http"),
    "redirect_loop": ("http.redirect_loop", "http", "http"),
    "redirect_scheme_loop": ("http.redirect_loop", "http", "http"),
    "tls_expired": ("tls.expired", "tls", "tls"),
    "tls_not_yet_valid": ("tls.expired", "tls", "tls"),
    "tls_expired_intermediate": ("tls.expired", "tls", "tls"),
    "tls_expired_root": ("tls.expired", "tls", "tls"),
    "tls_self_signed": ("tls.self_signed", "tls", "tls"),
    "tls_unknown_ca": ("tls.untrusted", "tls", "tls"),
    "tls_wrong_host": ("tls.hostname_mismatch", "tls", "tls"),
    "tls_to_plain": ("tls.protocol", "tls", "tls"),
    "plain_to_tls": ("connection.closed", "request", "http"),
    "tls_version": ("tls.protocol", "tls", "tls"),
    "tls_stall": ("tls.timeout", "tls", "tls"),
    "tls_weak_key": ("tls.protocol", "tls", "tls"),
    "tls_no_cipher": ("tls.protocol", "tls", "tls"),
    # TLS 1.3: the server's alert arrives after the client's handshake is done.
    "tls_client_cert": ("tls.protocol", "tls", "http"),
    "tls_eof": ("tls.protocol", "tls", "tls"),
    "tls_no_intermediate": ("tls.untrusted", "tls", "tls"),
    "proxy_refused": ("proxy.unreachable", "proxy", "proxy"),
    "proxy_auth": ("proxy.auth_required", "proxy", "proxy"),
    "proxy_bad_gateway": ("proxy.rejected", "proxy", "proxy"),
    "proxy_forbidden": ("proxy.rejected", "proxy", "proxy"),
    "proxy_blackhole": ("proxy.unreachable", "proxy", "proxy"),
    "dns_nxdomain": ("dns.not_found", "dns", "dns"),
    "dns_nodata": ("dns.no_address", "dns", "dns"),
    "dns_servfail": ("dns.unavailable", "dns", "dns"),
    "dns_refused": ("dns.unavailable", "dns", "dns"),
    "dns_dangling_cname": ("dns.no_address", "dns", "dns"),
    "dns_silent": ("dns.timeout", "dns", "dns"),
    # diagnose sends no upload body, so the server's hang-up is a plain close.
    "upload_early_close": ("connection.closed", "request", "http"),
    # nor to a server that stops reading: its small request goes in, no answer comes.
    "upload_stall": ("read.timeout", "response", "http"),
    # pinned to the 503 half by the lab's clock; the healthy half is tested below.
    "flapping": ("http.server_error", "http", "http"),
    "grpc_serving": None,
    "grpc_not_serving": ("grpc.not_serving", "app", "grpc"),
    "grpc_unimplemented": ("grpc.status", "app", "grpc"),
    "grpc_hang": ("read.timeout", "response", "grpc"),
    "grpc_http1": ("response.malformed", "response", "grpc"),
    # A browser check's faults (tests/lab/test_lab_browser.py): diagnose gets each page, 200.
    "page_ok": None,
    "page_script_error": None,
    "page_never_renders": None,
    "page_broken_asset": None,
    "dnssec_ok": None,
    **dict.fromkeys(
        ("dnssec_bogus", "dnssec_rollover", "dnssec_wrong_anchor"),
        ("dns.dnssec_bogus", "dns", "dnssec"),
    ),
    **dict.fromkeys(
        ("dnssec_expired", "dnssec_not_yet_valid"), ("dns.dnssec_expired", "dns", "dnssec")
    ),
    **dict.fromkeys(
        ("dnssec_insecure", "dnssec_unsigned", "dnssec_nodata", "dnssec_outside"),
        ("dns.dnssec_insecure", "dns", "dnssec"),
    ),
}

# Scenarios whose failure the probe sees but does not classify as expected yet.
CLASSIFY_GAPS: dict[str, str] = {}

_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "FORCE_COLOR", "NO_COLOR")


def _clean_env(mp: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        mp.delenv(name, raising=False)
        mp.delenv(name.lower(), raising=False)
    for name in ("TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        mp.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _no_proxy_or_forced_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's proxy or colour settings must not leak into the lab's verdicts."""
    _clean_env(monkeypatch)


class Clock:
    """The flapping server's clock: healthy while ``now // period`` is even."""

    def __init__(self) -> None:
        self.now = table.FLAP_PERIOD

    def __call__(self) -> float:
        return float(self.now)


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def lab(clock: Clock) -> Iterator[Lab]:
    with table.make_lab(clock) as running:
        yield running


@pytest.fixture(scope="module")
def verdicts(lab: Lab, clock: Clock) -> dict[str, tuple[int, dict[str, Any]]]:
    """Every scenario diagnosed once with its documented command line: (exit code, JSON)."""
    clock.now = table.FLAP_PERIOD
    found = {}
    with pytest.MonkeyPatch.context() as mp:
        _clean_env(mp)
        for s in lab:
            code, results = table.run_tether(table.tether_args(lab, s))
            assert len(results) == 1, s.name
            found[s.name] = (code, results[0])
    return found


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_uvloop_gives_every_scenario_the_same_verdict(
    lab: Lab, clock: Clock, verdicts: dict[str, tuple[int, dict[str, Any]]]
) -> None:
    """On uvloop's event loop (the monitor's, where installed) every lab scenario gets the
    verdict it gets on asyncio's: kind, layer and detail, the same phases, the same exit
    code.  Its transports raise their own exceptions for resets, TLS failures and
    timeouts, and the probe must read them alike."""
    uvloop = pytest.importorskip("uvloop")
    clock.now = table.FLAP_PERIOD
    found = {}
    with pytest.MonkeyPatch.context() as mp:
        _clean_env(mp)
        policy = asyncio.get_event_loop_policy()
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        try:
            assert asyncio.run(_loop_type()).__module__.startswith("uvloop")
            for s in lab:
                code, (result,) = table.run_tether(table.tether_args(lab, s))
                found[s.name] = (code, table.tether_cell(result), names(result))
        finally:
            asyncio.set_event_loop_policy(policy)
    expected = {
        name: (code, table.tether_cell(result), names(result))
        for name, (code, result) in verdicts.items()
    }
    assert found == expected


def diagnose(
    capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[dict[str, Any]], str]:
    """Run `tether diagnose --json ARGS`: exit code, the JSON objects, stderr."""
    code = main(["diagnose", "--json", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def text(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["diagnose", *args])
    out, err = capsys.readouterr()
    assert not err
    return code, out


def names(result: dict[str, Any]) -> list[str]:
    return [p["name"] for p in result["phases"]]


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")


# --- every scenario ---------------------------------------------------------------------------


def test_every_lab_scenario_has_an_expectation() -> None:
    """EXPECTED covers exactly the lab's scenarios, so a new one cannot go untested."""
    assert set(EXPECTED) == {name for name, *_ in SPECS}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=[pytest.mark.xfail(reason=CLASSIFY_GAPS[name], strict=True)]
            if name in CLASSIFY_GAPS
            else [],
        )
        for name, *_ in SPECS
    ],
)
def test_scenario_verdict(name: str, verdicts: dict[str, tuple[int, dict[str, Any]]]) -> None:
    """The scenario's verdict has the expected kind and layer, and the walk stops at that phase."""
    code, result = verdicts[name]
    expected = EXPECTED[name]
    if expected is None:
        assert (code, result["ok"], result["failure"]) == (0, True, None), result["failure"]
        assert all(p["ok"] for p in result["phases"])
        if name.startswith("grpc_"):
            assert result["phases"][-1]["serving_status"] == "SERVING"
            return
        if name.startswith("dnssec_"):
            assert result["phases"][-1]["name"] == "dnssec"
            assert result["phases"][-1]["secure"] is True
            return
        assert result["phases"][-1]["name"] == "http"
        assert result["phases"][-1]["status"] == 200
        return
    kind, layer, phase = expected
    failure = result["failure"]
    assert (failure["kind"], failure["layer"]) == (kind, layer), failure["detail"]
    assert code == 1
    assert result["ok"] is False
    last = result["phases"][-1]
    assert (last["name"], last["ok"], last["kind"]) == (phase, False, kind)
    assert all(p["ok"] for p in result["phases"][:-1])


@pytest.mark.parametrize(
    ("half", "kind"), [(0, None), (1, "http.server_error")], ids=["healthy-half", "503-half"]
)
def test_flapping_follows_the_lab_clock(
    half: int, kind: str | None, lab: Lab, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    """The flapping scenario is healthy in one half of its period and a 503 in the other."""
    clock.now = half * table.FLAP_PERIOD + 1
    try:
        code, (result,), _ = diagnose(capsys, lab["flapping"].url, "--timeout", "1")
    finally:
        clock.now = table.FLAP_PERIOD
    assert (result["failure"] or {}).get("kind") == kind
    assert code == (0 if kind is None else 1)
    assert result["phases"][-1]["status"] == (200 if kind is None else 503)


def test_doc_table_matches_a_fresh_run(verdicts: dict[str, tuple[int, dict[str, Any]]]) -> None:
    """docs/diagnose.md's tether column is what tether diagnose says today (ports aside)."""
    doc = (ROOT / "docs" / "diagnose.md").read_text()
    body = doc[doc.index(table.BEGIN) : doc.index(table.END)]
    rows = {}
    for line in body.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 3 and cells[0] not in ("scenario", "---"):
            rows[cells[0]] = cells[2]
    assert set(rows) == set(verdicts)
    stale = {
        name: (rows[name], table.tether_cell(result))
        for name, (_, result) in verdicts.items()
        if rows[name] != table.tether_cell(result)
    }
    assert not stale, (
        "docs/diagnose.md is stale: python benchmarks/diagnose_table.py --write docs/diagnose.md"
    )


# --- the healthy path -------------------------------------------------------------------------


def test_healthy_https_with_the_lab_ca(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """HTTPS trusted through --cacert: exit 0, every phase ok, TLS version and the chain shown."""
    code, (result,), err = diagnose(
        capsys, lab["tls_ok"].url, "--cacert", lab.ca_file, "--timeout", "1"
    )
    assert (code, err, result["ok"], result["failure"]) == (0, "", True, None)
    assert names(result) == list(PHASES)
    assert all(p["ok"] for p in result["phases"])
    tls = result["phases"][4]
    assert tls["verified"] is True
    assert tls["version"].startswith("TLSv1.")
    leaf = tls["chain"][0]
    assert {"subject", "issuer", "sans", "not_after", "days_left"} <= set(leaf)
    assert "tether lab CA" in leaf["issuer"]
    assert leaf["subject"] != leaf["issuer"]
    assert "127.0.0.1" in leaf["sans"]
    assert leaf["days_left"] > 14
    assert result["warnings"] == []


def test_without_the_ca_the_lab_certificate_is_untrusted(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same URL without --cacert is tls.untrusted: the lab CA is trusted only when given."""
    code, (result,), _ = diagnose(capsys, lab["tls_ok"].url, "--timeout", "1")
    assert (code, result["failure"]["kind"]) == (1, "tls.untrusted")


def test_method_is_sent(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """-X head sends HEAD: the answer has no body to read."""
    code, (result,), _ = diagnose(capsys, lab["healthy"].url, "-X", "head", "--timeout", "1")
    http = result["phases"][-1]
    assert (code, http["method"], http["status"], http["size"]) == (0, "HEAD", 200, 0)


# --- exit codes and usage errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["--timeout", "0"], "--timeout 0"),
        (["-H", "novalue"], "-H 'novalue'"),
        (["-H", "Bad@Name: x"], "-H 'Bad@Name: x': 'Bad@Name' is not a header name"),
        (["-H", "X-Name: café"], "-H 'X-Name: café': the value of X-Name is not ASCII"),
        (["--resolver", "notanip"], "--resolver 'notanip'"),
        (["--resolver", "127.0.0.1:99999"], "--resolver '127.0.0.1:99999'"),
        (["--resolver", "::1:5353"], "--resolver '::1:5353': an IPv6 address needs brackets"),
        (["--resolver", "[::1]5353"], "--resolver '[::1]5353' has something after ']'"),
        (["--cacert", "/nonexistent/ca.pem"], "--cacert '/nonexistent/ca.pem'"),
        (["-X", "GE T"], "-X 'GE T'"),
    ],
)
def test_bad_option_exits_2_with_one_line(
    args: list[str], mentions: str, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad option: exit 2, nothing on stdout, one readable stderr line naming it."""
    assert main(["diagnose", lab["healthy"].url, *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"tether diagnose: {mentions}")
    assert "Traceback" not in err


@pytest.mark.parametrize("args", [["--timeout", "abc"], ["-4", "-6"], []])
def test_argparse_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Malformed values, conflicting flags and a missing URL are argparse's usage errors: exit 2."""
    target = ["http://127.0.0.1:9/"] if args else []
    with pytest.raises(SystemExit) as exited:
        main(["diagnose", *target, *args])
    assert exited.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_exit_code_is_1_when_any_target_fails(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """Healthy alone exits 0; with one refused target beside it, 1, results in the order given."""
    assert diagnose(capsys, lab["healthy"].url, "--timeout", "1")[0] == 0
    code, results, _ = diagnose(capsys, lab["refused"].url, lab["healthy"].url, "--timeout", "1")
    assert code == 1
    assert [r["target"] for r in results] == [lab["refused"].url, lab["healthy"].url]
    assert [r["ok"] for r in results] == [False, True]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("htp:/x", "unsupported scheme 'htp'"),
        ("http:/x", "the URL needs '//' after 'http:'"),
        ("http://", "the URL has no host"),
        ("http://host:99999/", "the port '99999' is not a number from 1 to 65535"),
        ("http://host:0/", "the port 0 is not a number from 1 to 65535"),
        ("http://[::1/", "the URL cannot be parsed"),
        ("ftp://host/", "unsupported scheme 'ftp'"),
        ("tcp://host", "a tcp:// target needs a port"),
        ("http://bad-.example/", "the label 'bad-' starts or ends with '-'"),
    ],
)
def test_invalid_url_is_a_diagnosis(
    url: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid URL exits 1 with url.invalid naming the exact problem; nothing is contacted."""
    code, (result,), err = diagnose(capsys, url)
    assert (code, err) == (1, "")
    failure = result["failure"]
    assert (failure["kind"], failure["layer"]) == ("url.invalid", "url")
    assert problem in failure["detail"]
    assert [(p["name"], p["ok"]) for p in result["phases"]] == [("url", False)]


# --- targets: stdin, host:port, tcp://, tls:// ------------------------------------------------


def test_targets_from_stdin(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-` reads one target a line (blank lines skipped), mixed with targets on the command line."""
    lines = f"{lab['healthy'].url}\n\n  {lab['refused'].url}  \n{lab['http_404'].url}\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    code, results, _ = diagnose(capsys, lab["tls_ok"].url, "-", "--timeout", "1")
    assert code == 1
    assert [r["target"] for r in results] == [
        lab["tls_ok"].url,
        lab["healthy"].url,
        lab["refused"].url,
        lab["http_404"].url,
    ]
    kinds = [(r["failure"] or {}).get("kind") for r in results]
    assert kinds == ["tls.untrusted", None, "connect.refused", "http.client_error"]


@contextlib.contextmanager
def _silent_server() -> Iterator[tuple[str, list[int]]]:
    """A loopback server that reads and never answers (the lab's ``stall_headers``), and
    counts its connections open at once: ``(URL, [open now, most at once])``."""
    listener = socket.create_server(("127.0.0.1", 0))
    counts = [0, 0]
    lock = threading.Lock()

    def hold(conn: socket.socket) -> None:
        with lock:
            counts[0] += 1
            counts[1] = max(counts)
        with conn, contextlib.suppress(OSError):
            while conn.recv(4096):
                pass
        with lock:
            counts[0] -= 1

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=hold, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/", counts
    finally:
        listener.close()


def test_stdin_targets_are_probed_concurrently(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three targets that never answer are all waited on at once: the server sees three
    connections open together.  One after another, each would time out (2 s) and close
    before the next opened.  Counted at the server, not timed: a loaded machine cannot
    move it."""
    with _silent_server() as (url, counts):
        lines = "".join(f"{url}?n={i}\n" for i in range(3))
        monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
        code, results, _ = diagnose(capsys, "-", "--timeout", "2")
    assert code == 1
    assert [r["failure"]["kind"] for r in results] == ["read.timeout"] * 3
    assert counts[1] == 3, counts


def test_empty_stdin_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-` with nothing on standard input exits 2 with one line."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n  \n"))
    assert main(["diagnose", "-"]) == 2
    assert capsys.readouterr().err == "tether diagnose: no targets on standard input\n"


@pytest.mark.parametrize("form", ["{host}:{port}", "tcp://{host}:{port}"])
def test_host_port_is_a_tcp_check(form: str, lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """host:port and tcp:// stop after connect: ok where something listens, refused where not."""
    healthy, refused = lab["healthy"], lab["refused"]
    code, results, _ = diagnose(
        capsys,
        form.format(host=healthy.host, port=healthy.port),
        form.format(host=refused.host, port=refused.port),
        "--timeout",
        "1",
    )
    assert code == 1
    up, down = results
    assert up["target"] == f"tcp://{healthy.host}:{healthy.port}"
    assert (up["ok"], names(up)) == (True, ["url", "proxy", "dns", "connect"])
    assert down["failure"]["kind"] == "connect.refused"
    assert names(down) == ["url", "proxy", "dns", "connect"]


def test_tls_scheme_stops_after_the_handshake(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """tls://host:port does the handshake and no HTTP; a bad certificate is still named."""
    ok, expired = lab["tls_ok"], lab["tls_expired"]
    code, (good, bad), _ = diagnose(
        capsys,
        f"tls://{ok.host}:{ok.port}",
        f"tls://{expired.host}:{expired.port}",
        "--cacert",
        lab.ca_file,
        "--timeout",
        "1",
    )
    assert code == 1
    assert (good["ok"], names(good)) == (True, ["url", "proxy", "dns", "connect", "tls"])
    assert good["phases"][-1]["verified"] is True
    assert bad["failure"]["kind"] == "tls.expired"
    assert names(bad)[-1] == "tls"


def test_insecure_goes_on_but_still_reports(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """--insecure on a self-signed certificate reaches the http phase; the verdict stays."""
    code, (result,), _ = diagnose(
        capsys, lab["tls_self_signed"].url, "--insecure", "--cacert", lab.ca_file, "--timeout", "1"
    )
    assert code == 1
    assert result["failure"]["kind"] == "tls.self_signed"
    tls, http = result["phases"][-2:]
    assert (tls["name"], tls["ok"], tls["verified"]) == ("tls", False, False)
    assert tls["chain"][0]["subject"] == tls["chain"][0]["issuer"]
    assert (http["name"], http["ok"], http["status"]) == ("http", True, 200)
    assert any("--insecure" in w for w in result["warnings"])


def test_proxy_option_overrides_the_environment(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTPS_PROXY is used when set; --proxy '' switches it off."""
    monkeypatch.setenv("HTTPS_PROXY", lab["proxy_refused"].proxy or "")
    url = lab["tls_ok"].url
    code, (result,), _ = diagnose(capsys, url, "--cacert", lab.ca_file, "--timeout", "1")
    assert (code, result["failure"]["kind"]) == (1, "proxy.unreachable")
    assert result["phases"][1]["source"] == "HTTPS_PROXY"
    code, (result,), _ = diagnose(
        capsys, url, "--cacert", lab.ca_file, "--timeout", "1", "--proxy", ""
    )
    assert (code, result["ok"]) == (0, True)


# --- credentials ------------------------------------------------------------------------------


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_credentials_never_appear(
    as_json: bool, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """A password in a target or proxy URL appears nowhere in the output, healthy or failing."""
    healthy, refused, auth = lab["healthy"], lab["refused"], lab["proxy_auth"]
    proxy = (auth.proxy or "").replace("http://", "http://puser:s3cret-proxy@")
    runs = [
        [f"http://user:s3cret-pw@{healthy.host}:{healthy.port}/"],
        [f"http://user:s3cret-pw@{refused.host}:{refused.port}/"],
        [f"http://user:s3cret-pw@{healthy.host}:99999/"],
        ["user:s3cret-pw@somewhere/x"],
        [auth.url, "--proxy", proxy, "--cacert", lab.ca_file],
    ]
    for args in runs:
        main(["diagnose", *args, "--timeout", "1", *(["--json"] if as_json else [])])
        out, err = capsys.readouterr()
        assert "s3cret" not in out + err, args
        assert "***" in out, args


def test_credentials_are_noted(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """The url phase says credentials were present, and a warning says they are sent."""
    healthy = lab["healthy"]
    url = f"http://user:pw@{healthy.host}:{healthy.port}/"
    code, (result,), _ = diagnose(capsys, url, "--timeout", "1")
    assert code == 0
    assert result["target"] == f"http://user:***@{healthy.host}:{healthy.port}/"
    assert result["phases"][0]["credentials"] == "present (redacted)"
    assert any("credentials" in w for w in result["warnings"])


# --- the JSON schema and the text output ------------------------------------------------------


def test_json_schema(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """Each object has exactly the documented top-level and failure fields, phases in order."""
    urls = [lab[n].url for n in ("healthy", "refused", "tls_expired", "http_503")]
    code, results, _ = diagnose(capsys, *urls, "--cacert", lab.ca_file, "--timeout", "1")
    assert code == 1
    assert len(results) == 4
    for result in results:
        assert set(result) == {"target", "ok", "failure", "phases", "warnings"}
        assert isinstance(result["ok"], bool)
        assert result["ok"] is (result["failure"] is None)
        if result["failure"] is not None:
            failure = result["failure"]
            assert set(failure) == {"kind", "layer", "detail", "hint", "retryable"}
            assert failure["kind"] in {k.value for k in Kind}
            assert failure["hint"] == hint_for(Kind(failure["kind"]), failure["detail"])
            assert isinstance(failure["retryable"], bool)
        order = [PHASES.index(name) for name in names(result)]
        assert order == sorted(order)
        for phase in result["phases"]:
            assert isinstance(phase["ok"], bool)
            assert isinstance(phase["ms"], float | int)
            assert phase["ms"] >= 0
            assert ("kind" in phase) is (not phase["ok"])
        assert isinstance(result["warnings"], list)


def test_text_output_of_a_failure(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """Plain text names each phase, marks the failed one, and prints the catalogue's fixes."""
    code, out = text(capsys, lab["tls_expired"].url, "--cacert", lab.ca_file, "--timeout", "1")
    assert code == 1
    assert "\x1b" not in out
    lines = out.splitlines()
    assert lines[0] == lab["tls_expired"].url
    marks = {line.split()[0]: line.split()[1] for line in lines[1:6]}
    assert marks == {"url": "ok", "proxy": "ok", "dns": "ok", "connect": "ok", "tls": "FAILED"}
    verdict = next(line for line in lines if line.startswith("tls.expired"))
    assert "tls layer" in verdict
    fixes = CATALOGUE[Kind.TLS_EXPIRED].fixes
    at = lines.index("How to fix it:")
    assert lines[at + 1 : at + 1 + len(fixes)] == [f"  {n}. {f}" for n, f in enumerate(fixes, 1)]


def test_text_output_of_a_healthy_target(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """A healthy target's text has every phase ok and ends with 'healthy in'."""
    code, out = text(capsys, lab["healthy"].url, "--timeout", "1")
    assert code == 0
    assert "\x1b" not in out
    assert "FAILED" not in out
    assert [line.split()[0] for line in out.splitlines()[1:-1]] == [
        "url",
        "proxy",
        "dns",
        "connect",
        "http",
    ]
    assert out.splitlines()[-1].startswith("healthy in ")


def _on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    """Run ``args`` with a pseudo-terminal as stdout and stderr: exit code and output."""
    master, slave = os.openpty()
    try:
        done = subprocess.run(args, stdout=slave, stderr=slave, env=env, timeout=30, check=False)
    finally:
        os.close(slave)
    chunks = []
    with contextlib.suppress(OSError):  # EIO once the terminal's other end is closed
        while chunk := os.read(master, 65536):
            chunks.append(chunk)
    os.close(master)
    return done.returncode, b"".join(chunks)


def test_colour_on_a_terminal(lab: Lab) -> None:
    """On a terminal the output has colour; with NO_COLOR, or piped, it has none."""
    env = {k: v for k, v in os.environ.items() if k not in _ENV} | {"TERM": "xterm-256color"}
    args = [sys.executable, "-m", "tether.cli", "diagnose", lab["refused"].url, "--timeout", "1"]
    code, coloured = _on_a_terminal(args, env)
    assert code == 1
    assert b"\x1b[" in coloured
    assert b"connect.refused" in coloured
    code, plain = _on_a_terminal(args, env | {"NO_COLOR": "1"})
    assert code == 1
    assert b"connect.refused" in plain
    assert b"\x1b" not in plain
    piped = subprocess.run(args, capture_output=True, env=env, timeout=30, check=False)
    assert b"connect.refused" in piped.stdout
    assert b"\x1b" not in piped.stdout


def test_force_colour_when_piped(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """FORCE_COLOR colours even piped output; the text under the colour is unchanged."""
    _, plain = text(capsys, lab["refused"].url, "--timeout", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")
    _, coloured = text(capsys, lab["refused"].url, "--timeout", "1")
    assert "\x1b[" in coloured

    def untimed(output: str) -> str:  # bars, times and their padding differ from run to run
        return re.sub(r" +", " ", re.sub(r"[█·]+|\d+\.\d+ m?s", "", output))

    assert untimed(re.sub(r"\x1b\[[0-9;]*m", "", coloured)) == untimed(plain)


_LOADED = """
import sys
from tether.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --version
    code = exc.code
print(sorted({m.split('.')[0] for m in sys.modules} & set(HEAVY)), code, file=sys.stderr)
"""
HEAVY = ("asyncio", "cryptography", "rich", "dns", "h11", "requests", "urllib3")


@pytest.mark.parametrize(
    ("args", "loaded"),
    [
        (["--version"], "[]"),
        (["diagnose", "{tls_ok}", "--cacert", "{ca}"], "['asyncio']"),
        (["diagnose", "{tls_ok}", "--cacert", "{ca}", "--json"], "['asyncio']"),
    ],
    ids=["version", "diagnose", "diagnose-json"],
)
def test_the_cli_imports_lazily(args: list[str], loaded: str, lab: Lab) -> None:
    """--version loads no heavy module; a piped HTTPS diagnose, neither rich nor cryptography
    (nor h11: the probe reads by h11's rules without it)."""
    argv = [a.format(tls_ok=lab["tls_ok"].url, ca=lab.ca_file) for a in args]
    env = {k: v for k, v in os.environ.items() if k not in _ENV}
    done = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{_LOADED}", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == f"{loaded} 0"


# --- DNS: the lab resolver, IDNA and the RFC 8305 race ----------------------------------------


@needs_ipv6
def test_one_family_failing_is_a_warning(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """ok.lab.test is ::1 and 127.0.0.1, only IPv4 listens: healthy, IPv6 tried first, a warning."""
    url = f"http://ok.lab.test:{lab['healthy'].port}/"
    code, (result,), _ = diagnose(capsys, url, "--resolver", lab.resolver, "--timeout", "1")
    assert code == 0
    dns, connect = result["phases"][2:4]
    assert dns["resolver"] == lab.resolver
    assert {(a["type"], a["address"]) for a in dns["answers"]} == {
        ("AAAA", "::1"),
        ("A", "127.0.0.1"),
    }
    attempts = [(a["family"], a["outcome"]) for a in connect["attempts"]]
    assert attempts == [("IPv6", "connect.refused"), ("IPv4", "connected")]
    assert connect["address"] == "127.0.0.1"
    assert len(result["warnings"]) == 1
    assert result["warnings"][0].startswith("IPv6 failed (connect.refused) while IPv4 worked")


@needs_ipv6
@pytest.mark.parametrize(
    ("name", "flag", "kind", "queried", "families"),
    [
        ("ok", "-4", None, {"A"}, ["IPv4"]),
        ("ok", "-6", "connect.refused", {"AAAA"}, ["IPv6"]),
        ("v4", None, None, {"A", "AAAA"}, ["IPv4"]),
        ("v6", None, "connect.refused", {"A", "AAAA"}, ["IPv6"]),
        ("v4", "-6", "dns.no_address", {"AAAA"}, None),
    ],
)
def test_address_families(
    name: str,
    flag: str | None,
    kind: str | None,
    queried: set[str],
    families: list[str] | None,
    lab: Lab,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """-4/-6 ask for one record type and try one family; a name of one family tries only it."""
    url = f"http://{name}.lab.test:{lab['healthy'].port}/"
    args = [url, "--resolver", lab.resolver, "--timeout", "1", *([flag] if flag else [])]
    code, (result,), _ = diagnose(capsys, *args)
    assert (result["failure"] or {}).get("kind") == kind
    assert code == (0 if kind is None else 1)
    assert set(result["phases"][2]["rcode"]) == queried
    assert result["warnings"] == []
    if families is None:
        assert names(result)[-1] == "dns"
        assert "AAAA" in result["failure"]["detail"]
    else:
        assert [a["family"] for a in result["phases"][3]["attempts"]] == families


def test_international_name_is_asked_in_idna(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """A Unicode host is shown as given and asked for in its IDNA form (NXDOMAIN at the lab)."""
    url = f"http://bücher.lab.test:{lab['healthy'].port}/"
    code, (result,), _ = diagnose(capsys, url, "--resolver", lab.resolver, "--timeout", "1")
    assert code == 1
    first = result["phases"][0]
    assert (first["host"], first["idna"]) == ("bücher.lab.test", "xn--bcher-kva.lab.test")
    assert result["failure"]["kind"] == "dns.not_found"
    assert "xn--bcher-kva.lab.test" in result["failure"]["detail"]


_DEAD_RESOLVER_SETUP = """set -e
ip link set lo up
mount --bind "$RESOLV" /etc/resolv.conf
exec "$PYTHON" -c "from tether.cli import main; raise SystemExit(main(['diagnose', \
'http://ok.lab.test/', '--json', '--timeout', '2']))"
"""


@pytest.mark.netns
def test_an_unreachable_resolver_is_unavailable(tmp_path: Path) -> None:
    """In a namespace whose resolv.conf names 127.0.0.53 with nothing listening (the lab's
    dns_unreachable), the system resolver is refused at once: dns.unavailable, not the
    dns.timeout that glibc's default 5 s wait for a silent one would give within 2 s."""
    from tether.lab._matrix import netns_available

    why_not = netns_available()
    if why_not is not None:
        if os.environ.get("TETHER_REQUIRE_NETNS"):
            pytest.fail(f"TETHER_REQUIRE_NETNS is set but no namespace can be made: {why_not}")
        pytest.skip(f"no private network namespace here: {why_not}")
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.53\n")
    done = subprocess.run(
        ["unshare", "-rmn", "sh", "-c", _DEAD_RESOLVER_SETUP],
        env={**os.environ, "PYTHON": sys.executable, "RESOLV": str(resolv)},
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failure"]["kind"] == "dns.unavailable"
    assert result["phases"][-1] == {**result["phases"][-1], "name": "dns", "ok": False}
