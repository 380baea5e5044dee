"""Correlation: one incident per host and kind, and one for this machine when most hosts fail
at once at the DNS or connect layer (at least 3 hosts and 60% of them, by default)."""

from __future__ import annotations

import dataclasses
import random

import pytest

from tether import CATALOGUE, Kind, Layer
from tether.monitor.engine._correlate import Correlation, Failures, IncidentGroup, correlate
from tether.monitor.engine._detect import Observation

T = 1_700_000_000.0


def failed(monitor: str, kind: Kind | None, host: str | None = None) -> Observation:
    return Observation(monitor, False, T, kind=kind, host=host)


def hosts_of(*pairs: str) -> dict[str, str]:
    """``"api@a"`` -> ``{"api": "a"}``."""
    return dict(pair.split("@") for pair in pairs)  # type: ignore[misc]


def keys(groups: list[IncidentGroup]) -> list[str]:
    return [g.key for g in groups]


# --- by host and kind --------------------------------------------------------------------------


def test_same_kind_on_the_same_host_is_one_incident() -> None:
    """Two monitors refused by the same host make one incident naming both."""
    hosts = hosts_of("api@db.lan", "admin@db.lan", "web@web.lan")
    failing = [failed("api", Kind.CONNECT_REFUSED), failed("admin", Kind.CONNECT_REFUSED)]
    (group,) = correlate(failing, hosts)
    assert group == IncidentGroup(
        "host:db.lan:connect.refused",
        "host",
        ("admin", "api"),
        Kind.CONNECT_REFUSED,
        "db.lan",
        "connection refused on db.lan",
    )


def test_different_kinds_on_one_host_are_separate() -> None:
    """A refusal and a 500 on the same host are two incidents: they have different causes."""
    hosts = hosts_of("api@db.lan", "admin@db.lan")
    failing = [failed("api", Kind.CONNECT_REFUSED), failed("admin", Kind.HTTP_SERVER_ERROR)]
    assert keys(correlate(failing, hosts)) == [
        "host:db.lan:connect.refused",
        "host:db.lan:http.server_error",
    ]


def test_same_kind_on_different_hosts_is_separate() -> None:
    """The same kind on two hosts is two incidents (too few hosts to blame this machine)."""
    hosts = hosts_of("a@a.lan", "b@b.lan", "c@c.lan")
    failing = [failed("a", Kind.CONNECT_TIMEOUT), failed("b", Kind.CONNECT_TIMEOUT)]
    assert keys(correlate(failing, hosts)) == [
        "host:a.lan:connect.timeout",
        "host:b.lan:connect.timeout",
    ]


def test_failure_without_a_kind_or_host_stands_alone() -> None:
    """A failed condition (no kind) is its monitor's own incident; so is a kind without a host."""
    failing = [failed("api", None, "db.lan"), failed("dns", Kind.DNS_NOT_FOUND)]
    groups = correlate(failing, {})
    assert [(g.key, g.scope, g.cause) for g in groups] == [
        ("monitor:api", "monitor", "its conditions are not met"),
        ("monitor:dns:dns.not_found", "monitor", "host name not found"),
    ]


def test_configured_host_wins_over_the_observation() -> None:
    """The monitor's configured host groups it, whatever address its failure carried."""
    failing = [
        failed("api", Kind.CONNECT_REFUSED, "10.0.0.7"),
        failed("admin", Kind.CONNECT_REFUSED),
    ]
    assert keys(correlate(failing, hosts_of("api@db.lan", "admin@db.lan"))) == [
        "host:db.lan:connect.refused"
    ]


def test_passing_observations_are_ignored() -> None:
    """Only failures are grouped: a passing observation in the list adds nothing."""
    passing = Observation("web", True, T)
    assert correlate([passing], hosts_of("web@web.lan")) == []


# --- this machine ------------------------------------------------------------------------------


def _many_hosts(n: int) -> dict[str, str]:
    return {f"m{i}": f"h{i}.lan" for i in range(n)}


