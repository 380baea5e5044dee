"""Which optional extra provides what: the one place that knows.

``pip install tether`` is the core (classify, explain, retry and its integrations,
diagnose); the monitor, the lab and the PostgreSQL store need an extra each.  The
CLI asks here before running a command, ``tether.monitor`` and ``tether.lab`` before
loading, so a missing extra is one line naming it, never a traceback about a module
the user has never heard of.

Only ``importlib.util.find_spec`` is used: checking imports nothing, so the CLI can
ask on every run.
"""

from __future__ import annotations

import importlib.util

# The top-level modules tether imports from each extra's packages (pyproject.toml's
# [project.optional-dependencies]; tests/project/test_packaging.py keeps the two in step).
EXTRAS: dict[str, tuple[str, ...]] = {
    "monitor": (
        "aiohttp",
        "apprise",
        "jinja2",
        "prometheus_client",
        "pydantic",
        "regex",  # conditions' re(); label matchers' fallback where google-re2 has no wheel
        "yaml",
    ),  # not re2 nor orjson: the monitor extra's only on their wheels' platforms (a marker)
    "lab": ("cryptography", "h2", "trustme"),  # h2: the grpc:// scenarios' servers
    "postgres": ("psycopg",),
    "ws": ("wsproto",),  # ws:// and wss:// checks, in diagnose and the monitor
    "browser": ("playwright",),  # browser: monitors, in headless Chromium
    "dnssec": ("cryptography",),  # dns:// checks with dnssec: true (dns.dnssec)
    "grpc": ("hpack", "hyperframe"),  # grpc:// and grpcs:// health checks (probe/_h2call.py)
    "http3": ("aioquic", "cryptography", "OpenSSL"),  # http_version: 3 / auto, diagnose --http3
    "mysql": ("pymysql",),  # mysql:// and mariadb:// checks (postgresql:// takes postgres)
    "oidc": ("joserfc",),  # oidc: single sign-on, the ID token's verification
    # The integrations: each needs only its own client (tether.integrations.*).
    "requests": ("requests", "urllib3"),  # tether.Session
    "httpx": ("httpx", "httpcore"),
    "aiohttp": ("aiohttp",),
    "redis": ("redis",),
    "sqlalchemy": ("sqlalchemy",),
    "grpcio": ("grpc",),
    "botocore": ("botocore",),
}

# The commands that need more than the core; any other command needs only the core
# (tests/project/test_packaging.py fails for a new command that is in neither list).
COMMANDS: dict[str, tuple[str, ...]] = {
    "ack": ("monitor",),  # tether ack, which main's incident engine brings
    "agent": ("monitor",),  # the same prober and config model; aiohttp to dial out
    "check": ("monitor",),
    "check-config": ("monitor",),
    "demo": ("monitor", "lab"),
    "hash-password": ("monitor",),  # for the monitor's users: section
    "history": ("monitor",),
    "import": ("monitor",),  # writes a configuration the monitor's loader checks
    "incidents": ("monitor",),
    "lab": ("lab",),
    "maintenance": ("monitor",),
    "monitor": ("monitor",),
    "new-token": ("monitor",),  # for the monitor's tokens: section
    "note": ("monitor",),
    "objectives": ("monitor",),
    "pause": ("monitor",),
    "push": ("monitor",),
    "report": ("monitor",),  # reads the store, renders with Jinja2
    "resume": ("monitor",),
    "routes": ("monitor",),
    "silence": ("monitor",),
    "status": ("monitor",),
    "subscribers": ("monitor",),
    "update": ("monitor",),
}


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported, in the table's order."""
    return [module for module in EXTRAS[extra] if not _importable(module)]


def problem(what: str, *extras: str) -> str | None:
    """One line saying what to install for ``what`` to work, or None when nothing is missing:
    ``tether demo needs tether[lab] (missing: trustme): pip install 'tether[lab]'``."""
    lacking = {extra: absent for extra in extras if (absent := missing(extra))}
    if not lacking:
        return None
    names = ",".join(lacking)
    modules = ", ".join(m for absent in lacking.values() for m in absent)
    return f"{what} needs tether[{names}] (missing: {modules}): pip install 'tether[{names}]'"


def require(what: str, *extras: str) -> None:
    """Raise ModuleNotFoundError (an ImportError), naming the extras to install, unless all
    of ``extras`` are there: ``tether.Session needs tether[requests] (missing: requests):
    pip install 'tether[requests]'``, in place of Python's bare ``No module named ...``."""
    if (message := problem(what, *extras)) is not None:
        absent = next(m for extra in extras for m in missing(extra))
        raise ModuleNotFoundError(message, name=absent)


def command_problem(command: str) -> str | None:
    """What to install before ``tether COMMAND`` can run, or None."""
    return problem(f"tether {command}", *COMMANDS.get(command, ()))


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder refused it; or sys.modules holds no spec
        return False
