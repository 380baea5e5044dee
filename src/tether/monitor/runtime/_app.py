"""Assembling and running the ``tether monitor`` process: the store, the channels, the
outbox, the runner, the web server, the signals; and SIGHUP's reload.

The CLI and the demo call :func:`run_monitor` and :func:`channels_for`; nothing
here decides anything about checks or alerts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, TextIO

from tether._hostport import join_hostport
from tether._plural import count
from tether._redact import redact_url
from tether.monitor.alerts import (
    AlertmanagerChannel,
    AppriseChannel,
    Channel,
    EmailChannel,
    Outbox,
    WebhookChannel,
)
from tether.monitor.config import (
    AlertmanagerChannelConfig,
    AppriseChannelConfig,
    ConfigError,
    LocationError,
    MonitorConfig,
    WebhookChannelConfig,
    config_warnings,
    load_config,
    resolve_location,
)
from tether.monitor.runtime._discovery import Discovery
from tether.monitor.runtime._heralds import run_subscribers
from tether.monitor.runtime._loop import freeze, run
from tether.monitor.runtime._runner import Runner
from tether.monitor.store import ClusterError, Store, open_cluster

if TYPE_CHECKING:
    from tether.monitor.runtime._workers import WorkerFleet

__all__ = [
    "channels_for",
    "close_channels",
    "reload",
    "run_monitor",
    "workers_for",
]

log = logging.getLogger("tether.monitor")


def channels_for(config: MonitorConfig) -> dict[str, Channel]:
    """The delivery channel for each configured alert channel."""
    out: dict[str, Channel] = {}
    for channel in config.alerts:
        if isinstance(channel, WebhookChannelConfig):
            secret = channel.secret.get_secret_value() if channel.secret else None
            out[channel.name] = WebhookChannel(channel.name, channel.url, secret=secret)
        elif isinstance(channel, AppriseChannelConfig):
            out[channel.name] = AppriseChannel(channel.name, channel.targets)
        elif isinstance(channel, AlertmanagerChannelConfig):
            out[channel.name] = _alertmanager_channel(channel)
        else:
            password = channel.password.get_secret_value() if channel.password else None
            out[channel.name] = EmailChannel(
                channel.name,
                channel.host,
                channel.port,
                channel.from_,
                channel.to,
                username=channel.username,
                password=password,
                starttls=channel.starttls,
                cafile=channel.ca_file,
            )
    return out


def _alertmanager_channel(channel: AlertmanagerChannelConfig) -> AlertmanagerChannel:
    """The delivery channel of an ``alertmanager`` channel as configured."""
    password, token = channel.password, channel.bearer_token
    return AlertmanagerChannel(
        channel.name,
        channel.url,
        username=channel.username,
        password=password.get_secret_value() if password else None,
        bearer_token=token.get_secret_value() if token else None,
        ca_file=channel.ca_file,
        dashboard_url=channel.dashboard_url,
    )


def close_channels(channels: Mapping[str, Channel]) -> None:
    """Release what the channels hold (the webhook's connection pool)."""
    for channel in channels.values():
        close = getattr(channel, "close", None)
        if close is not None:
            close()


SWITCH_INTERVAL: Final = 0.001
"""The interpreter's switch interval while the monitor runs, in seconds (Python's default
is 0.005).  The store's writer thread lets go of the GIL around every SQLite statement,
and must then wait for the event loop to hand it back: at 5 ms a wait, beside an event
loop busy with a mass outage, the writer committed 4,000 results a second and fell
minutes behind the checks (benchmarks/results.md, mass transitions, section 7); at 1 ms
it keeps up.  Web requests served on executor threads wait less for the same reason."""


def run_monitor(
    path: str,
    config: MonitorConfig,
    store: Store,
    *,
    err: TextIO = sys.stderr,
    location: str | None = None,
    stalls: float | None = None,
) -> int:
    """Run the monitor of ``config`` (read from ``path``) on ``store`` until SIGINT or
    SIGTERM; SIGHUP reloads ``path``.  Returns the exit code.

    ``location`` is this instance's (default: the configuration's only one).  With
    PostgreSQL storage, instances on one database share the work (docs/deployment.md).

    With ``workers`` above 1, that many worker processes probe and answer ``/probe``
    (``_workers.py``), and this process coordinates them.  What it logs goes to the
    ``tether.monitor`` logger; where that goes is the caller's choice (``tether monitor``
    uses :func:`logging_to`), and the workers write theirs the same way.  With ``stalls``
    (seconds), each hold of this process's event loop longer than that is logged, and
    what held it (``_stalls.py``)."""
    from tether.monitor.runtime._log import current_format
    from tether.monitor.runtime._workers import WorkerFleet
    from tether.monitor.web._limits import raise_fd_limit
    from tether.monitor.web._web import allowed_targets, limits_of
    from tether.monitor.web.auth._auth import required_tokens

    try:
        here = resolve_location(config, location, env={})
        cluster = open_cluster(config.storage, here, ttl=config.cluster.lease)
    except (LocationError, ClusterError) as exc:
        print(f"tether monitor: {exc}", file=err)
        return 2
    channels = channels_for(config)
    outbox = Outbox(store, channels, owner=cluster.id)  # its stages: the runner's delivery
    workers = workers_for(config)
    raise_fd_limit()  # a socket per client held and per probe under way
    private = tempfile.mkdtemp(prefix="tether-monitor-") if workers > 1 else None
    fleet = None
    if private is not None:
        fleet = WorkerFleet(
            workers,
            allowed=lambda: allowed_targets(runner.config),
            coordinator=os.path.join(private, "coordinator.sock"),
            log_format=current_format(),
            bearer=lambda: required_tokens(runner.config, "probe"),
            modules=lambda: runner.config.modules,
            limits=limits_of(config.server),
        )
    # The discovered set the store holds, before any source answers: a restart runs the
    # discovered monitors from the start, their saved states and incidents restored.
    discovery = Discovery(config, os.path.dirname(os.path.abspath(path)), store=store)
    runner = Runner(discovery.merged(), store, outbox, fleet=fleet, location=here, cluster=cluster)
    runner.discovery = discovery
    switch = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        main = _serve_until_stopped(path, config, runner, fleet, private, workers, err, stalls)
        return run(main)  # on uvloop where installed (_loop.py)
    finally:
        sys.setswitchinterval(switch)
        outbox.close()
        close_channels(runner.outbox.channels)
        cluster.close()
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)


