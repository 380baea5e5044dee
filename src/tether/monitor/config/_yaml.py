"""YAML to plain data, keeping the position of every key path.

Keys are kept as written (YAML 1.1 would read ``on:`` as ``True``), merge keys
(``<<: *base``) are applied, a key written twice and an alias that refers to itself are
problems, and ``${NAME}`` and ``${NAME:-default}`` in string values are replaced from the
environment (``$${`` is a literal ``${``).  Malformed YAML becomes one
``FILE:LINE:COLUMN: problem`` line in plain words.

The file is hostile until read: its size, its nesting and what its aliases expand to are
bounded while it is read, not after.  PyYAML's composers recurse (the pure one raises
RecursionError near 1,000 levels, libyaml's Cython one crashes the process near 100,000),
so the nodes are composed here from the parser's events, which neither parser makes by
recursion; and building the data counts what aliases add, so a "billion laughs" of nine
nested lists of aliases stops after a few thousand values instead of filling memory.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from typing import Final

import yaml
from yaml.composer import ComposerError

from tether._text import text_problem
from tether.monitor.config._errors import KeyPath, Problem, is_secret, show

_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_STR_TAG: Final = "tag:yaml.org,2002:str"
_INT_TAG: Final = "tag:yaml.org,2002:int"
MAX_NUMBER_CHARS: Final = 40
"""The longest integer read, as written: 2**128 has 39 digits, and no key takes a number
near that; a longer one (Python reads no more than 4,300 digits at all) is a problem of
its own, not a value."""

MAX_CHARS: Final = 25_000_000
"""The largest file read, in characters: the largest fleet the docs speak of, 240,000
monitors, of a line of 100 characters each (the monitor's name, its URL and an option or
two; the shortest lines, ``- {name: m000001, url: 'http://127.0.7.2/'}``, are 45), and a
million characters for the rest of the file.  A file larger is the wrong one, not a
configuration."""
MAX_DEPTH: Final = 64
"""The deepest nesting of mappings and lists, aliases followed; tether's own deepest key
path is five levels."""
MIN_ALIAS_VALUES: Final = 10_000
"""Values that aliases (``*name``, ``<<: *name``) may add to the data: this many, or as
many as the file writes itself if that is more."""


class TooLarge(Exception):
    """Reading stopped: the document grows beyond a bound (or, read by :func:`read_plain`,
    holds a text the one gate for text from outside refuses); the path and the message
    say where and which."""

    def __init__(self, path: KeyPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


_TYPES: Final = {
    "timestamp": "a date",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
}


def _not_of_its_type(node: yaml.Node, path: KeyPath, exc: Exception) -> str:
    """What to say of a scalar at ``path`` its tag's constructor refused with ``exc``:
    a credential's value, or an alert channel's URL (an Apprise URL's tokens), unshown."""
    tag = node.tag.rsplit(":", 1)[-1]
    secret = is_secret(path) or (path[:1] == ("alerts",) and path[-1:] == ("url",))
    shown = "the value" if secret else show(node.value)
    problem = f"{shown} is not {_TYPES.get(tag, 'a YAML ' + tag)}"
    if tag == "timestamp" and isinstance(exc, ValueError):
        # Of PyYAML's shape, so datetime's words: month must be in 1..12.
        return f"{problem}: {exc}"
    return problem


@dataclasses.dataclass(slots=True)
class Document:
    """Plain data built from YAML nodes, with each key path's position and the problems
    found on the way."""

    env: Mapping[str, str] | None
    """The environment ``${NAME}`` reads; None keeps every ``${...}`` as written."""
    constructor: yaml.constructor.SafeConstructor = dataclasses.field(
        default_factory=yaml.constructor.SafeConstructor
    )
    marks: dict[KeyPath, tuple[int, int]] = dataclasses.field(default_factory=dict)
    errors: list[Problem] = dataclasses.field(default_factory=list)
    refused_text: list[Problem] = dataclasses.field(default_factory=list)
    """The texts the one gate for text from outside refused (among ``errors`` too)."""
    building: set[int] = dataclasses.field(default_factory=set)
    budget: int = 0
    """How many more values may be built: the file's own and what aliases add."""

    def build(self, node: yaml.Node, path: KeyPath) -> object:
        if id(node) in self.building:
            self.errors.append((path, "refers to itself through an alias"))
            return None
        self.budget -= 1
        if self.budget < 0:
            raise TooLarge(
                path, "aliases expand to too many values: write the values out, or alias less"
            )
        if len(path) > MAX_DEPTH:
            raise TooLarge(path, f"is nested more than {MAX_DEPTH} levels deep")
        self.building.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                items = []
                for index, item in enumerate(node.value):
                    self.marks[(*path, index)] = _position(item)
                    items.append(self.build(item, (*path, index)))
                return items
            if node.tag == _INT_TAG and len(node.value) > MAX_NUMBER_CHARS:
                self.errors.append(
                    (path, f"is a number {len(node.value):,} characters long: no key takes one")
                )
                return None
            try:
                value = self.constructor.construct_object(node)
            except yaml.YAMLError:
                raise  # located by the caller, as any YAML error
            except Exception as exc:  # what PyYAML's constructors let out on a scalar
                # Only a scalar gets here.  A timestamp of PyYAML's shape that the calendar
                # does not have (2025-17-02) raises datetime's ValueError, and a value
                # that does not fit its explicit tag (`!!int abc`, `!!bool maybe`,
                # `!!timestamp foo`) whatever int(), float(), a dict or a failed match
                # raise: one located error each, not a traceback.
                self.errors.append((path, _not_of_its_type(node, path, exc)))
                return None
            if isinstance(value, str) and node.tag == _STR_TAG and self.env is not None:
                value = self.interpolate(value, path)
            if isinstance(value, str) and not self.storable(value, path):
                return None  # reported; nothing past here should have to show it
            return value
        finally:
            self.building.discard(id(node))

    def mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, object]:
        # `<<: [*a, *b]`: keys of the first mapping win, and the mapping's own keys win over
        # all; merged keys are built first so the own keys' positions are the ones kept.
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else []
                for source in reversed(sources or [value_node]):
                    built = self.build(source, path)
                    if isinstance(built, dict):
                        result.update(built)
                    else:
                        self.errors.append((path, "<< merges mappings, and this is not one"))
        own: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            line = _position(key_node)[0]
            if not isinstance(key_node, yaml.ScalarNode):
                self.errors.append((path, f"the key on line {line} is not text"))
                continue
            key = str(key_node.value)  # as written: `on:` is the key "on", not True
            self.marks[(*path, key)] = _position(key_node)
            if not self.storable(key, (*path, key), "the key"):
                continue
            if key in own:
                self.errors.append(
                    ((*path, key), f"is written twice (lines {own[key]} and {line})")
                )
                continue
            own[key] = line
            result[key] = self.build(value_node, (*path, key))
        return result

    def storable(self, text: str, path: KeyPath, what: str = "") -> bool:
        """Whether ``text`` passes the one gate for text from outside
        (``tether._text.text_problem``): one that holds a lone surrogate (from a
        ``"\\ud800"`` escape), a control character (``"\\x00"``, ``"\\x1b"``) or a
        noncharacter (``"\\uffff"``), as written or from the environment, is refused
        here, located, rather than failing every batch of results later, or the page or
        feed that would show it."""
        problem = text_problem(text)
        if problem is not None:
            refused = (path, f"{what + ' ' if what else ''}holds {problem}: leave it out")
            self.errors.append(refused)
            self.refused_text.append(refused)
        return problem is None

    def interpolate(self, text: str, path: KeyPath) -> str:
        def substitute(match: re.Match[str]) -> str:
            if match["escape"]:
                return "${"
            if match["close"] and match["body"].isascii() and match["body"].isdigit():
                # ${1}: no environment variable's name, but a regular expression's group
                # (blackbox_exporter's query_response writes them): kept as written.
                return match[0]
            reference = _NAME_AND_DEFAULT.fullmatch(match["body"]) if match["close"] else None
            if reference is None:
                self.errors.append(
                    (
                        path,
                        f"{show(match[0])} is not a ${{NAME}} or ${{NAME:-default}} reference "
                        "(write $${ for a literal ${)",
                    )
                )
                return match[0]
            name, default = reference["name"], reference["default"]
            value = None if self.env is None else self.env.get(name)
            if value:
                return value
            if default is not None:
                return default  # as the shell does, for an empty variable too
            if value is None:
                self.errors.append(
                    (
                        path,
                        f"${{{name}}} is not set in the environment "
                        f"(set it, or write ${{{name}:-default}})",
                    )
                )
            return ""

        return _REFERENCE.sub(substitute, text)


