"""A browser check: an http(s) page loaded in headless Chromium, driven by Playwright.

One Chromium per event loop (:class:`_Pool`), launched on the first check and again if
it dies, serves every browser check on that loop, each in a fresh context (no cookie,
cache or storage carried over), at most ``BrowserPage.concurrency`` at once.  The check's
phases: ``url``; ``navigation`` (until the main document's last byte), ``first_paint``
(first contentful paint) and ``load`` (the load event), in the order they came; then one
phase per declared step (``step1.click``).  What the page logged as errors and which of
its requests failed go on the last phase's details, redacted.

Chromium's network errors (``net::ERR_CONNECTION_REFUSED``) become the kinds the walk
gives the same faults (:func:`kind_for_net_error`); the main document's status is judged
as an HTTP check's; a step that cannot be done is ``browser.step_failed``, a script's
error ``browser.page_error``.  Playwright is imported here, lazily: ``import tether``
never loads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote, urlsplit, urlunsplit

from tether._classify import classify_status, failure_for
from tether._failure import Failure
from tether._kinds import Kind
from tether._redact import redact_text, redact_url
from tether.probe import _schemes
from tether.probe._details import NO_DETAILS, BrowserDetails, UrlDetails
from tether.probe._options import BrowserPage, BrowserStep, ProbeOptions
from tether.probe._result import Phase, ProbeResult
from tether.probe._target import InvalidTarget, parse_target, redact_target
from tether.probe._walk import Walk

__all__ = ["CHROMIUM_ARGS", "close_browsers", "kind_for_net_error", "probe_page"]

DEBIAN_CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = (
    "--no-sandbox",  # as root in a container there is no user namespace to sandbox in
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",  # no calls home: updates, safe browsing, metrics
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--safebrowsing-disable-auto-update",
)
"""Chromium's flags: headless without a sandbox, and no traffic of its own besides the
page's (the dashboard tests launch it so too)."""
SCREENSHOT_MAX: Final = 2 << 20
"""A screenshot larger than this (bytes) is not kept."""
SCREENSHOT_TIMEOUT: Final = 1.5
"""Seconds a failed check may spend on its screenshot, after its own timeout."""
_ITEMS: Final = 10
"""Console errors and failed requests kept per check (the rest counted)."""

_NET_KINDS: Final = (
    ("ERR_NAME_NOT_RESOLVED", Kind.DNS_NOT_FOUND),
    ("ERR_NAME_RESOLUTION_FAILED", Kind.DNS_UNAVAILABLE),
    ("ERR_CONNECTION_REFUSED", Kind.CONNECT_REFUSED),
    ("ERR_CONNECTION_TIMED_OUT", Kind.CONNECT_TIMEOUT),
    ("ERR_ADDRESS_UNREACHABLE", Kind.CONNECT_UNREACHABLE),
    ("ERR_NETWORK_UNREACHABLE", Kind.CONNECT_UNREACHABLE),
    ("ERR_INTERNET_DISCONNECTED", Kind.CONNECT_UNREACHABLE),
    ("ERR_CONNECTION_RESET", Kind.CONNECTION_RESET),
    ("ERR_CONNECTION_CLOSED", Kind.CONNECTION_CLOSED),
    ("ERR_EMPTY_RESPONSE", Kind.CONNECTION_CLOSED),
    ("ERR_CONNECTION_ABORTED", Kind.CONNECTION_ABORTED),
    ("ERR_TIMED_OUT", Kind.READ_TIMEOUT),
    ("ERR_CERT_AUTHORITY_INVALID", Kind.TLS_UNTRUSTED),
    ("ERR_CERT_DATE_INVALID", Kind.TLS_EXPIRED),
    ("ERR_CERT_COMMON_NAME_INVALID", Kind.TLS_HOSTNAME_MISMATCH),
    ("ERR_CERT_", Kind.TLS_UNTRUSTED),
    ("ERR_SSL_", Kind.TLS_PROTOCOL),
    ("ERR_BAD_SSL_CLIENT_AUTH_CERT", Kind.TLS_PROTOCOL),
    ("ERR_PROXY_CONNECTION_FAILED", Kind.PROXY_UNREACHABLE),
    ("ERR_TUNNEL_CONNECTION_FAILED", Kind.PROXY_REJECTED),
    ("ERR_PROXY_AUTH", Kind.PROXY_AUTH_REQUIRED),
    ("ERR_TOO_MANY_REDIRECTS", Kind.HTTP_REDIRECT_LOOP),
    ("ERR_INVALID_HTTP_RESPONSE", Kind.RESPONSE_MALFORMED),
    ("ERR_INVALID_RESPONSE", Kind.RESPONSE_MALFORMED),
    ("ERR_CONTENT_LENGTH_MISMATCH", Kind.RESPONSE_TRUNCATED),
    ("ERR_INCOMPLETE_CHUNKED_ENCODING", Kind.RESPONSE_TRUNCATED),
    ("ERR_RESPONSE_HEADERS_TOO_BIG", Kind.RESPONSE_TOO_LARGE),
    ("ERR_UNSAFE_PORT", Kind.URL_INVALID),
    ("ERR_INVALID_URL", Kind.URL_INVALID),
)
"""Chromium's ``net::ERR_*`` codes (net/base/net_error_list.h) as tether's kinds, the most
specific first: a prefix matches every code it begins."""
_NET_ERROR: Final = re.compile(r"net::(ERR_[A-Z0-9_]+)")


