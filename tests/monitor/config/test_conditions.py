"""Monitor conditions: the grammar, every placeholder and operator, resolved values, errors,
and filling the context from a probe's phases.  Pure: no sockets, no clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from tether._classify import failure_for
from tether._kinds import Kind
from tether.monitor.config._conditions import (
    Condition,
    ConditionError,
    ConditionResult,
    ProbeContext,
    context_from_probe,
    parse_condition,
)
from tether.probe import (
    Certificate,
    ConnectDetails,
    DnsDetails,
    DnsRecord,
    HttpDetails,
    Phase,
    ProbeResult,
    ProxyDetails,
    Response,
    Skipped,
    TlsDetails,
    UrlDetails,
)

JSON_BODY = (
    b'{"status": "ok", "count": 3, "ratio": 0.5, "text": "3", "up": true, "none": null,'
    b' "items": [{"id": 3, "tags": ["a", "b"]}, {"id": 7}], "a.b": 1, "with space": "x",'
    b' "meta": {"version": "1.2"}, "empty": [], "name": "caf\xc3\xa9"}'
)

HEALTHY = ProbeContext(
    status=200,
    response_time_ms=120.0,
    body=JSON_BODY,
    headers={"Content-Type": "application/json; charset=utf-8", "X-Empty": ""},
    certificate_expires_in_s=30 * 86400.0,
    dns_rcode="NOERROR",
    ips=("127.0.0.1", "::1"),
    connected=True,
    phase_ms={"dns": 2.0, "connect": 0.4, "tls": 12.0, "ttfb": 80.0, "transfer": 5.0},
)
NOTHING = ProbeContext()
"""A probe that saw nothing: no answer, no body, no timings."""


def check(text: str, context: ProbeContext = HEALTHY) -> ConditionResult:
    return parse_condition(text).evaluate(context)


def passes(text: str, context: ProbeContext = HEALTHY) -> bool:
    return check(text, context).success


def with_(**changes: Any) -> ProbeContext:
    return dataclasses.replace(HEALTHY, **changes)


# -- every placeholder, passing and failing ------------------------------------------

PLACEHOLDER_CASES = [
    # (condition, context where it passes, context where it fails, resolved when failing)
    ("[STATUS] == 200", HEALTHY, with_(status=503), "[STATUS] (503) == 200"),
    (
        "[RESPONSE_TIME] < 500ms",
        HEALTHY,
        with_(response_time_ms=734.0),
        "[RESPONSE_TIME] (734ms) < 500ms",
    ),
    ('[BODY] contains "count"', HEALTHY, with_(body=b"<html>"), '[BODY] (<html>) contains "count"'),
    ('[BODY].status == "ok"', HEALTHY, with_(body=b'{"status": "down"}'), None),
    ("[BODY].items[0].id == 3", HEALTHY, with_(body=b'{"items": []}'), None),
    (
        '[HEADER].content-type contains "json"',
        HEALTHY,
        with_(headers={"content-type": "text/html"}),
        '[HEADER].content-type (text/html) contains "json"',
    ),
    (
        "[CERTIFICATE_EXPIRATION] > 14d",
        HEALTHY,
        with_(certificate_expires_in_s=3 * 86400.0 + 7200),
        "[CERTIFICATE_EXPIRATION] (3d2h) > 14d",
    ),
    (
        "[DNS_RCODE] == NOERROR",
        HEALTHY,
        with_(dns_rcode="NXDOMAIN"),
        "[DNS_RCODE] (NXDOMAIN) == NOERROR",
    ),
    ("[IP] == 127.0.0.1", HEALTHY, with_(ips=("127.0.0.2",)), "[IP] (127.0.0.2) == 127.0.0.1"),
    ("[CONNECTED] == true", HEALTHY, with_(connected=False), "[CONNECTED] (false) == true"),
    (
        "[PHASE].dns < 50ms",
        HEALTHY,
        with_(phase_ms={"dns": 51.0}),
        "[PHASE].dns (51ms) < 50ms",
    ),
    (
        "[PHASE].connect < 100ms",
        HEALTHY,
        with_(phase_ms={"connect": 250.5}),
        "[PHASE].connect (250.5ms) < 100ms",
    ),
    ("[PHASE].tls < 50ms", HEALTHY, with_(phase_ms={"tls": 1500.0}), "[PHASE].tls (1.5s) < 50ms"),
    (
        "[PHASE].ttfb <= 80ms",
        HEALTHY,
        with_(phase_ms={"ttfb": 80.1}),
        "[PHASE].ttfb (80.1ms) <= 80ms",
    ),
    (
        "[PHASE].transfer < 1s",
        HEALTHY,
        with_(phase_ms={"transfer": 61000.0}),
        "[PHASE].transfer (1m1s) < 1s",
    ),
]


@pytest.mark.parametrize(
    ("text", "good", "bad", "resolved"), PLACEHOLDER_CASES, ids=[c[0] for c in PLACEHOLDER_CASES]
)
def test_each_placeholder_passes_and_fails(
    text: str, good: ProbeContext, bad: ProbeContext, resolved: str | None
) -> None:
    """Every placeholder passes on a healthy probe and fails, with its value shown, on a bad one."""
    assert check(text, good).success is True
    failed = check(text, bad)
    assert failed.success is False
    if resolved is not None:
        assert failed.resolved == resolved


@pytest.mark.parametrize(
    "text",
    [
        "[STATUS] == 200",
        "[RESPONSE_TIME] < 1s",
        '[BODY] contains "x"',
        "[BODY].status == 1",
        '[HEADER].content-type == "x"',
        "[CERTIFICATE_EXPIRATION] > 1d",
        "[DNS_RCODE] == NOERROR",
        "[IP] == 127.0.0.1",
        "[PHASE].dns < 1s",
        "[PHASE].ttfb < 1s",
    ],
)
def test_a_probe_that_saw_nothing_fails_with_missing(text: str) -> None:
    """With nothing seen, each placeholder resolves to (missing) and the condition fails."""
    result = check(text, NOTHING)
    assert result.success is False
    assert "(missing)" in result.resolved


def test_connected_defaults_to_false_rather_than_missing() -> None:
    """[CONNECTED] always has a value: a probe that never connected says false."""
    assert check("[CONNECTED] == false", NOTHING).resolved == "[CONNECTED] (false) == false"
    assert passes("[CONNECTED] == false", NOTHING)


@pytest.mark.parametrize(
    "text",
    [
        "[STATUS] != 500",
        "[STATUS] not in (500, 502)",
        '[BODY] not contains "error"',
        '[BODY].error != "boom"',
        '[BODY].error not contains "boom"',
        '[HEADER].x-missing != "a"',
        "[PHASE].tls != 0ms",
        "[DNS_RCODE] != SERVFAIL",
        "[IP] not in (10.0.0.0/8)",
    ],
)
def test_missing_values_fail_even_negated_operators(text: str) -> None:
    """A value the probe did not see fails != and not contains too: nothing to vouch for."""
    context = with_(status=None, body=None, headers={}, phase_ms={}, dns_rcode=None, ips=())
    assert check(text, context).success is False


# -- operators -----------------------------------------------------------------------

OPERATOR_CASES = [
    ("==", "[STATUS] == 200", "[STATUS] == 201"),
    ("!=", "[STATUS] != 500", "[STATUS] != 200"),
    ("<", "[STATUS] < 201", "[STATUS] < 200"),
    ("<=", "[STATUS] <= 200", "[STATUS] <= 199"),
    (">", "[STATUS] > 199", "[STATUS] > 200"),
    (">=", "[STATUS] >= 200", "[STATUS] >= 201"),
    ("in", "[STATUS] in (200, 204)", "[STATUS] in (201, 204)"),
    ("not in", "[STATUS] not in (500, 503)", "[STATUS] not in (200, 503)"),
    ("contains", '[BODY] contains "status"', '[BODY] contains "healthy"'),
    ("not contains", '[BODY] not contains "error"', '[BODY] not contains "status"'),
]


@pytest.mark.parametrize(
    ("operator", "good", "bad"), OPERATOR_CASES, ids=[c[0] for c in OPERATOR_CASES]
)
def test_each_operator_passes_and_fails(operator: str, good: str, bad: str) -> None:
    """Each operator is true on one side of its boundary and false on the other."""
    assert parse_condition(good).operator == operator
    assert passes(good) is True
    assert passes(bad) is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[RESPONSE_TIME] == 120ms", True),
        ("[RESPONSE_TIME] != 120ms", False),
        ("[RESPONSE_TIME] < 120ms", False),
        ("[RESPONSE_TIME] <= 120ms", True),
        ("[RESPONSE_TIME] > 119.9ms", True),
        ("[RESPONSE_TIME] >= 121ms", False),
        ("[CERTIFICATE_EXPIRATION] >= 30d", True),
        ("[CERTIFICATE_EXPIRATION] > 30d", False),
        ("[CERTIFICATE_EXPIRATION] < 720h1ms", True),
        ("[CERTIFICATE_EXPIRATION] == 720h", True),
    ],
)
def test_durations_compare_at_their_boundaries(text: str, expected: bool) -> None:
    """Durations compare as numbers of milliseconds, equal values included."""
    assert passes(text) is expected


def test_status_accepts_a_float_value() -> None:
    """A number with a decimal point still compares with the integer status."""
    assert passes("[STATUS] == 200.0")
    assert not passes("[STATUS] > 200.5")


def test_a_single_value_after_in_needs_no_parentheses() -> None:
    """`in 10.0.0.0/8` reads as a one-item list."""
    assert passes("[IP] in 127.0.0.0/8")
    assert not passes("[IP] in 10.0.0.0/8")
    assert passes("[STATUS] in 200")


# -- values: durations and their units -----------------------------------------------


def test_an_expired_certificate_shows_a_negative_duration() -> None:
    """A certificate that expired two days ago resolves to -2d and fails > 0ms."""
    result = check("[CERTIFICATE_EXPIRATION] > 0ms", with_(certificate_expires_in_s=-2 * 86400.0))
    assert result == ConditionResult(False, "[CERTIFICATE_EXPIRATION] (-2d) > 0ms")


# -- [BODY] and its JSON path --------------------------------------------------------

JSON_CASES = [
    ('[BODY].status == "ok"', True),
    ("[BODY].status == ok", True),  # a bare word is a string
    ("[BODY].count == 3", True),
    ("[BODY].count == 3.0", True),
    ("[BODY].count > 2", True),
    ("[BODY].count <= 2", False),
    ("[BODY].ratio < 1", True),
    ("[BODY].ratio == 0.5", True),
    ('[BODY].text == "3"', True),
    ("[BODY].text == 3", False),  # "3" is not 3
    ('[BODY].count == "3"', False),
    ("[BODY].up == true", True),
    ("[BODY].up == 1", False),  # true is not 1
    ("[BODY].none == null", True),
    ('[BODY].none == "null"', False),
    ("[BODY].items[0].id == 3", True),
    ("[BODY].items[1].id == 7", True),
    ("[BODY].items[-1].id == 7", True),
    ("[BODY].items[-2].id == 3", True),
    ("[BODY].items[ 0 ].id == 3", True),
    ('[BODY].items[0].tags contains "b"', True),
    ('[BODY].items[0].tags contains "c"', False),
    ('[BODY].items[0].tags not contains "c"', True),
    ('[BODY].meta contains "version"', True),
    ('[BODY].meta.version == "1.2"', True),
    ("[BODY].meta.version == 1.2", False),
    ('[BODY].status contains "o"', True),
    ('[BODY].status in ("ok", "fine")', True),
    ("[BODY].count in (1, 2, 3)", True),
    ("[BODY].count not in (1, 2)", True),
    ('[BODY]."a.b" == 1', True),
    ('[BODY]["a.b"] == 1', True),
    ("[BODY]['with space'] == x", True),
    ('[BODY].name == "café"', True),
    ("len([BODY].items) == 2", True),
    ("len([BODY].empty) == 0", True),
    ("len([BODY].status) == 2", True),
    ("len([BODY].meta) == 1", True),
    ("has([BODY].items) == true", True),
    ("has([BODY].nope) == false", True),
    ("has([BODY].items[0].id)", True),
    ("has([BODY].items[5])", False),
]


@pytest.mark.parametrize(("text", "expected"), JSON_CASES, ids=[c[0] for c in JSON_CASES])
def test_json_path_comparisons(text: str, expected: bool) -> None:
    """Dot keys, quoted keys, [index] (negative from the end), typed equality, len() and has()."""
    assert passes(text) is expected


@pytest.mark.parametrize(
    ("text", "resolved"),
    [
        ("[BODY].nope == 1", "[BODY].nope (missing) == 1"),
        ("[BODY].items[2].id == 1", "[BODY].items[2].id (missing) == 1"),
        ("[BODY].items[-3] == 1", "[BODY].items[-3] (missing) == 1"),
        ("[BODY].items.id == 1", "[BODY].items.id (missing) == 1"),  # a key on a list
        ("[BODY].meta[0] == 1", "[BODY].meta[0] (missing) == 1"),  # an index on an object
        ("[BODY].status.deeper == 1", "[BODY].status.deeper (missing) == 1"),
        ("[BODY][0] == 1", "[BODY][0] (missing) == 1"),
    ],
)
def test_a_path_that_is_not_there_fails_as_missing(text: str, resolved: str) -> None:
    """A missing key, an index out of range, or a step of the wrong type resolves to (missing)."""
    assert check(text) == ConditionResult(False, resolved)


def test_a_body_that_is_a_json_array_takes_an_index_first() -> None:
    """[BODY][0] indexes a top-level array."""
    assert passes('[BODY][1].name == "b"', with_(body=b'[{"name": "a"}, {"name": "b"}]'))


@pytest.mark.parametrize("body", [b"<html>ok</html>", b"", b"\xff\xfe\xfa", b"{'single': 1}"])
def test_a_body_that_is_not_json_fails_and_says_so(body: bytes) -> None:
    """HTML, an empty body or invalid bytes resolve to (not JSON), for == and != alike."""
    for text in ("[BODY].status == 1", "[BODY].status != 1"):
        result = check(text, with_(body=body))
        assert result.success is False
        assert result.resolved.startswith("[BODY].status (not JSON) ")


def test_a_deeply_nested_body_is_not_json_rather_than_a_crash() -> None:
    """A body nested deeper than the JSON parser's recursion limit is reported, not raised."""
    body = b"[" * 100_000 + b"]" * 100_000
    assert check("[BODY][0] == 1", with_(body=body)).resolved == "[BODY][0] (not JSON) == 1"


