"""Every lab scenario through every client library, for real, classified.

One concurrent run of the whole matrix feeds one test per cell, so a failure
names its scenario and client.  DNS and unreachable-route scenarios run in a
private network namespace (``unshare -rmn``) whose resolver is the lab's.
"""

from __future__ import annotations

import gc
import os
import warnings
from pathlib import Path

import pytest

from tether.lab._cases import CLIENTS, IPV6_BLACKHOLE, IPV6_FIRST, Case
from tether.lab._matrix import (
    BROWSER_SCENARIOS,
    DNSSEC_SCENARIOS,
    GRPC_SCENARIOS,
    available,
    matrix_lab,
    matrix_markdown,
    netns_available,
    planned,
    run_in_netns,
    run_matrix,
)

DOCS = Path(__file__).parents[2] / "docs"
LOCAL = planned(netns=False)
NETNS = planned(netns=True)

# Cells where the library keeps the fact but tether's classifier does not read
# it yet: the expected kind stays the true one, and these fail strictly once fixed.
CLASSIFY_GAPS: dict[tuple[str, str], str] = {}


def _cells(pairs: list[tuple[str, str]]) -> list[object]:
    return [
        pytest.param(
            s,
            c,
            id=f"{s}-{c}",
            marks=[pytest.mark.xfail(reason=CLASSIFY_GAPS[s, c], strict=True)]
            if (s, c) in CLASSIFY_GAPS
            else [],
        )
        for s, c in pairs
    ]


@pytest.fixture(scope="session")
def local_cases() -> dict[tuple[str, str], Case]:
    # Its own lab, not the session's: the matrix's drips at DRIP_INTERVAL, so a call the
    # table says hangs is not cut by the read timeout on a loaded machine.
    # Client libraries leak sockets and event-loop transports when their
    # requests fail (or hang, in slow_drip): that is their behaviour under
    # test, not tether's, so their ResourceWarnings are collected here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        with matrix_lab() as lab:
            cases = run_matrix(lab)
        gc.collect()
    return {(c.scenario, c.client): c for c in cases}


@pytest.fixture(scope="session")
def netns_cases() -> dict[tuple[str, str], Case]:
    why_not = netns_available()
    if why_not is not None:
        if os.environ.get("TETHER_REQUIRE_NETNS"):
            pytest.fail(f"TETHER_REQUIRE_NETNS is set but no namespace can be made: {why_not}")
        pytest.skip(f"no private network namespace here: {why_not}")
    return {(c.scenario, c.client): c for c in run_in_netns()}


def _check(case: Case | None, client: str) -> None:
    if not available(client):
        pytest.skip(f"{client} is not installed")
    assert case is not None, "the run made no such case"
    assert case.kind == case.expected, (
        f"{case.client} raised {case.raised}: {case.message!r}; tether said {case.kind}, "
        f"expected {case.expected}"
    )


@pytest.mark.parametrize(("scenario", "client"), _cells(LOCAL))
def test_local(scenario: str, client: str, local_cases: dict[tuple[str, str], Case]) -> None:
    """The client's real failure on loopback is classified as the scenario's kind."""
    _check(local_cases.get((scenario, client)), client)


@pytest.mark.netns
@pytest.mark.parametrize(("scenario", "client"), _cells(NETNS))
def test_in_namespace(scenario: str, client: str, netns_cases: dict[tuple[str, str], Case]) -> None:
    """Through the system resolver and real routes, the failure gets the scenario's kind."""
    _check(netns_cases.get((scenario, client)), client)


@pytest.mark.netns
@pytest.mark.parametrize("client", [c for c in CLIENTS if (IPV6_BLACKHOLE, c) in NETNS])
def test_ipv6_blackhole_is_a_delay(client: str, netns_cases: dict[tuple[str, str], Case]) -> None:
    """Clients that try IPv6 first lose a whole connect timeout to it; those that race
    IPv4 against it (Happy Eyeballs) lose a fraction: the dropped SYNs are really dropped."""
    case = netns_cases.get((IPV6_BLACKHOLE, client))
    _check(case, client)
    assert case is not None
    assert case.outcome == "ok"
    assert case.elapsed is not None
    if client in IPV6_FIRST:
        assert case.elapsed >= IPV6_FIRST[client]
    else:
        assert case.elapsed < min(IPV6_FIRST.values())


def test_classification_gaps_are_real_cells() -> None:
    """Each known classification gap names a cell the matrix runs."""
    assert set(CLASSIFY_GAPS) <= set(LOCAL + NETNS)


def test_every_failing_scenario_is_exercised() -> None:
    """Each kind the lab claims to produce is triggered by at least one client."""
    from tether.lab import SPECS

    covered = {s for s, _ in LOCAL + NETNS}
    # The grpc_* scenarios are a grpc:// probe's (tests/lab/test_lab_grpc.py), the page_* ones
    # a browser check's (tests/lab/test_lab_browser.py), the dnssec_* ones a dns:// check's
    # (tests/lab/test_lab_dnssec.py): not a client's.
    not_clients = {"flapping", *GRPC_SCENARIOS, *BROWSER_SCENARIOS, *DNSSEC_SCENARIOS}
    assert {name for name, kind, _ in SPECS if kind} - covered <= not_clients


def test_matrix_doc_is_current(
    local_cases: dict[tuple[str, str], Case], netns_cases: dict[tuple[str, str], Case]
) -> None:
    """docs/matrix.md says what this run saw (messages aside, which carry timings)."""
    fresh = matrix_markdown([*local_cases.values(), *netns_cases.values()])
    assert _rows(fresh) == _rows((DOCS / "matrix.md").read_text()), (
        "docs/matrix.md is stale: regenerate with `tether lab --matrix --markdown > docs/matrix.md`"
    )


def _rows(markdown: str) -> list[tuple[str, ...]]:
    """Table rows without the message column, which varies with timing and versions."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("| scenario"):
            cells = [c.strip() for c in line.split(" | ")]
            rows.append((cells[0], cells[1], cells[2], *cells[4:]))
    return rows
