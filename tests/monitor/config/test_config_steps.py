"""A monitor's ``steps``: what the file may say, and each mistake as one line naming its
key path; ``tether check-config`` as a process says the same."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.helpers.tether_processes import tether
from tether.monitor.config import ConfigError, parse_config


def _steps(*steps: str, head: str = "") -> str:
    body = "".join(textwrap.indent(textwrap.dedent(s), "      ") for s in steps)
    return f"monitors:\n  - name: api\n{head}    steps:\n{body}"


LOGIN = """\
- name: login
  url: http://127.0.0.1:9/login
  extract: {token: "[BODY].token"}
"""
READ = """\
- name: read
  url: http://127.0.0.1:9/items/1
  headers: {Authorization: "Bearer [CONTEXT].token"}
"""


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.errors


def test_a_valid_flow_loads_with_the_first_steps_url() -> None:
    m = parse_config(_steps(LOGIN, READ)).monitors[0]
    assert m.url == "http://127.0.0.1:9/login"
    assert m.steps is not None
    assert [s.name for s in m.steps] == ["login", "read"]
    assert m.steps[0].extract["token"].from_ == "[BODY].token"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            _steps(LOGIN),
            "monitors[0].steps: has 1 step: a multi-step check has 2 to 20 (one request "
            "is a monitor of its own)",
        ),
        (
            _steps(LOGIN, READ, head="    conditions: ['[STATUS] == 200']\n"),
            "monitors[0].conditions: a monitor with steps has no conditions of its own: "
            "write it on each step",
        ),
        (
            _steps(LOGIN, READ, head="    method: POST\n"),
            "monitors[0].method: a monitor with steps has no method of its own: write it "
            "on each step",
        ),
        (
            _steps(LOGIN, READ, head="    body: x\n"),
            "monitors[0].body: a monitor with steps has no body of its own: write it on each step",
        ),
        (
            _steps(READ, LOGIN),
            "monitors[0].steps[0].headers.Authorization: [CONTEXT].token is used in step 1 "
            "(read): step 2 (login) extracts it, after this one",
        ),
        (
            _steps(LOGIN, READ.replace("token", "tokn")),
            "monitors[0].steps[1].headers.Authorization: [CONTEXT].tokn is used in step 2 "
            "(read): no step extracts it",
        ),
        (
            _steps(LOGIN, READ.replace("items/1", "items/[CONTEXT].id")),
            "monitors[0].steps[1].url: [CONTEXT].id is used in step 2 (read): no step extracts it",
        ),
        (
            _steps(LOGIN, LOGIN),
            'monitors[0].steps[1].name: "login" is the name of step 1',
        ),
        (
            _steps(LOGIN, READ.replace("read", "a.b")),
            'monitors[0].steps[1].name: "a.b" is not a step name: 1 to 32 letters, '
            "digits, '_' or '-' (it names the step's phases, login.dns, login.ttfb)",
        ),
        (
            _steps(LOGIN, READ.replace("http://127.0.0.1:9", "tcp://127.0.0.1:9")),
            'monitors[0].steps[1].url: "tcp://127.0.0.1:9/items/1": a step sends an HTTP '
            "request: write http:// or https://",
        ),
        (
            _steps(LOGIN, READ.replace("127.0.0.1:9/", "[CONTEXT].token/")),
            'monitors[0].steps[1].url: "http://[CONTEXT].token/items/1": a value taken '
            "from an answer goes in the path or the query, not the host",
        ),
        (
            _steps(LOGIN.replace("[BODY].token", "[STATUS]"), READ),
            'monitors[0].steps[0].extract.token.from: "[STATUS]": a value is taken from '
            "the answer's [BODY] (a JSON path, as in [BODY].data.token) or a [HEADER] (as "
            "in [HEADER].etag)",
        ),
        (
            _steps(LOGIN.replace("[BODY].token", "[BODY].token =="), READ),
            "monitors[0].steps[0].extract.token.from: \"[BODY].token ==\": unexpected '==' "
            "at column 14: write one placeholder and its path, as in [BODY].data.token",
        ),
        (
            _steps(LOGIN.replace('"[BODY].token"', '{from: "[BODY]", regex: "(a+)+"}'), READ),
            "monitors[0].steps[0].extract.token.regex: '(a+)+': a repetition inside a "
            "repetition; write it without (as RE2 would run it in linear time)",
        ),
        (
            _steps(LOGIN.replace('"[BODY].token"', '{from: "[BODY]", regex: "(a)(b)"}'), READ),
            'monitors[0].steps[0].extract.token.regex: "(a)(b)" has 2 groups: at most one '
            "(the value)",
        ),
        (
            _steps(LOGIN.replace("token:", "9x:"), READ),
            'monitors[0].steps[0].extract.9x: "9x" is not a value\'s name: a letter or '
            "'_', then letters, digits or '_' (64 at most), used as [CONTEXT].NAME",
        ),
        (
            _steps(LOGIN, READ.replace("Authorization", "Host")),
            "monitors[0].steps[1].headers.Host: Host is the URL's own: a step sends its URL's host",
        ),
        (
            _steps(LOGIN, READ, head="    url: tcp://127.0.0.1:9\n"),
            'monitors[0].url: "tcp://127.0.0.1:9": a monitor with steps is grouped under an '
            "http:// or https:// URL (leave url out: it is the first step's)",
        ),
        (
            _steps(LOGIN, READ + "  extract: {x: '[BODY]'}\n  frobnicate: 1\n"),
            "monitors[0].steps[1].frobnicate: ",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_its_key(text: str, line: str) -> None:
    errors = _errors(text)
    assert any(e.startswith(line) for e in errors), errors


def test_check_config_names_the_key(tmp_path: Path) -> None:
    """``tether check-config`` (a process) prints the line with its key and its place in
    the file, and no traceback."""
    path = tmp_path / "tether.yaml"
    path.write_text(_steps(LOGIN, READ.replace("token", "tokn")))
    code, out, err = tether("check-config", str(path))
    assert code != 0
    assert "monitors[0].steps[1].headers.Authorization: [CONTEXT].tokn is used" in out + err
    assert "Traceback" not in out + err