@pytest.mark.parametrize(
    ("text", "resolved"),
    [
        ("[BODY].items < 3", '[BODY].items ([{"id":3,"tags":["a","b"]},{"id":7}]) < 3'),
        ('[BODY].status > "a"', '[BODY].status ("ok") > "a"'),
        ("[BODY].up < 2", "[BODY].up (true) < 2"),
        ('[BODY].count contains "3"', '[BODY].count (3) contains "3"'),
        ('[BODY].count not contains "3"', '[BODY].count (3) not contains "3"'),
        ("len([BODY].count) > 0", "len([BODY].count) (no length: 3) > 0"),
    ],
)
def test_operators_that_do_not_apply_to_a_json_value_fail(text: str, resolved: str) -> None:
    """Ordering a non-number, `contains` on a number, len() of a number: fail both ways."""
    assert check(text) == ConditionResult(False, resolved)


def test_json_values_are_shown_compact_and_typed() -> None:
    """Strings are quoted, numbers bare, objects as compact JSON: the type is visible."""
    assert check("[BODY].text == 3").resolved == '[BODY].text ("3") == 3'
    assert check("[BODY].count == 4").resolved == "[BODY].count (3) == 4"
    assert check("[BODY].none == 1").resolved == "[BODY].none (null) == 1"
    assert check("[BODY].meta == 1").resolved == '[BODY].meta ({"version":"1.2"}) == 1'
    assert check('[BODY].name == "x"').resolved == '[BODY].name ("café") == "x"'


