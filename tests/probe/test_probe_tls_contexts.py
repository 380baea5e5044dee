"""SSL contexts are built once per trust configuration and shared; the tls phase times
the handshake only, not the loading of a trust store."""

from __future__ import annotations

import os
import shutil
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tether.lab import Lab
from tether.probe import ProbeOptions, _tls, probe


class Builds:
    """Wraps the real builder: records each trust it builds a context for, and moves the
    probe's clock on by ``cost`` seconds while it builds (nothing else moves it)."""

    def __init__(self, cost: float = 0.0) -> None:
        self.trusts: list[_tls.Trust] = []
        self.cost = cost
        self.now = 0.0
        self._real = _tls.build

    def __call__(self, t: _tls.Trust) -> ssl.SSLContext:
        self.trusts.append(t)
        self.now += self.cost
        return self._real(t)

    def clock(self) -> float:
        return self.now


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[Builds]:
    """A fresh cache whose every build is recorded."""
    recorder = Builds()
    monkeypatch.setattr(_tls, "build", recorder)
    _tls.CONTEXTS.clear()
    yield recorder
    _tls.CONTEXTS.clear()


def test_probes_with_the_same_trust_share_one_context(lab: Lab, builds: Builds) -> None:
    """Two probes with the same CA file build one verifying context between them."""
    options = ProbeOptions(cacert=lab.ca_file, timeout=2, env={})
    first = probe(lab["tls_ok"].url, options)
    second = probe(lab["tls_ok"].url, options)
    assert first.ok, first.failure
    assert second.ok, second.failure
    assert [(t.cafile, t.verify) for t in builds.trusts] == [(lab.ca_file, True)]
    assert _tls.context(lab.ca_file, verify=True) is _tls.context(lab.ca_file, verify=True)


def test_a_different_trust_gets_its_own_context(lab: Lab, builds: Builds) -> None:
    """Verifying and non-verifying contexts, and different CA files, are never shared."""
    verifying = _tls.context(lab.ca_file, verify=True)
    assert _tls.context(lab.ca_file, verify=False) is not verifying
    assert _tls.context(None, verify=True) is not verifying
    assert _tls.context(lab.ca_file, verify=False).verify_mode == ssl.CERT_NONE
    assert verifying.verify_mode == ssl.CERT_REQUIRED
    assert len(builds.trusts) == 3


def test_a_replaced_ca_file_is_read_again(lab: Lab, builds: Builds, tmp_path: Path) -> None:
    """A CA file changed on disk under the same path (as a monitor's config may point at)
    gets a new context at the next probe: first untrusted, then trusted."""
    ca_file = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    options = ProbeOptions(cacert=str(ca_file), timeout=2, env={})
    before = probe(lab["tls_ok"].url, options)
    assert before.failure is not None
    assert before.failure.kind.value == "tls.untrusted"
    fresh = tmp_path / "new.pem"
    shutil.copyfile(lab.ca_file, fresh)
    os.replace(fresh, ca_file)
    after = probe(lab["tls_ok"].url, options)
    assert after.ok, after.failure
    verifying = [t for t in builds.trusts if t.verify]
    assert len(verifying) == 2
    assert verifying[0].files[0] != verifying[1].files[0]


def test_the_cache_is_bounded_least_recently_used_first(builds: Builds) -> None:
    """Past its size the cache forgets the context used longest ago."""
    cache = _tls.Contexts(size=2)
    a, b, c = (_tls.Trust(None, True, alpn, ()) for alpn in (("a",), ("b",), ("c",)))
    first_a = cache.get(a)
    cache.get(b)
    assert cache.get(a) is first_a  # a is now the most recent
    cache.get(c)  # b goes
    assert len(cache) == 2
    assert cache.get(a) is first_a
    cache.get(b)
    assert [t.alpn for t in builds.trusts] == [("a",), ("b",), ("c",), ("b",)]


def test_threads_asking_at_once_share_one_build(builds: Builds) -> None:
    """Eight threads asking for the same new trust at once get one context, built once."""
    cache = _tls.Contexts()
    t = _tls.trust(None, verify=True)
    got: list[ssl.SSLContext] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        got.append(cache.get(t))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(got) == 8
    assert len({id(ctx) for ctx in got}) == 1
    assert len(builds.trusts) == 1


@pytest.mark.parametrize("scenario", ["tls_ok", "tls_expired"])
def test_the_tls_phase_times_the_handshake_only(scenario: str, lab: Lab, builds: Builds) -> None:
    """With a clock that moves only while a context is built, the tls phase takes no time:
    the verifying context is built before the phase starts, and the second, unverified
    look at a failed certificate is after its end."""
    builds.cost = 10.0
    options = ProbeOptions(cacert=lab.ca_file, timeout=2, env={})
    result = probe(lab[scenario].url, options, clock=builds.clock)
    tls = result.phase("tls")
    assert tls is not None
    assert tls.ok is (scenario == "tls_ok")
    expected = [True] if scenario == "tls_ok" else [True, False]
    assert [t.verify for t in builds.trusts] == expected  # the clock did move, by this much
    assert builds.now == 10.0 * len(expected)
    assert tls.ms == 0.0
    assert sum(p.ms for p in result.phases) == 0.0
