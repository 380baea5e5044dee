"""What one field cannot see, checked across the file: unique names, alert channels and
dependencies that exist, no dependency cycle, a timeout shorter than its interval, options
that fit the monitor's scheme, a Host header only of the URL's own host, email credentials
sent only over TLS, maintenance windows that are either once or weekly, locations that are
listed at the top and a quorum no larger than a monitor's locations, an ``alert_when`` its
interval can reach, and status pages of monitors that exist."""

from __future__ import annotations

import datetime as dt
import ipaddress
import zoneinfo
from typing import Any, Final

from tether._durations import format_duration
from tether._extras import problem
from tether._fieldsyntax import host_problem
from tether._hostport import default_port, is_loopback
from tether._plural import count
from tether._suggest import did_you_mean
from tether._text import visible
from tether.monitor.config._agents import check_agent_tokens
from tether.monitor.config._alertmanager import AlertmanagerChannelConfig, alertmanager_problems
from tether.monitor.config._capabilities import certificate_schemes, config_cannot_run, takes
from tether.monitor.config._channels import AlertChannel, AppriseChannelConfig, EmailChannelConfig
from tether.monitor.config._database import database_problems
from tether.monitor.config._discovery import References
from tether.monitor.config._dns import DnsOptions, dnssec_problems
from tether.monitor.config._errors import KeyPath, Problem, render_path, show
from tether.monitor.config._inhibit import check_inhibit_rules
from tether.monitor.config._models import (
    HTTP_ONLY,
    PUSH_ONLY,
    TRAFFIC_ONLY,
    Escalation,
    IncidentNote,
    MaintenanceWindow,
    Monitor,
    MonitorConfig,
    MonitorDefaults,
    StatusPage,
    aware,
)
from tether.monitor.config._objectives import check_objectives
from tether.monitor.config._page_objectives import check_page_objectives
from tether.monitor.config._rdap import rdap_problems
from tether.monitor.config._routes import check_routes
from tether.monitor.config._steps import check_steps
from tether.monitor.config._storage import check_retention
from tether.monitor.config._subscribe import check_subscribe
from tether.monitor.config.alert_when._checks import check_alert_when, check_default_alert_when
from tether.monitor.config.browser._checks import check_browser


