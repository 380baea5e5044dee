"""Packaging: `pip install tether` (the core) works alone, and the extras cover the rest.

A core install is played by a child Python whose import system finds no
third-party module outside the core's dependencies (pyproject.toml's
``dependencies`` and what they require): the extras' packages are installed here
for the rest of the suite, and this is how to be without them.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import trustme
from packaging.requirements import Requirement

import tether
from tether import _extras
from tether.cli import _parser
from tether.probe import _tls

ROOT = Path(__file__).parents[2]
SRC = Path(tether.__file__).parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

# The commands of a core install: every other one needs an extra (src/tether/_extras.py).
CORE_COMMANDS = {"diagnose", "explain"}


# --- what pyproject.toml installs ---------------------------------------------------------------


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(name: str, extras: Iterable[str]) -> list[Requirement]:
    """What installing ``name[extras]`` installs directly; tether's own from pyproject.toml
    (the installed metadata may be another checkout's)."""
    wanted = {"", *extras}
    if _canon(name) == "tether":
        texts = list(PYPROJECT["dependencies"])
        for extra in extras:
            texts += PYPROJECT["optional-dependencies"][extra]
        return [Requirement(t) for t in texts]
    try:
        texts = metadata.requires(name) or []
    except metadata.PackageNotFoundError:  # not for this platform or Python
        return []
    reqs = [Requirement(t) for t in texts]
    return [
        r for r in reqs if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in wanted)
    ]


def _closure(requirements: Iterable[Requirement]) -> set[str]:
    """Every distribution (canonical name) that installing ``requirements`` installs."""
    found: set[str] = set()
    todo = list(requirements)
    while todo:
        req = todo.pop()
        key = f"{_canon(req.name)}[{','.join(sorted(req.extras))}]"
        if key in found:
            continue
        found.add(key)
        todo += _requirements(req.name, req.extras)
    return {k.partition("[")[0] for k in found}


@functools.cache
def _installed() -> dict[str, set[str]]:
    """Top-level module -> the installed distributions (canonical names) that provide it."""
    return {m: {_canon(d) for d in ds} for m, ds in metadata.packages_distributions().items()}


def _modules_of(distributions: set[str]) -> set[str]:
    """The top-level modules the installed ``distributions`` provide."""
    return {module for module, dists in _installed().items() if dists & distributions}


def _distributions_of(module: str) -> set[str]:
    return _installed().get(module, set())


CORE = _closure(_requirements("tether", ()))
CORE_MODULES = _modules_of(CORE) - {"tether"}


# --- a core-only Python -------------------------------------------------------------------------

_BLOCKER = """
import sys
from importlib.machinery import PathFinder

# What site imported before this ran (its .pth files): not tether's doing.
AT_START = frozenset(name.partition(".")[0] for name in sys.modules)

class _CoreOnly:
    # Finds what a core install of tether would have; the rest is not there at all,
    # as importlib.util.find_spec sees it too.

    @staticmethod
    def find_spec(name, path=None, target=None):
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names or top in ALLOWED or top == "tether":
            return PathFinder.find_spec(name, path, target)
        return None

    invalidate_caches = PathFinder.invalidate_caches

sys.meta_path[:] = [_CoreOnly if finder is PathFinder else finder for finder in sys.meta_path]
"""


