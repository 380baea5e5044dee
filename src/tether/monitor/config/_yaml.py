"""YAML to plain data, keeping the position of every key path.

Keys are kept as written (YAML 1.1 would read ``on:`` as ``True``), merge keys
(``<<: *base``) are applied, a key written twice and an alias that refers to itself are
problems, and ``${NAME}`` and ``${NAME:-default}`` in string values are replaced from the
environment (``$${`` is a literal ``${``).  Malformed YAML becomes one
``FILE:LINE:COLUMN: problem`` line in plain words.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from typing import Final

import yaml

from tether.monitor.config._errors import KeyPath, Problem, show

_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_STR_TAG: Final = "tag:yaml.org,2002:str"


@dataclasses.dataclass(slots=True)
class Document:
    """Plain data built from YAML nodes, with each key path's position and the problems
    found on the way."""

    env: Mapping[str, str]
    constructor: yaml.constructor.SafeConstructor = dataclasses.field(
        default_factory=yaml.constructor.SafeConstructor
    )
    marks: dict[KeyPath, tuple[int, int]] = dataclasses.field(default_factory=dict)
    errors: list[Problem] = dataclasses.field(default_factory=list)
    building: set[int] = dataclasses.field(default_factory=set)

    def build(self, node: yaml.Node, path: KeyPath) -> object:
        if id(node) in self.building:
            self.errors.append((path, "refers to itself through an alias"))
            return None
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
            value = self.constructor.construct_object(node)
            if isinstance(value, str) and node.tag == _STR_TAG:
                return self.interpolate(value, path)
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
            if key in own:
                self.errors.append(
                    ((*path, key), f"is written twice (lines {own[key]} and {line})")
                )
                continue
            own[key] = line
            result[key] = self.build(value_node, (*path, key))
        return result

    def interpolate(self, text: str, path: KeyPath) -> str:
        def substitute(match: re.Match[str]) -> str:
            if match["escape"]:
                return "${"
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
            value = self.env.get(name)
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


def compose(text: str) -> yaml.Node | None:
    """The YAML node tree, by libyaml when it is there (30 times faster on a large file);
    a mistake is read again by PyYAML, whose messages do not depend on the build."""
    fast = getattr(yaml, "CSafeLoader", None)
    for loader_class in (fast, yaml.SafeLoader) if fast else (yaml.SafeLoader,):
        loader = loader_class(text)
        try:
            return typing.cast(yaml.Node | None, loader.get_single_node())
        except yaml.YAMLError:
            if loader_class is yaml.SafeLoader:
                raise
        finally:
            loader.dispose()
    raise AssertionError("unreachable: PyYAML raises what libyaml did")


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
