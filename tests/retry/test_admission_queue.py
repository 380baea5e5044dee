"""The bulkhead's queue as a pure object: slots, first-come order, the bound, and what a
waiter that times out or is cancelled leaves behind."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tether._retry._admission import SlotQueue


def test_slots_up_to_the_limit_then_a_bounded_queue() -> None:
    """Two slots are taken at once, one caller may queue, the next finds the queue full."""
    q: SlotQueue[str] = SlotQueue(limit=2, bound=1)
    assert q.take()
    assert q.take()
    assert not q.take()
    assert q.wait("third")
    assert not q.wait("fourth")
    assert (q.inflight, q.queued) == (2, 1)


def test_a_freed_slot_goes_to_the_first_waiter_not_to_a_newcomer() -> None:
    """FIFO: waiters are served in the order they came, and a caller arriving as a slot
    frees cannot overtake them."""
    q: SlotQueue[str] = SlotQueue(limit=1, bound=3)
    assert q.take()
    for name in ("a", "b", "c"):
        assert q.wait(name)
    assert q.leave() == ["a"]
    assert not q.take()  # "a" holds the slot it was handed
    assert q.leave() == ["b"]
    assert q.leave() == ["c"]
    assert q.leave() == []
    assert (q.inflight, q.queued) == (0, 0)
    assert q.take()


def test_a_waiter_that_times_out_leaves_the_queue_and_holds_nothing() -> None:
    """Giving up while still queued frees the place for the next caller; no slot is lost."""
    q: SlotQueue[str] = SlotQueue(limit=1, bound=1)
    assert q.take()
    assert q.wait("late")
    assert q.give_up("late")  # it was still waiting
    assert q.wait("next")  # its place in the queue is free again
    assert q.leave() == ["next"]
    assert q.inflight == 1


def test_a_waiter_handed_a_slot_as_it_gives_up_holds_it() -> None:
    """The race between a timer and a release: give_up() says the slot is the waiter's,
    which then keeps it (a timeout) or frees it (a cancellation), and the count agrees."""
    q: SlotQueue[str] = SlotQueue(limit=1, bound=2)
    assert q.take()
    assert q.wait("racer")
    assert q.wait("after")
    assert q.leave() == ["racer"]
    assert not q.give_up("racer")  # already handed the slot
    assert q.inflight == 1
    assert q.leave() == ["after"]  # a cancelled racer passes it on


def test_a_higher_limit_lets_waiters_in_and_a_lower_one_waits_for_releases() -> None:
    """resize(): raising the limit grants queued callers at once; lowering it takes no slot
    back, but nobody is let in until the count falls under the new limit."""
    q: SlotQueue[int] = SlotQueue(limit=2, bound=5)
    assert q.take()
    assert q.take()
    for n in range(4):
        assert q.wait(n)
    assert q.resize(4) == [0, 1]
    assert q.resize(2) == []
    assert q.leave() == []  # 3 in flight, limit 2
    assert q.leave() == []
    assert q.leave() == [2]
    assert (q.inflight, q.queued) == (2, 1)


def test_no_waiting_room_with_a_queue_of_zero() -> None:
    """queue=0: past the limit a caller is refused at once."""
    q: SlotQueue[str] = SlotQueue(limit=1, bound=0)
    assert q.take()
    assert not q.wait("x")


OPS = st.lists(
    st.tuples(st.sampled_from(["arrive", "leave", "give_up", "resize"]), st.integers(0, 9)),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(limit=st.integers(1, 4), bound=st.integers(0, 4), ops=OPS)
def test_the_queue_keeps_its_promises_over_any_schedule(
    limit: int, bound: int, ops: list[tuple[str, int]]
) -> None:
    """Over any schedule of arrivals, releases, give-ups (timeouts and cancellations) and
    limit changes: the count of slots is the number of holders, a slot is only ever handed
    out under the limit, waiters are served in arrival order, the queue never passes its
    bound, and a caller is refused only when the queue is full."""
    q: SlotQueue[int] = SlotQueue(limit=limit, bound=bound)
    holders: set[int] = set()
    waiting: list[int] = []  # the model: arrival order
    served: list[int] = []
    for n, (op, arg) in enumerate(ops):
        before = q.inflight
        if op == "arrive":
            if q.take():
                assert before < q.limit
                assert not waiting
                holders.add(n)
            elif q.wait(n):
                waiting.append(n)
            else:
                assert len(waiting) == bound
        elif op == "leave" and holders:
            holders.discard(sorted(holders)[arg % len(holders)])
            granted = q.leave()
            assert q.inflight - len(granted) == before - 1
        elif op == "give_up" and waiting:
            who = waiting[arg % len(waiting)]
            assert q.give_up(who)
            waiting.remove(who)
            granted = []
        elif op == "resize":
            granted = q.resize(arg % 5 + 1)
        else:
            continue
        if op != "arrive":
            for who in granted:
                assert who == waiting.pop(0)  # first come, first served
                assert len(holders) < q.limit  # handed out only under the limit
                holders.add(who)
                served.append(who)
        assert q.inflight == len(holders)
        assert q.queued == len(waiting) <= bound
        if waiting:
            assert q.inflight >= q.limit  # nobody waits while a slot is free
    assert served == sorted(served)
