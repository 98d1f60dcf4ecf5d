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

from collections.abc import Hashable


class EventClock:
    def __init__(self, idle_seconds: float = 5.0, lateness_seconds: float = 0.0):
        self.idle = idle_seconds
        self.lateness = lateness_seconds
        self._sources: dict[Hashable, list[float]] = {}  # source -> [max event time, wall time last seen]

    def observe(self, source: Hashable, event_time: float, wall: float) -> None:
        seen = self._sources.get(source)
        if seen is None:
            self._sources[source] = [event_time, wall]
        else:
            seen[0] = max(seen[0], event_time)
            seen[1] = wall

    def now(self, wall: float) -> float | None:
        if not self._sources:
            return None
        active = [t for t, last in self._sources.values() if wall - last < self.idle]
        mark = min(active) if active else max(t for t, _ in self._sources.values())
        return mark - self.lateness
