"""Keeps a broker outage from flooding the worker's log.

While the broker is away the Kafka clients (aiokafka) retry at once and log
every failure: about 2 000 lines a second in the broker-restart test, 88 000
for a 45-second outage. `RepeatFilter` lets each message (same logger, same
format string) through at most once every `every` seconds and says how many
like it were held back; the first occurrence, and every other message, pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

KAFKA_CLIENT_LOGGERS = ("aiokafka", "aiokafka.conn", "aiokafka.cluster", "aiokafka.consumer.fetcher",
                        "aiokafka.consumer.group_coordinator", "aiokafka.consumer.consumer",
                        "aiokafka.producer.sender", "aiokafka.producer.producer")


class RepeatFilter(logging.Filter):
    def __init__(self, every: float = 30.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.every = every
        self.clock = clock
        self._seen: dict[tuple[str, object], tuple[float, int]] = {}  # (logger, format) -> (last let through, held)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.msg)
        now = self.clock()
        last, held = self._seen.get(key, (None, 0))
        if last is not None and now - last < self.every:
            self._seen[key] = (last, held + 1)
            return False
        self._seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} [{held} more like this in the last {now - last:.0f} s, not logged]"
        return True


def quieten_kafka_clients(every: float = 30.0) -> RepeatFilter:
    """Install one RepeatFilter on the Kafka client loggers (a logger's filter sees only its own records)."""
    f = RepeatFilter(every)
    for name in KAFKA_CLIENT_LOGGERS:
        logging.getLogger(name).addFilter(f)
    return f
