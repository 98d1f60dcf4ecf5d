"""The Faust patches' own contracts: pinned versions at start-up, the accessors, the correctness fixes."""

import asyncio
import logging

import pytest
from aiokafka import AIOKafkaConsumer
from faust.types import TP
from mode.utils.queues import FlowControlQueue

from service import cli
from service.app import create_app
from service.config import load_settings
from service.core.rulebook import ConfigError
from service.faust_fixes import FlowControl, check_pinned_versions, committed_offset, force_metadata_update
from service.faust_patches import versions

REQUIRES = ["faust-streaming==0.15.3", "aiokafka==0.14.0", "orjson==3.13.0",
            'rocksdict==0.3.29; extra == "rocksdb"', 'aiokafka==9.9.9; extra == "other"']


def installed(**have):
    return lambda name: have.get(name)


def test_the_pins_are_the_exact_base_requirements():
    assert versions.pinned_versions(REQUIRES) == {"faust-streaming": "0.15.3", "aiokafka": "0.14.0",
                                                  "orjson": "3.13.0"}


def test_the_pinned_versions_installed_start():
    check_pinned_versions(False, REQUIRES, installed(**{"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}))


def test_a_checkout_never_installed_reads_the_pins_from_pyproject(monkeypatch):
    def not_installed(name):
        raise versions.importlib.metadata.PackageNotFoundError(name)

    installed_pins = versions.pinned_versions(versions.service_requirements())
    monkeypatch.setattr(versions.importlib.metadata, "requires", not_installed)
    assert versions.pinned_versions(versions.service_requirements()) == installed_pins
    assert {"faust-streaming", "aiokafka"} <= installed_pins.keys()


def test_this_environment_has_the_pinned_versions():
    # the service's own metadata (or pyproject.toml) against what is installed here
    assert versions.mismatches(versions.service_requirements()) == []


@pytest.mark.parametrize("have, named", [
    ({"faust-streaming": "0.16.0", "aiokafka": "0.14.0"}, "faust-streaming: pinned 0.15.3, installed 0.16.0"),
    ({"faust-streaming": "0.15.3", "aiokafka": "0.12.0"}, "aiokafka: pinned 0.14.0, installed 0.12.0"),
    ({"faust-streaming": "0.15.3"}, "aiokafka: pinned 0.14.0, installed (not installed)"),
])
def test_another_version_stops_start_up_naming_package_pin_and_installed(have, named):
    with pytest.raises(ConfigError) as e:
        check_pinned_versions(False, REQUIRES, installed(**have))
    assert named in str(e.value) and "RISK_ALLOW_UNPINNED_FAUST" in str(e.value)


def test_a_patched_package_without_an_exact_pin_is_a_mismatch():
    with pytest.raises(ConfigError, match=r"aiokafka: pinned \(no exact pin\), installed 0.14.0"):
        check_pinned_versions(False, ["faust-streaming==0.15.3", "aiokafka>=0.14"],
                              installed(**{"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}))


def test_allowed_another_version_starts_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger=versions.__name__):
        check_pinned_versions(True, REQUIRES, installed(**{"faust-streaming": "0.16.0", "aiokafka": "0.14.0"}))
    assert "faust-streaming: pinned 0.15.3, installed 0.16.0" in caplog.text


class Started(Exception):
    pass


@pytest.fixture
def worker_until_started(monkeypatch):
    """`risk-warnings worker` up to building the app, with these settings and installed versions."""
    from service import app as app_module
    from service import topics
    from service.config import DEFAULT_RULES

    def run(allow: bool, have: dict) -> int:
        settings = type("S", (), {"create_topics": False, "log_level": "info", "rules_file": DEFAULT_RULES,
                                  "allow_unpinned_faust": allow})()
        monkeypatch.setattr(cli, "_settings", lambda: settings)
        monkeypatch.setattr(versions, "installed_version", lambda name: have.get(name))
        monkeypatch.setattr(topics, "warn_if_unreplicated", lambda settings: None)
        monkeypatch.setattr(app_module, "create_app", lambda settings: (_ for _ in ()).throw(Started()))
        return cli.main(["worker"])

    return run


def test_the_worker_refuses_another_faust_with_exit_code_2(worker_until_started, capsys):
    assert worker_until_started(False, {"faust-streaming": "0.16.0", "aiokafka": "0.14.0"}) == 2
    assert "configuration error: faust-streaming: pinned 0.15.3, installed 0.16.0" in capsys.readouterr().err


def test_the_worker_starts_with_another_faust_when_allowed(worker_until_started):
    with pytest.raises(Started):
        worker_until_started(True, {"faust-streaming": "0.16.0", "aiokafka": "0.14.0"})


def test_the_worker_starts_with_the_pinned_versions(worker_until_started):
    with pytest.raises(Started):
        worker_until_started(False, {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"})


@pytest.fixture
async def consumer(tmp_path):  # made in the test's event loop
    settings = load_settings({"RISK_DATA_DIR": str(tmp_path), "KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    return create_app(settings, loop=asyncio.get_running_loop()).consumer


class SeekingThread:
    """The consumer thread's seeks, without a broker: aiokafka's answer for each partition."""

    def __init__(self, committed):
        self.committed, self.rewound = committed, []

    async def seek_to_committed(self):
        return dict(self.committed)

    async def seek_to_beginning(self, *tps):
        self.rewound.extend(tps)


async def test_the_committed_offset_is_what_the_last_seek_found(consumer, monkeypatch):
    seen, never = TP("risk-warnings-work", 0), TP("risk-warnings-work", 1)
    monkeypatch.setattr(consumer, "_thread", SeekingThread({seen: 41, never: None}))
    assert committed_offset(consumer, seen) is None  # nothing known yet
    await consumer.perform_seek()
    assert committed_offset(consumer, seen) == 41
    assert committed_offset(consumer, never) is None


async def test_a_partition_never_committed_is_rewound_to_its_beginning(consumer, monkeypatch):
    # aiokafka's seek_to_committed leaves such a partition where the fetch got to
    seen, never, zero = TP("risk-warnings-work", 0), TP("risk-warnings-work", 1), TP("risk-warnings-work", 2)
    changelog = TP("risk-warnings-subjects-changelog", 1)
    thread = SeekingThread({seen: 41, never: None, zero: 0, changelog: None})
    monkeypatch.setattr(consumer, "_thread", thread)
    monkeypatch.setattr(consumer.app.topics, "acks_enabled_for", lambda topic: not topic.endswith("-changelog"))
    await consumer.perform_seek()
    assert sorted(thread.rewound) == [never, zero]  # a changelog is Faust's to seek


async def test_force_metadata_update_asks_the_client_for_fresh_metadata():
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
    waiter = consumer._client._md_update_waiter
    update = force_metadata_update(consumer)
    assert asyncio.isfuture(update) and waiter.done()  # the client's synchroniser is woken to fetch
    update.cancel()


def agent_queue(flow):  # as Faust makes a channel's queue
    return FlowControlQueue(flow_control=flow, clear_on_resume=True)


async def test_resuming_running_flow_keeps_what_is_queued():
    flow = FlowControl()
    queue = agent_queue(flow)
    flow.resume()  # the recovery has read the changelogs
    queue.put_nowait("fetched during the recovery's seek")
    flow.resume()
    assert queue.qsize() == 1


async def test_resuming_suspended_flow_clears_what_is_queued():
    flow = FlowControl()
    queue = agent_queue(flow)
    flow.resume()
    flow.suspend()  # a rebalance
    queue.put_nowait("fetched for a partition since revoked")
    flow.resume()
    assert queue.qsize() == 0
