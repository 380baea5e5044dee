"""``RetryPolicy``, ``Budget`` and ``Breaker`` as values: validation, defaults, immutability.

Pure: no clock is read, nothing sleeps, no socket is opened.
"""

from __future__ import annotations

import dataclasses
import random
import time

import pytest

import tether
from tether import Breaker, BreakerState, Budget, Guard, Kind, RetryPolicy

ENDPOINT = "127.0.0.1:9"
REFUSED = tether.classify(ConnectionRefusedError(111, "Connection refused"))


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("attempts", 0),
        ("attempts", -3),
        ("deadline", 0),
        ("deadline", -1.0),
        ("deadline", float("nan")),
        ("connect", -0.1),
        ("connect", float("nan")),
        ("read", -1.0),
        ("base", -0.5),
        ("base", float("nan")),
        ("cap", -1.0),
        ("retry_after_cap", -1.0),
        ("total", 0),
        ("total", -2.0),
        ("multiplier", 0.5),
        ("multiplier", float("nan")),
        ("jitter", "random"),
        ("jitter", "Full"),
        ("unhealthy_after", 0),
        ("sensitive_headers", "X-Tenant"),
        ("sensitive_headers", 5),
        ("sensitive_headers", ["X Tenant"]),
        ("sensitive_headers", [b"X-Tenant"]),
    ],
)
def test_bad_policy_value_raises_naming_the_field(field: str, value: object) -> None:
    """Each nonsense value is a ValueError whose message names the field and the value."""
    with pytest.raises(ValueError, match=rf"^RetryPolicy {field}=") as caught:
        RetryPolicy(**{field: value})  # type: ignore[arg-type]
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ratio", -0.1),
        ("ratio", float("nan")),
        ("per_second", -1.0),
        ("window", 0.5),
        ("window", 0),
    ],
)
def test_bad_budget_value_raises_naming_the_field(field: str, value: float) -> None:
    """Budget validates itself; the message names ``budget.<field>``."""
    with pytest.raises(ValueError, match=rf"^RetryPolicy budget\.{field}="):
        Budget(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("failures", 0),
        ("ratio", 0.0),
        ("ratio", 1.5),
        ("ratio", float("nan")),
        ("window", 0.9),
        ("min_calls", 0),
        ("cooldown", -1.0),
    ],
)
def test_bad_breaker_value_raises_naming_the_field(field: str, value: float) -> None:
    """Breaker validates itself; the message names ``breaker.<field>``."""
    with pytest.raises(ValueError, match=rf"^RetryPolicy breaker\.{field}="):
        Breaker(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"attempts": 1},
        {"deadline": None},
        {"deadline": 0.001},
        {"connect": 0.0, "read": 0.0, "base": 0.0, "cap": 0.0, "retry_after_cap": 0.0},
        {"total": 0.5},
        {"multiplier": 1.0},
        {"jitter": "decorrelated"},
        {"budget": None, "breaker": None},
        {"budget": Budget(ratio=0.0, per_second=0.0, window=1.0)},
        {"breaker": Breaker(failures=1, ratio=1.0, window=1.0, min_calls=1, cooldown=0.0)},
        {"unhealthy_after": 1},
    ],
)
def test_boundary_values_are_accepted(changes: dict[str, object]) -> None:
    """The edge of each rule is allowed: the checks reject nonsense, not small values."""
    policy = RetryPolicy(**changes)  # type: ignore[arg-type]
    for name, value in changes.items():
        assert getattr(policy, name) == value


def test_statuses_and_kinds_are_normalised_to_frozensets() -> None:
    """A list of statuses and kind strings become frozensets of ints and ``Kind`` members."""
    policy = RetryPolicy(statuses=[503, 503, 429], kinds={"connect.refused"})  # type: ignore[arg-type]
    assert policy.statuses == frozenset({429, 503})
    assert isinstance(policy.statuses, frozenset)
    assert policy.kinds == frozenset({Kind.CONNECT_REFUSED})
    assert all(isinstance(k, Kind) for k in policy.kinds)


