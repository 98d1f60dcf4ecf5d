"""The event-time clock used when history is replayed.

In replay mode the service's "now" is event time: the point up to which every
input partition has delivered its events (a watermark: the minimum over
partitions of the highest event time each has shown). A partition that has
shown nothing for `idle_seconds` of wall time no longer holds the clock back,
otherwise a topic that ended early would freeze every deadline; `lateness`
keeps the clock a little behind, for producers whose partitions are not
perfectly in time order. Wall time comes in as an argument, as everywhere in
the core.

Neither clock ever runs more than `max_ahead_seconds` (the allowed clock skew)
ahead of wall time: an event time beyond it, a tick or mark from a worker
whose clock is ahead, or a time read back after a restart is taken as wall
time plus the skew. Events that far ahead are dead-lettered before they get
here (admission.py); this holds the line for what comes from elsewhere.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

INF = float("inf")


class EventClock:
    def __init__(self, idle_seconds: float = 5.0, lateness_seconds: float = 0.0, max_ahead_seconds: float = INF):
        self.idle = idle_seconds
        self.lateness = lateness_seconds
        self.max_ahead = max_ahead_seconds
        self._sources: dict[Hashable, list[float]] = {}  # source -> [max event time, wall time last seen]
        self._backlog: set[Hashable] = set()  # sources known to hold unread events: never idle
        self._peak = float("-inf")  # the highest event time read here, whatever partition it came from

    def expect(self, source: Hashable, wall: float) -> None:
        """A partition that may hold a backlog: it holds the clock until it delivers or idles."""
        self._sources.setdefault(source, [float("-inf"), wall])

    def assigned(self, sources: Iterable[Hashable], wall: float) -> None:
        """After a rebalance: the partitions this worker reads now.

        The others are forgotten: another worker reads them and its clock
        covers them. Left here, one that was behind when it was taken away
        would hold this worker's clock for good, since nothing here reads it
        any more. The new ones are expected.
        """
        keep = set(sources)
        for source in [s for s in self._sources if s not in keep]:
            del self._sources[source]
        self._backlog &= keep
        for source in keep:
            self.expect(source, wall)

    def observe(self, source: Hashable, event_time: float, wall: float) -> None:
        event_time = min(event_time, wall + self.max_ahead)
        self._peak = max(self._peak, event_time)
        seen = self._sources.get(source)
        if seen is None:
            self._sources[source] = [event_time, wall]
        else:
            seen[0] = max(seen[0], event_time)
            seen[1] = wall

    def backlog(self, source: Hashable, behind: bool) -> None:
        """Whether the partition has events not yet read (from the consumer's high watermark).

        A partition that is merely waiting for its next fetch in a large
        replay is not idle, however long the wait: it would otherwise release
        the clock ahead of its own events.
        """
        if behind:
            self._backlog.add(source)
        else:
            self._backlog.discard(source)

    def _active(self, wall: float) -> list[float]:
        return [t for s, (t, last) in self._sources.items() if wall - last < self.idle or s in self._backlog]

    def now(self, wall: float) -> float | None:
        if not self._sources:
            return None
        active = self._active(wall)
        mark = min(active) if active else max(t for t, _ in self._sources.values())
        return None if mark == float("-inf") else mark - self.lateness

    def all_idle(self, wall: float) -> bool:
        """No partition holds the clock: each is silent and has nothing left to read."""
        return not self._active(wall)

    def peak(self) -> float:
        """The highest event time read here, also from partitions since given to another worker."""
        return self._peak


AGGREGATE_KINDS = frozenset({"district", "feeder", "staff"})


def is_aggregate(key: str) -> bool:
    return key.split(":", 1)[0] in AGGREGATE_KINDS


@dataclass(frozen=True)
class _WorkerTick:
    now: float
    idle: bool
    generation: int
    owned: int
    wall: float
    seq: int


class PartitionClocks:
    """The two clocks of each work partition.

    Entity subjects (tickets, outages, accounts) follow the tick: everything
    the ingest sent before the tick's time is already ahead of it in the
    partition. Aggregate subjects (districts, feeders, staff) also receive
    events *derived* by entities on other partitions, which are sent only
    when those partitions process their own tick. So every partition, once
    it has handled a tick and sent what it derived, is "done up to t", and
    the worker that owns it says so in the marks its next ticks carry to
    every partition (one record per partition and worker, not one per pair
    of partitions); an aggregate clock is the minimum of the marks from all
    partitions. A window is then never decided while a derived event for it
    is in flight, however fast a replay runs.
    """

    def __init__(self, partitions: int, liveness_seconds: float = 5.0, max_ahead_seconds: float = INF):
        self.partitions = partitions
        self.liveness = liveness_seconds
        self.max_ahead = max_ahead_seconds
        self._entity: dict[int, float] = {}
        self._marks: dict[int, dict[int, float]] = {}
        self._workers: dict[int, dict[str, _WorkerTick]] = {}  # partition -> worker -> its last tick
        self._peak = float("-inf")  # the highest event time any worker has said it read

    def tick(self, partition: int, now: float | None, worker: str = "", generation: int = 0,
             owned: int = 0, total: int | None = 0, idle: bool = False, peak: float | None = None,
             wall: float = 0.0, seq: int = 0, local_wall: float | None = None) -> float:
        """A worker's tick, sent every tick interval: its event clock covers
        the `owned` input partitions (of `total`) it reads in consumer
        `generation`. `now` None: it cannot tell yet (partitions just
        assigned). `idle`: none of its partitions holds its clock (all silent,
        nothing unread). `peak`: the highest event time it has read. `seq`
        numbers its ticks: after a rebalance the partition is read again from
        its committed offset, and a tick older than one already applied is
        stale news (it once made a worker look idle in its old generation).

        With several workers each reads only its own input partitions, so the
        clock is the slowest worker's: one far ahead in a replay must not fire
        deadlines for events another has not read yet. When every worker is
        idle, and alive (ticked within `liveness_seconds`), the replay has
        ended and the clock is the highest any of them reached, as a single
        worker's would be: each has read only some of the last events.

        `local_wall` is this process's wall time: `now` and `peak` are taken
        as at most `max_ahead_seconds` beyond it, whatever the sender says.

        The clock moves only on the word of workers of one generation that
        read every input partition between them. A worker stopped or killed
        keeps holding it with its last tick until the group has given its
        partitions to others (at once for a clean stop, after the session
        timeout for a kill) and they have said how far they are; after a
        rebalance it waits until every worker of the new generation has
        ticked. A wall-time limit instead let the survivor's clock run past
        the dead worker's unread events whenever the rebalance took longer
        than the limit.
        """
        seen = self._workers.setdefault(partition, {})
        now = float("-inf") if now is None else now
        if local_wall is not None:
            now = min(now, local_wall + self.max_ahead)
            peak = None if peak is None else min(peak, local_wall + self.max_ahead)
        before = seen.get(worker)
        if before is not None and seq <= before.seq and seq:
            return self.entity_now(partition)
        if before is not None and (before.generation, before.owned) == (generation, owned):
            now = max(now, before.now)  # the same partitions: never back
        seen[worker] = _WorkerTick(now, idle, generation, owned, wall, seq)
        self._peak = max(self._peak, now, float("-inf") if peak is None else peak)
        current = [t for t in seen.values() if t.generation == generation]
        if total is None or sum(t.owned for t in current) < total:
            return self.entity_now(partition)  # not every worker of this generation has spoken yet
        for name in [name for name, t in seen.items() if t.generation != generation]:
            del seen[name]
        latest = max(t.wall for t in current)
        ended = all(t.idle and t.wall >= latest - self.liveness for t in current)
        clock = (max if ended else min)(t.now for t in current)
        self._entity[partition] = max(clock, self.entity_now(partition))
        return self._entity[partition]

    def peak(self) -> float:
        """The highest event time any worker has read, as far as this process has seen.

        An idle worker reports this as its time rather than its own highest:
        the later events were read by another worker (one since killed, say).
        """
        return self._peak

    def mark(self, partition: int, source: int, now: float, local_wall: float | None = None) -> float:
        if local_wall is not None:
            now = min(now, local_wall + self.max_ahead)
        marks = self._marks.setdefault(partition, {})
        marks[source] = max(now, marks.get(source, float("-inf")))
        return self.aggregate_now(partition)

    def entity_now(self, partition: int) -> float:
        return self._entity.get(partition, float("-inf"))

    def aggregate_now(self, partition: int) -> float:
        marks = self._marks.get(partition, {})
        if len(marks) < self.partitions:
            return float("-inf")
        return min(marks.values())

    def now_for(self, key: str, partition: int) -> float:
        return self.aggregate_now(partition) if is_aggregate(key) else self.entity_now(partition)
