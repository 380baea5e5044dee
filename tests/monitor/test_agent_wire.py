"""The agent's wire (``_agent_wire.py``): what one side writes the other reads back as it
was, and anything else is one ``AgentWireError`` line naming the field, never a traceback."""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether._kinds import Kind
from tether._text import text_problem
from tether.monitor._agent_wire import (
    MAX_BATCH,
    PROTOCOL,
    AgentCheck,
    AgentWireError,
    Assignment,
    Batch,
    NotRun,
    Receipt,
    batches,
    new_batch_id,
)
from tether.monitor._records import ProbeRecord

# What the one gate for text from outside takes (tether._text.text_problem): no lone
# surrogate, no control character but tab and the line ends, no noncharacter.
_chars = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r")


def _free(min_size: int = 0, max_size: int = 60) -> st.SearchStrategy[str]:
    return st.text(_chars, min_size=min_size, max_size=max_size).filter(
        lambda t: text_problem(t) is None
    )


_names = _free(1, 40)
_ms = st.none() | st.floats(min_value=0, max_value=1e9, allow_nan=False)
_times = st.floats(min_value=0, max_value=4e9, allow_nan=False)


@st.composite
def checks(draw: st.DrawFn) -> AgentCheck:
    ok = draw(st.booleans())
    kind = None if ok else draw(st.none() | st.sampled_from(list(Kind)))
    record = ProbeRecord(
        monitor=draw(_names),
        ts=draw(_times),
        ok=ok,
        kind=kind,
        latency_ms=draw(_ms),
        detail=draw(st.none() | _free()),
        phases=draw(
            st.dictionaries(
                st.sampled_from(["dns", "connect", "tls", "ttfb"]),
                st.floats(0, 1e6, allow_nan=False),
            )
        ),
        conditions=tuple(draw(st.lists(_free(max_size=30), max_size=3))),
        lag_ms=draw(_ms),
    )
    return AgentCheck(
        record=record,
        host=draw(_free(max_size=40)),
        timings=draw(st.dictionaries(st.sampled_from(["resolve", "connect"]), st.floats(0, 100))),
        cert_days_left=draw(st.none() | st.integers(-1000, 1000)),
        cert_expires=draw(st.none() | _times),
    )


def _round_trip(data: dict[str, Any]) -> Any:
    """Through JSON text, as the wire carries it."""
    return json.loads(json.dumps(data))


_not_run = st.builds(NotRun, _names, _names, _times)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.lists(checks(), max_size=5),
    _times,
    st.integers(0, 10**9),
    st.none() | _free(1, 20),
    st.none() | st.lists(_not_run, max_size=3).map(tuple),
)
def test_a_batch_reads_back_as_it_was_written(
    found: list[AgentCheck],
    sent_at: float,
    dropped: int,
    assignment: str | None,
    cannot_run: tuple[NotRun, ...] | None,
) -> None:
    """A batch, with or without what its agent does not run (an older agent says
    nothing), reads back equal through JSON text."""
    batch = Batch(
        new_batch_id(), "branch-1", sent_at, tuple(found), dropped, "host:1", "1.0",
        assignment, cannot_run,
    )  # fmt: skip
    assert Batch.from_json(_round_trip(batch.to_json())) == batch


def test_receipt_and_assignment_read_back() -> None:
    receipt = Receipt(taken=3, duplicate=False, offset=-1.25, server_time=1_700_000_000.0)
    assert Receipt.from_json(_round_trip(receipt.to_json())) == receipt
    assignment = Assignment(
        version="v1",
        location="branch-1",
        monitors=({"name": "api", "url": "http://127.0.0.1:8080/"},),
        lease=60.0,
        batch_every=5.0,
        server_time=1_700_000_000.0,
    )
    assert Assignment.from_json(_round_trip(assignment.to_json())) == assignment
    kept = replace(assignment, max_age=604_800.0)
    assert Assignment.from_json(_round_trip(kept.to_json())) == kept


