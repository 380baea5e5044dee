"""Public names loaded on first use: a package's ``__getattr__`` and ``__dir__`` (PEP 562),
written once for ``tether`` and ``tether.monitor``, so that importing either stays quick.

It imports nothing itself (not even ``typing``): ``import tether`` is this module and
the version, and every name it exports waits until it is used."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def lazy_names(
    package: str, table: Mapping[str, str], namespace: dict[str, Any], public: list[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: a name in ``table`` is imported from its
    module on first use and kept in ``namespace`` (the package's globals)."""

    def getattr_(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        __import__(module)
        value = getattr(sys.modules[module], name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(public))

    return getattr_, dir_
