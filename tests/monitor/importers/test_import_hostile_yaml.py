"""Other tools' YAML written to hurt ``tether import`` (issue 45 §8): a "billion laughs" of
aliases, nesting 100,000 deep and a file past the size bound, in a Gatus file, a Prometheus
file and a blackbox_exporter modules file, each refused in one line naming the file and
what grew too large, while it is read (the importers read them as the monitor reads its
own file, ``config/_yaml.py``).  Before: the Gatus bomb ran past 60 s and 1 GB, the deep
one raised RecursionError with a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.hostile_configs import alias_bomb
from tether.monitor.config._yaml import MAX_CHARS
from tether.monitor.importers import ImportFailed
from tether.monitor.importers.gatus._import import import_gatus
from tether.monitor.importers.prometheus._import import import_prometheus

JOB = (
    "scrape_configs:\n"
    "  - job_name: web\n"
    "    metrics_path: /probe\n"
    "    params: {module: [http_2xx]}\n"
    "    static_configs: [{targets: ['http://127.0.0.1:9/']}]\n"
    "    relabel_configs:\n"
    "      - {source_labels: [__address__], target_label: __param_target}\n"
)


def _bomb(key: str) -> str:
    """An alias bomb under ``key``, walked by the importer if it were ever built."""
    return alias_bomb().replace("monitors:", f"{key}:")


def _gatus(tmp: Path, text: str) -> None:
    (tmp / "gatus.yaml").write_text(text)
    import_gatus(str(tmp / "gatus.yaml"))


def _prometheus(tmp: Path, text: str) -> None:
    (tmp / "prometheus.yml").write_text(text)
    import_prometheus(str(tmp / "prometheus.yml"))


def _modules(tmp: Path, text: str) -> None:
    (tmp / "prometheus.yml").write_text(JOB)
    (tmp / "blackbox.yml").write_text(text)
    import_prometheus(str(tmp / "prometheus.yml"), str(tmp / "blackbox.yml"))


KINDS: dict[str, tuple[Callable[[Path, str], None], str, str]] = {
    "gatus": (_gatus, "endpoints", "gatus.yaml"),
    "prometheus": (_prometheus, "scrape_configs", "prometheus.yml"),
    "modules": (_modules, "modules", "blackbox.yml"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_an_alias_bomb_is_refused_while_it_is_read(tmp_path: Path, kind: str) -> None:
    """Nine levels of nine aliases (387 million values) stop after a few thousand, in one
    line naming the file and where the aliases grew too many."""
    read, key, name = KINDS[kind]
    with pytest.raises(ImportFailed) as caught:
        read(tmp_path, _bomb(key))
    said = str(caught.value)
    assert said.startswith(f"{tmp_path / name}: l")
    assert said.endswith("aliases expand to too many values: write the values out, or alias less")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_nesting_100000_deep_is_refused_at_its_line(tmp_path: Path, kind: str) -> None:
    """Flow lists 100,000 deep are a YAML mistake at the level past 64, not a
    RecursionError."""
    read, key, name = KINDS[kind]
    with pytest.raises(ImportFailed) as caught:
        read(tmp_path, f"{key}: " + "[" * 100_000 + "]" * 100_000 + "\n")
    column = len(key) + 2 + 64
    assert str(caught.value) == (
        f"{tmp_path / name}:1:{column}: is not valid YAML: nested more than 64 levels deep"
    )


def test_a_file_past_the_size_bound_is_refused_unread(tmp_path: Path) -> None:
    """A file over the monitor's own bound (``MAX_CHARS`` characters) is refused without
    reading the rest of it into memory."""
    with pytest.raises(ImportFailed) as caught:
        _gatus(tmp_path, "# " + "x" * MAX_CHARS + "\nendpoints: []\n")
    assert str(caught.value) == (
        f"{tmp_path / 'gatus.yaml'}: is larger than {MAX_CHARS:,} characters, more than a "
        "Gatus file needs"
    )


def test_aliases_and_merge_keys_within_the_bound_still_read(tmp_path: Path) -> None:
    """What people write with anchors (a shared block merged into each endpoint) imports
    as before."""
    text = (
        "defaults: &defaults {interval: 30s, conditions: ['[STATUS] == 200']}\n"
        "endpoints:\n"
        "  - {<<: *defaults, name: a, url: 'http://127.0.0.1:9/a'}\n"
        "  - {<<: *defaults, name: b, url: 'http://127.0.0.1:9/b'}\n"
    )
    (tmp_path / "gatus.yaml").write_text(text)
    imported = import_gatus(str(tmp_path / "gatus.yaml"))
    names = [m["name"] for m in imported.config["monitors"]]
    assert names == ["a", "b"]


@pytest.mark.parametrize(
    ("write", "text", "says"),
    [
        (
            _gatus,
            'endpoints:\n  - name: api\n    url: "http://127.0.0.1:9/"\n'
            '    headers: {X-Team: "ops\\x1b[2J"}\n',
            "endpoints[0].headers.X-Team: holds a control character (U+001B)",
        ),
        (
            _prometheus,
            JOB.replace("job_name: web", 'job_name: "web\\uffff"'),
            "scrape_configs[0].job_name: holds a noncharacter",
        ),
    ],
    ids=["gatus-escape", "prometheus-noncharacter"],
)
def test_text_no_page_can_carry_is_one_line_naming_the_field(
    tmp_path: Path, write: Callable[[Path, str], None], text: str, says: str
) -> None:
    """The one gate for text from outside holds another tool's file too (issue 72 §1): a
    control character or a noncharacter in it is one line naming the file and the field
    (a NUL or a lone surrogate was left out silently, the rest carried over)."""
    with pytest.raises(ImportFailed) as raised:
        write(tmp_path, text)
    assert says in str(raised.value)
    assert str(raised.value).startswith(str(tmp_path))