def test_long_values_are_clipped_in_the_resolved_string() -> None:
    """A large body is shown as its first 80 characters, with an ellipsis."""
    result = check('[BODY] contains "zzz"', with_(body=b"a" * 500))
    shown = result.resolved.removeprefix("[BODY] (").removesuffix(') contains "zzz"')
    assert shown == "a" * 79 + "…"


def test_body_text_shows_control_characters_escaped() -> None:
    """Newlines and tabs in a body do not break the one-line resolved string."""
    result = check('[BODY] == "x"', with_(body=b"line one\n\tline two"))
    assert result.resolved == '[BODY] (line one\\n\\tline two) == "x"'
    assert check('[BODY] == "x"', with_(body=b"")).resolved == '[BODY] ("") == "x"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[BODY] == "plain"', True),
        ("[BODY] == plain", True),
        ('[BODY] contains "lai"', True),
        ("[BODY] contains 3", False),
        ('[BODY] in ("plain", "other")', True),
        ("len([BODY]) == 5", True),
        ("has([BODY])", True),
    ],
)
def test_the_whole_body_compares_as_text(text: str, expected: bool) -> None:
    """[BODY] without a path is text: ==, contains, in, len()."""
    assert passes(text, with_(body=b"plain")) is expected
    assert passes(text, with_(body="plain")) is expected  # a str body works the same


def test_a_body_with_invalid_utf8_is_still_searchable() -> None:
    """Invalid bytes do not stop `contains` on the readable part."""
    assert passes('[BODY] contains "ok"', with_(body=b"\xff ok \xfe"))


# -- [HEADER], [IP], [DNS_RCODE], [CONNECTED] --------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[HEADER].Content-Type contains "json"', True),
        ('[HEADER].CONTENT-TYPE contains "JSON"', False),  # names ignore case, values do not
        ('[HEADER].content-type == "application/json; charset=utf-8"', True),
        ("[HEADER].content-type == application/json", False),
        ('[HEADER].x-empty == ""', True),
        ("has([HEADER].x-empty)", True),
        ("has([HEADER].x-nope)", False),
        ("len([HEADER].content-type) == 31", True),
        ('[HEADER].content-type in ("text/html", "application/json; charset=utf-8")', True),
    ],
)
def test_headers(text: str, expected: bool) -> None:
    """Header names match without regard to case; values compare as written."""
    assert passes(text) is expected


def test_a_header_value_is_shown_as_text() -> None:
    """The resolved header value is shown bare, an empty one as ""."""
    assert check("[HEADER].x-empty == a").resolved == '[HEADER].x-empty ("") == a'


@pytest.mark.parametrize(
    ("ips", "text", "expected"),
    [
        (("::1",), "[IP] == ::1", True),
        (("0:0:0:0:0:0:0:1",), "[IP] == ::1", True),  # compared as addresses, not text
        (("::1",), "[IP] == 127.0.0.1", False),
        (("::1",), "[IP] != 127.0.0.1", True),
        (("127.0.0.5",), "[IP] in (127.0.0.0/8)", True),
        (("127.0.0.5",), "[IP] in (10.0.0.0/8, 192.168.0.0/16)", False),
        (("127.0.0.5",), "[IP] not in (10.0.0.0/8, ::1)", True),
        (("127.0.0.5",), "[IP] in (127.0.0.4, 127.0.0.5)", True),
        (("::1",), "[IP] in (127.0.0.0/8)", False),  # another family is never inside
        (("127.0.0.1", "::1"), "[IP] == ::1", False),  # the first address: the one used
    ],
)
def test_ip(ips: tuple[str, ...], text: str, expected: bool) -> None:
    """[IP] is the address connected to, compared as an address, with networks after `in`."""
    assert passes(text, with_(ips=ips)) is expected


def test_an_ip_that_is_not_an_address_fails_and_says_so() -> None:
    """A malformed address in the context is shown, not raised."""
    assert check("[IP] == 127.0.0.1", with_(ips=("bogus",))).resolved == (
        "[IP] (not an IP address: bogus) == 127.0.0.1"
    )


@pytest.mark.parametrize(
    ("rcode", "text", "expected"),
    [
        ("NOERROR", "[DNS_RCODE] == noerror", True),  # rcodes ignore case
        ("noerror", "[DNS_RCODE] == NOERROR", True),
        ("NXDOMAIN", '[DNS_RCODE] == "NXDOMAIN"', True),
        ("SERVFAIL", "[DNS_RCODE] in (NOERROR, NXDOMAIN)", False),
        ("SERVFAIL", "[DNS_RCODE] not in (NOERROR, NXDOMAIN)", True),
        ("REFUSED", "[DNS_RCODE] != NOERROR", True),
    ],
)
def test_dns_rcode(rcode: str, text: str, expected: bool) -> None:
    """[DNS_RCODE] compares rcode names, in any case."""
    assert passes(text, with_(dns_rcode=rcode)) is expected


@pytest.mark.parametrize(
    ("connected", "text", "expected"),
    [
        (True, "[CONNECTED]", True),
        (False, "[CONNECTED]", False),
        (True, "[CONNECTED] != false", True),
        (False, "[CONNECTED] == false", True),
    ],
)
def test_connected(connected: bool, text: str, expected: bool) -> None:
    """[CONNECTED] compares with true or false; alone, it must be true."""
    assert passes(text, with_(connected=connected)) is expected


def test_a_bare_boolean_condition_shows_its_value() -> None:
    """`[CONNECTED]` alone resolves to `[CONNECTED] (false)`; has() alone likewise."""
    assert check("[CONNECTED]", with_(connected=False)).resolved == "[CONNECTED] (false)"
    assert check("has([BODY].nope)").resolved == "has([BODY].nope) (false)"


# -- the resolved string -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "resolved"),
    [
        ("[STATUS] == 200", "[STATUS] (200) == 200"),
        ("  [STATUS]   ==   200  ", "[STATUS] (200)   ==   200"),  # spacing kept, ends trimmed
        ("[STATUS]==200", "[STATUS] (200)==200"),
        ("[STATUS] in (500,503)", "[STATUS] (200) in (500,503)"),
        ("[RESPONSE_TIME] < 1s", "[RESPONSE_TIME] (120ms) < 1s"),
        ("[BODY].items[0].id == 4", "[BODY].items[0].id (3) == 4"),
        ("len([BODY].items) > 5", "len([BODY].items) (2) > 5"),
        ("[IP] == ::1", "[IP] (127.0.0.1) == ::1"),
        ("[CERTIFICATE_EXPIRATION] > 60d", "[CERTIFICATE_EXPIRATION] (30d) > 60d"),
        ("[PHASE].tls < 10ms", "[PHASE].tls (12ms) < 10ms"),
    ],
)
def test_resolved_strings_insert_the_value_after_the_operand(text: str, resolved: str) -> None:
    """The resolved string is the condition as written, with the value after the operand."""
    assert check(text).resolved == resolved


