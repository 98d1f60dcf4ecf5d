"""Warnings and notifications are checked against the contract before they are sent (service/outputs.py)."""

import asyncio
import json
import logging

import pytest

from service import metrics, outputs
from service.app import create_app
from service.batch import Batch
from service.config import load_settings
from service.core.engine import Engine
from service.core.notify import Notifier, NotifyConfig
from service.core.timefmt import to_rfc3339
from service.faust_fixes import VisibleTopic
from service.worker import publish, tables
from tests.core.test_engine import T0, TICKET, ev, rulebook


def a_warning() -> dict:
    """A real warning from the engine: a crew 200 minutes late."""
    engine = Engine(rulebook())
    created, ts = ev("ticket.created", 0, area_type="urban", **TICKET)
    r = engine.on_tick(engine.on_event("ticket:T1", None, created, ts, now=ts).state, T0 + 200 * 60)
    return {**r.warnings[-1], "emitted_at": to_rfc3339(T0 + 200 * 60)}


def a_notification(warning: dict) -> dict:
    outcome = Notifier(NotifyConfig(default_group="ops-centre"), {}).on_warnings(None, [(warning, T0 + 200 * 60)], "ops-centre")
    return outcome.notifications[0]


def count(kind: str) -> float:
    return metrics.invalid_outputs.labels(kind)._value.get()


def test_what_the_engine_builds_is_valid():
    w = a_warning()
    assert outputs.problem("warning", w) is None
    assert outputs.problem("notification", a_notification(w)) is None


def test_an_invalid_warning_is_logged_escaped_and_counted_not_sent(caplog):
    bad = {**a_warning(), "summary": "crew late\r\nINFO forged line \u202e"}
    before = count("warning")
    with caplog.at_level(logging.ERROR, logger="service.outputs"):
        assert outputs.sendable("warning", bad) is False
    assert count("warning") == before + 1
    line = caplog.records[-1].getMessage()
    assert "summary" in line and "\\r\\n" in line and "\\u202e" in line
    assert "\r" not in line and "\n" not in line and "\u202e" not in line


@pytest.fixture
async def app(tmp_path, monkeypatch):
    settings = load_settings({"RISK_DATA_DIR": str(tmp_path), "KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    sent = []

    async def send_to(topic, **kw):
        sent.append((topic.get_topic_name(), kw))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def write_direct(*args):
        sent.append(("table", args))

    monkeypatch.setattr(publish, "send_to", send_to)
    monkeypatch.setattr(publish, "write_direct", write_direct)
    monkeypatch.setattr(tables, "write_direct", write_direct)
    app = create_app(settings, loop=asyncio.get_running_loop())
    app.sent = sent
    return app


async def test_publish_sends_a_valid_warning_and_not_an_invalid_one(app):
    publish = app.risk["publish"]
    bad = {**a_warning(), "scope": {"ticket_id": "T1\nforged"}}
    before = count("warning")
    await publish("ticket:T1", 0, [bad], Batch())
    assert app.sent == [] and count("warning") == before + 1
    good = a_warning()
    await publish("ticket:T1", 0, [good], Batch())
    assert [name for name, _ in app.sent] == [app.risk["settings"].topics.risk_warnings, "table"]


async def test_send_notifications_leaves_out_an_invalid_one(app, monkeypatch):
    w = a_warning()
    good = a_notification(w)
    bad = {**good, "text_en": "x" * 161}
    out = []

    async def send(**kw):
        out.append(kw)

    monkeypatch.setattr(VisibleTopic, "send", lambda self, **kw: send(topic=self.get_topic_name(), **kw))

    class Outcome:
        notifications = [bad, good]
        skipped = {}
        state = {}

    before = count("notification")
    await app.risk["send_notifications"]("ops-centre", 0, Outcome())
    assert [o["topic"] for o in out] == [app.risk["settings"].topics.risk_notifications]
    assert out[0]["value"].decode() == json.dumps(good, ensure_ascii=False)
    assert count("notification") == before + 1
