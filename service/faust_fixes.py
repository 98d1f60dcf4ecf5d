"""Three gaps in faust-streaming 0.15.3 with aiokafka 0.14, closed for this service,
one door opened (`set_current_event`) and one detour taken (`send_direct`).

All three lose input silently around a rebalance, and all three were found
by the two-worker e2e test (tests/e2e/test_scale_out.py), whose worker logs
(with DEVLOG=1 for Faust's own) show them:

- `VisibleTopic`: an internal topic Faust has just created can be missing
  from the group's first assignment, and then nobody consumes it for minutes.
- `Transport` (its consumer): a partition the group has never committed an
  offset for can lose the records fetched while a rebalance was under way.
- `FlowControl`: events fetched while Faust seeks the stream partitions back
  to their committed offsets at the end of a recovery were thrown away.

`FetchingConsumerThread` sets two fetch settings Faust hard-codes, and
`RewindingConsumer._deliver` hands each fetched message over without mode's
four-task `wait_first`. Each class says
why in its docstring; `set_current_event` lets a batch from
`Stream.take_events` write tables; `send_direct`, `send_to` and `write_direct`
hand records to the producer without `Topic.send`, whose per-record
suspension cost more than the rest of a record's way to Kafka. Nothing here
decides anything about warnings; `create_app` installs them.
"""

from __future__ import annotations

import asyncio
import logging
import time
import types
import weakref
from collections.abc import Mapping

import faust
import orjson
from faust import streams as faust_streams
from faust.stores.base import Store as BaseStore
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.utils import json as faust_json
from mode.utils.compat import want_bytes
from mode.utils.queues import FlowControlEvent

log = logging.getLogger(__name__)


def set_current_event(event) -> None:
    """Make `event` the one a table write belongs to.

    A Faust table write sends its changelog record to the partition of the
    message being processed, which Faust finds in a context variable
    (`faust.streams.current_event()`); RocksDB stores also pick their
    partition's database by it. `Stream.take_events` buffers messages in a
    task of its own, so in the batch's body no message is current (the
    variable holds a weak reference, dead once its batch is gone): a write
    raises, which is why docs/development.md (Faust) calls table writes from `take()`
    batches impossible, and a RocksDB read searches every partition's
    database. The batch sets the message it is applying (or, writing a key at
    the batch's end, a message of that key's partition), as the per-message
    stream iteration does (`Stream._set_current_event`).
    """
    faust_streams._current_event.set(weakref.ref(event))


async def send_direct(app: faust.App, topic: str, key: bytes | None, value: bytes | None,
                      partition: int | None = None, headers: list | None = None) -> asyncio.Future:
    """Hand one record to Faust's producer, not through `Topic.send`; returns its delivery future.

    `Topic.send` (and the table writes queued by `Topic.send_soon`) suspends the
    sending task for each record, so aiokafka's sender runs between records
    and sends them a few at a time: one more produce request and event-loop
    round per record or two. Measured in a bare Faust agent (bench.faust_floor
    `--send-path`): ~130 us CPU per record through `Topic.send`, ~12 us through
    `app.producer.send`, which queues the record in aiokafka's accumulator
    and returns. Nothing else changes: the same producer (Faust flushes it
    before every commit), the same partitioner for keyed records, the same
    bytes when the caller encodes as the topic would.
    """
    return await app.producer.send(topic, key, value, partition=partition, timestamp=None, headers=headers)


def encode(topic: faust.TopicT, obj, *, key: bool, serializer=None) -> bytes | None:
    """The bytes `topic.prepare_key` / `prepare_value` give `obj`, JSON without Faust's lookups.

    Faust finds a record's codec through its schema, serializer registry and
    codec table on every record (~1.5 us a key, ~1.6 us a value more than the
    JSON itself): for a plain value on a "json" topic this calls the same
    function its json codec ends in. Anything else goes Faust's way.
    """
    schema = topic.schema
    codec = serializer or (schema.key_serializer if key else schema.value_serializer)
    if codec == "json" and (schema.key_type if key else schema.value_type) is None \
            and isinstance(obj, (dict, list, str, int, float)):
        return _json(obj)
    return (topic.prepare_key if key else topic.prepare_value)(obj, serializer)[0]


def _json(obj) -> bytes:
    """Faust's JSON bytes for `obj`, by orjson without OPT_NON_STR_KEYS while every key is a string.

    Faust's `dumps` always asks orjson to accept keys that are not strings, and
    that option costs time on our state values, which only have string keys:
    a district's state 12.8 against 15.5 us, all states 5.1 against 5.5 us
    (fastest of 40 rounds). JSON of states is the largest single cost of a live
    worker (10 % of its samples at 2 000 events/s). Without the option orjson
    refuses a dict with another key (or a type only Faust's `default` knows):
    then Faust's own call makes the bytes, so they are the same either way.
    """
    try:
        return orjson.dumps(obj, option=orjson.OPT_UTC_Z)
    except TypeError:
        return want_bytes(faust_json.dumps(obj))


