r"""The shell: what happens to each kind of message on a work partition, with no Kafka in sight.

`Shell` is built from parts passed in (as Prometheus' rule manager is from
its options): the engine that decides, a `Publisher` that sends warnings,
work records and dead letters, a `Store` of persisted states, the partition
clocks, the wakeup heaps, the key -> home partition function, `owns`,
which says whether this worker owns a work partition now, and `storm`, the
districts in storm mode that the engine reads when it renders a warning. Each message kind
has one handler: `on_input` (a validated input event), `on_events` (a work
record of events), `on_tick` (with the marks it carries), `on_ack`; `finish`
ends a batch; `NotifyShell` does the same for the notify agent. The Faust app
(service/app.py and service/worker/) decodes Kafka messages and calls these; the simulator
(service/sim/engine_run.py) and the rule tests' World (tests/core/world.py)
drive the very same shell on the in-memory parts at the end of this module,
and tests/service/test_shell.py checks it step by step.

States in a batch
-----------------
A state applied here stays decoded in `PendingStates` until a batch ends and
writes it: however many events a hot subject (a district) receives in a
batch, it is read once, kept as a dict, and encoded and written once per
batch, with the partition that owns it.

Derived events applied in process
---------------------------------
An event derived for a key whose home work partition this worker owns is
applied at once, in process: no JSON, no Kafka hop. One for a partition owned
elsewhere goes as before, one work record per target partition per batch.
Why this keeps every guarantee of the work topic:

- Clock marks. An aggregate key's clock is the minimum of every partition's
  "done up to t" mark; a partition says it only after it handed the events it
  derived up to t to the producer. An event applied in process is applied
  before its source even finishes its batch, so before any mark can speak
  for it: it is never behind a mark, as a work record could be.
- Ticks. The clock a worker ticks with moves only after its batches have
  finished (`finish` then `observe`), so every event it applied in process
  below that clock is applied before any tick carries it.
- Rebalance mid-batch. Ownership is asked when an event is derived. If the
  partition is taken away before the batch ends, `finish` does not write the
  states it applied there (the new owner restores the changelog and would
  lose them); it sends the events it applied there over the work topic
  instead, where the new owner applies them (duplicates of what was already
  published carry the same ids). Faust also waits for a running batch
  before it revokes, so this is the rare path.
- Crash. Nothing in process is acknowledged before its batch ends: a kill
  loses the in-process states together with the offsets of the messages
  that caused them, and the batch is read again, as with a work record.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

from . import metrics
from .batch import Batch, PendingStates
from .core.clock import PartitionClocks
from .core.engine import Engine, Result, StateTooLarge, firing_of, set_state_partition, state_partition
from .core.notify import STATE_BUDGET_BYTES, Notifier
from .core.timefmt import to_epoch, to_rfc3339
from .core.wakeups import Wakeups

log = logging.getLogger(__name__)

RETRY_SECONDS = 60.0  # a key whose tick failed is tried again this much later (clock time)
LATE_LOG_SECONDS = 10.0  # at most one log line about late observations this often
NEVER = float("-inf")
STORM_RULE = "reliability.storm_mode"  # its warnings say which districts are in storm mode
T = TypeVar("T")


class Publisher(Protocol):
    """Where the shell's outputs go (Kafka in the app, lists in tests)."""

    async def warnings(self, key: str, partition: int, warnings: list[dict], batch: Batch) -> None: ...

    async def events(self, partition: int, items: list[list]) -> None:
        """One work record of derived or forwarded events [[key, ts, event], ...] for `partition`."""

    async def notes(self, batch: Batch) -> None:
        """The batch's warnings for the notify agent (batch.notes), then clears them."""

    async def dead_letter(self, source: Any, reason: str, detail: str, key: bytes | None = None,
                          value: bytes | None = None) -> None: ...

    async def ack_recorded(self, fingerprint: str, ack: dict, partition: int) -> None: ...


class Store(Protocol):
    """Persisted states: read one, list all, write one to a partition."""

    def get(self, key: str) -> dict | None: ...

    def items(self) -> Iterable[tuple[str, dict | None]]: ...

    async def write(self, key: str, value: dict | None, partition: int, batch: Batch) -> None: ...


