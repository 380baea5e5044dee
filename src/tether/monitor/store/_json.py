"""The JSON text of the store's columns: orjson where the ``monitor`` extra installed it
(its wheels' platforms), the standard library's encoder where it did not.

Every check writes a result row with a JSON column, and every state change a detector
state of some 650 bytes; the standard library's encoder spent about 20 µs of the store
writer's CPU on such a state, most of it writing floats, where orjson spends 2
(``benchmarks/bench_change.py``, history/bench_change.md section 2).  orjson answers
what the standard library's encoder answers, value for value:

* a value it cannot write (an integer past 64 bits, a lone surrogate, a key that is
  not text) goes to the standard library's encoder, which writes it as before;
* its text is UTF-8 where the SQLite store's was ASCII with ``\\uXXXX`` escapes, and a
  float may be written shorter (``1e-05`` is ``1e-5``): both read back as the same
  value;
* a float that is not finite is ``null``, where the standard library wrote ``NaN`` or
  ``Infinity``, which is not JSON (SQLite's JSON functions and PostgreSQL's ``jsonb``
  refuse it).  No stored value is one: durations are measured, and a stored result or
  detector state reads a ``null`` as it reads any value that is not a duration.

``tests/monitor/store/test_store_json.py`` holds both to the same values over random
documents, and runs the store on the fallback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from tether._text import shown_within

__all__ = ["ENGINE", "plain_json", "sorted_json", "stored_json"]

_SORTED: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
"""The SQLite store's encoder before orjson (and its fallback): one for every row, since
``json.dumps`` with options builds a new one per call."""
_PLAIN: Final = json.JSONEncoder(ensure_ascii=False)
"""The PostgreSQL store's: ``json.dumps(value, ensure_ascii=False)``."""


def _orjson() -> Any:
    """orjson's module where the monitor extra installed it, else None."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson


_ORJSON: Final[Any] = _orjson()
ENGINE: Final = "orjson" if _ORJSON is not None else "json"
"""What writes the store's JSON in this process."""


def _fast(option: int, fallback: Callable[[Any], str]) -> Callable[[Any], str]:
    dumps = _ORJSON.dumps

    def encode(value: Any) -> str:
        try:
            return str(dumps(value, option=option), "utf-8")
        except TypeError:  # orjson.JSONEncodeError is one: the standard library's encoder
            return fallback(value)

    return encode


sorted_json: Callable[[Any], str]
"""Compact JSON with sorted keys: the SQLite store's columns."""
plain_json: Callable[[Any], str]
"""JSON with the keys in their order, not escaped to ASCII: the PostgreSQL store's
(which makes lone surrogates and NULs storable after)."""

if _ORJSON is not None:
    sorted_json = _fast(_ORJSON.OPT_SORT_KEYS, _SORTED.encode)
    plain_json = _fast(0, _PLAIN.encode)
else:
    sorted_json = _SORTED.encode
    plain_json = _PLAIN.encode


def stored_json(text: str) -> Any:
    """A JSON column of the SQLite store as Python.  A row stored before the one gate for
    text from outside (issue 72 §1) may hold a lone surrogate, as the ``\\ud800`` escape
    the standard library's encoder writes, which no UTF-8 answer or page can carry: a
    column that holds such an escape is read with each of its strings shown
    (``tether._text.shown``: the surrogate, and any control character or noncharacter
    beside it, written out as its escape).  Any other column is read as it is."""
    value = json.loads(text)
    if "\\ud" in text or "\\uD" in text:
        return shown_within(value)
    return value
