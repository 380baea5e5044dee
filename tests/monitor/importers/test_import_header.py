"""The printed header of an imported configuration: what a source names reaches it, and
a line break there would end the comment and put the rest into the configuration."""

from __future__ import annotations

import yaml

from tether.monitor.importers import Imported, LeftOut, to_yaml


def test_a_name_with_a_line_break_stays_in_its_comment() -> None:
    """A Kuma monitor or a Gatus endpoint named ``x\\nstorage: ...`` is left out with its
    name written escaped: the YAML holds the configuration alone."""
    imported = Imported(
        {"monitors": [{"name": "api", "url": "http://127.0.0.1:9/"}]},
        (LeftOut("monitor 7 (x\nstorage: {path: /tmp/evil.db}\n#)", "a type\rtether lacks"),),
        source="Uptime Kuma 2.x (kuma\u001b[31m.db)",
        notes=("a note\nserver: {listen: '0.0.0.0:80'}",),
    )
    text = to_yaml(imported)
    assert yaml.safe_load(text) == {"monitors": [{"name": "api", "url": "http://127.0.0.1:9/"}]}
    head = [line for line in text.splitlines() if line.startswith("#")]
    assert "#   monitor 7 (x\\nstorage: {path: /tmp/evil.db}\\n#): a type\\rtether lacks" in head
    assert "# a note\\nserver: {listen: '0.0.0.0:80'}" in head
    assert "\x1b" not in text
