"""What a dashboard request and a scrape keep between calls gives the documents a build
from scratch gives, and the work they do follows what changed, not how many monitors
there are (issue 23: the pages and ``/metrics`` must stay cheap in a mass outage).

- ``/metrics``: each monitor's per-check lines are kept and written again only after a
  check; after any sequence of checks and scrapes the text is a fresh instance's.
- ``/`` and ``/api/status``: the default view (configuration order, filtered by state at
  most) is cut without an entry for every monitor (:func:`arrange_in_order`): the same
  page as :func:`arrange` over every entry.
- ``/api/status``' ``monitors`` map is written by difference: the whole document's bytes.
- :meth:`Quorum.states` is kept as verdicts change: the same as asking each monitor.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tether._kinds import Kind
from tether.monitor._records import LocationState, ProbeRecord
from tether.monitor._state import State
from tether.monitor.cluster._view import ClusterView
from tether.monitor.config import MonitorConfig
from tether.monitor.engine._quorum import Placement, Quorum
from tether.monitor.web._dashboard import MonitorsText, _dumps, order_of, status_json
from tether.monitor.web._metrics import MonitorMetrics
from tether.monitor.web._overview import SORTS, Entry, View, arrange, arrange_in_order, in_order

NAMES = [f"m{i}" for i in range(8)]
KINDS = [Kind.CONNECT_REFUSED, Kind.CONNECT_TIMEOUT, None]

CHECK = st.tuples(
    st.sampled_from(NAMES),
    st.booleans(),
    st.sampled_from(KINDS),
    st.floats(0, 5000, allow_nan=False),
    st.dictionaries(st.sampled_from(["resolve", "connect", "tls"]), st.floats(0, 5), max_size=2),
    st.none() | st.integers(-5, 400),
)
STEP = st.none() | CHECK
"""A check, or (None) a scrape."""


def _observe(metrics: MonitorMetrics, check: tuple[object, ...], at: float) -> None:
    name, ok, kind, latency, timings, days = check
    record = ProbeRecord(name, at, ok, None if ok else kind, latency)  # type: ignore[arg-type]
    metrics.observe(record, timings, days)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(st.lists(STEP, max_size=30), st.sampled_from(["local", "eu-west", None]))
def test_a_scrape_with_kept_lines_is_a_fresh_one(steps: list[object], here: object) -> None:
    """After any sequence of checks and scrapes, a scrape (which reuses the lines of the
    monitors not checked since the last) is byte for byte the scrape of an instance
    that saw the same checks and never scraped (the render errors' counter aside: it
    counts every scrape's)."""
    clock = [1_800_000_000.0]
    kept = MonitorMetrics(wall=lambda: clock[0])
    fresh = MonitorMetrics(wall=lambda: clock[0])
    seen: list[tuple[object, ...]] = []
    cluster = ClusterView("c", here, True, ("local",))  # type: ignore[arg-type]
    for step in steps:
        clock[0] += 1.0
        if step is None:
            kept.render(cluster)
            continue
        assert isinstance(step, tuple)
        _observe(kept, step, clock[0])
        seen.append((step, clock[0]))
    clock[0] = 1_800_000_000.0
    for step, at in seen:  # type: ignore[misc]
        clock[0] = at
        _observe(fresh, step, at)
    assert _series(kept.render(cluster)) == _series(fresh.render(cluster))


def _series(text: bytes) -> bytes:
    """A scrape without ``tether_metrics_render_errors_total``, which counts over every
    scrape so far (the fresh instance made none before)."""
    return text[: text.index(b"# HELP tether_metrics_render_errors")]


def test_a_scrape_writes_again_only_the_monitors_checked_since_the_last() -> None:
    """Of 1,000 monitors, a scrape after 10 of them were checked writes those 10 again;
    one after nothing changed writes none; a new location label writes them all."""
    metrics = MonitorMetrics(wall=lambda: 1_800_000_000.0)
    names = [f"m{i:04d}" for i in range(1000)]
    for name in names:
        metrics.observe(ProbeRecord(name, 1.0, True, None, 12.0), {"connect": 0.01}, None)
    here = ClusterView("c", "local", True, ("local",))
    metrics.render(here)
    assert metrics.rendered == 1000
    metrics.render(here)
    assert metrics.rendered == 1000
    for name in names[:10]:
        metrics.observe(ProbeRecord(name, 2.0, False, Kind.CONNECT_REFUSED, 1.0), {}, None)
    metrics.render(here)
    assert metrics.rendered == 1010
    metrics.render(ClusterView("c", "eu-west", True, ("local", "eu-west")))
    assert metrics.rendered == 2010


STATES = st.sampled_from(list(State))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.none() | STATES, min_size=0, max_size=40),
    st.none() | STATES,
    st.sampled_from(["asc", "desc"]),
    st.integers(1, 5),
    st.integers(1, 12),
)
def test_the_default_view_is_cut_as_arrange_cuts_it(
    states: list[State | None], state: State | None, order: str, page: int, per_page: int
) -> None:
    """For any monitors' states (a missing one is unknown) and any view in configuration
    order filtered by state at most, the page cut from the names alone is the page
    :func:`arrange` cuts from every monitor's entry."""
    names = [f"m{i:03d}" for i in range(len(states))]
    known = {n: s for n, s in zip(names, states, strict=True) if s is not None}
    view = View(state=state, order=order, page=page, per_page=per_page)
    assert in_order(view)
    entries = [
        Entry(i, n, "http://x/", known.get(n, State.UNKNOWN), None, None, None, None, None)
        for i, n in enumerate(names)
    ]
    assert arrange_in_order(view, names, known) == arrange(view, entries)


