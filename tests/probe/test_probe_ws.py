"""``ws://`` and ``wss://`` probes against real servers on loopback.

The WebSocket peers are aiohttp servers the tests start (an echo, one that closes with
1011, one that upgrades and never replies, a plain page that answers 200), over TLS with a
trustme certificate for ``wss://``.  The peers no real server can be told to be (one
that answers 101 with a wrong ``Sec-WebSocket-Accept``, one that never answers the
upgrade) are raw asyncio servers that write exactly those bytes, and the proxy is a small
CONNECT tunnel, since the lab's proxies only refuse.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trustme
from aiohttp import WSMsgType, web

from tether.cli import main
from tether.probe import ProbeOptions, ProbeResult, probe
from tether.probe._target import parse_target

pytest.importorskip("wsproto")

SHORT = 0.5
"""The timeout for peers that never answer: the probe waits this long, no more."""
T = TypeVar("T")


class _Loop:
    """An event loop in a thread, for the servers of a module's tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


async def _echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("chat",))
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str("pong" if msg.data == "ping" else msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data[::-1])
    return ws


async def _oops(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.receive()
    await ws.close(code=1011, message=b"backend down")
    return ws


async def _mute(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for _ in ws:  # reads every message, answers none
        pass
    return ws


async def _page(request: web.Request) -> web.Response:
    return web.Response(text="<html>hello</html>", content_type="text/html")


async def _bad_accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    await reader.read()
    writer.close()


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")  # some other server on the port
    await reader.read()
    writer.close()


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # reads the upgrade request and never answers it
    writer.close()


async def _tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A CONNECT proxy to loopback ports: 200, then bytes both ways."""
    head = await reader.readuntil(b"\r\n\r\n")
    method, target, _ = head.split(b" ", 2)
    host, _, port = target.decode().rpartition(":")
    if method != b"CONNECT" or host != "127.0.0.1":
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        writer.close()
        return
    up_reader, up_writer = await asyncio.open_connection(host, int(port))
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        while chunk := await src.read(65536):
            dst.write(chunk)
        dst.close()

    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@dataclass
class Peers:
    plain: int
    secure: int
    untrusted: int
    bad_accept: int
    silent: int
    garbage: int
    proxy: int


@pytest.fixture(scope="module")
def peers(ca: trustme.CA) -> Iterator[Peers]:
    """The WebSocket servers, plain and TLS, and the raw peers, on loopback ports."""
    loop = _Loop()
    runners: list[web.AppRunner] = []
    servers: list[asyncio.Server] = []

    def tls(authority: trustme.CA) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert("127.0.0.1").configure_cert(context)
        return context

    async def site(context: ssl.SSLContext | None) -> int:
        app = web.Application()
        for path, handler in (("/echo", _echo), ("/oops", _oops), ("/mute", _mute)):
            app.router.add_get(path, handler)
        app.router.add_get("/page", _page)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        runners.append(runner)
        where = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await where.start()
        return int(where._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    async def raw(handler: Any) -> int:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def start() -> Peers:
        return Peers(
            plain=await site(None),
            secure=await site(tls(ca)),
            untrusted=await site(tls(trustme.CA())),
            bad_accept=await raw(_bad_accept),
            silent=await raw(_silent),
            garbage=await raw(_garbage),
            proxy=await raw(_tunnel),
        )

    async def stop() -> None:
        for server in servers:
            server.close()
        for runner in runners:
            await runner.cleanup()

    yield loop.run(start())
    loop.run(stop())
    loop.stop()


def _run(target: str, **options: Any) -> ProbeResult:
    options.setdefault("timeout", 5.0)
    return probe(target, ProbeOptions(**options))


def _ws(result: ProbeResult) -> dict[str, Any]:
    phase = result.phase("ws")
    assert phase is not None, [p.name for p in result.phases]
    return phase.details.to_json()


# -- the upgrade ------------------------------------------------------------------------


def test_the_upgrade_is_a_phase_of_its_own(peers: Peers) -> None:
    """ws:// walks url, proxy, dns, connect, then ws: 101, the accept key checked."""
    result = _run(f"ws://127.0.0.1:{peers.plain}/echo")
    assert result.failure is None
    assert [p.name for p in result.phases] == ["url", "proxy", "dns", "connect", "ws"]
    ws = _ws(result)
    assert (ws["status"], ws["accept"], ws["subprotocol"]) == (101, "ok", None)
    assert 0 < ws["upgrade_ms"] <= result.phases[-1].ms
    assert "sent" not in ws
    assert "reply" not in ws


def test_a_message_and_its_reply(peers: Peers) -> None:
    """The body goes as one text message; the reply is the result's body and in the phase."""
    result = _run(f"ws://127.0.0.1:{peers.plain}/echo", body=b"ping", keep_body=100)
    assert result.failure is None
    assert result.body == b"pong"
    ws = _ws(result)
    assert ws["sent"] == {"type": "text", "bytes": 4}
    assert ws["reply"] == {"type": "text", "bytes": 4, "text": "pong"}
    assert ws["reply_ms"] > 0


def test_bytes_that_are_not_utf8_go_as_a_binary_message(peers: Peers) -> None:
    """A body that is not UTF-8 cannot be a text frame: it goes as binary (echoed reversed)."""
    result = _run(f"ws://127.0.0.1:{peers.plain}/echo", body=b"\xff\x00", keep_body=100)
    assert result.failure is None
    assert result.body == b"\x00\xff"
    assert _ws(result)["sent"]["type"] == "binary"
    assert _ws(result)["reply"]["type"] == "binary"


def test_a_subprotocol_named_in_the_headers_is_offered(peers: Peers) -> None:
    """Sec-WebSocket-Protocol among the headers is offered; the server's choice is shown."""
    result = _run(
        f"ws://127.0.0.1:{peers.plain}/echo", headers=(("Sec-WebSocket-Protocol", "chat"),)
    )
    assert result.failure is None
    assert _ws(result)["subprotocol"] == "chat"


def test_a_404_to_the_upgrade_is_the_kind_a_404_gets(peers: Peers) -> None:
    """No WebSocket at that path: the same kind as the same path over http://."""
    ws = _run(f"ws://127.0.0.1:{peers.plain}/nowhere")
    http = _run(f"http://127.0.0.1:{peers.plain}/nowhere")
    assert ws.failure is not None
    assert http.failure is not None
    assert ws.failure.kind is http.failure.kind
    assert ws.failure.kind.value == "http.client_error"
    assert _ws(ws)["status"] == 404


def test_a_200_without_the_upgrade_says_so(peers: Peers) -> None:
    """A plain page where a WebSocket was expected is response.malformed, saying 200."""
    result = _run(f"ws://127.0.0.1:{peers.plain}/page")
    assert result.failure is not None
    assert result.failure.kind.value == "response.malformed"
    assert result.failure.detail == "the server answered 200 and did not switch to WebSocket"
    assert _ws(result)["status"] == 200


def test_a_wrong_accept_key_is_malformed(peers: Peers) -> None:
    """A 101 whose Sec-WebSocket-Accept is not the key's is refused (RFC 6455 4.1)."""
    result = _run(f"ws://127.0.0.1:{peers.bad_accept}/")
    assert result.failure is not None
    assert result.failure.kind.value == "response.malformed"
    assert "Sec-WebSocket-Accept that does not match the key sent" in result.failure.detail
    assert _ws(result)["accept"] == "mismatch"


def test_an_answer_that_is_not_http_is_malformed(peers: Peers) -> None:
    """Another protocol on the port: response.malformed, saying it is not HTTP/1.1."""
    result = _run(f"ws://127.0.0.1:{peers.garbage}/")
    assert result.failure is not None
    assert result.failure.kind.value == "response.malformed"
    assert result.failure.detail.endswith(
        "did not answer the WebSocket upgrade in HTTP/1.1: it sent 'SSH-2.0-OpenSSH_9.2'"
    )
    assert "status" not in _ws(result)


def test_a_server_that_never_answers_the_upgrade_is_a_read_timeout(peers: Peers) -> None:
    """Accepted and silent: read.timeout within the phase's timeout."""
    result = _run(f"ws://127.0.0.1:{peers.silent}/", timeout=SHORT)
    assert result.failure is not None
    assert result.failure.kind.value == "read.timeout"
    assert "did not answer the WebSocket upgrade within 0.5 s" in result.failure.detail


def test_no_reply_to_the_message_is_a_read_timeout(peers: Peers) -> None:
    """Upgraded, the message sent, no reply: read.timeout, the 101 still shown."""
    result = _run(f"ws://127.0.0.1:{peers.plain}/mute", body=b"ping", timeout=SHORT)
    assert result.failure is not None
    assert result.failure.kind.value == "read.timeout"
    assert "sent no reply to the message within 0.5 s" in result.failure.detail
    assert _ws(result)["status"] == 101


def test_the_deadline_during_the_reply_is_a_read_timeout(peers: Peers) -> None:
    """The monitor's deadline (its timeout) cutting the wait names the silence, and the
    phase keeps what it had: the 101 and the message sent."""
    result = _run(f"ws://127.0.0.1:{peers.plain}/mute", body=b"ping", timeout=5, deadline=SHORT)
    assert result.failure is not None
    assert result.failure.kind.value == "read.timeout"
    assert "no reply to the message within the probe's 0.5 s deadline" in result.failure.detail
    ws = _ws(result)
    assert (ws["status"], ws["sent"]["bytes"]) == (101, 4)


def test_a_close_instead_of_a_reply_names_the_code(peers: Peers) -> None:
    """The server closing with 1011: connection.closed, with the code and the reason."""
    result = _run(f"ws://127.0.0.1:{peers.plain}/oops", body=b"ping")
    assert result.failure is not None
    assert result.failure.kind.value == "connection.closed"
    assert "closed the WebSocket with code 1011 (backend down)" in result.failure.detail
    assert _ws(result)["close"] == {"code": 1011, "reason": "backend down"}


# -- wss:// -----------------------------------------------------------------------------


def test_wss_verifies_the_certificate_as_https_does(peers: Peers, cafile: str) -> None:
    """wss:// has the tls phase before ws, verified against the CA given."""
    result = _run(f"wss://127.0.0.1:{peers.secure}/echo", cacert=cafile, body=b"ping", keep_body=9)
    assert result.failure is None
    assert [p.name for p in result.phases][-2:] == ["tls", "ws"]
    tls = result.phase("tls")
    assert tls is not None
    assert tls.details.verified is True
    assert result.body == b"pong"


def test_wss_with_an_untrusted_certificate_fails_as_https_does(peers: Peers, cafile: str) -> None:
    """A certificate from an unknown CA: the same kind as https:// to the same server, and
    nothing is sent."""
    wss = _run(f"wss://127.0.0.1:{peers.untrusted}/echo", cacert=cafile)
    https = _run(f"https://127.0.0.1:{peers.untrusted}/echo", cacert=cafile)
    assert wss.failure is not None
    assert https.failure is not None
    assert wss.failure.kind is https.failure.kind
    assert wss.failure.kind.value == "tls.untrusted"
    assert wss.phase("ws") is None


# -- proxies ----------------------------------------------------------------------------


@pytest.mark.parametrize(("scheme", "variable"), [("ws", "HTTP_PROXY"), ("wss", "HTTPS_PROXY")])
def test_a_proxy_carries_the_upgrade_through_connect(
    peers: Peers, cafile: str, scheme: str, variable: str
) -> None:
    """ws:// takes HTTP_PROXY and wss:// HTTPS_PROXY, each as a CONNECT tunnel."""
    port = peers.plain if scheme == "ws" else peers.secure
    result = _run(
        f"{scheme}://127.0.0.1:{port}/echo",
        env={variable: f"http://127.0.0.1:{peers.proxy}"},
        cacert=cafile,
        body=b"ping",
        keep_body=9,
    )
    assert result.failure is None, result.failure
    proxy = result.phase("proxy")
    assert proxy is not None
    assert (proxy.details.mode, proxy.details.source) == ("CONNECT", variable)
    assert result.body == b"pong"


# -- the URL ----------------------------------------------------------------------------


def test_default_ports_and_path() -> None:
    """ws:// is port 80 and wss:// 443 unless given; path and query go in the request."""
    assert parse_target("ws://lab.test/live?x=1").port == 80
    assert parse_target("ws://lab.test/live?x=1").path == "/live?x=1"
    assert parse_target("wss://lab.test").port == 443
    assert parse_target("wss://lab.test").path == "/"


# -- diagnose ---------------------------------------------------------------------------


def test_diagnose_renders_the_ws_phase(capsys: pytest.CaptureFixture[str], peers: Peers) -> None:
    """`tether diagnose ws://...` shows the 101 in text and the phase's details in --json."""
    code = main(["diagnose", f"ws://127.0.0.1:{peers.plain}/echo"])
    out = capsys.readouterr().out
    assert code == 0
    line = next(line for line in out.splitlines() if line.lstrip().startswith("ws "))
    assert "101 Switching Protocols at" in line
    code = main(["diagnose", "--json", f"ws://127.0.0.1:{peers.plain}/page"])
    out = capsys.readouterr().out
    assert code == 1
    report = json.loads(out)
    ws = next(p for p in report["phases"] if p["name"] == "ws")
    assert (ws["ok"], ws["status"]) == (False, 200)
    assert report["failure"]["kind"] == "response.malformed"


# -- the monitor ------------------------------------------------------------------------


def test_monitor_checks_a_websocket(
    checked: Callable[..., dict[str, Any]], peers: Peers, cafile: str
) -> None:
    """url: ws:// monitors: body is the message, [BODY] its reply, [STATUS] the 101."""
    from tether.monitor.config import parse_config

    cfg = parse_config(
        f"""
monitors:
  - name: echo
    url: "ws://127.0.0.1:{peers.plain}/echo"
    body: ping
    conditions: ['[STATUS] == 101', '[BODY] == pong', '[PHASE].ws < 5s']
  - name: wrong
    url: "ws://127.0.0.1:{peers.plain}/echo"
    body: hello
    conditions: ['[BODY] == pong']
  - name: secure
    url: "wss://127.0.0.1:{peers.secure}/echo"
    body: ping
    tls: {{ca_file: "{cafile}"}}
    conditions: ['[BODY] == re("^po")']
  - {{name: gone, url: "ws://127.0.0.1:{peers.plain}/nowhere"}}
  - {{name: oops, url: "ws://127.0.0.1:{peers.plain}/oops", body: ping}}
"""
    )

    found = checked(cfg)
    assert found["echo"].ok, found["echo"].detail
    assert "ws" in found["echo"].phases
    assert not found["wrong"].ok
    assert "[BODY] (hello) == pong" in (found["wrong"].detail or "")
    assert found["secure"].ok, found["secure"].detail
    assert found["gone"].kind == "http.client_error"
    assert found["oops"].kind == "connection.closed"
    assert "1011" in (found["oops"].detail or "")


def test_the_documented_websocket_monitor_runs(
    checked: Callable[..., dict[str, Any]], peers: Peers
) -> None:
    """docs/monitor-config.md's ws:// example, pointed at the echo server, passes."""
    from tether.monitor.config import parse_config

    doc = (Path(__file__).parents[2] / "docs/monitor-config.md").read_text()
    section = doc.split("### WebSocket monitors", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert "ws://127.0.0.1:8080/echo" in example
    cfg = parse_config(example.replace(":8080/", f":{peers.plain}/"))

    found = checked(cfg, "live-feed")["live-feed"]
    assert found.ok, found.detail
