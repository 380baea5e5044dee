"""Inhibition: a monitor down holds back the down alerts of others, one mechanism for
``depends_on`` and ``inhibit_rules:`` alike (Alertmanager's ``inhibit/``).

A :class:`Rule` has source matchers, target matchers and ``equal`` labels.  A monitor
(the target) is held while another one (the source) is **down** for the cluster, the
source matches the rule's source matchers, the target its target matchers, and the two
agree on every ``equal`` label (one that neither has agrees, as in Alertmanager).  A
monitor never holds itself.  The matchers see a monitor's labels, its name
(``monitor``) and the kind of its current failure (``kind``).

Each ``depends_on`` parent is a rule of its own (source ``{monitor="parent"}``, target
``{monitor="child"}``, no ``equal``), asked before the configured rules, parents in name
order: the words of its hold stay "db, which it depends on, is down".

Asking costs what a monitor's candidates cost, not the fleet: :meth:`Inhibition.build`
works out, once per configuration, the monitors each rule could hold and, for each, the
sources that could hold it (those of the rule that agree with it on ``equal``, shared
between targets that agree with each other).  A hold then walks those alone, stopping
at the first that is down.  Only ``kind`` is left to the moment: it is a failure's,
not the configuration's.  Pure: the states and the kinds are given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tether.monitor._state import State
from tether.monitor.config._inhibit import InhibitRule, fixed
from tether.monitor.config._labels import Matcher, Matchers, matches

__all__ = ["Inhibition", "KindOf", "Rule", "rules_of"]

KindOf = Callable[[str], str | None]
"""The kind of a monitor's current failure (``"connect.refused"``), or None."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One inhibition rule; ``name`` says where it came from in words
    (``inhibit_rules[0]``), empty for one made from ``depends_on``."""

    source: Matchers
    target: Matchers
    equal: tuple[str, ...] = ()
    name: str = ""

    @classmethod
    def depends_on(cls, child: str, parent: str) -> Rule:
        """The rule ``child``'s ``depends_on: [parent]`` is."""
        return cls((Matcher.of("monitor", "=", parent),), (Matcher.of("monitor", "=", child),))

    def says(self, source: str) -> str:
        """Why a monitor this rule holds waits, in words, ``source`` being down."""
        if not self.name:
            return f"{source}, which it depends on, is down"
        return f"inhibited by {source} (down): {self.name}"


def rules_of(configured: Iterable[InhibitRule]) -> tuple[Rule, ...]:
    """The configuration's ``inhibit_rules:`` as rules, named by their place."""
    return tuple(
        Rule(r.source_matchers, r.target_matchers, r.equal, f"inhibit_rules[{i}]")
        for i, r in enumerate(configured)
    )


@dataclass(frozen=True, slots=True)
class _Entry:
    """A rule as one target asks it: the sources that may hold it (shared, in name order,
    possibly the target itself, skipped when asked), and the ``kind`` matchers."""

    rule: Rule
    sources: tuple[str, ...]
    source_kind: Matchers
    target_kind: Matchers
    same_kind: bool = False
    """``equal`` names ``kind``: the two failures' kinds must agree, asked at the time."""


@dataclass(frozen=True, slots=True)
class Inhibition:
    """The rules, indexed by the monitor each may hold.  A value: a reload builds anew
    (:meth:`build`)."""

    rules: tuple[Rule, ...] = ()
    by_target: Mapping[str, tuple[_Entry, ...]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        labels: Mapping[str, Mapping[str, str]],
        rules: Sequence[Rule] = (),
        depends_on: Mapping[str, Collection[str]] | None = None,
    ) -> Inhibition:
        """The index of ``depends_on`` (child to parents) and then ``rules`` over the
        monitors of ``labels`` (each monitor's name to its labels)."""
        index: defaultdict[str, list[_Entry]] = defaultdict(list)
        made: list[Rule] = []
        for child, parents in (depends_on or {}).items():
            for parent in sorted(parents):
                rule = Rule.depends_on(child, parent)
                made.append(rule)
                index[child].append(_Entry(rule, (parent,), (), ()))
        seen = {name: {**own, "monitor": name} for name, own in labels.items()}
        for rule in rules:
            made.append(rule)
            buckets: defaultdict[tuple[str, ...], list[str]] = defaultdict(list)
            for name in _selected(rule.source, seen):
                buckets[_key(seen[name], rule.equal)].append(name)
            shared = {key: tuple(sorted(names)) for key, names in buckets.items()}
            source_kind, target_kind = _kind(rule.source), _kind(rule.target)
            same_kind = "kind" in rule.equal
            for name in _selected(rule.target, seen):
                sources = shared.get(_key(seen[name], rule.equal), ())
                if sources and sources != (name,):
                    entry = _Entry(rule, sources, source_kind, target_kind, same_kind)
                    index[name].append(entry)
        return cls(tuple(made), {name: tuple(entries) for name, entries in index.items()})

    def source(
        self, monitor: str, states: Mapping[str, State], kind_of: KindOf | None = None
    ) -> tuple[str, Rule] | None:
        """The monitor down that holds ``monitor`` and the rule it holds it by (the first
        rule, then the first source in name order), or None."""
        for entry in self.by_target.get(monitor, ()):
            if entry.target_kind and not _kind_matches(entry.target_kind, monitor, kind_of):
                continue
            for source in entry.sources:
                if source == monitor or states.get(source) is not State.DOWN:
                    continue
                if entry.source_kind and not _kind_matches(entry.source_kind, source, kind_of):
                    continue
                if entry.same_kind and _kind_of(source, kind_of) != _kind_of(monitor, kind_of):
                    continue
                return source, entry.rule
        return None

    def why(
        self, monitor: str, states: Mapping[str, State], kind_of: KindOf | None = None
    ) -> str | None:
        """Why ``monitor``'s down alert waits on another monitor, in words, or None."""
        found = self.source(monitor, states, kind_of)
        return None if found is None else found[1].says(found[0])


def _selected(matchers: Matchers, seen: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The monitors ``matchers`` select (``kind`` aside): a ``monitor="name"`` among them
    looks that one up rather than walking every monitor."""
    wanted = fixed(matchers)
    named = next((m.value for m in wanted if m.name == "monitor" and m.op == "="), None)
    pool: Iterable[str] = seen if named is None else ([named] if named in seen else [])
    return [name for name in pool if matches(wanted, seen[name])]


def _key(labels: Mapping[str, str], equal: tuple[str, ...]) -> tuple[str, ...]:
    """The values of ``equal`` (but ``kind``, a failure's) that a source and a target
    must share."""
    return tuple(labels.get(name, "") for name in equal if name != "kind")


def _kind(matchers: Matchers) -> Matchers:
    return tuple(m for m in matchers if m.name == "kind")


def _kind_of(monitor: str, kind_of: KindOf | None) -> str:
    kind = None if kind_of is None else kind_of(monitor)
    return kind or ""


def _kind_matches(matchers: Matchers, monitor: str, kind_of: KindOf | None) -> bool:
    return matches(matchers, {"kind": _kind_of(monitor, kind_of)})