# `$${` is a literal `${`; any other `${` must be a complete reference.
_REFERENCE: Final = re.compile(r"(?P<escape>\$\$\{)|\$\{(?P<body>[^}]*)(?P<close>\})?")
_NAME_AND_DEFAULT: Final = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?")


def read_plain(text: str) -> object:
    """Another tool's YAML (what ``tether import`` reads) as plain data, bounded as the
    monitor's own file is: at most :data:`MAX_CHARS` characters, :data:`MAX_DEPTH` levels
    deep, and what aliases add counted (a "billion laughs" stops after a few thousand
    values); ``${NAME}`` is kept as written and merge keys are applied.  Raises
    :class:`yaml.YAMLError` (``yaml_problem`` words it) or :class:`TooLarge`, which a
    text the one gate for text from outside refuses stops too (a control character)."""
    if len(text) > MAX_CHARS:
        raise TooLarge((), f"is larger than {MAX_CHARS:,} characters")
    document = Document(env=None)
    node, written = compose(text)
    document.budget = written + max(written, MIN_ALIAS_VALUES)
    data = None if node is None else document.build(node, ())
    if document.refused_text:
        raise TooLarge(*document.refused_text[0])
    return data


def compose(text: str) -> tuple[yaml.Node | None, int]:
    """The YAML node tree and how many nodes the file writes, parsed by libyaml when it is
    there (30 times faster on a large file); a mistake is read again by PyYAML, whose
    messages do not depend on the build.  Nesting deeper than :data:`MAX_DEPTH` is a
    :class:`yaml.YAMLError` at the level that goes too deep."""
    fast = getattr(yaml, "CSafeLoader", None)
    for loader_class in (fast, yaml.SafeLoader) if fast else (yaml.SafeLoader,):
        loader = loader_class(text)
        try:
            return _single_node(loader)
        except yaml.YAMLError:
            if loader_class is yaml.SafeLoader:
                raise
        finally:
            loader.dispose()
    raise AssertionError("unreachable: PyYAML raises what libyaml did")


