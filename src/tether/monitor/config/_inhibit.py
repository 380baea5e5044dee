"""``inhibit_rules:``: Alertmanager's inhibition rules, as a configuration writes them
(docs/routing.md, "Inhibition and depends_on").

A rule holds back the down alerts of the monitors its ``target_matchers`` select while a
monitor its ``source_matchers`` select is down, when the two agree on every label named
in ``equal`` (a label neither has agrees, as in Alertmanager).  Matchers are written as
everywhere else (``config/labels/_labels.py``: a list, one braced string, or a map) and see a
monitor's labels with its name beside them (``monitor``) and the kind of its current
failure (``kind``).  A monitor never holds itself, even where a rule selects it as both.

``depends_on`` is the same mechanism: each parent is a rule of its own (source
``{monitor: parent}``, target ``{monitor: child}``), built in
``tether.monitor.engine._inhibit``, where the rules are indexed and asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from tether.monitor.config._discovery import References
from tether.monitor.config._errors import KeyPath, Problem, fail, show
from tether.monitor.config._fields import one_or_many
from tether.monitor.config.labels._labels import LABEL_NAME, MatcherList, Matchers, matches

__all__ = ["InhibitRule", "InhibitRules", "check_inhibit_rules", "fixed"]

UNSEEN: Final = frozenset({"event", "location", "incident"})
"""tether's own labels that belong to an alert, not to a monitor: a rule sees a
monitor's labels, its name (``monitor``) and its failure's ``kind``, so a matcher on
one of these would always read the empty text."""


def _equal(value: object) -> tuple[str, ...]:
    items = one_or_many(value)
    if not isinstance(items, list | tuple):
        raise fail(f"{show(value)} is not a list of label names: write e.g. [site, cluster]")
    seen: dict[str, int] = {}
    for j, name in enumerate(items):
        if not isinstance(name, str) or not LABEL_NAME.fullmatch(name):
            raise fail(
                f"{show(name)} is not a label name: begin with a letter or _, then letters, "
                "digits and _ (as Prometheus's)"
            )
        if name == "monitor":
            raise fail(
                "'monitor' is each monitor's own name: source and target would be the same "
                "monitor, which never holds itself"
            )
        if name in seen:
            raise fail(f"{show(name)} is listed twice (at [{seen[name]}] and [{j}])")
        seen[name] = j
    return tuple(items)


def _selecting(matchers: Matchers) -> Matchers:
    if not matchers:
        raise fail(
            "is empty: a rule needs at least one matcher on each side, as "
            "{role: gateway}; to select every monitor write 'monitor=~\".+\"'"
        )
    for matcher in matchers:
        if matcher.name in UNSEEN:
            raise fail(
                f"{matcher}: {show(matcher.name)} is an alert's label, not a monitor's: "
                "a rule sees a monitor's labels, monitor and kind"
            )
    return matchers


Equal = Annotated[tuple[str, ...], BeforeValidator(_equal)]
Selecting = Annotated[MatcherList, AfterValidator(_selecting)]


class InhibitRule(BaseModel):
    """One of ``inhibit_rules:``: while a monitor the ``source_matchers`` select is down,
    the down alerts of those the ``target_matchers`` select that agree with it on every
    ``equal`` label wait."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_matchers: Selecting
    target_matchers: Selecting
    equal: Equal = ()


InhibitRules = Annotated[tuple[InhibitRule, ...], BeforeValidator(one_or_many)]
"""The file's ``inhibit_rules:`` (null: none)."""


def fixed(matchers: Matchers) -> Matchers:
    """The matchers that a monitor's configuration decides (all but ``kind``'s, which
    its failure of the moment does)."""
    return tuple(m for m in matchers if m.name != "kind")


def check_inhibit_rules(
    rules: Sequence[InhibitRule], monitors: Sequence[object], refs: References | None = None
) -> list[Problem]:
    """What one rule cannot see: each side selects some monitor (``kind`` aside, which
    only a failure decides; one that discovery may still add is no error: ``refs``
    keeps it as a warning), and the two are not the one same monitor alone."""
    refs = refs if refs is not None else References(())
    labelled = [
        {**getattr(m, "labels", {}), "monitor": str(getattr(m, "name"))}  # noqa: B009
        for m in monitors
    ]
    errors: list[Problem] = []
    for i, rule in enumerate(rules):
        at: KeyPath = ("inhibit_rules", i)
        sides: dict[str, list[str]] = {}
        for key in ("source_matchers", "target_matchers"):
            sides[key] = _selected(getattr(rule, key), labelled)
            if not sides[key]:
                error = "selects no monitor: check the labels and values"
                errors += refs.selector((*at, key), getattr(rule, key), error)
        sources, targets = sides["source_matchers"], sides["target_matchers"]
        if len(targets) == 1 and sources == targets:
            only = targets[0]
            errors.append(
                (
                    at,
                    f"selects {show(only)} alone on both sides: a monitor never holds "
                    "itself, so this rule would hold nothing",
                )
            )
    return errors


def _selected(matchers: Matchers, labelled: Sequence[Mapping[str, str]]) -> list[str]:
    wanted = fixed(matchers)
    return [labels["monitor"] for labels in labelled if matches(wanted, labels)]
