"""The simulated clock the monitor's tests run on (tests/helpers/simtime.py), held to what its
docstrings promise: the clock jumps from one sleeper's wake-up to the next and rests
nowhere else, stands still while real I/O is under way (a probe's ``busy()``, work on a
thread, ``also_busy``), ``until`` returns at the simulated moment its condition first
holds or fails ``stuck at`` its limit, and ``sleep`` works only on ``SimTime.run``'s loop.

Everything is counted or compared on the simulated clock.  Where a test needs the loop to
have really gone idle while real work is outstanding, a real thread waits until the
loop's thread sits in its selector's wait (:func:`wait_for_the_loop_to_wait`): that is
the moment the clock would move if nothing held it, reached without timing real time.
"""

from __future__ import annotations

import asyncio
import hashlib
import selectors
import socket
import sys
import threading
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.simtime import SimTime

LENGTHS = st.one_of(
    st.integers(min_value=-2, max_value=40).map(float),  # ties, zero and negative sleeps
    st.floats(min_value=-1.0, max_value=10_000.0, allow_nan=False),
)
SLEEPS = st.lists(LENGTHS, min_size=1, max_size=12)
PROPERTY = settings(max_examples=60, deadline=None)
REAL_PATIENCE = 10.0
"""Real seconds a helper thread or a run gets before the test calls it stuck: a bound on a
hang, never a measurement."""

BACKSTOP = 1e9
"""A sleep far past every deadline a property draws."""

_SELECT = selectors.DefaultSelector.select.__code__


def deadline(start: float, length: float) -> float:
    """Where a sleep of ``length`` begun at ``start`` ends: at least 1 ms on."""
    return start + max(length, 0.001)


def wait_for_the_loop_to_wait(loop_thread: int) -> None:
    """Block the calling (real) thread until the loop's thread waits in its selector with
    no zero timeout: nothing is ready to run there, so simulated time would move now
    unless real I/O holds it."""
    for _ in range(int(REAL_PATIENCE / 0.001)):
        frame = sys._current_frames().get(loop_thread)
        if frame is not None and frame.f_code is _SELECT and frame.f_locals["timeout"] != 0:
            return
        threading.Event().wait(0.001)
    raise AssertionError("the loop never went to wait on its selector")


def record_rests(sim: SimTime, rests: list[float]) -> asyncio.Task[None]:
    """A watch whose condition never holds and notes the clock each time it is looked at:
    now, and every time the clock is about to move."""

    def never() -> bool:
        rests.append(sim.now)
        return False

    return asyncio.create_task(sim.until(never))


@PROPERTY
@given(offset=LENGTHS, lengths=SLEEPS)
def test_sleepers_wake_in_deadline_order_with_the_clock_on_each_deadline(
    offset: float, lengths: list[float]
) -> None:
    """Sleeps begun together wake in order of their deadlines (ties in the order they
    began), and each sleeper sees the clock exactly at its own deadline, 1 ms on at least."""
    sim = SimTime()
    woke: list[tuple[int, float]] = []

    async def sleeper(index: int, length: float) -> None:
        await sim.sleep(length)
        woke.append((index, sim.now))

    async def main() -> float:
        await sim.sleep(offset)
        start = sim.now
        await asyncio.gather(*(sleeper(i, length) for i, length in enumerate(lengths)))
        return start

    start = sim.run(main())
    deadlines = [deadline(start, length) for length in lengths]
    order = sorted(range(len(lengths)), key=lambda i: deadlines[i])
    assert woke == [(i, deadlines[i]) for i in order]
    assert sim.now == max(deadlines)


@PROPERTY
@given(offset=LENGTHS, lengths=SLEEPS)
def test_the_clock_rests_only_where_it_started_and_on_deadlines(
    offset: float, lengths: list[float]
) -> None:
    """Every moment the clock moves from, as a watch sees it each time the clock is about
    to move, is the start or a sleeper's deadline, and it moves on from every deadline but
    the last (where the run ends): no wake-up that no sleeper asked for."""
    sim = SimTime()
    rests: list[float] = []

    async def main() -> float:
        await sim.sleep(offset)
        start = sim.now
        watch = record_rests(sim, rests)
        await asyncio.gather(*(sim.sleep(length) for length in lengths))
        watch.cancel()
        return start

    start = sim.run(main())
    deadlines = {deadline(start, length) for length in lengths}
    assert set(rests) == {start} | (deadlines - {max(deadlines)})
    assert rests == sorted(rests)


def test_a_cancelled_sleep_neither_moves_the_clock_nor_wakes_anything() -> None:
    """A sleep cancelled before its deadline leaves its entry behind, which is skipped:
    the clock goes from the start straight to the one sleeper left, which wakes at its
    own deadline, and the cancelled sleeper ends cancelled."""
    sim = SimTime()
    rests: list[float] = []
    woke: list[str] = []

    async def sleeper(name: str, length: float) -> None:
        await sim.sleep(length)
        woke.append(f"{name} at {sim.now}")

    async def main() -> bool:
        watch = record_rests(sim, rests)
        cancelled = asyncio.create_task(sleeper("cancelled", 2.0))
        await asyncio.sleep(0)  # it has begun its sleep
        cancelled.cancel()
        await sleeper("kept", 5.0)
        watch.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        return cancelled.cancelled()

    assert sim.run(main())
    assert woke == ["kept at 5.0"]
    assert set(rests) == {0.0}  # never moved from 2.0, where the cancelled one was due


