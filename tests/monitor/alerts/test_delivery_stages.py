"""Alert delivery as named stages (runtime/_delivery.py, docs/routing.md "How an alert is
delivered"): inhibit, route, group, mute, silence, send, in that order, built whole from
the configuration by one function (the monitor's runner and the demo's alike), and built
anew, every stage of it, by a reload and by a discovery change of a ``routes:`` tree.

A real runner on a real SQLite store, its outbox delivering to collecting channels; the
instants are passed in, never read."""

from __future__ import annotations

import ast
import asyncio
import datetime as dt
import json
import re
from pathlib import Path

from tests.helpers.alert_payloads import opened
from tests.helpers.alerts_receiver import Receiver
from tests.helpers.monitor_harness import Collect, Harness
from tether.monitor._records import AuditEntry, QueuedAlert
from tether.monitor.config import parse_config
from tether.monitor.runtime._app import close_channels, reload
from tether.monitor.runtime._delivery import STAGES, AlertDelivery
from tether.monitor.runtime._monitor_set import SetChange

ROOT = Path(__file__).resolve().parents[3]
SRC = ROOT / "src" / "tether"

NIGHT = dt.datetime.fromisoformat("2026-11-25T23:30:00+00:00").timestamp()
"""Inside ``nights``."""
MORNING = dt.datetime.fromisoformat("2026-11-26T10:00:00+00:00").timestamp()
"""Outside ``nights``."""

TEXT = """
alerts:
  - {name: ops, type: webhook, url: "http://127.0.0.1:9/ops"}
  - {name: pager, type: webhook, url: "http://127.0.0.1:9/pager"}
time_intervals:
  - name: nights
    time_intervals:
      - times:
          - {start_time: "22:00", end_time: "24:00"}
          - {start_time: "00:00", end_time: "06:00"}
routes:
  channels: [ops]
  routes:
    - matchers: {team: db}
      channels: [pager]
      mute_time_intervals: [nights]
monitors:
  - {name: orders, url: "http://127.0.0.1:9/", labels: {team: db}}
  - {name: www, url: "http://127.0.0.1:9/"}
"""


def harness(tmp_path: Path, text: str = TEXT) -> tuple[Harness, dict[str, Collect]]:
    channels = {"ops": Collect("ops"), "pager": Collect("pager")}
    return Harness(tmp_path, parse_config(text), channels=channels), channels


def silence(h: Harness, matchers: list[str], starts: float, ends: float) -> int:
    audit = AuditEntry(starts, "ana", "token", "silence.add", "silence", {})
    return h.store.add_silence(matchers, starts, ends, "deploy", audit).id


def kept(h: Harness) -> dict[str, str]:
    """Each suppressed alert's monitor and channel, with why."""
    return {f"{s.monitor}>{s.channel}": s.why for s in h.store.suppressed_alerts()}


def test_the_stages_are_named_in_the_documented_order() -> None:
    """The delivery's stages are, in order, inhibit, route, group, mute, silence, send:
    the fields of the value, its names, and the numbered list of docs/routing.md."""
    assert STAGES == ("inhibit", "route", "group", "mute", "silence", "send")
    assert tuple(AlertDelivery.__dataclass_fields__) == STAGES
    text = (ROOT / "docs" / "routing.md").read_text(encoding="utf-8")
    section = text[text.index("## How an alert is delivered") :]
    section = section[: section.index("\n## ", 1)]
    assert tuple(re.findall(r"^\d\. \*\*(\w+)\*\*", section, re.MULTILINE)) == STAGES


def test_the_runner_puts_its_stages_in_the_outbox(tmp_path: Path) -> None:
    """The runner builds the delivery from its configuration: the outbox asks the mute
    and silence stages, in that order, and sends through the send stage's channels."""
    h, _ = harness(tmp_path)
    delivery, outbox = h.runner.delivery, h.runner.outbox
    assert [name for name, _ in delivery.stages] == list(STAGES)
    assert outbox.gates == [delivery.mute, delivery.silence]
    assert outbox.send is delivery.send
    assert sorted(outbox.channels) == ["ops", "pager"]
    h.close()


def test_mute_comes_before_silence_and_send_comes_last(tmp_path: Path) -> None:
    """An alert both muted and silenced is kept by the mute stage (the first that keeps
    it says why); out of the mute interval, the silence keeps it; an alert neither keeps
    is sent, and only then."""
    h, channels = harness(tmp_path)
    number = silence(h, ['team="db"'], NIGHT - 60, MORNING + 3600)
    db = opened(monitor="orders", labels={"team": "db"})
    h.store.enqueue_alert("pager", "night", db, NIGHT)
    assert h.runner.outbox.deliver_due(NIGHT) == (1, 0)
    h.store.enqueue_alert("pager", "morning", db, MORNING)
    h.store.enqueue_alert("ops", "www", opened(monitor="www"), MORNING)
    assert h.runner.outbox.deliver_due(MORNING) == (2, 0)
    whys = sorted(s.why for s in h.store.suppressed_alerts())
    assert whys[0].startswith("muted: route routes.routes[0] is in mute time interval")
    assert whys[1] == f"silenced by #{number} (deploy, by ana)"
    assert [a["monitor"] for a in channels["ops"].got] == ["www"]
    assert channels["pager"].got == []
    h.close()