class StormDistricts(Protocol):
    """The districts in storm mode, as every worker sees them (a global table in the app).

    Calling it gives the districts in storm mode now (the engine's `storm_districts`);
    `set` records what a storm-mode warning of `partition` said, from a message's batch
    or from the clock's, which has no message."""

    def __call__(self) -> set[str]: ...

    async def set(self, district: str, on: bool, partition: int, batch: Batch) -> None: ...


class Shell:
    def __init__(self, engine: Engine, publisher: Publisher, store: Store, clocks: PartitionClocks,
                 partitions: int, home: Callable[[str], int], owns: Callable[[int], bool] = lambda p: False,
                 wakeups: Wakeups | None = None, firing: metrics.FiringWarnings | None = None,
                 district_labels: metrics.DistrictLabels | None = None, districts: dict | None = None,
                 wall: Callable[[], float] | None = time.time, describe_key: Callable[[str], str] = str,
                 storm: StormDistricts | None = None):
        self.engine = engine
        self.storm = storm  # None: nothing keeps storm mode (a test's shell whose engine is told directly)
        self.publisher = publisher
        self.store = store
        self.clocks = clocks
        self.partitions = partitions
        self.home = home
        self.owns = owns
        self.wakeups = wakeups if wakeups is not None else Wakeups()
        self.firing = firing
        self.district_labels = district_labels
        self.districts = districts or {}
        self.wall = wall
        self.describe_key = describe_key  # pseudonymised in logs
        self.pending = PendingStates()
        self.done: dict[int, float] = {}  # work partition -> the clock up to which it sent what it derived
        self.late = 0  # observations that came after their window was decided
        self._late_said = NEVER

    def _wall(self) -> float | None:
        return None if self.wall is None else self.wall()

    # --- states --------------------------------------------------------------------------

    def current(self, key: str) -> dict | None:
        return self.pending.get(key, self.store)

    async def apply(self, key: str, partition: int, result: Result, batch: Batch) -> None:
        """Publish the subject's warnings and deliver what it derived; the batch persists the new state."""
        if result.state is not None:
            set_state_partition(result.state, partition)  # the work partition that owns it, for rebuild()
        before = self.pending.put(key, result.state, partition)  # what another event or tick of this key sees
        self.wakeups.set(partition, key, result.wake_at)
        if self.firing is not None:
            for w in result.warnings:
                self.firing.set(key, w["rule_id"], w["severity"] if w["status"] == "firing" else None,
                                w["scope"].get("district_id"))
        if self.district_labels is not None:
            for name, district, value in result.stats:
                served = self.districts[district].customers_served if district in self.districts else None
                self.district_labels.statistic(name, district, value, served)
            if result.state is None and key.startswith("district:"):
                self.district_labels.forget(key.split(":", 1)[1])
        try:
            await self.publisher.warnings(key, partition, result.warnings, batch)
            if self.storm is not None:
                for w in result.warnings:
                    if w["rule_id"] == STORM_RULE and "district_id" in w["scope"]:
                        await self.storm.set(w["scope"]["district_id"], w["status"] == "firing", partition, batch)
        except BaseException:  # not applied: the table keeps the state before it
            self.pending.undo(key, result.state, before)
            raise
        batch.touched[key] = None
        for target, derived in result.derived:
            await self.derive(target, derived["ts"], derived, batch)

    # --- events --------------------------------------------------------------------------

    async def derive(self, key: str, ts: float, event: dict, batch: Batch, source: Any = None) -> None:
        """Deliver `event` to `key`: applied here when this worker owns its home partition, else sent there."""
        try:
            await self._deliver(key, ts, event, batch)
        except StateTooLarge as e:
            log.warning("dead-lettered an event for work[%s]: state_too_large", self.home(key))
            await self.publisher.dead_letter(source or batch.source, "state_too_large", str(e),
                                             key=key.encode(), value=_json(event))
        except Exception as e:
            log.exception("processing failed for a key of work[%s]", self.home(key))
            metrics.processing_errors.labels("process").inc()
            await self.publisher.dead_letter(source or batch.source, "processing_error",
                                             f"{type(e).__name__}: {e}", key=key.encode(), value=_json(event))

    async def _deliver(self, key: str, ts: float, event: dict, batch: Batch) -> None:
        p = self.home(key)
        if not self.owns(p):
            batch.derive(p, key, ts, event)
            return
        batch.local.setdefault(p, []).append([key, ts, event])
        await self.on_event(key, p, event, ts, batch)

    async def on_event(self, key: str, partition: int, event: dict, ts: float, batch: Batch) -> None:
        now = self.clocks.now_for(key, partition)
        result = self.engine.on_event(key, self.current(key), event, ts, now,
                                      wall=None if self.wall is None else self.wall())
        if result.duplicate:
            metrics.duplicate_events.inc()
            return
        if result.late:
            self.late += result.late
            metrics.late_events.labels(key.split(":", 1)[0]).inc(result.late)
            self.say_late(key, partition, event, ts, now)
        await self.apply(key, partition, result, batch)

    async def on_input(self, keys: Iterable[str], event: dict, ts: float, batch: Batch) -> None:
        """A validated input event: to each of its subjects (service/core/subjects routes) it can change
        anything at (Engine.reaches: not to a staff member while no staff rule is on).

        A subject that cannot take it (StateTooLarge, a bug) raises: the caller dead-letters
        the input message itself, as it came. Events derived from it fail one by one."""
        for key in keys:
            if self.engine.reaches(key, event["type"]):
                await self._deliver(key, ts, event, batch)

    async def on_events(self, source: Any, items: list[list], batch: Batch) -> None:
        """A work record: events derived or forwarded by another partition, each dead-lettered alone if it fails."""
        for key, ts, body in items:
            await self.derive(key, ts, body, batch, source=source)

    def say_late(self, key: str, partition: int, event: dict, ts: float, now: float) -> None:
        """One log line every LATE_LOG_SECONDS at most: which event came after its window was decided."""
        wall = time.monotonic()
        if wall - self._late_said < LATE_LOG_SECONDS:
            return
        self._late_said = wall
        log.warning("event %s (%s at %s) reached %s after its window was decided (work partition %d, clock %s): "
                    "counted in risk_late_events_total, not in the window; further ones for %.0f s are only counted",
                    event.get("event_id"), event.get("type"), to_rfc3339(ts), self.describe_key(key), partition,
                    to_rfc3339(now) if math.isfinite(now) else now, LATE_LOG_SECONDS)

    # --- clock ---------------------------------------------------------------------------

    async def on_tick(self, partition: int, tick: dict, batch: Batch) -> None:
        """A worker's tick for `partition` (PartitionClocks.tick), and the marks it carries.

        Entity keys due by the partition's clock are evaluated, what they derived
        is sent, and only then is the partition "done up to" that clock: the
        mark this worker's next ticks carry for it. The marks in the tick move
        the partition's aggregate clock.
        """
        now = self.clocks.tick(partition, tick["now"], tick.get("worker", ""), tick.get("gen", 0),
                               tick.get("owned", 0), tick.get("total", 0), tick.get("idle", False),
                               tick.get("peak"), tick.get("wall", 0.0), tick.get("seq", 0), local_wall=self._wall())
        if now > NEVER:
            await self.evaluate_due(partition, now, aggregates=False, batch=batch)
            await self.send_derived(batch)
            if self.owns(partition):
                self.done[partition] = max(now, self.done.get(partition, NEVER))
        marks = tick.get("marks")
        if marks:
            await self.on_marks(partition, {int(p): t for p, t in marks.items()}, batch)

    async def on_marks(self, partition: int, marks: dict[int, float], batch: Batch) -> float:
        """Sources' "done up to t" marks reach `partition`: aggregate keys due by its aggregate clock."""
        now = NEVER
        for source, t in marks.items():
            now = self.clocks.mark(partition, source, t, local_wall=self._wall())
        await self.evaluate_due(partition, now, aggregates=True, batch=batch)
        if now > NEVER:
            metrics.aggregate_clock.labels(str(partition)).set(now)
        return now

    def own_marks(self) -> dict[int, float]:
        """The marks this worker speaks for: partitions it owns and has ticked."""
        return {p: t for p, t in self.done.items() if self.owns(p)}

    def forget_partitions(self) -> None:
        """After a rebalance: wakeups are rebuilt from the table, marks speak only for what is owned."""
        self.wakeups.forget_all()
        self.done = self.own_marks()

    async def run_clock(self, partition: int, now: float, batch: Batch) -> None:
        """Everything due on `partition` at `now`, entity keys then aggregate keys, with one clock for both
        (a simulation's or a test's, where derived events are never in flight)."""
        await self.evaluate_due(partition, now, aggregates=False, batch=batch)
        await self.evaluate_due(partition, now, aggregates=True, batch=batch)

    async def evaluate_due(self, partition: int, now: float, aggregates: bool, batch: Batch) -> None:
        if not self.wakeups.known(partition):
            self.rebuild()
        for key in self.wakeups.due(partition, now, aggregates):
            subject = self.current(key)
            if subject is None:
                continue
            try:
                result = self.engine.on_tick(subject, now)
                if result.unchanged:  # re-timing the key is all it needs, not a table write
                    self.wakeups.set(partition, key, result.wake_at)
                    continue
                await self.apply(key, partition, result, batch)
            except Exception:  # one key's bug must not stall every other key's deadlines
                log.exception("tick failed for a key of work[%s]", partition)
                metrics.processing_errors.labels("tick").inc()
                self.wakeups.set(partition, key, now + RETRY_SECONDS)

    def rebuild(self) -> None:
        """Every partition's wakeups and firing gauges from one pass over the newest states."""
        keys: dict[int, list[str]] = {p: [] for p in range(self.partitions)}
        for k, v in self.pending.newest(self.store):  # a key applied but not yet written is due too
            if v and state_partition(v) in keys:
                keys[state_partition(v)].append(k)
                if self.firing is not None:
                    for rule_id, severity, district in firing_of(v):
                        self.firing.set(k, rule_id, severity, district)
        for p, ks in keys.items():
            self.wakeups.load(p, ks)

    # --- acknowledgements ----------------------------------------------------------------

    async def on_ack(self, key: str, partition: int, ack: dict, batch: Batch) -> bool:
        subject = self.current(key)
        result = self.engine.on_ack(subject, ack["rule_id"], ack["by"], ack["at"],
                                    self.clocks.now_for(key, partition)) if subject else None
        if result is None or result.duplicate:
            metrics.acks_applied.labels("not_firing").inc()
            return False
        metrics.acks_applied.labels("applied").inc()
        await self.publisher.ack_recorded(ack["fingerprint"], {
            "by": ack["by"], "at": to_rfc3339(ack["at"]), "ack_id": ack["ack_id"]}, partition)
        await self.apply(key, partition, result, batch)
        return True

    # --- end of a batch ------------------------------------------------------------------

    async def send_derived(self, batch: Batch) -> None:
        for p, items in batch.take_outbox():
            await self.publisher.events(p, items)

    async def finish(self, batch: Batch, observe: Callable[[Batch], None] | None = None) -> None:
        """End of a batch: send what it derived, let its events move the clock, write its states.

        The table writes come last: queued after what was sent, so a kill -9 can lose the
        state with its outputs or after them, never the outputs alone (the batch is then read
        again and its warnings repeated with the same ids). A write may wait for the producer,
        and other agents' tasks run meanwhile: a key stays pending until its own write is done,
        so they read the newest state, never the one the table held before.
        """
        for p in [p for p in batch.local if not self.owns(p)]:  # taken away mid-batch: its owner applies them
            batch.outbox[p].extend(batch.local.pop(p))
            for key in [k for k in batch.touched if self.home(k) == p]:
                del batch.touched[key]
                self.pending.take([key])
        await self.send_derived(batch)
        await self.publisher.notes(batch)
        if observe is not None:
            observe(batch)
        for key in list(batch.touched):
            entry = self.pending.entry(key)
            if entry is None:  # another batch that applied it too has written it
                continue
            await self.store.write(key, *entry, batch)
            self.pending.written(key, entry)


