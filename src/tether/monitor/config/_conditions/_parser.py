"""The parser: a condition's tokens, checked against the placeholders, as a :class:`Condition`.

The grammar (whitespace between tokens is free, none inside a placeholder's path)::

    condition := operand [operator values] END     (a bare operand must be true/false)
    operand   := PLACEHOLDER path | FUNCTION "(" PLACEHOLDER path ")"
    path      := ("." KEY | "." STRING | "[" INDEX "]" | "[" STRING "]")*
    operator  := "==" | "!=" | "<" | "<=" | ">" | ">=" | "contains" | "not" "contains"
               | "in" | "not" "in"
    values    := value | "(" value ("," value)* ")"  (the list only after in / not in)
               | "any" "(" item ("," item)* ")"       (only after == / !=)
    item      := value | "pat" "(" (STRING | WORD) ")"  (pat() only after == / !=)
               | "re" "(" (STRING | WORD) ")"   (re() only after == / !=)
    value     := STRING | WORD

    PLACEHOLDER := "[" NAME "]"        FUNCTION := "len" | "has"
    STRING      := '"' ... '"' | "'" ... "'"   (backslash escapes the next character)
    WORD        := a run of characters other than whitespace and ()[],"'<>=!

As in gatus, ``[STATUS] == any(200, 201, 204)`` is equal to one of them (``in`` by another
name: the condition's operator is ``in``, ``!= any(...)`` is ``not in``).
"""

from __future__ import annotations

from dataclasses import dataclass

from tether.monitor.config._conditions._errors import ConditionError, suggestion
from tether.monitor.config._conditions._evaluate import Condition
from tether.monitor.config._conditions._lexer import Token, tokenize
from tether.monitor.config._conditions._patterns import MAX_PATTERN, Glob, Regex
from tether.monitor.config._conditions._placeholders import (
    ALL_OPERATORS,
    BOOL,
    DURATION,
    FUNCTIONS,
    JSON,
    OPERATORS,
    PERCENT,
    PHASE_NAMES,
    PLACEHOLDERS,
    TEXT,
    Literal,
    Operand,
    read_value,
)


def parse_condition(text: str) -> Condition:
    """Parse ``text``; raise :class:`ConditionError` saying where and what is wrong."""
    return _Parser(text, tokenize(text)).condition()


def parse_operand(text: str) -> Operand:
    """Parse ``text`` as one operand alone (``[BODY].data.token``, ``[HEADER].etag``): a
    multi-step check's extraction, in the conditions' own path syntax."""
    parser = _Parser(text, tokenize(text))
    operand = parser.operand()
    extra = parser.peek()
    if extra.kind != "end":
        raise parser.fail(
            f"unexpected {extra.text!r} at column {extra.pos + 1}: write one placeholder "
            "and its path, as in [BODY].data.token",
            extra.pos,
        )
    return operand