def kind_for_net_error(message: str) -> Kind | None:
    """The kind of the first ``net::ERR_*`` code in ``message`` (a Playwright error's
    text), ``unknown`` for a code the table lacks; None when it names no code."""
    found = _NET_ERROR.search(message)
    if found is None:
        return None
    code = found[1]
    return next((kind for prefix, kind in _NET_KINDS if code.startswith(prefix)), Kind.UNKNOWN)


# -- the shared browser --------------------------------------------------------------


class _Pool:
    """The browser of one event loop, and the slots its checks take."""

    def __init__(self) -> None:
        self.playwright: Any = None
        self.browser: Any = None
        self.executable: str | None = None
        self.lock = asyncio.Lock()
        self.slots = asyncio.Semaphore(2)
        self.size = 2

    def slots_for(self, size: int) -> asyncio.Semaphore:
        """The semaphore of ``size`` slots (a new one when the configured size changed:
        checks under way keep the old one until they end)."""
        if size != self.size:
            self.slots, self.size = asyncio.Semaphore(size), size
        return self.slots

    async def browser_for(self, executable: str | None) -> Any:
        """The running browser, launched (again) when there is none, it died, or another
        executable is asked for."""
        async with self.lock:
            if (
                self.browser is not None
                and self.browser.is_connected()
                and self.executable == executable
            ):
                return self.browser
            await self._close_browser()
            if self.playwright is None:
                from playwright.async_api import async_playwright

                self.playwright = await async_playwright().start()
            path = executable or (DEBIAN_CHROMIUM if os.path.exists(DEBIAN_CHROMIUM) else None)
            self.browser = await self.playwright.chromium.launch(
                executable_path=path, args=list(CHROMIUM_ARGS), headless=True
            )
            self.executable = executable
            return self.browser

    async def _close_browser(self) -> None:
        browser, self.browser = self.browser, None
        if browser is not None:
            with contextlib.suppress(Exception):
                await browser.close()

    async def close(self) -> None:
        async with self.lock:
            await self._close_browser()
            playwright, self.playwright = self.playwright, None
            if playwright is not None:
                with contextlib.suppress(Exception):
                    await playwright.stop()


_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()


def _pool() -> _Pool:
    loop = asyncio.get_running_loop()
    pool = _POOLS.get(loop)
    if pool is None:
        pool = _POOLS[loop] = _Pool()
    return pool


async def close_browsers() -> None:
    """Close this event loop's browser and its Playwright driver, if it has them."""
    pool = _POOLS.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        await pool.close()


# -- one check --------------------------------------------------------------------


