"""What the probe paths remember between probes (issue 46 §7) gives what working it out
again gives: an allow-list's answer for an address, and a gRPC call's request header
block, remembered or not."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.probe import AllowedTargets, _allow, _grpc

pytest.importorskip("h2")

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


def _fresh_block(headers: list[tuple[str, str]]) -> bytes:
    from hpack import Encoder

    return bytes(Encoder().encode(headers, huffman=False))


headers_lists = st.lists(
    st.tuples(
        st.sampled_from([":authority", "grpc-timeout", "user-agent", "x-extra"]),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.:-", max_size=30),
    ),
    min_size=1,
    max_size=6,
)


@given(headers_lists)
def test_a_calls_header_block_is_a_new_encoders_whether_remembered_or_not(
    headers: list[tuple[str, str]],
) -> None:
    """The block a call sends is the bytes a new connection's encoder writes for its
    headers, the first time (encoded) and the next (remembered)."""
    for _ in range(2):
        assert _grpc._plain_encoder().encode(headers) == _fresh_block(headers)


def test_a_second_header_block_on_one_connection_is_refused() -> None:
    """The encoder of a call does not fill its table: a second block would be written
    against a table that is not there, so it is refused rather than sent wrong."""
    encoder = _grpc._plain_encoder()
    encoder.encode([(":path", "/grpc.health.v1.Health/Check")])
    with pytest.raises(RuntimeError, match="one header block"):
        encoder.encode([(":path", "/grpc.health.v1.Health/Check")])
