"""``discover:``: monitors made from the targets teams already keep for Prometheus.

A source is read in one of Prometheus's two generic service-discovery formats, as its
documentation defines them (prometheus.io/docs/prometheus/latest/http_sd/ and the
``file_sd_config`` section of its configuration page): a list of target groups, each
``{targets: ["HOST:PORT", ...], labels: {NAME: VALUE, ...}}``.

- ``file_sd``: files (globs) ending ``.json``, ``.yml`` or ``.yaml``, re-read when one
  changes and every ``refresh_interval`` (5 minutes by default).  Each group gets
  ``__meta_filepath``, the file it came from.
- ``http_sd``: a ``GET`` of ``url`` every ``refresh_interval`` (60 s by default); only an
  answer ``200`` with ``Content-Type: application/json`` counts, anything else is a
  failure of the source.  Each group gets ``__meta_url``.

Each target of a group that ``match:`` selects becomes one monitor through ``template:``,
a monitor's keys whose text may hold ``{{address}}`` (the target) and
``{{labels.NAME}}`` (a label of its group, ``__meta_*`` ones too; one it lacks reads as
the empty text).  This module holds the models, the reading of target groups and the
filling of a template; turning the result into monitors is :mod:`._discovered`'s.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from tether._text import dotted, text_faults
from tether.monitor.config._errors import KeyPath, Problem, fail, show
from tether.monitor.config._fields import Name, PositiveDuration, WebUrl
from tether.monitor.config.labels._labels import (
    LABEL_NAME,
    Matcher,
    MatcherList,
    Matchers,
    label_problem,
)

__all__ = [
    "DEFAULT_GRACE",
    "Discoverable",
    "DiscoverySource",
    "FileSD",
    "GroupsError",
    "HttpSD",
    "References",
    "TargetGroup",
    "fill",
    "groups_from_json",
    "groups_from_yaml",
    "monitor_labels",
    "placeholders_problem",
]

DEFAULT_GRACE: Final = 600.0
"""How long a monitor whose target disappeared is kept (seconds)."""
EXTENSIONS: Final = (".json", ".yml", ".yaml")
"""What a ``file_sd`` file's name ends with, as Prometheus requires."""
PLACEHOLDER: Final = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_KNOWN: Final = re.compile(r"address|labels\.([a-zA-Z_][a-zA-Z0-9_]*)")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _file_pattern(value: str) -> str:
    if not value.strip():
        raise fail("is empty: give a file or a glob, as in targets/*.json")
    if not value.endswith(EXTENSIONS):
        raise fail(f"{show(value)} must end .json, .yml or .yaml, as Prometheus's file_sd")
    return value


FilePattern = Annotated[str, Field(min_length=1)]


class FileSD(_Model):
    """Prometheus's ``file_sd_config``: files of target groups, re-read on change."""

    files: Annotated[tuple[FilePattern, ...], Field(min_length=1)]
    """Files or globs (``targets/*.json``), relative to the configuration file's folder."""
    refresh_interval: PositiveDuration = 300.0
    """Every file is read again this often even when no change was seen."""

    @field_validator("files", mode="after")
    @classmethod
    def _patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_file_pattern(v) for v in value)


class Authorization(_Model):
    """``Authorization: TYPE CREDENTIALS`` on every request (Prometheus's
    ``authorization``)."""

    type: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9._~+-]*$")] = "Bearer"
    credentials: SecretStr


class BasicAuth(_Model):
    username: Annotated[str, Field(min_length=1)]
    password: SecretStr | None = None


class DiscoveryTls(_Model):
    ca_file: Annotated[str, Field(min_length=1)] | None = None
    """Trust the certificate authorities in this PEM file instead of the system's."""


class HttpSD(_Model):
    """Prometheus's ``http_sd_config``: a URL answering target groups in JSON."""

    url: WebUrl
    refresh_interval: PositiveDuration = 60.0
    authorization: Authorization | None = None
    basic_auth: BasicAuth | None = None
    tls: DiscoveryTls | None = None

    @model_validator(mode="after")
    def _one_auth(self) -> HttpSD:
        if self.authorization is not None and self.basic_auth is not None:
            raise fail("authorization and basic_auth cannot both be set: choose one")
        return self

    def headers(self) -> dict[str, str]:
        """What every request sends: the authorization or basic auth (a secret), and the
        refresh interval as Prometheus sends it."""
        out = {"X-Prometheus-Refresh-Interval-Seconds": f"{self.refresh_interval:g}"}
        if self.authorization is not None:
            secret = self.authorization.credentials.get_secret_value()
            out["Authorization"] = f"{self.authorization.type} {secret}"
        if self.basic_auth is not None:
            password = self.basic_auth.password
            pair = f"{self.basic_auth.username}:{password.get_secret_value() if password else ''}"
            out["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        return out


def _template(value: object) -> object:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise fail(
            f'{show(value)} is not a monitor\'s keys: write e.g. {{url: "https://{{{{address}}}}/"}}'
        )
    problem = placeholders_problem(value)
    if problem is not None:
        raise fail(problem)
    return dict(value)


class DiscoverySource(_Model):
    """One source of targets and how its targets become monitors."""

    name: Name
    file_sd: FileSD | None = None
    http_sd: HttpSD | None = None
    template: Annotated[dict[str, Any], Field(default_factory=dict)]
    """A monitor's keys; ``name`` left out is ``SOURCE/{{address}}``."""
    match: MatcherList = ()
    """Only the targets of groups whose labels (and ``__address__``) match."""
    grace: PositiveDuration = DEFAULT_GRACE
    """How long a monitor whose target disappeared is kept (and probed)."""

    @field_validator("template", mode="before")
    @classmethod
    def _template(cls, value: object) -> object:
        return _template(value)

    @model_validator(mode="after")
    def _one_kind(self) -> DiscoverySource:
        if (self.file_sd is None) == (self.http_sd is None):
            raise fail("give one of file_sd and http_sd")
        return self

    @property
    def kind(self) -> Literal["file_sd", "http_sd"]:
        return "file_sd" if self.file_sd is not None else "http_sd"

    def template_with_name(self) -> dict[str, Any]:
        """The template, with the default ``name`` where it gives none."""
        return {"name": f"{self.name}/{{{{address}}}}", **self.template}


# -- target groups -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TargetGroup:
    """One of Prometheus's target groups."""

    targets: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)


