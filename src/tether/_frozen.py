"""A faster ``__init__`` for the frozen, slotted dataclasses made on the hot paths.

A frozen dataclass's generated ``__init__`` sets each field with
``object.__setattr__(self, name, value)``: a global lookup, an attribute lookup and a
generic call that looks the name up again in the class, about 170 ns a field on this
project's machine against 25 for a plain class's.  The coordinator makes about thirty such
objects for every state change and three for every check it takes (a check's record and
its observation, read back from a worker's frame), so that part was a tenth of a steady
check's path (issue 46 section 3).

:func:`quick_init` replaces that ``__init__`` with one of the same signature that sets
each slot through its descriptor's ``__set__``, bound once when the class is made, about
70 ns a field.  Nothing else changes: the class stays frozen (assigning a field still
raises ``FrozenInstanceError``), its ``__eq__``, ``__hash__``, ``__repr__``, pickling and
``dataclasses.replace`` are the dataclass's own, and a ``__post_init__`` still runs last.
A class it cannot copy exactly (an ``InitVar``, a field left out of ``__init__`` or
keyword-only, a field without a slot) is refused when it is decorated, so the difference
can never be silent.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
from typing import Any, TypeVar

__all__ = ["QUICK", "quick_init"]

_T = TypeVar("_T")

QUICK: list[type[Any]] = []
"""Every class :func:`quick_init` made, for the test that holds each to the dataclass's
own ``__init__`` (kept as ``__dataclass_init__``)."""

_FACTORY = "__quick_factory__"
_SELF = "__quick_self__"


def quick_init(cls: type[_T]) -> type[_T]:
    """``cls``, a frozen dataclass with slots, with the faster ``__init__`` (module
    docstring); decorate above ``@dataclass(frozen=True, slots=True)``."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__qualname__}: quick_init needs a frozen dataclass with slots")
    every = dataclasses.fields(cls)  # type: ignore[arg-type]
    generated = cls.__init__
    taken = list(inspect.signature(generated).parameters)[1:]
    if taken != [f.name for f in every if f.init]:  # a ClassVar is neither
        raise TypeError(f"{cls.__qualname__}: quick_init cannot copy an InitVar")
    namespace: dict[str, Any] = {_FACTORY: dataclasses.MISSING}
    args, body = [], []
    for f in every:
        if not f.init or f.kw_only is True or f.name.startswith("__quick"):
            raise TypeError(
                f"{cls.__qualname__}.{f.name}: quick_init copies positional fields only"
            )
        slot = next((k.__dict__[f.name] for k in cls.__mro__ if f.name in k.__dict__), None)
        if not isinstance(slot, types.MemberDescriptorType):
            raise TypeError(f"{cls.__qualname__}.{f.name}: quick_init needs a slot")
        namespace[f"_set_{f.name}"] = slot.__set__
        value = f.name
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            args.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
            args.append(f"{f.name}={_FACTORY}")
            value = f"_factory_{f.name}() if {f.name} is {_FACTORY} else {f.name}"
        else:
            args.append(f.name)
        body.append(f"    _set_{f.name}({_SELF}, {value})")
    if hasattr(cls, "__post_init__"):
        body.append(f"    {_SELF}.__post_init__()")
    source = f"def __init__({', '.join([_SELF, *args])}) -> None:\n" + "\n".join(
        body or ["    pass"]
    )
    exec(source, namespace)
    made = namespace["__init__"]
    made.__qualname__ = f"{cls.__qualname__}.__init__"
    made.__module__ = cls.__module__
    made.__annotations__ = dict(generated.__annotations__)
    made.__signature__ = inspect.signature(generated)
    cls.__dataclass_init__ = generated  # type: ignore[attr-defined]
    cls.__init__ = made  # type: ignore[method-assign]
    QUICK.append(cls)
    return cls
