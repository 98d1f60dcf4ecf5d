"""`risk-warnings demo`: a small, realistic stream in accelerated event time.

Three districts (urban, rural, remote), repair tickets every few minutes with
crew arrival times drawn around the area limits, so some crews come late and
one never comes; unplanned outages whose notices are usually prompt, sometimes
late and once missing; and two malformed messages that must end up on the
dead-letter topic. Event time runs `speed` times faster than wall time and
ends now, so a worker with RISK_CLOCK=event shows warnings within seconds and
no event is dated ahead of the wall clock. Seeded: the same
seed gives the same stream. The named scenarios of the simulator
(`risk-warnings sim`) are richer; this is the smallest stream that exercises
every path of the first two rules.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime

from kafka import KafkaProducer

from .config import Settings

DISTRICTS = [("north", "urban", 45), ("east", "rural", 90), ("hills", "remote", 120)]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def build_stream(start: float, minutes: float, seed: int) -> list[tuple[float, str, str, dict]]:
    """(event time, topic role, key, event) sorted by event time."""
    rng = random.Random(seed)
    events: list[tuple[float, int, str, str, dict]] = []
    n = [0]

    def add(ts, role, key, type_, **fields):
        n[0] += 1
        events.append((ts, n[0], role, key, {"event_id": f"demo-{seed}-{n[0]}", "type": type_,
                                              "occurred_at": _iso(ts), "source": "demo", **fields}))

    t, i = start, 0
    end = start + minutes * 60
    while t < end - 30 * 60:
        i += 1
        district, area, limit = rng.choice(DISTRICTS)
        tid = f"T{seed}-{i:04d}"
        urgent = rng.random() < 0.1
        add(t, "tickets", tid, "ticket.created", ticket_id=tid, district_id=district, area_type=area,
            category=rng.choice(["no_power", "no_power", "partial_power", "voltage"]),
            priority="urgent" if urgent else "normal", channel="hotline")
        crew = f"C-{district}-{rng.randint(1, 4)}"
        dispatch = t + rng.uniform(3, 12) * 60
        add(dispatch, "tickets", tid, "ticket.dispatched", ticket_id=tid, crew_id=crew)
        if i % 17 != 5:  # one crew in seventeen never shows up during the demo
            arrival = t + limit * 60 * rng.lognormvariate(-0.35, 0.35)
            add(arrival, "tickets", tid, "ticket.arrived", ticket_id=tid, crew_id=crew)
            add(arrival + rng.uniform(20, 90) * 60, "tickets", tid, "ticket.completed", ticket_id=tid)
        if i % 5 == 0:
            oid = f"O{seed}-{i:04d}"
            add(t, "outages", oid, "outage.started", outage_id=oid, kind="unplanned", district_id=district,
                feeder_id=f"F-{district}-{rng.randint(1, 6)}", area_type=area,
                customers_affected=rng.randint(20, 2000), cause="equipment")
            if i % 15 != 10:  # one notice in three outages ... mostly prompt
                notice = t + rng.choice([4, 6, 8, 12, 18, 35]) * 60
                add(notice, "outages", oid, "outage.notice_published", outage_id=oid, channel="sms")
            add(t + rng.uniform(40, 150) * 60, "outages", oid, "outage.restored", outage_id=oid)
        t += rng.expovariate(1 / (4 * 60))
    return [(ts, role, key, ev) for ts, _, role, key, ev in sorted(events) if ts <= end]


BAD_MESSAGES = [
    ("tickets", b"{not json", b"bad-1"),
    ("tickets", json.dumps({"event_id": "bad-2", "type": "ticket.created", "occurred_at": "2026-11-27T08:00:00"}).encode(), b"bad-2"),
]


def timed_stream(wall0: float, speed: float, minutes: float, seed: int) -> list[tuple[float, str, str, dict]]:
    """(wall time to send, topic role, key, event), from `wall0` on.

    Event time runs `speed` times faster than wall time and ends at the moment the last
    event is sent: never ahead of the wall clock, so a worker on the wall clock does not
    stamp warnings in the future, nor refuse the events as future-dated.
    """
    start = wall0 + minutes * 60 / speed - minutes * 60
    return [(wall0 + (ts - start) / speed, role, key, event)
            for ts, role, key, event in build_stream(start, minutes, seed)]


def run_demo(settings: Settings, speed: float = 60.0, minutes: float = 180.0, seed: int = 7) -> int:
    roles = {"tickets": settings.topics.repair_tickets, "outages": settings.topics.outage_events}
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap.split(","), linger_ms=5,
                             **settings.kafka_security.client_options())
    wall0 = time.time()
    stream = timed_stream(wall0, speed, minutes, seed)
    print(f"demo: {len(stream)} events over {minutes:.0f} event-time minutes at {speed:g}x "
          f"(about {minutes * 60 / speed:.0f} s), the last at the moment it is sent", flush=True)
    if settings.clock == "wall":
        print("demo: the worker's clock is the wall clock, so deadlines fall due as soon as it reads an "
              "event; RISK_CLOCK=event shows them at their event times", flush=True)
    for role, value, key in BAD_MESSAGES:
        producer.send(roles[role], key=key, value=value)
    for send_at, role, key, event in stream:
        delay = send_at - time.time()
        if delay > 0:
            producer.flush()
            time.sleep(delay)
        producer.send(roles[role], key=key.encode(), value=json.dumps(event).encode())
    producer.flush()
    producer.close()
    print("demo: stream finished", flush=True)
    return 0
