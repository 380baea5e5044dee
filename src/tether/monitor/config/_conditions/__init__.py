"""Monitor conditions: ``[STATUS] == 200``, ``[RESPONSE_TIME] < 500ms``, ``[BODY].ok == true``.

A condition compares one placeholder (a value the probe found) with one value the user
wrote.  Every result keeps the resolved value beside the placeholder, as gatus does, so a
failure explains itself: ``[STATUS] (503) == 200``.

The parts, each a module of this package, each importing only those listed before it:
``_errors`` (:class:`ConditionError`), ``_context`` (:class:`ProbeContext`, what the
probe saw), ``_lexer`` (the tokens), ``_placeholders`` (the placeholders, the kinds of
value, reading a written value), ``_patterns`` (``pat()`` and ``re()``), ``_evaluate``
(:class:`Condition` judged against a context, the resolved value shown) and
``_parser`` (the grammar, :func:`parse_condition`).
"""

from __future__ import annotations

from tether.monitor.config._conditions._context import ProbeContext, context_from_probe
from tether.monitor.config._conditions._errors import ConditionError
from tether.monitor.config._conditions._evaluate import (
    Condition,
    ConditionResult,
    compact_json,
    operand_value,
)
from tether.monitor.config._conditions._parser import parse_condition, parse_operand
from tether.monitor.config._conditions._patterns import glob_matcher
from tether.monitor.config._conditions._placeholders import Operand

__all__ = [
    "Condition",
    "ConditionError",
    "ConditionResult",
    "Operand",
    "ProbeContext",
    "compact_json",
    "context_from_probe",
    "glob_matcher",
    "operand_value",
    "parse_condition",
    "parse_operand",
]
