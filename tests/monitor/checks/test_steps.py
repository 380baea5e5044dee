"""Multi-step API checks against a real HTTP API on loopback (aiohttp, started by each
test: tests/helpers/steps_api.py): log in → create → read → delete, with a token from a
JSON body, an ETag from a header and an id from a regular expression, each used by later
steps; a failure in each step, a value not found, a header value that would inject a
field, the time budget, and every taken value masked in what is stored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.helpers.steps_api import ETAG, TOKEN, Api, flow, serving
from tether._kinds import Kind
from tether.monitor.checks._prober import Check, Prober
from tether.monitor.config import Monitor, parse_config
from tether.monitor.config._fields import SECONDS_CONTEXT
from tether.probe import ProbeOptions, ProbeResult, probe_async


def _monitor(port: int, extra: str = "", text: str | None = None) -> Monitor:
    return parse_config("monitors:\n" + (text or flow(port, extra=extra))).monitors[0]


async def _check(m: Monitor, **kwargs: Any) -> Check:
    prober = Prober(**kwargs)
    prober.assign([m])
    return await prober.check(m.name, prober.mono())


def _run(api: Api, body: Callable[[int], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with serving(api) as port:
            return await body(port)

    return asyncio.run(main())


def test_the_four_steps_pass_each_taking_values_from_the_one_before() -> None:
    """The token goes into the next steps' Authorization (and, escaped, into a JSON
    string), the ETag into If-Match, the id (a regex's group) into the URL; the record
    is one verdict with every step's phases and conditions, prefixed by the step."""
    api = Api()

    async def body(port: int) -> Check:
        return await _check(_monitor(port))

    check = _run(api, body)
    record = check.record
    assert (record.ok, record.kind, record.detail) == (True, None, None)
    assert [s["route"] for s in api.seen] == ["login", "create", "read", "delete"]
    create, read, delete = api.seen[1:]
    assert create["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert create["headers"]["Accept"] == "application/json"  # the monitor's, every step
    assert json.loads(create["body"]) == {"name": "probe item", "owner": TOKEN}
    assert read["path"] == "/items/41"
    assert read["headers"]["If-Match"] == ETAG
    assert delete["method"] == "DELETE"
    assert delete["path"] == "/items/41"
    assert api.items == {}
    for step in ("login", "create", "read", "delete"):
        assert {f"{step}.connect", f"{step}.ttfb"} <= record.phases.keys()
    assert record.latency_ms >= sum(record.phases.values()) - 0.01
    assert record.conditions[0] == "login: [STATUS] (200) == 200"
    assert record.conditions[2] == "create: [STATUS] (201) == 201"
    assert len(record.conditions) == 6
    assert check.host.startswith("127.0.0.1:")
    assert check.timings["connect"] > 0


@pytest.mark.parametrize(
    ("route", "number", "status", "kind"),
    [
        ("login", 1, 500, Kind.HTTP_SERVER_ERROR),
        ("create", 2, 500, Kind.HTTP_SERVER_ERROR),
        ("read", 3, 503, Kind.HTTP_SERVER_ERROR),
        ("delete", 4, 404, Kind.HTTP_CLIENT_ERROR),
    ],
)
def test_a_failing_step_is_named_with_why_and_the_later_steps_never_run(
    route: str, number: int, status: int, kind: Kind | None
) -> None:
    """Step N answering a status its conditions refuse: the record says which step and
    which condition, and no later step sends anything."""
    api = Api(fail={route: status})

    async def body(port: int) -> Check:
        return await _check(_monitor(port))

    record = _run(api, body).record
    assert not record.ok
    assert record.kind is kind
    assert record.detail.startswith(f'step {number} "{route}": condition not met: [STATUS] ')
    assert f"({status})" in record.detail
    assert [s["route"] for s in api.seen][-1] == route
    assert len(api.seen) == number


def test_a_step_without_conditions_fails_on_its_status_with_its_kind() -> None:
    """No conditions on the step: a 500 is the step's failure, kind http.server_error."""
    api = Api(fail={"create": 500})

    async def body(port: int) -> Check:
        text = flow(port).replace('        conditions: ["[STATUS] == 201"]\n', "")
        return await _check(_monitor(port, text=text))

    record = _run(api, body).record
    assert record.kind is Kind.HTTP_SERVER_ERROR
    assert record.detail.startswith('step 2 "create": ')


def test_a_value_not_in_the_answer_fails_the_step_naming_the_path() -> None:
    """The login answers without a token: step 1 fails, naming the value and its path;
    nothing else is sent."""
    api = Api(no_token=True)

    async def body(port: int) -> Check:
        return await _check(_monitor(port))

    record = _run(api, body).record
    assert not record.ok
    assert record.detail == (
        'step 1 "login": extract token: [BODY].data.token found nothing in the answer'
    )
    assert len(api.seen) == 1


def test_a_refused_step_is_connect_refused_at_that_steps_service() -> None:
    """Step 3's port has nothing listening: connect.refused, grouped under that
    host:port, not the first step's."""
    api = Api()

    async def body(port: int) -> tuple[Check, int]:
        free = await _closed_port()
        read = f"{port}/items/[CONTEXT].id\n        headers: {{Authorization"
        text = flow(port).replace(read, read.replace(str(port), str(free)), 1)
        return await _check(_monitor(port, text=text)), free

    check, free = _run(api, body)
    assert check.record.kind is Kind.CONNECT_REFUSED
    assert check.record.detail.startswith('step 3 "read": ')
    assert check.host == f"127.0.0.1:{free}"
    assert "read.connect" in check.record.phases
    assert "delete.connect" not in check.record.phases


async def _closed_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


def test_a_value_that_would_break_a_header_fails_the_step_unsent() -> None:
    """A token holding CR LF (an injected field) is refused before the request that would
    carry it: the step fails saying which header, and the server sees no second request."""
    api = Api(token=TOKEN + "\r\nX-Injected: 1")

    async def body(port: int) -> Check:
        return await _check(_monitor(port))

    record = _run(api, body).record
    assert not record.ok
    assert record.detail == (
        'step 2 "create": the value of header Authorization contains a line break once '
        "its values are in"
    )
    assert len(api.seen) == 1


@pytest.mark.parametrize(
    ("condition", "ok"), [("[BODY].data.token != x", True), ("[BODY] == nope", False)]
)
def test_values_taken_are_masked_in_the_detail_and_the_conditions(condition: str, ok: bool) -> None:
    """A condition on the token's own answer, passing, and one failing that shows the
    whole body: the stored detail and conditions hold *** where the token was."""
    api = Api()

    async def body(port: int) -> Check:
        text = flow(port).replace(
            '"[BODY].user == probe"]', f'"[BODY].user == probe", "{condition}"]'
        )
        return await _check(_monitor(port, text=text))

    record = _run(api, body).record
    assert record.ok is ok
    shown = json.dumps([record.detail, record.conditions, dict(record.phases)])
    assert TOKEN not in shown
    assert TOKEN[:8] not in shown
    if ok:
        assert 'login: [BODY].data.token ("***") != x' in record.conditions
    else:
        assert record.detail == (
            'step 1 "login": condition not met: [BODY] ({"data": {"token": "***"}, '
            '"user": "probe"}) == nope'
        )


def test_the_monitors_timeout_bounds_the_whole_run() -> None:
    """Past the monitor's timeout after step 1 (a clock that jumps), step 2 is not sent:
    it fails deadline.exceeded saying so."""
    api = Api()
    now = [0.0]

    async def probe(url: str, options: ProbeOptions) -> ProbeResult:
        assert options.deadline <= 10.0
        result = await probe_async(url, options)
        now[0] += 11.0  # the monitor's timeout is 10 s
        return result

    async def body(port: int) -> Check:
        return await _check(_monitor(port), mono=lambda: now[0], probe=probe)

    record = _run(api, body).record
    assert record.kind is Kind.DEADLINE_EXCEEDED
    assert record.detail == 'step 2 "create": no time left of the monitor\'s timeout (10 s)'
    assert len(api.seen) == 1


def test_each_step_gets_what_is_left_of_the_timeout() -> None:
    """Each step's deadline is the monitor's timeout less what the steps before took."""
    api = Api()
    now = [0.0]
    deadlines: list[float] = []

    async def probe(url: str, options: ProbeOptions) -> ProbeResult:
        deadlines.append(options.deadline)
        now[0] += 2.0
        return await probe_async(url, options)

    async def body(port: int) -> Check:
        return await _check(_monitor(port), mono=lambda: now[0], probe=probe)

    assert _run(api, body).record.ok
    assert deadlines == [10.0, 8.0, 6.0, 4.0]


def test_a_steps_monitor_survives_the_agents_round_trip_and_runs() -> None:
    """The monitor as the server sends it to an agent (model_dump, then validated with
    durations in seconds) is the same monitor, and an agent's prober runs its steps."""
    from tether.monitor.config._monitor_wire import monitor_json

    api = Api()

    async def body(port: int) -> Check:
        m = _monitor(port)
        raw = json.loads(json.dumps(monitor_json(m)))
        again = Monitor.model_validate(raw, context={SECONDS_CONTEXT: True})
        assert again == m
        return await _check(again)

    assert _run(api, body).record.ok
    assert len(api.seen) == 4


def test_url_defaults_to_the_first_steps() -> None:
    """Without url:, a steps monitor's URL is its first step's (its service)."""
    m = _monitor(8080)
    assert m.url == "http://127.0.0.1:8080/login"
    assert m.steps is not None
    assert len(m.steps) == 4
