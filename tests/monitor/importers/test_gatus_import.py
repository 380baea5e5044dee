"""``import_gatus``: a Gatus configuration using what Gatus's README documents (each part
shaped as the README's own example, pointed at the lab), imported, loaded by tether, and
each imported monitor checked once against its loopback target, so what a Gatus
condition meant is what tether finds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tether.lab import Lab
from tether.monitor import ProbeRecord
from tether.monitor.config import parse_config
from tether.monitor.importers import ImportFailed, to_yaml
from tether.monitor.importers.gatus._import import import_gatus

SLACK_SECRET = "XXXXslackSECRETXXXX"
SMTP_SECRET = "hunter2-smtp-SECRET"
BCRYPT = "JDJhJDEwJHRiMnRFakxWazZLdXBzRERQazB1TE8vckRLY05Yb1hSdnoxWU0yQ1FaYXZRSW1McmladDYu"
"""The README's: "hunter2" hashed with bcrypt, then base64."""


def gatus_config(lab: Lab) -> str:
    """Gatus's README examples, one after another, their URLs the lab's."""
    healthy, refused, tls = lab["healthy"], lab["refused"], lab["tls_ok"]
    return f"""\
metrics: true
storage:
  type: sqlite
  path: data.db
web:
  port: 8080
ui:
  title: Health Dashboard
security:
  basic:
    username: "john.doe"
    password-bcrypt-base64: "{BCRYPT}"
concurrency: 3
announcements:
  - timestamp: 2025-11-07T14:00:00Z
    type: outage
    message: "Scheduled maintenance on database servers from 14:00 to 16:00 UTC"
alerting:
  slack:
    webhook-url: "https://hooks.slack.com/services/T0000/B0000/{SLACK_SECRET}"
    default-alert:
      description: "health check failed"
      send-on-resolved: true
      failure-threshold: 5
      success-threshold: 5
  discord:
    webhook-url: "https://discord.com/api/webhooks/1234567890/abcdefTOKEN"
  email:
    from: "from@corp.test"
    username: "from@corp.test"
    password: "{SMTP_SECRET}"
    host: "mail.corp.test"
    port: 587
    to: "recipient1@corp.test,recipient2@corp.test"
    client:
      insecure: false
  custom:
    url: "http://127.0.0.1:9/gatus"
    method: "POST"
    body: |
      {{
        "text": "[ALERT_TRIGGERED_OR_RESOLVED]: [ENDPOINT_GROUP] - [ENDPOINT_NAME]"
      }}
  pagerduty:
    integration-key: "********************************"
  telegram:
    token: "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
    id: "0123456789"
    topic-id: "7"
  ntfy:
    topic: "gatus-test-topic"
    priority: 2
    token: faketoken
  gotify:
    server-url: "https://gotify.example"
    token: "**************"
  teams:
    webhook-url: "https://********.webhook.office.com/webhookb2/************"
  twilio:
    sid: "..."
maintenance:
  start: 23:00
  duration: 1h
  timezone: "Europe/Amsterdam"
  every: [Monday, Thursday]
endpoints:
  - name: website
    group: core
    url: "{healthy.url}"
    interval: 5m
    client:
      timeout: 5s
    conditions:
      - "[STATUS] == 200"
      - "[BODY] == pat(ok*)"
      - "[RESPONSE_TIME] < 3000"
    alerts:
      - type: slack
      - type: custom
        failure-threshold: 10
        success-threshold: 3
        send-on-resolved: true
        description: "health check failed"
    extra-labels:
      environment: staging
    maintenance-windows:
      - start: "07:30"
        duration: 40m
        timezone: "Europe/Berlin"
  - name: website
    group: backend
    url: "{healthy.url}"
    method: POST
    headers:
      Content-Type: application/json
    body: '{{"query": "ping"}}'
    conditions:
      - "[STATUS] == any(200, 429)"
      - "[DOMAIN_EXPIRATION] > 720h"
  - name: down
    url: "{refused.url}"
    conditions:
      - "[STATUS] == 200"
    alerts:
      - type: pagerduty
      - type: email
        enabled: false
      - type: telegram
        send-on-resolved: true
  - name: redis
    url: "tcp://{healthy.host}:{healthy.port}"
    interval: 30s
    conditions:
      - "[CONNECTED] == true"
    alerts:
      - type: discord
      - type: ntfy
      - type: gotify
      - type: teams
  - name: tls-ldaps-example
    url: "tls://{tls.host}:{tls.port}"
    interval: 30m
    client:
      timeout: 5s
      insecure: true
    conditions:
      - "[CONNECTED] == true"
      - "[CERTIFICATE_EXPIRATION] > 48h"
  - name: example-dns-query
    url: "{lab.resolver}"
    dns:
      query-name: "ok.lab.test"
      query-type: "A"
    conditions:
      - "[CONNECTED] == true"
      - "[BODY] == 127.0.0.1"
      - "[DNS_RCODE] == NOERROR"
  - name: wrong-dns-answer
    url: "{lab.resolver}"
    dns:
      query-name: "ok.lab.test"
      query-type: "A"
    conditions:
      - "[BODY] == 127.0.0.2"
  - name: ping-example
    url: "icmp://127.0.0.1"
    conditions:
      - "[CONNECTED] == true"
  - name: example
    url: "ws://127.0.0.1:9/"
    body: "status"
    conditions:
      - "[CONNECTED] == true"
      - "[BODY] == pat(*served by*)"
  - name: starttls-smtp-example
    url: "starttls://127.0.0.1:587"
    interval: 30m
    conditions:
      - "[CONNECTED] == true"
      - "[CERTIFICATE_EXPIRATION] > 48h"
  - name: ssh-example-password
    url: "ssh://127.0.0.1:22"
    ssh:
      username: "username"
      password: "password"
    interval: 1m
    conditions:
      - "[CONNECTED] == true"
      - "[STATUS] == 0"
  - name: udp-example
    url: "udp://127.0.0.1:80"
    conditions:
      - "[CONNECTED] == true"
  - name: my-grpc
    url: grpc://127.0.0.1:50051
    conditions:
      - "[CONNECTED] == true"
  - name: disabled
    enabled: false
    url: "{healthy.url}"
    conditions:
      - "[STATUS] == 200"
external-endpoints:
  - name: ext-ep-test
    group: core
    token: "potato"
    heartbeat:
      interval: 30m
    alerts:
      - type: discord
        description: "healthcheck failed"
        send-on-resolved: true
"""