class GroupsError(ValueError):
    """Text that is not a list of target groups; the message says why, in one line."""


MAX_GROUP_BYTES: Final = 16 * 1024 * 1024
"""The largest file or answer read (a source cannot make the monitor read a disk)."""


def groups_from_json(text: str | bytes, meta: Mapping[str, str]) -> list[TargetGroup]:
    """The target groups of a JSON document (``file_sd``'s ``.json``, ``http_sd``'s
    answer); each gets ``meta`` (``__meta_filepath``, ``__meta_url``) among its labels.
    Keys other than ``targets`` and ``labels`` are left alone, as Prometheus's JSON
    reading leaves them."""
    try:
        data = json.loads(text)
    except RecursionError:  # [[[[... nested past what the parser's stack holds
        raise GroupsError("not JSON that can be read: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise GroupsError(f"not JSON: {exc}") from None
    return _groups(data, meta, strict=False)


def groups_from_yaml(text: str, meta: Mapping[str, str]) -> list[TargetGroup]:
    """The target groups of a YAML ``file_sd`` file.  Every scalar is text, as Prometheus
    reads a label's value (``port: 80`` is ``"80"``); another key is an error, as in
    Prometheus's strict reading."""
    try:
        data = yaml.load(text, Loader=yaml.BaseLoader)
    except RecursionError:
        raise GroupsError("not YAML that can be read: nested too deeply") from None
    except yaml.YAMLError as exc:
        raise GroupsError(f"not YAML: {' '.join(str(exc).split())}") from None
    return _groups([] if data is None or data == "" else data, meta, strict=True)


def _groups(data: object, meta: Mapping[str, str], *, strict: bool) -> list[TargetGroup]:
    if not isinstance(data, list):
        raise GroupsError(f"{show(data)} is not a list of target groups")
    out = []
    for i, item in enumerate(data):
        where = f"group {i + 1}"
        if not isinstance(item, dict):
            raise GroupsError(f"{where}: {show(item)} is not {{targets: [...], labels: {{...}}}}")
        for path, problem in text_faults(item):  # the one gate for text from outside
            raise GroupsError(f"{where}: {dotted(path)}: {problem}")
        extra = set(item) - {"targets", "labels"}
        if strict and extra:
            raise GroupsError(f"{where}: unknown key {show(sorted(extra)[0])}")
        targets = item.get("targets") or []
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise GroupsError(f"{where}: targets must be a list of HOST:PORT texts")
        if any(not t.strip() for t in targets):
            raise GroupsError(f"{where}: a target is empty")
        labels = item.get("labels") or {}
        if not isinstance(labels, dict):
            raise GroupsError(f"{where}: labels must be a map of names to texts")
        for name, value in labels.items():
            if not isinstance(name, str) or not LABEL_NAME.fullmatch(name):
                raise GroupsError(f"{where}: {show(name)} is not a label name")
            if not isinstance(value, str):
                raise GroupsError(f"{where}: label {name}: {show(value)} is not text")
        out.append(TargetGroup(tuple(targets), {**labels, **meta}))
    return out


# -- the template --------------------------------------------------------------------------


def placeholders_problem(template: object) -> str | None:
    """What is wrong with the ``{{...}}`` of ``template``'s texts, or None."""
    for text in _texts(template):
        for found in PLACEHOLDER.finditer(text):
            if not _KNOWN.fullmatch(found.group(1)):
                return (
                    f"{show(found.group(0))} is not a placeholder: write {{{{address}}}} or "
                    "{{labels.NAME}}"
                )
    return None


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [t for k, v in value.items() for t in (*_texts(k), *_texts(v))]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _texts(v)]
    return []


