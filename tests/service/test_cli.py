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


def test_own_lines_skip_fausts_argument_formatters_and_others_keep_them(restore_logging):
    from mode.utils.logging import formatter2

    marker = object()  # an argument only the registered formatter knows how to render

    @formatter2
    def render_marker(arg, record):
        return "RENDERED" if arg is marker else None

    app = faust.App("cli-test", broker="kafka://127.0.0.1:1", web_enabled=False)
    worker_for(app, "info")._setup_logging()
    handler = logging.getLogger().handlers[0]

    def line(name: str) -> str:
        record = logging.LogRecord(name, logging.INFO, __file__, 1, "warning %s %s", ("raised", marker), None)
        return handler.format(record)

    own = "service.worker.publish"
    assert "RENDERED" not in line(own) and "warning raised <object" in line(own)
    assert "warning raised RENDERED" in line("faust.worker")


def test_the_worker_collects_garbage_rarely(monkeypatch):
    # a full collection of the worker's heap of states every ~3 s took 7 % of its CPU live
    import gc

    from service import app as app_module
    from service import cli

    class Started(Exception):
        pass

    def start(app, level):
        raise Started

    from service import topics
    from service.config import DEFAULT_RULES

    monkeypatch.setattr(cli, "_settings", lambda: type("S", (), {"create_topics": False, "log_level": "info",
                                                                  "rules_file": DEFAULT_RULES,
                                                                  "allow_unpinned_faust": False})())
    monkeypatch.setattr(topics, "warn_if_unreplicated", lambda settings: None)
    monkeypatch.setattr(app_module, "create_app", lambda settings: None)
    monkeypatch.setattr(cli, "worker_for", start)
    before = gc.get_threshold()
    try:
        with pytest.raises(Started):
            cli.cmd_worker(None)
        assert gc.get_threshold() == cli.GC_THRESHOLDS != before
    finally:
        gc.set_threshold(*before)
