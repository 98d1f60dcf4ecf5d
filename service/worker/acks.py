"""The acknowledgements agent: each acknowledgement routed to the work partition owning its warning.

The HTTP API (service/api.py) writes acknowledgements to warning-acks; the
`firing` global table says which state key owns each firing warning, and the
ack travels to that key's home partition as a work record, where the shell
applies it (Shell.on_ack). An invalid one, or one dated too far ahead to
have been stamped by the API, is dead-lettered.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from schemas import WarningAck

from .. import metrics

ACK_SKEW_SECONDS = 300.0  # an acknowledgement dated further ahead than this was not made by the API


class Acknowledgements:
    def __init__(self, firing_table, work, home: Callable[[str], int],
                 dead_letter: Callable[..., Awaitable[None]]) -> None:
        self.firing_table = firing_table
        self.work = work
        self.home = home
        self.dead_letter = dead_letter

    async def agent(self, stream) -> None:
        """Route each acknowledgement to the worker that owns the warning's state."""
        async for event in stream.events():
            message = event.message
            try:
                ack = WarningAck.model_validate_json(message.value or b"")
            except ValueError as e:
                metrics.acks_applied.labels("invalid").inc()
                await self.dead_letter(message, "invalid_value", f"invalid acknowledgement: {str(e)[:200]}")
                continue
            if ack.acknowledged_at.timestamp() > time.time() + ACK_SKEW_SECONDS:  # the API stamps now
                metrics.acks_applied.labels("invalid").inc()
                await self.dead_letter(message, "invalid_value", f"acknowledged_at {ack.acknowledged_at.isoformat()} "
                                       f"is more than {ACK_SKEW_SECONDS:.0f} s in the future")
                continue
            entry = self.firing_table.get(ack.fingerprint)
            if not entry:
                metrics.acks_applied.labels("unknown_fingerprint").inc()
                continue
            await self.work.send(key=entry["key"], partition=self.home(entry["key"]), value={
                "kind": "ack", "fingerprint": ack.fingerprint, "rule_id": entry["warning"]["rule_id"],
                "by": ack.acknowledged_by, "at": ack.acknowledged_at.timestamp(), "ack_id": ack.ack_id})