def test_time_stands_still_while_a_thread_works() -> None:
    """While ``asyncio.to_thread`` work is blocked on a real event that another real thread
    sets only once the loop has gone idle, the clock does not move: the work reads the
    same ``sim.now`` before and after, the call returns with the clock unmoved and a
    sleeper not yet woken, and the sleeper still wakes exactly at its deadline."""
    sim = SimTime()
    go = threading.Event()
    seen: list[float] = []
    woke: list[float] = []

    def work() -> str:
        seen.append(sim.now)
        if not go.wait(REAL_PATIENCE):
            raise AssertionError("never let go")
        seen.append(sim.now)
        return "done"

    async def sleeper() -> None:
        await sim.sleep(30.0)
        woke.append(sim.now)

    async def main() -> tuple[str, float, list[float]]:
        await sim.sleep(7.0)
        loop_thread = threading.get_ident()

        def let_go() -> None:
            hashlib.sha256(bytes(1 << 20)).hexdigest()  # some real work of its own
            wait_for_the_loop_to_wait(loop_thread)
            go.set()

        asleep = asyncio.create_task(sleeper())
        helper = threading.Thread(target=let_go)
        helper.start()
        result = await asyncio.to_thread(work)
        after, woken = sim.now, list(woke)
        helper.join()
        await asleep
        return result, after, woken

    assert sim.run(main()) == ("done", 7.0, [])
    assert seen == [7.0, 7.0]
    assert woke == [37.0]


def test_time_moves_again_when_busy_work_on_another_thread_ends() -> None:
    """A real thread holding ``busy()`` keeps the clock still while the loop waits with
    nothing else to do; when it leaves, the loop is woken and the clock moves on to the
    sleeper's deadline (rather than the loop waiting for I/O that never comes)."""
    sim = SimTime()
    entered = threading.Event()
    seen: list[float] = []

    def deliver(loop_thread: int) -> None:
        with sim.busy():
            entered.set()
            wait_for_the_loop_to_wait(loop_thread)
            seen.append(sim.now)

    async def main() -> float:
        worker = threading.Thread(target=deliver, args=(threading.get_ident(),))
        worker.start()
        assert entered.wait(REAL_PATIENCE)  # held before the loop can go idle
        await sim.sleep(5.0)
        woke = sim.now
        worker.join()
        return woke

    results: list[float] = []
    run = threading.Thread(target=lambda: results.append(sim.run(main())), daemon=True)
    run.start()
    run.join(REAL_PATIENCE)
    assert not run.is_alive(), "the loop slept on after the busy thread had left"
    assert seen == [0.0]
    assert results == [5.0]


def test_time_stands_still_while_busy_around_a_loopback_exchange() -> None:
    """Inside ``with sim.busy():`` a real exchange with a server on 127.0.0.1, which
    answers only once the loop has gone idle waiting for it, takes no simulated time; a
    concurrent sleeper wakes at its deadline once the exchange is done."""
    sim = SimTime()
    woke: list[float] = []

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def serve(loop_thread: int) -> None:
            server.settimeout(REAL_PATIENCE)
            conn, _ = server.accept()
            with conn:
                asked = conn.recv(64)
                wait_for_the_loop_to_wait(loop_thread)
                conn.sendall(asked.upper())

        async def sleeper() -> None:
            await sim.sleep(5.0)
            woke.append(sim.now)

        async def main() -> tuple[bytes, float, list[float]]:
            helper = threading.Thread(target=serve, args=(threading.get_ident(),))
            helper.start()
            asleep = asyncio.create_task(sleeper())
            with sim.busy():
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"ping")
                await writer.drain()
                answer = await reader.readexactly(4)
                writer.close()
                await writer.wait_closed()
                after, woken = sim.now, list(woke)
            helper.join()
            await asleep
            return answer, after, woken

        assert sim.run(main()) == (b"PING", 0.0, [])
    assert woke == [5.0]


def until_outcome(deadlines: list[float], wanted: int, limit: float) -> tuple[str, float]:
    """What ``until(len(woken) >= wanted, limit)`` does, by the docstring: at each moment
    the clock rests (the start, then each deadline), return if the condition holds there,
    else fail if the clock has reached the limit."""
    for rest in [0.0, *sorted(set(deadlines))]:
        if sum(d <= rest for d in deadlines) >= wanted:
            return "returned", rest
        if rest >= limit:
            return f"stuck at {rest:.0f} s", rest
    raise AssertionError("the condition holds at the last deadline")