async def send_to(topic: faust.TopicT, *, value, key=None, partition: int | None = None,
                  headers: list | None = None) -> asyncio.Future:
    """`topic.send(...)` by `send_direct`: the topic's own serializers, then the producer."""
    key_bytes = None if key is None else encode(topic, key, key=True)
    value_bytes = encode(topic, value, key=False)
    return await send_direct(topic.app, topic.get_topic_name(), key_bytes, value_bytes, partition, headers)


async def write_direct(table, key, value, partition: int) -> None:
    """`table[key] = value` (`del table[key]` for None), its changelog record sent by `send_direct`.

    What `Table.__setitem__` does, without its per-record suspension: the
    store is written (RocksDB picks the database of the current event's
    partition, which the caller has set), the changelog record gets the key
    and value bytes Faust itself would write (the topic's own serializers:
    compaction sees one key whichever way it was written) and goes to
    `partition`, and once Kafka has it a RocksDB store remembers the offset,
    as `Collection._on_changelog_sent` does, so a restart reads only what
    came after.
    """
    topic = table.changelog_topic
    key_bytes = encode(topic, key, key=True, serializer=table.key_serializer)
    if value is None:
        if key not in table.data:
            return
        del table.data[key]
        value_bytes = None
    else:
        table.data[key] = value
        value_bytes = encode(topic, value, key=False, serializer=table.value_serializer)
    name = topic.get_topic_name()
    sent = await send_direct(table.app, name, key_bytes, value_bytes, partition=partition)
    if type(table.data).set_persisted_offset is not BaseStore.set_persisted_offset:  # memory:// keeps none
        sent.add_done_callback(lambda f: _persisted(table, TP(name, partition), f))


def _persisted(table, tp: TP, sent: asyncio.Future) -> None:
    if not sent.cancelled() and sent.exception() is None:
        table.data.set_persisted_offset(tp, sent.result().offset)


class VisibleTopic(faust.Topic):
    """A Faust topic whose declaration returns only once the broker lists it.

    Faust creates its internal topics (`<app>-work`, `<app>-notify`, the
    changelogs) during start-up, moments before the consumer subscribes. A
    topic the controller has created but the broker has not yet put into its
    metadata is then missing from the group's first assignment ("Ignoring
    missing topic"), and aiokafka only looks again after
    `metadata_max_age_ms` (5 minutes): until then nobody consumes it, so no
    event is processed, or no SMS sent, although the worker says Ready. Seen
    in about one fresh start in three on the e2e tests' broker.
    """

    VISIBLE_TIMEOUT = 30.0

    async def declare(self) -> None:
        await super().declare()
        if not self.app.conf.topic_allow_declare:
            return
        # the producer's client lives in this event loop; Faust's own create_topic uses it too
        client = self.app.producer._ensure_producer().client
        deadline = time.monotonic() + self.VISIBLE_TIMEOUT
        missing = set(self.topics)
        while True:
            cluster = await client.fetch_all_metadata()
            missing = {t for t in missing if not cluster.partitions_for_topic(t)}
            if not missing:
                return
            if time.monotonic() > deadline:
                log.warning("topics %s still not in the broker's metadata after %.0f s",
                            sorted(missing), self.VISIBLE_TIMEOUT)
                return
            await asyncio.sleep(0.1)


