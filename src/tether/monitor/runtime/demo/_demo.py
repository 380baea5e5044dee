"""``tether demo``: the fault lab, watched by the monitor, on the embedded SQLite.

Everything runs on loopback in one process: the lab's misbehaving servers, a
monitor checking a selection of them every few seconds (the real runner, store,
detector, correlation and outbox), its ``/metrics`` server, and a webhook
receiver that prints each alert as it lands.  At the end it shows what the
monitor concluded and why, and exits 0 only if every monitor ended where the lab
says it should: the healthy ones up, each broken one down with the lab's kind.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from aiohttp import web

from tether.lab import Lab
from tether.monitor.runtime._loop import run

if TYPE_CHECKING:
    from tether.monitor._records import Incident
    from tether.monitor.runtime._runner import Runner
    from tether.monitor.store import SQLiteStore

WATCHED = (
    "healthy",
    "tls_ok",
    "latency",
    "refused",
    "blackhole",
    "reset_on_accept",
    "stall_headers",
    "garbage",
    "http_503",
    "tls_expired",
    "tls_not_yet_valid",
    "tls_wrong_host",
    "dns_nxdomain",
    "dns_silent",
)
"""A scenario per layer, and two that fail alike on one host (one incident, not two)."""

INTERVAL = 5.0
TIMEOUT = 1.0
STATUS_PAGE = "lab"
STATUS_GROUPS = {
    "Website": {"healthy": "Home page", "tls_ok": "Secure pages", "latency": "Search"},
    "API": {"http_503": "Orders API", "refused": "Payments API", "dns_nxdomain": "Partner API"},
}
"""The demo's public status page, /status/lab: a few monitors under the names users know."""


@dataclass(frozen=True, slots=True)
class DemoVerdict:
    monitor: str
    expected: str
    state: str
    kind: str | None

    @property
    def as_expected(self) -> bool:
        if self.expected == "up":
            return self.state == "up"
        return self.state == "down" and self.kind == self.expected


def config_text(
    lab: Lab, db: Path, listen: str, hook: str, top: tuple[str, ...] | list[str] = ()
) -> str:
    """The monitor's tether.yaml for the lab (written beside the database, to read);
    ``top``: more top-level lines (an agent's location and token)."""
    lines = [
        f'storage: {{path: "{db}"}}',
        f'server: {{listen: "{listen}"}}',
        *top,
        f'alerts: [{{name: demo, type: webhook, url: "{hook}"}}]',
        f"defaults: {{interval: {INTERVAL:g}s, timeout: {TIMEOUT:g}s, alerts: [demo]}}",
        "monitors:",
    ]
    for name in WATCHED:
        s = lab[name]
        extra = ""
        if s.url.startswith("https://"):
            extra += f', tls: {{ca_file: "{lab.ca_file}"}}'
        if s.resolver:
            extra += f', resolver: "{s.resolver}"'
        if name == "healthy":
            extra += ', conditions: ["[STATUS] == 200", "[RESPONSE_TIME] < 500ms"]'
        lines.append(f'  - {{name: {name}, url: "{s.url}"{extra}}}')
    lines += [
        "status_pages:",
        f"  - slug: {STATUS_PAGE}",
        '    title: "The lab, as its users see it"',
        "    groups:",
    ]
    for group, names in STATUS_GROUPS.items():
        lines.append(f'      - name: "{group}"')
        lines.append("        monitors:")
        lines += [f'          - {{monitor: {n}, name: "{shown}"}}' for n, shown in names.items()]
    return "\n".join(lines) + "\n"


class _Hook:
    """A webhook receiver on loopback that prints each alert as it arrives."""

    def __init__(self, out: TextIO, started: float) -> None:
        self.got: list[dict[str, Any]] = []
        self._out = out
        self._started = started
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            payload = json.loads(await request.read())
            self.got.append(payload)
            at = time.monotonic() - self._started
            print(f"  [{at:5.1f} s] alert: {payload['text']}", file=self._out, flush=True)
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/hook", hook)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/hook"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@contextmanager
def _place(keep: str | None) -> Iterator[Path]:
    if keep:
        path = Path(keep)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="tether-demo-") as tmp:
        yield Path(tmp)


def _cert_dir(place: Path) -> Path:
    certs = place / "certs"
    certs.mkdir(exist_ok=True)
    return certs


