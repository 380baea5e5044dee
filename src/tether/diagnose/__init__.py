"""``tether diagnose``: probe targets and render the verdict, for people or as JSON."""

from tether.diagnose._render import render_json, render_text
from tether.diagnose._run import (
    Interrupted,
    Usage,
    check_dnssec,
    check_host,
    diagnose,
    parse_options,
)

__all__ = [
    "Interrupted",
    "Usage",
    "check_dnssec",
    "check_host",
    "diagnose",
    "parse_options",
    "render_json",
    "render_text",
]