@dataclass(slots=True)
class _Parser:
    text: str
    tokens: list[Token]
    at: int = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.at + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.at += 1
        return token

    def fail(self, message: str, position: int) -> ConditionError:
        return ConditionError(message, position, self.text)

    def condition(self) -> Condition:
        first = self.peek()
        if first.kind == "end":
            raise self.fail("empty condition: write one like [STATUS] == 200", 0)
        operand = self.operand()
        written = self.text[first.pos : operand.end]
        if self.peek().kind == "end":
            if operand.kind != BOOL:
                raise self.fail(
                    f"expected an operator after {written} at column {operand.end + 1} "
                    f"({', '.join(OPERATORS[operand.kind])})",
                    operand.end,
                )
            # A bare true/false operand reads as itself: [CONNECTED], has([BODY].id).
            return Condition(self.text, operand, "==", (Literal("true", True, "true"),))
        operator, at = self.operator(operand, written)
        if self.at_value_function("any"):
            values = self.any_values(operand, operator, at)
            operator = "in" if operator == "==" else "not in"
        else:
            values = self.values(operand, operator, at)
        extra = self.peek()
        if extra.kind != "end":
            raise self.fail(
                f"unexpected {extra.text!r} at column {extra.pos + 1}: a condition compares "
                "one placeholder with one value (write each condition as its own item; "
                "all must pass)",
                extra.pos,
            )
        return Condition(self.text, operand, operator, values)

    # operand := PLACEHOLDER path | FUNCTION "(" PLACEHOLDER path ")"
    def operand(self) -> Operand:
        token = self.peek()
        if token.kind == "word" and self.peek(1).kind == "(":
            name = token.text
            if name not in FUNCTIONS:
                raise self.fail(
                    f"unknown function {name}() at column {token.pos + 1}; "
                    f"the functions are {', '.join(f'{f}()' for f in FUNCTIONS)}"
                    + suggestion(name, list(FUNCTIONS), suffix="()"),
                    token.pos,
                )
            self.at += 2
            inner = self.placeholder()
            close = self.peek()
            if close.kind != ")":
                raise self.fail(
                    f"expected ')' to close {name}( at column {close.pos + 1}", close.pos
                )
            self.at += 1
            if name == "len" and inner.kind not in (TEXT, JSON):
                raise self.fail(
                    f"len() at column {token.pos + 1} measures [BODY] or a [HEADER], "
                    f"not [{inner.placeholder}]",
                    token.pos,
                )
            return Operand(inner.placeholder, inner.path, name, FUNCTIONS[name], close.end)
        return self.placeholder()

    def placeholder(self) -> Operand:
        token = self.take()
        if token.kind != "placeholder":
            got = "the end" if token.kind == "end" else repr(token.text)
            raise self.fail(
                f"expected a placeholder like [STATUS] at column {token.pos + 1}, got {got}",
                token.pos,
            )
        name = str(token.value)
        if name not in PLACEHOLDERS:
            raise self.fail(
                f"unknown placeholder {token.text} at column {token.pos + 1}"
                + suggestion(name, list(PLACEHOLDERS), prefix="[", suffix="]"),
                token.pos,
            )
        steps: list[Token] = []
        while self.peek().kind in ("key", "index"):
            steps.append(self.take())
        path = tuple(s.value for s in steps)
        end = steps[-1].end if steps else token.end
        kind = PLACEHOLDERS[name]
        if name == "BODY":
            kind = JSON if path else TEXT
        elif name in ("HEADER", "PHASE"):
            self.check_name(token, steps)
        elif steps:
            raise self.fail(
                f"{token.text} takes no path: remove {self.text[token.end : end]!r} "
                f"at column {token.end + 1}",
                token.end,
            )
        return Operand(name, path, None, kind, end)

    def check_name(self, token: Token, steps: list[Token]) -> None:
        """``[HEADER]`` and ``[PHASE]`` take exactly one ``.name``."""
        example = "[HEADER].content-type" if token.value == "HEADER" else "[PHASE].connect"
        if not steps:
            raise self.fail(
                f"{token.text} needs a name at column {token.end + 1}, as in {example}",
                token.end,
            )
        if len(steps) > 1 or steps[0].kind != "key":
            bad = steps[1] if len(steps) > 1 else steps[0]
            raise self.fail(
                f"{token.text} takes one name, as in {example}; remove {bad.text!r} "
                f"at column {bad.pos + 1}",
                bad.pos,
            )
        if token.value == "PHASE" and steps[0].value not in PHASE_NAMES:
            key = str(steps[0].value)
            raise self.fail(
                f"unknown phase {key!r} at column {steps[0].pos + 2}; the phases are "
                f"{', '.join(PHASE_NAMES)}" + suggestion(key, list(PHASE_NAMES)),
                steps[0].pos + 1,
            )

    # operator := == | != | < | <= | > | >= | contains | not contains | in | not in
    def operator(self, operand: Operand, written: str) -> tuple[str, Token]:
        token = self.take()
        operator: str | None = None
        if token.kind == "op" or (token.kind == "word" and token.text in ("contains", "in")):
            operator = token.text
        elif token.kind == "word" and token.text == "not":
            after = self.take()
            if after.kind != "word" or after.text not in ("contains", "in"):
                raise self.fail(
                    f"expected 'contains' or 'in' after 'not' at column {after.pos + 1}",
                    after.pos,
                )
            operator = f"not {after.text}"
        if operator is None:
            hint = (
                ": write the path right after the placeholder, without a space"
                if token.text.startswith(".")
                else ""
            )
            raise self.fail(
                f"expected an operator after {written} at column {token.pos + 1}, got "
                f"{token.text!r} ({', '.join(ALL_OPERATORS)}){hint}",
                token.pos,
            )
        allowed = OPERATORS[operand.kind]
        if operator not in allowed:
            raise self.fail(
                f"{written} cannot use {operator!r} at column {token.pos + 1}; "
                f"it compares with {', '.join(allowed)}",
                token.pos,
            )
        return operator, token

    def at_value_function(self, name: str) -> bool:
        """The next tokens are ``name(``: a value function, not the bare word ``name``."""
        token = self.peek()
        return token.kind == "word" and token.text == name and self.peek(1).kind == "("

    def check_value_function(self, operand: Operand, operator: str) -> None:
        """``any()``, ``pat()`` and ``re()`` go after == or !=, and not for every kind."""
        token = self.peek()
        name = token.text
        if operator not in ("==", "!="):
            raise self.fail(
                f"{name}() at column {token.pos + 1} goes after == or !=, not {operator!r}",
                token.pos,
            )
        if operand.kind in (DURATION, PERCENT, BOOL):
            written = self.text[self.tokens[0].pos : operand.end]
            raise self.fail(
                f"{written} cannot use {name}() at column {token.pos + 1}; "
                + (
                    f"a {operand.kind} is compared with < or >"
                    if operand.kind in (DURATION, PERCENT)
                    else "it is true or false"
                ),
                token.pos,
            )

    # "any" "(" item ("," item)* ")"
    def any_values(self, operand: Operand, operator: str, at: Token) -> tuple[Literal, ...]:
        self.check_value_function(operand, operator)
        self.at += 2
        found = [self.item(operand, at)]
        while self.peek().kind == ",":
            comma = self.take()
            found.append(self.item(operand, comma))
        close = self.peek()
        if close.kind != ")":
            raise self.fail(
                f"expected ',' or ')' to close any( at column {close.pos + 1}", close.pos
            )
        self.at += 1
        return tuple(found)

    def item(self, operand: Operand, after: Token) -> Literal:
        if self.at_value_function("pat") or self.at_value_function("re"):
            return self.pattern(operand, "==")
        if self.at_value_function("any"):
            token = self.peek()
            raise self.fail(f"any() at column {token.pos + 1} cannot go inside any()", token.pos)
        # Read as after ==: a network is not one value, so any() takes no 10.0.0.0/8.
        return self.value(operand, "==", after)

    # ("pat" | "re") "(" (STRING | WORD) ")"
    def pattern(self, operand: Operand, operator: str) -> Literal:
        self.check_value_function(operand, operator)
        name = self.take()
        func = name.text
        self.at += 1  # "("
        token = self.take()
        if token.kind not in ("word", "string"):
            got = "the end" if token.kind == "end" else repr(token.text)
            example = "*ok*" if func == "pat" else '"^ok"'
            raise self.fail(
                f"expected a pattern like {example} in {func}( at column {token.pos + 1}, "
                f"got {got}; quote one with spaces or ()[],<>=! in it",
                token.pos,
            )
        written = str(token.value)
        if len(written) > MAX_PATTERN:
            raise self.fail(
                f"the pattern at column {token.pos + 1} is {len(written)} characters long; "
                f"{func}() takes at most {MAX_PATTERN}",
                token.pos,
            )
        close = self.take()
        if close.kind != ")":
            raise self.fail(f"expected ')' to close {func}( at column {close.pos + 1}", close.pos)
        matcher: Glob | Regex
        if func == "pat":
            matcher = Glob(written)
        else:
            try:
                matcher = Regex(written)
            except ValueError as exc:
                raise self.fail(
                    f"the regular expression in re( at column {token.pos + 1} does not "
                    f"compile: {exc}",
                    token.pos,
                ) from None
        return Literal(self.text[name.pos : close.end], matcher, written)

    # values := value | "(" value ("," value)* ")" | ("pat" | "re") "(" ... ")"
    def values(self, operand: Operand, operator: str, at: Token) -> tuple[Literal, ...]:
        if self.at_value_function("pat") or self.at_value_function("re"):
            return (self.pattern(operand, operator),)
        token = self.peek()
        if token.kind == "(":
            if not operator.endswith("in"):
                raise self.fail(
                    f"a list ( ... ) at column {token.pos + 1} goes only after 'in'", token.pos
                )
            self.at += 1
            found = [self.value(operand, operator, at)]
            while self.peek().kind == ",":
                comma = self.take()
                found.append(self.value(operand, operator, comma))
            close = self.peek()
            if close.kind != ")":
                raise self.fail(
                    f"expected ',' or ')' in the list at column {close.pos + 1}", close.pos
                )
            self.at += 1
            return tuple(found)
        return (self.value(operand, operator, at),)

    def value(self, operand: Operand, operator: str, after: Token) -> Literal:
        token = self.peek()
        if token.kind not in ("word", "string"):
            got = "the end" if token.kind == "end" else repr(token.text)
            raise self.fail(
                f"expected a value after {after.text!r} at column {token.pos + 1}, got {got}",
                token.pos,
            )
        self.at += 1
        try:
            return read_value(operand.kind, token, operator)
        except ValueError as exc:
            raise self.fail(
                f"{self.text[self.tokens[0].pos : operand.end]} {exc}",
                token.pos,
            ) from None
