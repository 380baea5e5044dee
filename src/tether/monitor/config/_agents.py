"""``agents:``: how the monitor treats the agents that report to it (docs/agents.md).

An agent (``tether agent``) probes from a location of the file's ``locations`` that no
instance runs at, dials out to the monitor, and reports there with a token of the
``agent`` scope bound to that location (``tokens: [{name, hash, scope: agent,
location}]``).  These settings are the server's; the agent learns them with its
assignment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict, model_validator

from tether._suggest import did_you_mean
from tether.monitor.config._errors import KeyPath, Problem, fail, show
from tether.monitor.config._fields import Interval, PositiveDuration

__all__ = ["AgentSettings", "check_agent_tokens"]


class AgentSettings(BaseModel):
    """The server's side of its agents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lease: Interval = 60.0
    """Seconds after an agent's last word (a batch or a poll) that its location stops
    being live: not counted in any quorum, shown as such, never a down service."""
    batch_every: PositiveDuration = 5.0
    """How often an agent sends what it has (seconds); well below ``lease``."""
    max_clock_offset: PositiveDuration = 5.0
    """An agent's clock further than this from the server's is a warning on the
    dashboard and in ``/metrics`` (its results are placed on the server's time anyway)."""
    late_after: PositiveDuration = 120.0
    """A check that reaches the server later than this after it was made (spooled while
    the server could not be reached) is stored, in the history and the uptime, but not
    detected on: it alerts nothing, since what it says is past."""
    keep_batches: PositiveDuration = 7 * 86_400.0
    """How long the server remembers a batch id it took, so a batch sent again is not
    stored twice; longer than any agent spools."""

    @model_validator(mode="after")
    def _batch_within_lease(self) -> AgentSettings:
        if self.batch_every * 3 > self.lease:
            raise fail(
                f"batch_every ({self.batch_every:g} s) must be at most a third of the lease "
                f"({self.lease:g} s), so one lost batch does not make a location look dead"
            )
        return self


class _Token(Protocol):
    @property
    def scope(self) -> str: ...
    @property
    def location(self) -> str | None: ...


def check_agent_tokens(tokens: Sequence[_Token], locations: Sequence[str]) -> list[Problem]:
    """An ``agent`` token names one of the file's locations; no other token names one."""
    out: list[Problem] = []
    for i, token in enumerate(tokens):
        where: KeyPath = ("tokens", i, "location")
        if token.scope == "agent" and token.location is None:
            out.append(
                (("tokens", i), "an agent token names the location it reports for: location: NAME")
            )
        elif token.scope == "agent" and token.location not in locations:
            out.append(
                (
                    where,
                    f"{show(token.location)} is not one of the locations ({', '.join(locations)})"
                    + did_you_mean(str(token.location), locations),
                )
            )
        elif token.scope != "agent" and token.location is not None:
            why = f"only an agent token names a location; this one's scope is {token.scope}"
            out.append((where, why))
    return out
