"""The notify agent: one short text per notifiable warning change, per recipient group (the SMS feed).

Warnings are re-keyed by recipient group onto `<app>-notify`, so one
partition owns each group's rate limit and memory of what was sent (the
`notify-groups` table). The agent hands each record to `NotifyShell`
(service/shell.py) and writes each group it changed once, last. Ticks from
the clock timer release what a group holds back (`tick`).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from .. import metrics, outputs
from ..config import Settings
from ..core.notify import Notifier
from ..faust_fixes import send_to, set_current_event
from ..logfilter import escaping_logger
from ..shell import NotifyShell

log = escaping_logger(__name__)


class Notify:
    def __init__(self, settings: Settings, notifier: Notifier, to_notify, notifications_out, groups,
                 assignment: Callable[[], set]) -> None:
        self.settings = settings
        self.notifier = notifier
        self.to_notify = to_notify
        self.notifications_out = notifications_out
        self.groups = groups
        self.assignment = assignment  # the topic partitions assigned to this worker now
        self.shell = NotifyShell(notifier, self.send_notifications, groups)
        self.told: dict[int, float] = {}  # notify partition -> the clock its last tick record carried

    async def send_notifications(self, group: str, partition: int, outcome) -> dict:
        for note in outcome.notifications:
            if not outputs.sendable("notification", note):  # logged and counted
                continue
            await self.notifications_out.send(key=group.encode(),
                                              value=json.dumps(note, ensure_ascii=False).encode())
            metrics.notifications.labels("sent").inc()
        for reason, n in outcome.skipped.items():
            metrics.notifications.labels(f"held_{reason}").inc(n)
        return {"p": partition, "s": outcome.state}

    async def agent(self, stream) -> None:
        """SMS feed: one short text per notifiable state change, per recipient group."""
        notifications = self.shell
        async for events in stream.take_events(self.settings.batch_max, within=self.settings.batch_seconds):
            changed: dict[str, tuple[dict, object]] = {}  # group -> (newest entry, a message of its partition)
            for event in events:
                partition, value = event.message.partition, event.value
                set_current_event(event)  # a group is read from its partition's database (RocksDB)
                try:
                    if value.get("kind") == "tick":
                        await notifications.on_tick(partition, value["now"], changed, event)
                    else:
                        items = value["items"] if value.get("kind") == "warnings" else [value["warning"]]  # older
                        await notifications.on_warnings(event.key, partition, items, changed, event)
                except Exception:
                    log.exception("notification failed on notify[%s]@%s", partition, event.message.offset)
                    metrics.processing_errors.labels("notify").inc()
            # Last, as in Shell.finish: queued after the texts, so a kill -9 can repeat a text (same
            # notification_id) but not record it as sent when it was not. One write per group.
            for group, entry, event in notifications.to_write(changed):
                set_current_event(event)
                self.groups[group] = entry

    async def tick(self, now: float) -> None:
        """A notify tick where a recipient group may have something timed: on a notify partition owned
        here only when one of its groups is due, on one owned elsewhere when the clock moved."""
        topic = self.to_notify.get_topic_name()
        owned = {tp.partition for tp in self.assignment() if tp.topic == topic}
        due: set[int] = set()
        if owned:
            for _, entry in self.groups.items():
                if entry and entry.get("p") in owned and entry["p"] not in due:
                    at = self.notifier.next_tick_at(entry["s"])
                    if at is not None and at <= now:
                        due.add(entry["p"])
        for p in range(self.settings.partitions):
            if p in due or (p not in owned and self.told.get(p) != now):
                self.told[p] = now
                await send_to(self.to_notify, value={"kind": "tick", "now": now}, partition=p)
