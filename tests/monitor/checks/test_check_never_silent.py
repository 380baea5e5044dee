"""Whatever a check raises becomes a failed result with a kind, stored, judged and alerted
like any other: a configured monitor that is not paused never stays without results.

An exception is injected at each step of a check (the plan, the probe, the conditions, the
judge, the certificate, the timings, the host), with a URL and its password in its message:
a real runner on simulated time (tests/helpers/monitor_harness.py) against a real loopback server,
a real store and outbox, stores a failed ``unknown`` result naming the exception's class,
the password redacted, and alerts.  The worker processes' prober and ``/probe`` hold the
same.  The injections replace one of tether's own functions with one that raises: no real
input makes these steps raise once the configuration is checked (that is the point), so
there is no real peer to do it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.helpers.compiled import compiled
from tests.helpers.monitor_harness import Harness
from tests.helpers.simtime import SimTime
from tether._kinds import Kind
from tether.lab import Lab
from tether.monitor import Runner
from tether.monitor._state import State
from tether.monitor.checks import _blackbox, _prober
from tether.monitor.config import parse_config
from tether.monitor.runtime._workers import _Batch, _Checks, _receive
from tether.monitor.web._web import serve
from tether.probe import ProbeOptions, _engine

SECRET = "hunter2-5f0c"
"""A password in the exception's message: it must show nowhere."""
RAISED = f"cannot reach https://ops:{SECRET}@127.0.0.1/x"


def _raise(*args: object, **kwargs: object) -> Any:
    raise RuntimeError(RAISED)


async def _raise_async(*args: object, **kwargs: object) -> Any:
    raise RuntimeError(RAISED)


STEPS = {
    # step: (module, attribute) replaced by one that raises
    "options": (_prober, "probe_options"),
    "conditions": (_prober, "_condition"),
    "judge": (_prober, "judge"),
    "certificate": (_prober, "_certificate"),
    "timings": (_prober, "phase_seconds"),
    "host": (_prober, "where_failed"),
}


def _config(lab: Lab, url: str = "") -> str:
    return f"""
alerts: [{{name: ops, type: webhook, url: "http://127.0.0.1:9/"}}]
monitors:
  - name: api
    url: "{url or lab["healthy"].url}"
    interval: 30s
    timeout: 2s
    alerts: [ops]
    conditions: ["[STATUS] == 200"]
"""


def _assert_failed_and_alerted(h: Harness, kind: Kind = Kind.UNKNOWN) -> None:
    h.store.flush()
    results = h.store.results("api")
    assert results, "no result stored"
    assert all(not r.ok and r.kind is kind for r in results), results
    detail = results[0].detail or ""
    if kind is Kind.UNKNOWN:
        assert "RuntimeError" in detail
        assert "ops:***@127.0.0.1" in detail
    assert SECRET not in json.dumps([r.detail for r in results])
    assert h.state("api") is State.DOWN
    assert [p["event"] for p in h.ops.got][:1] == ["incident.opened"]
    assert SECRET not in json.dumps(h.ops.got)