def test_a_reload_builds_every_stage_anew(tmp_path: Path, receiver: Receiver) -> None:
    """SIGHUP's reload builds the delivery whole from the new file: every stage is a new
    object, the outbox asks the new ones, and what changed takes effect: the database's
    alerts now route to ops, and one queued for pager at night is no longer muted; a
    silence made just before the reload is honoured at once (the old silence stage had
    read none a moment before)."""
    receiver.start()
    text = TEXT.replace("http://127.0.0.1:9/ops", receiver.url)
    text = text.replace("http://127.0.0.1:9/pager", receiver.url)
    h, _ = harness(tmp_path, text)
    before = h.runner.delivery
    assert h.runner.engine.routes["orders"].channels_for("incident.opened") == ("pager",)
    db = opened(monitor="orders", labels={"team": "db"})
    assert before.mute(QueuedAlert(1, "pager", "a", db, 0, 0, 0), NIGHT) is not None
    assert before.silence.silences(NIGHT) == ()  # read, and kept for a second
    number = silence(h, ['monitor="www"'], NIGHT - 60, NIGHT + 3600)
    path = tmp_path / "tether.yaml"
    changed = text.replace("channels: [pager]", "channels: [ops]")
    path.write_text(changed.replace("mute_time_intervals: [nights]", ""))
    asyncio.run(reload(h.runner, str(path)))
    after = h.runner.delivery
    for (name, old), (_, new) in zip(before.stages, after.stages, strict=True):
        assert new is not old, name
    assert h.runner.outbox.gates == [after.mute, after.silence]
    assert h.runner.outbox.send is after.send
    assert h.runner.engine.routes["orders"].channels_for("incident.opened") == ("ops",)
    h.store.enqueue_alert("pager", "orders", db, NIGHT)
    h.store.enqueue_alert("ops", "www", opened(monitor="www"), NIGHT)
    assert h.runner.outbox.deliver_due(NIGHT + 0.5) == (2, 0)
    close_channels(h.runner.outbox.channels)
    assert [json.loads(body)["monitor"] for _, body in receiver.got] == ["orders"]
    assert kept(h) == {"www>ops": f"silenced by #{number} (deploy, by ana)"}
    h.close()


def test_a_discovery_change_of_a_routes_tree_builds_the_stages_anew(tmp_path: Path) -> None:
    """A monitor discovered under a ``routes:`` tree gets a new delivery whose route and
    mute stages both know its own ``alerts:``; without a tree no stage reads the monitors,
    and the delivery stays (a discovery change costs what it changes)."""
    extra = parse_config(
        TEXT.replace(
            "  - {name: www,",
            '  - {name: new, alerts: [ops], url: "http://127.0.0.1:9/"}\n  - {name: www,',
        )
    )
    (new,) = (m for m in extra.monitors if m.name == "new")
    h, _ = harness(tmp_path)
    before = h.runner.delivery
    h.runner.change_monitors(SetChange({"new": new}, frozenset()))
    after = h.runner.delivery
    assert after is not before
    assert after.mute is not before.mute
    assert "new" in after.mute.tree.monitors
    assert "new" not in before.mute.tree.monitors
    assert h.runner.engine.routes["new"].channels_for("incident.opened") == ("ops",)
    h.close()

    plain = TEXT[TEXT.index("monitors:") :]
    alerts = TEXT[: TEXT.index("time_intervals:")]
    (tmp_path / "plain").mkdir()
    h, _ = harness(tmp_path / "plain", alerts + plain)
    before = h.runner.delivery
    h.runner.change_monitors(SetChange({"new": new}, frozenset()))
    assert h.runner.delivery is before
    assert h.runner.engine.routes["new"].channels_for("incident.opened") == ("ops",)
    h.close()


BUILT_HERE_ONLY = {"AlertDelivery", "InhibitStage", "MuteGate", "SilenceGate"}
"""The stages (and their value) that only ``alert_delivery`` makes in ``src/``."""


def test_only_alert_delivery_assembles_the_stages() -> None:
    """No module of ``src/`` but runtime/_delivery.py makes a stage of alert delivery or
    hands the outbox gates of its own: the monitor and the demo get theirs from the
    runner, the same stages built by the same function."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        if name == "monitor/runtime/_delivery.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            called = node.func
            callee = called.id if isinstance(called, ast.Name) else getattr(called, "attr", "")
            if callee in BUILT_HERE_ONLY or any(k.arg == "gates" for k in node.keywords):
                found.append(f"{name}:{node.lineno}: {callee}")
            if callee == "append" and "gates" in ast.unparse(called):
                found.append(f"{name}:{node.lineno}: {ast.unparse(called)}")
    assert found == []
