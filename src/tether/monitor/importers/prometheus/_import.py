"""``tether import prometheus prometheus.yml [--modules blackbox.yml]``: the scrape jobs
that probe through blackbox_exporter, as tether monitors.

The pattern blackbox_exporter's README gives::

    - job_name: blackbox
      metrics_path: /probe
      params: {module: [http_2xx]}
      static_configs: [{targets: [https://prometheus.io]}]
      relabel_configs:
        - {source_labels: [__address__], target_label: __param_target}
        - {source_labels: [__param_target], target_label: instance}
        - {target_label: __address__, replacement: 127.0.0.1:9115}

Each target is one monitor, probed as the job's module says: the module from
``--modules blackbox.yml`` when given (and carried into the output's ``modules:``, so
``/probe?module=NAME`` answers as the exporter did), else from blackbox_exporter's
example ``blackbox.yml`` (tether's default modules).  ``scrape_interval`` is the
interval, ``scrape_timeout`` less half a second caps the timeout (as the exporter caps
its probe), the static config's labels are the monitor's, with ``job`` and ``instance``.
Jobs of another shape stay with Prometheus: left out, with why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from tether.monitor.config._blackbox import (
    DEFAULT_MODULES,
    BlackboxModule,
    HttpModule,
    honoured_part,
)
from tether.monitor.config.labels._labels import label_problem
from tether.monitor.importers._common import Imported, ImportFailed, LeftOut
from tether.monitor.importers._values import (
    go_duration,
    monitor_problem,
    name_problem,
    read_yaml,
    seconds_text,
    shown,
)
from tether.monitor.importers.prometheus._sd import ADDRESS, SdSources, sd_sources

__all__ = ["import_prometheus"]

_DNS_TYPES: Final = ("A", "AAAA", "CNAME", "MX", "TXT", "NS")


Partial = dict[str, tuple[BlackboxModule, dict[str, Any]]]
"""A module tether cannot run as written, by name: what it honours of it, as a module for
the monitors, and the options it does not (:func:`honoured_part`)."""


def _modules(
    path: str | None, left: list[LeftOut], partial: Partial | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The modules to probe with (by name), and those written to the output's ``modules:``;
    each unavailable module's honoured part into ``partial``."""
    if path is None:
        return dict(DEFAULT_MODULES), {}
    data = read_yaml(path, "blackbox_exporter")
    written = data.get("modules") if isinstance(data, Mapping) else None
    if not isinstance(written, Mapping):
        raise ImportFailed(f"{path}: is not a blackbox_exporter configuration: it has no modules")
    found: dict[str, Any] = {}
    carried: dict[str, Any] = {}
    for name, module in written.items():
        try:
            found[str(name)] = BlackboxModule.model_validate(module)
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            left.append(LeftOut(f"modules.{name}", f"tether refuses it: {where}: {problem['msg']}"))
            continue
        if not found[str(name)].unavailable:  # what is carried is what tether runs
            carried[str(name)] = module
        elif partial is not None and isinstance(module, Mapping):
            kept, dropped = honoured_part(module)
            try:
                honoured = BlackboxModule.model_validate(kept)
            except ValidationError:
                continue  # the job is left out, naming the module's reason
            if not honoured.unavailable:
                partial[str(name)] = (honoured, dropped)
    return found, carried


def _is_blackbox(job: Mapping[str, Any]) -> str | None:
    """Why the job is not the blackbox pattern; ``None`` when it is."""
    if job.get("metrics_path") != "/probe":
        return (
            "not a blackbox_exporter job (its metrics_path is not /probe): it stays with Prometheus"
        )
    module = (
        (job.get("params") or {}).get("module") if isinstance(job.get("params"), Mapping) else None
    )
    if not isinstance(module, list) or len(module) != 1:
        return "its params name no single module"
    moves = {
        (tuple(r.get("source_labels") or ()), r.get("target_label"))
        for r in job.get("relabel_configs") or []
        if isinstance(r, Mapping)
    }
    if (("__address__",), "__param_target") not in moves:
        return "its relabel_configs do not move __address__ to __param_target"
    return None