async def _serve_until_stopped(
    path: str,
    config: MonitorConfig,
    runner: Runner,
    fleet: WorkerFleet | None,
    private: str | None,
    workers: int,
    err: TextIO,
    stalls: float | None = None,
) -> int:
    """:func:`run_monitor`'s life on the event loop: the signals, the server (or the
    worker processes' coordinator and the workers), the runner until SIGINT or SIGTERM;
    the stall watch around it all when asked for."""
    from tether.monitor.runtime._stalls import StallWatch

    watch = StallWatch(stalls) if stalls is not None else None
    if watch is not None:
        watch.start()
    try:
        return await _serve(path, config, runner, fleet, private, workers, err)
    finally:
        if watch is not None:
            watch.stop()


async def _serve(
    path: str,
    config: MonitorConfig,
    runner: Runner,
    fleet: WorkerFleet | None,
    private: str | None,
    workers: int,
    err: TextIO,
) -> int:
    """:func:`_serve_until_stopped`'s life inside the watch."""
    from tether.monitor.runtime._workers import WorkerError
    from tether.monitor.web._web import serve, serve_unix

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[None]] = set()

    def hangup() -> None:
        task = loop.create_task(reload(runner, path))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, hangup)
    loop.add_signal_handler(signal.SIGUSR1, lambda: dump_stacks(runner.describe()))
    server_host, server_port = config.server.host, config.server.port
    # Uptime counts from here: the workers' first checks may come before the run starts.
    began = runner.wall()
    # What is alive now lives as long as the process: out of the collector's reach before
    # anything is answered (the full collection of a large fleet takes seconds); the run's
    # own freeze, once it listens, says how many.
    freeze(quiet=True)
    try:
        if fleet is None:
            server = await serve(runner, server_host, server_port)
            host, port = server.addresses[0][:2]
        else:
            server = await serve_unix(runner, os.path.join(str(private), "coordinator.sock"))
            first = await fleet.start(server_host, server_port)
            host, port = first or (server_host, server_port)
    except (OSError, WorkerError) as exc:
        print(f"tether monitor: cannot listen on {config.server.listen}: {exc}", file=err)
        return 1
    _log_started(runner.config, host, port, workers, fleet)
    discovering = loop.create_task(runner.discovery.run(stop, runner))
    releasing = loop.create_task(_release_polls(stop, runner))
    telling = loop.create_task(run_subscribers(runner, stop))  # status page news (issue 48)
    try:
        await runner.run(stop, freeze_gc=True, began=began)
    finally:
        discovering.cancel()
        telling.cancel()
        releasing.cancel()
        await server.cleanup()
    return 0


