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
