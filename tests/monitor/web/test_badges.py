"""Badges: the SVG (it parses, its boxes fit its text, names are escaped, colours follow
the value), then served by a real runner over the lab (tests/helpers/status_harness.py): the
right value for each monitor on a page, and the same 404 for every other name."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.helpers.status_harness import DAY, Public, started
from tests.helpers.web_harness import EPOCH
from tether.lab import Lab
from tether.monitor._state import State
from tether.monitor.web.status._badges import (
    GREY,
    badge_svg,
    latency_badge,
    status_badge,
    text_width,
    uptime_badge,
    uptime_colour,
)

SVG = "{http://www.w3.org/2000/svg}"


def read(svg: str | bytes) -> dict[str, object]:
    """The badge's title, its two boxes' widths and colours, and its visible texts."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    boxes = [r for r in root.iter(f"{SVG}rect") if r.get("fill", "").startswith("#")]
    label_box, value_box = boxes[1], boxes[2]  # after the clip path's
    texts = [t.text for t in root.iter(f"{SVG}text") if t.get("aria-hidden") is None]
    return {
        "title": root.findtext(f"{SVG}title"),
        "width": int(root.get("width", "0")),
        "label_width": int(label_box.get("width", "0")),
        "value_width": int(value_box.get("width", "0")),
        "colour": value_box.get("fill"),
        "texts": texts,
    }


def test_a_badge_is_two_boxes_as_wide_as_their_texts() -> None:
    """Each box is its text's estimated width plus 10 px of padding, and the image as wide
    as both; a longer text makes a wider box."""
    got = read(badge_svg("build", "passing", "#4c1"))
    assert got["texts"] == ["build", "passing"]
    assert got["title"] == "build: passing"
    assert got["label_width"] == round(text_width("build") + 10)
    assert got["value_width"] == round(text_width("passing") + 10)
    assert got["width"] == got["label_width"] + got["value_width"]
    assert got["colour"] == "#4c1"
    assert text_width("") == 0
    assert text_width("WWW") > text_width("iii")
    # Verdana at 11 px: "passing" is about 43 px wide, as shields.io measures it.
    assert 40 < text_width("passing") < 46
    assert text_width("日本") > text_width("ab")


def test_a_name_with_markup_is_escaped_and_reads_back_as_written() -> None:
    """A label holding <, &, quotes parses as XML and its text is the name itself."""
    name = "S&P <500> \"x\" 'y'"
    svg = badge_svg(name, "up", "#4c1")
    assert "<500>" not in svg
    got = read(svg)
    assert got["texts"] == [name, "up"]
    assert got["title"] == f"{name}: up"


@pytest.mark.parametrize(
    ("state", "colour"),
    [
        (State.UP, "#4c1"),
        (State.DEGRADED, "#dfb317"),
        (State.FLAPPING, "#fe7d37"),
        (State.DOWN, "#e05d44"),
        (State.PAUSED, GREY),
        (State.UNKNOWN, GREY),
    ],
)
def test_a_status_badge_says_the_state_in_its_colour(state: State, colour: str) -> None:
    """up green, degraded yellow, flapping orange, down red, paused and unknown grey."""
    got = read(status_badge("api", state))
    assert got["texts"] == ["api", str(state)]
    assert got["colour"] == colour


@pytest.mark.parametrize(
    ("share", "said", "colour"),
    [
        (1.0, "100%", "#4c1"),
        (0.9995, "99.95%", "#4c1"),
        (0.995, "99.50%", "#a4a61d"),
        (0.96, "96.00%", "#dfb317"),
        (0.92, "92.00%", "#fe7d37"),
        (0.5, "50.00%", "#e05d44"),
        (None, "no data", GREY),
    ],
)
def test_an_uptime_badge_colours_by_threshold(share: float | None, said: str, colour: str) -> None:
    """Green from 99.9 %, yellow-green from 99 %, yellow from 95 %, orange from 90 %, red
    below; grey while unknown."""
    got = read(uptime_badge("uptime 30d", share))
    assert got["texts"] == ["uptime 30d", said]
    assert got["colour"] == colour == uptime_colour(share)


@pytest.mark.parametrize(
    ("ms", "said", "colour"),
    [
        (12.4, "12 ms", "#4c1"),
        (450.0, "450 ms", "#dfb317"),
        (1500.0, "1500 ms", "#fe7d37"),
        (12_345.0, "12.3 s", "#e05d44"),
        (None, "no data", GREY),
    ],
)
def test_a_response_time_badge_says_ms(ms: float | None, said: str, colour: str) -> None:
    """Milliseconds, seconds past ten; green under 300 ms, yellow under 1 s, orange under
    3 s, red beyond."""
    got = read(latency_badge("response time", ms))
    assert got["texts"] == ["response time", said]
    assert got["colour"] == colour


# -- served ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def public(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Public]:
    s = started(tmp_path_factory.mktemp("badges"), lab)
    yield s
    s.close()


def badge(public: Public, monitor: str, which: str) -> dict[str, object]:
    status, headers, body = public.get(f"/badge/{quote(monitor, safe='')}/{which}.svg")
    assert status == 200, (monitor, which, status)
    assert headers["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert headers["Cache-Control"] == "max-age=60"
    return read(body)


def test_the_status_badge_of_a_public_monitor_is_its_state_under_its_display_name(
    public: Public,
) -> None:
    """/badge/MONITOR/status.svg: the refused checkout is down in red, labelled with its
    display name; a name with markup comes back as written."""
    got = badge(public, "checkout-internal", "status")
    assert got["texts"] == ["Checkout", "down"]
    assert got["colour"] == "#e05d44"
    assert badge(public, "S&P <500>", "status")["texts"] == ["S&P <500>", "up"]


def test_the_uptime_badge_is_the_share_of_time_up_over_30_days(public: Public) -> None:
    """api-internal was down one hour of the ten days and three minutes it has been known."""
    known = 10 * DAY + (public.now - EPOCH)
    got = badge(public, "api-internal", "uptime-30d")
    assert got["texts"] == ["uptime 30d", f"{(1 - 3600 / known) * 100:.2f}%"]
    assert got["colour"] == "#a4a61d"


def test_the_response_time_badge_is_the_last_checks(public: Public) -> None:
    """The last check's latency, in whole ms."""
    latest = public.runner.latest["api-internal"].latency_ms
    assert latest is not None
    got = badge(public, "api-internal", "response-time")
    assert got["texts"] == ["response time", f"{latest:.0f} ms"]


def test_the_response_time_badge_of_a_down_monitor_is_red(public: Public) -> None:
    """The refused checkout answered nothing in a fraction of a millisecond: its response
    time badge was green (issue 24).  Down, it says so in red."""
    got = badge(public, "checkout-internal", "response-time")
    assert got["texts"] == ["response time", "down"]
    assert got["colour"] == "#e05d44"


@pytest.mark.parametrize(
    "path",
    [
        "/badge/admin-secret-panel/status.svg",  # exists, on no page
        "/badge/billing-db/uptime-30d.svg",  # exists, on no page, in an incident
        "/badge/no-such-monitor/status.svg",
        "/badge/api-internal/favourite-colour.svg",
    ],
)
def test_every_other_badge_is_the_same_404(public: Public, path: str) -> None:
    """A monitor on no page gets the same answer as one that does not exist, so a badge
    URL does not tell which monitors there are."""
    status, _, body = public.get(path)
    assert (status, body) == (404, b"no such badge\n")
