"""``import_gatus`` held to properties over random Gatus configurations: whatever the
endpoints (any name, group, type, interval, timeout, conditions, alerts), the printed
configuration is one tether loads, and every endpoint is a monitor or a LeftOut naming
it: nothing is dropped in silence, and no import ends in a configuration tether refuses."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether._text import text_faults
from tether.monitor.config import parse_config
from tether.monitor.importers import ImportFailed, to_yaml
from tether.monitor.importers._values import shown, with_env_references
from tether.monitor.importers.gatus._import import import_gatus

NUL = "\0"  # dropped from every text: no tether file holds one
URLS = (
    "http://127.0.0.1:9/health",
    "https://127.0.0.1:9/",
    "tcp://127.0.0.1:9",
    "tls://127.0.0.1:9",
    "icmp://127.0.0.1",
    "ws://127.0.0.1:9/",
    "ssh://127.0.0.1:22",
    "starttls://127.0.0.1:587",
    "udp://127.0.0.1:9",
    "grpc://127.0.0.1:9",
    "127.0.0.1:53",  # with dns: below
    "ftp://127.0.0.1/",
)
CONDITIONS = (
    "[STATUS] == 200",
    "[STATUS] < 300",
    "[STATUS] == any(200, 429)",
    "[CONNECTED] == true",
    "[RESPONSE_TIME] < 500",
    "[IP] == 127.0.0.1",
    "[BODY] == 1",
    "[BODY].user.name == john",
    "[BODY].age == [BODY].id",
    "len([BODY].data) < 5",
    "has([BODY].errors) == false",
    "[BODY].name == pat(john*)",
    "[BODY] == pat(*served by*)",
    "[CERTIFICATE_EXPIRATION] > 48h",
    "[DOMAIN_EXPIRATION] > 720h",
    "[DNS_RCODE] == NOERROR",
    "[STATUS] = 200",
)
DURATIONS = st.sampled_from(("0", "500ms", "1s", "10s", "30s", "1m", "5m", "1h30m", "1.5h", "soon"))
ALERT_TYPES = st.sampled_from(("slack", "email", "custom", "pagerduty", "twilio", "nope"))

alert = st.fixed_dictionaries(
    {"type": ALERT_TYPES},
    optional={
        "failure-threshold": st.integers(1, 20),
        "success-threshold": st.integers(1, 20),
        "enabled": st.booleans(),
        "send-on-resolved": st.booleans(),
        "description": st.text(max_size=20),
        "minimum-reminder-interval": DURATIONS,
    },
)
endpoint = st.fixed_dictionaries(
    {"name": st.text(min_size=0, max_size=12), "url": st.sampled_from(URLS)},
    optional={
        "group": st.text(max_size=8),
        "enabled": st.booleans(),
        "interval": DURATIONS,
        "client": st.fixed_dictionaries(
            {},
            optional={
                "timeout": DURATIONS,
                "insecure": st.booleans(),
                "ignore-redirect": st.booleans(),
            },
        ),
        "conditions": st.lists(st.sampled_from(CONDITIONS), max_size=4),
        "alerts": st.lists(alert, max_size=3),
        "method": st.sampled_from(("GET", "POST", "HEAD")),
        "body": st.sampled_from(("", "ping", '{"a": 1}')),
        "extra-labels": st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=2),
    },
)


class _AnyEnv(Mapping[str, str]):
    """An environment where every ${NAME} the import kept is set (to "x")."""

    def __getitem__(self, name: str) -> str:
        return "x"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


ANY_ENV = _AnyEnv()

ALERTING: dict[str, Any] = {
    "slack": {"webhook-url": "https://hooks.slack.com/services/T0/B0/XXXX"},
    "email": {"from": "a@corp.test", "host": "127.0.0.1", "port": 587, "to": "b@corp.test"},
    "custom": {"url": "http://127.0.0.1:9/hook"},
    "pagerduty": {"integration-key": "k"},
    "twilio": {"sid": "s"},
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(endpoint, min_size=1, max_size=6))
def test_any_gatus_file_imports_to_a_configuration_tether_loads(
    endpoints: list[dict[str, Any]],
) -> None:
    """Every endpoint accounted for; the printed configuration loads."""
    for ep in endpoints:
        if ep["url"] == "127.0.0.1:53":
            ep["dns"] = {"query-name": "corp.test", "query-type": "A"}
    text = yaml.safe_dump({"alerting": ALERTING, "endpoints": endpoints}, allow_unicode=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(text, encoding="utf-8")
        endpoints = yaml.safe_load(path.read_text(encoding="utf-8"))["endpoints"]  # as read
        refused = ""
        try:
            result = import_gatus(str(path))
        except ImportFailed as exc:  # every endpoint left out: said in the one line
            refused = str(exc)
    if refused and next(text_faults(endpoints), None) is not None:
        # Text the one gate for text from outside refuses (a control character): the
        # file is refused in one line naming the field (issue 72 §1).
        assert " holds a" in refused
        return
    if refused:
        assert "none of its endpoints can be carried over" in refused
        return
    parse_config(to_yaml(result), env=ANY_ENV)
    # The importer's own net (a monitor tether refuses is left out) never had to catch.
    assert not [i for i in result.left_out if i.why.startswith("tether refuses it:")]
    # A LeftOut of a whole endpoint is named as the endpoint; of a part, with ": part".
    whats = {item.what for item in result.left_out}
    whole = [
        i
        for i, ep in enumerate(endpoints)
        if f"endpoints[{i}] ({shown(with_env_references(ep['name'].replace(NUL, '')))})" in whats
        or f"endpoints[{i}]" in whats
    ]
    assert len(result.config["monitors"]) + len(whole) == len(endpoints)
