"""What changes when Kafka assigns this worker other partitions.

The shell owns the work partitions assigned here (`owned`, its `owns`), and
forgets its wakeups, rebuilt from the table on the next tick; the clock
timer ticks the new partitions by records until its own tick comes back
through each; each new input partition holds the event clock until it
delivers or idles; the firing-warnings gauge is recounted.
"""

from __future__ import annotations

from .. import metrics
from ..shell import Shell
from .clock import ClockTimer
from .inputs import InputProgress


class Rebalance:
    def __init__(self, app, work, input_topics, owned: set[int], shell: Shell, clock: ClockTimer,
                 inputs: InputProgress, firing: metrics.FiringWarnings) -> None:
        self.app = app  # its consumer generation
        self.work = work
        self.input_topics = input_topics
        self.owned = owned
        self.shell = shell
        self.clock = clock
        self.inputs = inputs
        self.firing = firing

    def _work_partitions(self, tps) -> set[int]:
        topic = self.work.get_topic_name()
        return {tp.partition for tp in tps if tp.topic == topic}

    async def on_revoked(self, app, revoked, **kwargs) -> None:
        partitions = self._work_partitions(revoked)
        self.owned.difference_update(partitions)
        self.clock.revoked(partitions)

    async def on_assigned(self, app, assigned, **kwargs) -> None:
        self.owned.clear()
        self.owned.update(self._work_partitions(assigned))
        self.shell.forget_partitions()  # ownership changed: wakeups rebuilt from the table on the next tick
        self.firing.clear()
        sources = [(tp.topic, tp.partition) for tp in assigned if tp.topic in self.input_topics]
        # Only now may ticks speak for the new partitions: the generation id changes before this
        # signal, and a tick in between would claim them with the old partitions' clock.
        self.clock.assigned(self.app.consumer_generation_id, len(sources))
        self.inputs.assigned(sources)