def test_a_response_time_resolves_like_gatus() -> None:
    """The issue's own example: `[STATUS] (503) == 200` beside `[RESPONSE_TIME] (734ms) < 500ms`."""
    context = with_(status=503, response_time_ms=734.0)
    assert [check(t, context) for t in ("[STATUS] == 200", "[RESPONSE_TIME] < 500ms")] == [
        ConditionResult(False, "[STATUS] (503) == 200"),
        ConditionResult(False, "[RESPONSE_TIME] (734ms) < 500ms"),
    ]


# -- the grammar: tokens, strings, spacing -------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[STATUS]==200",
        "[STATUS] == 200",
        "\t[STATUS]\t==\t200\n",
        "[STATUS]\u00a0==\u00a0200",  # any Unicode space separates tokens
        "[STATUS] in(200,204)",
        "[STATUS] in ( 200 , 204 )",
    ],
)
def test_whitespace_between_tokens_is_free(text: str) -> None:
    """Spacing around operators, values and list items does not change the meaning."""
    assert passes(text)


@pytest.mark.parametrize(
    ("text", "body"),
    [
        (r'[BODY] == "say \"hi\""', 'say "hi"'),
        (r"[BODY] == 'it\'s'", "it's"),
        ("[BODY] == 'double \" inside'", 'double " inside'),
        (r'[BODY] == "back\\slash"', "back\\slash"),
        (r'[BODY] == "a\nb"', "a\nb"),
        (r'[BODY] == "tab\there"', "tab\there"),
        ('[BODY] == "(not) [a] placeholder, <>=!"', "(not) [a] placeholder, <>=!"),
        ('[BODY] == ""', ""),
    ],
)
def test_strings_take_either_quote_and_backslash_escapes(text: str, body: str) -> None:
    """Quoted strings keep operators, brackets and commas; a backslash escapes the next char."""
    assert passes(text, with_(body=body.encode()))
    assert not passes(text, with_(body=(body + "!").encode()))


def test_operator_words_are_values_inside_quotes() -> None:
    """`"contains"` inside quotes is a string, not an operator."""
    assert passes('[BODY] contains "contains"', with_(body=b"it contains it"))


def test_condition_keeps_its_text_and_placeholder() -> None:
    """str() gives the text back, repr() is short, .placeholder names the placeholder."""
    condition = parse_condition("[PHASE].dns < 50ms")
    assert str(condition) == "[PHASE].dns < 50ms"
    assert repr(condition) == "<Condition [PHASE].dns < 50ms>"
    assert condition.placeholder == "PHASE"
    assert repr(check("[STATUS] == 200")) == "<ConditionResult pass [STATUS] (200) == 200>"


def test_conditions_and_results_are_frozen_values() -> None:
    """A parsed condition and a result cannot be changed; equal texts parse to equal values."""
    condition = parse_condition("[STATUS] == 200")
    with pytest.raises(dataclasses.FrozenInstanceError):
        condition.text = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        check("[STATUS] == 200").success = False  # type: ignore[misc]
    assert condition == parse_condition("[STATUS] == 200")
    assert hash(condition) == hash(parse_condition("[STATUS] == 200"))
    assert isinstance(condition, Condition)


# -- parse errors: where and what ----------------------------------------------------

ERROR_CASES = [
    # (condition, 0-based position, the message)
    ("", 0, "empty condition: write one like [STATUS] == 200"),
    ("   ", 0, "empty condition: write one like [STATUS] == 200"),
    ("[STAUTS] == 200", 0, "unknown placeholder [STAUTS] at column 1; did you mean [STATUS]?"),
    ("[status] == 200", 0, "unknown placeholder [status] at column 1; did you mean [STATUS]?"),
    ("[RESPONSE] < 1s", 0, "unknown placeholder [RESPONSE] at column 1"),
    ("[BODDY] == 1", 0, "unknown placeholder [BODDY] at column 1; did you mean [BODY]?"),
    ("[NOTHING_LIKE_IT] == 1", 0, "unknown placeholder [NOTHING_LIKE_IT] at column 1"),
    ("[] == 1", 0, "empty placeholder [] at column 1: write one like [STATUS]"),
    (
        "[STATUS == 200",
        0,
        "'[' at column 1 is not closed: a placeholder is written like [STATUS]",
    ),
    ("[STATUS] <", 10, "expected a value after '<' at column 11, got the end"),
    ("[RESPONSE_TIME] <   ", 20, "expected a value after '<' at column 21, got the end"),
    ("[STATUS] == )", 12, "expected a value after '==' at column 13, got ')'"),
    ("[STATUS] == [STATUS]", 12, "expected a value after '==' at column 13, got '[STATUS]'"),
    ("[STATUS] in ()", 13, "expected a value after 'in' at column 14, got ')'"),
    ("[STATUS] in (200,)", 17, "expected a value after ',' at column 18, got ')'"),
    ("[STATUS] in (200 204)", 17, "expected ',' or ')' in the list at column 18"),
    ("[STATUS] in (200", 16, "expected ',' or ')' in the list at column 17"),
    ("[STATUS] == (200)", 12, "a list ( ... ) at column 13 goes only after 'in'"),
    ("[STATUS] = 200", 9, "'=' at column 10 does not compare: write '=='"),
    ("[STATUS] => 200", 9, "'=' at column 10 does not compare: write '>='"),
    ("[STATUS] =< 200", 9, "'=' at column 10 does not compare: write '<='"),
    ("[STATUS] ! 200", 9, "'!' at column 10 must be followed by '=': write '!=' or 'not contains'"),
    (
        "[STATUS]",
        8,
        "expected an operator after [STATUS] at column 9 (==, !=, <, <=, >, >=, in, not in)",
    ),
    (
        "[STATUS] is 200",
        9,
        "expected an operator after [STATUS] at column 10, got 'is' "
        "(==, !=, <, <=, >, >=, contains, not contains, in, not in)",
    ),
    ("[STATUS] not 200", 13, "expected 'contains' or 'in' after 'not' at column 14"),
    ("[BODY] not", 10, "expected 'contains' or 'in' after 'not' at column 11"),
    (
        "[STATUS] contains 2",
        9,
        "[STATUS] cannot use 'contains' at column 10; "
        "it compares with ==, !=, <, <=, >, >=, in, not in",
    ),
    (
        "[BODY] < 3",
        7,
        "[BODY] cannot use '<' at column 8; it compares with ==, !=, contains, not contains, "
        "in, not in",
    ),
    ("[CONNECTED] < true", 12, "[CONNECTED] cannot use '<' at column 13; it compares with ==, !="),
    ("[RESPONSE_TIME] in (1s)", 16, "[RESPONSE_TIME] cannot use 'in' at column 17"),
    (
        "[RESPONSE_TIME] < 500",
        18,
        "[RESPONSE_TIME] compares with a duration (500ms, 2s, 1m, 1h, 14d); "
        "500 at column 19 is not one; write 500ms or 500s",
    ),
    ("[PHASE].dns < fast", 14, "[PHASE].dns compares with a duration"),
    ("[STATUS] == OK", 12, "[STATUS] compares with a number; OK at column 13 is not one"),
    ('[STATUS] == "OK"', 12, '[STATUS] compares with a number; "OK" at column 13 is not one'),
    ("[STATUS] == 1e999", 12, "[STATUS] compares with a number"),
    ("[DNS_RCODE] == NOERRR", 15, "NOERRR at column 16 is not one; did you mean NOERROR?"),
    ("[DNS_RCODE] == 0", 15, "[DNS_RCODE] compares with a DNS rcode"),
    ("[IP] == localhost", 8, "[IP] compares with an IP address; localhost at column 9 is not one"),
    (
        "[IP] == 10.0.0.0/8",
        8,
        "[IP] compares with one address; the network 10.0.0.0/8 at column 9 goes after 'in'",
    ),
    ("[IP] in (10.0.0.0/33)", 9, "[IP] compares with an IP address; 10.0.0.0/33 at column 10"),
    ("[CONNECTED] == yes", 15, "[CONNECTED] compares with true or false; yes at column 16"),
    ("[CONNECTED] == True", 15, "[CONNECTED] compares with true or false"),
    ("[HEADER] == x", 8, "[HEADER] needs a name at column 9, as in [HEADER].content-type"),
    (
        "[HEADER].a.b == x",
        10,
        "[HEADER] takes one name, as in [HEADER].content-type; remove '.b' at column 11",
    ),
    ("[HEADER][0] == x", 8, "[HEADER] takes one name"),
    ("[PHASE] < 1s", 7, "[PHASE] needs a name at column 8, as in [PHASE].connect"),
    (
        "[PHASE].dsn < 5ms",
        8,
        "unknown phase 'dsn' at column 9; the phases are dns, dnssec, connect, tls, quic, auth, "
        "query, ssh, smtp, icmp, ws, grpc, ttfb, transfer; did you mean dns?",
    ),
    ("[PHASE].TLS < 5ms", 8, "unknown phase 'TLS' at column 9; the phases are"),
    ("[STATUS].code == 200", 8, "[STATUS] takes no path: remove '.code' at column 9"),
    ("[IP][0] == ::1", 4, "[IP] takes no path: remove '[0]' at column 5"),
    ("[BODY]. == 1", 7, "expected a key after '.' at column 8, as in [BODY].status"),
    ("[BODY].items[x] == 1", 12, "expected an index like [0] or a quoted key like"),
    ("[BODY].items[1.5] == 1", 12, "expected an index like [0] or a quoted key like"),
    ('[BODY]["open] == 1', 7, "the string starting at column 8 is not closed"),
    ('[BODY]["key" == 1', 6, "expected an index like [0]"),
    (
        "[BODY] .status == 1",
        7,
        "expected an operator after [BODY] at column 8, got '.status' "
        "(==, !=, <, <=, >, >=, contains, not contains, in, not in): "
        "write the path right after the placeholder, without a space",
    ),
    ('[BODY] contains "abc', 16, 'the string starting at column 17 is not closed: end it with "'),
    ("[BODY] contains 'abc", 16, "the string starting at column 17 is not closed: end it with '"),
    (
        "[STATUS] == 200 && [RESPONSE_TIME] < 1s",
        16,
        "unexpected '&&' at column 17: a condition compares one placeholder with one value",
    ),
    ("[STATUS] == 200 200", 16, "unexpected '200' at column 17"),
    ("200 == [STATUS]", 0, "expected a placeholder like [STATUS] at column 1, got '200'"),
    ("== 200", 0, "expected a placeholder like [STATUS] at column 1, got '=='"),
    (
        "size([BODY]) > 1",
        0,
        "unknown function size() at column 1; the functions are len(), has()",
    ),
    ("lenn([BODY]) > 1", 0, "unknown function lenn() at column 1; the functions are len(), has()"),
    ("Len([BODY]) > 1", 0, "did you mean len()?"),
    ("len([BODY] > 1", 11, "expected ')' to close len( at column 12"),
    ("len() > 1", 4, "expected a placeholder like [STATUS] at column 5, got ')'"),
    ("len(", 4, "expected a placeholder like [STATUS] at column 5, got the end"),
    (
        "len([STATUS]) > 1",
        0,
        "len() at column 1 measures [BODY] or a [HEADER], not [STATUS]",
    ),
    ("len([BODY]) > 1s", 14, "len([BODY]) compares with a number; 1s at column 15 is not one"),
    ('has([BODY].x) == "yes"', 17, "has([BODY].x) compares with true or false"),
]


