"""One event loop for a test module's browser checks, so that one Chromium serves them
all (the probe engine keeps one browser per event loop).  Used by tests/probe/test_browser.py
and tests/lab/test_lab_browser.py; skip first with
:func:`tests.helpers.web_harness.chromium_or_skip`."""

from __future__ import annotations

import asyncio
from typing import Any

from tether.probe import BrowserPage, ProbeOptions, ProbeResult, probe_async


def page_options(deadline: float = 10.0, **page: Any) -> ProbeOptions:
    """Probe options for a browser check: ``insecure`` and ``keep_body`` go to the
    options, the rest to :class:`BrowserPage`; the deadline is the timeout too."""
    return ProbeOptions(
        timeout=deadline,
        deadline=deadline,
        insecure=page.pop("insecure", False),
        keep_body=page.pop("keep_body", 0),
        env={},
        browser=BrowserPage(**page),
    )


class BrowserLoop:
    """An event loop that runs browser checks (and whatever else a test serves on it)."""

    def __init__(self) -> None:
        self.loop = asyncio.Runner()

    def probe(self, url: str, deadline: float = 10.0, **page: Any) -> ProbeResult:
        """A browser check of ``url`` (keywords as :func:`page_options` takes them)."""
        return self.run_probe(url, page_options(deadline, **page))

    def run_probe(self, url: str, options: ProbeOptions) -> ProbeResult:
        return self.loop.run(probe_async(url, options))

    def close(self) -> None:
        """Close the loop's Chromium and Playwright driver, then the loop."""
        from tether.probe._browser import close_browsers

        try:
            self.loop.run(close_browsers())
        finally:
            self.loop.close()