def run_demo(
    duration: float = 15.0,
    *,
    keep: str | None = None,
    linger: float = 0.0,
    out: TextIO = sys.stdout,
    agents: bool = False,
) -> int:
    """Run the demo for ``duration`` seconds at most, then ``linger`` seconds more once
    every monitor settled (the dashboard stays up meanwhile); the exit code says whether
    the monitor reached the lab's verdict for every monitor.  With ``agents``, a ``tether
    agent`` probes every monitor too, from a location of its own (``demo/_agents.py``)."""
    say: Callable[..., None] = lambda *a: print(*a, file=out, flush=True)  # noqa: E731
    started = time.monotonic()
    say("Starting the fault lab on 127.0.0.1 ...")
    # A kept configuration names the lab's CA file: keep it beside the configuration, as
    # the lab removes a temporary certificate directory when it stops.
    with _place(keep) as place, Lab(cert_dir=_cert_dir(place) if keep else None) as lab:
        verdicts, incidents, alerts, cfg = run(
            _watch(lab, place, duration, started, out, linger, agents=agents)
        )
    say()
    _print_verdicts(verdicts, out)
    say()
    if not incidents:
        say("No incident was opened.")
    for i in incidents:
        monitors = ", ".join(i.monitors)
        state = "open" if i.is_open else "resolved"
        say(f"incident {i.id} ({state}) {i.kind or 'condition'} on {monitors}")
        say(f"  why: {i.detail}")
        say(f"  fix: {i.hint}")
    good = sum(v.as_expected for v in verdicts)
    say(
        f"\n{good} of {len(verdicts)} monitors ended where the lab says they should; "
        f"{len(incidents)} incidents, {alerts} alerts received by the webhook."
    )
    if keep:
        say(f"The configuration and database are in {keep}: try `tether incidents --config {cfg}`.")
    else:
        say("Run `tether demo --keep DIR` to keep the database, or `tether monitor` on your own.")
    return 0 if good == len(verdicts) else 1


async def _watch(
    lab: Lab,
    place: Path,
    duration: float,
    started: float,
    out: TextIO,
    linger: float = 0.0,
    *,
    agents: bool = False,
) -> tuple[list[DemoVerdict], list[Incident], int, Path]:
    from tether.monitor.alerts import MuteGate, Outbox, SilenceGate, route_tree
    from tether.monitor.config import parse_config
    from tether.monitor.runtime._app import channels_for, close_channels
    from tether.monitor.runtime._runner import Runner
    from tether.monitor.runtime.demo._agents import (
        HERE,
        DemoAgent,
        agent_settled,
        print_locations,
    )
    from tether.monitor.store import SQLiteStore
    from tether.monitor.web._web import serve

    hook = _Hook(out, started)
    await hook.start()
    db = place / "tether.db"
    agent = DemoAgent(place) if agents else None
    text = config_text(lab, db, "127.0.0.1:0", hook.url, agent.config_lines() if agent else ())
    cfg_path = place / "tether.yaml"
    cfg_path.write_text(text)
    config = parse_config(text, source=str(cfg_path))
    channels = channels_for(config)
    store = SQLiteStore(db)
    try:
        outbox = Outbox(store, channels, gates=[MuteGate(route_tree(config))])
        outbox.gates.append(SilenceGate(store.silences_in_force))
        runner = Runner(config, store, outbox, location=HERE if agent else None)
        server = await serve(runner, "127.0.0.1", 0)
        port = server.addresses[0][1]
        if agent:
            print(
                "A tether agent probes them too, from its own location (agent-1), and "
                f"reports to the monitor at http://127.0.0.1:{port}/ with its agent token.",
                file=out,
            )
        print(
            f"Watching {len(config.monitors)} lab targets every {INTERVAL:g} s until they "
            f"settle (at most {duration:g} s); results in {db}\n"
            f"dashboard on http://127.0.0.1:{port}/ (the status page: /status/{STATUS_PAGE}, "
            f"metrics: /metrics); alerts as they arrive:",
            file=out,
            flush=True,
        )
        stop = asyncio.Event()

        async def until_settled() -> None:
            """Stop once every monitor is where the lab says and every alert has landed,
            or when ``duration`` is up."""
            deadline = time.monotonic() + duration
            while time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                if (
                    all(v.as_expected for v in _verdicts(lab, runner, store))
                    and not store.backlog()
                    and (agent is None or agent_settled(runner.locations(), list(WATCHED)))
                ):
                    break
            if linger > 0:
                print(
                    f"The dashboard stays up {linger:g} s more (Ctrl-C stops it).",
                    file=out,
                    flush=True,
                )
                await asyncio.sleep(linger)
            stop.set()

        parts = [runner.run(stop, deliver_every=0.2), until_settled()]
        if agent:
            parts.append(agent.run(port, stop))
        try:
            await asyncio.gather(*parts)
            # The last alerts queued get one more delivery round before the summary.
            await asyncio.to_thread(runner.outbox.deliver_due, runner.wall())
            runner.outbox.close()
        finally:
            await server.cleanup()
        verdicts = _verdicts(lab, runner, store)
        incidents = store.incidents()
        if agent:
            print(file=out)
            print_locations(runner.locations(), list(WATCHED), out)
    finally:
        store.close()
        close_channels(channels)
        await hook.stop()
    return verdicts, sorted(incidents, key=lambda i: i.id), len(hook.got), cfg_path


def _verdicts(lab: Lab, runner: Runner, store: SQLiteStore) -> list[DemoVerdict]:
    states = runner.quorum.states()
    out = []
    for name in WATCHED:
        latest = runner.latest.get(name)
        kind = lab[name].kind
        out.append(
            DemoVerdict(
                name,
                "up" if kind is None else kind.value,
                str(states.get(name, "unknown")),
                latest.kind.value if latest and latest.kind else None,
            )
        )
    return out


def _print_verdicts(verdicts: list[DemoVerdict], out: TextIO) -> None:
    rows = [("monitor", "state", "failure kind", "lab intends", "")]
    for v in verdicts:
        rows.append(
            (v.monitor, v.state, v.kind or "-", v.expected, "ok" if v.as_expected else "MISSED")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)