class RewindingConsumer(faust_aiokafka.Consumer):
    """After "seek back to committed offsets", also rewind the partitions that have none.

    Faust drops records it has already fetched when a rebalance starts (the
    fetch returns while flow is stopped, or the stream skips an event of the
    old generation), and relies on seeking every partition back to its
    committed offset to read them again. aiokafka's `seek_to_committed` does
    nothing for a partition without a committed offset (or with offset 0), so
    there the dropped records are skipped for good: the fetch position has
    moved past them. That is any partition that had no message when the
    group first saw it, e.g. an outage topic's quiet partition whose first
    event arrives while a second worker joins. Such a partition is rewound
    to its beginning, which is what `consumer_auto_offset_reset="earliest"`
    means; redelivered events are recognised by their ids. Its thread is a
    `FetchingConsumerThread`.
    """

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        never = [tp for tp, offset in committed.items()
                 if not offset and self.app.topics.acks_enabled_for(tp.topic)]  # changelogs: Faust seeks those
        if never:
            await self._thread.seek_to_beginning(*never)
        return committed

    def _new_consumer_thread(self):
        return FetchingConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _deliver(self, callback, message) -> None:
        """Faust's `await self.wait_first(callback(message), self.suspend_flow.wait())`, lighter.

        mode's `wait_first` makes four tasks (the delivery, the suspend flag's
        wait, the consumer's stopped and crashed waits), an `asyncio.wait` over
        them and three cancellations: ~40 us a message, when handing the message
        to its topic's queue takes under one. So the delivery's first step runs
        here: nearly always it queues the message without waiting and is done.
        Only a delivery that has to wait (a full stream buffer, a lock held
        during a rebalance) goes Faust's way, and there a flow suspended while it
        waits still abandons it, as before.
        """
        coro = callback(message)
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return
        await self.wait_first(_rest_of(coro, waiting_on), self.suspend_flow.wait())

    async def _drain_messages(self, fetcher) -> None:  # pragma: no cover
        # faust-streaming 0.15.3's Consumer._drain_messages, unchanged but for the
        # marked line (tests/service/test_delivery.py holds it to that version)
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set

        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        flag_consumer_fetching = faust_consumer.CONSUMER_FETCHING
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(flag_consumer_fetching)
                ait = getmany(timeout=1.0)

                # Sleeping because sometimes getmany is called in a loop
                # never releasing to the event loop
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0

                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            # We have a gap in income messages
                            if gap > 1 and r_offset:
                                acks_enabled = acks_enabled_for(message.topic)
                                if acks_enabled:
                                    await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None:
                                if self._n_acked >= commit_every:
                                    self._n_acked = 0
                                    await self.commit()
                            await self._deliver(callback, message)  # <- was wait_first(callback(message), ...)
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev(
                                "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                                offset,
                                message.key,
                                message.value,
                            )
                    unset_flag(flag_consumer_fetching)

        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(flag_consumer_fetching)


async def _rest_of(coro, waiting_on):
    # a native coroutine: mode's wait_first takes only Awaitables, and a generator-based one is not
    return await _resumed(coro, waiting_on)


@types.coroutine
def _resumed(coro, waiting_on):
    """The rest of a coroutine run by hand up to its first wait, as a task would run it.

    The task that awaits this waits for `waiting_on` (what the coroutine
    yielded: a future, or None for a bare yield), then drives the coroutine on;
    a cancellation while it waits is thrown into the coroutine, so it cleans up
    as it would under a task of its own.
    """
    while True:
        try:
            yield waiting_on
        except BaseException as exc:
            try:
                waiting_on = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            waiting_on = coro.send(None)
        except StopIteration as stop:
            return stop.value


class FetchingConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, its aiokafka consumer fetching as the transport says.

    Faust builds the consumer with fetch_min_bytes=1 and fetch_max_wait_ms=1500:
    the broker answers a fetch as soon as any partition has a record. Under
    live load that is a small fetch after small fetch, each one a round of
    Faust's delivery machinery and, likely, a contest for the GIL between
    this thread and the agents'. Asking the broker to gather up to `fetch_min_bytes` for at
    most `fetch_max_wait_ms` makes fewer, fuller fetches (measured in
    docs/benchmarks.md, sixth round).
    """

    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        for name in ("_fetch_min_bytes", "_fetch_max_wait_ms"):  # read by AIOKafkaConsumer.start()
            if not hasattr(consumer, name):
                raise RuntimeError(f"aiokafka's consumer has no {name} any more: service/faust_fixes.py "
                                   "needs updating for this aiokafka version")
        consumer._fetch_min_bytes = transport.fetch_min_bytes
        consumer._fetch_max_wait_ms = transport.fetch_max_wait_ms
        return consumer


class Transport(faust_aiokafka.Transport):
    Consumer = RewindingConsumer

    def __init__(self, *args, fetch_min_bytes: int = 1, fetch_max_wait_ms: int = 1500, **kwargs):  # Faust's own
        super().__init__(*args, **kwargs)
        self.fetch_min_bytes, self.fetch_max_wait_ms = fetch_min_bytes, fetch_max_wait_ms


class FlowControl(FlowControlEvent):
    """Resuming flow that is not suspended does not clear the agents' queues.

    Faust clears every agent's incoming queue when it resumes flow, to drop
    what was fetched for partitions since revoked. But after reading the
    changelogs a recovery leaves flow running, resumes the stream partitions,
    seeks them back to their committed offsets, and only then resumes flow
    again: events fetched and queued during that seek were cleared, and when
    they were fetched again Faust dropped them as already read. Seen as a
    lost ticket.arrived (a false arrival_overdue warning) and a lost outage
    notice after the surviving worker took over (issue 6).

    Flow that was running holds nothing stale: queued events of the current
    generation are processed, and those the seek fetches again are
    recognised by their ids (events), sequence numbers (ticks) or are
    idempotent (marks). A suspended flow is cleared on resume as before.
    """

    def resume(self) -> None:
        if self.is_active():
            return
        super().resume()
