"""Creates the contract's topics at start-up when they are missing.

Faust creates its own internal topics (work, changelogs); the input and
output topics belong to the contract and are created here with the
configured partition count and replication factor, so a fresh cluster works
without a manual step. An existing topic is left as it is.
"""

from __future__ import annotations

import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from .config import Settings

log = logging.getLogger(__name__)


def contract_topics(settings: Settings) -> list[str]:
    return list(settings.topics.model_dump().values())


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","),
                             client_id=f"{settings.app_id}-admin",
                             request_timeout_ms=int(timeout_s * 1000),
                             **settings.kafka_security.client_options())
    try:
        existing = set(admin.list_topics())
        missing = [t for t in contract_topics(settings) if t not in existing]
        if missing:
            try:
                admin.create_topics([
                    NewTopic(t, num_partitions=settings.partitions,
                             replication_factor=settings.replication_factor) for t in missing
                ])
            except TopicAlreadyExistsError:  # another replica raced us: fine
                pass
            log.info("created topics %s", missing)
        return missing
    finally:
        admin.close()