def test_most_hosts_failing_dns_is_one_local_incident() -> None:
    """3 of 4 hosts timing out at DNS: one incident on this machine's side, worded from the
    catalogue, instead of three pages."""
    failing = [failed(f"m{i}", Kind.DNS_TIMEOUT) for i in range(3)]
    (group,) = correlate(failing, _many_hosts(4))
    assert (group.key, group.scope, group.monitors) == ("local", "local", ("m0", "m1", "m2"))
    assert group.kind is Kind.DNS_TIMEOUT
    title = CATALOGUE[Kind.DNS_TIMEOUT].title  # "DNS lookup timed out"
    assert group.cause == f"this machine cannot resolve names: {title} (3 of 4 hosts at once)"


def test_connect_layer_is_worded_as_connections() -> None:
    """Connect timeouts across most hosts: "this machine cannot open connections"."""
    failing = [failed(f"m{i}", Kind.CONNECT_TIMEOUT) for i in range(5)]
    (group,) = correlate(failing, _many_hosts(5))
    assert group.cause == (
        "this machine cannot open connections: connection timed out (5 of 5 hosts at once)"
    )


def test_two_hosts_are_never_local() -> None:
    """Both hosts of two failing at DNS is not enough: it takes at least three."""
    failing = [failed("m0", Kind.DNS_TIMEOUT), failed("m1", Kind.DNS_TIMEOUT)]
    groups = correlate(failing, _many_hosts(2))
    assert [g.scope for g in groups] == ["host", "host"]


def test_http_failures_are_never_local() -> None:
    """Every host answering 500 is the servers' fault, not this machine's: one per host."""
    failing = [failed(f"m{i}", Kind.HTTP_SERVER_ERROR) for i in range(5)]
    groups = correlate(failing, _many_hosts(5))
    assert [g.scope for g in groups] == ["host"] * 5


def test_below_the_fraction_is_not_local() -> None:
    """3 of 6 hosts (50%) failing at connect is under 60%: separate incidents."""
    failing = [failed(f"m{i}", Kind.CONNECT_TIMEOUT) for i in range(3)]
    assert "local" not in keys(correlate(failing, _many_hosts(6)))
    assert "local" in keys(correlate(failing, _many_hosts(5)))  # 3 of 5 is 60%


def test_hosts_count_not_monitors() -> None:
    """Fifty monitors on one dead host and two others failing are 3 of 10 hosts, not local,
    however many monitors fail."""
    hosts = {f"big{i}": "big.lan" for i in range(50)} | _many_hosts(9)
    failing = [failed(f"big{i}", Kind.CONNECT_TIMEOUT) for i in range(50)]
    failing += [failed("m0", Kind.CONNECT_TIMEOUT), failed("m1", Kind.CONNECT_TIMEOUT)]
    groups = correlate(failing, hosts)
    assert keys(groups) == [
        "host:big.lan:connect.timeout",
        "host:h0.lan:connect.timeout",
        "host:h1.lan:connect.timeout",
    ]
    assert len(groups[0].monitors) == 50


def test_a_host_with_a_passing_monitor_is_not_failing() -> None:
    """A host counts as failing only if all its monitors fail: one passing monitor shows
    this machine can reach it, so 2 failing hosts of 5 are not this machine's fault."""
    hosts = _many_hosts(4) | {"up": "shared.lan", "down": "shared.lan"}
    failing = [failed(f"m{i}", Kind.CONNECT_TIMEOUT) for i in range(2)]
    failing.append(failed("down", Kind.CONNECT_TIMEOUT))
    assert "local" not in keys(correlate(failing, hosts))
    hosts.pop("up")  # with the passing monitor gone, 3 of 5 hosts fail: 60%
    assert keys(correlate(failing, hosts)) == ["local"]


