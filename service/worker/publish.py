"""What the shell sends, sent to Kafka: the shell's `Publisher` (service/shell.py).

A warning goes to risk-warnings as JSON with CloudEvents headers, checked
against the contract first (service/outputs.py); the `firing` global table
keeps the warnings firing now, which the HTTP API lists and acknowledgements
are routed by; and the warning is noted for its recipient group's notify
record. Events derived for keys owned elsewhere go as one work record per
target partition, notes as one notify record per recipient group. A message
that cannot be applied goes to dead-letters with its reason.
"""

from __future__ import annotations

import functools
import json
import time
from datetime import UTC, datetime

import orjson

from schemas import DeadLetter

from .. import metrics, outputs
from ..batch import Batch, chunks
from ..core.notify import Notifier
from ..core.timefmt import to_rfc3339
from ..faust_fixes import send_to, write_direct
from ..logfilter import escaping_logger
from ..privacy import Pseudonyms
from .tables import write_at

log = escaping_logger(__name__)  # values from producers are escaped: one record, one line


def json_bytes(message: dict) -> bytes:
    """A warning as JSON, UTF-8 unescaped: orjson's bytes (the standard library's encoder is the
    slower by far on a warning's nested dicts), or the standard library's for a value orjson refuses."""
    try:
        return orjson.dumps(message)
    except TypeError:  # e.g. an integer beyond 64 bits
        return json.dumps(message, ensure_ascii=False).encode()


def cloudevent_headers(warning: dict, source: str) -> list[tuple[str, bytes]]:
    """CloudEvents 1.0 binary content mode, as the contract asks."""
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", warning["warning_id"].encode()),
        ("ce_source", source.encode()),
        ("ce_type", f"risk.warning.{warning['transition']}".encode()),
        ("ce_time", warning["changed_at"].encode()),
        ("ce_subject", warning["fingerprint"].encode()),
        ("content-type", b"application/json"),
    ]


class KafkaPublisher:
    """The shell's outputs as Kafka records and table writes."""

    def __init__(self, source_name: str, warnings_topic, dead_letters, work, to_notify, firing_table,
                 notifier: Notifier, pseudonyms: Pseudonyms) -> None:
        self.source_name = source_name  # CloudEvents source, and the dead letters' service
        self.warnings_topic = warnings_topic
        self.dead_letters = dead_letters
        self.work = work
        self.to_notify = to_notify
        self.firing_table = firing_table
        self.notifier = notifier
        self.pseudonyms = pseudonyms
        self.published = functools.cache(metrics.warnings_published.labels)  # one child per label set, found once

    async def warnings(self, key: str, partition: int, warnings: list[dict], batch: Batch) -> None:
        for w in warnings:
            w["emitted_at"] = to_rfc3339(time.time())
            if not outputs.sendable("warning", w):  # logged and counted; consumers would fail on it
                continue
            await send_to(
                self.warnings_topic, key=w["fingerprint"].encode(),
                value=json_bytes(w),
                headers=cloudevent_headers(w, self.source_name),
            )
            self.published(w["rule_id"], w["severity"], w["transition"]).inc()
            if w["status"] == "firing":
                # only an acknowledged warning keeps what the table says of its acknowledgement
                ack = (self.firing_table.get(w["fingerprint"]) or {}).get("ack") if w["acknowledged"] else None
                await write_at(self.firing_table, w["fingerprint"], {"key": key, "warning": w, "ack": ack},
                               partition, batch)
            else:
                await write_at(self.firing_table, w["fingerprint"], None, partition, batch)
            batch.notes.setdefault(self.notifier.route(w), []).append(w)
            log.info("warning %s %s %s %s", w["transition"], w["severity"], w["rule_id"],
                     self.pseudonyms.scope(w["scope"]))

    async def events(self, partition: int, items: list[list]) -> None:
        for part in chunks(items):
            await send_to(self.work, partition=partition, value={"kind": "events", "items": part})

    async def notes(self, batch: Batch) -> None:
        for group, ws in batch.notes.items():  # one record per recipient group: its partition's state
            for part in chunks(ws):
                await send_to(self.to_notify, key=group, value={"kind": "warnings", "items": part})
        batch.notes.clear()

    async def dead_letter(self, message, reason: str, detail: str, key: bytes | None = None,
                          value: bytes | None = None) -> None:
        """Dead-letter a message, or (key, value) of one event in a work-topic batch record."""
        metrics.bad_events.labels(message.topic, reason).inc()
        key = message.key if key is None else key
        record = DeadLetter.from_message(
            reason=reason, detail=detail, topic=message.topic, partition=message.partition,
            offset=message.offset, key=key, value=(message.value or b"") if value is None else value,
            received_at=datetime.now(UTC), service=self.source_name,
        )
        await self.dead_letters.send(
            key=key, value=record.model_dump_json().encode(),
            headers=[("dlq_reason", reason.encode())],
        )

    async def ack_recorded(self, fingerprint: str, ack: dict, partition: int) -> None:
        entry = self.firing_table.get(fingerprint)
        if entry:
            await write_direct(self.firing_table, fingerprint, {**entry, "ack": ack}, partition)