@dataclass(slots=True)
class _Seen:
    """What the page did besides its milestones."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    console: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def kept(self, items: list[str]) -> tuple[str, ...]:
        shown = items[:_ITEMS]
        if len(items) > _ITEMS:
            shown.append(f"... and {len(items) - _ITEMS} more")
        return tuple(shown)


@dataclass  # no slots: a class with __slots__ cannot extend Walk compiled by mypyc
class _PageWalk(Walk):
    """One browser check's phases, on the walk's bookkeeping."""

    seen: _Seen = field(default_factory=_Seen)
    page: Any = None
    screenshot: bytes | None = None
    rendered: bytes | None = None
    began: float = 0.0
    """When the navigation began (``clock``), for what the steps have left."""
    doing: str = ""
    """The step under way, as a failure names it."""
    shown: str | None = None
    """The step under way, as its phase's details name it."""

    def out_of_time(self) -> None:
        url = self.target.url if self.target else redact_target(self.given)
        deadline = self.options.deadline
        phase = self.current[0] if self.current else None
        if phase == "navigation" and self.seen.status is None:
            kind, detail = Kind.READ_TIMEOUT, f"no answer to the page within {deadline:g} s"
        elif phase is not None and phase.startswith("step"):
            kind = Kind.BROWSER_STEP_FAILED
            detail = f"{self.doing or phase} was not done within the check's {deadline:g} s"
        else:
            kind = Kind.DEADLINE_EXCEEDED
            detail = f"the check's {deadline:g} s deadline passed" + (
                f" during the {phase} phase" if phase else ""
            )
        failure = failure_for(kind, detail, url=url)
        if self.current is not None:
            # What the page logged and which requests failed say why a step never came
            # (an API call that failed), as when the step's own timeout ends it.
            seen = self.seen
            step = self.shown if phase is not None and phase.startswith("step") else None
            console, failed = seen.kept(seen.console), seen.kept(seen.failed)
            if step is None and not console and not failed:
                self.end(NO_DETAILS, failure)
            else:
                self.end(
                    BrowserDetails(step=step, console_errors=console, failed_requests=failed),
                    failure,
                )
        elif self.failure is None:
            self.failure = failure

    def result(self) -> ProbeResult:
        base = Walk.result(self)
        return ProbeResult(
            base.target,
            base.phases,
            base.failure,
            base.warnings,
            headers=self.seen.headers,
            body=self.rendered,
            screenshot=self.screenshot,
        )


async def probe_page(
    target: str, options: ProbeOptions, *, clock: Callable[[], float] = time.perf_counter
) -> ProbeResult:
    """Load ``target`` in headless Chromium as ``options.browser`` says, within
    ``options.deadline`` (once a slot is free)."""
    spec = options.browser or BrowserPage()
    walk = _PageWalk(target, options, clock=clock)
    walk.begin("url")
    try:
        t = walk.target = parse_target(target)
    except InvalidTarget as exc:
        walk.end(NO_DETAILS, failure_for(Kind.URL_INVALID, str(exc), url=redact_target(target)))
        return walk.result()
    details = UrlDetails(t.scheme, t.host, t.port, None, t.has_credentials)
    if t.scheme not in ("http", "https"):
        why = f"a browser check loads http:// and https:// pages; this is {t.scheme}://"
        walk.end(details, failure_for(Kind.URL_INVALID, why, url=t.url))
        return walk.result()
    if lacking := _schemes.feature_lacking("browser"):
        walk.end(details, failure_for(Kind.URL_INVALID, lacking, url=t.url))
        return walk.result()
    walk.end(details)
    pool = _pool()
    async with pool.slots_for(spec.concurrency):
        context = None
        try:
            try:
                browser = await pool.browser_for(spec.executable)
            except Exception as exc:
                why = f"could not start Chromium: {str(exc).splitlines()[0]}"
                walk.failure = failure_for(Kind.UNKNOWN, redact_text(why), url=t.url)
                return walk.result()
            context = await _context(browser, target, spec, options)
            walk.page = await context.new_page()
            try:
                async with asyncio.timeout(options.deadline):
                    await _load(walk, _without_userinfo(target), spec)
            except TimeoutError:
                walk.out_of_time()
            if walk.failure is not None and spec.screenshot:
                walk.screenshot = await _screenshot(walk.page)
            return walk.result()
        finally:
            if context is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(context.close())


async def _context(browser: Any, target: str, spec: BrowserPage, options: ProbeOptions) -> Any:
    """A fresh context: the viewport, the URL's credentials for its origin alone, and
    certificate errors ignored only with ``tls.insecure``."""
    width, height = spec.viewport
    kwargs: dict[str, Any] = {
        "viewport": {"width": width, "height": height},
        "ignore_https_errors": options.insecure,
        "service_workers": "block",
    }
    parts = urlsplit(target.strip())
    if parts.username is not None or parts.password is not None:
        origin = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        kwargs["http_credentials"] = {
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "origin": origin,
        }
    return await browser.new_context(**kwargs)


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url.strip())
    if "@" not in parts.netloc:
        return url.strip()
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


