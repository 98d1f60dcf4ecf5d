"""Creates the contract's topics at start-up when they are missing.

Faust creates its own internal topics (work, changelogs); the input and
output topics belong to the contract and are created here with the
configured partition count and replication factor, so a fresh cluster works
without a manual step. An existing topic is left as it is.

Replication factor 1 keeps each partition on one broker: right for a local
broker, a data loss waiting to happen on a production cluster. So when the
cluster has more than one broker and the service would create topics with
one replica (its contract topics here, Faust its internal ones), start-up
logs a warning naming RISK_REPLICATION_FACTOR.
"""

from __future__ import annotations

import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from .config import Settings

log = logging.getLogger(__name__)


def contract_topics(settings: Settings) -> list[str]:
    return list(settings.topics.model_dump().values())


def _admin(settings: Settings, timeout_s: float) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","),
                            client_id=f"{settings.app_id}-admin",
                            request_timeout_ms=int(timeout_s * 1000),
                            **settings.kafka_security.client_options())


def replication_warning(settings: Settings, brokers: int) -> str | None:
    """The start-up warning for one-replica topics on a multi-broker cluster, or None."""
    if settings.replication_factor > 1 or brokers <= 1:
        return None
    which = ("the contract topics and the worker's internal topics (work, notify, changelogs)"
             if settings.create_topics else "the worker's internal topics (work, notify, changelogs)")
    return (f"the cluster has {brokers} brokers but {which} are created with replication factor 1 "
            f"when missing: one broker lost loses their data. Set RISK_REPLICATION_FACTOR "
            f"(3 on a production cluster) before the first start")


def warn_if_unreplicated(settings: Settings, admin: KafkaAdminClient | None = None,
                         timeout_s: float = 30.0) -> str | None:
    """Logs `replication_warning` for this cluster; returns it (None when all is well)."""
    if settings.replication_factor > 1:
        return None
    own = admin is None
    try:
        admin = _admin(settings, timeout_s) if own else admin
        brokers = len(admin.describe_cluster().get("brokers") or [])
    except KafkaError as e:  # e.g. not authorised to describe the cluster: a check, not a condition to start
        log.info("could not count the cluster's brokers (%s): replication factor %d not checked",
                 type(e).__name__, settings.replication_factor)
        return None
    finally:
        if own and admin is not None:
            admin.close()
    message = replication_warning(settings, brokers)
    if message:
        log.warning("%s", message)
    return message


def ensure_topics(settings: Settings, timeout_s: float = 30.0, admin: KafkaAdminClient | None = None) -> list[str]:
    own = admin is None
    admin = _admin(settings, timeout_s) if own else admin
    try:
        warn_if_unreplicated(settings, admin)
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
        if own:
            admin.close()
