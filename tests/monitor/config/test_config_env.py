"""``${NAME}`` and ``${NAME:-default}`` in string values: replaced from the environment,
then validated; a missing or malformed reference is one error."""

from __future__ import annotations

import pytest

from tests.helpers.config_text import URL, dump, errors_of
from tether.monitor.config import parse_config


@pytest.mark.parametrize(
    ("written", "env", "value"),
    [
        ("${TOKEN}", {"TOKEN": "abc"}, "abc"),
        ("Bearer ${TOKEN}", {"TOKEN": "abc"}, "Bearer abc"),
        ("${A}-${B}", {"A": "1", "B": "2"}, "1-2"),
        ("${TOKEN:-dflt}", {}, "dflt"),
        ("${TOKEN:-dflt}", {"TOKEN": ""}, "dflt"),
        ("${TOKEN:-dflt}", {"TOKEN": "set"}, "set"),
        ("${TOKEN:-}", {}, ""),
        ("${TOKEN}", {"TOKEN": ""}, ""),
        ("$${TOKEN}", {"TOKEN": "abc"}, "${TOKEN}"),
        ("pa$$word $HOME", {}, "pa$$word $HOME"),
        # Digits alone name no variable: a regular expression's group, as a pasted
        # blackbox.yml's query_response writes it.
        ("PONG ${1} ${12}", {"1": "no"}, "PONG ${1} ${12}"),
        ("${A1}", {"A1": "x"}, "x"),
    ],
)
def test_interpolation(written: str, env: dict[str, str], value: str) -> None:
    """${NAME} and ${NAME:-default} follow the shell; $${ is a literal ${; lone $ is text."""
    config = parse_config(dump({"name": "api", "url": URL, "body": written}), env=env)
    assert config.monitors[0].body == value


def test_interpolated_values_are_then_validated() -> None:
    """A variable's text is validated like written text: numbers convert, durations need units."""
    text = dump({"name": "api", "url": URL, "interval": "${EVERY}", "failure_threshold": "${N}"})
    monitor = parse_config(text, env={"EVERY": "30s", "N": "4"}).monitors[0]
    assert (monitor.interval, monitor.failure_threshold) == (30.0, 4)
    assert errors_of(text, env={"EVERY": "30", "N": "4"}) == [
        'monitors[0].interval: "30" is not a duration, write 30s'
    ]


def test_missing_variable_is_one_error_naming_it() -> None:
    """An unset variable without a default is reported once, not again as a bad value."""
    text = dump(
        {"name": "api", "url": URL, "interval": "${EVERY}"},
        alerts=[
            {
                "name": "ops",
                "type": "webhook",
                "url": "http://127.0.0.1/h",
                "secret": "${HOOK_SECRET}",
            }
        ],
    )
    assert errors_of(text, env={}) == [
        "alerts[0].secret: ${HOOK_SECRET} is not set in the environment "
        "(set it, or write ${HOOK_SECRET:-default})",
        "monitors[0].interval: ${EVERY} is not set in the environment "
        "(set it, or write ${EVERY:-default})",
    ]


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("${ TOKEN }", '"${ TOKEN }"'),
        ("${}", '"${}"'),
        ("x ${TOKEN", '"${TOKEN"'),
        ("${A:B}", '"${A:B}"'),
        ("${1A}", '"${1A}"'),
    ],
)
def test_malformed_reference_is_an_error(written: str, shown: str) -> None:
    """Anything after ${ that is not NAME or NAME:-default is reported, with the escape."""
    assert errors_of(dump({"name": "api", "url": URL, "body": written}), env={}) == [
        f"monitors[0].body: {shown} is not a ${{NAME}} or ${{NAME:-default}} reference "
        "(write $${ for a literal ${)"
    ]


def test_interpolation_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """env=None means the process environment."""
    monkeypatch.setenv("TETHER_TEST_LISTEN", "127.0.0.1:9100")
    config = parse_config(dump(server={"listen": "${TETHER_TEST_LISTEN}"}))
    assert config.server.port == 9100


def test_keys_and_non_strings_are_not_interpolated() -> None:
    """Only string values are interpolated: a key written as ${X} stays an unknown key."""
    text = "${X}: 1\n" + dump()
    assert errors_of(text, env={"X": "server"}) == [
        '["${X}"]: unknown key; expected one of: storage, server, probe, locations, alerts, '
        "defaults, maintenance, cluster, agents, users, tokens, oidc, workers, discover, monitors, "
        "status_pages, objectives, modules, routes, time_intervals, inhibit_rules"
    ]
