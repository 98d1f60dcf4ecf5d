"""Detours around Faust's per-record machinery: the same records, the same bytes, less CPU.

None of these changes a result; each one says what it skips, what that
measured, which upstream issue it relates to (or the upstream-style report in
docs/upstream/), and which stock setting was tried first.
`service.faust_fixes` puts them together with the correctness patches.
"""

from __future__ import annotations

import asyncio
import types

import faust
import orjson
from faust.stores.base import Store as BaseStore
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.utils import json as faust_json
from mode.utils.compat import want_bytes


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

    Upstream: robinhood/faust#718 ("Time taken to send lots of messages is
    longer in faust than aiokafka", open; faust-streaming inherited the code).
    Stock settings: `producer_linger_ms` and `producer_max_batch_size` shape
    aiokafka's batches, not the suspension per `Topic.send`; not a substitute,
    so not measured against it.
    """
    return await app.producer.send(topic, key, value, partition=partition, timestamp=None, headers=headers)


def encode(topic: faust.TopicT, obj, *, key: bool, serializer=None) -> bytes | None:
    """The bytes `topic.prepare_key` / `prepare_value` give `obj`, JSON without Faust's lookups.

    Faust finds a record's codec through its schema, serializer registry and
    codec table on every record (~1.5 us a key, ~1.6 us a value more than the
    JSON itself): for a plain value on a "json" topic this calls the same
    function its json codec ends in. Anything else goes Faust's way.

    Upstream: no report found; described in docs/upstream/faust-json-codec-cost.md.
    Stock settings: none; the codec lookup is per record whatever the settings.
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

    Upstream: docs/upstream/faust-json-codec-cost.md (as `encode`).
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

    Upstream: robinhood/faust#718 (as `send_direct`) and, for writing from a
    batch at all, faust-streaming/faust#497 (see `correctness.set_current_event`).
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


class DirectDelivery(faust_aiokafka.Consumer):
    """Faust's consumer, handing each fetched message to its queue without four tasks a message.

    Its thread is a `FetchingConsumerThread`.
    """

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

        Upstream: no report of the cost found; described in
        docs/upstream/faust-deliver-wait-first-cost.md. Related:
        faust-streaming/faust#229 (a hang in the same `wait_first` call).
        Stock settings: none; `broker_max_poll_records` changes how many
        messages a fetch returns, not what each one's delivery costs.
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

    Upstream: no report found; described in
    docs/upstream/faust-consumer-fetch-settings-fixed.md.
    Stock settings: none; faust-streaming 0.15.3 passes `fetch_max_wait_ms=1500`
    to aiokafka literally and leaves `fetch_min_bytes` at aiokafka's 1, with
    no setting for either (`consumer_max_fetch_size` is the per-partition
    maximum, a different knob).
    """

    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        for name in ("_fetch_min_bytes", "_fetch_max_wait_ms"):  # read by AIOKafkaConsumer.start()
            if not hasattr(consumer, name):
                raise RuntimeError(f"aiokafka's consumer has no {name} any more: service/faust_patches/speed.py "
                                   "needs updating for this aiokafka version")
        consumer._fetch_min_bytes = transport.fetch_min_bytes
        consumer._fetch_max_wait_ms = transport.fetch_max_wait_ms
        return consumer


