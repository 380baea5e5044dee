"""``quick_init``: each hot frozen dataclass's faster ``__init__`` builds exactly what the
dataclass's own builds, and refuses, at decoration, what it cannot copy."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pickle
from dataclasses import InitVar, dataclass, field
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether._frozen import QUICK, quick_init

MODULES = (
    "tether.monitor._records",
    "tether.monitor.config._conditions._evaluate",
    "tether.monitor.checks._prober",
    "tether.monitor.engine._correlate",
    "tether.monitor.engine._detect",
    "tether.monitor.engine._quorum",
    "tether.monitor.engine.incidents._events",
    "tether.monitor.store._writer",
    "tether.monitor.store.incidents._rows",
    "tether.probe._details",
    "tether.probe._h11rules",
    "tether.probe._options",
    "tether.probe._result",
)
for _name in MODULES:
    importlib.import_module(_name)


@quick_init
@dataclass(frozen=True, slots=True)
class _Sample:
    """Every kind of field quick_init copies, and a __post_init__."""

    a: Any
    b: Any = None
    c: Any = field(default_factory=list)
    d: Any = ()

    def __post_init__(self) -> None:
        if self.a == "refused":
            raise ValueError(f"{self.a!r} is refused")


@dataclass(frozen=True, slots=True)
class _Base:
    a: Any


@quick_init
@dataclass(frozen=True, slots=True)
class _Child(_Base):
    """A field whose slot is its base class's, as the incident events' are."""

    b: Any = 1


CLASSES = sorted({*QUICK, _Sample, _Child}, key=lambda c: f"{c.__module__}.{c.__qualname__}")
VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3), st.just("refused"))


def test_the_hot_classes_are_quick() -> None:
    """The classes counted most on a check's path in a worker and on a state change's in
    the coordinator (history/bench_change.md section 4) are made by it."""
    names = {c.__qualname__ for c in QUICK}
    assert {"ProbeRecord", "Check", "Observation", "StateChanged", "IncidentRoute"} <= names
    assert {"Phase", "ProbeResult", "Response", "HttpDetails", "ConditionResult"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__qualname__)
def test_the_signature_is_the_dataclass_own(cls: type[Any]) -> None:
    """Names, order, kinds and defaults (a factory's shown as the dataclass shows it)."""
    assert inspect.signature(cls) == inspect.signature(cls.__dataclass_init__).replace(
        parameters=list(inspect.signature(cls.__dataclass_init__).parameters.values())[1:]
    )
    assert inspect.signature(cls.__init__) == inspect.signature(cls.__dataclass_init__)
    assert cls.__init__.__qualname__ == cls.__dataclass_init__.__qualname__


def _build(cls: type[Any], init: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """What ``init`` makes of the arguments, or the exception it raises, as comparable data."""
    made = object.__new__(cls)
    try:
        init(made, *args, **kwargs)
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)
    return {f.name: getattr(made, f.name) for f in dataclasses.fields(cls)}


@settings(max_examples=300)
@given(data=st.data())
def test_each_class_is_built_as_the_dataclass_builds_it(data: st.DataObject) -> None:
    """For random arguments given by position, by name or left out (required ones too, and
    names that are no field), both ``__init__``s set the same values or raise the same
    error with the same text; a factory's value is a new one each time."""
    cls: Any = data.draw(st.sampled_from(CLASSES))
    every = dataclasses.fields(cls)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    positional = True
    for f in every:
        how = data.draw(st.sampled_from(["position", "name", "left out"]), label=f.name)
        if how == "position" and positional:
            args.append(data.draw(VALUES, label=f.name))
            continue
        positional = False
        if how != "left out":
            kwargs[f.name] = data.draw(VALUES, label=f.name)
    if data.draw(st.booleans(), label="a name that is no field"):
        kwargs["not_a_field"] = 1
    quick = _build(cls, cls.__init__, args, kwargs)
    own = _build(cls, cls.__dataclass_init__, args, kwargs)
    assert quick == own
    if isinstance(quick, dict):
        for f in every:
            made_by_factory = f.default_factory is not dataclasses.MISSING
            if made_by_factory and f.name not in kwargs and len(args) <= every.index(f):
                assert quick[f.name] is not _build(cls, cls.__init__, args, kwargs)[f.name]


@pytest.mark.parametrize("cls", [_Sample, _Child], ids=lambda c: c.__qualname__)
def test_the_class_stays_frozen_and_pickles(cls: type[Any]) -> None:
    made = cls("x", 2) if cls is _Child else cls("x", 2, c=(3,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.a = "y"
    assert pickle.loads(pickle.dumps(made)) == made
    assert dataclasses.replace(made, a="z").a == "z"
    assert hash(made) == hash(pickle.loads(pickle.dumps(made)))


def test_a_post_init_runs_last() -> None:
    with pytest.raises(ValueError, match="'refused' is refused"):
        _Sample("refused")


def test_what_it_cannot_copy_is_refused_when_decorated() -> None:
    @dataclass(slots=True)
    class Thawed:
        a: int

    @dataclass(frozen=True)
    class Unslotted:
        a: int

    @dataclass(frozen=True, slots=True)
    class Late:
        a: int = field(init=False, default=1)

    @dataclass(frozen=True, slots=True)
    class Named:
        a: int = field(kw_only=True)

    @dataclass(frozen=True, slots=True)
    class Passed:
        a: InitVar[int]

    @dataclass(frozen=True, slots=True)
    class Shared:
        a: ClassVar[int] = 1
        b: int = 2

    for cls, why in (
        (Thawed, "frozen dataclass with slots"),
        (Unslotted, "frozen dataclass with slots"),
        (Late, "positional fields only"),
        (Named, "positional fields only"),
        (Passed, "InitVar"),
    ):
        with pytest.raises(TypeError, match=why):
            quick_init(cls)
    assert quick_init(Shared)(3).b == 3  # a ClassVar is no parameter: copied as it is
