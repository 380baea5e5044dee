"""The records that carry per-location facts: a location's published state, what an
incident member and an alert keep of each location, and their JSON (stored columns and
webhook bodies), which stays as it was for a monitor of one location."""

from __future__ import annotations

import json

import pytest

from tests.helpers.alert_payloads import opened, resolved
from tether._kinds import Kind
from tether._plural import joined
from tether.monitor._records import (
    AlertPayload,
    Incident,
    LocationFact,
    LocationState,
    Member,
    facts_from_json,
)
from tether.monitor._state import State

T0 = 1_800_000_000.0
FACTS = {
    "eu-west": LocationFact(State.DOWN, Kind.CONNECT_TIMEOUT, "203.0.113.7:443 timed out", T0),
    "us-east": LocationFact(State.UP, since=T0 - 60),
    "ap-south": LocationFact(State.UNKNOWN, live=False),
}


@pytest.mark.parametrize(
    ("items", "text"),
    [([], ""), (["a"], "a"), (["a", "b"], "a and b"), (["a", "b", "c"], "a, b and c")],
)
def test_joined_writes_a_list_as_a_sentence(items: list[str], text: str) -> None:
    """``us-east and local``: the one helper for lists in prose."""
    assert joined(items) == text


def test_a_fact_says_why_its_location_fails() -> None:
    """The kind's code, flapping, or a condition not met; only a live location fails."""
    assert FACTS["eu-west"].why == "connect.timeout"
    assert FACTS["eu-west"].failing
    assert LocationFact(State.FLAPPING, Kind.CONNECT_TIMEOUT).why == "flapping"
    assert LocationFact(State.DOWN).why == "conditions not met"
    assert not LocationFact(State.DOWN, Kind.CONNECT_TIMEOUT, live=False).failing
    assert not FACTS["us-east"].failing


def test_facts_round_trip_through_json() -> None:
    """What a stored member or a queued alert keeps comes back the same; a failure without
    a kind is written ``condition`` and read back as None."""
    facts = {**FACTS, "local": LocationFact(State.DOWN, None, "[STATUS] (503) == 200", T0)}
    data = json.loads(json.dumps({k: v.to_json() for k, v in facts.items()}))
    assert data["local"]["kind"] == "condition"
    assert data["us-east"]["kind"] is None
    assert facts_from_json(data) == facts


@pytest.mark.parametrize("data", [None, [], "x", {"eu-west": "down"}])
def test_facts_from_anything_else_are_none(data: object) -> None:
    """A column an older tether wrote, or garbage: no locations, no exception."""
    assert facts_from_json(data) == {}


def test_a_fact_of_a_newer_tether_is_read_as_far_as_it_goes() -> None:
    """An unknown state is unknown, an unknown kind is ``unknown``."""
    fact = LocationFact.from_json({"state": "sleeping", "kind": "quantum.flux"})
    assert (fact.state, fact.kind, fact.live) == (State.UNKNOWN, Kind.UNKNOWN, True)


def test_a_location_state_round_trips_and_gives_its_fact() -> None:
    """The published row comes back equal; its fact drops what incidents do not show."""
    row = LocationState(
        "api",
        "eu-west",
        State.DOWN,
        T0,
        "3 consecutive checks failed (connect.timeout)",
        Kind.CONNECT_TIMEOUT,
        "203.0.113.7:443 timed out",
        "api.example.com",
        10_000.0,
    )
    assert LocationState.from_json(json.loads(json.dumps(row.to_json()))) == row
    assert row.fact() == FACTS["eu-west"]
    assert row.fact(live=False).live is False


def test_a_member_without_locations_is_stored_as_before() -> None:
    """A monitor of one location: the members column has exactly the keys it had."""
    member = Member(T0, alerted=True, opener=True)
    assert set(member.to_json()) == {"joined", "alerted", "escalated", "reminded", "opener"}
    assert Member.from_json(member.to_json(), T0) == member


def test_a_member_keeps_its_locations_in_the_members_column() -> None:
    """An open incident's per-location kinds survive a restart: they ride in the members
    JSON the store already writes (no new column)."""
    member = Member(T0, alerted=True, opener=True, locations=FACTS)
    again = Member.from_json(json.loads(json.dumps(member.to_json())), T0)
    assert again == member
    assert list(again.locations) == ["eu-west", "us-east", "ap-south"]  # order kept


def test_an_incident_knows_it_is_partial_and_shows_a_members_locations() -> None:
    """``partial:NAME`` keys a partial incident; ``locations(m)`` reads its member."""
    partial = Incident(
        3,
        "partial:api",
        Kind.CONNECT_TIMEOUT,
        "api unreachable from eu-west (connect.timeout), up from us-east",
        "",
        T0,
        members={"api": Member(T0, locations=FACTS)},
    )
    assert partial.is_partial
    assert partial.locations("api") == FACTS
    assert partial.locations("db") == {}
    assert not Incident(4, "host:db:connect.refused", None, "", "", T0).is_partial


def test_a_payload_without_locations_has_the_body_it_always_had() -> None:
    """Backward compatible: no ``locations`` key in a webhook body of one location."""
    body = opened().to_json()
    assert "locations" not in body
    assert AlertPayload.from_json(body) == opened()


def test_a_payload_with_locations_sends_and_reads_them_back() -> None:
    """The webhook body gains ``locations: {name: {state, kind, detail, since, live}}``,
    and an alert waiting in the outbox keeps them across a restart."""
    payload = opened(locations=FACTS)
    body = json.loads(json.dumps(payload.to_json()))
    assert body["locations"]["eu-west"] == {
        "state": "down",
        "kind": "connect.timeout",
        "detail": "203.0.113.7:443 timed out",
        "since": T0,
        "live": True,
    }
    assert body["locations"]["ap-south"]["live"] is False
    assert AlertPayload.from_json(body) == payload


def test_a_partial_resolution_names_the_kind_it_resolves() -> None:
    """``incident.partial_resolved`` is a resolution: ``kind`` null, ``resolves`` set."""
    body = resolved(event="incident.partial_resolved").to_json()
    assert (body["kind"], body["resolves"]) == (None, "connect.refused")
