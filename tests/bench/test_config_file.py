"""benchmarks/_config_file.py's files, read by tether's own loader: ``own_paths`` gives each
monitor a URL of its own, as in a real fleet (bench_mass.py ``--url-per-monitor``)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from tests.helpers.bench_runs import bench_module
from tether.monitor import load_config


def config_file() -> ModuleType:
    return bench_module("_config_file")


def test_own_paths_give_each_monitor_a_url_of_its_own(tmp_path: Path) -> None:
    """Through the file: with ``own_paths`` five monitors on two addresses have five URLs,
    each ending in its monitor's name; without it, two."""
    write = config_file().write_config
    urls = ["127.0.60.1:8080", "127.0.60.2:8080"]
    shared = load_config(write(tmp_path / "shared", "file", urls, 5, 60, top={}))
    own = load_config(write(tmp_path / "own", "file", urls, 5, 60, top={}, own_paths=True))
    assert len({m.url for m in shared.monitors}) == 2
    assert len({m.url for m in own.monitors}) == 5
    assert all(m.url.endswith(f"/health/{m.name}") for m in own.monitors)


def test_own_paths_through_discovery_name_the_monitor_in_the_template(tmp_path: Path) -> None:
    """Through ``discover:``: the template's URL ends in the discovered monitor's name, and
    the file loads."""
    write = config_file().write_config
    path = write(tmp_path, "discover", ["127.0.60.1:8080"], 3, 60, top={}, own_paths=True)
    assert "url: 'http://{{address}}/health/{{labels.n}}'" in path.read_text()
    assert load_config(path).discover
