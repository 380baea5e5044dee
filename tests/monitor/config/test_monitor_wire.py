"""The agents' wire holds the whole monitor model (issue 44, section 3): every monitor a
loaded configuration can hold, of every type and option, with ``defaults:`` merged in,
is read back by the agent equal to what the server sent, with the same keys set.

The monitors are drawn from the models' own fields (:func:`model_fields`, walked from
:class:`Monitor` down through every model it holds): each field the walk finds takes its
values from :data:`VALUES`, written as a file writes them, and a field the table does not
know fails :func:`test_every_field_of_the_monitor_model_has_values`, so a new option is
covered the day it is added, or the suite says which one is not."""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from tether.monitor._agent_wire import Assignment
from tether.monitor.config import (
    Monitor,
    MonitorConfig,
    MonitorDefaults,
    TlsOptions,
    _dns,
    _rdap,
    _steps,
    parse_config,
)
from tether.monitor.config._load import loaded
from tether.monitor.config._models import Escalation
from tether.monitor.config._monitor_wire import monitor_json, read_monitor
from tether.monitor.config.alert_when._rule import AlertWhen
from tether.monitor.config.browser._options import (
    ACTIONS,
    BrowserOptions,
    BrowserStepConfig,
    FillStep,
    Viewport,
)

# -- the walk over the models -----------------------------------------------------------