def _batch(**changes: Any) -> dict[str, Any]:
    check = AgentCheck(ProbeRecord("api", 1_700_000_000.0, False, Kind.CONNECT_REFUSED), "h:1")
    data = Batch(new_batch_id(), "branch-1", 1_700_000_000.0, (check,)).to_json()
    for path, value in changes.items():
        target: Any = data
        *steps, last = path.split("__")
        for step in steps:
            target = target[int(step)] if step.isdigit() else target[step]
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"protocol": 2}, "protocol: 2, and this tether speaks 1"),
        ({"id": "not hex!"}, "id: not a batch id"),
        ({"id": "abc"}, "id: not a batch id"),
        ({"sent_at": math.nan}, "sent_at: not a finite number"),
        ({"sent_at": math.inf}, "sent_at: not a finite number"),
        ({"sent_at": -5}, "sent_at: not a time"),
        ({"sent_at": "now"}, "sent_at: not a number"),
        ({"sent_at": True}, "sent_at: not a number"),
        ({"location": ""}, "location: empty"),
        ({"dropped": -1}, "dropped: not a count"),
        ({"dropped": 10**9 + 1}, "dropped: not a count from 0 to 1,000,000,000"),
        ({"protocol": True}, "protocol: True, and this tether speaks 1"),
        ({"assignment": 7}, "assignment: not text"),
        ({"cannot_run": {}}, "cannot_run: not a list of at most 1,000"),
        ({"cannot_run": [{}] * 1001}, "cannot_run: not a list of at most 1,000"),
        ({"cannot_run": [{"monitor": "api", "since": 1.0}]}, "cannot_run[0].why: not text"),
        (
            {"cannot_run": [{"monitor": "api", "why": "x", "since": -1}]},
            "cannot_run[0].since: not a time",
        ),
        ({"results": {}}, "results: not a list"),
        ({"results__0__ok": "yes"}, "results[0].ok: not true or false"),
        ({"results__0__ts": 1e300}, "results[0].ts: not a time"),
        ({"results__0__latency_ms": -3}, "results[0].latency_ms: not a duration in ms"),
        ({"results__0__phases": {"dns": math.nan}}, "results[0].phases.dns: not a finite"),
        ({"results__0__phases": [1]}, "results[0].phases: not an object"),
        ({"results__0__monitor": "x" * 300}, "results[0].monitor: longer than 256"),
        ({"results__0__detail": "x" * 5000}, "results[0].detail: longer than 4,096"),
        ({"results__0__conditions": ["a"] * 65}, "results[0].conditions: not a list of at most"),
        ({"results__0__cert_days_left": 1.5}, "results[0].cert_days_left: not a whole number"),
    ],
)
def test_a_broken_batch_is_one_line_naming_the_field(changes: dict[str, Any], says: str) -> None:
    with pytest.raises(AgentWireError) as raised:
        Batch.from_json(_batch(**changes))
    assert says in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_batch_above_the_bound_is_refused_before_its_checks_are_read() -> None:
    data = _batch()
    data["results"] = [None] * (MAX_BATCH + 1)
    with pytest.raises(AgentWireError, match="more than 5,000 a batch"):
        Batch.from_json(data)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=20,
)


@given(_json)
def test_anything_else_is_a_wire_error_never_another(data: object) -> None:
    for reader in (Batch.from_json, Receipt.from_json, Assignment.from_json, AgentCheck.from_json):
        with contextlib.suppress(AgentWireError):
            reader(data)


def test_an_unknown_kind_from_a_newer_agent_is_read_as_unknown() -> None:
    data = _batch(results__0__kind="connect.someday")
    assert Batch.from_json(data).checks[0].record.kind is Kind.UNKNOWN


def test_an_assignment_whose_batches_would_outlive_the_lease_is_refused() -> None:
    good = Assignment("v", "b", (), 60.0, 5.0, 1.0).to_json()
    with pytest.raises(AgentWireError, match="batch_every"):
        Assignment.from_json({**good, "batch_every": 60.0})
    with pytest.raises(AgentWireError, match="monitors\\[0\\]: not a JSON object"):
        Assignment.from_json({**good, "monitors": ["api"]})


def test_batches_cut_at_the_bound_and_an_empty_spool_sends_one_empty_batch() -> None:
    check = AgentCheck(ProbeRecord("api", 1.0, True), "h")
    assert batches([]) == [()]
    cut = batches([check] * 7, size=3)
    assert [len(b) for b in cut] == [3, 3, 1]
    assert PROTOCOL == 1


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"agent": "host\ud800"}, "agent: holds a lone surrogate"),
        ({"version": "1.0\x00"}, "version: holds a control character (U+0000)"),
        (
            {"cannot_run": [{"monitor": "api", "why": "no\x1b[2J", "since": 1.0}]},
            "cannot_run[0].why: holds a control character (U+001B)",
        ),
        ({"results__0__detail": "refused\ud800"}, "results[0].detail: holds a lone surrogate"),
        ({"results__0__host": "h\uffff"}, "results[0].host: holds a noncharacter"),
        ({"results__0__conditions": ["[STATUS] \x7f"]}, "results[0].conditions[0]: holds a"),
    ],
)
def test_text_no_page_can_carry_is_one_line_naming_the_field(
    changes: dict[str, Any], says: str
) -> None:
    """The one gate for text from outside holds the wire (issue 72 §1): an agent's name,
    version, a reason it cannot run a monitor, a check's detail, host or condition that
    holds a lone surrogate, a control character or a noncharacter is refused, naming the
    field, before anything is taken (a detail with a lone surrogate had opened an
    incident in memory that the store then refused: an incident lost)."""
    with pytest.raises(AgentWireError) as raised:
        Batch.from_json(_batch(**changes))
    assert says in str(raised.value)


def test_lines_and_tabs_in_a_detail_are_the_agents_own() -> None:
    """A detail keeps its line ends and tabs, and right-to-left text."""
    detail = "line one\r\n\tline two שלום"
    assert Batch.from_json(_batch(results__0__detail=detail)).checks[0].record.detail == detail