def _extra_relabels(job: Mapping[str, Any], what: str, left: list[LeftOut]) -> None:
    pattern = {
        (("__address__",), "__param_target"),
        (("__param_target",), "instance"),
        ((), "__address__"),
    }
    for index, rule in enumerate(job.get("relabel_configs") or []):
        if not isinstance(rule, Mapping):
            continue
        key = (tuple(rule.get("source_labels") or ()), rule.get("target_label"))
        if key not in pattern or rule.get("action", "replace") != "replace":
            left.append(
                LeftOut(
                    f"{what}: relabel_configs[{index}]",
                    "tether does not relabel: labels come from static_configs",
                )
            )


def _target(
    module: BlackboxModule, target: str, out: dict[str, Any], what: str, left: list[LeftOut]
) -> bool:
    """Fill the monitor's url and options from the module; False leaves the target out.
    ``target`` is a static target, or :data:`ADDRESS` for a template."""
    templated = target == ADDRESS
    if module.prober == "http":
        _http(module.http, target, out, what, left)
        return True
    hostport = target.rsplit("://", maxsplit=1)[-1]
    if module.prober == "tcp":
        scheme = "tls" if module.tcp.tls else "tcp"
        out["url"] = f"{scheme}://{hostport}"
        if module.tcp.tls and module.tcp.tls_config.ca_file:
            out["tls"] = {"ca_file": module.tcp.tls_config.ca_file}
        return True
    if module.prober == "icmp":
        out["url"] = f"icmp://{hostport}"
        return True
    if module.prober == "grpc":
        _grpc(module, target, out, what, left, templated=templated)
        return True
    if module.prober == "dns" and module.dns is not None:
        kind = module.dns.query_type
        if kind not in _DNS_TYPES:
            left.append(LeftOut(what, f"tether's dns:// asks {', '.join(_DNS_TYPES)}, not {kind}"))
            return False
        out["url"] = f"dns://{module.dns.query_name.rstrip('.')}"
        out["resolver"] = hostport
        options: dict[str, Any] = {"record_type": kind}
        if len(module.dns.valid_rcodes) == 1:
            options["rcode"] = module.dns.valid_rcodes[0]
        elif module.dns.valid_rcodes:
            left.append(
                LeftOut(
                    f"{what}: valid_rcodes", "a dns:// monitor expects one rcode: the first is used"
                )
            )
            options["rcode"] = module.dns.valid_rcodes[0]
        out["dns"] = options
        return True
    left.append(LeftOut(what, f"tether has no {module.prober} probe"))
    return False


def _http(
    http: HttpModule, target: str, out: dict[str, Any], what: str, left: list[LeftOut]
) -> None:
    """An http module's monitor: HTTP/3 where the module enables it (``https://`` then, as
    the exporter makes an ``http://`` target), HTTP/1.1 otherwise."""
    url = target if "://" in target else f"http://{target}"
    if http.enable_http3:
        if url.startswith("http://"):
            url = f"https://{url.removeprefix('http://')}"
        out["http_version"] = "3"
    out["url"] = url
    if http.method != "GET":
        out["method"] = http.method
    if http.headers:
        out["headers"] = dict(http.headers)
    if not http.follows:
        out["follow_redirects"] = False
    codes = http.valid_status_codes
    out["conditions"] = (
        [f"[STATUS] in ({', '.join(map(str, codes))})"]
        if codes
        else ["[STATUS] >= 200", "[STATUS] < 300"]
    )
    if http.tls_config.ca_file:
        out["tls"] = {"ca_file": http.tls_config.ca_file}
    if http.tls_config.insecure_skip_verify:
        left.append(
            LeftOut(
                f"{what}: tls_config.insecure_skip_verify",
                "tether never turns TLS verification off for you: write "
                "tls: {insecure: true} yourself",
            )
        )
    if http.fail_if_ssl or http.fail_if_not_ssl:
        left.append(
            LeftOut(
                f"{what}: fail_if_ssl, fail_if_not_ssl",
                "a monitor has no such check: its URL's scheme says whether it is TLS",
            )
        )
    versions = set(http.valid_http_versions)
    if versions and not http.enable_http3 and "HTTP/1.1" not in versions:
        left.append(
            LeftOut(
                f"{what}: valid_http_versions",
                "a monitor speaks HTTP/1.1 (or HTTP/3 with http_version: 3), never "
                f"{', '.join(sorted(versions))}",
            )
        )