@pytest.mark.parametrize(
    ("text", "position", "message"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES]
)
def test_parse_errors_say_where_and_what(text: str, position: int, message: str) -> None:
    """Every malformed condition raises ConditionError at the right column with a useful message."""
    with pytest.raises(ConditionError) as caught:
        parse_condition(text)
    error = caught.value
    assert error.position == position
    assert error.column == position + 1
    assert message in str(error)
    assert error.text == text


@pytest.mark.parametrize(
    ("quoted", "bare"),
    [
        ('[STATUS] == "200"', "[STATUS] == 200"),
        ('[PHASE].dns < "5ms"', "[PHASE].dns < 5ms"),
        ('[IP] == "127.0.0.1"', "[IP] == 127.0.0.1"),
        ('[DNS_RCODE] == "NOERROR"', "[DNS_RCODE] == NOERROR"),
        ('[CONNECTED] == "true"', "[CONNECTED] == true"),
    ],
)
def test_quotes_change_nothing_outside_json(quoted: str, bare: str) -> None:
    """Only a JSON value is typed; for other placeholders a quoted value reads as a bare one."""
    assert parse_condition(quoted).values[0].value == parse_condition(bare).values[0].value
    assert passes(quoted)


def test_a_condition_error_is_a_value_error_with_a_caret() -> None:
    """ConditionError is a ValueError and can draw a caret under the problem."""
    with pytest.raises(ValueError, match="column 11") as caught:
        parse_condition("[STATUS] <")
    assert isinstance(caught.value, ConditionError)
    assert caught.value.excerpt() == "[STATUS] <\n          ^"


def test_a_suggestion_is_only_offered_when_close() -> None:
    """A name like no placeholder gets the error without a guess."""
    with pytest.raises(ConditionError) as caught:
        parse_condition("[XYZZY] == 1")
    assert "did you mean" not in str(caught.value)


# -- context_from_probe --------------------------------------------------------------

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
LOOPBACK_ANSWER = {"type": "A", "address": "127.0.0.1"}


def https_result() -> ProbeResult:
    """An https probe as the engine records one, with a direct DNS resolver."""
    return ProbeResult(
        "https://api.test/health",
        (
            Phase("url", True, 0.01, UrlDetails("https", "api.test", 443)),
            Phase("proxy", True, 0.02, ProxyDetails(None, "none")),
            Phase(
                "dns",
                True,
                3.0,
                DnsDetails(
                    "127.0.0.1:5353",
                    (
                        DnsRecord("AAAA", "::1", 60, 1.0),
                        DnsRecord("A", "127.0.0.1", 60, 1.0),
                    ),
                    {"AAAA": "NOERROR", "A": "NOERROR"},
                ),
            ),
            Phase("connect", True, 0.5, ConnectDetails("127.0.0.1", 443)),
            Phase(
                "tls",
                True,
                10.0,
                TlsDetails(
                    "api.test",
                    True,
                    chain=(
                        Certificate(
                            "CN=api.test", "CN=ca", (), "", "2025-01-20T12:00:00+00:00", 19
                        ),
                        Certificate("CN=ca", "CN=ca", (), "", "2030-01-01T00:00:00+00:00", 1807),
                    ),
                ),
            ),
            Phase(
                "http",
                True,
                86.5,
                HttpDetails(
                    "GET",
                    Response(200, 12, None, None, 80.0, 3, True, "/next"),
                ),
            ),
        ),
        None,
    )


