"""What the app's clock timer writes to Kafka: only what says something new (service/worker/clock.py)."""

import asyncio

import pytest

from service.app import create_app
from service.config import load_settings
from service.worker import clock, notify


@pytest.fixture
async def sent(tmp_path, monkeypatch):
    out = []

    async def send_to(topic, **kw):
        out.append((topic.get_topic_name(), kw))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    monkeypatch.setattr(clock, "send_to", send_to)  # tick records to the work topic
    monkeypatch.setattr(notify, "send_to", send_to)  # and to the notify topic
    settings = load_settings({"RISK_DATA_DIR": str(tmp_path), "KAFKA_BOOTSTRAP": "127.0.0.1:1",
                              "RISK_CLOCK": "event", "RISK_PARTITIONS": "8"})
    app = create_app(settings, loop=asyncio.get_running_loop())
    app.consumer.topic_partitions = lambda topic: 8
    app.consumer.assignment = set  # not started: owns nothing yet
    return app, out


async def test_an_idle_worker_on_the_event_clock_ticks_once_not_every_interval(sent):
    app, out = sent
    work = f"{app.risk['settings'].app_id}-work"
    await app.risk["tick"]()
    first = [kw["partition"] for name, kw in out if name == work]
    assert sorted(first) == list(range(8))  # each partition hears where this worker's clock stands
    out.clear()
    for _ in range(3):
        await app.risk["tick"]()
    assert out == []  # the clock did not move: nothing more to say, no mark answers either