def _grpc(
    module: BlackboxModule,
    target: str,
    out: dict[str, Any],
    what: str,
    left: list[LeftOut],
    *,
    templated: bool,
) -> None:
    """A grpc module's monitor: the health check of its service at the target (an
    ``http://`` or ``https://`` before it dropped, port 80 or 443 when none, as the
    exporter dials), over TLS when the module says ``tls``."""
    grpc = module.grpc
    hostport = target.split("://", 1)[1] if target.startswith(("http://", "https://")) else target
    hostport = hostport.rstrip("/")
    if not templated and not _has_port(hostport):
        hostport = f"{hostport}:{443 if grpc.tls else 80}"
    scheme = "grpcs" if grpc.tls else "grpc"
    out["url"] = f"{scheme}://{hostport}" + (f"/{grpc.service}" if grpc.service else "")
    if grpc.tls and grpc.tls_config.ca_file:
        out["tls"] = {"ca_file": grpc.tls_config.ca_file}
    if grpc.tls_config.insecure_skip_verify:
        left.append(
            LeftOut(
                f"{what}: tls_config.insecure_skip_verify",
                "tether never turns TLS verification off for you: write "
                "tls: {insecure: true} yourself",
            )
        )


def _has_port(hostport: str) -> bool:
    if hostport.startswith("["):
        return "]:" in hostport
    return hostport.count(":") == 1


def _seconds(value: object, default: float) -> float:
    found = go_duration(value)
    return found if found else default


def import_prometheus(path: str, modules_path: str | None = None) -> Imported:
    """The blackbox_exporter scrape jobs of ``path`` as monitors (and ``discover:``
    sources for their file_sd and http_sd targets); the rest left out."""
    data = read_yaml(path, "Prometheus")
    if not isinstance(data, Mapping) or not isinstance(data.get("scrape_configs"), list):
        raise ImportFailed(f"{path}: is not a Prometheus configuration: it has no scrape_configs")
    left: list[LeftOut] = []
    partial: Partial = {}
    modules, carried = _modules(modules_path, left, partial)
    glob: Mapping[str, Any] = data["global"] if isinstance(data.get("global"), Mapping) else {}
    timing = (
        _seconds(glob.get("scrape_interval"), 60.0),
        _seconds(glob.get("scrape_timeout"), 10.0),
    )
    monitors: list[dict[str, Any]] = []
    discovered = SdSources()
    for index, job in enumerate(data["scrape_configs"]):
        name = job.get("job_name") if isinstance(job, Mapping) else None
        what = f"scrape_configs[{index}] ({shown(name)})"
        why = _is_blackbox(job) if isinstance(job, Mapping) else "not a scrape job"
        if why is not None:
            left.append(LeftOut(what, why))
            continue
        module_name = str(job["params"]["module"][0])
        module = modules.get(module_name)
        if module is None:
            elsewhere = (
                "its --modules file"
                if modules_path
                else "blackbox_exporter's example modules (give --modules blackbox.yml)"
            )
            left.append(LeftOut(what, f"module {module_name} is not in {elsewhere}"))
            continue
        dropped: dict[str, Any] = {}
        if module.unavailable:
            if module_name not in partial:
                left.append(LeftOut(what, f"module {module_name}: {module.unavailable}"))
                continue
            # Each target is still a monitor, with what tether honours of the module; what
            # it does not is carried as conditions where one says the same, and named
            # monitor by monitor where none does (issue 73 item 13: one option dropped
            # the whole job).
            module, dropped = partial[module_name]
        _extra_relabels(job, what, left)
        monitors += _job(job, module, timing, what, discovered, left, dropped)
    for key in data:
        if key not in ("global", "scrape_configs"):
            left.append(LeftOut(shown(key), "Prometheus's own: it stays with Prometheus"))
    if not monitors and not discovered.sources:
        raise ImportFailed(
            f"{path}: has no scrape job of the blackbox_exporter pattern (metrics_path: "
            "/probe, params: {module: [...]}, __address__ relabelled to __param_target)"
        )
    _unique_names(monitors)
    config: dict[str, Any] = {}
    if carried:
        config["modules"] = carried
    if discovered.sources:
        config["discover"] = discovered.sources
    if monitors:
        config["monitors"] = monitors
    return Imported(config, tuple(left), f"Prometheus {path}", _notes(discovered))