def cross_check(config: MonitorConfig, refs: References | None = None) -> list[Problem]:
    """Every problem no one field can see.  A reference to monitors that finds none in
    the file but that discovery may satisfy is no error: ``refs`` keeps it as a warning."""
    refs = refs if refs is not None else References(config.discover)
    errors: list[Problem] = []
    errors += _unique(config.alerts, "alerts", "alert channel")
    errors += _unique(config.monitors, "monitors", "monitor")
    errors += _unique(config.maintenance, "maintenance", "maintenance window")
    errors += _unique(config.users, "users", "user")
    errors += _unique(config.tokens, "tokens", "token")
    errors += _check_session(config)
    errors += _twice(config.locations, ("locations",))
    errors += check_agent_tokens(config.tokens, config.locations)
    channels = [c.name for c in config.alerts]
    monitors = [m.name for m in config.monitors]
    locations = list(config.locations)
    for i, channel in enumerate(config.alerts):
        errors += _check_channel(channel, ("alerts", i))
    defaults = config.defaults
    errors += _references(defaults.alerts, channels, ("defaults", "alerts"), "alert channel")
    errors += _check_escalation(defaults.escalate, channels, ("defaults", "escalate"))
    errors += _references(defaults.locations, locations, ("defaults", "locations"), "location")
    errors += _twice(defaults.locations, ("defaults", "locations"))
    errors += _check_default_quorum(config)
    errors += check_default_alert_when(defaults)
    errors += [
        (("defaults", "headers", name), _HOST_IN_DEFAULTS)
        for name in defaults.headers
        if name.lower() == "host"
    ]
    if {"interval", "timeout"} <= defaults.model_fields_set and (
        defaults.timeout >= defaults.interval
    ):
        errors.append(
            (
                ("defaults", "timeout"),
                f"{format_duration(defaults.timeout)} must be shorter than the interval "
                f"({format_duration(defaults.interval)})",
            )
        )
    for i, monitor in enumerate(config.monitors):
        at: KeyPath = ("monitors", i)
        errors += _check_scheme_options(monitor, at)
        errors += check_steps(monitor.steps, monitor.model_fields_set, monitor.url, at)
        errors += check_browser(monitor, at)
        errors += _check_host_header(monitor, at)
        errors += _check_push(monitor, at)
        errors += _check_traffic(monitor, at)
        errors += _references(monitor.alerts, channels, (*at, "alerts"), "alert channel")
        errors += _check_escalation(monitor.escalate, channels, (*at, "escalate"))
        errors += _references(monitor.depends_on, monitors, (*at, "depends_on"), "monitor", refs)
        errors += [
            ((*at, "depends_on", j), "a monitor cannot depend on itself")
            for j, parent in enumerate(monitor.depends_on)
            if parent == monitor.name
        ]
        errors += _check_timing(monitor, defaults, at)
        errors += check_alert_when(monitor, defaults, at)
        errors += _references(monitor.locations, locations, (*at, "locations"), "location")
        errors += _twice(monitor.locations, (*at, "locations"))
        errors += _check_quorum(monitor, config, at)
    errors += _cycles(config.monitors)
    errors += _unique_push_tokens(config.monitors)
    for i, window in enumerate(config.maintenance):
        errors += _check_window(window, ("maintenance", i))
        at = ("maintenance", i, "monitors")
        errors += _references(window.monitors, monitors, at, "monitor", refs)
    errors += _check_status_pages(config.status_pages, monitors, refs)
    errors += check_objectives(config.objectives, config.monitors, channels, refs)
    errors += check_retention(config.storage, config.objectives)
    errors += check_page_objectives(config.status_pages, [o.name for o in config.objectives])
    errors += check_subscribe([p.subscribe for p in config.status_pages], config.alerts)
    errors += check_routes(config.routes, config.time_intervals, channels)
    errors += check_inhibit_rules(config.inhibit_rules, config.monitors, refs)
    return errors


def _check_session(config: MonitorConfig) -> list[Problem]:
    server = config.server
    if server.session_idle > server.session_max:
        return [
            (
                ("server", "session_idle"),
                f"{format_duration(server.session_idle)} is longer than session_max "
                f"({format_duration(server.session_max)}): a session ends at the shorter",
            )
        ]
    return []


def config_warnings(config: MonitorConfig) -> list[str]:
    """What is valid but probably not meant: ``tether check-config`` prints it, and
    ``tether monitor`` logs it at start: a reference to monitors that only discovery
    may satisfy, a module that is not available, a server open beyond loopback.  One
    line each: a hidden character of the file's (a newline in a quoted host, a bidi
    control) is written as an escape, as the errors write it."""
    return [visible(line) for line in _warnings(config)]


def _warnings(config: MonitorConfig) -> list[str]:
    server = config.server
    out: list[str] = []
    if config.discover:  # without it, a reference that finds nothing is an error already
        refs = References(config.discover)
        cross_check(config, refs)
        out += [f"{render_path(path)}: {message}" for path, message in refs.warnings]
    out += [
        f"modules.{name}: not available: {module.unavailable}; /probe?module={name} "
        "answers 400 saying so"
        for name, module in config.modules.items()
        if module.unavailable is not None
    ]
    # A check this installation cannot run fails each time until its extra is installed.
    out += config_cannot_run(config)
    if config.oidc is not None:
        lacking = problem("oidc: single sign-on", "oidc")
        out += [f"{lacking}; until then a login that comes back is refused"] if lacking else []
    if is_loopback(server.host):
        return out
    if not config.users and config.oidc is None:
        out.append(
            f"server.listen: {server.host} is not a loopback address and no users are "
            "configured: the dashboard and its APIs answer only requests made on loopback "
            "(status pages, badges, /metrics and /probe are served as configured); add "
            "users: to log in from elsewhere (docs/security.md#login-and-tokens)"
        )
    if config.tokens and not {"metrics", "probe"} <= set(server.require_token):
        out.append(
            f"server.require_token: {server.host} is not a loopback address and tokens "
            "are configured, but /metrics and /probe answer without one: write "
            "require_token: [metrics, probe] (docs/security.md#login-and-tokens)"
        )
    return out


