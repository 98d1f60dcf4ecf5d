"""The worker's Kafka consumer fetches with the settings it was given, not Faust's fixed ones."""

import asyncio

from service.app import create_app
from service.config import load_settings


def consumer_for(env: dict, tmp_path):
    settings = load_settings({"RISK_DATA_DIR": str(tmp_path), "KAFKA_BOOTSTRAP": "127.0.0.1:1", **env})
    app = create_app(settings)
    thread = app.consumer._thread  # Faust builds the aiokafka consumer in this thread, at start

    async def build():
        return thread._create_worker_consumer(app.transport)

    return asyncio.new_event_loop().run_until_complete(build())


def test_the_consumer_gathers_fetches_as_configured(tmp_path):
    consumer = consumer_for({"RISK_FETCH_MIN_BYTES": "32768", "RISK_FETCH_MAX_WAIT_MS": "35"}, tmp_path)
    assert (consumer._fetch_min_bytes, consumer._fetch_max_wait_ms) == (32768, 35)


def test_by_default_the_broker_gathers_64_kib_for_at_most_50_ms(tmp_path):
    consumer = consumer_for({}, tmp_path)
    assert (consumer._fetch_min_bytes, consumer._fetch_max_wait_ms) == (65536, 50)
