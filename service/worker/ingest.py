"""The ingest agent: an input message validated against the contract, then handed to the shell.

A message that fails (not UTF-8, not JSON, unknown type, a bad field) or whose
time is refused (too far ahead of wall time, older than the retention behind
the service's clock) goes to dead-letters with its reason. A valid event goes
to each of its subjects (service/core/subjects routes): the shell applies it
where it is read when this worker owns the subject's home partition, and
sends it there on the work topic otherwise (service/worker/process.py).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable

from schemas import BadEvent, read_event

from .. import metrics
from ..batch import Batch
from ..config import Settings
from ..core.admission import check_event_time
from ..core.engine import StateTooLarge
from ..core.subjects import routes
from ..logfilter import escaping_logger
from ..shell import Shell
from .finish import Finish
from .inputs import InputProgress

log = escaping_logger(__name__)  # values from producers are escaped: one record, one line

DAY = 86400.0


class Ingest:
    def __init__(self, settings: Settings, shell: Shell, dead_letter: Callable[..., Awaitable[None]],
                 finish: Finish, inputs: InputProgress, told: Callable[[], float]) -> None:
        self.settings = settings
        self.shell = shell
        self.dead_letter = dead_letter
        self.finish = finish
        self.inputs = inputs
        self.told = told  # as far as this worker's ticks have said its event clock is (-inf before the first)
        # a metric's child for a label set, found once: prometheus_client's labels() takes ~1 us a call
        self.consumed = functools.cache(metrics.events_consumed.labels)
        self.lag = functools.cache(metrics.event_lag.labels)

    async def agent(self, stream) -> None:
        settings = self.settings
        async for events in stream.take_events(settings.batch_max, within=settings.batch_seconds):
            batch = Batch()
            # the clock an event's age is measured against: wall time, or as far as this worker's
            # ticks have said its event clock is (risk_clock_seconds; -inf before the first)
            clock = time.time() if settings.clock == "wall" else self.told()
            try:
                for event in events:
                    batch.enter(event)
                    await self.admit(event.message, batch, clock)
                await self.finish("ingest", batch)
            finally:  # read only once processed: until then the partition holds the event clock
                self.inputs.delivered_up_to(events)

    async def admit(self, message, batch: Batch, clock: float | None = None) -> None:
        """Validate an input message and its time (against wall time and `clock`, the service's),
        then hand it to the shell, which applies it where its state lives or sends it there."""
        try:
            body, ts = read_event(message.value or b"")
        except BadEvent as bad:
            await self.dead_letter(message, bad.reason, bad.detail)
            return
        refused = check_event_time(ts, time.time(), clock, max_skew=self.settings.max_clock_skew_seconds,
                                   retention=self.settings.retention_days * DAY)
        if refused is not None:
            await self.dead_letter(message, *refused)
            return
        try:
            self.consumed(message.topic, body["type"]).inc()
            self.lag(message.topic).observe(max(time.time() - ts, 0.0))
            await self.shell.on_input(routes(body), body, ts, batch)
            # the clock moves once the batch's derived events are sent (finish): ahead of any tick it allows
            batch.observed.append(((message.topic, message.partition), ts))
        except StateTooLarge as e:  # its subject keeps the state it had; Kafka would refuse the new one
            # the subject's id is in the dead letter's detail, not in the log
            log.warning("dead-lettered %s[%s]@%s: state_too_large", message.topic, message.partition, message.offset)
            await self.dead_letter(message, "state_too_large", str(e))
        except Exception as e:  # a bug must not stop the stream nor lose the event
            log.exception("ingest failed on %s[%s]@%s", message.topic, message.partition, message.offset)
            metrics.processing_errors.labels("ingest").inc()
            await self.dead_letter(message, "processing_error", f"{type(e).__name__}: {e}")