_MILESTONES: Final = """wait => new Promise(done => {
  const nav = performance.getEntriesByType('navigation')[0];
  const finish = paint => done([nav ? nav.responseEnd : null,
    paint ? paint.startTime : null, nav ? nav.loadEventEnd : null]);
  const found = performance.getEntriesByName('first-contentful-paint')[0];
  if (found) { finish(found); return; }
  new PerformanceObserver(list => {
    const p = list.getEntriesByName('first-contentful-paint')[0];
    if (p) finish(p);
  }).observe({type: 'paint', buffered: true});
  setTimeout(() => finish(null), wait);
})"""
"""When the main document ended, the first contentful paint, the load event ended (ms
since the navigation began); a paint still to come is waited for up to ``wait`` ms."""
PAINT_WAIT: Final = 1.0
"""Seconds a check waits after the load event for a first contentful paint: a page that
paints nothing (no text, no image) has no first_paint phase, and took this long more."""
STEP_MARGIN = 0.1
"""Seconds before the check's deadline at which a step's own timeout ends it, so that the
step's failure names it.  On a loaded machine the deadline may still come first; the
step then ends with what the page logged and which requests failed all the same
(:meth:`_PageWalk.out_of_time`)."""


async def _load(walk: _PageWalk, url: str, spec: BrowserPage) -> None:
    """Navigate, then time the milestones and do the steps; every failure is recorded."""
    page, seen = walk.page, walk.seen
    t = walk.target
    assert t is not None
    _listen(page, seen)
    walk.begin("navigation")
    started = walk.began = walk.clock()
    try:
        response = await page.goto(url, wait_until="load", timeout=walk.options.deadline * 1000)
    except Exception as exc:
        walk.end(BrowserDetails(seen.status), _navigation_failure(exc, t.url, seen))
        return
    if response is not None:
        seen.status = response.status
        seen.headers = {k.lower(): v for k, v in (await response.all_headers()).items()}
    loaded = walk.clock()
    left = walk.options.deadline - (walk.clock() - started) - STEP_MARGIN
    wait = max(0, round(min(PAINT_WAIT, left) * 1000))
    ends, paint, load = await page.evaluate(_MILESTONES, wait)
    nav_ms = ends if isinstance(ends, float | int) else (loaded - started) * 1000
    navigated = BrowserDetails(seen.status, round(nav_ms, 1))
    walk.phases.append(_phase("navigation", float(nav_ms), navigated))
    walk.current = None
    if seen.status is not None and seen.status >= 400:
        failure = classify_status(seen.status, seen.headers, url=t.url)
        walk.phases[-1] = _phase("navigation", float(nav_ms), navigated, failure)
        walk.failure = failure
        return
    marks = [("first_paint", paint), ("load", load if load else (loaded - started) * 1000)]
    previous = float(nav_ms)
    for name, at in sorted(
        ((n, float(a)) for n, a in marks if isinstance(a, float | int)), key=lambda m: m[1]
    ):
        came = BrowserDetails(at_ms=round(at, 1))
        walk.phases.append(_phase(name, max(0.0, at - previous), came))
        previous = max(previous, at)
    for i, step in enumerate(spec.steps, 1):
        if not await _step(walk, i, step):
            break
    walk.rendered = (await page.content()).encode()[: max(walk.options.keep_body, 0)] or None
    _judge_page(walk, spec)


def _phase(name: str, ms: float, details: BrowserDetails, failure: Failure | None = None) -> Phase:
    return Phase(name, failure is None, ms, details, failure)


async def _step(walk: _PageWalk, i: int, step: BrowserStep) -> bool:
    """Do one declared step as phase ``stepI.ACTION``; False when it failed."""
    page = walk.page
    shown = f"{step.action} {step.target!r}"
    name = f"step{i}.{step.action}"
    # A little before the deadline, so the step's own timeout names it.
    left = max(0.001, walk.options.deadline - (walk.clock() - walk.began) - STEP_MARGIN) * 1000
    walk.begin(name)
    walk.doing, walk.shown = f"step {i} ({shown})", shown
    try:
        if step.action == "click":
            await page.click(step.target, timeout=left)
        elif step.action == "fill":
            await page.fill(step.target, step.value or "", timeout=left)
        elif step.action == "wait_for_text":
            await page.get_by_text(step.target).first.wait_for(state="visible", timeout=left)
        else:
            await page.wait_for_selector(step.target, state="visible", timeout=left)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "Timeout" in type(exc).__name__:
            first = f"not done within {left / 1000:.1f} s"
        detail = redact_text(f"step {i} ({shown}) failed: {first}")
        walk.end(BrowserDetails(step=shown), failure_for(Kind.BROWSER_STEP_FAILED, detail))
        return False
    walk.end(BrowserDetails(step=shown))
    return True


