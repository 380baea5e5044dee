"""The public face: a small sorted __all__, stable kind codes, no eager HTTP imports."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import tether
from tether import CATALOGUE, Kind, Layer

STABLE_CODES = [
    "url.invalid",
    "proxy.unreachable",
    "proxy.auth_required",
    "proxy.rejected",
    "dns.not_found",
    "dns.no_address",
    "dns.unavailable",
    "dns.timeout",
    "dns.dnssec_bogus",
    "dns.dnssec_expired",
    "dns.dnssec_insecure",
    "connect.refused",
    "connect.timeout",
    "connect.unreachable",
    "connect.resource_exhausted",
    "tls.expired",
    "tls.hostname_mismatch",
    "tls.self_signed",
    "tls.untrusted",
    "tls.protocol",
    "tls.timeout",
    "connection.reset",
    "connection.closed",
    "connection.broken_pipe",
    "connection.aborted",
    "write.timeout",
    "read.timeout",
    "deadline.exceeded",
    "response.truncated",
    "response.malformed",
    "response.too_large",
    "http.redirect_loop",
    "http.rate_limited",
    "http.client_error",
    "http.server_error",
    "browser.step_failed",
    "browser.page_error",
    "grpc.not_serving",
    "grpc.status",
    "db.auth_failed",
    "db.unknown_database",
    "db.read_only",
    "db.too_many_connections",
    "db.query_failed",
    "auth.failed",
    "server.unavailable",
    "circuit.open",
    "bulkhead.full",
    "throttle.rejected",
    "heartbeat.missed",
    "unknown",
]


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted and lists exactly the public names the package defines."""

    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    def isort(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert tether.__all__ == sorted(tether.__all__, key=isort)
    code = (
        "import json, sys, types, tether\n"
        "names = {n for n, v in vars(tether).items()\n"
        "         if not n.startswith('_') and not isinstance(v, types.ModuleType)}\n"
        "print(json.dumps(sorted(names)))"
    )
    eager = set(json.loads(subprocess.check_output([sys.executable, "-c", code], text=True)))
    # The rest are loaded on first use so that `import tether` stays quick.
    lazy = set(tether._LAZY)
    assert eager.isdisjoint(lazy)
    assert set(tether.__all__) - {"__version__"} == eager | lazy
    for name, module in tether._LAZY.items():
        value = getattr(tether, name)
        assert value is getattr(importlib.import_module(module), name)
        assert getattr(value, "__name__", name) == name  # CATALOGUE, a dict, has none
    assert tether.Session.__module__ == "tether.integrations.requests"


def test_kind_codes_are_the_public_contract() -> None:
    """The kind values are exactly the documented stable codes: none renamed or lost."""
    assert [k.value for k in Kind] == STABLE_CODES
    assert {layer.value for layer in Layer} == {
        "url",
        "proxy",
        "dns",
        "connect",
        "tls",
        "request",
        "response",
        "http",
        "app",
        "policy",
    }


def test_catalogue_covers_every_kind() -> None:
    """Every kind has a catalogue entry with causes, fixes and a one-sentence hint."""
    assert set(CATALOGUE) == set(Kind)
    for entry in CATALOGUE.values():
        assert entry.causes
        assert entry.fixes
        assert entry.hint.endswith(".")
        assert entry.kind.value.split(".")[0] in entry.layer.value or entry.layer in (
            Layer.REQUEST,
            Layer.RESPONSE,
            Layer.POLICY,
            Layer.APP,  # grpc.*, db.*, browser.*: the protocol named, the layer shared
        )


def test_no_fix_switches_tls_verification_off() -> None:
    """The catalogue never recommends verify=False or curl -k."""
    for entry in CATALOGUE.values():
        for text in (*entry.fixes, entry.hint):
            assert "verify=False" not in text.replace("verify=False`", "") or "not" in text
            assert "curl -k " not in text
            assert "CERT_NONE" not in text.replace("`CERT_NONE`", "")


def test_import_tether_loads_no_http_library() -> None:
    """`import tether` imports none of requests, urllib3, httpx, aiohttp, h11, anyio (nor
    the lab), nor what only an HTTP-date Retry-After or a quoted message needs."""
    code = (
        "import sys, tether; print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'requests', 'urllib3', 'httpx', 'httpcore', 'aiohttp', 'h11', 'anyio', 'trustme', "
        "'dns'} | {m for m in sys.modules if m in ('email.utils', 'json')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_import_tether_loads_nothing_a_plain_import_does_not_need() -> None:
    """`import tether` loads tether's own three small modules and nothing from the standard
    library the interpreter had not loaded already (not logging, enum, dataclasses, re):
    every public name waits until it is used (issue 46 §6)."""
    code = (
        "import sys\nbefore = set(sys.modules)\nimport tether\n"
        "print(sorted(set(sys.modules) - before))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert set(eval(out)) <= {"__future__", "tether", "tether._lazy", "tether._version"}


def test_tether_logs_through_its_null_handler_however_it_was_imported() -> None:
    """The tether logger has its one NullHandler whether logging came before `import
    tether` or with the first module that logs, so a warning never reaches Python's
    last-resort handler on stderr."""
    count = (
        "print(sum(type(h).__name__ == 'NullHandler' for h in "
        "logging.getLogger('tether').handlers))"
    )
    for code in (
        f"import logging, tether\n{count}",
        f"import tether\nfrom tether._retry import _loop\nimport logging\n{count}",
    ):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == "1", code


def test_the_monitor_has_a_small_sorted_public_face_that_loads_lazily() -> None:
    """tether.monitor's __all__ is sorted, each name resolves to the object of that name,
    and importing the package loads neither the runner, the probe engine nor aiohttp."""
    import tether.monitor

    names = tether.monitor.__all__
    assert names == sorted(names, key=lambda n: (0 if n[0].isupper() else 1, n))
    assert set(names) == set(tether.monitor._LAZY)
    for name in names:
        assert getattr(tether.monitor, name).__name__ == name
    code = (
        "import sys, tether.monitor\n"
        "print(sorted(m for m in ('aiohttp', 'tether.monitor.runtime._runner', 'tether.probe')"
        " if m in sys.modules))"
    )
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "[]"


def test_the_compat_adapters_have_small_sorted_public_faces() -> None:
    """tether.compat, tether.compat.backoff and tether.compat.tenacity list their public
    names sorted, each resolves, and importing them loads neither tenacity, backoff nor an
    HTTP library."""
    import tether.compat
    import tether.compat.backoff
    import tether.compat.tenacity

    def isort(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    for module in (tether.compat, tether.compat.backoff, tether.compat.tenacity):
        assert module.__all__ == sorted(module.__all__, key=isort)
        for name in module.__all__:
            assert getattr(module, name) is not None
    assert tether.RetryPolicy(deadline=None, budget=None, breaker=None) == tether.compat.UNGUARDED
    code = (
        "import sys, tether.compat.backoff, tether.compat.tenacity\n"
        "print(sorted(m for m in ('tenacity', 'backoff', 'requests', 'httpx', 'aiohttp')"
        " if m in sys.modules))"
    )
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "[]"
