"""``grpc://`` and ``grpcs://`` monitors: the configuration, the conditions on the health
answer, and an agent's round trip, against real grpcio servers on loopback (grpcio with
grpcio-health-checking's health servicer; TLS with a trustme certificate)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.helpers.config_text import dump, errors_of
from tests.helpers.grpc_server import NOT_SERVING, SERVING, grpc_server
from tether.monitor.checks._prober import Check, Prober
from tether.monitor.config import Monitor, parse_config
from tether.monitor.config._fields import SECONDS_CONTEXT
from tether.monitor.config._monitor_wire import monitor_json


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with grpc_server({"": SERVING, "shop.Cart": SERVING, "shop.Pay": NOT_SERVING}) as peer:
        yield peer.port


def _checks(text: str, *names: str) -> list[Check]:
    prober = Prober()
    prober.assign(parse_config(text).monitors)

    async def main() -> list[Check]:
        return [await prober.check(name, prober.mono()) for name in names]

    return asyncio.run(main())


def test_serving_and_not_serving(port: int) -> None:
    """A SERVING service passes with its grpc phase stored; a NOT_SERVING one fails with
    grpc.not_serving and the status in the detail."""
    text = dump(
        {"name": "cart", "url": f"grpc://127.0.0.1:{port}/shop.Cart"},
        {"name": "pay", "url": f"grpc://127.0.0.1:{port}/shop.Pay"},
    )
    cart, pay = _checks(text, "cart", "pay")
    assert cart.record.ok, cart.record.detail
    assert "grpc" in cart.record.phases
    assert not pay.record.ok
    assert pay.record.kind is not None
    assert pay.record.kind.value == "grpc.not_serving"
    assert "NOT_SERVING" in (pay.record.detail or "")


def test_conditions_judge_the_health_answer(port: int) -> None:
    """Conditions read [GRPC_STATUS], [GRPC_CODE] and [PHASE].grpc; a monitor may expect
    NOT_SERVING (an APP failure is an answer, as an HTTP status is)."""
    text = dump(
        {
            "name": "cart",
            "url": f"grpc://127.0.0.1:{port}/shop.Cart",
            "conditions": ["[GRPC_STATUS] == SERVING", "[GRPC_CODE] == 0", "[PHASE].grpc < 10s"],
        },
        {
            "name": "drained",
            "url": f"grpc://127.0.0.1:{port}/shop.Pay",
            "conditions": ["[GRPC_STATUS] == NOT_SERVING"],
        },
        {
            "name": "strict",
            "url": f"grpc://127.0.0.1:{port}/shop.Pay",
            "conditions": ["[GRPC_STATUS] == SERVING"],
        },
    )
    cart, drained, strict = _checks(text, "cart", "drained", "strict")
    assert cart.record.ok, cart.record.detail
    assert cart.record.conditions[:2] == (
        "[GRPC_STATUS] (SERVING) == SERVING",
        "[GRPC_CODE] (0) == 0",
    )
    assert drained.record.ok, drained.record.detail
    assert not strict.record.ok
    assert strict.record.detail == ("condition not met: [GRPC_STATUS] (NOT_SERVING) == SERVING")


def test_a_condition_on_an_unknown_phase_names_grpc() -> None:
    """[PHASE].grcp is refused with the phase names, grpc among them."""
    (error,) = errors_of(
        dump({"name": "m", "url": "grpc://127.0.0.1:1/", "conditions": ["[PHASE].grcp < 1s"]})
    )
    assert error.startswith("monitors[0].conditions[0]:")
    assert "grpc" in error


def test_grpcs_takes_tls_and_grpc_does_not() -> None:
    """tls: is a grpcs:// monitor's option; on grpc:// it is an error naming the key;
    HTTP options are refused as for any scheme that sends no HTTP request."""
    secure = {"name": "m", "url": "grpcs://127.0.0.1:1/", "tls": {"insecure": True}}
    (monitor,) = parse_config(dump(secure)).monitors
    assert monitor.tls is not None
    assert monitor.tls.insecure
    assert errors_of(dump({**secure, "url": "grpc://127.0.0.1:1/"})) == [
        "monitors[0].tls: only https://, wss://, tls://, smtp://, smtps://, grpcs:// and "
        "database monitors have a certificate; this is grpc://"
    ]
    assert errors_of(dump({"name": "m", "url": "grpc://127.0.0.1:1/", "body": "x"})) == [
        "monitors[0].body: only http:// and https:// monitors send a request; this is grpc://"
    ]


def test_a_bad_grpc_url_is_one_line() -> None:
    """A service path of two segments is refused at load, naming the key."""
    (error,) = errors_of(dump({"name": "m", "url": "grpc://127.0.0.1:1/a/b"}))
    assert error.startswith("monitors[0].url:")
    assert "not a gRPC service name" in error


def test_agent_round_trip_over_tls(tmp_path: Path) -> None:
    """A grpcs:// monitor with tls.ca_file, dumped as the server sends it to an agent,
    validates as the agent validates it, and the agent's Prober probes it: SERVING."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with grpc_server({"shop.Cart": SERVING}, tls=ca.issue_cert("127.0.0.1")) as peer:
        url = f"grpcs://127.0.0.1:{peer.port}/shop.Cart"
        text = dump(
            {
                "name": "cart",
                "url": url,
                "timeout": "2s",
                "tls": {"ca_file": str(ca_file)},
                "conditions": ["[GRPC_STATUS] == SERVING"],
            }
        )
        (loaded,) = parse_config(text).monitors
        sent = monitor_json(loaded)
        received = Monitor.model_validate(sent, context={SECONDS_CONTEXT: True})
        assert received == loaded
        prober = Prober()
        prober.assign([received])
        check = asyncio.run(prober.check("cart", prober.mono()))
    assert check.record.ok, check.record.detail
    assert "tls" in check.record.phases
    assert "grpc" in check.record.phases
