"""What a batch of messages changed and has not yet persisted or sent.

The worker reads its topics in batches (`Stream.take_events`) because Kafka
records, not rules, set its speed: every record costs the same Faust and
aiokafka work whatever it holds. Per batch, each changed state key is written
to the table once, with its newest state (a district hears of every ticket in
it: one changelog record per batch instead of one per ticket), and the events
derived for other keys travel as one work-topic record per target partition.

Nothing here is lost by a crash: Faust acks a batch's messages only after the
batch's body has returned, and commits only acked offsets, after flushing the
producer. So a kill -9 loses an unfinished batch's table writes and derived
events together with its offsets, and the batch is read again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

from .faust_fixes import set_current_event

# A batch record holds many events; Kafka refuses a record over the producer's
# max.request.size (Faust: 1 000 000 bytes) and the broker's message.max.bytes
# (1 MiB). A BC Hydro replay derived 1.5 MB for one partition in one batch.
RECORD_BUDGET_BYTES = 256 * 1024


def chunks(items: list, budget: int = RECORD_BUDGET_BYTES) -> Iterator[list]:
    """`items` in order, cut into lists whose JSON fits `budget` (an item larger than it goes alone)."""
    if items and len(orjson.dumps(items)) <= budget:  # nearly always: one record, sized in one call
        yield items
        return
    out: list = []
    size = 0
    for item in items:
        n = len(orjson.dumps(item)) + 1
        if out and size + n > budget:
            yield out
            out, size = [], 0
        out.append(item)
        size += n
    if out:
        yield out


class PendingStates:
    """The newest state of each key applied in memory, until a batch writes it to the table.

    Both agents (ingest and process) may apply a key before either writes it;
    each reads the newest state from here, and whichever batch ends first
    writes it, with the partition that owns it.
    """

    def __init__(self) -> None:
        self._by_key: dict[str, tuple[dict | None, int]] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._by_key

    def __len__(self) -> int:
        return len(self._by_key)

    def put(self, key: str, state: dict | None, partition: int) -> tuple[dict | None, int] | None:
        """Record `key`'s newest state (None: delete it); returns what it replaces, for `undo`."""
        before = self._by_key.get(key)
        self._by_key[key] = (state, partition)
        return before

    def undo(self, key: str, state: dict | None, before: tuple[dict | None, int] | None) -> None:
        """Take back `put(key, state)` (its outputs could not be sent), unless a newer state replaced it."""
        entry = self._by_key.get(key)
        if entry is None or entry[0] is not state:
            return
        if before is None:
            del self._by_key[key]
        else:
            self._by_key[key] = before

    def get(self, key: str, table: Mapping[str, Any]) -> dict | None:
        entry = self._by_key.get(key)
        return entry[0] if entry is not None else table.get(key)

    def entry(self, key: str) -> tuple[dict | None, int] | None:
        """(newest state, partition) of `key` if one is pending: what a batch's end writes."""
        return self._by_key.get(key)

    def written(self, key: str, entry: tuple[dict | None, int]) -> None:
        """`entry` of `key` is in the table now: no longer pending, unless a newer state replaced it
        while it was being written (that one's batch writes it)."""
        if self._by_key.get(key) is entry:
            del self._by_key[key]

    def take(self, keys: Iterable[str]) -> list[tuple[str, dict | None, int]]:
        """Remove and return (key, newest state, partition) of those of `keys` not yet written."""
        out = []
        for key in keys:
            entry = self._by_key.pop(key, None)
            if entry is not None:
                out.append((key, *entry))
        return out

    def newest(self, table: Mapping[str, Any]) -> Iterator[tuple[str, dict | None]]:
        """Every key's newest state: the table's, unless one is pending (a pending None: deleted)."""
        for key, value in table.items():
            if key not in self._by_key:
                yield key, value
        for key, (value, _) in self._by_key.items():
            yield key, value


class Batch:
    """One agent's batch: the keys it applied, the events it derived, the clock readings it holds back."""

    def __init__(self) -> None:
        self.touched: dict[str, None] = {}  # keys applied, in order (a dict: ordered, no repeats)
        self.outbox: dict[int, list[list]] = defaultdict(list)  # work partition -> [[key, ts, event], ...]
        self.event_for: dict[int, Any] = {}  # partition -> the batch's last message event on it
        self.observed: list[tuple[tuple[str, int], float]] = []  # (input partition, event time)
        self.notes: dict[str, list[dict]] = {}  # recipient group -> warnings for the notify agent, in order
        self.local: dict[int, list[list]] = {}  # owned work partition -> [[key, ts, event], ...] applied in process
        self.source: Any = None  # the message being applied (a failed derived event is dead-lettered with it)

    def enter(self, event) -> None:
        """The batch now applies `event`: its table writes go to the event's partition."""
        set_current_event(event)
        self.event_for[event.message.partition] = event
        self.source = event.message

    def derive(self, partition: int, key: str, ts: float, event: dict) -> None:
        self.outbox[partition].append([key, ts, event])

    def take_outbox(self) -> list[tuple[int, list[list]]]:
        out = [(p, items) for p, items in self.outbox.items() if items]
        self.outbox.clear()
        return out
