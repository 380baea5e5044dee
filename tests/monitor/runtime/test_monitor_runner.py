"""The monitor pipeline end to end against the lab, on simulated time.

Probes are real (loopback lab servers, a real webhook receiver, a real
SQLite file); only the clock is simulated, advanced by the runner's own
sleeps, so minutes of monitoring take a moment.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.simtime import EPOCH, SimTime, run_until
from tether._kinds import Kind
from tether.lab import Lab
from tether.monitor import Runner
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.alerts import WebhookChannel
from tether.monitor.config import parse_config
from tether.monitor.config._conditions import context_from_probe, parse_condition
from tether.monitor.store import SQLiteStore
from tether.probe import ProbeOptions, probe
from tether.testing import Override


def config(lab: Lab, receiver_url: str) -> str:
    return f"""
alerts:
  - {{name: ops, type: webhook, url: "{receiver_url}"}}
monitors:
  - name: healthy
    url: {lab["healthy"].url}
    interval: 30s
    timeout: 2s
    alerts: [ops]
  - name: api
    url: {lab["refused"].url}
    interval: 30s
    timeout: 2s
    conditions: ["[STATUS] == 200"]
    alerts: [ops]
"""


def test_an_outage_opens_one_incident_and_one_alert_within_seconds(
    runner_for: Callable[..., Runner],
    fresh_store: SQLiteStore,
    lab: Lab,
    receiver: Receiver,
    fast_retries: Override,
) -> None:
    """A refusing target goes down after confirmation re-probes (seconds, not 3 intervals),
    one incident is stored with its cause, and the webhook receives one alert saying why."""
    receiver.start()
    cfg = parse_config(config(lab, receiver.url))
    sim = SimTime()
    channel = WebhookChannel("ops", receiver.url)
    runner = runner_for(
        cfg,
        {"ops": channel},
        wall=sim.wall,
        mono=sim.mono,
        sleep=sim.sleep,
        rand=lambda: 0.0,
        probe=sim.probe,
    )
    run_until(runner, sim, lambda: bool(receiver.got), limit=120.0)
    fresh_store.flush()
    assert runner.detector.state("api") is State.DOWN
    assert runner.detector.state("healthy") is State.UP
    (incident,) = fresh_store.incidents()
    results = fresh_store.results("api")
    channel.close()
    # Confirmation re-probes 1 s apart: down (and the incident open) about 3 s after the
    # first failed check, not after three 30 s intervals.
    assert incident.opened - EPOCH < 5.0, incident.opened - EPOCH
    assert incident.kind is Kind.CONNECT_REFUSED
    assert incident.monitors == ("api",)
    assert "refused" in incident.detail
    assert len(results) >= 3
    assert all(not r.ok and r.kind is Kind.CONNECT_REFUSED for r in results)
    ((_, body),) = receiver.got
    alert = json.loads(body)
    assert alert["event"] == "incident.opened"
    assert alert["monitors"] == ["api"]
    assert alert["text"].startswith("api is down since ")
    assert "refused" in alert["text"]


def test_context_from_probe_uses_the_kept_body_and_headers(lab: Lab) -> None:
    """A real probe with keep_body feeds [BODY] and [HEADER] conditions."""
    result = probe(lab["healthy"].url, ProbeOptions(keep_body=1024, timeout=2))
    context = context_from_probe(result)
    assert parse_condition('[BODY] contains "ok"').evaluate(context).success
    assert parse_condition("[HEADER].content-length == 3").evaluate(context).success


def test_dns_monitors_ask_the_configured_resolver_and_judge_rcode_and_answers(
    checked: Callable[..., dict[str, ProbeRecord]], lab: Lab
) -> None:
    """dns:// monitors query the lab's DNS server: the right answer passes; NXDOMAIN, a
    wrong answer and a silent server each fail with their kind."""
    cfg = parse_config(
        f"""
monitors:
  - {{name: good, url: "dns://ok.lab.test", resolver: "{lab.resolver}",
      dns: {{record_type: A, answers: [127.0.0.1]}}}}
  - {{name: wrong, url: "dns://ok.lab.test", resolver: "{lab.resolver}",
      dns: {{record_type: A, answers: [127.0.0.2]}}}}
  - {{name: gone, url: "dns://nx.lab.test", resolver: "{lab.resolver}"}}
  - {{name: silent, url: "dns://silent.lab.test", resolver: "{lab.resolver}", timeout: 0.3s}}
  - {{name: expected_nx, url: "dns://nx.lab.test", resolver: "{lab.resolver}",
      dns: {{rcode: NXDOMAIN}}}}
"""
    )

    found = checked(cfg)
    assert found["good"].ok
    assert found["expected_nx"].ok
    assert not found["wrong"].ok
    assert "127.0.0.1, not 127.0.0.2" in (found["wrong"].detail or "")
    assert found["gone"].kind == "dns.not_found"
    assert found["silent"].kind == "dns.timeout"


def test_a_tls_monitor_fails_when_the_certificate_is_too_close_to_expiry(
    checked: Callable[..., dict[str, ProbeRecord]], lab: Lab
) -> None:
    """tls.min_days_left above the lab certificate's days left fails the check, saying so."""
    cfg = parse_config(
        f"""
monitors:
  - name: cert
    url: "{lab["tls_ok"].url}"
    tls: {{ca_file: "{lab.ca_file}", min_days_left: 36500}}
  - name: fine
    url: "{lab["tls_ok"].url}"
    tls: {{ca_file: "{lab.ca_file}", min_days_left: 14}}
"""
    )

    found = checked(cfg)
    assert found["fine"].ok
    assert not found["cert"].ok
    assert "fewer than tls.min_days_left (36500)" in (found["cert"].detail or "")


def test_any_pat_and_len_conditions_judge_a_real_check(
    checked: Callable[..., dict[str, ProbeRecord]], lab: Lab
) -> None:
    """A real Runner checks the lab's healthy server with gatus-style any(), pat() and len()
    conditions: the monitor that expects its answer is up, the one that does not is down
    and says which condition failed, with the value it found."""
    url = lab["healthy"].url
    cfg = parse_config(
        f"""
monitors:
  - name: good
    url: "{url}"
    conditions:
      - "[STATUS] == any(200, 204)"
      - "[BODY] == pat(*ok*)"
      - "len([BODY]) > 0"
  - name: bad
    url: "{url}"
    conditions:
      - "[STATUS] == any(500, 503)"
      - "[BODY] != pat(o*)"
"""
    )

    found = checked(cfg)
    assert found["good"].ok, found["good"].detail
    assert not found["bad"].ok
    assert found["bad"].detail == (
        "condition not met: [STATUS] (200) == any(500, 503); [BODY] (ok\\n) != pat(o*)"
    )
