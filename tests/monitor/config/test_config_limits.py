"""The loader's bounds: what a hostile or mistaken file is refused with, as one located
line, and what stays accepted just inside each bound."""

from __future__ import annotations

import pytest

from tests.helpers.config_text import errors_of
from tests.helpers.hostile_configs import HOSTILE, MONITOR, URL, alias_bomb, chain
from tether.monitor.config import ConfigError, parse_config
from tether.monitor.config._yaml import MAX_CHARS


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("text", "message"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_file_is_one_located_line(text: str, message: str) -> None:
    """Each hostile file raises ConfigError with exactly one FILE:LINE:COLUMN line."""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="tether.yaml")
    assert len(caught.value.located) == 1, caught.value.located
    (line,) = caught.value.located
    assert line.startswith("tether.yaml:")
    assert message in line


def test_the_size_bound_admits_the_largest_fleet_the_docs_speak_of() -> None:
    """240,000 monitors of 100 characters a line (docs/monitor.md's largest fleet) are
    under the file's bound, and so is the shortest line's 120,000-monitor file that the
    bound of 4,000,000 characters refused (issue 46: 5.6 MB); one character more than the
    bound is refused as too large."""
    line = "  - {name: m%06d, url: 'http://127.0.7.2/', failure_threshold: 3, labels: {team: x}}\n"
    padded = line.replace("team: x", "team: " + "x" * (100 - len(line % 0) + 1))
    assert len(padded % 0) == 100
    fleet = "monitors:\n" + "".join(padded % i for i in range(240_000))
    assert len(fleet) <= MAX_CHARS
    short = "monitors:\n" + "".join(
        f"  - {{name: m{i:06d}, url: 'http://127.0.7.2/'}}\n" for i in range(120_000)
    )
    assert 4_000_000 < len(short) <= MAX_CHARS
    with pytest.raises(ConfigError, match="larger than"):
        parse_config("#" * (MAX_CHARS + 1))


def test_a_chain_of_1000_dependencies_is_a_fine_file() -> None:
    """A long chain without a cycle loads: the cycle check walks it without recursion."""
    config = parse_config(chain(1_000, cycle=False))
    assert config.monitor("m0").depends_on == ("m1",)


def test_aliases_may_add_as_much_again_as_the_file_writes() -> None:
    """Merge keys and aliases used as a file of many monitors uses them still load."""
    lines = ["monitors:", f"  - &base {{name: m0, url: '{URL}', interval: 30s, timeout: 5s}}"]
    lines += [f"  - {{<<: *base, name: m{i}, failure_threshold: 2}}" for i in range(1, 2_000)]
    config = parse_config("\n".join(lines) + "\n")
    assert len(config.monitors) == 2_000


def test_a_small_alias_bomb_is_only_small() -> None:
    """Three levels of nine aliases (729 values) are within the bound; the document is
    then refused for what it is, not for its aliases."""
    errors = errors_of(alias_bomb(levels=3))
    assert not any("aliases expand" in e for e in errors)


def test_nesting_just_inside_the_bound_is_read() -> None:
    """64 levels in all are read (and refused only as not headers); 65 are not read."""
    # The file's mapping, monitors, the monitor and headers are four levels.
    errors = errors_of(MONITOR + "    headers: " + "[" * 61 + "]" * 61 + "\n")
    assert errors == ["monitors[0].headers: a list is not a mapping of keys"]
    errors = errors_of(MONITOR + "    headers: " + "[" * 62 + "]" * 62 + "\n")
    assert errors == ["<string>:4:75: nested more than 64 levels deep"]  # the 65th


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_redirects", "true", "true is not a whole number"),
        ("latency_margin", ".inf", "inf is not a finite number"),
        ("latency_margin", "1001", "1001 is too large: the maximum is 1000"),
        ("latency_margin", "false", "false is not a number"),
        ("tls", "{min_days_left: true}", "true is not a whole number"),
        ("tls", "{min_days_left: 36501}", "36501 is too large: the maximum is 36500"),
    ],
)
def test_numbers_are_numbers_and_bounded(key: str, value: str, message: str) -> None:
    """A bool is not a number, and each number has a ceiling."""
    url = "https://127.0.0.1:9/" if key == "tls" else URL
    text = f"monitors:\n  - name: api\n    url: {url}\n    {key}: {value}\n"
    assert any(message in e for e in errors_of(text)), errors_of(text)