def core_python(
    code: str, *args: str, allow: Iterable[str] = (), cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (with ``args`` as sys.argv[1:]) in a Python that has only tether's core."""
    allowed = sorted(CORE_MODULES | set(allow))
    prelude = f"ALLOWED = frozenset({allowed!r})\n{_BLOCKER}\n"
    environ = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    environ |= {"PYTHONPATH": str(SRC), **env}
    return subprocess.run(
        [sys.executable, "-c", prelude + code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env=environ,
    )


def core_tether(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The ``tether`` command of a core install."""
    return core_python("from tether.cli import main; sys.exit(main(sys.argv[1:]))", *args, **env)


def test_the_core_python_has_the_core_and_none_of_the_extras() -> None:
    """The child Python imports the core's dependencies and finds none of the extras'
    modules, though all are installed here (else the tests below would prove nothing)."""
    extras = sorted(m for modules in _extras.EXTRAS.values() for m in modules)
    clients = ["httpx", "opentelemetry", "requests", "urllib3"]
    code = (
        "import importlib, importlib.util\n"
        "for m in sys.argv[1:]:\n"
        "    try:\n"
        "        importlib.import_module(m)\n"
        "        print(m, 'imported')\n"
        "    except ModuleNotFoundError:\n"
        "        assert importlib.util.find_spec(m.partition('.')[0]) is None, m\n"
        "        print(m, 'absent')\n"
    )
    result = core_python(code, "rich.console", "dns.message", *extras, *clients)
    assert result.stderr == ""
    said = dict(line.split() for line in result.stdout.splitlines())
    assert said == {
        "rich.console": "imported",
        "dns.message": "imported",
        **dict.fromkeys(extras + clients, "absent"),
    }
    for module in extras + clients:
        assert _distributions_of(module), f"{module} is not installed here: nothing to hide"


# --- the core works -----------------------------------------------------------------------------


def test_core_classifies_a_refused_connection_and_retries_it() -> None:
    """`import tether` (no HTTP library), a real refused connection classified, and
    `@tether.retry` around it, with none of the extras installed."""
    code = """
import socket
import tether, tether.testing

probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()

def connect():
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass

try:
    connect()
except ConnectionRefusedError as exc:
    failure = tether.classify(exc)
print(failure.kind.value, failure.retryable, failure.request_sent)

policy = tether.RetryPolicy(attempts=3)
with tether.testing.fast_retries() as retries:
    try:
        tether.retry(policy=policy)(connect)()
    except ConnectionRefusedError as exc:
        print(exc.failure.kind.value, len(retries.waits))
print(sorted({m.split(".")[0] for m in sys.modules} - AT_START - sys.stdlib_module_names))
"""
    result = core_python(code)
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "connect.refused True False",
        "connect.refused 2",
        "['tether']",
    ]


def test_core_explains_a_kind() -> None:
    """`tether explain connect.refused` in a core install."""
    result = core_tether("explain", "connect.refused")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("connect.refused — ")
    assert "How to fix it:" in result.stdout


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[ThreadingHTTPServer]:
    with ThreadingHTTPServer(("127.0.0.1", 0), _Hello) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server
        server.shutdown()
        thread.join()


def test_core_diagnoses_a_loopback_server(http_server: ThreadingHTTPServer) -> None:
    """`tether diagnose URL` in a core install: every phase, as JSON and as coloured text
    (rich is part of the core)."""
    url = f"http://127.0.0.1:{http_server.server_address[1]}/"
    result = core_tether("diagnose", "--json", "--proxy", "", url)
    assert (result.returncode, result.stderr) == (0, "")
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert [p["name"] for p in report["phases"]] == ["url", "proxy", "dns", "connect", "http"]
    assert report["phases"][-1]["status"] == 200

    coloured = core_tether("diagnose", "--proxy", "", url, FORCE_COLOR="1")
    assert (coloured.returncode, coloured.stderr) == (0, "")
    assert "\x1b[" in coloured.stdout
    assert "200" in coloured.stdout


def test_core_diagnose_of_a_websocket_names_the_extra(http_server: ThreadingHTTPServer) -> None:
    """`tether diagnose ws://...` in a core install (no wsproto): one line in the url phase
    naming tether[ws], no traceback, exit 1, and nothing is connected to."""
    url = f"ws://127.0.0.1:{http_server.server_address[1]}/"
    result = core_tether("diagnose", "--json", "--proxy", "", url)
    assert (result.returncode, result.stderr) == (1, "")
    report = json.loads(result.stdout)
    assert [p["name"] for p in report["phases"]] == ["url"]
    assert report["failure"]["detail"] == (
        "a ws:// check needs tether[ws] (missing: wsproto): pip install 'tether[ws]'"
    )


@pytest.mark.parametrize(
    ("scheme", "extra", "module"),
    [("postgresql", "postgres", "psycopg"), ("mysql", "mysql", "pymysql")],
)
def test_core_diagnose_of_a_database_names_the_extra(scheme: str, extra: str, module: str) -> None:
    """`tether diagnose postgresql://...` or `mysql://...` in a core install: one line in the
    url phase naming the extra, the password redacted, nothing connected to.  (A redis://
    check needs no extra: tether speaks RESP itself.)"""
    result = core_tether("diagnose", "--json", f"{scheme}://u:pw-Hidden@127.0.0.1:9/db")
    assert (result.returncode, result.stderr) == (1, "")
    report = json.loads(result.stdout)
    assert [p["name"] for p in report["phases"]] == ["url"]
    assert report["failure"]["detail"] == (
        f"a {scheme}:// check needs tether[{extra}] (missing: {module}): "
        f"pip install 'tether[{extra}]'"
    )
    assert "pw-Hidden" not in result.stdout


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[ThreadingHTTPServer, Path]]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    with ThreadingHTTPServer(("127.0.0.1", 0), _Hello) as server:
        server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server, tmp_path / "ca.pem"
        server.shutdown()
        thread.join()


def test_core_diagnose_shows_the_certificate_without_cryptography(
    https_server: tuple[ThreadingHTTPServer, Path],
) -> None:
    """The TLS phase's certificate details need no cryptography (it is in tether[lab]):
    OpenSSL decodes the chain."""
    server, ca_file = https_server
    url = f"https://127.0.0.1:{server.server_address[1]}/"
    result = core_tether("diagnose", "--json", "--proxy", "", "--cacert", str(ca_file), url)
    assert (result.returncode, result.stderr) == (0, "")
    tls = next(p for p in json.loads(result.stdout)["phases"] if p["name"] == "tls")
    assert tls["verified"] is True
    assert tls["chain"][0]["sans"] == ["127.0.0.1"]
    assert tls["chain"][0]["days_left"] > 0


def test_tls_details_fall_back_to_openssl_without_cryptography(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the chain is not available decoded (not CPython 3.10+), a verified leaf is
    still described, from OpenSSL's dict, when cryptography is missing."""
    monkeypatch.setitem(sys.modules, "cryptography", None)
    info = {
        "subject": ((("commonName", "example.test"),),),
        "issuer": ((("organizationName", "Test CA"),),),
        "subjectAltName": (("DNS", "example.test"),),
        "notBefore": "Jan  1 00:00:00 2026 GMT",
        "notAfter": "Jan 31 00:00:00 2026 GMT",
    }

    class Leaf:
        """An SSL object with only a leaf certificate, no chain API."""

        def cipher(self) -> tuple[str, str, int]:
            return ("TLS_AES_128_GCM_SHA256", "TLSv1.3", 128)

        def version(self) -> str:
            return "TLSv1.3"

        def selected_alpn_protocol(self) -> str:
            return "http/1.1"

        def getpeercert(self, binary_form: bool = False) -> Any:
            return b"DER" if binary_form else info

    now = dt.datetime(2026, 1, 21, tzinfo=dt.UTC)
    described = _tls.describe(Leaf(), now, server_name=None, verified=True)  # type: ignore[arg-type]
    assert described.to_json()["chain"] == [
        {
            "subject": "CN=example.test",
            "issuer": "O=Test CA",
            "sans": ["example.test"],
            "not_before": "2026-01-01T00:00:00+00:00",
            "not_after": "2026-01-31T00:00:00+00:00",
            "days_left": 10,
        }
    ]


# --- what needs an extra says so ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "extras"),
    [
        (["monitor", "some.yaml"], "monitor"),
        (["monitor", "--config", "some.yaml"], "monitor"),
        (["status"], "monitor"),
        (["history", "api"], "monitor"),
        (["incidents", "--open"], "monitor"),
        (["check-config", "some.yaml"], "monitor"),
        (["demo"], "monitor,lab"),
        (["lab"], "lab"),
        (["lab", "--matrix"], "lab"),
    ],
)
def test_a_command_without_its_extra_says_which_in_one_line(args: list[str], extras: str) -> None:
    """In a core install, a command that needs an extra exits 2 with one line naming it
    and how to install it, whatever its arguments."""
    result = core_tether(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"tether {args[0]} needs tether[{extras}] (missing: ")
    assert result.stderr.endswith(f": pip install 'tether[{extras}]'\n")


def test_help_needs_no_extra() -> None:
    """`tether monitor --help` still shows the command's help in a core install."""
    result = core_tether("monitor", "--help")
    assert (result.returncode, result.stderr) == (0, "")
    assert "--config" in result.stdout


def test_every_command_is_core_or_names_its_extras() -> None:
    """Each command of `tether` is either part of the core or listed with its extras, so a
    new command cannot fail with a traceback in a core install."""
    commands = next(
        a for a in _parser()._actions if a.dest == "command"
    ).choices  # the subparsers action
    assert commands is not None
    unplaced = set(commands) - CORE_COMMANDS - set(_extras.COMMANDS)
    assert not unplaced, f"add to CORE_COMMANDS here or to tether._extras.COMMANDS: {unplaced}"
    assert not CORE_COMMANDS & set(_extras.COMMANDS)


def test_importing_the_monitor_or_the_lab_names_the_extra() -> None:
    """`import tether.monitor` and `from tether.lab import Lab` raise an ImportError that
    says what to install; the lab package itself (home of the pytest plugin) imports."""
    code = """
import tether.lab
for statement in ("import tether.monitor", "from tether.lab import Lab"):
    try:
        exec(statement)
    except ImportError as exc:
        print(exc)
"""
    result = core_python(code)
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "tether.monitor needs tether[monitor] (missing: aiohttp, apprise, jinja2, "
        "prometheus_client, pydantic, regex, yaml): pip install 'tether[monitor]'",
        "tether.lab needs tether[lab] (missing: cryptography, h2, trustme): "
        "pip install 'tether[lab]'",
    ]


def test_pytest_runs_without_the_lab_extra(tmp_path: Path) -> None:
    """The pytest plugin loads in a core install: `fast_retries` works, and a test using
    `lab` errors with one line naming the extra."""
    (tmp_path / "test_user.py").write_text(
        "def test_fast(fast_retries):\n"
        "    assert fast_retries.waits == []\n"
        "\n"
        "def test_lab(lab):\n"
        "    pass\n"
    )
    result = core_python(
        "import pytest; sys.exit(pytest.main(sys.argv[1:]))",
        "-p",
        "tether.lab.pytest_plugin",
        "-p",
        "no:cacheprovider",
        "-q",
        "-rE",
        "test_user.py",
        allow=_modules_of(_closure([Requirement("pytest")])),
        cwd=tmp_path,
        # Only the plugin under test: not whatever else this environment has installed.
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed, 1 error" in result.stdout
    assert (
        "the lab fixture needs tether[lab] (missing: cryptography, h2, trustme): "
        "pip install 'tether[lab]'" in result.stdout
    )
    assert "Traceback" not in result.stdout


# --- the extras cannot rot ----------------------------------------------------------------------

# Files that import, beyond their package's extra, libraries that are optional on purpose.
OPTIONAL = {
    # storage.postgres only (psycopg is imported when a PostgreSQL store is opened).
    "monitor/store/postgres/_store.py": ("postgres",),
    "monitor/store/postgres/_writes.py": ("postgres",),
    # uvloop where the monitor extra installed it (not on Windows): asyncio's loop otherwise.
    "monitor/runtime/_loop.py": (),
    # google-re2 where the monitor extra installed it (its wheels' platforms): regex otherwise.
    "monitor/config/labels/_regex.py": (),
    # orjson where the monitor extra installed it (its wheels' platforms): json otherwise.
    "monitor/store/_json.py": (),
    # oidc: only (joserfc is imported when a single sign-on comes back: tether[oidc]).
    "monitor/web/auth/_oidc_flow.py": ("oidc",),
    # `tether lab --matrix` drives whichever client libraries are installed.
    "lab/_matrix.py": ("requests", "httpx", "aiohttp"),
    "lab/_exhaust.py": ("requests", "httpx", "aiohttp"),
}
# Loaded by pytest, so pytest is there.
HOSTED = {"lab/pytest_plugin.py": {"pytest"}}


def _third_party_imports(path: Path) -> set[str]:
    """Top-level names of the third-party modules ``path`` imports, at any depth."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
    return found - set(sys.stdlib_module_names) - {"tether"}


def _imports_by_file(package: str) -> dict[str, set[str]]:
    root = SRC / "tether"
    return {
        str(path.relative_to(root)): imports
        for path in sorted((root / package).rglob("*.py"))
        if (imports := _third_party_imports(path))
    }


@pytest.mark.parametrize("package", ["monitor", "lab"])
def test_the_extra_installs_what_the_package_imports(package: str) -> None:
    """Every third-party module under monitor/ or lab/ comes from the core or the package's
    extra in pyproject.toml (or, in the files that say so, from an optional extra)."""
    imports = _imports_by_file(package)
    assert imports, "found no imports: is the path right?"
    for name, modules in imports.items():
        extras = (package, *OPTIONAL.get(name, ()))
        installed = _closure(_requirements("tether", extras))
        for module in modules - HOSTED.get(name, set()):
            dists = _distributions_of(module)
            assert dists, f"{name} imports {module}, which is not installed here"
            assert dists & installed, (
                f"{name} imports {module} ({', '.join(sorted(dists))}), which neither the core "
                f"nor tether[{','.join(extras)}] installs: add it to pyproject.toml"
            )


@pytest.mark.parametrize("package", ["monitor", "lab"])
def test_the_extras_check_covers_what_the_package_imports(package: str) -> None:
    """When tether._extras finds a package's extra installed, everything the package
    imports is there: its modules' distributions (and what they require) cover it."""
    guarded = CORE | _closure(
        Requirement(d) for m in _extras.EXTRAS[package] for d in _distributions_of(m)
    )
    for name, modules in _imports_by_file(package).items():
        if name in OPTIONAL:
            continue
        for module in modules - HOSTED.get(name, set()):
            assert _distributions_of(module) & guarded, (
                f"{name} imports {module}: add it to tether._extras.EXTRAS[{package!r}]"
            )


@pytest.mark.parametrize("extra", sorted(_extras.EXTRAS))
def test_the_extras_check_asks_for_what_the_extra_installs(extra: str) -> None:
    """Each module tether._extras checks for comes from a package the extra lists itself,
    so installing the extra always satisfies the check."""
    listed = {_canon(Requirement(t).name) for t in PYPROJECT["optional-dependencies"][extra]}
    for module in _extras.EXTRAS[extra]:
        assert _distributions_of(module) & listed, (
            f"tether._extras.EXTRAS[{extra!r}] checks {module}, which tether[{extra}] does not list"
        )


def test_all_and_test_install_every_extra() -> None:
    """`tether[all]` is every extra; `tether[test]` (README's test command) includes it."""
    extras = PYPROJECT["optional-dependencies"]
    (everything,) = (Requirement(t) for t in extras["all"])
    assert (everything.name, everything.extras) == ("tether", set(extras) - {"all", "test"})
    assert "tether[all]" in extras["test"]


def test_the_core_is_light() -> None:
    """`pip install tether` installs rich and dnspython (and what they need), and none of
    the packages of the extras: no HTTP parser (the probe reads by h11's rules itself)."""
    assert {Requirement(t).name for t in PYPROJECT["dependencies"]} == {"rich", "dnspython"}
    extras = PYPROJECT["optional-dependencies"]
    for extra in set(extras) - {"all", "test"}:
        for text in extras[extra]:
            assert _canon(Requirement(text).name) not in CORE, f"tether[{extra}]: {text}"


# The test tools whose releases change what passes: each is pinned or bounded above in the
# test extra, so the suite does not pass or fail by the day it was installed (issue 70).
BOUNDED_TEST_TOOLS = (
    "pytest",
    "pytest-timeout",
    "pytest-xdist",
    "hypothesis",
    "schemathesis",
    "mypy",
    "ruff",
)


@pytest.mark.parametrize("tool", BOUNDED_TEST_TOOLS)
def test_the_test_tools_are_bounded_above(tool: str) -> None:
    """README's test command installs no release of a test tool newer than one tried: each
    is pinned (==) or bounded (<) in the test extra, and what is installed is inside it."""
    (requirement,) = (
        r
        for t in PYPROJECT["optional-dependencies"]["test"]
        if _canon((r := Requirement(t)).name) == tool
    )
    assert any(s.operator in ("==", "<", "<=", "~=") for s in requirement.specifier), (
        f"tether[test]: {requirement} has no upper bound"
    )
    assert requirement.specifier.contains(metadata.version(tool), prereleases=True), (
        f"{tool} {metadata.version(tool)} is installed, outside {requirement}"
    )


# The integrations, each needing only its own client (issue 73 item 14): on the core install,
# using one is one line naming the extra, as the commands say it, not a bare
# "No module named 'requests'".
INTEGRATIONS = [
    ("tether.Session()", "tether.Session", "requests", "requests"),
    ("import tether.integrations.httpx", "tether.integrations.httpx", "httpx", "httpx"),
    ("import tether.integrations.aiohttp", "tether.integrations.aiohttp", "aiohttp", "aiohttp"),
    ("import tether.integrations.redis", "tether.integrations.redis", "redis", "redis"),
    (
        "import tether.integrations.sqlalchemy",
        "tether.integrations.sqlalchemy",
        "sqlalchemy",
        "sqlalchemy",
    ),
    ("import tether.integrations.grpc", "tether.integrations.grpc", "grpcio", "grpc"),
    ("import tether.integrations.botocore", "tether.integrations.botocore", "botocore", "botocore"),
]


@pytest.mark.parametrize(("statement", "what", "extra", "module"), INTEGRATIONS)
def test_core_says_which_extra_an_integration_needs(
    statement: str, what: str, extra: str, module: str
) -> None:
    """The error is a ModuleNotFoundError (what code catching a missing library catches)
    whose one line names the extra and the pip command."""
    code = f"""
import tether
try:
    {statement}
except ModuleNotFoundError as exc:
    print(exc.name)
    print(exc)
"""
    result = core_python(code)
    assert result.stderr == ""
    name, line = result.stdout.splitlines()
    assert name == module
    assert line.startswith(f"{what} needs tether[{extra}] (missing: {module}")
    assert line.endswith(f"pip install 'tether[{extra}]'")


@pytest.mark.parametrize(("statement", "what", "extra", "module"), INTEGRATIONS[:1])
def test_with_its_client_an_integration_loads(
    statement: str, what: str, extra: str, module: str
) -> None:
    """With the client there (allowed in the child), the same statement works."""
    allow = {"requests", "urllib3", "charset_normalizer", "idna", "certifi"}
    result = core_python(f"import tether\n{statement}\nprint('ok')", allow=allow)
    assert (result.stderr, result.stdout) == ("", "ok\n")


def test_the_install_docs_name_the_wheel_the_build_makes() -> None:
    """README's and docs/install.md's wheel (tether is not on the index: issue 73 item 14)
    is named for this version, so the command after the build works as written."""
    wheel = f"dist/tether-{tether.__version__}-py3-none-any.whl"
    for doc in ("README.md", "docs/install.md"):
        text = (SRC.parent / doc).read_text(encoding="utf-8")
        assert "pip wheel --no-deps -w dist ." in text, doc
        assert wheel in text, f"{doc} names another wheel than {wheel}"