def _unique(items: tuple[Any, ...], section: str, what: str) -> list[Problem]:
    first: dict[str, int] = {}
    errors: list[Problem] = []
    for i, item in enumerate(items):
        if item.name in first:
            errors.append(
                (
                    (section, i, "name"),
                    f"{show(item.name)} is already the name of {section}[{first[item.name]}]; "
                    f"each {what} needs its own",
                )
            )
        first.setdefault(item.name, i)
    return errors


_DEFINED_UNDER = {
    "monitor": "; define it under monitors",
    "alert channel": "; define it under alerts",
    "location": "; list it under locations at the top of the file",
}


def _references(
    names: tuple[str, ...],
    known: list[str],
    at: KeyPath,
    what: str,
    refs: References | None = None,
) -> list[Problem]:
    """An error for each of ``names`` not ``known`` (a monitor that discovery may make:
    a warning kept by ``refs``)."""
    errors: list[Problem] = []
    for j, name in enumerate(names):
        if name not in known:
            hint = did_you_mean(name, known) or _DEFINED_UNDER[what]
            error = f"no {what} named {show(name)}{hint}"
            if refs is None:
                errors.append(((*at, j), error))
            else:
                errors += refs.name((*at, j), name, error)
    return errors


def _twice(names: tuple[str, ...], at: KeyPath) -> list[Problem]:
    """A name listed twice in one list of locations: it would count twice towards a quorum."""
    first: dict[str, int] = {}
    errors: list[Problem] = []
    for j, name in enumerate(names):
        if name in first:
            errors.append(((*at, j), f"{show(name)} is listed twice (first at [{first[name]}])"))
        first.setdefault(name, j)
    return errors


def _listed(names: tuple[str, ...]) -> str:
    return f"{count(len(names), 'location')} ({', '.join(names)})"


def _check_default_quorum(config: MonitorConfig) -> list[Problem]:
    """``defaults.quorum`` against the locations a monitor gets when it sets neither key."""
    defaults = config.defaults
    if "quorum" not in defaults.model_fields_set or not isinstance(defaults.quorum, int):
        return []
    if "locations" in defaults.model_fields_set:
        names, where = defaults.locations, "of defaults.locations"
    else:
        names, where = config.locations, "at the top of the file"
    if defaults.quorum <= len(names):
        return []
    return [
        (
            ("defaults", "quorum"),
            f"{defaults.quorum} is more than the {_listed(names)} {where}: "
            "no outage could ever reach it",
        )
    ]


def _check_quorum(monitor: Monitor, config: MonitorConfig, at: KeyPath) -> list[Problem]:
    """A number in ``quorum`` is at most the monitor's number of locations (``majority``
    always fits).  Said where the monitor set one of the two keys itself; a monitor that
    inherits both is covered by :func:`_check_default_quorum`."""
    own, inherited = monitor.model_fields_set, config.defaults.model_fields_set
    quorum = monitor.quorum if "quorum" in own else config.defaults.quorum
    if "locations" in own:
        names = monitor.locations
    elif "locations" in inherited:
        names = config.defaults.locations
    else:
        names = config.locations
    if not isinstance(quorum, int) or quorum <= len(names) or not {"quorum", "locations"} & own:
        return []
    if "quorum" in own:
        source = ", from defaults.locations" if {"locations"} <= inherited - own else ""
        return [
            (
                (*at, "quorum"),
                f"{quorum} is more than the monitor's {_listed(names)}{source}: no outage "
                "could ever reach it",
            )
        ]
    return [
        (
            (*at, "locations"),
            f"{_listed(names)}, fewer than the quorum of {quorum} from defaults.quorum: no "
            "outage could ever reach it; set quorum on this monitor",
        )
    ]


def _check_escalation(
    steps: tuple[Escalation, ...], channels: list[str], at: KeyPath
) -> list[Problem]:
    """Each step names channels that exist, and comes later than the one before it."""
    errors: list[Problem] = []
    for j, step in enumerate(steps):
        errors += _references(step.alerts, channels, (*at, j, "alerts"), "alert channel")
        if j and step.after <= steps[j - 1].after:
            errors.append(
                (
                    (*at, j, "after"),
                    f"{format_duration(step.after)} is not after the step before it "
                    f"({format_duration(steps[j - 1].after)}): list the steps in the order "
                    "they happen",
                )
            )
    return errors


