"""A ``browser:`` monitor's options: load its http(s) URL in headless Chromium, then do a
few declared steps (docs/monitor-config.md, "Browser checks").

::

    browser:
      steps:
        - fill: {selector: "#user", value: demo}
        - click: "button[type=submit]"
        - wait_for_text: Welcome
      fail_on_console_errors: true
      viewport: {width: 1280, height: 720}

``concurrency`` and ``executable`` come from the file's ``probe:`` section
(``browser_concurrency``, ``browser_executable``), filled in when the file is loaded so
that an agent, which gets each monitor alone, launches the browser the same way.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field, model_validator

from tether.monitor.config._base import _Model
from tether.monitor.config._errors import fail
from tether.monitor.config._fields import Whole

__all__ = [
    "ACTIONS",
    "BrowserOptions",
    "BrowserStepConfig",
    "FillStep",
    "Viewport",
]

ACTIONS: Final = ("click", "fill", "wait_for_text", "wait_for")
"""What a step may do, as its one key says."""
MAX_STEPS: Final = 20

Selector = Annotated[str, Field(min_length=1, max_length=1000)]
Concurrency = Annotated[int, Whole, Field(ge=1, le=64)]


class FillStep(_Model):
    """Type ``value`` into the element ``selector`` finds."""

    selector: Selector
    value: Annotated[str, Field(max_length=10_000)]


class BrowserStepConfig(_Model):
    """One step: exactly one of its keys."""

    click: Selector | None = None
    """Click the element this CSS selector (or Playwright selector) finds."""
    fill: FillStep | None = None
    wait_for_text: Selector | None = None
    """Wait until this text is visible on the page."""
    wait_for: Selector | None = None
    """Wait until the element this selector finds is visible."""

    @model_validator(mode="after")
    def _one(self) -> BrowserStepConfig:
        given = [a for a in ACTIONS if getattr(self, a) is not None]
        if len(given) != 1:
            raise fail(f"a step is exactly one of {', '.join(ACTIONS)}")
        return self

    @property
    def action(self) -> str:
        return next(a for a in ACTIONS if getattr(self, a) is not None)


class Viewport(_Model):
    width: Annotated[int, Whole, Field(ge=200, le=4000)] = 1280
    height: Annotated[int, Whole, Field(ge=200, le=4000)] = 720


class BrowserOptions(_Model):
    """How a browser monitor loads and checks its page."""

    steps: Annotated[tuple[BrowserStepConfig, ...], Field(max_length=MAX_STEPS)] = ()
    fail_on_console_errors: bool = True
    """Uncaught exceptions and ``console.error`` fail the check (``browser.page_error``)."""
    fail_on_failed_requests: bool = False
    """A subresource that failed, or answered 400 or more, fails the check."""
    viewport: Viewport = Field(default_factory=Viewport)
    concurrency: Concurrency = 2
    """Filled from ``probe.browser_concurrency`` when the file is loaded."""
    executable: Annotated[str, Field(min_length=1)] | None = None
    """Filled from ``probe.browser_executable`` when the file is loaded."""