def test_layers_are_not_mixed_into_one_local_cause() -> None:
    """A refused port on one host and unresolvable names on two others are not "this
    machine cannot resolve names": each layer must reach the threshold on its own."""
    failing = [
        failed("m0", Kind.CONNECT_REFUSED),
        failed("m1", Kind.DNS_NOT_FOUND),
        failed("m2", Kind.DNS_TIMEOUT),
    ]
    groups = correlate(failing, _many_hosts(3))
    assert "local" not in keys(groups)
    assert len(groups) == 3


def test_local_incident_leaves_other_failures_alone() -> None:
    """The local incident takes the DNS and connect failures; a 503 elsewhere keeps its own."""
    failing = [failed(f"m{i}", Kind.DNS_UNAVAILABLE) for i in range(4)]
    failing.append(failed("m4", Kind.HTTP_SERVER_ERROR))
    groups = correlate(failing, _many_hosts(5))
    assert keys(groups) == ["local", "host:h4.lan:http.server_error"]
    assert groups[0].monitors == ("m0", "m1", "m2", "m3")


def test_the_commonest_kind_names_the_cause_and_only_its_hosts_are_local() -> None:
    """Three resolver timeouts and one SERVFAIL: the local incident is named for the timeouts
    and takes their three hosts; the host failing with another kind keeps its own incident
    (issue 23: kinds are not forced together)."""
    failing = [failed(f"m{i}", Kind.DNS_TIMEOUT) for i in range(3)]
    failing.append(failed("m3", Kind.DNS_UNAVAILABLE))
    groups = correlate(failing, _many_hosts(4))
    assert keys(groups) == ["local", "host:h3.lan:dns.unavailable"]
    assert groups[0].kind is Kind.DNS_TIMEOUT
    assert groups[0].monitors == ("m0", "m1", "m2")


def test_hosts_failing_with_two_kinds_are_counted_apart() -> None:
    """Two hosts refusing and two timing out, of four: neither kind reaches 60% of the
    hosts, so nothing is blamed on this machine, though every host fails at connect."""
    failing = [failed(f"m{i}", Kind.CONNECT_REFUSED) for i in range(2)]
    failing += [failed(f"m{i}", Kind.CONNECT_TIMEOUT) for i in range(2, 4)]
    assert "local" not in keys(correlate(failing, _many_hosts(4)))
    failing[2] = failed("m2", Kind.CONNECT_REFUSED)  # 3 of 4 refuse: local, without m3
    groups = correlate(failing, _many_hosts(4))
    assert keys(groups) == ["local", "host:h3.lan:connect.timeout"]
    assert groups[0].monitors == ("m0", "m1", "m2")


def test_a_host_fails_with_the_commonest_kind_of_its_monitors() -> None:
    """A host whose monitors mostly refuse counts as refusing, and all of them (the one
    timing out too) are in the local incident."""
    hosts = _many_hosts(3) | {"x": "h0.lan", "y": "h0.lan"}
    failing = [failed(f"m{i}", Kind.CONNECT_REFUSED) for i in range(3)]
    failing += [failed("x", Kind.CONNECT_REFUSED), failed("y", Kind.CONNECT_TIMEOUT)]
    (group,) = correlate(failing, hosts)
    assert group.kind is Kind.CONNECT_REFUSED
    assert group.monitors == ("m0", "m1", "m2", "x", "y")


def test_local_rule_is_configurable() -> None:
    """local_min_hosts=2 and local_layers={tls} blame this machine for two hosts' TLS failures
    (say, its clock is wrong)."""
    rules = Correlation(local_min_hosts=2, local_layers=frozenset({Layer.TLS}))
    failing = [failed("m0", Kind.TLS_EXPIRED), failed("m1", Kind.TLS_EXPIRED)]
    (group,) = correlate(failing, _many_hosts(2), rules)
    assert group.cause == (
        "this machine cannot verify certificates: certificate expired or not yet valid "
        "(2 of 2 hosts at once)"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"local_min_hosts": 0}, "local_min_hosts: must be at least 1, not 0"),
        ({"local_fraction": 0}, "local_fraction: must be above 0 and at most 1, not 0"),
        ({"local_fraction": 1.5}, "local_fraction: must be above 0 and at most 1, not 1.5"),
        ({"local_wait": -1}, "local_wait: must be at least 0 s, not -1"),
    ],
)
def test_correlation_rules_reject_nonsense(changes: dict[str, float], message: str) -> None:
    """Correlation rules refuse values that cannot work, naming the setting and the value."""
    with pytest.raises(ValueError, match=message):
        Correlation(**changes)  # type: ignore[arg-type]


