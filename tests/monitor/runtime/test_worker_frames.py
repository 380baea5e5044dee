"""A check crosses from a worker process to the coordinator pickled: it arrives equal,
every field of it and of its record, whatever they hold (hypothesis).  Pure.

Checks and records pickle as their constructors' arguments (``__reduce__``): a slotted
dataclass's own pickling walks ``fields()`` for every object, and a worker sends
thousands a second (a frame of 512 checks unpickled in 8.4 µs a check instead of 13.1).
"""

from __future__ import annotations

import pickle

from hypothesis import given
from hypothesis import strategies as st

from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor.checks._prober import Check

texts = st.text(max_size=30)
floats = st.floats(allow_nan=False)
maybe = st.none() | floats
records = st.builds(
    ProbeRecord,
    texts,
    floats,
    st.booleans(),
    st.none() | st.sampled_from(list(Kind)),
    maybe,
    st.none() | texts,
    st.dictionaries(texts, floats, max_size=4),
    st.lists(texts, max_size=3).map(tuple),
    maybe,
)
checks = st.builds(
    Check,
    records,
    texts,
    st.dictionaries(texts, floats, max_size=4),
    st.none() | st.integers(-(10**6), 10**6),
    maybe,
)


@given(st.lists(checks, max_size=5))
def test_a_frame_of_checks_arrives_equal(sent: list[Check]) -> None:
    """Every check, pickled as a worker's frame is and read back, equals what was sent,
    and so does every record."""
    got = pickle.loads(pickle.dumps(sent, protocol=pickle.HIGHEST_PROTOCOL))
    assert got == sent
    assert [c.record for c in got] == [c.record for c in sent]
    assert all(type(c) is Check and type(c.record) is ProbeRecord for c in got)