def _single_node(loader: typing.Any) -> tuple[yaml.Node | None, int]:
    """PyYAML's ``Composer.get_single_node``, without recursion: nodes are made from the
    parser's events with a stack of the collections still open."""
    loader.get_event()  # stream start
    if loader.check_event(yaml.StreamEndEvent):
        return None, 0
    loader.get_event()  # document start
    anchors: dict[str, yaml.Node] = {}
    open_: list[tuple[yaml.Node, list[yaml.Node]]] = []  # each with its pending key
    root: yaml.Node | None = None
    count = 0
    while root is None:
        # Any: libyaml's events carry marks of its own Mark type, which the stubs keep apart.
        event: typing.Any = loader.get_event()
        mark: typing.Any = event.start_mark
        node: yaml.Node
        if isinstance(event, yaml.CollectionEndEvent):
            node = open_.pop()[0]
            node.end_mark = event.end_mark
            if not open_:
                root = node
            continue  # attached to its parent when it opened
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                raise ComposerError(None, None, f"found undefined alias {event.anchor!r}", mark)
            node = anchors[event.anchor]
        else:
            count += 1
            node = _node(loader, event)
            if event.anchor is not None:
                if event.anchor in anchors:
                    raise ComposerError(
                        f"found duplicate anchor {event.anchor!r}; first occurrence",
                        anchors[event.anchor].start_mark,
                        "second occurrence",
                        mark,
                    )
                anchors[event.anchor] = node
            if isinstance(event, yaml.CollectionStartEvent):
                if len(open_) >= MAX_DEPTH:
                    raise ComposerError(
                        None, None, f"nested more than {MAX_DEPTH} levels deep", mark
                    )
                if open_:
                    _attach(open_[-1], node)
                open_.append((node, []))
                continue
        if not open_:
            root = node
        else:
            _attach(open_[-1], node)
    loader.get_event()  # document end
    if not loader.check_event(yaml.StreamEndEvent):
        raise ComposerError(
            "expected a single document in the stream",
            root.start_mark,
            "but found another document",
            loader.get_event().start_mark,
        )
    return root, count


def _node(loader: typing.Any, event: typing.Any) -> yaml.Node:
    tag = event.tag
    start: typing.Any = event.start_mark  # libyaml's Mark or PyYAML's
    end: typing.Any = event.end_mark
    if isinstance(event, yaml.ScalarEvent):
        if tag is None or tag == "!":
            tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        return yaml.ScalarNode(tag, event.value, start, end, event.style)
    kind = yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent) else yaml.MappingNode
    if tag is None or tag == "!":
        tag = loader.resolve(kind, None, event.implicit)
    return kind(tag, [], start, None, flow_style=event.flow_style)


def _attach(parent: tuple[yaml.Node, list[yaml.Node]], node: yaml.Node) -> None:
    """Add ``node`` to the open collection: an item, a mapping's key, or the value after it."""
    collection, pending = parent
    if isinstance(collection, yaml.SequenceNode):
        collection.value.append(node)
    elif pending:
        collection.value.append((pending.pop(), node))
    else:
        pending.append(node)


def _position(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def yaml_problem(exc: yaml.YAMLError, source: str) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or "invalid YAML"
        if "'\\t'" in problem:
            problem = "a tab character: YAML is indented with spaces, not tabs"
        elif "expected a single document" in (exc.context or ""):
            problem = "a second YAML document (---): tether reads one document per file"
        elif problem.startswith("expected <block end>"):
            problem = "this line is indented differently from the lines above it"
        elif problem == "mapping values are not allowed here":
            problem += " (a value that contains ': ' needs quotes)"
        elif exc.context and exc.context_mark is not None:
            problem += f" ({exc.context} on line {exc.context_mark.line + 1})"
        return f"{source}:{mark.line + 1}:{mark.column + 1}: {problem}"
    return f"{source}: " + " ".join(str(exc).split())
