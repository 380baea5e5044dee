"""Runs backoff's and tenacity's own tests (vendored here, README.md) against tether's
adapters: their ``@pytest.mark.asyncio`` coroutine tests on a fresh asyncio loop each (the
projects use pytest-asyncio, which tether's suite does not install), and the tests the
adapters fail on purpose left out, each with why (``LEFT_OUT``, said in README.md too)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any

import pytest

from tests.compat.vendored.left_out import left_out

LEFT_OUT = left_out()
"""Test node ids (relative to this folder) the adapters fail on purpose, and why."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "asyncio: a coroutine test, run on its own event loop")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A coroutine test function is run to its end on a new event loop."""
    function = pyfuncitem.obj
    if not inspect.iscoroutinefunction(function):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    loop = pyfuncitem.funcargs.get("event_loop")
    if isinstance(loop, asyncio.AbstractEventLoop):
        loop.run_until_complete(function(**kwargs))
    else:
        asyncio.run(function(**kwargs))
    return True


@pytest.fixture(autouse=True)
def current_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    """A plain test of an async test file finds a current event loop, as under
    pytest-asyncio (backoff's ``..._without_event_loop`` tests read it to set it aside)."""
    if inspect.iscoroutinefunction(request.function) or "async" not in request.path.name:
        yield
        return
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@pytest.fixture
def event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """pytest-asyncio's fixture of the same name: a loop of the test's own."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[Any]) -> None:
    prefix = "tests/compat/vendored/"
    for item in items:
        if not item.nodeid.startswith(prefix):
            continue
        why = LEFT_OUT.get(item.nodeid.removeprefix(prefix))
        if why is not None:
            item.add_marker(pytest.mark.skip(reason=f"left out on purpose: {why}"))
