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
works out, once per configuration, the monitors each rule selects on either side, its
sources grouped by the values of its ``equal`` labels (in name order), and each target
with its own values; a hold then walks the sources that agree with the target alone,
stopping at the first that is down.  A change of the monitor set changes the index in
place (:meth:`Inhibition.change`), for the monitors changed.  Only ``kind`` is left to
the moment: it is a failure's, not the configuration's.  Pure: the states and the kinds
are given.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tether.monitor._state import State
from tether.monitor.config._inhibit import InhibitRule, fixed
from tether.monitor.config.labels._labels import Matcher, Matchers, matches

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


@dataclass(slots=True)
class _Index:
    """One configured rule over the monitors: the sources it selects, by the values of
    its ``equal`` labels, in name order; the targets it selects, with theirs."""

    rule: Rule
    sources: dict[tuple[str, ...], list[str]] = field(default_factory=dict)
    source_of: dict[str, tuple[str, ...]] = field(default_factory=dict)
    targets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source_kind: Matchers = ()
    target_kind: Matchers = ()
    same_kind: bool = False
    """``equal`` names ``kind``: the two failures' kinds must agree, asked at the time."""

    def put(self, name: str, labels: Mapping[str, str] | None) -> None:
        """``name`` with ``labels`` now (None: removed)."""
        rule = self.rule
        old = self.source_of.pop(name, None)
        if old is not None:
            bucket = self.sources[old]
            bucket.remove(name)
            if not bucket:
                del self.sources[old]
        self.targets.pop(name, None)
        if labels is None:
            return
        seen = {**labels, "monitor": name}
        key = _key(seen, rule.equal)
        if matches(fixed(rule.source), seen):
            bisect.insort(self.sources.setdefault(key, []), name)
            self.source_of[name] = key
        if matches(fixed(rule.target), seen):
            self.targets[name] = key


@dataclass(slots=True)
class Inhibition:
    """The rules, indexed: each ``depends_on`` parent by its child, each configured rule
    by the monitors it selects on either side.  Built once per configuration
    (:meth:`build`); a change of the monitor set changes it in place (:meth:`change`),
    at the cost of the monitors changed, not the fleet's."""

    parents: dict[str, tuple[tuple[Rule, str], ...]] = field(default_factory=dict)
    """Each child's ``depends_on`` rules and parents, parents in name order."""
    indexes: tuple[_Index, ...] = ()

    @classmethod
    def build(
        cls,
        labels: Mapping[str, Mapping[str, str]],
        rules: Sequence[Rule] = (),
        depends_on: Mapping[str, Collection[str]] | None = None,
    ) -> Inhibition:
        """The index of ``depends_on`` (child to parents) and then ``rules`` over the
        monitors of ``labels`` (each monitor's name to its labels)."""
        indexes = tuple(
            _Index(
                rule,
                source_kind=_kind(rule.source),
                target_kind=_kind(rule.target),
                same_kind="kind" in rule.equal,
            )
            for rule in rules
        )
        made = cls({}, indexes)
        for child, parents in (depends_on or {}).items():
            made.depend(child, parents)
        for index in indexes:
            named = _named(index.rule)
            for name, own in labels.items():
                if named is None or name in named:
                    index.put(name, own)
        return made

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule: those of ``depends_on`` first, then the configured ones."""
        made = tuple(rule for pairs in self.parents.values() for rule, _ in pairs)
        return made + tuple(index.rule for index in self.indexes)

    def depend(self, child: str, parents: Collection[str]) -> None:
        """``child`` depends on ``parents`` now (none: on nothing)."""
        if parents:
            self.parents[child] = tuple(
                (Rule.depends_on(child, parent), parent) for parent in sorted(parents)
            )
        else:
            self.parents.pop(child, None)

    def change(
        self,
        put: Mapping[str, tuple[Mapping[str, str], Collection[str]]],
        removed: Iterable[str] = (),
    ) -> None:
        """The monitors ``put`` (each name to its labels and its parents) and ``removed``,
        the rules as they were."""
        for name in removed:
            self.depend(name, ())
            for index in self.indexes:
                index.put(name, None)
        for name, (labels, parents) in put.items():
            self.depend(name, parents)
            for index in self.indexes:
                index.put(name, labels)

    def source(
        self, monitor: str, states: Mapping[str, State], kind_of: KindOf | None = None
    ) -> tuple[str, Rule] | None:
        """The monitor down that holds ``monitor`` and the rule it holds it by (the first
        rule, then the first source in name order), or None."""
        for rule, parent in self.parents.get(monitor, ()):
            if parent != monitor and states.get(parent) is State.DOWN:
                return parent, rule
        for index in self.indexes:
            key = index.targets.get(monitor)
            if key is None:
                continue
            if index.target_kind and not _kind_matches(index.target_kind, monitor, kind_of):
                continue
            for source in index.sources.get(key, ()):
                if source == monitor or states.get(source) is not State.DOWN:
                    continue
                if index.source_kind and not _kind_matches(index.source_kind, source, kind_of):
                    continue
                if index.same_kind and _kind_of(source, kind_of) != _kind_of(monitor, kind_of):
                    continue
                return source, index.rule
        return None

    def why(
        self, monitor: str, states: Mapping[str, State], kind_of: KindOf | None = None
    ) -> str | None:
        """Why ``monitor``'s down alert waits on another monitor, in words, or None."""
        found = self.source(monitor, states, kind_of)
        return None if found is None else found[1].says(found[0])


def _named(rule: Rule) -> frozenset[str] | None:
    """The only monitors a rule can select on either side, when each side names its
    monitor (``monitor="name"``): those are looked up rather than every monitor walked."""
    names: set[str] = set()
    for side in (rule.source, rule.target):
        named = next((m.value for m in fixed(side) if m.name == "monitor" and m.op == "="), None)
        if named is None:
            return None
        names.add(named)
    return frozenset(names)


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