def test_sensitive_headers_are_normalised_to_lower_case_names() -> None:
    """Any collection of header names becomes a frozenset of lower-case names, empty by
    default, and shows in the policy's repr."""
    assert RetryPolicy().sensitive_headers == frozenset()
    policy = RetryPolicy(sensitive_headers=["X-Tenant", "x-tenant", "X-Customer"])  # type: ignore[arg-type]
    assert policy.sensitive_headers == frozenset({"x-tenant", "x-customer"})
    assert "sensitive_headers=" in repr(policy)


def test_unknown_kind_string_is_rejected() -> None:
    """A misspelt kind fails when the policy is made, not silently never matching."""
    with pytest.raises(ValueError, match=r"^RetryPolicy kinds=.*'connect\.refsued' is not"):
        RetryPolicy(kinds={"connect.refsued"})  # type: ignore[arg-type]


# --- defaults ---------------------------------------------------------------------------------


def test_defaults_are_as_documented() -> None:
    """Every default matches the documented one (docs/retry.md and the class docstring)."""
    p = RetryPolicy()
    assert (p.attempts, p.deadline, p.connect, p.read, p.total) == (3, 60.0, 5.0, 30.0, None)
    assert (p.base, p.multiplier, p.cap, p.jitter) == (0.1, 2.0, 5.0, "full")
    assert p.statuses == frozenset({429, 502, 503, 504})
    assert p.kinds is None
    assert p.retry_unsafe is False
    assert p.retry_after_cap == 30.0
    assert p.budget == Budget(ratio=0.1, per_second=5.0, window=10.0)
    assert p.breaker == Breaker(failures=5, ratio=0.5, window=10.0, min_calls=20, cooldown=1.0)
    assert p.unhealthy_after == 3
    hooks = (p.on_retry, p.on_give_up, p.on_breaker_change, p.on_unhealthy, p.on_recovered)
    assert hooks == (None, None, None, None, None)
    assert p.clock is time.monotonic
    assert p.sleep is time.sleep
    assert p.async_sleep is None
    assert p.rand is random.random


def test_500_is_not_a_default_status() -> None:
    """A 500 is usually a bug, so it is left out; the "not now" statuses are in."""
    statuses = RetryPolicy().statuses
    assert 500 not in statuses
    assert {429, 502, 503, 504} <= statuses


def test_a_fresh_endpoint_has_closed_breaker_full_budget_and_good_health() -> None:
    """Before any call: circuit closed, budget at its floor of per_second * window, healthy."""
    p = Guard(RetryPolicy(budget=Budget(ratio=0.1, per_second=2.0, window=5.0), clock=lambda: 50.0))
    assert p.breaker_state(ENDPOINT) is BreakerState.CLOSED
    assert p.budget_left(ENDPOINT) == 10.0
    health = p.health(ENDPOINT)
    assert health.healthy
    assert (health.consecutive_failures, health.last_failure) == (0, None)