def _fields(model: type) -> dict[str, Any]:
    """``model``'s fields and their annotations (a pydantic model or a dataclass)."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return {name: info.annotation for name, info in model.model_fields.items()}
    hints = typing.get_type_hints(model, include_extras=True)
    return {f.name: hints[f.name] for f in dataclasses.fields(model)}


def _models_in(annotation: Any) -> list[type]:
    """The models an annotation holds (``tuple[Step, ...] | None`` holds ``Step``)."""
    if isinstance(annotation, type) and (
        issubclass(annotation, BaseModel) or dataclasses.is_dataclass(annotation)
    ):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def model_fields(root: type = Monitor) -> Iterator[tuple[type, str, list[type]]]:
    """Every field of ``root`` and of the models it holds: (model, field, its models)."""
    seen: set[type] = set()
    todo = [root]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, annotation in _fields(model).items():
            inner = _models_in(annotation)
            yield model, name, inner
            todo += inner


# -- values as a file writes them ------------------------------------------------------

_seconds = st.sampled_from(["1s", "30s", "1m", "90s", "5m", "1h", "1d"])
_short = st.sampled_from(["200ms", "1s", "5s", "10s"])
_names = st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True) | st.sampled_from(
    ["api", "checkout eu", "café", "Ünïcode"]
)
_name_lists = st.lists(_names, max_size=3, unique=True) | _names
_secretish = st.sampled_from(["Bearer s3cret-token", "Basic dXNlcjpwYXNz", "text/html", "x"])
_header_names = st.sampled_from(["Authorization", "X-Api-Key", "Accept", "X-Trace-Id", "Cookie"])
_headers = st.dictionaries(_header_names, _secretish, max_size=3)
_urls = st.sampled_from(
    [
        "http://127.0.0.1:8080/health",
        "https://user:pa55word@api.test/health?x=1",
        "ws://127.0.0.1:9000/socket",
        "wss://stream.test/ws",
        "tcp://127.0.0.1:5432",
        "tls://mail.test:993",
        "dns://example.test",
        "ssh://127.0.0.1:22",
        "smtp://127.0.0.1:25",
        "smtps://mail.test:465",
        "grpc://127.0.0.1:50051",
        "grpcs://grpc.test:443/payments.Ledger",
        "icmp://127.0.0.1",
        "postgresql://tether:s3cret@127.0.0.1:5432/app",
        "mysql://root:pw@127.0.0.1:3306/app",
        "mariadb://127.0.0.1/app",
        "redis://:s3cret@127.0.0.1:6379/0",
        "rediss://cache.test:6380",
    ]
)
_conditions = st.sampled_from(
    [
        "[STATUS] == 200",
        "[RESPONSE_TIME] < 500ms",
        "[BODY].status == UP",
        "[CERTIFICATE_EXPIRATION] > 14d",
        "[DOMAIN_EXPIRATION] > 30d",
        "[CONNECTED] == true",
        "len([BODY].items) > 0",
    ]
)
_condition_lists = st.lists(_conditions, max_size=3) | _conditions
_step_urls = st.sampled_from(
    ["http://127.0.0.1:8080/login", "https://api.test/items/[CONTEXT].id?x=[CONTEXT].tok"]
)
_selectors = st.sampled_from(["#user", "button[type=submit]", "text=Welcome"])

VALUES: dict[tuple[type, str], st.SearchStrategy[Any]] = {}
"""The values of each field (by model and name) that holds no model of its own."""


def _values(model: type, **fields: st.SearchStrategy[Any]) -> None:
    for name, strategy in fields.items():
        VALUES[(model, name)] = strategy


_values(
    Monitor,
    name=_names,
    type=st.sampled_from(["probe", "push", "traffic"]),
    url=_urls,
    token=st.from_regex(r"[A-Za-z0-9._~-]{16,40}", fullmatch=True),
    cron=st.sampled_from(["*/5 * * * *", "0 2 * * sun", "30 9 * * 1-5"]),
    grace=_seconds,
    timezone=st.sampled_from(["UTC", "Europe/Paris", "America/New_York"]),
    app=st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True),
    endpoint=st.sampled_from(["*", "payments.internal:443", "*.internal:*"]),
    consecutive=st.integers(0, 1000),
    failure_ratio=st.floats(0.01, 1.0),
    window=_seconds,
    min_calls=st.integers(1, 1000),
    method=st.sampled_from(["GET", "post", "HEAD", "PUT"]),
    headers=_headers,
    body=st.none() | st.text(max_size=30),
    follow_redirects=st.booleans(),
    max_redirects=st.integers(0, 50),
    http_version=st.sampled_from(["1.1", 1.1, 3, "3", "auto"]),
    interval=_seconds,
    timeout=_short,
    conditions=_condition_lists,
    failure_threshold=st.integers(1, 10),
    success_threshold=st.integers(1, 10),
    alerts=_name_lists,
    depends_on=_name_lists,
    resolver=st.none() | st.sampled_from(["127.0.0.1:53", "[::1]:5353", "127.0.0.53"]),
    query=st.none() | st.sampled_from(["SELECT 1", "PING", "GET health"]),
    role=st.sampled_from(["primary", "any"]),
    latency_margin=st.none() | st.floats(0.5, 1000),
    remind_every=st.none() | st.sampled_from(["1m", "15m", "4h"]),
    locations=st.lists(st.sampled_from(["local", "branch-1", "branch-2"]), min_size=1, unique=True),
    quorum=st.sampled_from([1, 2, "2", "majority"]),
    partial_alerts=st.booleans(),
    labels=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
            lambda n: n not in {"monitor", "event", "kind", "location", "incident", "severity"}
        ),
        st.text(max_size=12),
        max_size=3,
    ),
    paused=st.booleans(),
)
_values(
    AlertWhen,
    failures=st.integers(1, 50),
    failure_ratio=st.sampled_from(["20%", "100%", 0.5, "2.5%"]),
    within=_seconds,
    min_checks=st.integers(1, 50),
)
_values(
    _dns.DnsOptions,
    record_type=st.sampled_from(["A", "aaaa", "MX", "TXT", "CNAME", "NS"]),
    answers=st.lists(st.sampled_from(["127.0.0.1", "mail.test.", "v=spf1 -all"]), max_size=2),
    rcode=st.sampled_from(["NOERROR", "nxdomain", "SERVFAIL"]),
    dnssec=st.booleans(),
    trust_anchor=st.lists(st.sampled_from(["/etc/tether/anchor.ds", "zone.key"]), max_size=2),
)
_values(
    _rdap.RdapOptions,
    domain=st.none() | st.sampled_from(["corp.test", "Example.COM."]),
    bootstrap=st.sampled_from(
        ["https://rdap.test/dns.json", "http://127.0.0.1:8/dns.json", "/etc/rdap.json"]
    ),
    refresh=_seconds,
    cache=_seconds,
)
_values(
    TlsOptions,
    min_days_left=st.integers(0, 365),
    ca_file=st.none() | st.just("/etc/tether/ca.pem"),
    insecure=st.booleans(),
)
_values(
    BrowserOptions,
    fail_on_console_errors=st.booleans(),
    fail_on_failed_requests=st.booleans(),
    concurrency=st.integers(1, 64),
    executable=st.none() | st.just("/usr/bin/chromium"),
)
_values(BrowserStepConfig, click=_selectors, wait_for_text=_selectors, wait_for=_selectors)
_values(FillStep, selector=_selectors, value=st.text(max_size=20))
_values(Viewport, width=st.integers(200, 4000), height=st.integers(200, 4000))
_values(Escalation, after=_seconds, alerts=_name_lists.filter(bool))
_values(
    _steps.Step,
    name=st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True),
    url=_step_urls,
    method=st.sampled_from(["GET", "post"]),
    headers=_headers,
    body=st.none() | st.just('{"user": "[CONTEXT].tok"}'),
    conditions=_condition_lists,
)
_values(
    _steps.Extraction,
    from_=st.sampled_from(["[BODY].data.token", "[HEADER].etag"]),
    regex=st.none() | st.sampled_from(["id=(\\d+)", "[a-f0-9]{8}"]),
)

# -- monitors drawn from the walk ------------------------------------------------------

STRUCTURE: dict[tuple[type, str], st.SearchStrategy[Any]] = {}
"""Fields that hold models whose shape a random subset of keys would rarely meet: a rule
that is one of two forms, a step that is exactly one action.  Still drawn from the
models' fields, through :func:`model_data`."""


