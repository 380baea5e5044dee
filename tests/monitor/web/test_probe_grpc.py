"""``/probe?module=NAME`` with blackbox_exporter's ``grpc`` prober, against real grpcio
servers on loopback (grpcio with grpcio-health-checking's health servicer; TLS with a
trustme certificate; an aiohttp HTTP/1.1 server), and the same modules run by Debian's
prometheus-blackbox-exporter against the same servers: the two agree on
``probe_success``, ``probe_grpc_status_code``, ``probe_grpc_healthcheck_response`` and
``probe_grpc_ssl``."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import aiohttp
import pytest
import trustme

from tests.helpers.grpc_server import NOT_SERVING, SERVING, grpc_server, http11_server
from tests.helpers.polls import until
from tests.helpers.ports import free_port
from tether.monitor import Runner
from tether.monitor.config import parse_config
from tether.monitor.web._web import serve

MONITORS = 'monitors: [{name: a, url: "http://127.0.0.1:1/"}]\n'
COMPARED = (
    "probe_success",
    "probe_grpc_status_code",
    "probe_grpc_ssl",
    'probe_grpc_healthcheck_response{serving_status="NOT_SERVING"}',
    'probe_grpc_healthcheck_response{serving_status="SERVICE_UNKNOWN"}',
    'probe_grpc_healthcheck_response{serving_status="SERVING"}',
    'probe_grpc_healthcheck_response{serving_status="UNKNOWN"}',
)
EXPORTER = shutil.which("prometheus-blackbox-exporter")


def series(text: str) -> dict[str, float]:
    """Each sample line's name with labels, and its value."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def modules_text(ca_file: Path) -> str:
    return (
        "modules:\n"
        "  plain: {prober: grpc, grpc: {preferred_ip_protocol: ip4}}\n"
        "  pay: {prober: grpc, grpc: {service: shop.Pay, preferred_ip_protocol: ip4}}\n"
        "  nosuch: {prober: grpc, grpc: {service: no.Such, preferred_ip_protocol: ip4}}\n"
        "  secure:\n"
        "    prober: grpc\n"
        "    grpc:\n"
        "      tls: true\n"
        "      preferred_ip_protocol: ip4\n"
        f"      tls_config: {{ca_file: '{ca_file}'}}\n"
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """The servers, and the (module, target) pairs asked about by name."""
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("grpc-probe") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with ExitStack() as stack:
        up = stack.enter_context(grpc_server({"": SERVING, "shop.Pay": NOT_SERVING}))
        bare = stack.enter_context(grpc_server(health_service=False))
        tls = stack.enter_context(grpc_server({"": SERVING}, tls=ca.issue_cert("127.0.0.1")))
        web = stack.enter_context(http11_server())
        asks = {
            "serving": f"plain 127.0.0.1:{up.port}",
            "not_serving": f"pay 127.0.0.1:{up.port}",
            "unknown_service": f"nosuch 127.0.0.1:{up.port}",
            "unimplemented": f"plain 127.0.0.1:{bare.port}",
            "tls": f"secure 127.0.0.1:{tls.port}",
            "http11": f"plain 127.0.0.1:{web}",
            "refused": f"plain 127.0.0.1:{free_port()}",
        }
        yield ca_file, asks


async def _get_all(base: str, asks: dict[str, str]) -> dict[str, tuple[int, str]]:
    out = {}
    async with aiohttp.ClientSession() as session:
        for name, ask in asks.items():
            module, target = ask.split()
            params = {"module": module, "target": target}
            async with session.get(f"{base}/probe", params=params) as r:
                out[name] = (r.status, await r.text())
    return out


def tether_answers(
    runner_for: Callable[..., Runner], text: str, asks: dict[str, str]
) -> dict[str, tuple[int, str]]:
    runner = runner_for(parse_config(text))

    async def main() -> dict[str, tuple[int, str]]:
        port = free_port()
        server = await serve(runner, "127.0.0.1", port)
        try:
            return await _get_all(f"http://127.0.0.1:{port}", asks)
        finally:
            await server.cleanup()

    return asyncio.run(main())


EXPECTED = {
    # name: (probe_success, probe_grpc_status_code, the health answer or None, ssl)
    "serving": (1, 0, "SERVING", 0),
    "not_serving": (0, 0, "NOT_SERVING", 0),
    "unknown_service": (0, 5, None, 0),
    "unimplemented": (0, 12, None, 0),
    "tls": (1, 0, "SERVING", 1),
    "http11": (0, 14, None, 0),
    "refused": (0, 14, None, 0),
}


def test_tethers_grpc_module_answers_blackboxs_series(
    runner_for: Callable[..., Runner], world: tuple[Path, dict[str, str]]
) -> None:
    """Each case's probe_success, status code, health answer and ssl, and the failure's
    kind in tether's own series."""
    ca_file, asks = world
    answers = tether_answers(runner_for, MONITORS + modules_text(ca_file), asks)
    for name, (success, code, status, ssl) in EXPECTED.items():
        status_code, text = answers[name]
        assert status_code == 200, (name, text)
        got = series(text)
        assert got["probe_success"] == success, (name, text)
        assert got["probe_grpc_status_code"] == code, (name, text)
        assert got["probe_grpc_ssl"] == ssl, (name, text)
        ones = [k for k in COMPARED[3:] if got[k] == 1]
        assert ones == (
            [f'probe_grpc_healthcheck_response{{serving_status="{status}"}}'] if status else []
        ), name
    kinds = {
        name: next(k for k in series(text) if k.startswith("probe_failure_info{"))
        for name, (_, text) in answers.items()
        if "probe_failure_info{" in text
    }
    assert 'kind="grpc.not_serving",layer="app"' in kinds["not_serving"]
    assert 'kind="grpc.status",layer="app"' in kinds["unimplemented"]
    assert 'kind="response.malformed"' in kinds["http11"]
    assert 'kind="connect.refused"' in kinds["refused"]
    assert "probe_ssl_earliest_cert_expiry" in answers["tls"][1]


def test_a_bad_grpc_target_is_a_400(
    runner_for: Callable[..., Runner], world: tuple[Path, dict[str, str]]
) -> None:
    """A target with a path is no HOST:PORT: 400 saying so, as blackbox_exporter answers."""
    ca_file, _ = world
    answers = tether_answers(
        runner_for, MONITORS + modules_text(ca_file), {"bad": "plain 127.0.0.1:1/x/y"}
    )
    assert answers["bad"][0] == 400
    assert "HOST:PORT" in answers["bad"][1]


@pytest.mark.skipif(
    EXPORTER is None and not os.environ.get("TETHER_REQUIRE_BLACKBOX"),
    reason="needs Debian's prometheus-blackbox-exporter (.ci/run installs it and requires this)",
)
def test_tether_and_blackbox_exporter_agree(
    tmp_path: Path, runner_for: Callable[..., Runner], world: tuple[Path, dict[str, str]]
) -> None:
    """The same modules in a blackbox.yml and in tether's modules:, the same servers: the
    exporter's /probe and tether's give the same success, code, health answer and ssl."""
    assert EXPORTER is not None, "TETHER_REQUIRE_BLACKBOX is set: install it"
    ca_file, asks = world
    text = modules_text(ca_file)
    (tmp_path / "blackbox.yml").write_text(text)
    port = free_port()
    exporter = subprocess.Popen(
        [
            EXPORTER,
            f"--config.file={tmp_path / 'blackbox.yml'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def listening() -> bool:
        assert exporter.poll() is None, "the exporter exited"
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        until(listening, 30)
        theirs = asyncio.run(_get_all(f"http://127.0.0.1:{port}", asks))
    finally:
        exporter.terminate()
        exporter.wait(timeout=30)
    ours = tether_answers(runner_for, MONITORS + text, asks)
    for name in asks:
        want, got = series(theirs[name][1]), series(ours[name][1])
        assert {k: want.get(k) for k in COMPARED} == {k: got.get(k) for k in COMPARED}, name
