"""A condition's text as tokens: placeholders and their path steps, operators,
parentheses and commas, strings and words (the grammar is in :mod:`._parser`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from tether.monitor.config._conditions._errors import ConditionError


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    """placeholder, key, index, op, (, ), ",", string, word or end."""
    text: str
    """As written."""
    value: str | int
    pos: int
    end: int


_WORD_STOP: Final = frozenset("()[],\"'<>=!")
_KEY_STOP: Final = _WORD_STOP | {"."}
_OPS: Final = ("==", "!=", "<=", ">=", "<", ">")
# ASCII digits only, and few enough for any list: int() reads "١٢" and refuses 5,000 digits.
_INDEX_RE: Final = re.compile(r"\[\s*(-?[0-9]{1,18})\s*\]")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    in_path = False  # right after a placeholder or a path step, with no space between
    while i < n:
        c = text[i]
        if in_path and c == ".":
            token = _path_key(text, i)
        elif in_path and c == "[":
            token = _path_index(text, i)
        elif c.isspace():
            in_path = False
            i += 1
            continue
        elif c == "[":
            token = _placeholder(text, i)
        elif c in "(),":
            token = Token(c, c, c, i, i + 1)
        elif c in "<>=!":
            token = _operator(text, i)
        elif c in "\"'":
            token = _string(text, i)
        elif c == "]":
            # Every other character starts a token or a word; a stray ']' would start an
            # empty word and the loop would never move on.
            raise ConditionError(
                f"']' at column {i + 1} closes nothing: a placeholder is written like [STATUS]",
                i,
                text,
            )
        else:
            j = i
            while j < n and text[j] not in _WORD_STOP and not text[j].isspace():
                j += 1
            token = Token("word", text[i:j], text[i:j], i, j)
        if token.end <= i:  # every branch above moves on; say so rather than spin
            raise AssertionError(f"the tokenizer did not advance at column {i + 1}")
        tokens.append(token)
        in_path = token.kind in ("placeholder", "key", "index")
        i = token.end
    tokens.append(Token("end", "", "", n, n))
    return tokens


def _placeholder(text: str, i: int) -> Token:
    close = i + 1
    while close < len(text) and text[close] not in "[]" and not text[close].isspace():
        close += 1
    if close >= len(text) or text[close] != "]":
        raise ConditionError(
            f"'[' at column {i + 1} is not closed: a placeholder is written like [STATUS]", i, text
        )
    name = text[i + 1 : close]
    if not name:
        raise ConditionError(
            f"empty placeholder [] at column {i + 1}: write one like [STATUS]", i, text
        )
    return Token("placeholder", text[i : close + 1], name, i, close + 1)


def _path_key(text: str, i: int) -> Token:
    """``.name`` or ``."quoted name"`` after a placeholder."""
    start = i + 1
    if start < len(text) and text[start] in "\"'":
        quoted = _string(text, start)
        return Token("key", text[i : quoted.end], quoted.value, i, quoted.end)
    j = start
    while j < len(text) and text[j] not in _KEY_STOP and not text[j].isspace():
        j += 1
    if j == start:
        raise ConditionError(
            f"expected a key after '.' at column {start + 1}, as in [BODY].status", start, text
        )
    return Token("key", text[i:j], text[start:j], i, j)


def _path_index(text: str, i: int) -> Token:
    """``[0]``, ``[-1]`` or ``["quoted key"]`` after a placeholder."""
    if match := _INDEX_RE.match(text, i):
        return Token("index", match.group(0), int(match.group(1)), i, match.end())
    j = i + 1
    if j < len(text) and text[j] in "\"'":
        quoted = _string(text, j)
        if quoted.end < len(text) and text[quoted.end] == "]":
            return Token("key", text[i : quoted.end + 1], quoted.value, i, quoted.end + 1)
    raise ConditionError(
        f'expected an index like [0] or a quoted key like ["name"] at column {i + 1}', i, text
    )


def _operator(text: str, i: int) -> Token:
    two = text[i : i + 2]
    for op in _OPS:
        if text.startswith(op, i):
            return Token("op", op, op, i, i + len(op))
    if text[i] == "=":
        hint = "'>='" if two == "=>" else "'<='" if two == "=<" else "'=='"
        raise ConditionError(f"'=' at column {i + 1} does not compare: write {hint}", i, text)
    raise ConditionError(
        f"'!' at column {i + 1} must be followed by '=': write '!=' or 'not contains'", i, text
    )


_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r"}


def _string(text: str, i: int) -> Token:
    quote = text[i]
    out: list[str] = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and j + 1 < len(text):
            out.append(_ESCAPES.get(text[j + 1], text[j + 1]))
            j += 2
        elif c == quote:
            return Token("string", text[i : j + 1], "".join(out), i, j + 1)
        else:
            out.append(c)
            j += 1
    raise ConditionError(
        f"the string starting at column {i + 1} is not closed: end it with {quote}", i, text
    )
