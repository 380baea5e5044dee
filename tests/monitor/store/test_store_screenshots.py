"""Browser monitors' screenshots on both backends (``target``: SQLite and PostgreSQL,
tests/conftest.py): one per monitor, replaced by the next, kept across a reopen, pruned
with the raw results; and a check's screenshot stored with its record."""

from __future__ import annotations

from tests.helpers.stores import open_target
from tether.monitor._records import ProbeRecord
from tether.monitor.checks._prober import Check, take_record
from tether.monitor.store import Retention

T0 = 1_800_000_000.0
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def test_the_last_screenshot_wins_and_is_kept_across_a_reopen(target: str) -> None:
    """Saved twice, the second is read back, bytes exact, after a reopen too."""
    with open_target(target) as store:
        assert store.screenshot_of("app") is None
        store.save_screenshot("app", T0, b"first")
        store.save_screenshot("app", T0 + 60, PNG)
        store.save_screenshot("other", T0 + 1, b"x")
        store.flush()
        assert store.screenshot_of("app") == (T0 + 60, PNG)
    with open_target(target) as store:
        assert store.screenshot_of("app") == (T0 + 60, PNG)
        assert store.screenshot_of("other") == (T0 + 1, b"x")


def test_screenshots_are_pruned_with_the_raw_results(target: str) -> None:
    """Older than the raw retention: gone with the results of that time."""
    with open_target(target, retention=Retention(raw=3600.0)) as store:
        store.save_screenshot("old", T0, PNG)
        store.save_screenshot("new", T0 + 3000, PNG)
        store.flush()
        store.prune(T0 + 3700)
        assert store.screenshot_of("old") is None
        assert store.screenshot_of("new") is not None


def test_a_failed_checks_screenshot_is_stored_with_its_record(target: str) -> None:
    """take_record stores the record, and the PNG only of a failed check."""
    with open_target(target) as store:
        failed = ProbeRecord("app", T0, False, detail="step 1 failed")
        take_record(store, Check(failed, "127.0.0.1:80", screenshot=PNG))
        passed = ProbeRecord("ok", T0, True, latency_ms=1.0)
        take_record(store, Check(passed, "127.0.0.1:80", screenshot=PNG))
        store.flush()
        assert store.screenshot_of("app") == (T0, PNG)
        assert store.screenshot_of("ok") is None
        assert len(store.results("app", T0 - 1, T0 + 1)) == 1