def test_context_from_an_https_probe() -> None:
    """Every field comes from the phase details: status, timings, rcode, addresses, expiry."""
    context = context_from_probe(https_result(), b'{"ok": true}')
    assert context == ProbeContext(
        status=200,
        response_time_ms=pytest.approx(100.03),
        body=b'{"ok": true}',
        headers={"retry-after": "3", "location": "/next"},
        certificate_expires_in_s=19 * 86400.0,
        dns_rcode="NOERROR",
        ips=("127.0.0.1", "::1"),
        connected=True,
        phase_ms={"dns": 3.0, "connect": 0.5, "tls": 10.0, "ttfb": 80.0, "transfer": 6.5},
    )
    assert passes("[BODY].ok == true", context)
    assert passes("[PHASE].transfer == 6.5ms", context)


def test_context_from_probe_uses_given_headers_and_now() -> None:
    """Headers the caller read replace the two the phase keeps; `now` makes expiry exact."""
    context = context_from_probe(
        https_result(), None, headers={"Content-Type": "text/plain"}, now=NOW
    )
    assert context.headers == {"Content-Type": "text/plain"}
    assert context.certificate_expires_in_s == (19 * 86400.0 + 12 * 3600.0)
    assert check("[CERTIFICATE_EXPIRATION] < 19d", context).resolved == (
        "[CERTIFICATE_EXPIRATION] (19d12h) < 19d"
    )
    assert context.body is None


def test_context_from_a_tcp_probe_has_no_http_values() -> None:
    """A tcp:// probe has no status, body, headers, tls or ttfb: conditions on them fail."""
    result = ProbeResult(
        "tcp://127.0.0.1:5432",
        (
            Phase("url", True, 0.01, UrlDetails("tcp", "127.0.0.1", 5432)),
            Phase("proxy", True, 0.01, ProxyDetails(None, "not used for a TCP check")),
            Phase("dns", True, 0.0, DnsDetails(None, (DnsRecord("A", "127.0.0.1"),), literal=True)),
            Phase("connect", True, 0.3, ConnectDetails("127.0.0.1", 5432)),
        ),
        None,
    )
    context = context_from_probe(result)
    assert context.status is None
    assert context.headers == {}
    assert context.certificate_expires_in_s is None
    assert context.dns_rcode is None  # a literal address: no query was made
    assert context.ips == ("127.0.0.1",)
    assert context.connected is True
    assert set(context.phase_ms) == {"dns", "connect"}
    assert check("[STATUS] == 200", context).resolved == "[STATUS] (missing) == 200"
    assert passes("[CONNECTED]", context)


def test_context_from_a_refused_connection() -> None:
    """A refused connect: not connected, no address connected to, but the DNS answers remain."""
    refused = failure_for(Kind.CONNECT_REFUSED, "refused", host="127.0.0.1", port=1)
    result = ProbeResult(
        "http://localhost:1/",
        (
            Phase("url", True, 0.01),
            Phase("proxy", True, 0.01, ProxyDetails(None, "none")),
            Phase("dns", True, 1.0, DnsDetails(DnsDetails.SYSTEM, (DnsRecord("A", "127.0.0.1"),))),
            Phase("connect", False, 0.2, ConnectDetails(None, 1), refused),
        ),
        refused,
    )
    context = context_from_probe(result)
    assert context.connected is False
    assert context.ips == ("127.0.0.1",)
    assert context.dns_rcode == "NOERROR"  # the system resolver answered
    assert check("[CONNECTED]", context).resolved == "[CONNECTED] (false)"


@pytest.mark.parametrize(
    ("kind", "rcode"),
    [
        (Kind.DNS_NOT_FOUND, "NXDOMAIN"),
        (Kind.DNS_NO_ADDRESS, "NOERROR"),
        (Kind.DNS_TIMEOUT, None),
        (Kind.DNS_UNAVAILABLE, None),
    ],
)
def test_system_resolver_failures_imply_an_rcode(kind: Kind, rcode: str | None) -> None:
    """getaddrinfo hides the rcode: not found is NXDOMAIN, no address is NOERROR, else unknown."""
    failure = failure_for(kind, "dns failed", host="nowhere.test", port=80)
    result = ProbeResult(
        "http://nowhere.test/",
        (Phase("dns", False, 1.0, DnsDetails(DnsDetails.SYSTEM), failure),),
        failure,
    )
    context = context_from_probe(result)
    assert context.dns_rcode == rcode
    assert context.ips == ()
    assert context.connected is False


@pytest.mark.parametrize(
    ("rcodes", "expected"),
    [
        ({"AAAA": "NOERROR", "A": "NOERROR"}, "NOERROR"),
        ({"AAAA": "NOERROR", "A": "NXDOMAIN"}, "NXDOMAIN"),
        ({"AAAA": "SERVFAIL", "A": "NXDOMAIN"}, "NXDOMAIN"),
        ({"AAAA": "NOERROR", "A": "SERVFAIL"}, "SERVFAIL"),
        ({"A": "REFUSED"}, "REFUSED"),
        (None, None),  # the server did not answer
    ],
)
def test_a_direct_resolver_reports_the_worst_rcode(
    rcodes: dict[str, str] | None, expected: str | None
) -> None:
    """With one answer per record type, NXDOMAIN wins, then any other error, else NOERROR."""
    result = ProbeResult(
        "http://x.test/",
        (Phase("dns", True, 1.0, DnsDetails("127.0.0.1:53", rcodes=rcodes)),),
        None,
    )
    assert context_from_probe(result).dns_rcode == expected


def test_context_through_a_proxy_tunnel_skips_dns_and_connect_timings() -> None:
    """Skipped dns/connect phases (a CONNECT tunnel) are not timings and have no rcode."""
    skipped = Skipped("the proxy resolves and connects")
    result = ProbeResult(
        "https://api.test/",
        (
            Phase("proxy", True, 1.5, ProxyDetails("http://127.0.0.1:3128", "", mode="CONNECT")),
            Phase("dns", True, 0.0, skipped),
            Phase("connect", True, 0.0, skipped),
            Phase("http", True, 20.0, HttpDetails("GET", Response(204, 0, ttfb_ms=19.0))),
        ),
        None,
    )
    context = context_from_probe(result)
    assert set(context.phase_ms) == {"ttfb", "transfer"}
    assert context.dns_rcode is None
    assert context.connected is True
    assert passes("[STATUS] in (200, 204)", context)


def test_context_through_a_forwarding_proxy_is_connected() -> None:
    """An http:// request through a forwarding proxy records no connect phase, yet connected."""
    result = ProbeResult(
        "http://api.test/",
        (
            Phase("proxy", True, 1.0, ProxyDetails("http://127.0.0.1:3128", "", mode="forwarding")),
            Phase("http", True, 5.0, HttpDetails("GET", Response(200, 0))),
        ),
        None,
    )
    context = context_from_probe(result)
    assert context.connected is True
    assert "ttfb" not in context.phase_ms  # no first byte recorded: no ttfb, no transfer


def test_context_of_an_http_error_keeps_the_status() -> None:
    """A 503 is a failed http phase that still carries its status and Retry-After."""
    failure = failure_for(Kind.HTTP_SERVER_ERROR, "503", url="http://127.0.0.1/")
    result = ProbeResult(
        "http://127.0.0.1/",
        (
            Phase(
                "http",
                False,
                3.0,
                HttpDetails("GET", Response(503, 0, retry_after=120, retry_after_sent=True)),
                failure,
            ),
        ),
        failure,
    )
    context = context_from_probe(result)
    assert check("[STATUS] == 200", context).resolved == "[STATUS] (503) == 200"
    assert passes('[HEADER].Retry-After == "120"', context)


# -- any(), pat() and len(), as gatus writes them --------------------------------------