def _check_channel(channel: AlertChannel, at: KeyPath) -> list[Problem]:
    if isinstance(channel, AlertmanagerChannelConfig):
        return alertmanager_problems(channel, at)
    if isinstance(channel, AppriseChannelConfig) and not channel.targets:
        return [((*at, "url"), "is required: an apprise URL (or urls: a list of them)")]
    if isinstance(channel, EmailChannelConfig):
        if channel.password is not None and channel.username is None:
            return [((*at, "username"), "is required with a password")]
        if channel.username is not None and channel.password is None:
            return [((*at, "password"), "is required with a username")]
        if channel.password is not None and not channel.starttls and channel.port != 465:
            return [
                (
                    (*at, "starttls"),
                    "must be true when a password is set: tether sends passwords only over TLS "
                    "(or use port 465, TLS from the start)",
                )
            ]
    return []


def _check_scheme_options(monitor: Monitor, at: KeyPath) -> list[Problem]:
    """Each option the monitor gives is one its scheme takes (the registry says which,
    ``_capabilities.py``); a ws:// monitor's request is its upgrade's."""
    from tether.probe import find_scheme

    scheme, given = monitor.scheme, monitor.model_fields_set
    found = find_scheme(scheme)  # None for push:// and traffic://: they take none of these
    errors: list[Problem] = []
    if found is not None and found.check == "websocket":
        errors += _check_websocket(monitor, at)  # its upgrade's words for the request's keys
    else:
        errors += [
            ((*at, key), f"only http:// and https:// monitors send a request; this is {scheme}://")
            for key in HTTP_ONLY
            if key in given and not takes(found, key)
        ]
    if monitor.http_version != "1.1" and not takes(found, "http_version"):
        errors.append(
            (
                (*at, "http_version"),
                f"only https:// monitors can use HTTP/3 (it runs over QUIC, TLS within); "
                f"this is {scheme}://",
            )
        )
    if "dns" in given and not takes(found, "dns"):
        errors.append(((*at, "dns"), f"only dns:// monitors take dns options; this is {scheme}://"))
    if "tls" in given and not takes(found, "tls"):
        named = ", ".join(f"{name}://" for name in certificate_schemes())
        errors.append(
            (
                (*at, "tls"),
                f"only {named} and database monitors have a certificate; this is {scheme}://",
            )
        )
    errors += database_problems(scheme, given, monitor.query, at)
    if monitor.dns is not None:
        errors += _check_answers(monitor.dns, (*at, "dns", "answers"))
        errors += dnssec_problems(monitor.dns, (*at, "dns"))
    errors += rdap_problems(monitor.conditions, monitor.url, monitor.rdap, at)
    if scheme == "icmp":
        errors += _check_echoes(monitor, at)
    return errors


_HOST_IN_DEFAULTS: Final = (
    "a Host header names one URL's host, not every monitor's: tether sends each URL's "
    "own; remove it"
)


def _check_host_header(monitor: Monitor, at: KeyPath) -> list[Problem]:
    """A ``Host`` header must name the URL's own host (and port): one naming another is
    refused, not sent to a server, a certificate and redirects that all name the URL's."""
    written = [(n, v) for n, v in monitor.headers.items() if n.lower() == "host"]
    if not written:
        return []
    from tether.probe import InvalidTarget, parse_target

    try:
        t = parse_target(monitor.url)
    except InvalidTarget:
        return []  # the url's own error says it
    errors: list[Problem] = []
    for name, value in written:
        problem = host_problem(
            value, host=t.ascii_host, port=t.port, default=default_port(t.scheme)
        )
        if problem is not None:
            errors.append(((*at, "headers", name), f"{show(value)} {problem}"))
    return errors


