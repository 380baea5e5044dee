"""A blackbox job's service discovery as tether's ``discover:`` sources.

Prometheus's ``file_sd_configs`` and ``http_sd_configs`` are the two generic formats
tether reads itself (``discover:``, docs/discovery.md; the registry's
:data:`~tether.monitor.config._capabilities.DISCOVERY`): each becomes one source whose
template is the job's monitor with ``{{address}}`` for the target, as the job's static
targets are.  Every other ``*_sd_configs`` (Kubernetes, Consul, DNS...) is left out, with
why.  A file's path stays as written: tether reads it relative to its own configuration's
folder, as Prometheus read it relative to ``prometheus.yml``'s, which the header says.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from tether.monitor.config._capabilities import DISCOVERY
from tether.monitor.importers._common import LeftOut
from tether.monitor.importers._values import go_duration, name_problem, seconds_text, shown

__all__ = ["ADDRESS", "SdSources", "sd_sources"]

ADDRESS: Final = "{{address}}"
"""What a template writes for the target (``__address__``)."""

_HTTP_SD_LEFT: Final[Mapping[str, str]] = {
    "oauth2": "tether does not fetch OAuth2 tokens: give authorization",
    "proxy_url": "tether reaches a proxy through the environment's https_proxy/http_proxy",
    "proxy_from_environment": "tether reaches a proxy through the environment's "
    "https_proxy/http_proxy, always",
    "no_proxy": "tether reads no_proxy from the environment",
    "proxy_connect_header": "tether sends no headers of yours to a proxy",
    "bearer_token": "write it as authorization: {credentials: ...}",
    "bearer_token_file": "tether reads a secret from the environment (${NAME}), not a file",
    "follow_redirects": "tether follows no redirect of a discovery URL",
    "enable_http2": "tether asks over HTTP/1.1",
    "http_headers": "tether sends only the authorization and Prometheus's refresh header",
}


class SdSources:
    """The ``discover:`` sources made so far (their names unique) and what each came from."""

    def __init__(self) -> None:
        self.sources: list[dict[str, Any]] = []
        self.relative: list[str] = []
        """The sources whose file_sd files are written relative to prometheus.yml."""
        self.hostports: list[str] = []
        """The sources of an http module, whose targets are read as HOST:PORT."""

    def name_for(self, job: str) -> str:
        base = job.strip() if name_problem(job.strip()) is None else "discovered"
        taken = {s["name"] for s in self.sources}
        chosen, n = base, 2
        while chosen in taken:
            chosen, n = f"{base} ({n})", n + 1
        return chosen


def sd_sources(
    job: Mapping[str, Any],
    template: Mapping[str, Any] | None,
    why_not: str | None,
    what: str,
    made: SdSources,
    left: list[LeftOut],
) -> None:
    """The job's ``*_sd_configs`` as ``discover:`` sources with ``template`` (the job's
    monitor for ``{{address}}``), into ``made``; ``template`` is None when the module's
    targets cannot be templated, ``why_not`` saying why."""
    for key in job:
        if not str(key).endswith("_sd_configs"):
            continue
        kind = str(key).removesuffix("_configs")
        where = f"{what}: {key}"
        if kind not in DISCOVERY:
            left.append(
                LeftOut(
                    where,
                    f"tether discovers targets from {' and '.join(DISCOVERY)} only: "
                    "list these in static_configs or a file_sd file",
                )
            )
            continue
        if template is None:
            left.append(LeftOut(where, why_not or "its module cannot be templated"))
            continue
        configs = job[key] if isinstance(job[key], list) else []
        for index, config in enumerate(configs):
            at = f"{where}[{index}]"
            if not isinstance(config, Mapping):
                left.append(LeftOut(at, "not a mapping"))
                continue
            found = _file_sd(config, at, left) if kind == "file_sd" else _http_sd(config, at, left)
            if found is None:
                continue
            name = made.name_for(str(job.get("job_name") or ""))
            made.sources.append({"name": name, kind: found, "template": dict(template)})
            if kind == "file_sd" and any(not f.startswith("/") for f in found["files"]):
                made.relative.append(name)
            if str(template.get("url", "")).startswith(("http://", "https://")):
                made.hostports.append(name)


def _refresh(config: Mapping[str, Any], out: dict[str, Any], at: str, left: list[LeftOut]) -> None:
    if "refresh_interval" not in config:
        return
    seconds = go_duration(config["refresh_interval"])
    if seconds:
        out["refresh_interval"] = seconds_text(seconds)
    else:
        left.append(
            LeftOut(f"{at}: refresh_interval", f"{config['refresh_interval']!r} is not a duration")
        )


def _file_sd(config: Mapping[str, Any], at: str, left: list[LeftOut]) -> dict[str, Any] | None:
    files = [str(f) for f in config.get("files") or [] if str(f).strip()]
    kept = [f for f in files if f.endswith((".json", ".yml", ".yaml"))]
    for f in files:
        if f not in kept:
            left.append(LeftOut(f"{at}: {shown(f)}", "a file_sd file ends .json, .yml or .yaml"))
    if not kept:
        left.append(LeftOut(at, "it names no file of target groups"))
        return None
    out: dict[str, Any] = {"files": kept}
    _refresh(config, out, at, left)
    return out


def _http_sd(config: Mapping[str, Any], at: str, left: list[LeftOut]) -> dict[str, Any] | None:
    url = str(config.get("url") or "")
    if not url.startswith(("http://", "https://")):
        left.append(LeftOut(at, "its url is not an http:// or https:// URL"))
        return None
    out: dict[str, Any] = {"url": url}
    _refresh(config, out, at, left)
    auth = config.get("authorization")
    if isinstance(auth, Mapping):
        if auth.get("credentials"):
            out["authorization"] = {
                "type": str(auth.get("type") or "Bearer"),
                "credentials": str(auth["credentials"]),
            }
        if auth.get("credentials_file"):
            left.append(
                LeftOut(
                    f"{at}: authorization.credentials_file",
                    "tether reads a secret from the environment (credentials: ${NAME}), not a file",
                )
            )
    basic = config.get("basic_auth")
    if isinstance(basic, Mapping) and basic.get("username"):
        out["basic_auth"] = {"username": str(basic["username"])}
        if basic.get("password"):
            out["basic_auth"]["password"] = str(basic["password"])
        if basic.get("password_file"):
            left.append(
                LeftOut(
                    f"{at}: basic_auth.password_file",
                    "tether reads a secret from the environment (password: ${NAME}), not a file",
                )
            )
    if "authorization" in out and "basic_auth" in out:
        left.append(LeftOut(f"{at}: basic_auth", "tether sends one of the two: authorization"))
        del out["basic_auth"]
    tls = config.get("tls_config")
    if isinstance(tls, Mapping):
        if tls.get("ca_file"):
            out["tls"] = {"ca_file": str(tls["ca_file"])}
        others = sorted(str(k) for k in tls if k != "ca_file")
        if others:
            left.append(
                LeftOut(f"{at}: tls_config", f"tether takes ca_file only, not {', '.join(others)}")
            )
    left += [LeftOut(f"{at}: {key}", why) for key, why in _HTTP_SD_LEFT.items() if key in config]
    return out
