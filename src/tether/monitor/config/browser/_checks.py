"""What a ``browser:`` block cannot go with (check-config names each at its key), and the
``probe:`` section's browser settings filled into each browser monitor when the file is
loaded."""

from __future__ import annotations

from typing import Final

from tether.monitor.config._errors import KeyPath, Problem
from tether.monitor.config._models import Monitor

__all__ = ["check_browser", "with_browser_settings"]


_NOT_FOR_BROWSER: Final = {
    "method": "a browser check loads its page with GET, as a browser does",
    "body": "a browser check sends no request body",
    "headers": (
        "a browser check sends the browser's own headers (a header set for every request "
        "would go to every origin the page loads from); put credentials in the URL"
    ),
    "follow_redirects": "a browser check follows redirects as the browser does",
    "max_redirects": "a browser check follows redirects as the browser does",
    "resolver": "a browser check resolves names as Chromium does",
    "dns": "a browser check takes no dns options",
    "steps": (
        "a monitor is a browser check or a multi-step API check, not both: write "
        "the page's actions as browser.steps, or make two monitors"
    ),
}


def check_browser(monitor: Monitor, at: KeyPath) -> list[Problem]:
    """What a ``browser:`` block cannot go with, each problem at its key."""
    if monitor.browser is None:
        return []
    at_browser = (*at, "browser")
    errors: list[Problem] = []
    if monitor.scheme not in ("http", "https"):
        errors.append(
            (
                at_browser,
                f"a browser check loads an http:// or https:// page; this is {monitor.scheme}://",
            )
        )
    given = monitor.model_fields_set
    errors += [((*at, key), why) for key, why in _NOT_FOR_BROWSER.items() if key in given]
    if monitor.tls is not None and monitor.tls.ca_file is not None:
        errors.append(
            (
                (*at, "tls", "ca_file"),
                "Chromium trusts the system's certificate store, not a file: add the "
                "authority there, or use tls: {insecure: true} (still reported)",
            )
        )
    for key in ("concurrency", "executable"):
        if key in monitor.browser.model_fields_set:
            why = f"set it for every browser check as probe.browser_{key}"
            errors.append(((*at_browser, key), why))
    return errors


def with_browser_settings(monitor: Monitor, concurrency: int, executable: str | None) -> Monitor:
    """``monitor`` with the ``probe:`` section's browser settings in its ``browser:``."""
    if monitor.browser is None:
        return monitor
    browser = monitor.browser.model_copy(
        update={"concurrency": concurrency, "executable": executable}
    )
    return monitor.model_copy(update={"browser": browser})