def _key(model: type, name: str) -> str:
    if issubclass(model, BaseModel):
        return model.model_fields[name].alias or name
    return name


def _required(model: type, name: str) -> bool:
    if issubclass(model, BaseModel):
        return model.model_fields[name].is_required()
    field = {f.name: f for f in dataclasses.fields(model)}[name]
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def field_data(model: type, name: str) -> st.SearchStrategy[Any]:
    """What a file may write for ``model``'s field ``name``."""
    if (model, name) in STRUCTURE:
        return STRUCTURE[(model, name)]
    if (model, name) in VALUES:
        return VALUES[(model, name)]
    inner = _models_in(_fields(model)[name])
    if len(inner) != 1:
        raise LookupError(f"{model.__name__}.{name}: no values (add them to VALUES)")
    (held,) = inner
    one = model_data(held)
    if "tuple[" in str(_fields(model)[name]):
        return st.lists(one, min_size=0, max_size=3)
    return one


def model_data(
    model: type, *, only: frozenset[str] | None = None, must: frozenset[str] = frozenset()
) -> st.SearchStrategy[dict[str, Any]]:
    """A mapping a file may write for ``model``: its required keys, and each other key
    (of ``only``, if given) or not."""
    names = [n for n in _fields(model) if only is None or n in only]
    required = {
        _key(model, n): field_data(model, n) for n in names if _required(model, n) or n in must
    }
    optional = {
        _key(model, n): field_data(model, n)
        for n in names
        if not (_required(model, n) or n in must)
    }
    return st.fixed_dictionaries(required, optional=optional)


STRUCTURE[(Monitor, "alert_when")] = model_data(
    AlertWhen, only=frozenset({"failures", "within"}), must=frozenset({"failures"})
) | model_data(
    AlertWhen,
    only=frozenset({"failure_ratio", "within", "min_checks"}),
    must=frozenset({"failure_ratio"}),
)
STRUCTURE[(BrowserOptions, "steps")] = st.lists(
    st.one_of(
        [model_data(BrowserStepConfig, only=frozenset({a}), must=frozenset({a})) for a in ACTIONS]
    ),
    max_size=3,
)
STRUCTURE[(_steps.Step, "extract")] = st.dictionaries(
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
    model_data(_steps.Extraction) | VALUES[(_steps.Extraction, "from_")],
    max_size=2,
)
STRUCTURE[(Monitor, "steps")] = st.lists(model_data(_steps.Step), min_size=2, max_size=4)


def test_every_field_of_the_monitor_model_has_values() -> None:
    """Each field of the monitor model, and of every model it holds, has values to draw
    (from VALUES, or from the walk when it holds one model); the table names no field the
    models lost; and every key of defaults: is a monitor's key, drawn from the same."""
    walked = set()
    missing = []
    for model, name, inner in model_fields(Monitor):
        walked.add((model, name))
        if (model, name) in VALUES or (model, name) in STRUCTURE:
            continue
        if len(inner) != 1:
            missing.append(f"{model.__name__}.{name}")
    assert not missing, f"no values for {', '.join(missing)}: add them to VALUES"
    stale = [f"{m.__name__}.{n}" for m, n in (VALUES.keys() | STRUCTURE.keys()) - walked]
    assert not stale, f"VALUES names fields the models no longer have: {stale}"
    assert set(MonitorDefaults.model_fields) <= set(Monitor.model_fields)