@pytest.fixture
def imported(lab: Lab, tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    path = tmp_path / "config.yaml"
    path.write_text(gatus_config(lab))
    result = import_gatus(str(path))
    return result, {m["name"]: m for m in result.config["monitors"]}


def test_every_endpoint_is_a_monitor_or_left_out_with_why(
    imported: tuple[Any, dict[str, Any]], lab: Lab
) -> None:
    """Each of the fourteen endpoints is a monitor, or a LeftOut naming it and saying why;
    the second `website` (another group) is named by its group."""
    result, monitors = imported
    written = yaml.safe_load(gatus_config(lab))["endpoints"]
    assert len(written) == 14
    left = {item.what for item in result.left_out}
    for index, endpoint in enumerate(written):
        carried = endpoint["name"] in monitors or f"backend/{endpoint['name']}" in monitors
        assert carried != (f"endpoints[{index}] ({endpoint['name']})" in left), endpoint
    names = set(monitors)
    assert names == {
        "website",
        "backend/website",
        "down",
        "redis",
        "tls-ldaps-example",
        "example-dns-query",
        "wrong-dns-answer",
        "ping-example",
        "example",
        "starttls-smtp-example",
        "ssh-example-password",
        "my-grpc",
        "disabled",
        "ext-ep-test",
    }
    why = {item.what: item.why for item in result.left_out}
    assert why["endpoints[11] (udp-example)"] == "tether has no udp:// check"
    assert monitors["my-grpc"]["url"] == "grpc://127.0.0.1:50051"


def test_the_imported_configuration_loads(imported: tuple[Any, dict[str, Any]]) -> None:
    """What is printed is a configuration tether loads, header and all."""
    result, _ = imported
    config = parse_config(to_yaml(result))
    assert len(config.monitors) == 14
    assert {c.name for c in config.alerts} == {
        "slack",
        "discord",
        "custom",
        "telegram",
        "ntfy",
        "gotify",
    }


def test_endpoints_keep_their_settings(imported: tuple[Any, dict[str, Any]], lab: Lab) -> None:
    """Interval, timeout, group and extra-labels, the alert's thresholds and description,
    the request, the types' URLs, and the disabled endpoint paused."""
    _, monitors = imported
    site = monitors["website"]
    assert site["interval"] == "5m"
    assert site["timeout"] == "5s"
    assert site["labels"] == {
        "group": "core",
        "environment": "staging",
        "description": "health check failed",
    }
    assert site["alerts"] == ["slack", "custom"]
    # slack's default alert says 5 and 5, custom 10 and 3: tether takes the smallest.
    assert (site["failure_threshold"], site["success_threshold"]) == (5, 3)
    assert site["conditions"] == [
        "[STATUS] == 200",
        "[BODY] == pat(ok*)",
        "[RESPONSE_TIME] < 3000ms",
    ]
    backend = monitors["backend/website"]
    assert (backend["method"], backend["body"]) == ("POST", '{"query": "ping"}')
    assert backend["headers"] == {"Content-Type": "application/json"}
    assert monitors["example-dns-query"]["url"] == "dns://ok.lab.test"
    assert monitors["example-dns-query"]["resolver"] == lab.resolver
    assert monitors["example-dns-query"]["dns"] == {"record_type": "A", "answers": ["127.0.0.1"]}
    assert monitors["ping-example"]["conditions"] == ["[PACKET_LOSS] < 100%"]
    assert monitors["starttls-smtp-example"]["url"] == "smtp://127.0.0.1:587?starttls=required"
    assert monitors["example"]["conditions"] == [
        "[CONNECTED] == true",
        '[BODY] == pat("*served by*")',
    ]
    assert monitors["ssh-example-password"]["conditions"] == ["[CONNECTED] == true"]
    assert monitors["disabled"]["paused"] is True
    push = monitors["ext-ep-test"]
    assert (push["type"], push["interval"], push["labels"]["group"]) == ("push", "30m", "core")
    assert len(push["token"]) == 32
    assert push["token"] != "potato"


def test_what_is_left_out_says_why(imported: tuple[Any, dict[str, Any]]) -> None:
    """The README's features tether does not have are each listed with the reason, the
    refused condition with the parser's own words."""
    result, _ = imported
    why = {item.what: item.why for item in result.left_out}
    assert why["endpoints[4] (tls-ldaps-example): client.insecure"].startswith(
        "tether never turns TLS verification off"
    )
    assert (
        "[DOMAIN_EXPIRATION] needs a domain name, and 127.0.0.1 is an address: set rdap.domain"
        in why["endpoints[1] (website): conditions[1] '[DOMAIN_EXPIRATION] > 720h'"]
    )
    assert "REST API key" in why["endpoints[2] (down): alerts[0] (pagerduty)"]
    assert why["endpoints[2] (down): alerts[1] (email)"] == "it is disabled (enabled: false)"
    assert "retired" in why["endpoints[3] (redis): alerts[3] (teams)"]
    assert "no channel for twilio" in why["alerting.twilio"]
    assert "bcrypt" in why["security"]
    for key in ("storage", "ui", "web", "metrics", "announcements", "concurrency"):
        assert why[key], key
    assert "not carried" not in why["alerting.custom.body"]
    assert "its own JSON" in why["alerting.custom.body"]
    assert (
        "runs no command"
        in why["endpoints[10] (ssh-example-password): conditions[1] '[STATUS] == 0'"]
    )


def test_the_maintenance_windows(imported: tuple[Any, dict[str, Any]]) -> None:
    """`start: 23:00` (which YAML 1.1 reads as the number 1380) and `every` make a weekly
    schedule; an endpoint's window is for that monitor alone."""
    result, _ = imported
    windows = {w["name"]: w for w in result.config["maintenance"]}
    assert windows["gatus maintenance"] == {
        "name": "gatus maintenance",
        "schedule": "0 23 * * mon,thu",
        "duration": "1h",
        "timezone": "Europe/Amsterdam",
    }
    assert windows["website 1"]["schedule"] == "30 7 * * *"
    assert windows["website 1"]["monitors"] == ["website"]


def test_each_imported_monitor_finds_what_the_gatus_conditions_mean(
    imported: tuple[Any, dict[str, Any]],
    checked: Callable[..., dict[str, ProbeRecord]],
) -> None:
    """Checked once each against the lab: the healthy endpoint passes its status, body and
    response-time conditions; the refused one fails connect.refused; the tcp one connects;
    the DNS query's answer is judged as Gatus's [BODY] was; and the lab's private CA fails
    the endpoint whose client.insecure was left out, as the left-out line warns."""
    result, _ = imported
    config = parse_config(to_yaml(result))
    found = checked(
        config,
        "website",
        "backend/website",
        "down",
        "redis",
        "tls-ldaps-example",
        "example-dns-query",
        "wrong-dns-answer",
        "ping-example",
    )
    assert found["website"].ok, found["website"].detail
    assert found["website"].conditions[0] == "[STATUS] (200) == 200"
    assert found["backend/website"].ok, found["backend/website"].detail
    assert not found["down"].ok
    assert found["down"].kind == "connect.refused"
    assert found["redis"].ok, found["redis"].detail
    assert found["example-dns-query"].ok, found["example-dns-query"].detail
    assert not found["wrong-dns-answer"].ok
    # Gatus's [CONNECTED] on DNS and ICMP: the server answered (tether's is TCP's).
    assert found["example-dns-query"].conditions[0] == "has([DNS_RCODE]) (true)"
    assert found["ping-example"].ok, found["ping-example"].detail
    assert not found["tls-ldaps-example"].ok
    assert found["tls-ldaps-example"].kind == "tls.untrusted"


def test_environment_references_become_tethers(tmp_path: Path) -> None:
    """Gatus's $NAME and ${NAME} are tether's ${NAME}; its $$ is a literal dollar."""
    path = tmp_path / "config.yaml"
    path.write_text(
        """\
alerting:
  slack:
    webhook-url: "${SLACK_WEBHOOK}"
  email:
    from: "from@corp.test"
    password: "$SMTP_PASSWORD"
    host: "mail.corp.test"
    port: 587
    to: "ops@corp.test"
endpoints:
  - name: from-env
    url: "$API_URL/health"
    conditions: ["[STATUS] == 200"]
  - name: api
    url: "http://127.0.0.1:9/$$PATH"
    headers:
      Authorization: "Bearer $API_TOKEN"
    conditions: ["[STATUS] == 200"]
    alerts: [{type: slack}, {type: email}]
"""
    )
    result = import_gatus(str(path))
    channels = {c["name"]: c for c in result.config["alerts"]}
    assert channels["slack"]["url"] == "${SLACK_WEBHOOK}"
    assert channels["email"]["password"] == "${SMTP_PASSWORD}"
    assert channels["email"]["username"] == "from@corp.test"
    from_env, api = result.config["monitors"]
    assert from_env["url"] == "${API_URL}/health"
    assert api["url"] == "http://127.0.0.1:9/$PATH"
    assert api["headers"] == {"Authorization": "Bearer ${API_TOKEN}"}
    env = {
        "SLACK_WEBHOOK": "https://hooks.slack.com/services/A/B/C",
        "SMTP_PASSWORD": "x",
        "API_TOKEN": "t",
        "API_URL": "http://127.0.0.1:9",
    }
    assert parse_config(to_yaml(result), env=env).monitors[1].url == "http://127.0.0.1:9/$PATH"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("endpoints: [\n  {name: a\n", "config.yaml:3:1: is not valid YAML"),
        ("metrics: true\n", "is not a Gatus configuration"),
        ("- a\n- b\n", "is not a Gatus configuration"),
        (
            "endpoints:\n"
            "  - {name: u, url: 'udp://127.0.0.1:1', conditions: ['[CONNECTED] == true']}\n",
            "none of its endpoints can be carried over: endpoints[0] (u): "
            "tether has no udp:// check",
        ),
    ],
)
def test_a_file_that_is_not_gatus_fails_in_one_line(
    tmp_path: Path, text: str, problem: str
) -> None:
    """Malformed YAML names the file and line; a file without endpoints says it is not
    Gatus's; one whose endpoints all fail says why, in one line."""
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ImportFailed) as caught:
        import_gatus(str(path))
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(path))
