"""Under overload: goodput and server load against offered load, and recovery from an outage.

Run: python benchmarks/bench_overload.py [--quick] [--no-plots]
     [--write benchmarks/history/bench_overload.md]

A simulation in simulated time: pure, seeded, single-threaded, no sockets and no real
clock, after Marc Brooker's retry simulations ("Fixing retries with token buckets and
circuit breakers", "What is backoff for?", brooker.co.za) and the AWS Builders' Library
article "Timeouts, retries, and backoff with jitter".  Every run with the same seed gives
the same figures.

The model (``Model``; the numbers are chosen to look like a small API service, not to make
any strategy win):

- **The server**: 10 workers, each request an exponential service time of mean 100 ms, so
  a capacity of 100 requests/s, in front of them a FIFO queue of 50 (half a second of work
  at capacity).  A request that finds the queue full is answered 503 at once, but that
  answer is not free: reading the request and writing the 503 takes a worker 5 ms (5% of
  a request), before any queued request.  The server cannot know that a client stopped
  waiting: it serves every request it queued, and a request served after its client's
  timeout is wasted work.  These two costs are what lets retries push goodput down.
- **The clients**: 10 clients, each an open-loop Poisson stream of logical calls (GET,
  safe to retry) at a tenth of the offered rate; a call arriving does not wait for the
  ones before it (Brooker's "many independent clients": backoff alone cannot lower the
  rate of first tries).  Every strategy gives each attempt the same 1 s timeout (tether:
  ``RetryPolicy(total=1.0)``; requests and tenacity users pass ``timeout=1``).  A call's
  goodput counts when one of its attempts is answered 200 within its timeout.
- **The outage**: at 0.8 of capacity, the server answers nothing for 15 s (a hung process
  or a black-holed network: every attempt sent times out, and what it had queued is
  lost), then comes back empty.

Strategies, each one client model, driven by the library's own decision code on the
simulated clock wherever it is pure enough to drive:

- *no retries*: one attempt.
- *urllib3 Retry(3)*: ``urllib3.util.Retry(3)`` itself (``increment``, ``is_retry``,
  ``get_backoff_time``), as ``HTTPAdapter(max_retries=Retry(3))`` uses it.  urllib3 2.x's
  defaults: ``backoff_factor=0`` (retries at once), no ``status_forcelist``, so a 503
  without ``Retry-After`` is handed back, not retried; read timeouts of a GET are retried.
- *urllib3 Retry(3) + status_forcelist*: what the requests tutorials copy when they want
  503s retried, ``Retry(total=3, backoff_factor=1, status_forcelist=[429, 500, 502, 503,
  504])`` (waits of 0, 2 and 4 s).
- *tenacity*: ``stop_after_attempt(4)`` and ``wait_exponential(multiplier=1, min=4,
  max=10)``, the tutorial's example (tenacity's README), with the usual
  ``raise_for_status()`` inside, so a 503 and a timeout both raise and are retried; the
  stop and wait objects are tenacity's own, called with the attempt number.
- *tether default*: ``RetryPolicy(total=1.0)``, its retry budget and breaker, through
  ``tether._retry._loop.Call``, the object that makes every decision of tether's real
  retry loop (``begin``, ``judge``, ``classify``, ``failed``), with a ``tether.Guard`` per
  client and the policy's ``clock`` and ``rand`` on the simulation.
- *tether, budget only*: the same with ``breaker=None``.
- *tether + throttle*: ``throttle=Throttle()``; the throttle is the pure core
  ``tether._retry._limits.ThrottleWindow`` driven here around ``Call`` (an attempt it
  refuses fails the call with ``throttle.rejected``, before ``Call.begin``; an attempt
  counts as accepted when answered 200, which is the Guard's rule for the answers this
  server gives: a 503 or a timeout is a drop).  The Guard's own bulkhead and throttle
  wait on threads and event loops, which a discrete-event simulation has none of, so
  their pure cores are driven here on the simulated clock.
- *tether + adaptive*: ``bulkhead=Bulkhead(adaptive=Adaptive())``; the limit is the pure
  core ``Gradient2Limit`` (``AimdLimit`` for ``algorithm="aimd"``) fed each attempt's
  round trip, with the bulkhead's queue (``queue`` waiters for ``queue_timeout`` s, else
  ``bulkhead.full``) modelled here, for the same reason (the Gradient2 core is the one
  the Guard runs, after the fix that made it follow the minimum latency).
- At 2x only, *tether + throttle, no breaker* and *tether + adaptive, no breaker*: each
  answer beside the budget alone, since at 2x the breaker's shedding hides what they do.

Measures: each load level runs ``WARMUP`` s (120: the throttle's window, the longest
memory of any strategy; tenacity's retries take a minute to reach their steady level),
then counts over ``MEASURE`` s: goodput (calls answered 200 per second), server load
(attempts arriving per second, whatever their fate), wasted work (requests served after
their client's timeout), how calls failed.  The outage run starts its outage after the
same warm-up and counts goodput per second; recovery is the time from the outage's end
to the first 5-s span in which 90% of the calls begun succeeded (counted by the calls'
start, so that a burst of old calls finishing late does not pass for recovery).
Section 3 changes one number of the model at a time and checks the claim again: 50
clients, free 503s, 503s at 20 ms, a queue of 100 (a second of work, as long as the
timeout).

The claim checked: "with tether's defaults, goodput at twice the server's capacity stays
within 10% of the capacity, where fixed-count retries collapse it".
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _overload_sim import (
    ALONE,
    MEASURE,
    MODEL,
    REJECTED,
    STRATEGIES,
    TIMED_OUT,
    WARMUP,
    Model,
    Run,
    recovery_time,
    simulate,
)
from _report import Section, commit, met, table, write_part

ROOT = Path(__file__).resolve().parents[1]
LEVELS = (0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 2.5, 3.0)
QUICK_LEVELS = (0.2, 1.0, 2.0, 3.0)
OUTAGE_LOAD = 0.8


# -- the report --------------------------------------------------------------------------


def _share(x: float, of: float) -> str:
    return f"{x / of:.0%}" if of else "-"


def section_ramp(
    levels: tuple[float, ...], warmup: float, measure: float, model: Model = MODEL
) -> tuple[Section, dict[str, list[Run]]]:
    runs = {
        name: [simulate(name, lv, model=model, warmup=warmup, measure=measure) for lv in levels]
        for name in STRATEGIES
    }
    names = list(STRATEGIES)
    cap = model.capacity
    header = ("offered", *names)

    def rows(pick: Callable[[Run], str]) -> list[tuple[str, ...]]:
        return [(f"{lv:g}x", *(pick(runs[n][i]) for n in names)) for i, lv in enumerate(levels)]

    notes = [
        f"A server of {model.workers} workers at {model.service * 1000:g} ms a request "
        f"({cap:g} requests/s), a queue of {model.queue}, 503s at {model.reject_cost * 1000:g} "
        f"ms of work each; {model.clients} open-loop Poisson clients, a "
        f"{model.timeout:g} s timeout per attempt.  Each level runs {warmup:g} s, then is "
        f"counted over {measure:g} s of simulated time.  Offered load in multiples of the "
        "capacity; goodput in calls answered 200 per second; server load in attempts "
        "arriving per second.  Plots: docs/img/overload-goodput.png, "
        "docs/img/overload-server-load.png.",
    ]
    tables = [
        table("Goodput (calls/s) against offered load", header, rows(lambda r: f"{r.goodput:.1f}")),
        table(
            "Server load (attempts/s) against offered load",
            header,
            rows(lambda r: f"{r.server_load:.0f}"),
        ),
    ]
    verdicts = []
    if 2.0 in levels:
        i = levels.index(2.0)
        detail = []
        for name in [*names, *ALONE]:
            r = (
                runs[name][i]
                if name in runs
                else simulate(name, 2.0, model=model, warmup=warmup, measure=measure)
            )
            refused = sum(v for k, v in r.failures.items() if k not in (REJECTED, TIMED_OUT))
            limits = f"{min(r.limits)}-{max(r.limits)}" if r.limits else "-"
            detail.append(
                (
                    name,
                    f"{r.goodput:.1f}",
                    f"{r.server_load:.0f}",
                    f"{r.server_load / r.offered:.2f}",
                    f"{r.wasted:.1f}",
                    f"{r.failures.get(REJECTED, 0):.1f}",
                    f"{r.failures.get(TIMED_OUT, 0):.1f}",
                    f"{refused:.1f}",
                    limits,
                )
            )
        tables.append(
            table(
                "At 2x capacity: where the calls went (per second)",
                (
                    "strategy",
                    "goodput",
                    "server load",
                    "attempts per call",
                    "served too late",
                    "failed 503",
                    "failed timeout",
                    "refused locally",
                    "adaptive limit",
                ),
                detail,
            )
        )
        mine = runs["tether default"][i].goodput
        others = [
            simulate("tether default", 2.0, model=model, warmup=warmup, measure=measure, seed=k)
            for k in (2, 3)
        ]
        low = min(mine, *(r.goodput for r in others))
        verdicts.append(
            f"tether default at 2x capacity: goodput {mine:.1f} calls/s (seeds 2 and 3: "
            f"{others[0].goodput:.1f}, {others[1].goodput:.1f}), at least "
            f"{_share(low, cap)} of capacity (target >= 90% of capacity): {met(low >= 0.9 * cap)}"
        )
        for name in names[1:4]:
            theirs = runs[name][i]
            verdicts.append(
                f"{name} at 2x capacity: goodput {theirs.goodput:.1f} calls/s, "
                f"{_share(theirs.goodput, cap)} of capacity, server load "
                f"{theirs.server_load:.0f} attempts/s; collapsed "
                f"(target < 90% of capacity): {met(theirs.goodput < 0.9 * cap)}"
            )
    return Section("1. Goodput and server load against offered load", tables, verdicts, notes), runs


SENSITIVITY = (
    ("as above", Model()),
    ("50 clients", Model(clients=50)),
    ("503s free", Model(reject_cost=0.0)),
    ("503s at 20 ms", Model(reject_cost=0.02)),
    ("queue of 100 (1 s)", Model(queue=100)),
)


def section_sensitivity(warmup: float, measure: float) -> Section:
    names = (
        "no retries",
        "urllib3 Retry(3) + status_forcelist",
        "tenacity (4 attempts, exponential)",
        "tether default",
        "tether, budget only",
    )
    rows = []
    verdicts = []
    for label, model in SENSITIVITY:
        goodput = [
            simulate(n, 2.0, model=model, warmup=warmup, measure=measure).goodput for n in names
        ]
        rows.append((label, *(f"{g:.1f}" for g in goodput)))
        mine = goodput[names.index("tether default")]
        verdicts.append(
            f"{label}: tether default at 2x keeps {mine:.1f} calls/s, "
            f"{_share(mine, model.capacity)} of capacity (target >= 90% of capacity): "
            f"{met(mine >= 0.9 * model.capacity)}"
        )
    notes = [
        "The claim again, with one number of the model changed at a time, at 2x capacity "
        "(goodput in calls/s).  More clients raise the budget's floor (5 retries/s each); "
        "free 503s take away the cost of a rejected retry; a queue longer than the timeout "
        "makes the server serve requests nobody waits for.",
    ]
    return Section(
        "3. How much the model decides",
        [table("Goodput at 2x capacity as the model changes", ("model", *names), rows)],
        verdicts,
        notes,
    )


def section_outage(
    seconds: float, outage: tuple[float, float], model: Model = MODEL
) -> tuple[Section, dict[str, Run]]:
    runs = {
        name: simulate(name, OUTAGE_LOAD, model=model, warmup=0.0, measure=seconds, outage=outage)
        for name in STRATEGIES
    }
    start, end = int(outage[0]), int(outage[1])
    rows = []
    for name, run in runs.items():
        took = recovery_time(run, outage[1])
        during = sum(run.arrival_series[start:end]) / (end - start)
        offered = sum(run.offered_series[start:end]) / (end - start)
        after = sum(run.arrival_series[end : end + 5]) / 5
        rows.append(
            (
                name,
                f"{during:.0f}",
                f"{during / offered:.2f}" if offered else "-",
                f"{after:.0f}",
                "never" if took is None else f"{took:.0f} s",
            )
        )
    lasted = outage[1] - outage[0]
    notes = [
        f"At {OUTAGE_LOAD:g} of capacity ({OUTAGE_LOAD * model.capacity:g} calls/s), the "
        f"server answers nothing from {outage[0]:g} s to {outage[1]:g} s (every attempt "
        "times out; what was queued is lost), then comes back empty.  Recovered: the first "
        "5 s span after the outage in which 90% of the calls that began succeeded.  Plot: "
        "docs/img/overload-recovery.png.",
    ]
    header = (
        "strategy",
        "attempts/s during",
        "attempts per call during",
        "attempts/s 5 s after",
        "recovered after",
    )
    tables = [table(f"Through a {lasted:g} s outage", header, rows)]
    mine = recovery_time(runs["tether default"], outage[1])
    verdicts = [
        f"tether default recovered {'never' if mine is None else f'after {mine:.0f} s'} "
        f"(target <= 5 s): {met(mine is not None and mine <= 5)}"
    ]
    return Section("2. Recovery from an outage", tables, verdicts, notes), runs


def plot(
    levels: tuple[float, ...],
    ramp: dict[str, list[Run]],
    outage: dict[str, Run],
    span: tuple[float, float],
    folder: Path,
    model: Model = MODEL,
) -> list[Path]:
    """The three PNGs, made with matplotlib's Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    cap = model.capacity
    styles = dict(zip(STRATEGIES, ("-", "--", "-.", ":", "-", "--", "-.", ":"), strict=True))
    made = []
    for name, title, pick, ylabel in (
        ("overload-goodput.png", "Goodput against offered load", "goodput", "calls/s answered 200"),
        (
            "overload-server-load.png",
            "Load on the server against offered load",
            "server_load",
            "attempts/s arriving",
        ),
    ):
        fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
        for strategy, runs in ramp.items():
            xs, ys = [lv * cap for lv in levels], [getattr(r, pick) for r in runs]
            ax.plot(xs, ys, styles[strategy], marker="o", markersize=3, label=strategy)
        ax.axhline(cap, color="grey", linestyle=":", linewidth=1, label="capacity")
        ax.set(title=title, xlabel="offered calls/s", ylabel=ylabel)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(folder / name)
        plt.close(fig)
        made.append(folder / name)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    for strategy, run in outage.items():
        ax.plot(
            range(len(run.good_series)),
            run.good_series,
            styles[strategy],
            linewidth=1,
            label=strategy,
        )
    ax.set_xlim(span[0] - 10, span[1] + 25)
    ax.axvspan(*span, color="red", alpha=0.1, label="outage")
    ax.axhline(OUTAGE_LOAD * cap, color="grey", linestyle=":", linewidth=1, label="offered")
    ax.set(title="Goodput through an outage", xlabel="seconds", ylabel="calls/s answered 200")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "overload-recovery.png")
    plt.close(fig)
    made.append(folder / "overload-recovery.png")
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer levels, shorter runs")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    parser.add_argument("--plots", metavar="DIR", default=str(ROOT / "docs" / "img"))
    parser.add_argument("--write", metavar="FILE", help="write the results into FILE")
    args = parser.parse_args()
    began = time.monotonic()
    if args.quick:
        levels, warmup, measure, seconds, span = QUICK_LEVELS, 5.0, 10.0, 50.0, (10.0, 15.0)
    else:
        levels, warmup, measure, seconds, span = LEVELS, WARMUP, MEASURE, 200.0, (130.0, 145.0)
    sections = []
    made: dict[str, Any] = {}
    for key, make in (
        ("ramp", lambda: section_ramp(levels, warmup, measure)),
        ("outage", lambda: section_outage(seconds, span)),
        ("model", lambda: (section_sensitivity(warmup, measure), None)),
    ):
        started = time.monotonic()
        section, made[key] = make()
        section.seconds = time.monotonic() - started
        section.show()
        sections.append(section)
    if not args.no_plots:
        for path in plot(levels, made["ramp"], made["outage"], span, Path(args.plots)):
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    if args.write:
        write_part(
            args.write,
            "# Benchmark results: under overload (simulated)",
            "python benchmarks/bench_overload.py --write benchmarks/history/bench_overload.md",
            sections,
            time.monotonic() - began,
            f"Python {sys.version.split()[0]}, tether (commit {commit()}); a seeded "
            "simulation, so the figures repeat exactly",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