def fill(template: object, address: str, labels: Mapping[str, str]) -> Any:
    """``template`` with each ``{{address}}`` and ``{{labels.NAME}}`` of its texts
    filled from one target and its group's labels."""

    def one(found: re.Match[str]) -> str:
        key = found.group(1)
        if key == "address":
            return address
        return labels.get(key.removeprefix("labels."), "")

    if isinstance(template, str):
        return PLACEHOLDER.sub(one, template)
    if isinstance(template, Mapping):
        return {fill(k, address, labels): fill(v, address, labels) for k, v in template.items()}
    if isinstance(template, list | tuple):
        return [fill(v, address, labels) for v in template]
    return template


def monitor_labels(group: Mapping[str, str], template: Mapping[str, str]) -> dict[str, str]:
    """A discovered monitor's labels: its group's (none that begins with ``__``, nor one
    that cannot be a monitor's label), with the template's over them."""
    own = {k: v for k, v in group.items() if label_problem(k) is None}
    return {**own, **template}


# -- what discovery may add ----------------------------------------------------------------


_ANY: Final = re.compile(r".*", re.DOTALL)


def _pattern(text: str) -> re.Pattern[str]:
    """The texts a template's ``text`` can fill to: its own text, ``{{address}}`` any
    target (not empty), ``{{labels.NAME}}`` any value (empty too)."""
    parts: list[str] = []
    at = 0
    for found in PLACEHOLDER.finditer(text):
        parts.append(re.escape(text[at : found.start()]))
        parts.append(".+" if found.group(1) == "address" else ".*")
        at = found.end()
    parts.append(re.escape(text[at:]))
    return re.compile("".join(parts), re.DOTALL)


@dataclass(frozen=True, slots=True)
class _Made:
    """What one source's template can make: its monitors' names, and the value of each
    label its template writes (any other label may hold anything: a group's)."""

    source: str
    name: re.Pattern[str]
    labels: Mapping[str, re.Pattern[str]]


class Discoverable:
    """The monitors the ``discover:`` sources may add, as far as their templates say:
    what a reference to a monitor that is not in the file may still find once a source
    answers (issue 44 section 4).  It can only say "may": a name no template can make,
    or labels none can give, is a mistake of the file."""

    def __init__(self, sources: tuple[DiscoverySource, ...]) -> None:
        self._made: list[_Made] = []
        for source in sources:
            template = source.template_with_name()
            name, labels = template.get("name"), template.get("labels")
            written = labels if isinstance(labels, Mapping) else {}
            self._made.append(
                _Made(
                    source.name,
                    _pattern(name) if isinstance(name, str) else _ANY,
                    {str(k): _pattern(str(v)) for k, v in written.items()},
                )
            )

    def __bool__(self) -> bool:
        return bool(self._made)

    def naming(self, name: str) -> str | None:
        """The first source whose template can make a monitor called ``name``, or None."""
        return next((m.source for m in self._made if m.name.fullmatch(name)), None)

    def selecting(self, matchers: Matchers) -> str | None:
        """The first source whose monitors may satisfy every one of ``matchers`` (a
        ``kind`` matcher aside: a failure's, not a monitor's), or None."""
        wanted = [m for m in matchers if m.name != "kind"]
        for made in self._made:
            if all(_may(m, made) for m in wanted):
                return made.source
        return None


def _may(matcher: Matcher, made: _Made) -> bool:
    """Whether some monitor ``made`` may give satisfies ``matcher``: decided where the
    value is known (a template's own text), else assumed (a group's label, a value with
    a placeholder that a regular expression would have to be intersected with)."""
    if matcher.name == "monitor":
        pattern = made.name
    elif matcher.name in made.labels:
        pattern = made.labels[matcher.name]
    else:
        return True  # a group's label: any value, or none
    if matcher.op == "=":
        return pattern.fullmatch(matcher.value) is not None
    literal = re.sub(r"\\(.)", r"\1", pattern.pattern)
    if re.escape(literal) != pattern.pattern:
        return True  # a placeholder in it: not decided here
    return matcher.matches({matcher.name: literal})


class References:
    """A reference to monitors (by name, or by matchers) checked against the file's
    monitors and what discovery may add: one that finds nothing in the file but that a
    source's template may still satisfy is kept as a warning (:attr:`warnings`), not an
    error, since the monitor it means may not have been discovered yet."""

    def __init__(self, sources: tuple[DiscoverySource, ...]) -> None:
        self.discoverable = Discoverable(sources)
        self.warnings: list[Problem] = []

    def name(self, at: KeyPath, name: str, error: str) -> list[Problem]:
        """The problem of a reference at ``at`` to the monitor ``name``, which the file
        does not have: ``error``, unless a source may make it."""
        source = self.discoverable.naming(name)
        if source is None:
            return [(at, error)]
        self.warnings.append(
            (at, f"no monitor named {show(name)} yet; discover: {source} may make it")
        )
        return []

    def selector(self, at: KeyPath, matchers: Matchers, error: str) -> list[Problem]:
        """The problem of ``matchers`` at ``at``, which select no monitor of the file:
        ``error``, unless a source's monitors may satisfy them."""
        source = self.discoverable.selecting(matchers)
        if source is None:
            return [(at, error)]
        self.warnings.append((at, f"selects no monitor yet; discover: {source} may add one"))
        return []