# --- kept in step one change at a time ---------------------------------------------------------


def reference(
    failing: dict[str, Observation],
    hosts: dict[str, str],
    rules: Correlation,
    passes: dict[str, float] | None = None,
) -> dict[str, str]:
    """Each failing monitor's group key, worked out from scratch by the rule's words alone
    (no counts kept): a host is down at a layer when every monitor placed on it fails there,
    or (every monitor on it monitored and seen passing once) one fails there and none has
    passed since that failure began; it fails with its commonest kind there, and the
    (layer, kind) with the most down hosts is local when it reaches the thresholds."""
    passes = passes or {}
    placed = {m: hosts.get(m, o.host) for m, o in failing.items()}
    on: dict[str, set[str]] = {}
    for m, h in hosts.items():
        on.setdefault(h, set()).add(m)
    for m, h in placed.items():
        if h is not None and m not in hosts:
            on.setdefault(h, set()).add(m)
    order = list(Kind)
    down: dict[tuple[Layer, Kind], set[str]] = {}
    for h, ms in on.items():
        watched = all(m in hosts and m in passes for m in ms)
        last = max((passes[m] for m in ms), default=0.0) if watched else 0.0
        for layer in Layer:
            there = [m for m in ms if m in failing and failing[m].layer is layer]
            every = len(there) == len(ms)
            early = watched and any(failing[m].timestamp > last for m in there)
            if there and (every or early):
                kinds = [failing[m].kind for m in there]
                kind = min(set(kinds), key=lambda k: (-kinds.count(k), order.index(k)))
                assert kind is not None
                down.setdefault((layer, kind), set()).add(h)
    best = min(
        ((lk, hs) for lk, hs in down.items() if lk[0] in rules.local_layers),
        key=lambda p: (-len(p[1]), p[0][0], order.index(p[0][1])),
        default=None,
    )
    local: tuple[Layer, set[str]] | None = None
    if best is not None:
        n = len(best[1])
        if n >= rules.local_min_hosts and n / len(on) >= rules.local_fraction:
            local = (best[0][0], best[1])
    out = {}
    for m, o in failing.items():
        h = placed[m]
        if local is not None and h in local[1] and o.layer is local[0]:
            out[m] = "local"
        elif o.kind is None:
            out[m] = f"monitor:{m}"
        elif h is None:
            out[m] = f"monitor:{m}:{o.kind.value}"
        else:
            out[m] = f"host:{h}:{o.kind.value}"
    return out