class NotifyShell:
    """The notify agent's steps: warnings reach their recipient group's state, ticks release what it holds.

    `send(group, partition, outcome)` sends an outcome's notifications and returns the
    group's new table entry; `groups` reads the table. A batch collects the entries it
    changed in `changed` (group -> (entry, a message of its partition)), and `to_write`
    hands them back, each fitted to its size budget, for the adapter to write last.
    """

    def __init__(self, notifier: Notifier, send: Callable[[str, int, Any], Awaitable[dict]], groups: Any):
        self.notifier = notifier
        self.send = send
        self.groups = groups
        self.ticked: dict[int, float] = {}  # notify partition -> the highest clock a tick brought

    async def on_warnings(self, group: str, partition: int, items: list[dict], changed: dict, source: Any) -> None:
        # each at the warning's own time: a replay rate-limits as live operation did
        arrivals = [(w, to_epoch(w["changed_at"])) for w in items]
        entry = changed[group][0] if group in changed else self.groups.get(group)
        outcome = self.notifier.on_warnings(entry["s"] if entry else None, arrivals, group)
        changed[group] = (await self.send(group, partition, outcome), source)

    async def on_tick(self, partition: int, now: float, changed: dict, source: Any) -> None:
        now = self.ticked[partition] = max(now, self.ticked.get(partition, NEVER))
        entries = dict(self.groups.items())
        entries.update((g, e) for g, (e, _) in changed.items())
        for group, entry in entries.items():
            if entry and entry["p"] == partition:
                due = self.notifier.next_tick_at(entry["s"])
                if due is not None and due <= now:
                    outcome = self.notifier.on_tick(entry["s"], group, now)
                    changed[group] = (await self.send(group, partition, outcome), source)

    def to_write(self, changed: dict) -> Iterator[tuple[str, dict, Any]]:
        """(group, entry, source) of each group a batch changed, its state fitted to Kafka's record size."""
        for group, (entry, source) in changed.items():
            fitted, forgotten = self.notifier.fit(entry["s"])
            if forgotten:  # or Kafka would refuse the record, on every restart too
                log.warning("recipient group %s: state over %d bytes, forgot the %d fingerprints quiet longest "
                            "(their resolve will not be notified)", group, STATE_BUDGET_BYTES, forgotten)
                entry = {**entry, "s": fitted}
            yield group, entry, source


