"""The docs' fenced blocks, read as the tests that run them need them: every block of
one language in a file, and a console block's commands with what each shows."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def blocks(doc: str, lang: str) -> list[str]:
    """Every ``lang`` block of ``docs/doc``, in order."""
    text = (ROOT / "docs" / doc).read_text()
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def steps(block: str) -> list[tuple[str, list[str]]]:
    """A console block's ``$`` commands (continuation lines joined) and what each shows."""
    out: list[tuple[str, list[str]]] = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        assert lines[i].startswith("$ "), lines[i]
        command = lines[i][2:]
        while command.endswith("\\"):
            i += 1
            command = command[:-1] + lines[i].strip()
        i += 1
        shown = []
        while i < len(lines) and not lines[i].startswith("$ "):
            shown.append(lines[i])
            i += 1
        out.append((command, shown))
    return out


MARK = "@@tether-docs-step@@"


def run_console(
    block: str, cwd: Path, env: dict[str, str], port: int | None = None
) -> list[tuple[str, list[str]]]:
    """Run a console block's commands in one ``sh``, in order (so ``echo $?`` is the
    previous command's code), each with its output and errors together, as a terminal
    shows them; each command with the lines it printed.  With ``port``, the docs' address
    of a monitor (``localhost:8800``, ``127.0.0.1:8800``) is the one on that port."""
    import subprocess

    commands = steps(block)
    script = ""
    for n, (command, _) in enumerate(commands):
        live = command
        if port is not None:
            live = re.sub(r"(localhost|127\.0\.0\.1):8800", f"127.0.0.1:{port}", command)
        # The marker keeps the last command's code for an `echo $?` after it.
        script += f"rc=$?; echo {MARK}{n}; (exit $rc); {{ {live} ; }} 2>&1\n"
    done = subprocess.run(
        ["sh", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    parts = re.split(rf"^{MARK}\d+\n", done.stdout, flags=re.M)[1:]
    assert len(parts) == len(commands), (done.stdout, done.stderr)
    return [(c, p.splitlines()) for (c, _), p in zip(commands, parts, strict=True)]
