"""What an HTTP request may carry, as the probe writes it: one home for the checks that
the monitor's configuration and ``tether diagnose -H`` make before anything is sent."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["TOKEN", "value_problem"]

TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""A method or a header name (RFC 9110's token)."""


def value_problem(value: str) -> str | None:
    """Why ``value`` cannot be a header's value, in words that follow "it", or None: a line
    break would start a field of its own, and the probe writes headers in ASCII."""
    if any(c in value for c in "\r\n\0"):
        return "contains a line break"
    if not value.isascii():
        return "is not ASCII (encode it, as in RFC 8187's UTF-8''...)"
    return None
