"""Test doubles for time, shared by the retry tests: a clock that moves only when told."""

from __future__ import annotations

from typing import Any

import tether


class FakeClock:
    """A monotonic clock that moves only when slept on or advanced; sleeps are recorded."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """A policy on a fake clock whose hooks record retries and give-ups."""

    def __init__(self, **changes: Any) -> None:
        self.clock = FakeClock()
        self.retries: list[tether.RetryDetails] = []
        self.give_ups: list[tether.GiveUpDetails] = []
        self.policy = tether.RetryPolicy(
            clock=self.clock,
            sleep=self.clock.sleep,
            async_sleep=self.clock.async_sleep,
            on_retry=self.retries.append,
            on_give_up=self.give_ups.append,
            **changes,
        )
