"""``RetryPolicy.retry_if``, which the adapters' exception filters become: it judges every
exception an attempt raises, an HTTP error raised for a status included, while a response
handed back is still judged by ``statuses``."""

from __future__ import annotations

import pytest
import requests

import tether
from tests.helpers.fakes import Recorder
from tether.lab import Lab


def status_url(lab: Lab, code: int) -> str:
    return lab["http_404"].url.rsplit("/", 1)[0] + f"/{code}"


def test_retry_if_judges_an_http_error_raised_for_a_status(lab: Lab) -> None:
    """A 404's HTTPError, which tether's statuses would return at once, is retried when
    retry_if says so (backoff's on_exception(RequestException) does retry it)."""
    r, statuses = Recorder(retry_if=lambda e: isinstance(e, requests.HTTPError)), []

    @tether.retry(policy=r.policy)
    def fetch() -> None:
        response = requests.get(status_url(lab, 404), timeout=2)
        statuses.append(response.status_code)
        response.raise_for_status()

    with pytest.raises(requests.HTTPError):
        fetch()
    assert statuses == [404, 404, 404]


def test_retry_if_can_refuse_a_status_tether_would_retry(lab: Lab) -> None:
    """retry_if saying no to a 502's HTTPError: one attempt, the reason says retry_if."""
    r, statuses = Recorder(retry_if=lambda e: False), []

    @tether.retry(policy=r.policy)
    def fetch() -> None:
        response = requests.get(status_url(lab, 502), timeout=2)
        statuses.append(response.status_code)
        response.raise_for_status()

    with pytest.raises(requests.HTTPError):
        fetch()
    assert statuses == [502]
    assert r.give_ups[0].reason == "retry_if said no to http.server_error"


def test_a_response_handed_back_is_still_judged_by_statuses(lab: Lab) -> None:
    """A Session's 502 response raises nothing: statuses decide, retry_if is not asked."""
    asked: list[BaseException] = []
    r = Recorder(retry_if=lambda e: bool(asked.append(e)))
    with tether.Session(policy=r.policy) as session:
        assert session.get(status_url(lab, 502)).status_code == 502
    assert len(r.retries) == 2
    assert asked == []