@pytest.mark.parametrize("step", sorted(STEPS))
def test_a_step_that_raises_is_a_failed_result(
    step: str,
    tmp_path: Path,
    lab: Lab,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception at this step of the check: a stored failed result of kind unknown,
    with the exception's class and its message redacted (in the log too); the monitor
    goes down and alerts."""
    caplog.set_level(logging.INFO, logger="tether")
    module, name = STEPS[step]
    monkeypatch.setattr(module, name, _raise)
    h = Harness(tmp_path, parse_config(_config(lab)))
    h.drive((lambda: bool(h.ops.got), list), limit=600)
    _assert_failed_and_alerted(h)
    logged = [r for r in caplog.records if "RuntimeError" in r.getMessage()]
    assert logged
    assert SECRET not in caplog.text
    h.close()


def test_a_probe_that_raises_is_a_failed_result(tmp_path: Path, lab: Lab) -> None:
    """The probe call itself raises (as the request builder did for a Content-Length
    header): a failed unknown result, down, alerted."""

    def route(target: str, options: ProbeOptions) -> str:
        raise RuntimeError(RAISED)

    h = Harness(tmp_path, parse_config(_config(lab)), probe=route)
    h.drive((lambda: bool(h.ops.got), list), limit=600)
    _assert_failed_and_alerted(h)
    h.close()


def test_an_exception_tether_knows_keeps_its_kind(tmp_path: Path, lab: Lab) -> None:
    """An exception the classifier knows (a refused connection) is a result of its own kind,
    not unknown: unknown is for what nothing better fits."""

    def route(target: str, options: ProbeOptions) -> str:
        raise ConnectionRefusedError(111, "Connection refused")

    h = Harness(tmp_path, parse_config(_config(lab)), probe=route)
    h.drive((lambda: bool(h.ops.got), list), limit=600)
    _assert_failed_and_alerted(h, Kind.CONNECT_REFUSED)
    h.close()


def test_a_dns_check_that_raises_is_a_failed_result(
    tmp_path: Path, lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dns:// monitor's check (the probe engine's dns prober) raising: the same failed
    result."""
    monkeypatch.setitem(_engine._ALONE, "dns", _raise_async)
    config = _config(lab, "dns://lab.test").replace('conditions: ["[STATUS] == 200"]', "")
    h = Harness(tmp_path, parse_config(config + "    resolver: 127.0.0.1:9\n"))
    h.drive((lambda: bool(h.ops.got), list), limit=600)
    _assert_failed_and_alerted(h)
    h.close()


def test_the_workers_prober_sends_a_failed_check(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker process's prober and batch (``_workers._work`` runs exactly these): a
    check whose judge raises still reaches the coordinator's socket as a failed check."""
    monkeypatch.setattr(_prober, "judge", _raise)
    (monitor,) = parse_config(_config(lab)).monitors
    sim = SimTime()

    async def main() -> list[Any]:
        ours, theirs = socket.socketpair()
        reader, ours_writer = await asyncio.open_unix_connection(sock=ours)
        _, writer = await asyncio.open_unix_connection(sock=theirs)
        prober = _prober.Prober(
            wall=sim.wall, mono=sim.mono, sleep=sim.sleep, rand=lambda: 0.0, probe=sim.probe
        )
        prober.assign([monitor])
        stop = asyncio.Event()
        running = asyncio.ensure_future(prober.run(stop, _Batch(writer).add))
        async with asyncio.timeout(30):  # bounds a broken test, never waited out
            message = await _receive(reader)
        stop.set()
        await running
        writer.close()
        ours_writer.close()
        assert isinstance(message, _Checks)
        return message.checks

    check = sim.run(main())[0]
    assert (check.record.ok, check.record.kind) == (False, Kind.UNKNOWN)
    assert "RuntimeError" in (check.record.detail or "")
    assert SECRET not in (check.record.detail or "")


@pytest.mark.skipif(
    compiled(_blackbox),
    reason="monkeypatch does not reach the callers of a module compiled by mypyc (the"
    " compiled leg of .ci/run); the pure leg runs it",
)
@pytest.mark.parametrize("step", ["probe", "verdict"])
def test_probe_endpoint_answers_a_failed_probe(
    step: str, runner_for: Callable[..., Runner], lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/probe`` whose probe or verdict raises answers 200 with probe_success 0 and the
    kind, as blackbox_exporter answers a failed probe, not a 500."""
    if step == "probe":
        monkeypatch.setattr(_blackbox, "probe_async", _raise_async)
    else:
        monkeypatch.setattr(_blackbox, "http_verdict", _raise)
    runner = runner_for(parse_config(_config(lab)))

    async def main() -> tuple[int, str]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = await serve(runner, "127.0.0.1", port)
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(
                    f"http://127.0.0.1:{port}/probe",
                    params={"target": lab["healthy"].url, "module": "http_2xx"},
                ) as r,
            ):
                return r.status, await r.text()
        finally:
            await server.cleanup()

    status, text = asyncio.run(main())
    assert status == 200, text
    assert "\nprobe_success 0.0\n" in text
    assert 'probe_failure_info{kind="unknown",' in text
    assert SECRET not in text
