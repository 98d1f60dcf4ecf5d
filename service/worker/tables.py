"""Where a state key lives, and Faust's tables as the shell's `Store` and `StormDistricts`.

Each state key ("ticket:T1") has a home partition: the one a contract
producer puts entity T1 in. Input partition p, work partition p and table
partition p are assigned together (Faust co-partitions topics of equal
partition count), so an event read where its subject lives is applied there.
A table write needs a current message of the partition it goes to (RocksDB
picks its database by it): `write_at` provides one whoever writes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import SimpleNamespace

import faust
from kafka.partitioner import murmur2

from ..batch import Batch
from ..faust_fixes import set_current_event, write_direct

# Faust opens one RocksDB per table partition with a 64 MiB x 3 write buffer and a
# 2 GiB block cache each: memory grows with partitions, not with data. Our values
# are small (~0.5-7 KiB) and read once per event, so small buffers and caches do.
ROCKSDB_OPTIONS = {"write_buffer_size": 4 << 20, "max_write_buffer_number": 2,
                   "target_file_size_base": 16 << 20, "block_cache_size": 16 << 20}


def store_options(store: str) -> dict:
    return {"options": ROCKSDB_OPTIONS} if store.startswith("rocksdb") else {}


def home_partitions(partitions: int) -> Callable[[str], int]:
    """key -> the work partition that owns it: where a contract producer puts its entity.

    "ticket:T1" lives where a producer keying by "T1" with the Java client's
    default partitioner (murmur2, also kafka-python's and aiokafka's) puts
    ticket T1's events, so those are applied where they are read. Cached:
    kafka-python's murmur2 is pure Python (1.5 us), asked for every routed
    key, and a district's key comes back with every event in it.
    """

    @functools.lru_cache(maxsize=1 << 16)
    def home(key: str) -> int:
        return (murmur2(key.split(":", 1)[1].encode()) & 0x7FFFFFFF) % partitions

    return home


class TableStore:
    """The state table as the shell's store: a key is read from and written to the partition that owns it."""

    def __init__(self, table, home: Callable[[str], int]) -> None:
        self.table = table
        self.home = home
        self.items = table.items

    def get(self, key: str) -> dict | None:
        # RocksDB reads only the database of the current message's partition: in process, a
        # key is applied from a message of another partition (a district from its outage's)
        previous, event = faust.current_event(), _PartitionEvent(self.home(key))
        set_current_event(event)
        try:
            return self.table.get(key)
        finally:
            if previous is not None:  # the message being applied stays the current one
                set_current_event(previous)

    async def write(self, key: str, value: dict | None, partition: int, batch: Batch) -> None:
        await write_at(self.table, key, value, partition, batch)


class TableStorm:
    """The districts in storm mode as a global table, which every worker reads (the shell's `storm`)."""

    def __init__(self, table) -> None:
        self.table = table

    def __call__(self) -> set[str]:
        return {d for d, on in self.table.items() if on}

    async def set(self, district: str, on: bool, partition: int, batch: Batch) -> None:
        await write_at(self.table, district, on, partition, batch)


async def write_at(table, key, value, partition: int, batch: Batch) -> None:
    """Write a table key whose changelog record goes to `partition`, whatever called it.

    A message of `partition` is made current for the write (RocksDB picks its database
    by it; `table[key] = value` needs one and raises without): a key applied in process
    from another partition's message has the wrong one, and the clock timer's batch none.
    """
    event = batch.event_for.get(partition) or _PartitionEvent(partition)
    set_current_event(event)
    await write_direct(table, key, value, partition)


class _PartitionEvent:
    """Stands for a message of `partition` where a table write needs one and none is at hand."""

    def __init__(self, partition: int) -> None:
        self.message = SimpleNamespace(partition=partition)
