"""The process agent: what arrives on a work partition, applied by the shell.

The work topic (`<app>-work`) carries, to a state key's home partition:
events derived or forwarded by another partition (`events`), the clock's tick
records (`tick`, service/worker/clock.py) and acknowledgements routed by the
acknowledgements agent (`ack`). `mark` and single-event records were written
by earlier versions and are still applied.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .. import metrics
from ..batch import Batch
from ..config import Settings
from ..core.engine import StateTooLarge
from ..logfilter import escaping_logger
from ..shell import Shell
from .finish import Finish

log = escaping_logger(__name__)


class Process:
    def __init__(self, settings: Settings, shell: Shell, dead_letter: Callable[..., Awaitable[None]],
                 finish: Finish, heard: Callable[[int, dict], None]) -> None:
        self.settings = settings
        self.shell = shell
        self.dead_letter = dead_letter
        self.finish = finish
        self.heard = heard  # a tick record came back through a partition (the clock timer's `heard`)

    async def agent(self, stream) -> None:
        async for events in stream.take_events(self.settings.batch_max, within=self.settings.batch_seconds):
            batch = Batch()
            for event in events:
                batch.enter(event)
                await self.on_record(event, batch)
            await self.finish("process", batch)

    async def on_record(self, event, batch: Batch) -> None:
        message, value = event.message, event.value
        partition = message.partition
        shell = self.shell
        try:
            kind = value.get("kind")
            if kind == "events":  # derived or forwarded events, for keys whose home is this partition
                await shell.on_events(message, value["items"], batch)
            elif kind == "tick":
                await shell.on_tick(partition, value, batch)
                self.heard(partition, value)
            elif kind == "ack":
                await shell.on_ack(event.key, partition, value, batch)
            elif kind == "mark":  # written by versions whose partitions sent marks to each other
                await shell.on_marks(partition, {value["src"]: value["now"]}, batch)
            else:  # one event (written by versions before batching)
                await shell.on_event(event.key, partition, value["event"], value["ts"], batch)
        except StateTooLarge as e:  # one event of a record written before batching
            log.warning("dead-lettered work[%s]@%s: state_too_large", partition, message.offset)
            await self.dead_letter(message, "state_too_large", str(e))
        except Exception as e:
            log.exception("processing failed on work[%s]@%s", partition, message.offset)
            metrics.processing_errors.labels("process").inc()
            await self.dead_letter(message, "processing_error", f"{type(e).__name__}: {e}")
