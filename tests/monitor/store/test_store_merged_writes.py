"""A batch's incident changes merged into fewer writes (``merged_writes``) leave the rows
the changes leave written one by one: held to it over random sequences of changes
(hypothesis), against a model of what each backend's SQL does with a change.

Pure: the model is the SQL's semantics written out (``coalesce`` per header column,
``acknowledged`` never replaced, timelines appended, members deleted or upserted); the
real databases are held to the same in test_store_incident_rows.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from tether.monitor.store._base import INCIDENT_COLUMNS, IncidentWrite, merged_writes

HEADER = ("kind", "detail", "hint", "resolved", "acknowledged", "folded_into", "monitors")
"""IncidentWrite.header's columns, in order."""
COLUMNS = tuple(INCIDENT_COLUMNS.split(", "))


@dataclass
class Rows:
    """What the tables hold for each incident."""

    headers: dict[int, dict[str, object]] = field(default_factory=dict)
    timelines: dict[int, list[str]] = field(default_factory=dict)
    members: dict[int, dict[str, str]] = field(default_factory=dict)

    def write(self, change: IncidentWrite) -> None:
        i = change.id
        if change.new is not None:
            self.headers[i] = dict(zip(COLUMNS, change.new, strict=True))
        elif i in self.headers:  # an UPDATE of no row changes nothing
            header = self.headers[i]
            for column, value in zip(HEADER, change.header, strict=True):
                if column == "acknowledged":  # coalesce(acknowledged, ?)
                    header[column] = header[column] if header[column] is not None else value
                elif value is not None:  # column = coalesce(?, column)
                    header[column] = value
        self.timelines.setdefault(i, []).extend(change.entries)
        members = self.members.setdefault(i, {})
        if change.every:
            members.clear()
        for m in change.deletes:
            members.pop(m, None)
        members.update(change.upserts)


values = st.none() | st.sampled_from(["a", "b", "c"])
monitors = st.sampled_from(["m1", "m2", "m3", "m4"])


@st.composite
def changes(draw: st.DrawFn) -> list[IncidentWrite]:
    out: list[IncidentWrite] = []
    opened: set[int] = set()
    for _ in range(draw(st.integers(0, 12))):
        i = draw(st.sampled_from([1, 2, 3]))
        new = None
        if i not in opened and draw(st.booleans()):
            new = (i, "key", *(draw(values) for _ in range(8)))
            opened.add(i)
        touched = draw(st.lists(monitors, unique=True, max_size=4))
        upserted = draw(st.lists(st.sampled_from(touched), unique=True)) if touched else []
        every = draw(st.booleans())
        out.append(
            IncidentWrite(
                i,
                new,
                tuple(draw(values) for _ in range(7)),
                tuple(draw(st.lists(st.sampled_from(["e1", "e2", "e3"]), max_size=2))),
                every and new is None,
                tuple((m, draw(st.sampled_from(["x", "y"]))) for m in upserted),
                () if every else tuple(m for m in touched if m not in upserted),
            )
        )
    return out


@given(changes())
def test_merged_writes_leave_the_rows_the_changes_leave(sequence: list[IncidentWrite]) -> None:
    """Writing the merged changes leaves every incident's header, timeline and members as
    writing each change in order does."""
    one_by_one, merged = Rows(), Rows()
    for change in sequence:
        one_by_one.write(change)
    for change in merged_writes(sequence):
        merged.write(change)
    assert merged == one_by_one


@given(changes())
def test_each_incident_is_written_once_between_openings(sequence: list[IncidentWrite]) -> None:
    """An incident's changes become one write, or one on each side of its opening."""
    merged = merged_writes(sequence)
    for i in {c.id for c in sequence}:
        openings = len([c for c in sequence if c.id == i and c.new is not None])
        assert len([c for c in merged if c.id == i]) <= 1 + 2 * openings
    assert len(merged) <= len(sequence)
