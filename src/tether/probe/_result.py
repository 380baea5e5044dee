"""What a probe found: phases in order, the first failure, and warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tether._failure import Failure
from tether._frozen import quick_init
from tether.probe._details import NO_DETAILS, PhaseDetails

PHASES = ("url", "proxy", "dns", "connect", "tls", "http")


@quick_init
@dataclass(frozen=True, slots=True)
class Phase:
    """One layer of the walk: ``url``, ``proxy``, ``dns``, ``connect``, ``tls``, ``http``,
    or for the mail and shell schemes ``ssh`` and ``smtp``, ``ws`` for ``ws://`` and
    ``wss://`` (the upgrade, and a message and its reply), and ``grpc`` for ``grpc://``
    and ``grpcs://`` (the health check).  ``details`` is what it found,
    typed by the kind of phase (``tether.probe._details``)."""

    name: str
    ok: bool
    ms: float
    details: PhaseDetails = NO_DETAILS
    failure: Failure | None = None

    def __repr__(self) -> str:
        return f"<Phase {self.name} {'ok' if self.ok else 'failed'} {self.ms:.1f} ms>"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "ok": self.ok, "ms": round(self.ms, 3)}
        out.update(self.details.to_json())
        if self.failure is not None:
            out["kind"] = self.failure.kind.value
        return out


@quick_init
@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The whole walk for one target.  ``failure`` is the first broken layer's."""

    target: str
    """The target as given, with credentials redacted."""
    phases: tuple[Phase, ...]
    failure: Failure | None
    warnings: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    """The last response's headers (names lower-cased); not in :meth:`to_dict`."""
    body: bytes | None = field(default=None, repr=False, compare=False)
    """The first ``ProbeOptions.keep_body`` bytes of the last response's body."""
    screenshot: bytes | None = field(default=None, repr=False, compare=False)
    """A browser check's PNG of the viewport when it failed; not in :meth:`to_dict`."""

    @property
    def ok(self) -> bool:
        return self.failure is None

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)

    def __repr__(self) -> str:
        verdict = "ok" if self.failure is None else self.failure.kind.value
        return f"<ProbeResult {self.target} {verdict}>"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape documented in docs/diagnose.md."""
        f = self.failure
        return {
            "target": self.target,
            "ok": self.ok,
            "failure": None
            if f is None
            else {
                "kind": f.kind.value,
                "layer": f.layer.value,
                "detail": f.detail,
                "hint": f.hint,
                "retryable": f.retryable,
            },
            "phases": [p.to_dict() for p in self.phases],
            "warnings": list(self.warnings),
        }