@pytest.mark.parametrize(
    ("text", "context", "resolved", "expected"),
    [
        (
            "[STATUS] == any(200, 201, 204)",
            with_(status=201),
            "[STATUS] (201) == any(200, 201, 204)",
            True,
        ),
        (
            "[STATUS] == any(200, 201, 204)",
            with_(status=503),
            "[STATUS] (503) == any(200, 201, 204)",
            False,
        ),
        ("[STATUS] != any(500, 502)", with_(status=200), "[STATUS] (200) != any(500, 502)", True),
        ("[STATUS] != any(500, 502)", with_(status=502), "[STATUS] (502) != any(500, 502)", False),
        (
            "[DNS_RCODE] == any(noerror, nxdomain)",
            HEALTHY,
            "[DNS_RCODE] (NOERROR) == any(noerror, nxdomain)",
            True,
        ),
        (
            "[IP] == any(198.51.100.7, ::1, 127.0.0.1)",
            HEALTHY,
            "[IP] (127.0.0.1) == any(198.51.100.7, ::1, 127.0.0.1)",
            True,
        ),
        (
            '[BODY].status == any("ok", "degraded")',
            HEALTHY,
            '[BODY].status ("ok") == any("ok", "degraded")',
            True,
        ),
        ("[BODY].count == any(1, 2)", HEALTHY, "[BODY].count (3) == any(1, 2)", False),
        ('[BODY].text == any(3, "4")', HEALTHY, '[BODY].text ("3") == any(3, "4")', False),
        ("[STATUS] == any(200)", NOTHING, "[STATUS] (missing) == any(200)", False),
        ("[STATUS] != any(200)", NOTHING, "[STATUS] (missing) != any(200)", False),
    ],
)
def test_any_is_equal_to_one_of_its_values(
    text: str, context: ProbeContext, resolved: str, expected: bool
) -> None:
    """any() passes on one equal value, typed as the placeholder reads it; != any() on none;
    a missing value fails both; the resolved string is gatus's."""
    result = check(text, context)
    assert (result.resolved, result.success) == (resolved, expected)


def test_any_is_in_by_another_name() -> None:
    """== any(...) parses to the operator in, != any(...) to not in, with the same values."""
    spelled = parse_condition("[STATUS] == any(200, 204)")
    assert spelled.operator == "in"
    assert [v.value for v in spelled.values] == [200, 204]
    assert parse_condition("[STATUS] != any(200)").operator == "not in"


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        ("[BODY] == pat(*ok*)", with_(body=b"all ok here"), True),
        ("[BODY] == pat(*ok*)", with_(body=b"all good"), False),
        ("[BODY] == pat(ok*)", with_(body=b"all ok"), False),  # the whole value must match
        ("[BODY] == pat(*ok)", with_(body=b"ok then"), False),
        ("[BODY] == pat(o?)", with_(body=b"ok"), True),
        ("[BODY] == pat(o?)", with_(body=b"o"), False),
        ("[BODY] == pat(OK)", with_(body=b"ok"), False),  # case counts
        ("[BODY] == pat(*)", with_(body=b""), True),
        ("[BODY] == pat(?)", with_(body=b""), False),
        ("[BODY] == pat(a*b*c)", with_(body=b"abbc"), True),
        ("[BODY] == pat(a*b*c)", with_(body=b"acb"), False),
        ("[BODY] == pat(*a?c*)", with_(body=b"xxabcxx"), True),
        ("[BODY] == pat(*a?c*)", with_(body=b"xxacxx"), False),
        ("[BODY] == pat(*line?two*)", with_(body=b"line\ntwo"), True),  # ? is a newline too
        ("[BODY] == pat(a.c)", with_(body=b"abc"), False),  # '.' is itself, not any
        ('[BODY] == pat("*all good*")', with_(body=b"we are all good"), True),
        ("[BODY] != pat(*error*)", with_(body=b"fine"), True),
        ("[BODY] != pat(*error*)", with_(body=b"an error"), False),
        ("[BODY] != pat(*)", NOTHING, False),  # missing fails even negated
        ("[STATUS] == pat(2??)", with_(status=204), True),
        ("[STATUS] == pat(2??)", with_(status=404), False),
        ("[BODY].meta.version == pat(1.*)", HEALTHY, True),
        ("[BODY].count == pat(3)", HEALTHY, True),  # a JSON number, matched as written
        ("[BODY].up == pat(t*)", HEALTHY, True),
        ("[BODY].name == pat(caf?)", HEALTHY, True),  # one character, not one byte
        ('[HEADER].content-type == pat("application/json*")', HEALTHY, True),
        ("[DNS_RCODE] == pat(NO*)", HEALTHY, True),
        ("[IP] == pat(127.*)", HEALTHY, True),
        ("[STATUS] == any(pat(2*), 304)", with_(status=304), True),
        ("[STATUS] == any(pat(2*), 304)", with_(status=301), False),
    ],
)
def test_pat_matches_a_glob(text: str, context: ProbeContext, expected: bool) -> None:
    """pat(): * any run, ? any one character, nothing else special, the whole value."""
    assert passes(text, context) is expected


def test_pat_resolves_like_gatus() -> None:
    """The resolved string keeps pat( ... ) as written after the value."""
    assert check("[BODY] == pat(*ok*)", with_(body=b"nope")).resolved == (
        "[BODY] (nope) == pat(*ok*)"
    )
    assert check("len([BODY]) == 5", with_(body=b"hello")).resolved == "len([BODY]) (5) == 5"


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "pattern",
    [
        "*a*a*a*a*a*a*a*a*a*a*a*a*b",
        "*" + "a?" * 120 + "b*",
        "a" + "*?" * 120 + "b",
        "*" + "?" * 255,
    ],
)
def test_pat_takes_no_exponential_time_on_a_hostile_pattern(pattern: str) -> None:
    """Patterns that make a backtracking matcher (fnmatch, a regex) take ages on a 64 KiB
    body of a's: each answers at once (the test's timeout would fail a blow-up)."""
    body = "a" * 64 * 1024
    expected = pattern == "*" + "?" * 255
    assert passes(f"[BODY] == pat({pattern})", with_(body=body)) is expected


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        ("[BODY] == re(^ok)", with_(body=b"ok then"), True),
        ("[BODY] == re(^ok)", with_(body=b"not ok"), False),
        ("[BODY] == re(ok)", with_(body=b"not ok"), True),  # searched, not anchored
        ('[BODY] == re("^ok( [0-9]+)?$")', with_(body=b"ok 42"), True),
        ('[BODY] == re("^ok( [0-9]+)?$")', with_(body=b"ok 42 but"), False),
        ('[BODY] == re("^\\\\d+$")', with_(body=b"123"), True),  # the condition's \\ is one \.
        ('[BODY] == re("^\\\\d+$")', with_(body=b"12a"), False),
        ("[BODY] != re(error)", with_(body=b"fine"), True),
        ("[BODY] != re(error)", with_(body=b"an error"), False),
        ("[BODY] != re(x)", NOTHING, False),  # missing fails even negated
        ("[STATUS] == re(^2)", with_(status=204), True),
        ("[STATUS] == any(re(^2), 404)", with_(status=404), True),
        ("[STATUS] == any(re(^2), 404)", with_(status=500), False),
        ('[BODY].meta.version == re("^1[.]")', HEALTHY, True),
    ],
)
def test_re_searches_a_regular_expression(text: str, context: ProbeContext, expected: bool) -> None:
    """re(): a regular expression searched anywhere in the value (anchor with ^ and $)."""
    assert passes(text, context) is expected