async def _release_polls(stop: asyncio.Event, runner: Runner) -> None:
    """Answer the agents' long polls as soon as the monitor is asked to stop: with
    ``workers:``, a worker forwarding one could not stop (it waits for its requests) until
    the server's own shutdown released them, after the workers' end (issue 73 item 11: a
    SIGTERM took the workers' whole stop timeout, 10 s, while an agent polled)."""
    await stop.wait()
    runner.agents.release()


def _log_started(
    config: MonitorConfig, host: str, port: int, workers: int, fleet: WorkerFleet | None
) -> None:
    """Say that the monitor runs, and where, and what in its configuration looks wrong."""
    storage = config.storage
    where = redact_url(storage.postgres) if storage.postgres else storage.path
    listen = join_hostport(host, port)
    n = len(config.monitors)
    probing = f" probed by {count(workers, 'worker process', 'worker processes')}"
    log.info(
        "%s%s, storing in %s; dashboard on http://%s/, metrics on /metrics; Ctrl-C stops",
        count(n, "monitor"),
        probing if fleet is not None else "",
        where,
        listen,
        extra={"event": "started"},
    )
    for warning in config_warnings(config):
        log.warning("%s", warning, extra={"event": "config.warning"})


def dump_stacks(about: str) -> None:
    """Log where every task of the running loop and every thread is waiting (``kill -USR1
    PID``): what a monitor that seems stuck is doing, without stopping it."""
    import traceback

    lines = []
    for task in sorted(asyncio.all_tasks(), key=lambda t: t.get_name()):
        lines.append(f"task {task.get_name()}: " + " -> ".join(_awaiting(task.get_coro())))
    for ident, frame in sys._current_frames().items():
        lines.append(f"thread {ident}:\n" + "".join(traceback.format_stack(frame)[-6:]))
    log.warning(
        "asked for its stacks (SIGUSR1): %s; %d tasks, %d threads\n%s",
        about,
        len(asyncio.all_tasks()),
        len(sys._current_frames()),
        "\n".join(lines),
        extra={"event": "stacks"},
    )


def _awaiting(coro: object) -> list[str]:
    """Where a coroutine and each one it awaits stand (``file:line in function``), outer
    first: a task's whole chain of awaits, which its own stack does not show."""
    out: list[str] = []
    while coro is not None and len(out) < 20:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            out.append(type(coro).__name__)
            break
        code = frame.f_code
        out.append(f"{os.path.basename(code.co_filename)}:{frame.f_lineno} in {code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return out


def workers_for(config: MonitorConfig) -> int:
    """How many worker processes probe for ``config``: its ``workers``, where ``auto`` is
    one per core this process may run on; 1 means none (this process probes)."""
    from tether.monitor.runtime._workers import cores

    return cores() if config.workers == "auto" else config.workers


async def reload(runner: Runner, path: str) -> None:
    """SIGHUP: read the file again and run it, keeping every state; a file that does not
    load leaves the running configuration as it was, and says why."""
    try:
        config = await asyncio.to_thread(load_config, path)
    except (OSError, ConfigError) as exc:
        lines = exc.located if isinstance(exc, ConfigError) else [f"cannot read {path}: {exc}"]
        log.error(
            "%s not reloaded, the running configuration stays:\n  %s",
            path,
            "\n  ".join(lines),
            extra={"event": "reload.failed"},
        )
        return
    runner.discovery.configure(config)
    config = runner.discovery.merged(config)  # the discovered monitors stay
    # The old channels are not closed: a delivery may be under way through one.
    channels = channels_for(config)
    for name, channel in channels.items():
        before = runner.outbox.channels.get(name)
        if isinstance(channel, AlertmanagerChannel) and isinstance(before, AlertmanagerChannel):
            channel.carry_over(before)  # else its firing alerts would lapse in Alertmanager
    changes = runner.reload(config, channels)  # alert delivery's stages built anew
    log.info(
        "reloaded %s: %s", path, "; ".join(changes) or "no change", extra={"event": "reloaded"}
    )
