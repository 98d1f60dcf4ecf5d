"""The end of every batch, for each agent and the clock timer: the shell finishes it, or the worker exits.

A batch whose outputs Kafka refuses (a record over the producer's or the broker's size
limit, an authorization error) cannot be finished. Faust would restart the agent alone,
and the batch's messages, never acked, would hold their partitions' commits back until
the worker restarts, with nothing said. Exiting (code 4) says it, and the restarted
worker reads the batch again. A refusal that lasts (a size limit set below
RECORD_BUDGET_BYTES) makes the worker exit again on every start: the log names the error.
"""

from __future__ import annotations

import logging
import os
import time

from ..batch import Batch
from ..core.clock import EventClock
from ..logfilter import escaping_logger
from ..shell import Shell

log = escaping_logger(__name__)


class Finish:
    """`await finish(agent, batch)`: Shell.finish, with the batch's event times moving the event clock."""

    def __init__(self, shell: Shell, event_clock: EventClock) -> None:
        self.shell = shell
        self.event_clock = event_clock

    def observe(self, batch: Batch) -> None:
        for source, ts in batch.observed:
            self.event_clock.observe(source, ts, time.time())

    async def __call__(self, agent: str, batch: Batch) -> None:
        try:
            await self.shell.finish(batch, self.observe)
        except Exception as e:
            log.critical("the %s agent could not finish a batch (%s: %s): exiting with code 4 for the supervisor "
                         "to restart this worker; the batch was not committed and is read again",
                         agent, type(e).__name__, e, exc_info=True)
            logging.shutdown()
            os._exit(4)  # a graceful stop would wait for the agent, and might commit around the batch