@PROPERTY
@given(lengths=SLEEPS, data=st.data())
def test_until_returns_at_the_first_moment_its_condition_holds_or_fails_at_the_limit(
    lengths: list[float], data: st.DataObject
) -> None:
    """Waiting until the k-th sleeper has woken returns at the k-th deadline, unless the
    clock stands at or past the limit at an earlier rest, where it fails ``stuck at``."""
    deadlines = [deadline(0.0, length) for length in lengths]
    wanted = data.draw(st.integers(min_value=1, max_value=len(lengths)), label="wanted")
    limit = data.draw(
        st.one_of(
            st.just(float("inf")),
            st.sampled_from([0.0, *deadlines]),
            st.floats(min_value=-1.0, max_value=11_000.0, allow_nan=False),
        ),
        label="limit",
    )
    sim = SimTime()
    woken: list[float] = []

    async def sleeper(length: float) -> None:
        await sim.sleep(length)
        woken.append(sim.now)

    async def main() -> tuple[str, float]:
        for length in lengths:
            asyncio.create_task(sleeper(length))  # noqa: RUF006  (the run cancels them)
        # Far past every deadline: a watch left unanswered ends in a wrong moment, not a hang.
        asyncio.create_task(sim.sleep(BACKSTOP))  # noqa: RUF006
        try:
            await sim.until(lambda: len(woken) >= wanted, limit)
        except AssertionError as exc:
            return str(exc), sim.now
        return "returned", sim.now

    assert sim.run(main()) == until_outcome(deadlines, wanted, limit)


def test_until_returns_at_once_when_its_condition_already_holds() -> None:
    """A condition that holds when ``until`` is called is looked at there and then: it
    returns before the loop next goes idle (``also_busy`` counts each idle moment), with
    the clock unmoved, even with a sleeper due and a limit already passed."""
    sim = SimTime()
    idle: list[float] = []

    def count_idle() -> bool:
        idle.append(sim.now)
        return False

    sim.also_busy = count_idle

    async def main() -> tuple[float, int]:
        await sim.sleep(3.0)
        asleep = asyncio.create_task(sim.sleep(1.0))
        before = len(idle)
        await sim.until(lambda: True, limit=0.0)
        now, idle_since = sim.now, len(idle) - before
        await asleep
        return now, idle_since

    assert sim.run(main()) == (3.0, 0)
    assert sim.now == 4.0


def ticking(sim: SimTime) -> Callable[[], asyncio.Task[None]]:
    """A task that sleeps one simulated second after another, for ever."""

    async def tick() -> None:
        while True:
            await sim.sleep(1.0)

    return lambda: asyncio.create_task(tick())


def test_until_fails_stuck_at_the_limit_when_the_condition_never_holds() -> None:
    """With the clock ticking each second, a condition that never holds fails with an
    AssertionError ``stuck at 30 s`` when the clock reaches the limit of 30 s."""
    sim = SimTime()
    start_ticking = ticking(sim)

    async def main() -> None:
        start_ticking()
        await sim.until(lambda: False, limit=30.0)

    with pytest.raises(AssertionError, match=r"^stuck at 30 s$"):
        sim.run(main())
    assert sim.now == 30.0


def test_until_whose_condition_first_holds_at_the_limit_returns() -> None:
    """The condition is looked at before the limit: holding first at the very moment the
    clock reaches the limit, it returns there rather than failing."""
    sim = SimTime()
    start_ticking = ticking(sim)

    async def main() -> float:
        start_ticking()
        await sim.until(lambda: sim.now >= 30.0, limit=30.0)
        return sim.now

    assert sim.run(main()) == 30.0


async def bounded(waiting: Awaitable[None]) -> None:
    """``waiting`` given up after :data:`REAL_PATIENCE` real seconds, so that a sleep no
    clock will end fails the test with TimeoutError instead of hanging it."""
    await asyncio.wait_for(waiting, REAL_PATIENCE)


def test_sleep_off_its_loop_raises_runtime_error() -> None:
    """``sleep`` on a plain asyncio loop or on another SimTime's loop raises RuntimeError
    rather than wait for a clock that nothing there would move; so does an ``until``
    that would have to wait."""
    sim, other = SimTime(), SimTime()
    with pytest.raises(RuntimeError, match=r"SimTime\.run"):
        asyncio.run(bounded(sim.sleep(1.0)))
    with pytest.raises(RuntimeError, match=r"SimTime\.run"):
        other.run(bounded(sim.sleep(1.0)))
    with pytest.raises(RuntimeError, match=r"SimTime\.run"):
        asyncio.run(bounded(sim.until(lambda: False)))
    assert sim.now == 0.0
    assert sim.run(sim.sleep(1.0)) is None  # on its own loop the same sleep ends
    assert sim.now == 1.0


def test_also_busy_holds_the_clock_until_it_returns_false() -> None:
    """While ``also_busy`` says True the clock stays put however often the loop asks;
    the sleeper wakes at its deadline only after ``also_busy`` has said False."""
    sim = SimTime()
    asked: list[float] = []

    def also_busy() -> bool:
        asked.append(sim.now)
        return len(asked) < 5

    sim.also_busy = also_busy

    async def main() -> tuple[float, int]:
        await sim.sleep(4.0)
        return sim.now, len(asked)

    assert sim.run(main()) == (4.0, 5)
    assert asked == [0.0] * 5
