"""`tether diagnose dns://NAME --dnssec`, as a subprocess, against the lab's dnssec_*
scenarios: its DNS server on loopback, its signed tree and its trust anchor."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tether import _extras
from tether.cli import main
from tether.lab import Lab
from tether.lab._lab import DNSSEC_SCENARIOS


def _tether(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tether.cli", "diagnose", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _json(lab: Lab, target: str, *args: str) -> tuple[int, dict[str, Any]]:
    done = _tether(target, "--json", "--resolver", lab.resolver, "--timeout", "2", *args)
    assert not done.stderr, done.stderr
    (line,) = done.stdout.splitlines()
    return done.returncode, json.loads(line)


@pytest.mark.parametrize("name", sorted(DNSSEC_SCENARIOS))
def test_each_scenario_gives_its_kind_in_the_dnssec_phase(lab: Lab, name: str) -> None:
    """With the scenario's anchor, the verdict is the scenario's kind, in the dnssec phase
    after a dns phase that passed; exit 0 for dnssec_ok, 1 for the others."""
    scenario = lab[name]
    assert scenario.trust_anchor is not None
    code, result = _json(lab, scenario.url, "--dnssec", "--trust-anchor", scenario.trust_anchor)
    kind = scenario.kind.value if scenario.kind else None
    assert (result["failure"] or {}).get("kind") == kind, result["failure"]
    assert code == (0 if kind is None else 1)
    assert [(p["name"], p["ok"]) for p in result["phases"]] == [
        ("url", True),
        ("dns", True),
        ("dnssec", kind is None),
    ]
    assert result["phases"][-1]["anchor"] == "dnssec.lab.test."


def test_the_text_view_shows_the_chain(lab: Lab) -> None:
    """The dnssec phase's line names the anchor, the zones proven and the signer."""
    done = _tether(
        lab["dnssec_ok"].url, "--dnssec", "--trust-anchor", lab.trust_anchor,
        "--resolver", lab.resolver,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("  dnssec "))
    assert "ok" in line
    assert line.endswith(
        "secure from dnssec.lab.test.: dnssec.lab.test. → ok.dnssec.lab.test., "
        "signed by ok.dnssec.lab.test."
    )
    bogus = _tether(
        lab["dnssec_bogus"].url, "--dnssec", "--trust-anchor", lab.trust_anchor,
        "--resolver", lab.resolver,
    )  # fmt: skip
    assert bogus.returncode == 1
    assert "not proven from dnssec.lab.test. (keys proven: dnssec.lab.test. → " in bogus.stdout
    assert "dns.dnssec_bogus (DNSSEC" in bogus.stdout


def test_an_anchor_file_and_a_dnskey_anchor_work(lab: Lab, tmp_path: Path) -> None:
    """--trust-anchor may name a file of records (comments allowed), or give the key."""
    anchor = tmp_path / "anchor.ds"
    anchor.write_text(f"; tether lab's anchor\n{lab.trust_anchor}\n")
    code, result = _json(lab, lab["dnssec_ok"].url, "--dnssec", "--trust-anchor", str(anchor))
    assert (code, result["failure"]) == (0, None)
    assert lab.dnssec is not None
    key = lab.dnssec.anchor_dnskey
    code, result = _json(lab, lab["dnssec_ok"].url, "--dnssec", "--trust-anchor", key)
    assert (code, result["failure"]) == (0, None)


def test_without_an_anchor_the_chain_starts_at_the_root(lab: Lab) -> None:
    """No --trust-anchor: the root's KSK, whose zone the lab's server does not serve:
    the chain cannot start (and nothing is asked of any other server)."""
    code, result = _json(lab, lab["dnssec_ok"].url, "--dnssec")
    assert code == 1
    assert result["phases"][-1]["anchor"] == "."
    assert result["failure"]["kind"] == "dns.dnssec_insecure"
    assert "has no DNSKEY for ., the trust anchor's zone" in result["failure"]["detail"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ("http://127.0.0.1:9/", "--dnssec"),
            "--dnssec validates a dns://NAME target's answer, not http://127.0.0.1:9/",
        ),
        (
            ("dns://ok.dnssec.lab.test", "tls://127.0.0.1:9", "--dnssec"),
            "--dnssec validates a dns://NAME target's answer, not tls://127.0.0.1:9",
        ),
        (
            ("dns://ok.dnssec.lab.test", "--trust-anchor", "anchor.ds"),
            "--trust-anchor 'anchor.ds': give it with --dnssec",
        ),
        (
            ("dns://ok.dnssec.lab.test", "--dnssec", "--trust-anchor", "corp.test. A 127.0.0.1"),
            "--trust-anchor: 'corp.test. A 127.0.0.1' is not a DS or DNSKEY record",
        ),
        (
            ("dns://ok.dnssec.lab.test", "--dnssec", "--trust-anchor", "/nonexistent/anchor"),
            "--trust-anchor: cannot read the trust anchor file /nonexistent/anchor",
        ),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args: tuple[str, ...], said: str) -> None:
    """--dnssec with a target that is not dns://, --trust-anchor alone, or an anchor that is
    not one: one line on standard error, exit 2, nothing probed (the resolver named is a
    closed loopback port, so that a probe made by mistake asks nothing of the machine's)."""
    done = _tether(*args, "--resolver", "127.0.0.1:9")
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"tether diagnose: {said}"), line


def test_a_target_s_credentials_are_not_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    """The usage error names a target with its password redacted."""
    assert main(["diagnose", "https://user:hunter2@127.0.0.1:9/", "--dnssec"]) == 2
    err = capsys.readouterr().err
    assert "hunter2" not in err
    assert "--dnssec validates a dns://NAME target's answer" in err


def test_a_missing_dnssec_extra_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without cryptography (tether[dnssec]), --dnssec is refused naming the extra (the
    module is hidden from tether's extras check: it is installed here)."""
    real = _extras._importable
    monkeypatch.setattr(_extras, "_importable", lambda m: m != "cryptography" and real(m))
    assert (
        main(["diagnose", "dns://ok.dnssec.lab.test", "--dnssec", "--resolver", "127.0.0.1:9"]) == 2
    )
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "tether diagnose: --dnssec needs tether[dnssec] (missing: cryptography): "
        "pip install 'tether[dnssec]'\n"
    )


def test_the_docs_example_runs_as_written(lab: Lab, tmp_path: Path) -> None:
    """docs/diagnose.md's DNSSEC example, against this lab (its resolver's port, its anchor
    in anchor.ds): the same phases, marks and summaries, the same verdict (the times and
    the signature's dates aside)."""
    doc = (Path(__file__).parents[2] / "docs" / "diagnose.md").read_text()
    section = doc.split("### DNSSEC\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```text\n(.*?)```", section, re.S)
    command, *shown = block.splitlines()
    words = command.removeprefix("$ tether ").replace("127.0.0.1:5353", lab.resolver).split()
    (tmp_path / "anchor.ds").write_text(lab.trust_anchor + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "tether.cli", *words],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    got = done.stdout.replace(lab.resolver, "127.0.0.1:5353").splitlines()[: len(shown)]
    assert [_comparable(line) for line in got] == [_comparable(line) for line in shown]


def _comparable(line: str) -> str:
    """A line of the text view without its time, bar and dates."""
    line = re.sub(r"\s+[\d.]+ ms\s+\S+\s+", " ", line)
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", "DATE", line)
