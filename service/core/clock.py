"""The event-time clock used when history is replayed.

In replay mode the service's "now" is event time: the point up to which every
input partition has delivered its events (a watermark: the minimum over
partitions of the highest event time each has shown). A partition that has
shown nothing for `idle_seconds` of wall time no longer holds the clock back,
otherwise a topic that ended early would freeze every deadline; `lateness`
keeps the clock a little behind, for producers whose partitions are not
perfectly in time order. Wall time comes in as an argument, as everywhere in
the core.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable


class EventClock:
    def __init__(self, idle_seconds: float = 5.0, lateness_seconds: float = 0.0):
        self.idle = idle_seconds
        self.lateness = lateness_seconds
        self._sources: dict[Hashable, list[float]] = {}  # source -> [max event time, wall time last seen]
        self._backlog: set[Hashable] = set()  # sources known to hold unread events: never idle

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

    def now(self, wall: float) -> float | None:
        if not self._sources:
            return None
        active = [t for s, (t, last) in self._sources.items() if wall - last < self.idle or s in self._backlog]
        mark = min(active) if active else max(t for t, _ in self._sources.values())
        return None if mark == float("-inf") else mark - self.lateness


AGGREGATE_KINDS = frozenset({"district", "feeder", "staff"})


def is_aggregate(key: str) -> bool:
    return key.split(":", 1)[0] in AGGREGATE_KINDS


class PartitionClocks:
    """The two clocks of each work partition.

    Entity subjects (tickets, outages, accounts) follow the tick: everything
    the ingest sent before the tick's time is already ahead of it in the
    partition. Aggregate subjects (districts, feeders, staff) also receive
    events *derived* by entities on other partitions, which are sent only
    when those partitions process their own tick. So every partition, once
    it has handled a tick, sends a mark "done up to t" to every partition;
    an aggregate clock is the minimum of the marks from all partitions. A
    window is then never decided while a derived event for it is in flight,
    however fast a replay runs.
    """

    LIVENESS = 10.0  # seconds of wall time after which a silent worker's ticks no longer count

    def __init__(self, partitions: int):
        self.partitions = partitions
        self._entity: dict[int, float] = {}
        self._marks: dict[int, dict[int, float]] = {}
        self._workers: dict[int, dict[str, tuple[float, float]]] = {}  # partition -> worker -> (now, wall)

    def tick(self, partition: int, now: float, worker: str = "", wall: float = 0.0) -> float:
        """A worker's tick. With several workers, each reads only its own input
        partitions, so the clock is the slowest live worker's: one worker far
        ahead in a replay must not fire deadlines for events another has not
        read yet. A worker silent for LIVENESS seconds (stopped, failed over)
        stops holding the clock back."""
        seen = self._workers.setdefault(partition, {})
        seen[worker] = (max(now, seen.get(worker, (now, wall))[0]), wall)
        latest = max(w for _, w in seen.values())
        for name in [n for n, (_, w) in seen.items() if w < latest - self.LIVENESS]:
            del seen[name]
        slowest = min(t for t, _ in seen.values())
        self._entity[partition] = max(slowest, self._entity.get(partition, float("-inf")))
        return self._entity[partition]

    def mark(self, partition: int, source: int, now: float) -> float:
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
