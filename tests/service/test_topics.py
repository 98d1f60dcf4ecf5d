"""Start-up warns when the service would create one-replica topics on a multi-broker cluster."""

from __future__ import annotations

import logging

import pytest

from service.config import load_settings
from service.topics import contract_topics, ensure_topics, replication_warning, warn_if_unreplicated


class FakeAdmin:
    def __init__(self, brokers: int, existing=()):
        self.brokers, self.existing, self.created, self.closed = brokers, set(existing), [], False

    def describe_cluster(self):
        return {"brokers": [{"broker_id": i} for i in range(self.brokers)]}

    def list_topics(self):
        return sorted(self.existing)

    def create_topics(self, topics):
        self.created.extend(topics)

    def close(self):
        self.closed = True


@pytest.mark.parametrize("brokers,env,warned", [
    (3, {}, True),
    (3, {"RISK_CREATE_TOPICS": "false"}, True),  # Faust still creates its internal topics
    (1, {}, False),
    (3, {"RISK_REPLICATION_FACTOR": "3"}, False),
])
def test_one_replica_on_several_brokers_is_warned_about(brokers, env, warned, caplog):
    settings = load_settings(env)
    with caplog.at_level(logging.WARNING, logger="service.topics"):
        message = warn_if_unreplicated(settings, FakeAdmin(brokers))
    assert (message is not None) == warned
    if warned:
        assert "RISK_REPLICATION_FACTOR" in message and f"{brokers} brokers" in message
        assert message in caplog.text
        assert ("contract topics" in message) == settings.create_topics
    else:
        assert caplog.text == ""


def test_creating_topics_checks_the_replication_first(caplog):
    settings = load_settings({})
    admin = FakeAdmin(2, existing=contract_topics(settings)[:2])
    with caplog.at_level(logging.WARNING, logger="service.topics"):
        created = ensure_topics(settings, admin=admin)
    assert created == contract_topics(settings)[2:]
    assert [t.replication_factor for t in admin.created] == [1] * len(created)
    assert "2 brokers" in caplog.text and not admin.closed  # a borrowed client is the caller's to close


def test_no_warning_text_for_a_replicated_setup():
    assert replication_warning(load_settings({"RISK_REPLICATION_FACTOR": "2"}), 5) is None


def test_a_cluster_that_will_not_say_how_many_brokers_it_has_does_not_stop_start_up(caplog):
    from kafka.errors import ClusterAuthorizationFailedError

    class Refusing(FakeAdmin):
        def describe_cluster(self):
            raise ClusterAuthorizationFailedError("no")

    with caplog.at_level(logging.INFO, logger="service.topics"):
        assert warn_if_unreplicated(load_settings({}), Refusing(3)) is None
    assert "replication factor 1 not checked" in caplog.text
