"""How to probe: the options every probe takes, and what a ``dns://`` probe asks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tether._frozen import quick_init
from tether.probe import _icmp
from tether.probe._allow import AllowedTargets
from tether.probe._dboptions import DatabaseQuery


@dataclass(frozen=True, slots=True)
class DnsQuery:
    """What a ``dns://`` probe asks, and what its answer must be."""

    record_type: str = "A"
    rcode: str | None = "NOERROR"
    """The rcode the answer must have; None: any (the caller judges it)."""
    answers: tuple[str, ...] = ()
    """The records the answer must hold, all of them and no other (empty: any)."""
    recursion_desired: bool = True
    dnssec: bool = False
    """Ask with DO set and require the answer validated from ``trust_anchor``."""
    trust_anchor: tuple[str, ...] = ()
    """DS or DNSKEY records of one zone (presentation format), or files of them; empty:
    the root's (IANA's KSK-2017)."""
    clock: Callable[[], float] | None = None
    """The time signatures are checked at (Unix seconds); None: ``time.time``."""


@dataclass(frozen=True, slots=True)
class BrowserStep:
    """One declared step of a browser check: ``click``, ``fill`` (``value`` into
    ``target``), ``wait_for_text`` (``target`` is the text) or ``wait_for`` (a selector)."""

    action: str
    target: str
    value: str | None = None


@dataclass(frozen=True, slots=True)
class BrowserPage:
    """What a browser check does: load the URL in headless Chromium, then the steps."""

    steps: tuple[BrowserStep, ...] = ()
    fail_on_console_errors: bool = True
    """Uncaught exceptions and ``console.error`` fail the check (``browser.page_error``)."""
    fail_on_failed_requests: bool = False
    """A subresource that failed or answered 400 or more fails the check."""
    viewport: tuple[int, int] = (1280, 720)
    executable: str | None = None
    """Chromium to launch; None: Debian's /usr/bin/chromium if there, else Playwright's."""
    concurrency: int = 2
    """How many browser checks run at once on one event loop (one shared browser)."""
    screenshot: bool = True
    """Keep a PNG of the viewport when the check fails (``ProbeResult.screenshot``)."""


@quick_init
@dataclass(frozen=True, slots=True)
class ProbeOptions:
    """How to probe.  Every phase has its own ``timeout``; the whole probe a ``deadline``."""

    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    resolver: str | None = None
    """``HOST[:PORT]`` of a DNS server to ask directly, instead of the system resolver."""
    cacert: str | None = None
    insecure: bool = False
    """Go on past a failed certificate verification (still reported)."""
    proxy: str | None = None
    """A proxy URL; None means the environment's (``HTTP(S)_PROXY``, ``NO_PROXY``)."""
    timeout: float = 5.0
    deadline: float = 20.0
    family: int = 0
    """0 for both, 4 or 6 for one address family."""
    max_body: int = 1 << 20
    follow_redirects: bool = True
    max_redirects: int = 10
    keep_body: int = 0
    """Keep this many bytes of the body in ``ProbeResult.body`` (for monitor conditions)."""
    body: bytes | None = None
    """A request body, sent with its ``Content-Length``; a 303 (or a 301/302 after a POST)
    turns the next hop into a GET without it, as browsers do; 307 and 308 keep it on the
    same origin, and are not followed to another (the body stays with its origin)."""
    env: Mapping[str, str] | None = None
    """The environment to read proxies from (default: ``os.environ``)."""
    allowed: AllowedTargets | None = None
    """The hosts and networks the probe may reach, every redirect hop included (None: any);
    a hop outside them raises :class:`TargetRefused` before anything is sent to it."""
    icmp_payload_size: int = _icmp.PAYLOAD_SIZE
    """Bytes after an echo request's ICMP header (8 at least: the probe's own token)."""
    http_version: str = "1.1"
    """``1.1``; ``3``: an ``https://`` hop over HTTP/3 (QUIC), not TCP; ``auto``: HTTP/1.1,
    then HTTP/3 too where the answer's ``Alt-Svc`` offers it (its failure a warning)."""
    dns: DnsQuery | None = None
    """What a ``dns://NAME`` probe asks ``resolver`` and what its answer must be (None: an
    ``A`` query answered ``NOERROR``)."""
    browser: BrowserPage | None = None
    """Load an http(s) URL in headless Chromium instead of walking it (``_browser``)."""
    database: DatabaseQuery | None = None
    """What a database or cache check runs once logged in, and the role it expects (None:
    ``SELECT 1`` or ``PING``, any role)."""