# --- in-memory parts: the simulator and the tests drive the same shell ---------------------


class FixedClock:
    """One "now" for every key, set by whoever drives the shell (a simulation, a test)."""

    def __init__(self) -> None:
        self.now = NEVER

    def now_for(self, key: str, partition: int) -> float:
        return self.now


class MemoryStore(dict):
    """States in a dict."""

    async def write(self, key: str, value: dict | None, partition: int, batch: Batch) -> None:
        if value is None:
            self.pop(key, None)
        else:
            self[key] = value


class MemoryStorm(dict):
    """Storm mode by district in a dict (True: in storm mode)."""

    def __call__(self) -> set[str]:
        return {d for d, on in self.items() if on}

    async def set(self, district: str, on: bool, partition: int, batch: Batch) -> None:
        self[district] = on


class MemoryPublisher:
    """Warnings in a list (`sent`); derived events never leave (in memory every partition is owned)."""

    def __init__(self, on_warning: Callable[[dict], None] | None = None) -> None:
        self.sent: list[dict] = []
        self.on_warning = on_warning

    async def warnings(self, key: str, partition: int, warnings: list[dict], batch: Batch) -> None:
        if self.on_warning is not None:
            for w in warnings:
                self.on_warning(w)
        self.sent += warnings

    async def events(self, partition: int, items: list[list]) -> None:
        raise AssertionError("in memory every partition is owned: nothing is sent")

    async def notes(self, batch: Batch) -> None:
        batch.notes.clear()

    async def dead_letter(self, source, reason: str, detail: str, key=None, value=None) -> None:
        raise AssertionError(f"{reason}: {detail}")  # a simulation or a test must not hide one

    async def ack_recorded(self, fingerprint: str, ack: dict, partition: int) -> None:
        pass


def memory_shell(engine: Engine, on_warning: Callable[[dict], None] | None = None,
                 storm: StormDistricts | None = None) -> Shell:
    """A shell on one in-memory partition, with `FixedClock` (shell.clocks.now) as its clock.

    `storm`, if given, should be what the engine's `storm_districts` reads (a `MemoryStorm`)."""
    shell = Shell(engine, MemoryPublisher(on_warning), MemoryStore(), FixedClock(), 1, home=lambda key: 0,
                  owns=lambda p: True, wall=None, storm=storm)
    shell.wakeups.load(0, [])  # nothing yet: no rebuild from the store on the first tick
    return shell


def drive(step: Awaitable[T]) -> T:
    """Run one step of a shell whose parts never wait (in memory), without an event loop."""
    try:
        step.send(None)  # type: ignore[attr-defined]
    except StopIteration as done:
        return done.value
    raise RuntimeError("an in-memory part of the shell waited")


def _json(event: dict) -> bytes:
    import json

    return json.dumps(event).encode()
