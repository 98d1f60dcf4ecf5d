"""The worker's logging: the level asked for is the level Kafka clients log at."""

import logging

import faust
import pytest

from service.cli import worker_for


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("level", ["warning", "error"])
def test_a_quiet_level_does_not_build_debug_records(restore_logging, level):
    # Faust's terminal spinner sets the root logger to DEBUG at these levels: every
    # Kafka send then built a debug record for nothing
    app = faust.App("cli-test", broker="kafka://127.0.0.1:1", web_enabled=False)
    worker = worker_for(app, level)
    worker._setup_logging()
    assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("faust.topics").isEnabledFor(logging.INFO)


def test_info_stays_info(restore_logging):
    app = faust.App("cli-test", broker="kafka://127.0.0.1:1", web_enabled=False)
    worker_for(app, "info")._setup_logging()
    assert logging.getLogger("faust.topics").isEnabledFor(logging.INFO)
    assert not logging.getLogger("faust.topics").isEnabledFor(logging.DEBUG)