def _notes(discovered: SdSources) -> tuple[str, ...]:
    notes = [
        "Prometheus can scrape tether's /probe?module=NAME&target=... as it scraped the "
        "exporter (docs/monitor.md)."
    ]
    if discovered.relative:
        notes.append(
            f"discover ({', '.join(discovered.relative)}): file_sd files are read relative "
            "to this file's folder, as Prometheus read them relative to prometheus.yml's: "
            "keep the two side by side, or write the paths out in full."
        )
    if discovered.hostports:
        notes.append(
            f"discover ({', '.join(discovered.hostports)}): each target is read as "
            "HOST:PORT after http:// (https:// for HTTP/3), as blackbox_exporter reads a "
            "target without a scheme; one written as a URL is refused, target by target "
            "(tether status shows it): list those in static_configs."
        )
    if any(
        "http_sd" in s and {"authorization", "basic_auth"} & set(s["http_sd"])
        for s in discovered.sources
    ):
        notes.append(
            "discover: http_sd credentials are written as prometheus.yml had them: keep this "
            "file private, or write ${NAME} in their place and set NAME where tether runs."
        )
    return tuple(notes)


def _job(
    job: Mapping[str, Any],
    module: BlackboxModule,
    timing: tuple[float, float],
    what: str,
    discovered: SdSources,
    left: list[LeftOut],
    dropped: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One blackbox job's monitors (its static targets) and its discovery sources;
    ``dropped``, the module's options tether does not honour, carried where a monitor
    can say the same (:func:`_carry`) and named target by target where not."""
    name = str(job.get("job_name"))
    interval = _seconds(job.get("scrape_interval"), timing[0])
    timeout = min(
        _seconds(job.get("scrape_timeout"), timing[1]) - 0.5, module.timeout or float("inf")
    )

    def timed(monitor: dict[str, Any]) -> None:
        monitor["interval"] = seconds_text(max(interval, 1.0))
        if 0 < timeout < interval:
            monitor["timeout"] = seconds_text(timeout)

    monitors: list[dict[str, Any]] = []
    for group in job.get("static_configs") or []:
        labels = group.get("labels") if isinstance(group.get("labels"), Mapping) else {}
        for target in group.get("targets") or []:
            monitor: dict[str, Any] = {"name": str(target)}
            where = f"{what}: {shown(target)}"
            if not _target(module, str(target), monitor, where, left):
                continue
            _carry(dropped or {}, monitor, where, left)
            timed(monitor)
            good = {str(k): str(v) for k, v in labels.items() if label_problem(str(k)) is None}
            monitor["labels"] = {**good, "job": name, "instance": str(target)}
            problem = monitor_problem(monitor)
            if problem is not None:
                left.append(LeftOut(where, f"tether refuses it: {shown(problem)}"))
                continue
            monitors.append(monitor)
    template: dict[str, Any] | None = None
    why_not = None
    if module.prober == "icmp":
        why_not = (
            "discovered targets are HOST:PORT and an icmp:// check takes a host: list "
            "these targets in static_configs"
        )
    else:
        template = {}
        if _target(module, ADDRESS, template, what, []):
            sourced = "file_sd_configs" in job or "http_sd_configs" in job
            _carry(dropped or {}, template, what, left if sourced else [], trial=False)
            timed(template)
            template["labels"] = {"job": name, "instance": ADDRESS}
        else:
            template, why_not = None, "its module makes no monitor tether runs"
    sd_sources(job, template, why_not, what, discovered, left)
    return monitors


def _quoted(pattern: str) -> str:
    """A regular expression as a quoted argument of a condition's ``re()``."""
    return '"' + pattern.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _carry(
    dropped: Mapping[str, Any],
    monitor: dict[str, Any],
    what: str,
    left: list[LeftOut],
    *,
    trial: bool = True,
) -> None:
    """The options of a module that tether does not honour, for one monitor: those a
    condition or a monitor's own key says the same as are carried; each other is named.
    With ``trial``, each condition is kept only if the monitor with it loads (a discovery
    template's URL is a placeholder: its monitors are checked as they are made)."""
    conditions: list[str] = []
    for key, value in dropped.items():
        option = key.partition(".")[2]
        patterns = value if isinstance(value, list) else None
        if option == "fail_if_body_matches_regexp" and patterns is not None:
            conditions += [f"[BODY] != re({_quoted(str(p))})" for p in patterns]
        elif option == "fail_if_body_not_matches_regexp" and patterns is not None:
            conditions += [f"[BODY] == re({_quoted(str(p))})" for p in patterns]
        elif (
            option == "fail_if_header_not_matches"
            and patterns is not None
            and all(
                isinstance(r, Mapping) and not r.get("allow_missing") and r.get("header")
                for r in patterns
            )
        ):
            conditions += [
                f"[HEADER].{r['header']} == re({_quoted(str(r.get('regexp', '')))})"
                for r in patterns
            ]
        elif option == "body" and isinstance(value, str):
            monitor["body"] = value
        else:
            left.append(LeftOut(f"{what}: {key}", _WHY_NOT.get(option, _NO_SUCH)))
    for condition in conditions:
        tried = {**monitor, "conditions": [*monitor.get("conditions", ()), condition]}
        problem = monitor_problem(tried) if trial else None
        if problem is None:
            monitor["conditions"] = tried["conditions"]
        else:
            left.append(LeftOut(f"{what}: {condition}", f"tether refuses it: {shown(problem)}"))


_NO_SUCH: Final = "a monitor has no such option: the monitor is carried without it"
_WHY_NOT: Final[Mapping[str, str]] = {
    "fail_if_header_matches": (
        "a header that must not match (and may be missing) is no one condition: write it "
        "as [HEADER].NAME != re(...) if the header is always there"
    ),
    "fail_if_header_not_matches": (
        "allow_missing has no one condition: write [HEADER].NAME == re(...) if the header "
        "must be there"
    ),
    "basic_auth": "credentials are not copied: write headers: {Authorization: ...} with ${NAME}",
    "bearer_token": "credentials are not copied: write headers: {Authorization: ...} with ${NAME}",
    "bearer_token_file": "credentials are not copied: write headers: {Authorization: ...}",
    "authorization": "credentials are not copied: write headers: {Authorization: ...} with ${NAME}",
    "body_file": "write the file's text as the monitor's body:",
    "query_response": (
        "a tcp:// monitor connects and sends nothing: the monitor is carried as a connect"
    ),
}


def _unique_names(monitors: list[dict[str, Any]]) -> None:
    """A target probed by two jobs is two monitors: those are named ``job/target`` (or
    ``target (2)`` when that is taken too, or not a name tether takes)."""
    counts: dict[str, int] = {}
    for monitor in monitors:
        counts[monitor["name"]] = counts.get(monitor["name"], 0) + 1
    taken: set[str] = set()
    for monitor in monitors:
        name = monitor["name"]
        if counts[name] > 1:
            name = f"{monitor['labels']['job'].strip()}/{monitor['name']}"
            number = 2
            while name in taken or name_problem(name) is not None:
                name = f"{monitor['name']} ({number})"
                number += 1
        taken.add(name)
        monitor["name"] = name
