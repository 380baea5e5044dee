"""pydantic's errors as the user reads them: ``key.path: message``.

A pydantic location is turned back into the key path as written (a discriminated union's
tag dropped, ``from_`` written ``from``), the value is shown as written with secrets
masked, and each error type gets a message in plain words, with a did-you-mean for an
unknown key, channel type or choice.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import BaseModel

from tether._redact import redact_apprise
from tether._suggest import did_you_mean
from tether.monitor.config._errors import KeyPath, is_secret, show
from tether.monitor.config._fields import APPRISE_SERVICES
from tether.monitor.config._models import MonitorConfig

# Keys that belong one level up, where a user may well look for them first.
_MISPLACED: Final[dict[KeyPath, str]] = {
    ("dns", "resolver"): "resolver is set on the monitor, beside url, and serves every scheme",
}


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _tags(tp: Any) -> dict[str, type[BaseModel]]:
    """The members of a discriminated union by their ``type`` tag."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return {}
    tags = {}
    for member in typing.get_args(tp):
        if isinstance(member, type) and issubclass(member, BaseModel):
            field = member.model_fields.get("type")
            if field is not None:
                tags.update(dict.fromkeys(typing.get_args(field.annotation), member))
    return tags


def _is_section(tp: Any) -> bool:
    """A mapping of known keys: a model, or a value class such as ``Escalation``."""
    return isinstance(tp, type) and (issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp))


def _annotations(section: type[Any]) -> dict[str, tuple[str, Any]]:
    """Each field's name, the key the file writes for it (``from`` for ``from_``), and
    its type."""
    if issubclass(section, BaseModel):
        fields = section.model_fields.items()
        return {name: (f.alias or name, f.annotation) for name, f in fields}
    hints = typing.get_type_hints(section, include_extras=True)
    return {f.name: (f.name, hints[f.name]) for f in dataclasses.fields(section)}


def _keys(section: type[Any]) -> list[str]:
    return [key for key, _ in _annotations(section).values()]


def _field(section: type[Any], key: str) -> Any:
    for name, (written, annotation) in _annotations(section).items():
        if key in (name, written):
            return annotation
    return None


def _resolve(loc: tuple[str | int, ...]) -> tuple[KeyPath, type[Any] | None, Any]:
    """The key path of a pydantic location (union tags dropped), the section owning its
    last key, and the type expected there."""
    path: list[str | int] = []
    tp: Any = MonitorConfig
    owner: type[Any] | None = None
    for part in loc:
        tp = _unwrap(tp)
        tags = _tags(tp)
        if isinstance(part, str) and part in tags:
            tp = tags[part]
            continue
        if part == "[key]" and path:
            break  # pydantic's mark of a mapping's key: the path already ends at it
        path.append(part)
        origin = typing.get_origin(tp)
        if _is_section(tp) and isinstance(part, str):
            owner, tp = tp, _field(tp, part)
        elif origin in (tuple, list) and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            tp = None
    return tuple(path), owner, tp


def translate(error: Mapping[str, Any]) -> tuple[KeyPath, str]:
    loc = tuple(error["loc"])
    path, owner, tp = _resolve(loc)
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if "apprise" in loc and isinstance(value, str):
        shown = show(redact_apprise(value))
    elif is_secret(path):
        shown = "the value"
    else:
        shown = show(value)
    return _message(kind, path, owner, tp, shown, value, ctx, error["msg"])


def _message(
    kind: str,
    path: KeyPath,
    owner: type[Any] | None,
    tp: Any,
    shown: str,
    value: object,
    ctx: Mapping[str, Any],
    fallback: str,
) -> tuple[KeyPath, str]:
    if kind == "tether":
        return path, str(ctx["message"])
    if kind == "missing":
        return path, "is required"
    if kind == "extra_forbidden" and path[-2:] in _MISPLACED:
        return path, f"unknown key: {_MISPLACED[path[-2:]]}"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        choices = _keys(owner) if owner else []
        hint = did_you_mean(str(path[-1]), choices)
        return path, "unknown key" + (hint or f"; expected one of: {', '.join(choices)}")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = sorted(_tags(_unwrap(_union_at(path))))
        listed = ", ".join(tags)
        if kind == "union_tag_not_found":
            return (*path, "type"), f"is required: {listed}"
        tag = str(ctx.get("tag", ""))
        hint = did_you_mean(tag, tags)
        if tag.lower() in APPRISE_SERVICES:
            hint = f"; for {tag}, write type: apprise with a {APPRISE_SERVICES[tag.lower()]}:// URL"
        return (*path, "type"), f"{show(tag)} is not one of {listed}{hint}"
    if kind == "literal_error":
        choices = [str(c) for c in typing.get_args(_unwrap(tp))]
        hint = did_you_mean(str(value), choices) if isinstance(value, str) else ""
        return path, f"{shown} is not one of {', '.join(choices)}{hint}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return path, f"{shown} is not a whole number"
    if kind in ("float_type", "float_parsing"):
        return path, f"{shown} is not a number"
    if kind == "finite_number":
        return path, f"{shown} is not a finite number"
    if kind in ("bool_type", "bool_parsing"):
        return path, f"{shown} is not true or false"
    if kind == "string_type":
        if not isinstance(value, int | float) or isinstance(value, bool):
            return path, f"{shown} is not text"
        if is_secret(path):
            return path, "the value is a number, not text: quote it"
        return path, f"{shown} is not text (quote it: {show(str(shown))})"
    if kind in ("model_type", "model_attributes_type", "dict_type", "dataclass_type"):
        return path, f"{shown} is not a mapping of keys"
    if kind in ("tuple_type", "list_type"):
        return path, f"{shown} is not a list"
    if kind == "greater_than_equal":
        return path, f"{shown} is too small: the minimum is {show(ctx['ge'])}"
    if kind == "greater_than":
        return path, f"{shown} is too small: it must be above {show(ctx['gt'])}"
    if kind == "less_than_equal":
        return path, f"{shown} is too large: the maximum is {show(ctx['le'])}"
    if kind == "less_than":
        return path, f"{shown} is too large: it must be below {show(ctx['lt'])}"
    if kind in ("string_too_short", "too_short"):
        return path, "is empty"
    if kind.startswith(("datetime", "date_")):
        return path, f"{shown} is not a date and time, as in 2025-07-01T22:00:00Z"
    return path, f"{shown}: {fallback}"


def _union_at(path: KeyPath) -> Any:
    """The declared type at ``path`` (used for the alert channel union)."""
    tp: Any = MonitorConfig
    for part in path:
        tp = _unwrap(tp)
        if _is_section(tp) and isinstance(part, str):
            tp = _field(tp, part)
        elif typing.get_origin(tp) in (tuple, list):
            tp = typing.get_args(tp)[0]
    return tp
