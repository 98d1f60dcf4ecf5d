"""Is this worker well: the broker watchdog and the consumer lag metric.

The watchdog hears Kafka through this worker's own tick records: each one the
broker acknowledges is a sign of life (`note_acknowledged`). A worker that
has heard nothing for RISK_BROKER_UNREACHABLE_EXIT_SECONDS exits with code 3
for its supervisor to restart it (service/config.py).
"""

from __future__ import annotations

import logging
import os
import time

from .. import metrics
from ..faust_fixes import committed_offset
from ..logfilter import escaping_logger

log = escaping_logger(__name__)

WATCHDOG_KEEPALIVE_SECONDS = 30.0  # a worker that has nothing to tick still writes a tick this often


class BrokerWatch:
    def __init__(self, exit_seconds: float) -> None:
        self.exit_seconds = exit_seconds
        # the watchdog hears Kafka through acknowledged ticks: one at least this often
        self.keepalive = min(WATCHDOG_KEEPALIVE_SECONDS, exit_seconds / 4)
        self.acknowledged: float | None = None  # when Kafka last acknowledged a tick of this worker

    def started(self, wall: float) -> None:
        """The clock timer runs (timers start once the first recovery is over): silence counts from now."""
        if self.acknowledged is None:
            self.acknowledged = wall

    def note_acknowledged(self, sent) -> None:
        if not sent.cancelled() and sent.exception() is None:
            self.acknowledged = time.time()

    def silence(self) -> float:
        return 0.0 if self.acknowledged is None else time.time() - self.acknowledged

    async def watchdog(self) -> None:
        """Exit (code 3) for the supervisor when the broker has been away too long (config.py)."""
        if self.silence() > self.exit_seconds:
            log.critical("no write acknowledged by Kafka for %.0f s (RISK_BROKER_UNREACHABLE_EXIT_SECONDS=%g): "
                         "exiting with code 3 for the supervisor to restart this worker; nothing was committed "
                         "since, the input is read again", self.silence(), self.exit_seconds)
            logging.shutdown()
            os._exit(3)  # a graceful stop would wait on the unreachable broker to flush


class ConsumerLag:
    """risk_consumer_lag by input topic: what the assigned partitions hold beyond their committed offsets."""

    def __init__(self, app, topics: list[str]) -> None:
        self.app = app
        self.topics = topics

    async def measure(self) -> None:
        consumer = self.app.consumer
        assigned = [tp for tp in consumer.assignment() if tp.topic in self.topics]
        # every input topic gets a value: one this worker lost in a rebalance is 0 here, not stale
        lag: dict[str, int] = dict.fromkeys(self.topics, 0)
        ends = await consumer.highwaters(*assigned) if assigned else {}
        for tp in assigned:
            # faust keeps no public accessor for the committed offset; this is read-only
            committed = committed_offset(consumer, tp) or 0
            lag[tp.topic] += max(ends.get(tp, 0) - committed, 0)
        for topic, n in lag.items():
            metrics.consumer_lag.labels(topic).set(n)
