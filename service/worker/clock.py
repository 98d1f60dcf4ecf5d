"""The clock timer: every interval, this worker's clock brought to every work partition, linearly in partitions.

A partition this worker owns, and whose work-topic backlog from before it
owned it is applied (`synced`: a tick record of its own came back through
it), is ticked in process: its due keys evaluated, what they derived sent,
and the marks of every partition owned here applied. Every other partition
gets one tick record carrying the "done up to" marks of the partitions owned
here, and only when what it says has changed (or for liveness every few
seconds): at most P records an interval per worker, none at all on a quiet
worker owning every partition but a rare keep-alive for the broker watchdog.
The clock's "now" is wall time, or the event-time watermark when replaying.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
import uuid
from types import SimpleNamespace

from .. import metrics
from ..batch import Batch
from ..config import Settings
from ..core.clock import EventClock, PartitionClocks
from ..faust_fixes import send_to
from ..shell import Shell
from .finish import Finish
from .health import BrokerWatch
from .inputs import InputProgress
from .notify import Notify

NEVER = float("-inf")


class ClockTimer:
    def __init__(self, settings: Settings, app, work, shell: Shell, owned: set[int], event_clock: EventClock,
                 clocks: PartitionClocks, inputs: InputProgress, finish: Finish, notify: Notify,
                 watch: BrokerWatch) -> None:
        self.settings = settings
        self.app = app  # its consumer: the input topics' partition counts
        self.work = work
        self.shell = shell
        self.owned = owned  # work partitions assigned to this worker now
        self.event_clock = event_clock
        self.clocks = clocks
        self.inputs = inputs
        self.finish = finish
        self.notify = notify
        self.watch = watch
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.seq = itertools.count(1)
        self.last_seq = 0  # the seq of this worker's last tick
        self.told = NEVER  # the highest clock this worker's ticks have carried (event clock: too_old)
        self.coverage = (0, 0)  # (consumer generation, input partitions read) as the event clock knows them
        self.synced: set[int] = set()  # owned work partitions that receive this worker's ticks in process
        self.synced_after = 0  # a tick of this worker with a higher seq was sent after the last assignment
        self.ticked: dict[int, dict] = {}  # work partition -> what the last tick record sent to it said
        self.last_sent = 0.0  # wall time of the last tick record sent
        self.keepalive = settings.event_clock_idle_seconds / 2  # ticks this fresh keep a worker alive to others
        self.keepalive_turn = itertools.count()

    def heard(self, partition: int, tick: dict) -> None:
        """A tick record came back through `partition`: one of this worker's, sent after it was assigned,
        means all it sent there before it owned it is applied, and the partition can be ticked in process."""
        if tick.get("worker") == self.worker_id and tick.get("seq", 0) > self.synced_after:
            self.synced.add(partition)

    def assigned(self, generation: int, inputs_read: int) -> None:
        """After an assignment: partitions are ticked by records until this worker's first tick after
        now comes back through each, and ticks speak for the new input partitions."""
        self.synced.clear()
        self.synced_after = self.last_seq
        self.ticked.clear()
        self.coverage = (generation, inputs_read)

    def revoked(self, partitions: set[int]) -> None:
        self.synced.difference_update(partitions)

    async def tick(self) -> None:
        settings, shell = self.settings, self.shell
        wall = time.time()
        if settings.clock == "event":
            await self.inputs.measure_backlog()
            event_clock = self.event_clock
            now, peak, idle = event_clock.now(wall), event_clock.peak(), event_clock.all_idle(wall)
            if idle and self.clocks.peak() > NEVER:  # as far as any worker read
                now = max(now if now is not None else NEVER, self.clocks.peak())
        else:
            now, peak, idle = wall, wall, False
        counts = [self.app.consumer.topic_partitions(t) for t in settings.topics.inputs]
        generation, owned = self.coverage  # the input partitions its clock covers
        tick = {"kind": "tick", "now": now, "idle": idle, "peak": None if peak == NEVER else peak,
                "worker": self.worker_id, "seq": next(self.seq), "wall": wall, "gen": generation, "owned": owned,
                "total": None if None in counts else sum(counts)}
        self.last_seq = tick["seq"]
        if now is not None:
            metrics.clock.set(now)
            self.told = max(self.told, now)
        self.watch.started(wall)
        local = sorted(p for p in self.synced if p in self.owned)
        if local:
            batch = Batch()
            batch.source = SimpleNamespace(topic=self.work.get_topic_name(), partition=local[0], offset=0,
                                           key=None, value=b"")
            for p in local:
                await shell.on_tick(p, tick, batch)
            marks = shell.own_marks()
            if marks:
                for p in local:
                    await shell.on_marks(p, marks, batch)
            await self.finish("clock", batch)
        tick["marks"] = {str(p): t for p, t in shell.own_marks().items()}
        said = {k: v for k, v in tick.items() if k not in ("seq", "wall")}
        remote = [p for p in range(settings.partitions) if p not in local]
        if not remote and wall - self.last_sent >= self.watch.keepalive:
            remote = [next(self.keepalive_turn) % settings.partitions]  # Kafka must still be heard from (watchdog)
        fresh = wall - self.last_sent < self.keepalive
        sent_any = False
        for p in remote:
            if fresh and self.ticked.get(p) == said:
                continue  # it would say nothing new
            self.ticked[p] = said
            sent = await send_to(self.work, value=tick, partition=p)
            sent.add_done_callback(self.watch.note_acknowledged)
            sent_any = True
        if sent_any:
            self.last_sent = wall
        if now is not None:
            await self.notify.tick(now)
