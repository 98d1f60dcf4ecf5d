"""Patches without which the service loses input or cannot write its tables from a batch.

Each one says what goes wrong without it, which upstream issue it works
around, and which stock setting was tried first. `service.faust_fixes` puts
them together with the speed paths; nothing here decides anything about
warnings.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Mapping

import faust
from faust import streams as faust_streams
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
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
    raises "Cannot modify table key from outside of stream iteration", and a
    RocksDB read searches every partition's database. The batch sets the
    message it is applying (or, writing a key at the batch's end, a message of
    that key's partition), as the per-message stream iteration does
    (`Stream._set_current_event`).

    Upstream: faust-streaming/faust#497 ("Writing into Table with Stream.take()
    not allowed", open).
    Stock settings: none; no setting lets a table be written outside stream
    iteration.
    """
    faust_streams._current_event.set(weakref.ref(event))


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

    Upstream: no report of this race found; described in
    docs/upstream/faust-internal-topic-missing-from-first-assignment.md.
    Stock settings: Faust's `consumer_metadata_max_age_ms` (aiokafka's
    `metadata_max_age_ms`) bounds how long the topic stays unconsumed, since a
    metadata refresh that shows it makes the group rebalance; it does not
    close the gap. Lowered to a few seconds it would trade the five minutes
    for a rebalance right after every fresh start, and a metadata request
    every few seconds for the worker's life. Judged by reading aiokafka's
    coordinator, not by a test: with this patch off, 23 fresh starts of a bare
    Faust app (one to four internal topics and a table) on the e2e tests'
    broker consumed every topic at once, so the race could not be reproduced
    on demand, and the setting not tried against it.
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
    means; redelivered events are recognised by their ids.

    Upstream: aio-libs/aiokafka#1003 ("seek_to_committed does not work when
    committed offset is 0", open): its `if offset and offset > 0` skips both
    offset 0 and no offset at all.
    Stock settings: `consumer_auto_offset_reset="earliest"` is already set; it
    applies only when a partition has no fetch position, and after the first
    fetch it has one, so it does not help. No other setting touches the seek.
    """

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        never = [tp for tp, offset in committed.items()
                 if not offset and self.app.topics.acks_enabled_for(tp.topic)]  # changelogs: Faust seeks those
        if never:
            await self._thread.seek_to_beginning(*never)
        return committed


class FlowControl(FlowControlEvent):
    """Resuming flow that is not suspended does not clear the agents' queues.

    Faust clears every agent's incoming queue when it resumes flow, to drop
    what was fetched for partitions since revoked. But after reading the
    changelogs a recovery leaves flow running, resumes the stream partitions,
    seeks them back to their committed offsets, and only then resumes flow
    again: events fetched and queued during that seek were cleared, and when
    they were fetched again Faust dropped them as already read. Seen as a
    lost ticket.arrived (a false arrival_overdue warning) and a lost outage
    notice after the surviving worker took over.

    Flow that was running holds nothing stale: queued events of the current
    generation are processed, and those the seek fetches again are
    recognised by their ids (events), sequence numbers (ticks) or are
    idempotent (marks). A suspended flow is cleared on resume as before.

    Upstream: no report of this found; described in
    docs/upstream/faust-flow-control-resume-clears-queues.md. Related:
    faust-streaming/faust#253 (which made recovery resume flow control after
    the seek, so the clearing comes last) and #596 (a recovery race that leaves
    gaps in acked offsets).
    Stock settings: none; `stream_buffer_maxsize` only bounds how much a clear
    throws away.
    """

    def resume(self) -> None:
        if self.is_active():
            return
        super().resume()


# --- private state the shell reads, behind one door -----------------------------------


def committed_offset(consumer, tp: TP) -> int | None:
    """The offset Faust's consumer last committed for `tp` (None: none yet, or not assigned).

    Faust keeps it in `Consumer._committed_offset` and has no public accessor;
    aiokafka's `committed()` asks the broker, which is a round trip where
    Faust already knows the answer.
    """
    return consumer._committed_offset.get(tp)


def force_metadata_update(aiokafka_consumer) -> Awaitable[bool]:
    """Ask the broker for fresh metadata now (e.g. for a topic just created); await the result.

    `AIOKafkaConsumer` refreshes metadata only every `metadata_max_age_ms` or
    when a subscription changes; its client's `force_metadata_update` is the
    one way to refresh it for a manually assigned consumer.
    """
    return aiokafka_consumer._client.force_metadata_update()