def test_only_the_configuration_order_is_cut_from_names() -> None:
    """A search or another sort still goes through every monitor's entry."""
    assert not in_order(View(q="shop"))
    assert all(not in_order(View(sort=s)) for s in SORTS if s != "config")


def test_the_order_of_a_configuration_is_made_once() -> None:
    """The names sorted and by name are made once per configuration, not per request,
    and made again for a new one (a reload)."""
    one = MonitorConfig.model_validate(
        {"monitors": [{"name": n, "url": "http://127.0.0.1:9/"} for n in ("b", "a", "c")]}
    )
    order = order_of(one.monitors)
    assert order.names == ("b", "a", "c")
    assert order.sorted == ("a", "b", "c")
    assert order_of(one.monitors) is order
    two = MonitorConfig.model_validate({"monitors": [{"name": "z", "url": "http://127.0.0.1:9/"}]})
    assert order_of(two.monitors).sorted == ("z",)


QUORUM_STEP = st.tuples(
    st.sampled_from(["update", "configure", "forget", "live", "restore"]),
    st.sampled_from(NAMES[:4]),
    st.sampled_from(["eu-west", "us-east", "local"]),
    STATES,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(QUORUM_STEP, max_size=40))
def test_the_states_kept_by_the_quorum_are_each_monitors(
    steps: list[tuple[str, str, str, State]],
) -> None:
    """After any sequence of locations' states, reloads, removals and instances coming and
    going, :meth:`Quorum.states` (a copy of what is kept as verdicts change) is each
    monitor's :meth:`Quorum.state`, in the order the monitors were configured."""
    places = ("eu-west", "us-east", "local")
    configured = dict.fromkeys(NAMES[:2])
    quorum = Quorum(dict.fromkeys(configured, Placement(places)), live=places)
    now = 1_800_000_000.0
    for op, name, location, state in steps:
        now += 5.0
        if op == "update":
            quorum.update(LocationState(name, location, state, now), now)
        elif op == "configure":
            quorum.configure(name, Placement(tuple(dict.fromkeys((location, "local")))), now)
            configured.setdefault(name)
        elif op == "forget":
            quorum.forget(name)
            configured.pop(name, None)
        elif op == "live":
            quorum.set_live(places if location == "local" else (location,), now)
        else:
            quorum.restore([LocationState(name, location, state, now)])
        expected = [(n, quorum.state(n)) for n in configured]
        assert list(quorum.states().items()) == expected


MONITOR_NAME = st.text(
    st.characters() | st.sampled_from(['"', "\\", "\n", "é", "監", "<", "/"]), max_size=8
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(MONITOR_NAME, min_size=0, max_size=12, unique=True),
    st.lists(st.lists(st.sampled_from([str(s) for s in State]), min_size=12, max_size=12)),
)
def test_the_monitors_map_written_by_difference_is_the_whole_document(
    names: list[str], rounds: list[list[str]]
) -> None:
    """After any sequence of states, ``/api/status`` with its ``monitors`` map written by
    difference from the last request is the document encoded whole, byte for byte, and
    each request writes again only the monitors whose state changed."""
    order = tuple(sorted(names))
    kept = MonitorsText()
    last: list[str] | None = None
    for states in rounds:
        now = states[: len(order)]
        doc = {
            "now": "2027-01-15T08:00:00Z",
            "monitors": dict(zip(order, now, strict=True)),
            "summary": {"down": now.count("down")},
            "rows": [{"name": n} for n in order[:2]],
        }
        before = kept.written
        assert status_json(doc, kept, order) == _dumps(doc)
        changed = (
            len(order) if last is None else sum(a != b for a, b in zip(last, now, strict=True))
        )
        assert kept.written - before == changed
        last = now
