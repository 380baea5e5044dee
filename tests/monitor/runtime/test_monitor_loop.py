"""The monitor's event loop: uvloop's where it is installed, asyncio's otherwise."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tether.monitor.runtime._loop import loop_factory, run


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_the_monitor_runs_on_uvloop_when_it_is_installed() -> None:
    """With uvloop importable (the monitor extra installs it here), run() is on its loop."""
    pytest.importorskip("uvloop")
    assert run(_loop_module()).startswith("uvloop")


def test_without_uvloop_the_monitor_runs_on_asyncios_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where uvloop cannot be imported (Windows), run() falls back to asyncio's own loop."""
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    assert loop_factory() is None
    assert run(_loop_module()).startswith("asyncio")
