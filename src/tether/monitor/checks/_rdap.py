"""``[DOMAIN_EXPIRATION]``: a domain registration's expiry, from its registry's RDAP
server, as an ``rdap`` phase added to a check.

- The server: RFC 9224's bootstrap (IANA's ``dns.json`` by default, or the monitor's
  ``rdap.bootstrap``), fetched over verified HTTPS (``http://`` only to loopback) or read
  from a file, kept for ``rdap.refresh``; a failed refresh keeps the last good copy and
  is tried again after :data:`RETRY_BOOTSTRAP`.
- The domain: ``rdap.domain``, or the host's longest suffix the bootstrap lists (the TLD,
  or a longer entry) plus one label (no public suffix list).
- The answer: ``GET {server}domain/{domain}`` (RFC 9083 JSON); its ``events`` entry with
  ``eventAction: expiration``.  Kept per domain for ``rdap.cache``, so a monitor on a
  30 s interval asks once in six hours; what could not be asked is not kept.

What fails the check: the lookup not answered (refused, timeout, TLS: the kind
:func:`tether.classify` gives, the detail naming the RDAP lookup) or answered 5xx (or
another 4xx than 404).  What leaves the placeholder missing, saying why, so the
condition fails: no server for the TLD, no registration (404), no expiration event.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from tether._classify import classify, failure_for
from tether._failure import Failure
from tether._hostport import is_loopback
from tether._kinds import Kind
from tether._redact import redact_url
from tether.monitor.config._rdap import RdapOptions
from tether.probe import Phase, ProbeResult, RdapDetails

__all__ = ["RETRY_BOOTSTRAP", "RdapLookup", "parse_bootstrap", "registered_domain"]

RETRY_BOOTSTRAP: Final = 300.0
"""Seconds before a bootstrap that failed to refresh is tried again."""
_MAX_BYTES: Final = 4 << 20


class _Unanswered(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


def parse_bootstrap(text: str) -> dict[str, str]:
    """RFC 9224's JSON as ``{suffix: base URL ending in /}`` (an https URL preferred).
    Raises ValueError saying what is wrong."""
    try:
        data = json.loads(text)
        services = data["services"]
        out: dict[str, str] = {}
        for suffixes, urls in services:
            chosen = next((u for u in urls if u.startswith("https://")), urls[0])
            for suffix in suffixes:
                out[str(suffix).lower().strip(".")] = (
                    chosen if chosen.endswith("/") else chosen + "/"
                )
        return out
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise ValueError(f"not an RDAP bootstrap file (RFC 9224): {exc!r}") from None


def registered_domain(host: str, suffixes: dict[str, str]) -> tuple[str, str] | None:
    """(domain, RDAP base URL) for ``host``: its longest suffix in ``suffixes`` plus one
    label; None when no suffix is listed or the host is the suffix itself."""
    labels = host.lower().rstrip(".").split(".")
    for i in range(len(labels)):
        server = suffixes.get(".".join(labels[i:]))
        if server is not None:
            return (".".join(labels[i - 1 :]), server) if i > 0 else None
    return None


@dataclass(slots=True)
class _Kept:
    at: float
    """When it was fetched (monotonic seconds)."""
    value: Any
    retry_at: float | None = None


class RdapLookup:
    """The lookups of one prober, with their caches; the clocks are injectable."""

    def __init__(
        self,
        *,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.wall, self.mono = wall, mono
        self._bootstraps: dict[str, _Kept] = {}
        self._answers: dict[tuple[str, str], _Kept] = {}

    async def add_phase(
        self, result: ProbeResult, host: str, options: RdapOptions | None, timeout: float
    ) -> ProbeResult:
        """``result`` with an ``rdap`` phase for ``host``'s domain; its failure when the
        lookup was not answered."""
        o = options or RdapOptions()
        started = time.perf_counter()
        try:
            details = await self._details(host, o, timeout)
            failure = None
        except _Unanswered as unanswered:
            failure = unanswered.failure
            # Said as the value's absence too: a 5xx is an answer, and conditions judge it.
            details = RdapDetails(o.domain or host, missing=failure.detail)
        phase = Phase(
            "rdap", failure is None, (time.perf_counter() - started) * 1000, details, failure
        )
        return replace(result, phases=(*result.phases, phase), failure=result.failure or failure)

    async def _details(self, host: str, o: RdapOptions, timeout: float) -> RdapDetails:
        suffixes = await self._bootstrap(o, timeout)
        if o.domain is not None:
            found = registered_domain(o.domain, suffixes)
            found = (o.domain, found[1]) if found else None
        else:
            found = registered_domain(host, suffixes)
        if found is None:
            tld = (o.domain or host).rstrip(".").rsplit(".", 1)[-1]
            why = f"the RDAP bootstrap lists no server for .{tld} ({redact_url(o.bootstrap)})"
            return RdapDetails(o.domain or host, missing=why)
        domain, server = found
        key = (server, domain)
        kept = self._answers.get(key)
        cached = kept is not None and self.mono() - kept.at < o.cache
        if kept is None or not cached:
            kept = _Kept(self.mono(), await self._registration(server, domain, timeout))
            self._answers[key] = kept
        expires, missing = kept.value
        left = None if expires is None else expires - self.wall()
        shown = None
        if expires is not None:
            shown = dt.datetime.fromtimestamp(expires, dt.UTC).isoformat()
        return RdapDetails(domain, redact_url(server), shown, left, missing, cached)

    async def _bootstrap(self, o: RdapOptions, timeout: float) -> dict[str, str]:
        kept = self._bootstraps.get(o.bootstrap)
        now = self.mono()
        if kept is not None and now - kept.at < o.refresh:
            return dict(kept.value)
        if kept is not None and kept.retry_at is not None and now < kept.retry_at:
            return dict(kept.value)
        source = redact_url(o.bootstrap)
        try:
            if "://" in o.bootstrap:
                status, text = await _get(o.bootstrap, timeout, f"the RDAP bootstrap {source}")
                if status != 200:
                    raise _Unanswered(_status_failure(status, f"the RDAP bootstrap {source}"))
            else:
                text = Path(o.bootstrap).read_text()
            suffixes = parse_bootstrap(text)
        except (_Unanswered, OSError, ValueError) as exc:
            if kept is not None:  # the last good copy serves until a refresh works
                kept.retry_at = now + RETRY_BOOTSTRAP
                return dict(kept.value)
            if isinstance(exc, _Unanswered):
                raise
            raise _Unanswered(
                failure_for(Kind.RESPONSE_MALFORMED, f"the RDAP bootstrap {source}: {exc}")
            ) from None
        self._bootstraps[o.bootstrap] = _Kept(now, suffixes)
        return suffixes

    async def _registration(
        self, server: str, domain: str, timeout: float
    ) -> tuple[float | None, str | None]:
        """(expiry in Unix seconds, None) or (None, why there is none)."""
        url = f"{server}domain/{domain}"
        where = f"the RDAP lookup of {domain} at {redact_url(url)}"
        status, text = await _get(url, timeout, where)
        if status == 404:
            return None, f"no registration found for {domain} at {redact_url(server)} (404)"
        if status != 200:
            raise _Unanswered(_status_failure(status, where))
        try:
            events = json.loads(text).get("events") or []
            dates = [e["eventDate"] for e in events if e.get("eventAction") == "expiration"]
        except (ValueError, AttributeError, TypeError, KeyError) as exc:
            raise _Unanswered(
                failure_for(Kind.RESPONSE_MALFORMED, f"{where}: not RDAP JSON ({exc!r})")
            ) from None
        if not dates:
            return None, f"the RDAP answer for {domain} has no expiration event"
        try:
            moment = dt.datetime.fromisoformat(str(dates[0]).replace("Z", "+00:00"))
        except ValueError:
            return None, f"the RDAP answer for {domain} has an unreadable expiration {dates[0]!r}"
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.timestamp(), None


def _status_failure(status: int, where: str) -> Failure:
    kind = Kind.HTTP_SERVER_ERROR if status >= 500 else Kind.HTTP_CLIENT_ERROR
    return failure_for(kind, f"{where} was answered {status}")


async def _get(url: str, timeout: float, where: str) -> tuple[int, str]:
    """The status and text of ``GET url``, over verified TLS; ``http://`` only to
    loopback.  Raises :class:`_Unanswered` with the failure's kind when no answer came."""
    import aiohttp

    parts = urlsplit(url)
    if parts.scheme != "https" and not (
        parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname)
    ):
        raise _Unanswered(
            failure_for(Kind.URL_INVALID, f"{where}: only https:// (http:// to loopback)")
        )
    headers = {"Accept": "application/rdap+json, application/json"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url, headers=headers, allow_redirects=True) as answer,
        ):
            body = await answer.content.read(_MAX_BYTES)
            return answer.status, body.decode("utf-8", "replace")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        failure = classify(exc, url=redact_url(url))
        raise _Unanswered(replace(failure, detail=f"{where}: {failure.detail}")) from None
