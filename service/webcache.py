"""Response bodies built off the event loop, and reused for a while.

The worker's web server shares its event loop with the agents that process
events. A body that takes time to build (the firing list, the board's
history, /metrics) is built in a thread (`asyncio.to_thread`) from a snapshot
taken on the loop, and kept for `max_age` seconds: any number of requests in
that time, a reconnect storm included, cost one build. Concurrent requests
for a stale body wait for the same build.

A thread still shares the interpreter lock with the loop, but Python hands
the lock over every few milliseconds, so a build delays event processing by
slices, not by its whole duration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


class CachedBody:
    def __init__(self, snapshot: Callable[[], Any], build: Callable[[Any], Any], max_age: float,
                 clock: Callable[[], float] = time.monotonic):
        self.snapshot = snapshot  # on the loop: cheap, copies references only
        self.build = build  # in a thread: serialises the snapshot (returns the body, or what it is made of)
        self.max_age = max_age
        self.clock = clock
        self._body: Any = None
        self._built_at = float("-inf")
        self._building: asyncio.Future | None = None
        self.builds = 0

    async def get(self) -> Any:
        if self._body is not None and self.clock() - self._built_at < self.max_age:
            return self._body
        if self._building is None:
            self._building = asyncio.ensure_future(self._rebuild())
        building = self._building
        return await asyncio.shield(building)

    async def _rebuild(self) -> Any:
        try:
            started = self.clock()
            body = await asyncio.to_thread(self.build, self.snapshot())
            self._body, self._built_at = body, started
            self.builds += 1
            return body
        finally:
            self._building = None
