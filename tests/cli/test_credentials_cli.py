"""`tether hash-password` and `tether new-token` as a person runs them: real processes,
their output pasted into a real configuration, which the monitor's own loader takes and
whose hashes tether's own checks accept (and refuse for anything else)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import yaml

from tests.helpers.tether_processes import SRC, tether
from tether.monitor.config import parse_config
from tether.monitor.config._passwords import (
    hash_token,
    parse_password_hash,
    parse_token_hash,
    verify_password,
)

PASSWORD = "correct horse battery staple"


def config_with(section: str, entry: str) -> str:
    """A configuration with one monitor and ``entry`` (a printed YAML list item) under
    ``section``, as a person pastes it."""
    return (
        textwrap.dedent(
            """\
        monitors:
          - name: web
            url: http://127.0.0.1:9/
        """
        )
        + f"{section}:\n{entry}"
    )


def test_hash_password_reads_a_line_and_prints_a_hash_that_verifies() -> None:
    """The password from standard input is hashed with scrypt; the hash verifies that
    password and no other, and the password itself is never printed."""
    code, out, err = run_with_input(["hash-password"], PASSWORD + "\n")
    assert (code, err) == (0, "")
    (line,) = out.splitlines()
    assert line.startswith("scrypt$")
    assert PASSWORD not in out
    stored = parse_password_hash(line)
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "!", stored)
    again = run_with_input(["hash-password"], PASSWORD + "\n")[1].strip()
    assert again != line  # a fresh salt each time
    assert verify_password(PASSWORD, parse_password_hash(again))


def test_hash_password_with_user_prints_an_entry_the_configuration_takes() -> None:
    """--user prints a users: entry; pasted under users:, the configuration loads and
    holds that user with a hash of the password."""
    code, out, err = run_with_input(["hash-password", "--user", "alice"], PASSWORD + "\n")
    assert (code, err) == (0, "")
    config = parse_config(config_with("users", out))
    (user,) = config.users
    assert user.name == "alice"
    assert PASSWORD not in out
    assert verify_password(PASSWORD, parse_password_hash(yaml.safe_load(out)[0]["password_hash"]))


def test_hash_password_refuses_an_empty_password() -> None:
    """An empty line is refused in one line, exit 1, nothing on standard output."""
    code, out, err = run_with_input(["hash-password"], "\n")
    assert (code, out, err) == (1, "", "tether hash-password: the password is empty\n")


def test_new_token_prints_the_token_once_and_an_entry_with_its_hash() -> None:
    """The token is printed once; the tokens: entry holds its SHA-256 hash (not the token)
    with the scope asked for, and the configuration takes it."""
    code, out, err = tether("new-token", "ci", "--scope", "write")
    assert (code, err) == (0, "")
    first, *entry = out.splitlines()
    token = first.rsplit(" ", 1)[1]
    assert out.count(token) == 1
    config = parse_config(config_with("tokens", "\n".join(entry[1:]) + "\n"))
    (made,) = config.tokens
    assert (made.name, made.scope) == ("ci", "write")
    assert parse_token_hash(yaml.safe_load("\n".join(entry[1:]))[0]["hash"]) == parse_token_hash(
        hash_token(token)
    )
    other = tether("new-token", "ci")[1].splitlines()[0].rsplit(" ", 1)[1]
    assert other != token


def run_with_input(args: list[str], text: str) -> tuple[int, str, str]:
    """``tether ARGS`` as a process with ``text`` on its standard input (not a terminal)."""
    done = subprocess.run(
        [sys.executable, "-m", "tether.cli", *args],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": SRC},
        check=False,
    )
    return done.returncode, done.stdout, done.stderr