def _check_echoes(monitor: Monitor, at: KeyPath) -> list[Problem]:
    """An icmp:// monitor's requests must all be sent within its timeout."""
    from tether.probe import echo_options, parse_target

    echoes = echo_options(parse_target(monitor.url))
    spread = echoes.interval * (echoes.count - 1)
    if spread < monitor.timeout:
        return []
    return [
        (
            (*at, "url"),
            f"{echoes.count} echo requests {format_duration(echoes.interval)} apart take "
            f"{format_duration(spread)}, not less than the timeout of "
            f"{format_duration(monitor.timeout)}: lower count= or interval=, or raise timeout",
        )
    ]


def _check_websocket(monitor: Monitor, at: KeyPath) -> list[Problem]:
    """A ws:// monitor takes ``headers`` (sent with the upgrade) and ``body`` (the message
    whose reply ``[BODY]`` reads); the upgrade is a GET, and it follows no redirect."""
    given, scheme = monitor.model_fields_set, monitor.scheme
    errors: list[Problem] = []
    if "method" in given and monitor.method != "GET":
        errors.append(
            (
                (*at, "method"),
                f"a {scheme}:// upgrade is a GET (RFC 6455); to send something, write body: "
                "it goes as a message once the connection is upgraded",
            )
        )
    errors += [
        ((*at, key), f"a {scheme}:// check follows no redirect: remove {key}")
        for key in ("follow_redirects", "max_redirects")
        if key in given
    ]
    return errors


_LONGEST_WINDOW: Final = 3600.0
"""A traffic monitor's window: an hour at most (one bucket a second is kept for it)."""


def _check_traffic(monitor: Monitor, at: KeyPath) -> list[Problem]:
    given = monitor.model_fields_set
    if not monitor.traffic:
        errors: list[Problem] = [
            ((*at, key), "only a traffic monitor (type: traffic) takes it")
            for key in TRAFFIC_ONLY
            if key in given
        ]
        if monitor.scheme == "traffic":
            errors.append(
                ((*at, "url"), "traffic:// is not probed: write type: traffic and an app")
            )
        return errors
    errors = []
    if "url" in given and not monitor.url.startswith("traffic://"):
        errors.append(
            ((*at, "url"), "a traffic monitor probes nothing: leave url out (its app reports)")
        )
    if monitor.app is None:
        errors.append(
            (
                (*at, "app"),
                "a traffic monitor needs an app: the name its application reports under "
                "(tether.report_to(URL, app=NAME))",
            )
        )
    if monitor.consecutive == 0 and monitor.failure_ratio is None:
        errors.append(
            (
                (*at, "consecutive"),
                "with consecutive: 0 and no failure_ratio, nothing can take it down: "
                "give one of them",
            )
        )
    if monitor.window > _LONGEST_WINDOW:
        errors.append(
            ((*at, "window"), f"{format_duration(monitor.window)} is too long: 1h at most")
        )
    elif monitor.window < 1:
        errors.append(((*at, "window"), "too short: 1s at least"))
    errors += [
        ((*at, key), "a traffic monitor probes nothing: leave it out")
        for key in (
            "conditions",
            "timeout",
            "resolver",
            "interval",
        )
        if key in given
    ]
    return errors


def _check_push(monitor: Monitor, at: KeyPath) -> list[Problem]:
    given = monitor.model_fields_set
    if not monitor.push:
        errors: list[Problem] = [
            ((*at, key), "only a push monitor (type: push) takes it")
            for key in PUSH_ONLY
            if key in given
        ]
        if monitor.scheme == "push":
            errors.append(((*at, "url"), "push:// is not probed: write type: push and a token"))
        return errors
    errors = []
    if "url" in given and not monitor.url.startswith("push://"):
        errors.append(
            ((*at, "url"), "a push monitor probes nothing: leave url out (jobs push to it)")
        )
    if monitor.token is None:
        errors.append(
            (
                (*at, "token"),
                "a push monitor needs a token, the secret its jobs push with "
                "(10 letters or digits at least, as `openssl rand -hex 16` prints)",
            )
        )
    if "cron" in given and "interval" in given:
        errors.append(((*at, "cron"), "give interval or cron, not both"))
    if "timezone" in given and "cron" not in given:
        errors.append(((*at, "timezone"), "only a cron schedule is read in a time zone"))
    errors += [
        ((*at, key), "a push monitor probes nothing: leave it out")
        for key in ("conditions", "timeout", "resolver", "dns", "tls")
        if key in given
    ]
    return errors


