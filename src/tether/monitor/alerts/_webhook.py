"""A signed JSON webhook: the body is JSON, its HMAC-SHA256 goes in a header.

The receiver recomputes ``sha256=HEX(HMAC(secret, body))`` over the raw body
and compares it in constant time (``hmac.compare_digest``), as GitHub's and
Stripe's webhooks do.

Each alert's key (the same for every copy of it: delivery is at least once)
goes in the ``Idempotency-Key`` header, a structured-field string as the IETF
httpapi draft "The Idempotency-Key HTTP Header Field" has it, and in the body
as ``"key"``, for receivers that only see the body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING

from tether._redact import redact_url
from tether.monitor._records import AlertPayload

if TYPE_CHECKING:
    from tether._retry._policy import RetryPolicy

SIGNATURE_HEADER = "X-Tether-Signature-256"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(body: bytes, secret: str) -> str:
    """``sha256=<hex>`` of the HMAC-SHA256 of ``body`` under ``secret``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookChannel:
    """POST each alert as JSON to ``url``, signed when a ``secret`` is set.

    Delivery goes through a ``tether.Session`` with a short policy: a blip is
    retried at once, a longer outage is the outbox's business.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        secret: str | None = None,
        timeout: float = 10.0,
        policy: RetryPolicy | None = None,
    ) -> None:
        import tether

        self.name = name
        self.url = url
        self._secret = secret
        if policy is None:
            policy = tether.RetryPolicy(attempts=2, deadline=timeout, connect=min(5.0, timeout))
        self._session = tether.Session(policy=policy)

    def __repr__(self) -> str:
        return f"<WebhookChannel {self.name} {redact_url(self.url)}>"

    def deliver(self, payload: AlertPayload, key: str) -> None:
        """Send one alert under its ``key``; raises (a requests exception with
        ``.failure``) if it did not land."""
        body = json.dumps({**payload.to_json(), "key": key}, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "tether-monitor",
            # An sf-string: the key is hex, so it needs no escaping inside the quotes.
            IDEMPOTENCY_HEADER: f'"{key}"',
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(body, self._secret)
        # The answer's status and headers within the policy's deadline (tether.Session's
        # cutoff); its body is never read: a receiver answering 400 MiB, or a byte every few
        # seconds, costs nothing (issue 72 §2, the same rules as subscriber deliveries).
        response = self._session.post(self.url, data=body, headers=headers, stream=True)
        try:
            response.raise_for_status()
        finally:
            response.close()

    def close(self) -> None:
        self._session.close()
