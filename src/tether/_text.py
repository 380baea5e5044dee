"""Characters that hide or reorder what a reader sees: the one home of the check that a
name may not hold them, and of the escaping that shows them in a message.

Control characters (C0, DEL and C1) move a terminal's cursor or end a line; the line and
paragraph separators end a line too; the bidirectional formatting characters (U+061C,
U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069) reorder the text after them, so a
monitor named ``"api\\u202eprod"`` reads as another name in a log, an alert or a list
("Trojan Source", CVE-2021-42574); and a lone surrogate (from a ``"\\ud800"`` escape) is
not a character at all, and no UTF-8 output or database can hold it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

__all__ = [
    "TextPath",
    "dotted",
    "hidden_character",
    "shown",
    "shown_within",
    "text_faults",
    "text_problem",
    "visible",
]

_HIDDEN: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def hidden_character(text: str) -> str | None:
    """What the first hidden character of ``text`` is, in words that follow "contains",
    with its code point and place (``a right-to-left override (U+202E) at character 3``),
    or None."""
    found = _HIDDEN.search(text)
    if found is None:
        return None
    char = found[0]
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        what = "a lone surrogate, which is not a character"
    elif code in (0x2028, 0x2029):
        what = "a line or paragraph separator"
    elif code < 0x20 or 0x7F <= code <= 0x9F:
        what = "a control character"
    else:
        what = _BIDI.get(code, "a bidirectional formatting character")
    return f"{what} (U+{code:04X}) at character {found.start() + 1}"


_BIDI: Final = {
    0x202D: "a left-to-right override",
    0x202E: "a right-to-left override",
    0x202A: "a left-to-right embedding",
    0x202B: "a right-to-left embedding",
}


def visible(text: str) -> str:
    """``text`` with each hidden character written as JSON would escape it (``\\u202e``,
    ``\\u0007``), so a message shows it rather than obeys it."""
    if _HIDDEN.search(text) is None:
        return text
    return _HIDDEN.sub(lambda m: _escape(m[0]), text)


def _escape(char: str) -> str:
    return f"\\u{ord(char):04x}"


# Free text from outside (a note, a reason, an update, an agent's detail): lines and tabs
# are its own, and bidirectional marks are right-to-left languages'; what no store, page
# or feed can carry is not: a lone surrogate (not a character), a control character other
# than tab, line feed and carriage return, and a noncharacter (U+FFFE and U+FFFF of every
# plane, U+FDD0 to U+FDEF), which XML 1.0 refuses (an Atom feed stops being XML).
_UNCARRIED: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"\\U{plane:04X}FFFE\\U{plane:04X}FFFF" for plane in range(1, 17))
    + "]"
)


def text_problem(text: str) -> str | None:
    """Why ``text`` (free text from outside) cannot be taken, in words that follow "holds"
    (``a lone surrogate (U+D800) at character 2``), or None."""
    found = _UNCARRIED.search(text)
    if found is None:
        return None
    code = ord(found[0])
    if 0xD800 <= code <= 0xDFFF:
        what = "a lone surrogate, which is not a character"
    elif code < 0x20 or 0x7F <= code <= 0x9F:
        what = "a control character"
    else:
        what = "a noncharacter, which XML cannot carry"
    return f"{what} (U+{code:04X}) at character {found.start() + 1}"


def _escaped(found: re.Match[str]) -> str:
    code = ord(found[0])
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def shown(text: str) -> str:
    """``text`` with each character :func:`text_problem` refuses written out as its escape
    (``\\ud800``, ``\\uffff``, ``\\u0001``): what a page, an answer or a feed shows of
    text that was stored before the gate, or that came from no gate (a UTF-8 answer
    cannot hold a lone surrogate; XML holds no noncharacter and no control character)."""
    if _UNCARRIED.search(text) is None:
        return text
    return _UNCARRIED.sub(_escaped, text)


def shown_within(value: Any) -> Any:
    """``value`` (a decoded JSON document) made again with :func:`shown` applied to every
    string in it, the keys of its objects too."""
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, list):
        return [shown_within(v) for v in value]
    if isinstance(value, dict):
        return {shown(k): shown_within(v) for k, v in value.items()}
    return value


TextPath = tuple[str | int, ...]
"""Where a string is in a document: keys and list indexes, ``("results", 3, "detail")``."""


def text_faults(value: Any, where: TextPath = ()) -> Iterator[tuple[TextPath, str]]:
    """Where and why each string in ``value`` (a decoded JSON or YAML document: strings,
    and lists and mappings of them) cannot be taken, in the document's order:
    ``(path, problem)``, the path under ``where``, the problem in words that follow the
    path (``holds a lone surrogate (U+D800) at character 2``; for a field's name, the path
    of its mapping and ``a field's name holds ...``).  The walk of the one gate for text
    from outside (issue 72 §1): a request's body and form, an agent's batch, a discovery
    source's targets, an importer's source, a configuration."""
    stack: list[tuple[Any, TextPath]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if (problem := text_problem(item)) is not None:
                yield path, f"holds {problem}"
        elif isinstance(item, Mapping):
            for key in item:
                if isinstance(key, str) and (problem := text_problem(key)) is not None:
                    yield path, f"a field's name holds {problem}"
            stack.extend(reversed([(inner, (*path, key)) for key, inner in item.items()]))
        elif isinstance(item, list | tuple):
            stack.extend(reversed([(inner, (*path, n)) for n, inner in enumerate(item)]))


def dotted(path: TextPath, where: str = "") -> str:
    """``path`` written as ``results[3].detail`` (after ``where``, a prefix of its own)."""
    out = where
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out
