"""A stand-in for the monitor's agent routes, on loopback, for ``tether agent``'s tests.

It stands in for the routes and intake being written at the same time (issue 28's
server side) and speaks the wire as ``tether.monitor._agent_wire`` defines it, parsing
with the wire module's own classes; an end-to-end test with the real server follows.
It is a real aiohttp server on 127.0.0.1 in a thread of its own, so both a test's event
loop and an agent process can talk to it.

Its :attr:`AgentStub.mode` switches how it answers: ``ok``; ``refuse`` (401 to every
request); ``503``; ``hang`` (never answers); ``lose`` (takes a batch, then drops the
connection before answering, as a lost answer); ``protocol 2`` (a server of the next
protocol: its assignment says 2, and it answers a batch of 1 with the 400 the real server
gives a batch of another protocol).  What it took is in :attr:`taken` (each
batch id once, in order) and :attr:`posts` (every id posted, resends included).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tether.monitor._agent_wire import (
    ASSIGNMENT_PATH,
    MAX_WAIT,
    RESULTS_PATH,
    AgentWireError,
    Assignment,
    Batch,
    NotRun,
    Receipt,
)
from tether.monitor._records import ProbeRecord
from tether.monitor.checks._prober import Check
from tether.monitor.runtime.agents._agent import Agent, AgentOptions
from tether.monitor.runtime.agents._spool import Spool

TOKEN = "agent-secret-t0ken-5f1c2a9b7e"
"""The token the stub takes (a test greps the agent's output for it)."""


class AgentStub:
    """The server's side of the agent wire, with switches to misbehave."""

    def __init__(
        self,
        monitors: list[Mapping[str, Any]],
        *,
        location: str = "branch-1",
        batch_every: float = 1.0,
        lease: float = 60.0,
        skew: float = 0.0,
        max_age: float | None = None,
    ) -> None:
        self.location, self.batch_every, self.lease, self.skew = (
            location,
            batch_every,
            lease,
            skew,
        )
        self.max_age = max_age
        self.mode = "ok"
        self.taken: dict[str, Batch] = {}
        self.posts: list[str] = []
        self.said: list[tuple[NotRun, ...] | None] = []
        """What each batch posted said of the monitors its agent does not run."""
        self.refused_posts = 0
        """Batches answered with an error (a misbehaving mode), not taken."""
        self.polls = 0
        self._monitors = list(monitors)
        self._version = 1
        self._loop = asyncio.new_event_loop()
        self._changed: asyncio.Event | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def checks(self) -> list[Any]:
        """Every check taken, in the order taken."""
        return [c for b in self.taken.values() for c in b.checks]

    def assign(self, monitors: list[Mapping[str, Any]]) -> None:
        """A new assignment (a reload on the server): a new version, the polls answered."""

        def change() -> None:
            self._monitors = list(monitors)
            self._version += 1
            assert self._changed is not None
            self._changed.set()
            self._changed = asyncio.Event()

        self._loop.call_soon_threadsafe(change)

    def _assignment(self) -> Assignment:
        return Assignment(
            version=str(self._version),
            location=self.location,
            monitors=tuple(self._monitors),
            lease=self.lease,
            batch_every=self.batch_every,
            server_time=time.time() + self.skew,
            max_age=self.max_age,
        )

    async def _misbehave(self, request: web.Request) -> web.StreamResponse | None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}" or self.mode == "refuse":
            return web.json_response({"error": "not an agent token"}, status=401)
        if self.mode == "503":
            return web.json_response({"error": "starting"}, status=503)
        if self.mode == "hang":
            await asyncio.Event().wait()
        if self.mode == "protocol 2" and request.method == "POST":
            said = "protocol: 1, and this tether speaks 2: upgrade the older side"
            return web.json_response({"error": f"{said} (docs/agents.md, Versions)"}, status=400)
        return None

    async def _get(self, request: web.Request) -> web.StreamResponse:
        self.polls += 1
        if (bad := await self._misbehave(request)) is not None:
            return bad
        if request.query.get("location") != self.location:
            return web.json_response({"error": "another location"}, status=403)
        held = request.query.get("version")
        if held == str(self._version):
            wait = min(float(request.query.get("wait", "0")), MAX_WAIT)
            assert self._changed is not None
            with suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), wait)
        answer = self._assignment().to_json()
        if self.mode == "protocol 2":
            answer["protocol"] = 2
        return web.json_response(answer)

    async def _post(self, request: web.Request) -> web.StreamResponse:
        if (bad := await self._misbehave(request)) is not None:
            self.refused_posts += 1
            return bad
        try:
            batch = Batch.from_json(await request.json())
        except (ValueError, AgentWireError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        self.posts.append(batch.id)
        self.said.append(batch.cannot_run)
        duplicate = batch.id in self.taken
        if not duplicate:
            self.taken[batch.id] = batch
        if self.mode == "lose":
            assert request.transport is not None
            request.transport.close()  # taken, and the answer never leaves
            return web.Response()
        now = time.time() + self.skew
        receipt = Receipt(
            taken=0 if duplicate else len(batch.checks),
            duplicate=duplicate,
            offset=now - batch.sent_at,
            server_time=now,
        )
        return web.json_response(receipt.to_json())

    @contextmanager
    def running(self) -> Iterator[AgentStub]:
        app = web.Application()
        app.router.add_get(ASSIGNMENT_PATH, self._get)
        app.router.add_post(RESULTS_PATH, self._post)
        runner = web.AppRunner(app, shutdown_timeout=0.1)

        async def start() -> None:
            self._changed = asyncio.Event()
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(_stopped(runner), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            thread.join(10)
            self._loop.close()


async def _stopped(runner: web.AppRunner) -> None:
    """``runner`` cleaned up, and the handlers it left behind (a long poll still held when
    its shutdown timeout ran out) cancelled and run to their end, so that each closes its
    connection before the loop stops: a transport left open is collected later, in
    whatever test runs then, and fails it with an unclosed-socket ``ResourceWarning``."""
    await runner.cleanup()
    me = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t is not me]
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)


def made(n: int, ts: float | None = None) -> Check:
    """The ``n``-th check a test makes, as the prober hands it over (monitor ``m{n}``),
    made at ``ts`` plus ``n`` seconds (by default now: a batch may not carry a check
    dated more than a day after it is sent)."""
    at = time.time() if ts is None else ts
    return Check(ProbeRecord(f"m{n}", at + n, True, latency_ms=1.0), "127.0.0.1:9")


@asynccontextmanager
async def agent_for(
    stub: AgentStub,
    spool: Path,
    *,
    token: str = TOKEN,
    limit: int = 100_000,
    give_up_after: float = 0.0,
    **kw: Any,
) -> AsyncIterator[Agent]:
    """An agent reporting to ``stub`` with its spool at ``spool`` (closed on the way out);
    it stops at the first refusal of its token unless ``give_up_after`` says otherwise."""
    async with aiohttp.ClientSession() as session:
        options = AgentOptions(stub.url, stub.location, token, "test-agent", give_up_after)
        with Spool(spool, limit=limit) as kept:
            yield Agent(options, kept, session, **kw)
