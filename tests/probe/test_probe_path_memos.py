"""What the probe paths remember between probes (issue 46 §7) gives what working it out
again gives: an allow-list's answer for an address, a grpc module's probe options (a gRPC
call's request bytes, remembered or not: ``test_h2_call.py``)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.probe import AllowedTargets, ProbeOptions, _allow

addresses = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.sampled_from(["not an address", "", "127.0.0.1%lo", "fe80::1%eth0", "300.1.1.1"]),
)
networks = st.lists(
    st.one_of(
        st.ip_addresses(v=4).flatmap(lambda a: st.integers(8, 32).map(lambda n: f"{a}/{n}")),
        st.ip_addresses(v=6).flatmap(lambda a: st.integers(16, 128).map(lambda n: f"{a}/{n}")),
    ),
    max_size=4,
)


def _worked_out(allowed: AllowedTargets, address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
    except ValueError:
        return False
    return any(ip in network for network in allowed.networks)


@given(networks, st.lists(addresses, min_size=1, max_size=8))
def test_an_allow_list_remembers_the_answer_it_works_out(
    entries: list[str], asked: list[str]
) -> None:
    """Asked twice, an allow-list answers each address as the networks decide, the
    second time from memory."""
    allowed = AllowedTargets.parse(entries)
    for address in asked * 2:
        assert allowed.address_allowed(address) == _worked_out(allowed, address)


def test_an_allow_list_forgets_past_its_bound_and_still_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past its bound the memory starts again (a scrape of endless addresses cannot grow
    it), and the answers stay right."""
    monkeypatch.setattr(_allow, "_DECIDED_MAX", 4)
    allowed = AllowedTargets.parse(["10.0.0.0/30"])
    asked = [f"10.0.0.{i}" for i in range(10)]
    for address in asked * 2:
        assert allowed.address_allowed(address) == (int(address.rsplit(".", 1)[1]) < 4)
        assert len(allowed._decided) <= 4


def test_a_modules_probe_options_are_made_once_and_again_for_a_new_module() -> None:
    """A grpc module's options are the same object for the same module, timeout and
    allow-list, and new ones for another timeout, allow-list or (reloaded) module, each
    carrying what it was made of."""
    from tether.monitor.checks import _blackbox
    from tether.monitor.config._blackbox import BlackboxModule

    text = {"prober": "grpc", "grpc": {"tls": True, "preferred_ip_protocol": "ip4"}}
    module = BlackboxModule.model_validate(text)
    allowed = AllowedTargets.parse(["127.0.0.0/8"])
    made = [0]

    def make() -> ProbeOptions:
        made[0] += 1
        return ProbeOptions(timeout=2.0, allowed=allowed)

    first = _blackbox._made(module, 2.0, allowed, make)
    assert _blackbox._made(module, 2.0, allowed, make) is first
    assert made[0] == 1
    other_list = AllowedTargets.parse(["127.0.0.0/8"])
    assert _blackbox._made(module, 2.0, other_list, make) is not first
    assert _blackbox._made(module, 3.0, allowed, make) is not first
    reloaded = BlackboxModule.model_validate(text)
    assert _blackbox._made(reloaded, 2.0, allowed, make) is not first
    assert made[0] == 4


def test_a_request_without_a_body_is_sent_the_same_remembered_or_not() -> None:
    """The bytes a loopback server receives for the same request, written fresh and then
    remembered, are what writing it out gives; a different field is written afresh, and
    a request with a body is never remembered."""
    import asyncio

    from tether.probe import _http

    got: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    async def send(headers: list[tuple[str, str]], body: bytes | None = None) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ex = await _http.exchange(
            reader,
            writer,
            method="GET",
            target="/memo",
            host_header="example.test",
            headers=headers,
            timeout=5,
            max_body=1000,
            url="http://example.test/memo",
            body=body,
        )
        writer.close()
        assert ex.status == 204

    async def main() -> None:
        nonlocal port
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            _http._HEADS.clear()
            _http._LINES.clear()
            await send([("X-A", "1")])
            await send([("X-A", "1")])
            await send([("X-A", "2")])
            await send([("X-A", "1")], body=b"")

    port = 0
    asyncio.run(main())
    fresh = _http._request("GET", "/memo", "example.test", [("X-A", "1")], None)[0]
    assert got[0] == got[1] == fresh
    assert got[2] == _http._request("GET", "/memo", "example.test", [("X-A", "2")], None)[0]
    assert b"Content-Length: 0" in got[3]
    assert len(_http._HEADS) == 2  # the two fields; the request with a body not kept
    assert len(_http._LINES) == 1  # one method and target


def _outcome(make: object, *args: object) -> object:
    """What ``make(*args)`` gives: its value, or the class and text of what it raised."""
    try:
        return make(*args)  # type: ignore[operator]
    except (ValueError, UnicodeError) as exc:
        return (type(exc), str(exc))


_texts = st.text(st.sampled_from("aZ0/?=&%-.:@ \t\r\nü~"), max_size=12)
_fields = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(["Host", "X-A", "Upgrade", "Accept", "Bad Name", "X:Y"]), _texts),
        _texts,
    ),
    max_size=3,
)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["GET", "HEAD", "CONNECT", "G ET"]),
            st.one_of(st.sampled_from(["/", "/a?b=c", "host:443"]), _texts.map("/".__add__)),
            st.sampled_from(["127.0.0.1:8080", "[::1]", "bad\r\nhost"]),
            _fields,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_a_request_made_from_its_remembered_parts_is_the_request_written_out(
    requests: list[tuple[str, str, str, list[tuple[str, str]]]],
) -> None:
    """A request without a body made from its remembered fields and request line (each
    monitor's target its own: the fields are kept apart from it) is, byte for byte, what
    writing it out whole gives; and what one refuses, with the same error, the other
    refuses, the fields checked first as before."""
    from tether.probe import _http

    for method, target, host, fields in requests:
        assert _outcome(_http._made, method, target, host, fields) == _outcome(
            _http._request, method, target, host, fields, None
        )


def test_requests_to_more_targets_than_are_remembered_are_each_written_right() -> None:
    """Past the bound of remembered request lines (a worker with more monitors than it
    holds), each target's request is still its own, and the fields are made once."""
    from tether.probe import _http

    _http._HEADS.clear()
    fields = [("X-A", "1")]
    for i in range(_http._MADE_MAX + 10):
        target = f"/m{i:06d}"
        made = _http._made("GET", target, "127.0.0.1:8080", fields)
        assert made == _http._request("GET", target, "127.0.0.1:8080", fields, None)
    assert len(_http._HEADS) == 1
    assert len(_http._LINES) <= _http._MADE_MAX