def _unique_push_tokens(monitors: tuple[Monitor, ...]) -> list[Problem]:
    seen: dict[str, str] = {}
    errors: list[Problem] = []
    for i, monitor in enumerate(monitors):
        if monitor.token is None:
            continue
        token = monitor.token.get_secret_value()
        if token in seen:
            errors.append(
                (
                    ("monitors", i, "token"),
                    f"is the token of {show(seen[token])} too: give each its own",
                )
            )
        else:
            seen[token] = monitor.name
    return errors


def _check_answers(dns: DnsOptions, at: KeyPath) -> list[Problem]:
    version = {"A": 4, "AAAA": 6}.get(dns.record_type)
    if version is None:
        return []
    errors: list[Problem] = []
    for j, answer in enumerate(dns.answers):
        try:
            ok = ipaddress.ip_address(answer).version == version
        except ValueError:
            ok = False
        if not ok:
            errors.append(
                (
                    (*at, j),
                    f"{show(answer)} is not an IPv{version} address, "
                    f"which an {dns.record_type} record holds",
                )
            )
    return errors


def _check_timing(monitor: Monitor, defaults: MonitorDefaults, at: KeyPath) -> list[Problem]:
    own, inherited = monitor.model_fields_set, defaults.model_fields_set
    interval = monitor.interval if "interval" in own else defaults.interval
    if "timeout" in own:
        timeout = monitor.timeout
    elif "timeout" in inherited:
        timeout = defaults.timeout
    else:
        return []  # the default timeout adapts to the interval
    if timeout < interval:
        return []
    if "timeout" in own:
        source = "" if "interval" in own else ", from defaults.interval"
        return [
            (
                (*at, "timeout"),
                f"{format_duration(timeout)} must be shorter than the interval "
                f"({format_duration(interval)}{source})",
            )
        ]
    if "interval" in own:
        return [
            (
                (*at, "interval"),
                f"{format_duration(interval)} must be longer than the timeout "
                f"({format_duration(timeout)}, from defaults.timeout)",
            )
        ]
    return []  # both from defaults: reported once, at defaults.timeout