def test_re_is_stopped_by_its_time_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A catastrophic pattern is stopped by the regex package's own timeout: the condition
    fails, saying so, in about the bound (no injected clock: the bound itself is real)."""
    import time

    from tether.monitor.config._conditions import _patterns

    monkeypatch.setattr(_patterns, "REGEX_TIMEOUT_S", 0.01)
    # (a+)+$ is one the regex package defuses by itself; (a|aa)+$ it does not.
    condition = parse_condition('[BODY] == re("(a|aa)+$")')
    started = time.perf_counter()
    result = condition.evaluate(with_(body="a" * 40 + "b"))
    took = time.perf_counter() - started
    assert not result.success
    assert result.resolved.endswith('== re("(a|aa)+$") (re() stopped: the search took over 10 ms)')
    assert took < 1.0  # unbounded, this search takes minutes
    # (a+)+$, the classic, answers at once, and a failing one too.
    assert not passes('[BODY] == re("(a+)+$")', with_(body="a" * 40 + "b"))


def test_a_regular_expression_is_compiled_once_at_parse() -> None:
    """re()'s pattern is compiled when the condition is parsed, not at every evaluation."""
    condition = parse_condition("[BODY] == re(^ok)")
    (literal,) = condition.values
    assert literal.value.compiled.pattern == "^ok"


def test_pat_agrees_with_fnmatch_on_small_cases() -> None:
    """On every pattern of up to 5 of a, b, *, ? and texts of up to 5 a's and b's, pat()
    agrees with fnmatchcase (the slow, backtracking reference)."""
    import fnmatch
    import itertools

    texts = ["".join(t) for n in range(6) for t in itertools.product("ab", repeat=n)]
    for n in range(6):
        for chars in itertools.product("ab*?", repeat=n):
            pattern = "".join(chars)
            condition = parse_condition(f"[BODY] == pat('{pattern}')")
            for text in texts:
                got = condition.evaluate(with_(body=text)).success
                assert got is fnmatch.fnmatchcase(text, pattern), (pattern, text)


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("[STATUS] < any(200)", 11, "any() at column 12 goes after == or !=, not '<'"),
        ("[STATUS] in any(200)", 12, "any() at column 13 goes after == or !=, not 'in'"),
        ("[BODY] contains pat(*x*)", 16, "pat() at column 17 goes after == or !=, not 'contains'"),
        (
            "[RESPONSE_TIME] == any(1s, 2s)",
            19,
            "[RESPONSE_TIME] cannot use any() at column 20; a duration is compared with < or >",
        ),
        (
            "[CONNECTED] == pat(t*)",
            15,
            "[CONNECTED] cannot use pat() at column 16; it is true or false",
        ),
        ("[STATUS] == any(200, 201", 24, "expected ',' or ')' to close any( at column 25"),
        ("[STATUS] == any()", 16, "expected a value after '==' at column 17, got ')'"),
        (
            "[STATUS] == any(200, ok)",
            21,
            "[STATUS] compares with a number; ok at column 22 is not one",
        ),
        (
            "[IP] == any(10.0.0.0/8)",
            12,
            "[IP] compares with one address; the network 10.0.0.0/8 at column 13 goes after 'in'",
        ),
        ("[STATUS] == any(any(1))", 16, "any() at column 17 cannot go inside any()"),
        (
            "[BODY] == pat()",
            14,
            "expected a pattern like *ok* in pat( at column 15, got ')'; "
            "quote one with spaces or ()[],<>=! in it",
        ),
        ("[BODY] == pat(all good)", 18, "expected ')' to close pat( at column 19"),
        (
            '[BODY] == re("(a")',
            13,
            "the regular expression in re( at column 14 does not compile: missing ) at position 2",
        ),
        (
            "[BODY] == re(*ok*)",
            13,
            "the regular expression in re( at column 14 does not compile: "
            "nothing to repeat at position 0",
        ),
        ("[BODY] contains re(x)", 16, "re() at column 17 goes after == or !=, not 'contains'"),
        (
            "[PHASE].dns == re(1)",
            15,
            "[PHASE].dns cannot use re() at column 16; a duration is compared with < or >",
        ),
        (
            "[BODY] == pat(" + "a" * 257 + ")",
            14,
            "the pattern at column 15 is 257 characters long; pat() takes at most 256",
        ),
        ("[BODY] == pat(*) x", 17, "unexpected 'x' at column 18"),
    ],
)
def test_any_and_pat_errors_say_where_and_what(text: str, position: int, message: str) -> None:
    """A misplaced or malformed any() or pat() is one ConditionError at the right column."""
    with pytest.raises(ConditionError) as caught:
        parse_condition(text)
    assert caught.value.position == position
    assert str(caught.value).startswith(message)


def test_pat_and_any_without_parentheses_are_plain_words() -> None:
    """Only pat( and any( are functions: the bare words still compare as text."""
    assert passes("[BODY] == any", with_(body=b"any"))
    assert passes("[BODY] == pat", with_(body=b"pat"))
    assert passes('[BODY] == "pat(x)"', with_(body=b"pat(x)"))


# -- the documentation's tables ------------------------------------------------------

DOC = Path(__file__).parents[3] / "docs" / "conditions.md"


def _table_rows(heading: str) -> list[list[str]]:
    text = DOC.read_text()
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[1:]]


def test_the_docs_list_every_placeholder_and_operator() -> None:
    """docs/conditions.md has one row per placeholder and per operator, no more, no fewer."""
    placeholders = [row[0] for row in _table_rows("## Placeholders")]
    assert placeholders == [
        "`[STATUS]`",
        "`[RESPONSE_TIME]`",
        "`[BODY]`",
        "`[BODY].path`",
        "`[HEADER].name`",
        "`[CERTIFICATE_EXPIRATION]`",
        "`[DOMAIN_EXPIRATION]`",
        "`[DNS_RCODE]`",
        "`[IP]`",
        "`[CONNECTED]`",
        "`[BANNER]`",
        "`[PACKET_LOSS]`",
        "`[RTT]`",
        "`[GRPC_STATUS]`",
        "`[GRPC_CODE]`",
        "`[RESULT]`",
        "`[ROWS]`",
        "`[PHASE].dns`",
        "`[PHASE].dnssec`",
        "`[PHASE].connect`",
        "`[PHASE].tls`",
        "`[PHASE].ssh`",
        "`[PHASE].smtp`",
        "`[PHASE].icmp`",
        "`[PHASE].ws`",
        "`[PHASE].grpc`",
        "`[PHASE].auth`",
        "`[PHASE].query`",
        "`[PHASE].ttfb`",
        "`[PHASE].transfer`",
        "`[PHASE].quic`",
        "`len(...)`",
        "`has(...)`",
    ]
    operators = [row[0] for row in _table_rows("## Operators")]
    assert operators == [
        "`==`",
        "`!=`",
        "`<` `<=` `>` `>=`",
        "`contains`",
        "`not contains`",
        "`in (...)`",
        "`not in (...)`",
        "`== any(...)` `!= any(...)`",
        "`== pat(...)` `!= pat(...)`",
        "`== re(...)` `!= re(...)`",
    ]


RESOLVED = re.compile(r"^((?:len|has)\(\[[A-Z_]+\][^ )]*\)|\[[A-Z_]+\][^ ]*) \((.*?)\)((?: .*)?)$")


def test_every_example_in_the_docs_tables_is_a_resolved_condition() -> None:
    """Each passing and failing example is a valid condition with a value inserted."""
    cells = [
        cell
        for heading in ("## Placeholders", "## Operators")
        for row in _table_rows(heading)
        for cell in row[-2:]
    ]
    assert len(cells) == 2 * (33 + 10)
    for cell in cells:
        match = RESOLVED.match(cell.strip("`"))
        assert match is not None, cell
        operand, _value, rest = match.groups()
        parse_condition(operand + rest)