def test_an_env_threshold_still_reads_as_a_number() -> None:
    """${NAME} gives text; a threshold written so is still read as the number it is."""
    text = MONITOR + "    failure_threshold: ${N}\n"
    assert parse_config(text, env={"N": "5"}).monitors[0].failure_threshold == 5


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (f'monitors:\n  - name: "\\ud800x"\n    url: {URL}\n', "monitors[0].name"),
        (
            f'monitors:\n  - name: api\n    url: {URL}\n    headers: {{X-Team: "ops\\0"}}\n',
            "monitors[0].headers.X-Team",
        ),
    ],
    ids=["lone-surrogate-name", "nul-in-header"],
)
def test_text_the_store_cannot_keep_is_refused_where_it_is_written(text: str, where: str) -> None:
    """A lone surrogate (from a ``"\\ud800"`` escape) or a NUL passed check-config and then
    failed every batch of results in the store: it is refused, located, at load."""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="tether.yaml")
    (line,) = [line for line in caught.value.located if f"{where}: holds " in line]
    assert line.startswith("tether.yaml:")
    assert line.endswith(": leave it out")


def test_a_lone_surrogate_in_a_key_is_one_line_at_the_key() -> None:
    """A key holding a lone surrogate is refused where it is written, in a line UTF-8
    can carry (it was shown raw, so printing the error raised UnicodeEncodeError), and
    nothing else is said about it."""
    text = f'monitors:\n  - name: api\n    url: {URL}\n    "x\\ud800": 1\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="tether.yaml")
    assert caught.value.located == [
        'tether.yaml:4:5: monitors[0]["x\\ud800"]: the key holds a lone surrogate, which is '
        "not a character (U+D800) at character 2: leave it out"
    ]
    str(caught.value).encode("utf-8")


def test_a_lone_surrogate_in_the_text_itself_is_a_located_error() -> None:
    """Text given to parse_config with a raw lone surrogate (no file can hold one; libyaml
    raised UnicodeEncodeError on it) is one located line."""
    with pytest.raises(ConfigError) as caught:
        parse_config(f"monitors:\n  - name: a\ud800\n    url: {URL}\n", source="t.yaml")
    assert caught.value.located == ["t.yaml:2:12: '\\ud800' is a lone surrogate, not a character"]


@pytest.mark.parametrize(
    ("text", "env", "where", "problem"),
    [
        (
            f'monitors:\n  - name: api\n    url: {URL}\n    headers: {{X-Team: "ops\\x1b[2J"}}\n',
            {},
            "monitors[0].headers.X-Team",
            "a control character (U+001B) at character 4",
        ),
        (
            f"monitors:\n  - name: api\n    url: {URL}\nstatus_pages:\n  - slug: s\n"
            f'    title: "Shop\\uffff"\n    groups: [{{name: g, monitors: [api]}}]\n',
            {},
            "status_pages[0].title",
            "a noncharacter, which XML cannot carry (U+FFFF) at character 5",
        ),
        (
            f"monitors:\n  - name: api\n    url: {URL}\n    headers: {{X-Team: '${{TEAM}}'}}\n",
            {"TEAM": "ops\x7f"},
            "monitors[0].headers.X-Team",
            "a control character (U+007F) at character 4",
        ),
    ],
    ids=["escape-in-header", "noncharacter-in-title", "del-from-the-environment"],
)
def test_text_no_page_can_carry_is_refused_where_it_is_written(
    text: str, env: dict[str, str], where: str, problem: str
) -> None:
    """The one gate for text from outside (issue 72 §1) holds a configuration too: a
    control character (as a YAML escape or from the environment) or a noncharacter, which
    an Atom feed cannot carry, is one located line naming the key (they were taken)."""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, env=env, source="tether.yaml")
    assert [line.split(": ", 1)[1] for line in caught.value.located] == [
        f"{where}: holds {problem}: leave it out"
    ]
