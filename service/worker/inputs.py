"""What the event clock knows of the input partitions: which still hold unread events, and where it stood.

An input partition holds the event clock until it delivers or idles
(service/core/clock.py EventClock). This part tells the clock, before each
tick, which assigned input partitions have events ingest has not read yet
(`measure_backlog`), and after an assignment where each partition's clock
stood at its last committed event (`recover`): the clock lives in memory.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable

from ..config import Settings
from ..core.clock import EventClock
from ..core.timefmt import to_epoch
from ..faust_fixes import committed_offset
from ..logfilter import escaping_logger

log = escaping_logger(__name__)


class InputProgress:
    def __init__(self, settings: Settings, event_clock: EventClock, app) -> None:
        self.settings = settings
        self.topics = settings.topics.inputs
        self.event_clock = event_clock
        self.app = app  # its consumer: assignment, high watermarks, committed offsets
        self.delivered: dict[tuple[str, int], int] = {}  # input partition -> next offset ingest will read
        self.recovering: set[asyncio.Future] = set()

    def delivered_up_to(self, events: Iterable) -> None:
        """Ingest has processed these messages: their partitions are read up to them."""
        for event in events:
            self.delivered[(event.message.topic, event.message.partition)] = event.message.offset + 1

    async def measure_backlog(self) -> None:
        """Tell the event clock which input partitions still hold unread events."""
        consumer = self.app.consumer
        assigned = [tp for tp in consumer.assignment() if tp.topic in self.topics]
        ends: dict = {}
        for tp in assigned:
            try:
                ends[tp] = consumer.highwater(tp)
            except Exception:
                ends[tp] = None
        unknown = [tp for tp, end in ends.items() if end is None]
        if unknown:  # not fetched yet, e.g. just taken over from another worker: ask the broker
            try:
                ends.update(await asyncio.wait_for(consumer.highwaters(*unknown), timeout=5.0))
            except Exception:  # broker away: these hold the clock until it answers
                pass
        for tp in assigned:
            source, end = (tp.topic, tp.partition), ends.get(tp)
            read = self.delivered.get(source, committed_offset(consumer, tp) or 0)
            self.event_clock.backlog(source, end is None or end > read)

    def assigned(self, sources: list[tuple[str, int]]) -> None:
        """Input partitions assigned to this worker: each holds the clock until it delivers or idles.

        One read by another worker in the meantime is read again from the committed offset."""
        for source in sources:
            self.delivered.pop(source, None)
        self.event_clock.assigned(sources, time.time())
        if self.settings.clock == "event" and sources:
            self.recovering.add(asyncio.ensure_future(self.recover(sources)))
            self.recovering.difference_update([t for t in self.recovering if t.done()])

    async def recover(self, sources) -> None:
        """Where the event clock stood: the event time of each partition's last committed event.

        The clock lives in memory. A worker restarted after everything was read
        (or that takes over partitions read to the end) would otherwise see no
        event, and an event clock that has seen nothing never moves: deadlines
        due after the last event would never fire.
        """
        from aiokafka import AIOKafkaConsumer, TopicPartition

        settings = self.settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap.split(","), group_id=settings.app_id,
            enable_auto_commit=False, client_id=f"{settings.app_id}-clock",
            **settings.kafka_security.client_options())
        try:
            await consumer.start()
            wanted = {}
            for topic, partition in sources:
                committed = await consumer.committed(TopicPartition(topic, partition))
                if committed:
                    wanted[TopicPartition(topic, partition)] = committed - 1
            if not wanted:
                return
            consumer.assign(list(wanted))
            for tp, offset in wanted.items():
                consumer.seek(tp, offset)
            deadline = time.time() + 10.0
            while wanted and time.time() < deadline:
                for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                    for record in records:
                        if wanted.get(tp) == record.offset:
                            del wanted[tp]
                            try:
                                ts = to_epoch(json.loads(record.value)["occurred_at"])
                            except (ValueError, KeyError, TypeError):
                                continue  # a dead-lettered message: that partition idles out as before
                            self.event_clock.observe((tp.topic, tp.partition), ts, time.time())
        except Exception:  # the clock then starts from what arrives, as before
            log.exception("could not read back where the event clock stood")
        finally:
            await consumer.stop()
