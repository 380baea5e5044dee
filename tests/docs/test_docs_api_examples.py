"""docs/monitor.md's write-API examples with curl run as written, against a live monitor.

The console block under "Changing things at run time" is read from the file, each ``$
curl`` command (with its continuation lines) is run by a real curl through ``sh`` with
``localhost:8800`` pointed at a monitor served on loopback (tests/helpers/actions_harness.py)
and ``$TETHER_TOKEN`` set to a token of that monitor's, and what each command prints
must be what the block shows after it, where it shows anything.  curl sends ``-d``
bodies as a form (``application/x-www-form-urlencoded``): issue 24 found that the API
answered ``unknown field '{"reason": ...}'`` to the first example.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.actions_harness import Served
from tests.helpers.docs_blocks import blocks, steps
from tether.lab import Lab
from tether.monitor.config._passwords import hash_token

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tether-docs-example-token-5c1f"


def _block() -> list[tuple[str, list[str]]]:
    """Each ``$ curl`` command of the write API's console block, with the lines the
    docs show it printing."""
    found = [b for b in blocks("monitor.md", "console") if b.startswith("$ curl -s -X POST")]
    assert found, "docs/monitor.md has no console block of write-API curl examples"
    return steps(found[0])


@pytest.fixture
def served(lab: Lab, tmp_path: Path) -> Iterator[Served]:
    """The monitors the examples name (api, web, db), and a write token."""
    healthy = lab["healthy"].url
    monitors = [
        {"name": "api", "url": healthy, "interval": "1h"},
        {"name": "web", "url": healthy, "interval": "1h"},
        {"name": "db", "url": healthy, "interval": "1h"},
    ]
    tokens = [{"name": "docs", "hash": hash_token(TOKEN), "scope": "write"}]
    s = Served(tmp_path / "docs.db", lab, extra={"monitors": monitors, "tokens": tokens})
    yield s
    s.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_write_api_examples_run_as_written(served: Served) -> None:
    """Every curl example exits 0 and prints JSON without an error; one whose output the
    docs show prints exactly that."""
    commands = _block()
    assert len(commands) >= 3
    env = {**os.environ, "TETHER_TOKEN": TOKEN}
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(name, None)
    for command, shown in commands:
        live = command.replace("localhost:8800", f"127.0.0.1:{served.port}")
        done = subprocess.run(
            ["sh", "-c", live + " -w '\\n%{http_code}'"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, (command, done.stderr)
        body, _, status = done.stdout.rpartition("\n")
        assert status.startswith("2"), (command, status, body)
        doc = json.loads(body)
        assert "error" not in doc, (command, doc)
        if shown:
            assert body.splitlines() == shown, (command, body)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_a_form_body_from_a_script_gets_json_not_a_redirect(served: Served) -> None:
    """``curl -d reason=...`` with a token is a script, not a page's form: the answer is
    the JSON, not the 303 back to a page that a browser's form gets (issue 24)."""
    url = f"http://127.0.0.1:{served.port}/api/monitors/db/pause"
    done = subprocess.run(
        [
            *("curl", "-s", "-X", "POST", url),
            *("-H", f"Authorization: Bearer {TOKEN}", "-d", "reason=upgrade"),
            *("-w", "\n%{http_code}"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    body, _, status = done.stdout.rpartition("\n")
    assert status == "200", (status, body)
    assert json.loads(body) == {"monitor": "db", "paused": True, "state": "paused", "changed": True}


def _cli_block() -> list[tuple[str, list[str]]]:
    """The console block of ``tether`` commands after the curl one: each command and
    what the docs show it printing."""
    text = (ROOT / "docs/monitor.md").read_text()
    found = re.search(r"```console\n(\$ tether pause api .*?)```", text, re.S)
    assert found, "docs/monitor.md has no console block of write commands"
    out: list[tuple[str, list[str]]] = []
    for line in found.group(1).splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        else:
            out[-1][1].append(line)
    return out


def _shape(shown: str) -> str:
    """What a printed line must match: the docs' line with its numbers and times free."""
    return "".join(
        r"\d+(?:\.\d+)?" if part.isdigit() else re.escape(part)
        for part in re.split(r"(\d+)", shown)
    ).replace(r"\d+(?:\.\d+)?\.\d+(?:\.\d+)?", r"\d+(?:\.\d+)?")


def test_the_write_commands_run_as_written(served: Served, lab: Lab) -> None:
    """Every `tether` command of the block runs as written against the live monitor
    (`$TETHER_SERVER` and `$TETHER_TOKEN` set as the docs say; `--server` pointed at
    it), exits 0, and prints the line the docs show, its numbers and times aside.  The
    store holds what the ids in the docs name: incident 7 open, windows 1 and 2 made."""
    from tether._kinds import Kind
    from tether.monitor._records import Incident

    store = served.store
    for _ in range(6):
        store.new_incident_id()
    seven = Incident(
        store.new_incident_id(), "host:127.0.0.1:9:connect.refused", Kind.CONNECT_REFUSED,
        "refused", "start it", served.now, monitors=("api",),
    )  # fmt: skip
    assert seven.id == 7
    store.open_incident(seven)
    store.flush()
    for _ in range(2):
        made = served.post(
            "/api/maintenance", {"monitors": ["web"], "for": "1m", "reason": "earlier"}
        )
        assert made[0] == 201, made
    env = {
        **os.environ,
        "TETHER_SERVER": f"http://127.0.0.1:{served.port}",
        "TETHER_TOKEN": TOKEN,
        "NO_COLOR": "1",
    }
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(name, None)
    for command, shown in _cli_block():
        live = command.replace("127.0.0.1:8800", f"127.0.0.1:{served.port}")
        done = subprocess.run(
            ["sh", "-c", live], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        printed = done.stdout.splitlines()
        assert len(printed) == len(shown), (command, printed, shown)
        for line, expected in zip(printed, shown, strict=True):
            assert re.fullmatch(_shape(expected), line), (command, line, expected)
