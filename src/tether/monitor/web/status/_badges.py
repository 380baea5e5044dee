"""Badges: small SVG images in the shields.io "flat" style, for a README or a wiki.

    [ label | value ]   two rectangles, grey and coloured, rounded together, each with
                        its text centred and a faint shadow under it

Written by hand rather than with a badge library: the whole of it is one template and a
table of character widths, and the libraries on PyPI bring a template engine and an HTTP
client along (pybadges needs Jinja2 and requests) for what is forty lines here.

The widths are Verdana's advance widths at 11 px (the font shields.io measures with), so
a badge is as wide as its text in the browsers that have Verdana and close to it in the
ones that fall back to DejaVu Sans; ``textLength`` makes the text fit its box either way.
Every text is escaped for XML, so a monitor's name cannot add markup to the image.
Pure: no clock, no I/O.
"""

from __future__ import annotations

import html
from typing import Final

from tether.monitor._state import State
from tether.monitor.reports._uptime import format_uptime

__all__ = [
    "GREY",
    "badge_svg",
    "latency_badge",
    "maintenance_badge",
    "status_badge",
    "text_width",
    "uptime_badge",
    "uptime_colour",
]

GREEN: Final = "#4c1"
YELLOWGREEN: Final = "#a4a61d"
YELLOW: Final = "#dfb317"
ORANGE: Final = "#fe7d37"
RED: Final = "#e05d44"
GREY: Final = "#9f9f9f"
BLUE: Final = "#007ec6"
LABEL: Final = "#555"

# Verdana's advance widths in font units (2048 an em), printable ASCII from the space.
_WIDTHS: Final = (
    720, 806, 942, 1716, 1302, 2210, 1486, 536, 910, 910, 1302, 1716, 744, 864, 744, 1280,
    1302, 1302, 1302, 1302, 1302, 1302, 1302, 1302, 1302, 1302, 910, 910, 1716, 1716, 1716,
    1110, 2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 862, 926, 1426, 1141, 1739,
    1532, 1614, 1243, 1614, 1426, 1403, 1256, 1503, 1401, 2025, 1405, 1256, 1405, 910, 1280,
    910, 1716, 1302, 1302, 1233, 1270, 1066, 1270, 1212, 719, 1270, 1296, 562, 690, 1202,
    562, 1991, 1296, 1223, 1270, 1270, 874, 1042, 807, 1296, 1202, 1669, 1202, 1202, 1050,
    1300, 910, 1300, 1716,
)  # fmt: skip
_OTHER: Final = 1400
"""A character outside ASCII: about an average capital."""
_WIDE: Final = 2048
"""CJK and the like: an em."""
_PX: Final = 11 / 2048
_PADDING: Final = 10


def text_width(text: str) -> float:
    """The width of ``text`` in Verdana at 11 px, in pixels (an estimate beyond ASCII)."""
    units = 0
    for char in text:
        code = ord(char)
        if 32 <= code < 127:
            units += _WIDTHS[code - 32]
        elif code >= 0x1100 and _is_wide(code):
            units += _WIDE
        else:
            units += _OTHER
    return units * _PX


def _is_wide(code: int) -> bool:
    return (
        0x1100 <= code <= 0x115F
        or 0x2E80 <= code <= 0xA4CF
        or 0xAC00 <= code <= 0xD7A3
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFF60
        or 0x1F300 <= code <= 0x1FAFF
    )


def _xml(text: str) -> str:
    # XML 1.0 allows no control character but tab and newline; names carry none (the
    # configuration refuses them), this is for whatever else a caller passes.
    clean = "".join(c if c >= " " or c in "\t\n" else " " for c in text)
    return html.escape(clean, quote=True)


def badge_svg(label: str, value: str, color: str) -> str:
    """A flat badge: ``label`` on grey, ``value`` on ``color`` (a ``#rgb`` colour)."""
    label_w = round(text_width(label) + _PADDING)
    value_w = round(text_width(value) + _PADDING)
    width = label_w + value_w
    # shields.io draws its text at ten times the size, scaled by 0.1, for finer placing.
    label_x, value_x = label_w * 5, (label_w + value_w / 2) * 10
    label_len = round((label_w - _PADDING) * 10)
    value_len = round((value_w - _PADDING) * 10)
    title = _xml(f"{label}: {value}")
    label, value = _xml(label), _xml(value)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{title}"><title>{title}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{label_w}" height="20" fill="{LABEL}"/>'
        f'<rect x="{label_w}" width="{value_w}" height="20" fill="{color}"/>'
        f'<rect width="{width}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'text-rendering="geometricPrecision" font-size="110">'
        f'<text aria-hidden="true" x="{label_x:g}" y="150" fill="#010101" fill-opacity=".3" '
        f'transform="scale(.1)" textLength="{label_len}">{label}</text>'
        f'<text x="{label_x:g}" y="140" transform="scale(.1)" fill="#fff" '
        f'textLength="{label_len}">{label}</text>'
        f'<text aria-hidden="true" x="{value_x:g}" y="150" fill="#010101" fill-opacity=".3" '
        f'transform="scale(.1)" textLength="{value_len}">{value}</text>'
        f'<text x="{value_x:g}" y="140" transform="scale(.1)" fill="#fff" '
        f'textLength="{value_len}">{value}</text></g></svg>'
    )


_STATE_COLOURS: Final = {
    State.UP: GREEN,
    State.DEGRADED: YELLOW,
    State.FLAPPING: ORANGE,
    State.DOWN: RED,
    State.PAUSED: GREY,
    State.UNKNOWN: GREY,
}


def status_badge(label: str, state: State) -> str:
    """``label | up`` in green, ``down`` in red, ``degraded`` in yellow, ``flapping`` in
    orange, ``paused`` and ``unknown`` in grey."""
    return badge_svg(label, str(state), _STATE_COLOURS[state])


def maintenance_badge(label: str) -> str:
    """``label | maintenance`` in blue: a maintenance window covers the monitor now, as its
    status page says "Under maintenance" (issue 73)."""
    return badge_svg(label, "maintenance", BLUE)


def uptime_colour(share: float | None) -> str:
    """Green from 99.9 %, then yellow-green (99 %), yellow (95 %), orange (90 %), red."""
    if share is None:
        return GREY
    for least, colour in ((0.999, GREEN), (0.99, YELLOWGREEN), (0.95, YELLOW), (0.9, ORANGE)):
        if share >= least:
            return colour
    return RED


def uptime_badge(label: str, share: float | None) -> str:
    """``uptime 30d | 99.95%``: the share of time up (docs/monitor.md, "Uptime");
    ``no data`` in grey while it is unknown."""
    value = "no data" if share is None else format_uptime(share)
    return badge_svg(label, value, uptime_colour(share))


def latency_badge(label: str, ms: float | None, failed: str | None = None) -> str:
    """``response time | 123 ms``: green under 300 ms, yellow under 1 s, orange under 3 s,
    red beyond; ``no data`` in grey before the first check; ``failed`` (``down``, or
    ``failed`` for a failed check of a monitor not down yet) in red, whatever the time:
    a refused connection is quick, and no response time at all."""
    if failed is not None:
        return badge_svg(label, failed, RED)
    if ms is None:
        return badge_svg(label, "no data", GREY)
    colour = GREEN if ms < 300 else YELLOW if ms < 1000 else ORANGE if ms < 3000 else RED
    value = f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"
    return badge_svg(label, value, colour)
