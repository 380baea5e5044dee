"""Alerts through apprise: one URL reaches Slack, Discord, Telegram, ntfy, email and the rest.

apprise is imported on the first delivery, not with tether: importing it and
loading its hundreds of service plugins takes a few tenths of a second.  The
title and body are the same words as an email's (:mod:`._message`).  apprise
reports a failed delivery by its return value, not by raising; the channel
turns that into :class:`AppriseError`, so the outbox keeps the alert and tries
again.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tether._redact import redact_apprise, redact_text
from tether.monitor._records import AlertPayload
from tether.monitor.alerts._message import body, subject

if TYPE_CHECKING:
    import apprise
    from apprise.result import NotifyResult

__all__ = ["AppriseChannel", "AppriseError"]


class AppriseError(RuntimeError):
    """apprise did not deliver the alert; the message says which service and why."""


_build_lock = threading.Lock()
"""apprise loads its plugins on the first URL it is given; once, and not in two threads."""


class AppriseChannel:
    """Send each alert to every apprise URL in ``urls``."""

    def __init__(self, name: str, urls: Sequence[str], *, timeout: float = 10.0) -> None:
        if not urls:
            raise ValueError(f"apprise channel {name!r}: no URL")
        self.name = name
        self._urls = tuple(urls)
        self._timeout = timeout
        self._apprise: apprise.Apprise | None = None
        self._tags = tuple(f"tether-url-{n}" for n in range(len(self._urls)))
        self._landed: dict[str, set[str]] = {}
        """For an alert that some URLs took and others did not: the tags of those that took it."""

    def __repr__(self) -> str:
        # An apprise URL keeps its tokens in the path: only the schemes are shown.
        shown = " ".join(redact_apprise(url) for url in self._urls)
        return f"<AppriseChannel {self.name} {shown}>"

    def _notifier(self) -> apprise.Apprise:
        if self._apprise is None:
            with _build_lock, warnings.catch_warnings():
                # apprise's PGP helper imports the stdlib's imghdr, deprecated
                # since Python 3.11: a warning about apprise's code, not
                # tether's, and an error under `-W error`.
                warnings.filterwarnings(
                    "ignore", message="'imghdr' is deprecated", category=DeprecationWarning
                )
                self._apprise = self._build()
        return self._apprise

    def _build(self) -> apprise.Apprise:
        import apprise

        # One URL after the other, each given at most `timeout` seconds: the
        # outbox already runs deliveries in a worker thread.
        asset = apprise.AppriseAsset(async_mode=False, service_timeout=self._timeout)
        notifier = apprise.Apprise(asset=asset)
        for url, tag in zip(self._urls, self._tags, strict=True):
            if not notifier.add(url, tag=tag):
                raise AppriseError(
                    f"apprise channel {self.name!r}: apprise does not understand "
                    f"{redact_apprise(url)} (see https://github.com/caronc/apprise/wiki)"
                )
        return notifier

    def deliver(self, payload: AlertPayload, key: str) -> None:
        """Send one alert to every URL; raises :class:`AppriseError` if any did not take it.

        Tried again, the alert goes only to the URLs that did not take it: one
        service that is down must not page the others on every retry.  The services
        apprise reaches have no place for the alert's ``key``, so a copy delivered twice
        (by a second instance, after the first died mid-delivery) shows twice there.
        """
        notifier = self._notifier()
        landed = self._landed.get(key, set())
        todo = [tag for tag in self._tags if tag not in landed]
        result = notifier.notify(
            body=body(payload), title=subject(payload), body_format="text", tag=todo
        )
        landed |= {tag for r in result.results if r for tag in r.tag}
        if result:
            self._landed.pop(key, None)
            return
        self._landed[key] = landed
        failed = [r for r in result.results if not r]
        reasons = "; ".join(_reason(r) for r in failed) or result.status.name.lower()
        raise AppriseError(f"apprise channel {self.name!r} could not deliver: {reasons}")


def _reason(result: NotifyResult) -> str:
    """``JSON: A Connection error occurred sending JSON notification to 127.0.0.1.``"""
    said = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR")]
    why = said[-1] if said else result.status.name.lower()
    # apprise logs with its secure_logging on; this is the belt to its braces.
    return redact_text(f"{result.name}: {why}")
