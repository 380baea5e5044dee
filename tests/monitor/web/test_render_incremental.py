"""What a dashboard request and a scrape keep between calls gives the documents a build
from scratch gives, and the work they do follows what changed, not how many monitors
there are (issue 23: the pages and ``/metrics`` must stay cheap in a mass outage).

- ``/metrics``: each monitor's per-check lines are kept and written again only after a
  check; after any sequence of checks and scrapes the text is a fresh instance's.
- ``/`` and ``/api/status``: the default view (configuration order, filtered by state at
  most) is cut without an entry for every monitor (:func:`arrange_in_order`): the same
  page as :func:`arrange` over every entry.
- ``/api/status``' states (the map, the counts, the monitors down and not seen going down)
  are kept by a board read from the quorum's journal of changes: the same as one built
  whole, the whole document's bytes, and only the changes written again.
- :meth:`Quorum.states` is kept as verdicts change: the same as asking each monitor.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from tether._kinds import Kind
from tether.monitor import Runner
from tether.monitor._records import LocationState, ProbeRecord
from tether.monitor._state import State
from tether.monitor.cluster._view import ClusterView
from tether.monitor.config import MonitorConfig
from tether.monitor.engine._detect import StateChanged
from tether.monitor.engine._journal import Journal
from tether.monitor.engine._quorum import Placement, Quorum, QuorumEvent
from tether.monitor.metrics._metrics import MonitorMetrics
from tether.monitor.web.documents._board import StateBoard, monitors_json
from tether.monitor.web.documents._dashboard import _dumps
from tether.monitor.web.documents._overview import (
    SORTS,
    OverviewEntry,
    View,
    arrange,
    arrange_in_order,
    in_order,
    order_of,
)
from tether.monitor.web.documents._status import MonitorsJSON, status_json

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
        OverviewEntry(i, n, "http://x/", known.get(n, State.UNKNOWN), None, None, None, None, None)
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
    st.lists(st.lists(STATES, min_size=12, max_size=12), max_size=6),
)
def test_the_monitors_map_written_by_the_board_is_the_whole_document(
    names: list[str], rounds: list[list[State]]
) -> None:
    """After any sequence of states, ``/api/status`` with its ``monitors`` map kept by a
    :class:`StateBoard` (fed by a journal of the changes) is the document encoded whole,
    byte for byte, and each request writes again only the monitors whose state changed."""
    order = tuple(sorted(names))
    board = StateBoard()
    journal = Journal()
    last: dict[str, State] = {}
    for states in rounds:
        now = dict(zip(order, states, strict=False))
        for n in order:
            if now[n] is not last.get(n, State.UNKNOWN):
                journal.mark(n)
        before = board.written
        seen = board.read(order, now, (), journal, journal.end)
        whole = {n: str(s) for n, s in now.items()}
        doc = {"now": "2027-01-15T08:00:00Z", "monitors": whole, "summary": seen.summary}
        assert status_json({**doc, "monitors": MonitorsJSON(seen.text)}) == _dumps(doc)
        assert status_json(doc) == _dumps(doc)
        changed = sum(now[n] is not last.get(n, State.UNKNOWN) for n in order)
        assert board.written - before == (len(order) if not before else changed)
        last = now


@settings(max_examples=150, deadline=None)
@given(st.lists(QUORUM_STEP | st.just(("read", "", "", State.UNKNOWN)), max_size=50))
def test_the_board_kept_from_the_journal_is_one_built_whole(
    steps: list[tuple[str, str, str, State]],
) -> None:
    """After any sequence of locations' states, reloads, removals and instances coming and
    going (the runner's ``since`` set for each monitor seen changing, dropped for one
    removed), a board read at any points, by difference from the quorum's journal, says
    what a board built whole from the same states says: the map, the counts, and whether
    a monitor is down that was not seen going down."""
    places = ("eu-west", "us-east", "local")
    names = tuple(sorted(NAMES[:4]))
    # One of one location: a state restored there makes it down unseen (after a restart).
    quorum = Quorum({names[0]: Placement(("local",)), names[1]: Placement(places)}, live=places)
    since: dict[str, float] = {}
    kept = StateBoard()
    now = 1_800_000_000.0

    def seen(events: list[QuorumEvent]) -> None:
        for event in events:
            if isinstance(event, StateChanged):
                since[event.monitor] = event.at

    def read() -> None:
        board = kept.read(names, quorum.states(), since.keys(), quorum.journal, quorum.journal.end)
        assert board == StateBoard().read(names, quorum.states(), since.keys())

    for op, name, location, state in steps:
        now += 5.0
        if op == "update":
            seen(quorum.update(LocationState(name, location, state, now), now))
        elif op == "configure":
            seen(quorum.configure(name, Placement(tuple(dict.fromkeys((location, "local")))), now))
        elif op == "forget":
            quorum.forget(name)
            since.pop(name, None)
        elif op == "live":
            seen(quorum.set_live(places if location == "local" else (location,), now))
        elif op == "restore":
            quorum.restore([LocationState(name, location, state, now)])
        else:
            read()
    read()


def test_a_board_reads_only_the_changes_and_is_built_whole_past_the_journal() -> None:
    """Of 1,000 monitors, a read after 10 changed writes those 10 again and one after
    nothing changed writes none; a reader behind what the journal keeps, or given new
    names (a reload), builds the board whole."""
    names = tuple(f"m{i:04d}" for i in range(1000))
    states = dict.fromkeys(names, State.UP)
    journal = Journal(kept=100)
    board = StateBoard()
    board.read(names, states, names, journal, journal.end)
    assert board.written == 1000
    for n in names[:10]:
        states[n] = State.DOWN
        journal.mark(n)
    seen = board.read(names, states, names, journal, journal.end)
    assert (board.written, seen.summary["down"], seen.summary["up"]) == (1010, 10, 990)
    board.read(names, states, names, journal, journal.end)
    assert board.written == 1010
    # Down, and not seen going down (restored after a restart): dated from the store.
    states["m0999"] = State.DOWN
    journal.mark("m0999")
    assert board.read(names, states, names[:-1], journal, journal.end).down_unseen
    journal.mark("m0999")  # seen changing since: the runner knows since when
    assert not board.read(names, states, names, journal, journal.end).down_unseen
    assert board.written == 1011
    for n in names[:200]:  # past what the journal keeps: the marks read from are dropped
        states[n] = State.UNKNOWN
        journal.mark(n)
    seen = board.read(names, states, names, journal, journal.end)
    assert (board.written, seen.summary["unknown"]) == (2011, 200)
    board.read((*names,), states, names, journal, journal.end)  # a new tuple
    assert board.written == 3011


@given(st.lists(st.text(), max_size=8, unique=True), st.data())
def test_the_monitors_map_is_json_dumps_for_any_name(names: list[str], data: st.DataObject) -> None:
    """``monitors_json`` writes each pair with the encoder's string function, not with
    ``json.dumps``: byte for byte what the dashboard's ``json.dumps`` writes, whatever
    the name holds (quotes, control characters, lone surrogates, any script)."""
    states = {n: data.draw(STATES) for n in names}
    whole = {n: str(states[n]) for n in names}
    assert monitors_json(names, states) == _dumps(whole)


def test_the_board_is_built_at_the_start_not_by_the_first_request(
    runner_for: Callable[..., Runner],
) -> None:
    """The dashboard's handlers build every monitor's state on the board as they are
    made, before the workers and the first interval load the process (at 120,000
    monitors the first ``GET /`` built it then, in 4-5 s); the first request's document
    then writes only the monitors that changed since, and is the document built whole."""
    from tether.monitor.web.documents._recent import Recent
    from tether.monitor.web.documents._snapshot import Snapshot
    from tether.monitor.web.documents._status import build_status
    from tether.monitor.web.pages._dashboard_routes import dashboard_handlers

    config = MonitorConfig.model_validate(
        {"monitors": [{"name": f"m{i}", "url": f"http://127.0.0.1:{1000 + i}/"} for i in range(5)]}
    )
    runner = runner_for(config, wall=lambda: 1_800_000_000.0)
    handlers = dashboard_handlers(runner)
    assert handlers.board.written == 5
    now = 1_800_000_000.0
    runner.quorum.update(LocationState("m3", runner.here, State.DOWN, now), now)
    assert runner.quorum.state("m3") is State.DOWN
    first = build_status(Snapshot.of(runner), Recent(), board=handlers.board)
    assert handlers.board.written == 6  # m3 alone written again
    whole = build_status(Snapshot.of(runner), Recent())
    assert status_json(first) == status_json(whole)