def _cycles(monitors: tuple[Monitor, ...]) -> list[Problem]:
    index = {m.name: i for i, m in reversed(list(enumerate(monitors)))}
    # A name written twice is reported elsewhere; its first monitor speaks for it here.
    parents = {
        name: [p for p in monitors[i].depends_on if p in index and p != name]
        for name, i in index.items()
    }
    reported: set[frozenset[str]] = set()
    errors: list[Problem] = []
    done: set[str] = set()
    # Depth first without recursion: a chain of thousands of monitors is a fine file,
    # and Python's stack is a thousand frames.  `trail` is the path from the monitor the
    # walk started at; `at` each trail member's place in it; `todo` the parents still to
    # visit at each step of the trail.
    for monitor in monitors:
        if monitor.name in done:
            continue
        trail, at = [monitor.name], {monitor.name: 0}
        todo = [iter(parents[monitor.name])]
        while todo:
            parent = next(todo[-1], None)
            if parent is None:
                finished = trail.pop()
                del at[finished]
                todo.pop()
                done.add(finished)
            elif parent in at:
                cycle = trail[at[parent] :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    errors.append(_cycle_error(cycle, monitors, index))
            elif parent not in done:
                at[parent] = len(trail)
                trail.append(parent)
                todo.append(iter(parents[parent]))
    return errors


def _cycle_error(cycle: list[str], monitors: tuple[Monitor, ...], index: dict[str, int]) -> Problem:
    # Start the story at the monitor written first, so the report does not depend on the walk.
    first = min(range(len(cycle)), key=lambda k: index[cycle[k]])
    ordered = cycle[first:] + cycle[:first]
    i = index[ordered[0]]
    j = monitors[i].depends_on.index(ordered[1 % len(ordered)])
    shown = [*ordered, ordered[0]]
    if len(ordered) > 8:  # one line, however long the cycle
        shown = [*ordered[:3], f"... {len(ordered) - 5} more ...", *ordered[-2:], ordered[0]]
    story = " -> ".join(shown)
    return ("monitors", i, "depends_on", j), f"dependency cycle: {story}"


def _check_window(window: MaintenanceWindow, at: KeyPath) -> list[Problem]:
    given = window.model_fields_set
    once = {"start", "end"} & given
    weekly = {"schedule", "duration"} & given
    if once and weekly:
        return [(at, "give start and end, or schedule and duration, not both")]
    if not once and not weekly:
        return [(at, "give start and end (once), or schedule and duration (weekly)")]
    missing = sorted({"start", "end"} - once if once else {"schedule", "duration"} - weekly)
    if missing:
        return [((*at, missing[0]), "is required")]
    if window.start is not None and window.end is not None:
        zone = zoneinfo.ZoneInfo(window.timezone)
        start, end = aware(window.start, zone), aware(window.end, zone)
        assert start is not None
        assert end is not None
        if end <= start:
            return [((*at, "end"), f"{end.isoformat()} is not after start ({start.isoformat()})")]
    if window.duration is not None and window.duration > 7 * 86400:
        return [((*at, "duration"), f"{format_duration(window.duration)} is more than a week")]
    return []


def _check_status_pages(
    pages: tuple[StatusPage, ...], monitors: list[str], refs: References
) -> list[Problem]:
    """Unique slugs; each page's monitors exist and are listed once; each note says what
    it is about (an incident, or a monitor of the page from a start); times in order."""
    errors: list[Problem] = []
    first: dict[str, int] = {}
    for i, page in enumerate(pages):
        at: KeyPath = ("status_pages", i)
        if page.slug in first:
            errors.append(
                (
                    (*at, "slug"),
                    f"{show(page.slug)} is already the slug of status_pages[{first[page.slug]}]; "
                    "each status page needs its own",
                )
            )
        first.setdefault(page.slug, i)
        listed: dict[str, KeyPath] = {}
        for g, group in enumerate(page.groups):
            for j, entry in enumerate(group.monitors):
                where: KeyPath = (*at, "groups", g, "monitors", j)
                if entry.monitor not in monitors:
                    hint = did_you_mean(entry.monitor, monitors) or _DEFINED_UNDER["monitor"]
                    error = f"no monitor named {show(entry.monitor)}{hint}"
                    errors += refs.name((*where, "monitor"), entry.monitor, error)
                elif entry.monitor in listed:
                    errors.append(
                        (
                            (*where, "monitor"),
                            f"{show(entry.monitor)} is already on this page (at "
                            f"{render_path(listed[entry.monitor])})",
                        )
                    )
                listed.setdefault(entry.monitor, where)
        for j, announcement in enumerate(page.announcements):
            errors += _in_order(announcement.start, announcement.end, (*at, "announcements", j))
        for j, note in enumerate(page.notes):
            errors += _check_note(note, list(listed), (*at, "notes", j))
    return errors


def _check_note(note: IncidentNote, listed: list[str], at: KeyPath) -> list[Problem]:
    if note.incident is not None:
        given = sorted({"monitor", "start", "end"} & note.model_fields_set)
        if given:
            return [((*at, given[0]), "a note is of an incident or of a monitor's time, not both")]
        return []
    if note.monitor is None:
        return [(at, "say what the note is about: incident: ID, or monitor: NAME and start")]
    if note.monitor not in listed:
        hint = did_you_mean(note.monitor, listed) or "; a note is of a monitor on this page"
        return [((*at, "monitor"), f"{show(note.monitor)} is not on this page{hint}")]
    if note.start is None:
        return [((*at, "start"), "is required with monitor: when the trouble began")]
    return _in_order(note.start, note.end, at)


def _in_order(start: dt.datetime | None, end: dt.datetime | None, at: KeyPath) -> list[Problem]:
    """``end`` after ``start``, each read as UTC when written without an offset."""
    first, last = aware(start, dt.UTC), aware(end, dt.UTC)
    if first is None or last is None or first < last:
        return []
    return [((*at, "end"), f"{last.isoformat()} is not after start ({first.isoformat()})")]