def test_failures_kept_in_step_agree_with_correlating_from_scratch() -> None:
    """Failures updated one change at a time (failing, back, another kind, another host, a
    monitor placed by its observation alone, passing checks, hosts reloaded) give each
    monitor the group that correlating the same failures and passes from scratch gives it,
    with the same cause."""
    rng = random.Random(23)
    # Mostly refusals, so that whole hosts fail at one layer and the local rule comes and goes.
    kinds = [Kind.CONNECT_REFUSED] * 6 + [Kind.CONNECT_TIMEOUT] * 3 + [Kind.DNS_TIMEOUT]
    kinds += [Kind.HTTP_SERVER_ERROR, None]
    names = [f"m{i}" for i in range(24)]
    hosts = {name: f"h{i % 10}.lan" for i, name in enumerate(names[:20])}  # 4 unmapped
    rules = Correlation(local_min_hosts=2, local_fraction=0.5)
    failures = Failures(hosts)
    current: dict[str, Observation] = {}
    passes: dict[str, float] = {}
    locals_seen = early_seen = 0
    for step in range(4000):
        name = rng.choice(names)
        # Time goes on, mostly; a check that passed may be told after a failure began
        # (checks run side by side), so a pass may be older than the latest failure.
        now = T + step - rng.choice([0, 0, 0, 2])
        if step % 500 == 499:  # a reload: other hosts, a monitor paused
            hosts = {n: f"h{rng.randrange(10)}.lan" for n in names[: rng.randrange(16, 22)]}
            failures.set_hosts(hosts)
            passes = {m: at for m, at in passes.items() if m in hosts}  # seen again first
        elif rng.random() < 0.25:  # a passing check (of a failing monitor, too: not up yet)
            passes[name] = max(now, passes.get(name, now))
            failures.passed(name, now)
        elif name in current and rng.random() < 0.3:
            del current[name]
            failures.set(name, None)
        else:
            kind = rng.choice(kinds)
            current[name] = Observation(
                name, False, now, kind=kind, host=f"h{rng.randrange(12)}.lan"
            )
            failures.set(name, current[name])
        scratch = correlate(current.values(), hosts, rules, passes)
        assert failures.groups(rules) == scratch
        by_words = reference(current, hosts, rules, passes)
        early_seen += by_words != reference(current, hosts, rules)
        assert {m: g.key for g in scratch for m in g.monitors} == by_words
        local = {m for m, key in by_words.items() if key == "local"}
        assert failures.local_hosts(rules) == {failures.host_of(m) for m in local}
        locals_seen += any(g.scope == "local" for g in scratch)
        for group in scratch:
            for monitor in group.monitors:
                kept = failures.group_of(monitor, rules)
                assert kept == dataclasses.replace(group, monitors=(monitor,))
    assert failures.group_of("nobody", rules) is None
    assert locals_seen > 100  # the local rule was exercised, on and off
    assert early_seen > 100  # and hosts counted down early changed it


def test_a_monitor_moved_counts_as_the_picture_worked_out_anew() -> None:
    """Monitors moved one at a time (added, moved to another host, removed: a discovery
    change) leave every host's standing as a whole new picture of the same monitors
    does, whatever failed and passed in between (random schedules, a fixed seed)."""
    rng = random.Random(44)
    kinds = [Kind.CONNECT_REFUSED, Kind.CONNECT_TIMEOUT, Kind.DNS_NOT_FOUND, None]
    hosts_pool = [f"h{i}" for i in range(5)]
    for _ in range(300):
        # Those that pass are never moved: a pass of a monitor moved away is kept as its
        # old host's latest (that host was reachable then), which a new picture forgets.
        stable = {f"s{i}": rng.choice(hosts_pool) for i in range(6)}
        moving: dict[str, str] = {}
        moved, whole = Failures(stable), Failures(stable)
        clock = T
        failing: dict[str, Observation] = {}
        for _ in range(40):
            clock += 1
            step = rng.random()
            name = rng.choice([*stable, "x0", "x1", "x2"])
            if step < 0.3 and name.startswith("x"):
                host = rng.choice([*hosts_pool, None])
                if host is None:
                    moving.pop(name, None)
                else:
                    moving[name] = host
                moved.move(name, host)
                whole.set_hosts({**stable, **moving})
            elif step < 0.7:
                kind = rng.choice(kinds)
                o = Observation(name, False, clock, kind=kind, host=rng.choice(hosts_pool))
                failing[name] = o
                moved.set(name, o)
                whole.set(name, o)
            elif step < 0.85 and name in failing:
                del failing[name]
                moved.set(name, None)
                whole.set(name, None)
            elif name in stable and name not in failing:
                moved.passed(name, clock)
                whole.passed(name, clock)
            assert moved.local_hosts() == whole.local_hosts()
            for monitor in failing:
                assert moved.host_of(monitor) == whole.host_of(monitor)
                assert moved.forming(monitor) == whole.forming(monitor)
                assert moved.group_of(monitor) == whole.group_of(monitor)