# -- the property ------------------------------------------------------------------------


@st.composite
def configurations(draw: st.DrawFn) -> dict[str, Any]:
    """A file's data of one to three monitors, defaults: and probe:'s browser settings."""
    monitors = draw(st.lists(model_data(Monitor), min_size=1, max_size=3))
    defaults = draw(
        st.fixed_dictionaries(
            {}, optional={n: field_data(Monitor, n) for n in MonitorDefaults.model_fields}
        )
    )
    probe = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "browser_concurrency": st.integers(1, 64),
                "browser_executable": st.just("/opt/chromium"),
            },
        )
    )
    return {
        "locations": ["local", "branch-1", "branch-2"],
        "probe": probe,
        "defaults": defaults,
        "monitors": monitors,
    }


def _loaded(data: dict[str, Any]) -> MonitorConfig:
    """``data`` loaded (defaults applied, locations filled in, the browser settings of
    probe: given); what the file's cross-checks would refuse is kept: the agent's model
    knows nothing of them.  Data the models refuse is not a configuration: rejected."""
    try:
        config = MonitorConfig.model_validate(json.loads(json.dumps(data)))
    except ValidationError:
        reject()
    return loaded(config)


def _set_keys(model: object) -> object:
    """The keys set in ``model`` and in every model it holds, as a comparable tree."""
    if isinstance(model, BaseModel):
        return {name: _set_keys(getattr(model, name)) for name in sorted(model.model_fields_set)}
    if isinstance(model, tuple | list):
        return [_set_keys(item) for item in model]
    if isinstance(model, dict):
        return {key: _set_keys(item) for key, item in model.items()}
    return None


@pytest.mark.timeout(300)  # 300 examples take 25 s alone, and more on a loaded machine
@settings(
    max_examples=300,
    deadline=None,  # the first examples import the probe engine's parts lazily
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(configurations())
def test_every_monitor_reads_back_equal_through_the_assignment(data: dict[str, Any]) -> None:
    """What the server sends in an assignment (as JSON text), the agent reads back as
    the same monitor: equal values, the same keys set, secrets as themselves."""
    config = _loaded(data)
    assignment = Assignment(
        version="v",
        location="branch-1",
        monitors=tuple(monitor_json(m) for m in config.monitors),
        lease=60.0,
        batch_every=5.0,
        server_time=1_800_000_000.0,
    )
    carried = Assignment.from_json(json.loads(json.dumps(assignment.to_json())))
    for sent, raw in zip(config.monitors, carried.monitors, strict=True):
        back = read_monitor(raw)
        assert back == sent
        assert _set_keys(back) == _set_keys(sent)
        if sent.token is not None and back.token is not None:
            assert back.token.get_secret_value() == sent.token.get_secret_value()


@pytest.mark.parametrize(
    "monitor",
    [
        "{name: api, url: 'http://127.0.0.1:9/', alert_when: {failures: 3, within: 5m}}",
        "{name: api, url: 'http://127.0.0.1:9/', alert_when: {failure_ratio: 20%, within: 15m}}",
        "{name: api, url: 'http://127.0.0.1:9/'}",
    ],
)
def test_a_monitor_of_alert_when_failures_reaches_the_agent(monitor: str) -> None:
    """The reproduction of issue 44: alert_when: {failures: N, within: D} was refused by
    every agent ("min_checks goes with failure_ratio"), because the server sent the
    default min_checks beside it; so was the same rule given by defaults:."""
    for text in (
        f"monitors:\n  - {monitor}\n",
        "defaults: {alert_when: {failures: 3, within: 5m}}\n"
        "monitors:\n  - {name: api, url: 'http://127.0.0.1:9/'}\n",
    ):
        (sent,) = parse_config(text).monitors
        back = read_monitor(json.loads(json.dumps(monitor_json(sent))))
        assert back == sent
        assert _set_keys(back) == _set_keys(sent)
