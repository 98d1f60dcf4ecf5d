"""Which state keys need a clock tick, and from when, per work partition.

Kept in memory only: it is derived from the state table and rebuilt (every
key evaluated once) after a start or a rebalance, so it can never disagree
with the persisted state for long.

A tick asks for the entity keys that are due, a mark for the aggregate keys
(see clock.py), so each partition keeps one heap per kind and `due` costs
O(due · log n), not a scan of every key: at a million accounts a scan per
tick and per mark was a third of a core. Heap entries are not removed when a
key's time changes; they are skipped when popped (their time no longer
matches), and the heap is rebuilt when stale entries outnumber live ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from .clock import is_aggregate

COMPACT_SLACK = 1024  # stale heap entries tolerated beyond the number of live keys


class _Heap:
    def __init__(self) -> None:
        self.at: dict[str, float] = {}  # key -> when it is due
        self.heap: list[tuple[float, str]] = []

    def set(self, key: str, wake_at: float | None) -> None:
        if wake_at is None:
            self.at.pop(key, None)
            return
        if self.at.get(key) == wake_at:
            return
        self.at[key] = wake_at
        heapq.heappush(self.heap, (wake_at, key))
        if len(self.heap) > 2 * len(self.at) + COMPACT_SLACK:
            self.heap = [(t, k) for k, t in self.at.items()]
            heapq.heapify(self.heap)

    def first(self) -> float | None:
        """When the earliest key is due (None: none is)."""
        heap, at = self.heap, self.at
        while heap and at.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)  # superseded
        return heap[0][0] if heap else None

    def due(self, now: float) -> list[str]:
        """The keys due at `now`, each once. They are forgotten until the caller,
        having evaluated them, `set`s their next time (or None)."""
        out = []
        heap, at = self.heap, self.at
        while heap and heap[0][0] <= now:
            t, key = heapq.heappop(heap)
            if at.get(key) == t:
                del at[key]
                out.append(key)
        return out


class Wakeups:
    def __init__(self) -> None:
        self._by_partition: dict[int, tuple[_Heap, _Heap]] = {}  # partition -> (entities, aggregates)

    def forget_all(self) -> None:
        self._by_partition.clear()

    def known(self, partition: int) -> bool:
        return partition in self._by_partition

    def load(self, partition: int, keys: Iterable[str]) -> None:
        """Start a partition over: every key due at once, to be evaluated and re-timed."""
        heaps = self._by_partition[partition] = (_Heap(), _Heap())
        for key in keys:
            heaps[is_aggregate(key)].set(key, float("-inf"))

    def set(self, partition: int, key: str, wake_at: float | None) -> None:
        heaps = self._by_partition.get(partition)
        if heaps is None:
            return  # not loaded yet: the rebuild will see this key
        heaps[is_aggregate(key)].set(key, wake_at)

    def due(self, partition: int, now: float, aggregates: bool) -> list[str]:
        heaps = self._by_partition.get(partition)
        return heaps[aggregates].due(now) if heaps else []

    def next_at(self, partition: int) -> float | None:
        """When the earliest key of `partition`, entity or aggregate, is due (None: none is)."""
        times = [t for t in (heap.first() for heap in self._by_partition.get(partition, ())) if t is not None]
        return min(times) if times else None
