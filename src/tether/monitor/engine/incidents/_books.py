"""What the incident engine keeps of each open incident besides its record (its
:class:`IncidentBook`: members, hosts, what each channel of the ``local`` incident was told), the
live view of its members' names, and the indexes that find an incident without a walk."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import overload

from tether.monitor._records import Member
from tether.monitor.engine._correlate import host_part, where_of_key
from tether.monitor.engine.incidents._events import IncidentEscalation

__all__ = [
    "GROUPED_EVERY",
    "LOCAL",
    "NAMES_SHOWN",
    "TIMELINE",
    "IncidentBook",
    "Names",
    "News",
    "host_of_key",
    "index_in",
    "unindex_from",
]

LOCAL = "local"
"""The key of the incident on this machine's side (``_correlate.py``)."""
NAMES_SHOWN = 10
"""How many monitors an alert of the ``local`` incident names; it counts the rest."""
GROUPED_EVERY = 60.0
"""Seconds between two grouped updates of the ``local`` incident to one channel."""
TIMELINE = ""
"""Where the ``local`` incident's grouped news goes besides the channels: its timeline."""


class Names(Sequence[str]):
    """The names of an open incident's members, in the order they joined: a live view of
    its members, so that a change copies none of them."""

    __slots__ = ("_members",)

    def __init__(self, members: Mapping[str, Member]) -> None:
        self._members = members

    def __len__(self) -> int:
        return len(self._members)

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __contains__(self, name: object) -> bool:
        return name in self._members

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return list(self._members)[index]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(tuple(self))


@dataclass(slots=True)
class News:
    """What one channel (or the timeline) of an incident has not been told yet: the first
    names and how many went down, and came back."""

    down: list[str] = field(default_factory=list)
    down_n: int = 0
    up: list[str] = field(default_factory=list)
    up_n: int = 0

    def add(self, name: str, *, back: bool) -> None:
        names = self.up if back else self.down
        if len(names) < NAMES_SHOWN:
            names.append(name)
        if back:
            self.up_n += 1
        else:
            self.down_n += 1


@dataclass(slots=True)
class IncidentBook:
    """What the engine keeps of one open incident besides its record: its members (one
    dict, changed in place), their hosts and, for the ``local`` incident, what each
    channel has been told."""

    members: dict[str, Member]
    hosts: Counter[str] = field(default_factory=Counter)
    """Members down now on each host (a host with none is not kept)."""
    opened_to: tuple[str, ...] = ()
    """The channels its opening alert went to (the ``local`` incident's: ``told``)."""
    host: dict[str, str] = field(default_factory=dict)
    """Each member's host, when known."""
    traffic: set[str] = field(default_factory=set)
    """Members that are traffic monitors (their incident says both signals)."""
    cause: str = ""
    ever: int = 0
    """Monitors it has had, in all."""
    ever_hosts: set[str] = field(default_factory=set)
    told: dict[str, float] = field(default_factory=dict)
    """``local``: each channel told of it (its opening page), and when."""
    last: dict[str, float] = field(default_factory=dict)
    """Each channel's (and, ``local``, the timeline's) last grouped update."""
    news: dict[str, News] = field(default_factory=dict)
    reminded: dict[str, float] = field(default_factory=dict)
    remind: dict[str, Counter[float]] = field(default_factory=dict)
    """``local``: per channel, the ``remind_every`` of the members routed to it."""
    steps: Counter[IncidentEscalation] = field(default_factory=Counter)
    """``local``: the escalation steps of its members."""
    fired: set[IncidentEscalation] = field(default_factory=set)
    until: float = 0.0
    """When the wait of its pages for a ``local`` incident forming ends (0: none)."""
    paused: int = 0
    """Members paused while down in it (the ``local`` incident's reminders wait while
    every member is)."""
    channel_of: dict[str, str] = field(default_factory=dict)
    """Of one service: the channel of each ``whom`` its grouped news is kept for."""
    grouping: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Of one service: each ``whom``'s ``group_wait`` and ``group_interval``."""
    both: dict[str, str] = field(default_factory=dict)
    """Of one service: for each ``whom``, the two signals in a sentence (a traffic monitor
    and a probe down together), said in its next grouped update."""

    def tell(self, channel: str, at: float) -> None:
        """``local``: ``channel`` heard of it at ``at`` (its opening page, or an escalation
        step): its grouped updates and reminders count from then."""
        self.told[channel] = self.last[channel] = self.reminded[channel] = at


def host_of_key(key: str) -> str:
    """``db.lan`` from ``host:db.lan:5432:connect.refused`` (and ``host:db.lan:KIND``)."""
    return host_part(where_of_key(key))


def index_in(index: dict[str, list[int]], name: str, incident_id: int) -> None:
    ids = index.setdefault(name, [])
    ids.append(incident_id)
    ids.sort()  # oldest first, as the open incidents are: a list of one or two


def unindex_from(index: dict[str, list[int]], name: str, incident_id: int) -> None:
    ids = index.get(name)
    if ids is not None and incident_id in ids:
        ids.remove(incident_id)
        if not ids:
            del index[name]
