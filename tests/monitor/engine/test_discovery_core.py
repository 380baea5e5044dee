"""The pure core of discovery: target groups into monitors through a template, and the
set of each source over time with its grace period, held to properties with hypothesis
on simulated time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.monitor.config import parse_config
from tether.monitor.config._discovered import monitors_from
from tether.monitor.config._discovery import (
    GroupsError,
    TargetGroup,
    groups_from_json,
    groups_from_yaml,
)
from tether.monitor.engine._discovery import SourceSet, combine

CONFIG = parse_config(
    """\
defaults: {interval: 45s, labels: {owner: sre}}
locations: [a, b]
discover:
  - name: web
    file_sd: {files: [t.json]}
    match: ['env="prod"']
    template:
      name: "{{labels.job}}-{{address}}"
      url: "http://{{address}}/health"
      labels: {team: "{{labels.__meta_team}}", env: fixed}
"""
)
SOURCE = CONFIG.discover[0]


def test_a_group_becomes_monitors_with_its_labels_under_the_templates() -> None:
    """Each target of a matching group is a monitor: the placeholders filled, the group's
    labels (none of ``__``) under the template's, the defaults and locations applied;
    a group the matchers refuse makes nothing."""
    groups = groups_from_json(
        '[{"targets": ["127.0.0.1:81", "127.0.0.1:82"],'
        ' "labels": {"job": "api", "env": "prod", "__meta_team": "pay", "monitor": "x"}},'
        ' {"targets": ["127.0.0.1:83"], "labels": {"job": "api", "env": "dev"}}]',
        {"__meta_filepath": "t.json"},
    )
    made = monitors_from(SOURCE, groups, CONFIG)
    assert sorted(made.monitors) == ["api-127.0.0.1:81", "api-127.0.0.1:82"]
    m = made.monitors["api-127.0.0.1:81"]
    assert m.url == "http://127.0.0.1:81/health"
    # The template's env wins; monitor (tether's own) and __meta_* are not labels.
    assert m.labels == {"owner": "sre", "job": "api", "env": "fixed", "team": "pay"}
    assert m.interval == 45.0
    assert m.locations == ("a", "b")
    assert made.problems == []


def test_a_name_made_twice_is_said_and_the_first_kept() -> None:
    """Two targets that fill the template to one name: the second is left out, said."""
    config = parse_config(
        "discover:\n  - name: s\n    file_sd: {files: [t.json]}\n"
        "    template: {name: '{{labels.job}}', url: 'tcp://{{address}}'}\n"
    )
    groups = [TargetGroup(("127.0.0.1:1", "127.0.0.1:2"), {"job": "db"})]
    made = monitors_from(config.discover[0], groups, config)
    assert list(made.monitors) == ["db"]
    assert made.monitors["db"].url == "tcp://127.0.0.1:1"
    (line,) = made.problems
    assert "127.0.0.1:2" in line
    assert "as target 127.0.0.1:1 does" in line


def test_a_target_that_makes_no_valid_monitor_is_left_out_and_said() -> None:
    """A target the template cannot make a monitor of (no port for tcp://) is one line."""
    config = parse_config(
        "discover:\n  - name: s\n    file_sd: {files: [t.json]}\n"
        "    template: {url: 'tcp://{{address}}'}\n"
    )
    made = monitors_from(config.discover[0], [TargetGroup(("127.0.0.1",))], config)
    assert made.monitors == {}
    (line,) = made.problems
    assert line.startswith("target 127.0.0.1: url:")


def test_prometheus_target_group_formats() -> None:
    """JSON and YAML as Prometheus reads them: YAML scalars are text, an unknown key in
    YAML is refused, JSON's extra keys are let be, an empty document is no groups."""
    yml = "- targets: ['127.0.0.1:9100']\n  labels: {port: 80, up: true}\n"
    (group,) = groups_from_yaml(yml, {"__meta_filepath": "f.yml"})
    assert group.labels == {"port": "80", "up": "true", "__meta_filepath": "f.yml"}
    assert groups_from_yaml("", {}) == []
    assert groups_from_json("[]", {}) == []
    assert groups_from_json('[{"targets": ["a:1"], "x": 1}]', {})[0].targets == ("a:1",)
    for bad, why in [
        ("- targets: [a:1]\n  extra: 1\n", "unknown key"),
        ("{targets: [a:1]}", "is not a list of target groups"),
        ("- targets: a:1\n", "targets must be a list"),
        ("- labels: {'9x': y}\n", "is not a label name"),
    ]:
        with pytest.raises(ValueError, match=why):
            groups_from_yaml(bad, {})


def test_a_source_text_no_page_can_carry_is_refused_naming_the_field() -> None:
    """The one gate for text from outside holds a discovery source (issue 72 §1): a label
    value or a target holding a control character, a noncharacter or a lone surrogate
    (a JSON escape) is one line naming the group and the field (they were taken)."""
    for text, says in [
        (
            '[{"targets": ["a:1"], "labels": {"env": "prod\\u0000"}}]',
            "group 1: labels.env: holds a",
        ),
        ('[{"targets": ["a:1"]}, {"targets": ["b:1\\ud800"]}]', "group 2: targets[0]: holds a"),
        (
            '[{"targets": ["a:1"], "labels": {"team": "x\\uffff"}}]',
            "group 1: labels.team: holds a noncharacter",
        ),
    ]:
        with pytest.raises(GroupsError) as raised:
            groups_from_json(text, {})
        assert str(raised.value).startswith(says), str(raised.value)
    with pytest.raises(GroupsError, match=r"group 1: labels\.env: holds a control character"):
        groups_from_yaml('- targets: [a:1]\n  labels: {env: "x\\x1b"}\n', {})


names = st.sampled_from([f"m{i}" for i in range(8)])
reads = st.lists(st.frozensets(names, max_size=6), min_size=1, max_size=12)
gaps = st.lists(st.floats(min_value=0, max_value=400), min_size=12, max_size=12)


@settings(max_examples=300, deadline=None)
@given(reads=reads, gaps=gaps, grace=st.floats(min_value=1, max_value=600))
def test_the_grace_period(reads: list[frozenset[str]], gaps: list[float], grace: float) -> None:
    """Over any run of reads: a monitor in the latest read is there; one missing is kept
    exactly while less than ``grace`` has passed since the first read that missed it;
    the same read twice changes nothing; expiring with no read never adds one."""
    book: SourceSet[str] = SourceSet()
    now = 0.0
    times: list[float] = []
    for k, (read, gap) in enumerate(zip(reads, gaps, strict=False)):
        now += gap
        times.append(now)
        found = {n: n for n in read}
        after = book.advance(found, now, grace)
        assert after.advance(found, now, grace) == after  # applied twice: no change
        expected = set(read)
        for n in set().union(*reads[:k]) - read:
            last = max(j for j in range(k) if n in reads[j])
            if now - times[last + 1] < grace:  # missed first at the read after its last
                expected.add(n)
        assert set(after.kept) == expected
        assert after.present == len(read)
        assert set(after.expire(now + 2 * grace, grace).kept) == set(read)
        assert set(after.expire(now, grace).kept) == set(after.kept)
        book = after


@settings(max_examples=200, deadline=None)
@given(
    own=st.frozensets(names, max_size=4),
    sources=st.lists(st.frozensets(names, max_size=6), max_size=4),
)
def test_never_two_monitors_of_one_name(own: frozenset[str], sources: list[frozenset[str]]) -> None:
    """Whatever the sources make, the file's names and the kept ones are all distinct;
    each one left out is said, naming its source."""
    given_ = [(f"s{i}", {n: (f"s{i}", n) for n in made}) for i, made in enumerate(sources)]
    kept, said = combine(own, given_)
    kept_names = [n for _, n in kept]
    assert len(set(kept_names)) == len(kept_names)
    assert not set(kept_names) & own
    assert len(kept) + len(said) == sum(len(s) for s in sources)
    assert set(kept_names) == set().union(*sources) - own if sources else not kept
