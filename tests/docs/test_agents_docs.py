"""docs/agents.md as written: its YAML loads, its table's rows pass and fail as they say,
`tether new-token` prints what it shows (and its entry loads), the systemd unit's command
line is one `tether agent` takes, and the refused-token line is what the agent prints
against a server on loopback (tests/helpers/agent_stub.py)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from tests.helpers.agent_stub import AgentStub
from tests.helpers.config_text import dump, errors_of
from tests.helpers.docs_blocks import ROOT, blocks, steps
from tests.helpers.tether_processes import tether
from tether.cli import _parser
from tether.monitor.config import parse_config

DOC = "agents.md"


def _table_rows() -> list[str]:
    page = (ROOT / "docs" / DOC).read_text()
    return [line for line in page.splitlines() if line.startswith("| `agents.")]


def test_the_yaml_loads_with_the_defaults_it_states() -> None:
    """The server's example loads: its agent token is bound to branch-1, a location of the
    file, and the agents: values are the defaults the comments say."""
    (server,) = blocks(DOC, "yaml")
    config = parse_config(server)
    (token,) = config.tokens
    assert (token.scope, token.location) == ("agent", "branch-1")
    assert "branch-1" in config.locations
    assert (
        config.agents == parse_config("monitors:\n  - {name: a, url: http://127.0.0.1:9/}\n").agents
    )


def test_each_row_of_the_settings_table_passes_and_fails_as_it_says() -> None:
    """Each row's passing example loads; its failing one gives exactly its error."""
    rows = _table_rows()
    assert len(rows) == 5
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        passes, fails = cells[3], cells[4]
        good = yaml.safe_load(passes.strip("`"))
        assert parse_config(dump(agents=good, locations=["local", "b"])).agents, row
        given, error = re.fullmatch(r"`(.*)` → `(.*)`", fails).groups()  # type: ignore[union-attr]
        bad = dump(agents=yaml.safe_load(given), locations=["local", "b"])
        assert errors_of(bad) == [error], row


def test_new_token_prints_what_the_page_shows_and_its_entry_loads() -> None:
    """The console example's command prints lines shaped as shown; its entry, put in the
    server's example instead of the page's, loads as an agent token of branch-1."""
    console = next(b for b in blocks(DOC, "console") if "new-token" in b)
    ((command, shown),) = steps(console)
    code, out, err = tether(*shlex.split(command)[1:])
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == len(shown) == 3
    for printed, doc in zip(lines, shown, strict=True):  # "tether_Xf3k...": random there
        pattern = r"[\w$-]+".join(re.escape(p) for p in re.split(r"[\w$]*\.\.\.", doc))
        assert re.fullmatch(pattern, printed), (doc, printed)
    (server,) = blocks(DOC, "yaml")
    pasted = re.sub(r"tokens:\n  - .*\n", f"tokens:\n{lines[2]}\n", server)
    (token,) = parse_config(pasted).tokens
    assert (token.name, token.scope, token.location) == ("branch-1-agent", "agent", "branch-1")


def test_the_systemd_unit_runs_a_command_tether_agent_takes() -> None:
    """ExecStart's arguments parse as `tether agent`'s, with a token file and a spool."""
    (unit,) = blocks(DOC, "ini")
    line = next(x for x in unit.splitlines() if x.startswith("ExecStart="))
    words = shlex.split(line.removeprefix("ExecStart="))
    assert words[0].endswith("/tether")
    args = _parser().parse_args(words[1:])
    assert (args.command, args.location) == ("agent", "branch-1")
    assert args.token_file.endswith("/token")
    assert args.spool.endswith("/agent.spool")


def test_the_refused_token_lines_are_what_the_agent_prints(tmp_path: Path) -> None:
    """The page's running example, pointed at a server on loopback that does not know
    the token, with --give-up-after 2s for the page's 2m: the refusal said once as the
    page shows it, then exit 2 and the very last line the page shows."""
    console = next(b for b in blocks(DOC, "console") if "tether agent" in b)
    ((command, _),) = steps(console)
    env_part, *words = shlex.split(command)
    name, value = env_part.split("=", 1)
    lines = [line for b in blocks(DOC, "text") for line in b.splitlines() if "refused" in line]
    warned = next(line for line in lines if line.startswith("warning "))
    last = next(line for line in lines if line.startswith("tether agent: "))
    with AgentStub([]).running() as stub:
        words[words.index("--server") + 1] = stub.url
        code, out, err = tether(
            *words[1:], "--spool", f"{tmp_path}/s.spool", "--give-up-after", "2s",
            env={name: value},
        )  # fmt: skip
    assert code == 2
    assert out == ""
    said = err.splitlines()
    assert said[-1] == last.replace(" for 2m:", " for 2s:")
    assert [line.partition(" ")[2] for line in said[:-1]] == [warned.replace("for 2m", "for 2s")]