def _judge_page(walk: _PageWalk, spec: BrowserPage) -> None:
    """Put what the page logged and which requests failed on the last phase; fail the
    check on them when the monitor says so."""
    seen, t = walk.seen, walk.target
    assert t is not None
    console, failed = seen.kept(seen.console), seen.kept(seen.failed)
    last = walk.phases[-1]
    details = last.details if isinstance(last.details, BrowserDetails) else BrowserDetails()
    details = BrowserDetails(details.status, details.at_ms, details.step, console, failed)
    failure = last.failure
    if failure is None and spec.fail_on_console_errors and seen.console:
        failure = failure_for(
            Kind.BROWSER_PAGE_ERROR,
            f"{_count(len(seen.console), 'console error')}: " + "; ".join(console[:3]),
            url=t.url,
        )
    if failure is None and spec.fail_on_failed_requests and seen.failed:
        failure = failure_for(
            _request_kind(seen.failed[0]) or Kind.UNKNOWN,
            f"{_count(len(seen.failed), 'failed request')}: " + "; ".join(failed[:3]),
            url=t.url,
        )
    walk.phases[-1] = _phase(last.name, last.ms, details, failure)
    if failure is not None and walk.failure is None:
        walk.failure = failure


def _request_kind(item: str) -> Kind | None:
    """The kind of one failed request as :func:`_listen` wrote it."""
    if (kind := kind_for_net_error(item)) is not None:
        return kind
    status = re.search(r"-> (\d{3})$", item)
    if status is None:
        return None
    code = int(status[1])
    return Kind.HTTP_SERVER_ERROR if code >= 500 else Kind.HTTP_CLIENT_ERROR


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _listen(page: Any, seen: _Seen) -> None:
    """Record the page's console errors, uncaught exceptions and failed subresources."""

    def main_document(request: Any) -> bool:
        return bool(request.is_navigation_request() and request.frame == page.main_frame)

    def console(message: Any) -> None:
        # A failed subresource logs "Failed to load resource": it is a failed request.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            seen.console.append(redact_text(message.text[:300]))

    def page_error(error: Any) -> None:
        seen.console.append(redact_text(f"uncaught {str(error).splitlines()[0][:300]}"))

    answered: set[int] = set()  # requests listed for their status already

    def request_failed(request: Any) -> None:
        # Chromium also aborts a script that answered 404: listed once, by its status.
        if not main_document(request) and id(request) not in answered:
            seen.failed.append(f"{redact_url(request.url)[:300]}: {request.failure}")

    def response(answer: Any) -> None:
        if main_document(answer.request):
            seen.status = answer.status
        elif answer.status >= 400:
            answered.add(id(answer.request))
            seen.failed.append(f"{redact_url(answer.url)[:300]} -> {answer.status}")

    page.on("console", console)
    page.on("pageerror", page_error)
    page.on("requestfailed", request_failed)
    page.on("response", response)


def _navigation_failure(exc: Exception, url: str, seen: _Seen) -> Failure:
    """The failure of a navigation that raised: its ``net::ERR_*`` code's kind, else a
    timeout (an answer that came, or none), else ``unknown``."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    kind = kind_for_net_error(text)
    if kind is not None:
        code = _NET_ERROR.search(text)
        said = f"the browser could not load the page: {code and code[0]}"
        return failure_for(kind, said, url=url)
    if "Timeout" in type(exc).__name__:
        if seen.status is None:
            return failure_for(Kind.READ_TIMEOUT, "no answer to the page in time", url=url)
        return failure_for(Kind.DEADLINE_EXCEEDED, "the page did not finish loading", url=url)
    return failure_for(Kind.UNKNOWN, redact_text(f"the browser failed: {text[:300]}"), url=url)


async def _screenshot(page: Any) -> bytes | None:
    """The viewport as PNG, or None if it takes too long or is too large."""
    try:
        async with asyncio.timeout(SCREENSHOT_TIMEOUT):
            png: bytes = await page.screenshot(type="png", timeout=SCREENSHOT_TIMEOUT * 1000)
    except Exception:
        return None
    return png if len(png) <= SCREENSHOT_MAX else None
