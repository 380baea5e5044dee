"""A prober reads the proxy environment once per assignment of monitors, not once per
monitor: at 120,000 monitors the reads took 1.5 s of each load (issue 23).  The work is
counted, not timed."""

from __future__ import annotations

import pytest

from tether.monitor.checks import _prober
from tether.monitor.checks._prober import Prober
from tether.monitor.config import parse_config


def test_the_proxy_variables_are_read_once_per_assignment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """500 monitors assigned: one read of the environment, and every plan has what it
    said (a proxy set for the machine reaches each monitor's probes)."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    reads = 0
    real = _prober.proxy_environment

    def counted() -> dict[str, str]:
        nonlocal reads
        reads += 1
        return real()

    monkeypatch.setattr(_prober, "proxy_environment", counted)
    lines = "".join(
        f"  - {{name: m{i}, url: 'https://127.0.0.1:{1000 + i}/'}}\n" for i in range(500)
    )
    config = parse_config("monitors:\n" + lines)
    prober = Prober()
    prober.assign(config.monitors)
    assert reads == 1
    plans = prober._plans  # the plans are what the checks use
    assert len(plans) == 500
    assert all(p.options.env == {"https_proxy": "http://127.0.0.1:9"} for p in plans.values())


def test_a_fleet_larger_than_the_url_cache_parses_each_url_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A prober of more monitors than the cache of recent URLs holds, each checked twice
    in turn (a schedule's cycle): each URL is parsed, and its host and service worked out,
    once, not on every check (issue 46 §2: 120,000 URLs a worker, a cache of 65,536)."""
    import asyncio
    import functools

    from tether.monitor.checks._prober import host_of, service_of
    from tether.probe import ProbeOptions, ProbeResult, _target, parse_target

    lines = "".join(f"  - {{name: m{i}, url: 'http://127.0.0.1:{1000 + i}/'}}\n" for i in range(40))
    config = parse_config("monitors:\n" + lines)  # loading parses each URL too: before
    small = functools.lru_cache(maxsize=16)(_target._parse_recent.__wrapped__)
    monkeypatch.setattr(_target, "_parse_recent", small)  # the cache: 16 instead of 65,536
    asked: list[str] = []

    def counted(real: object) -> object:
        def ask(url: str) -> str:
            asked.append(url)
            return real(url)  # type: ignore[operator]

        return ask

    monkeypatch.setattr(_prober, "host_of", counted(host_of))
    monkeypatch.setattr(_prober, "service_of", counted(service_of))

    async def probe(url: str, options: ProbeOptions) -> ProbeResult:
        target = parse_target(url)  # as the engine does, first of all
        return ProbeResult(target.url, (), None)

    prober = Prober(probe=probe)
    prober.assign(config.monitors)

    async def twice() -> None:
        for _ in range(2):
            for m in config.monitors:
                await prober.check(m.name, prober.mono())

    asyncio.run(twice())
    assert small.cache_info().misses == 40  # 80 checks, one parse a URL
    assert len(asked) == 80  # host_of and service_of, once a monitor each