# --- immutability -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "field"),
    [(RetryPolicy(), "attempts"), (Budget(), "ratio"), (Breaker(), "failures")],
)
def test_values_are_frozen(value: object, field: str) -> None:
    """Assigning to a policy, budget or breaker field raises: they are values."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, 99)


def test_policy_has_no_instance_dict() -> None:
    """Slotted and frozen: a typo such as ``policy.atempts = 5`` cannot add an attribute."""
    policy = RetryPolicy()
    assert not hasattr(policy, "__dict__")
    # A frozen, slotted dataclass on Python 3.11 raises TypeError for a name it lacks.
    with pytest.raises((AttributeError, TypeError)):
        policy.atempts = 5  # type: ignore[attr-defined]


def test_policies_compare_by_value() -> None:
    """Two policies with the same settings are equal and hash alike: values, nothing more."""
    a, b = RetryPolicy(attempts=4), RetryPolicy(attempts=4)
    assert a == b
    assert hash(a) == hash(b)
    assert a != RetryPolicy(attempts=5)


def test_a_policy_holds_no_state() -> None:
    """No field, slot or method of a policy keeps per-endpoint records: a Guard does."""
    slots = set(RetryPolicy.__slots__)
    assert slots == {f.name for f in dataclasses.fields(RetryPolicy)}
    assert not any("state" in name for name in slots)
    for name in ("breaker_state", "health", "budget_left"):
        assert not hasattr(RetryPolicy, name)


# --- replace ---------------------------------------------------------------------------------


def test_replace_applies_changes_and_keeps_the_rest() -> None:
    """``replace`` returns a new policy with the changes; the original is untouched."""
    p = RetryPolicy(attempts=5, cap=2.0)
    q = p.replace(attempts=2, jitter="none")
    assert (q.attempts, q.cap, q.jitter) == (2, 2.0, "none")
    assert (p.attempts, p.jitter) == (5, "full")


def test_replace_validates() -> None:
    """A bad value through ``replace`` is rejected like one through the constructor."""
    with pytest.raises(ValueError, match=r"^RetryPolicy attempts=0"):
        RetryPolicy().replace(attempts=0)


@pytest.mark.parametrize(
    "make_copy",
    [lambda p: p.replace(), lambda p: p.replace(attempts=7), dataclasses.replace],
    ids=["replace()", "replace(attempts=7)", "dataclasses.replace"],
)
def test_replace_returns_a_value_and_leaves_the_guards_alone(make_copy: object) -> None:
    """A copy is a plain value: a guard made from it starts clean, and the guard that learnt
    under the original keeps what it learnt (replace() resets nothing behind anyone's back)."""
    p = RetryPolicy(breaker=Breaker(failures=2), clock=lambda: 100.0)
    guard = Guard(p)
    guard.first_attempt(ENDPOINT, 100.0)
    for _ in range(2):
        guard.record(ENDPOINT, REFUSED, 100.0)
        guard.spend_retry(ENDPOINT, 100.0)
    assert guard.breaker_state(ENDPOINT) is BreakerState.OPEN

    q = make_copy(p)  # type: ignore[operator]
    assert type(q) is RetryPolicy
    assert not hasattr(q, "__dict__")
    fresh = Guard(q)
    assert fresh.breaker_state(ENDPOINT) is BreakerState.CLOSED
    assert fresh.budget_left(ENDPOINT) == 50.0
    assert fresh.health(ENDPOINT).consecutive_failures == 0
    assert guard.breaker_state(ENDPOINT) is BreakerState.OPEN
    assert guard.health(ENDPOINT).consecutive_failures == 2


# --- repr ------------------------------------------------------------------------------------


def test_repr_of_defaults_is_empty() -> None:
    """``RetryPolicy()`` shows no fields."""
    assert repr(RetryPolicy()) == "RetryPolicy()"


def test_repr_shows_only_changed_fields_in_field_order() -> None:
    """Only fields that differ from the default appear, in declaration order."""
    p = RetryPolicy(deadline=2.0, attempts=5, jitter="none", budget=None)
    assert repr(p) == "RetryPolicy(attempts=5, deadline=2.0, jitter='none', budget=None)"


def test_repr_hides_a_value_equal_to_the_default() -> None:
    """Passing a default explicitly (even as a new but equal object) does not show it."""
    p = RetryPolicy(attempts=3, budget=Budget(), statuses=[504, 503, 502, 429])  # type: ignore[arg-type]
    assert repr(p) == "RetryPolicy()"


def test_repr_shows_changed_nested_values() -> None:
    """A changed budget or status set is shown with its own repr."""
    p = RetryPolicy(statuses=frozenset({503}), breaker=Breaker(failures=2))
    text = repr(p)
    assert text.startswith("RetryPolicy(statuses=frozenset({503}), breaker=Breaker(failures=2,")
    assert "_state" not in text
    assert "attempts" not in text


def test_repr_names_an_injected_clock() -> None:
    """An injected clock differs from the default, so it shows; state never does."""

    def fake_clock() -> float:
        return 0.0

    text = repr(RetryPolicy(clock=fake_clock))
    assert text.startswith("RetryPolicy(clock=<function ")
    assert "fake_clock" in text


@pytest.mark.parametrize("statuses", [{"503"}, {99}, {600}, {503.0}])
def test_statuses_must_be_http_status_codes(statuses: set[object]) -> None:
    """A status that could never match (a string, out of range) is refused, naming the field."""
    with pytest.raises(ValueError, match="statuses"):
        RetryPolicy(statuses=frozenset(statuses))  # type: ignore[arg-type]
