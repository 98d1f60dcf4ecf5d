"""Realistic input streams for the benchmark (valid per docs/contract.md).

`mix()` builds a stream of whole entity life cycles in event-time order:
repair tickets ~40 % of the events, outages ~5 %, billing ~35 %, service
quality events ~20 %. Districts are urban, rural and remote; crews arrive
around their area's limit (some late, some never), outage notices are mostly
prompt, some accounts are flagged, some meters report tampering, so every
rule of service/defaults/rules.yaml has something to look at.

`memory_stream()` yields the state-size workload: N distinct accounts (one
bill each) and M open tickets, all within a short event-time span.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

ROLES = ("outages", "tickets", "billing", "service")
SHARES = {"tickets": 0.40, "outages": 0.05, "billing": 0.35, "service": 0.20}
LIMIT = {"urban": 45, "rural": 90, "remote": 120}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def days_ago(days: int, now: float | None = None) -> float:
    """Midnight UTC `days` days before today: a mix started there is the same events, at the same
    times of day, whenever it is generated that day (its windows and buckets fall alike)."""
    today = (time.time() if now is None else now) // 86400 * 86400
    return today - days * 86400


def districts(n: int = 60) -> list[tuple[str, str]]:
    areas = ["urban"] * 20 + ["rural"] * 25 + ["remote"] * 15
    return [(f"D{i:03d}", areas[i % len(areas)]) for i in range(n)]


def mix(n: int, start: float, span_s: float, seed: int = 1) -> list[tuple[float, str, str, dict]]:
    """About `n` events: (event time, role, key, event), sorted by event time."""
    rng = random.Random(seed)
    ds = districts()
    budget = {role: int(n * share) for role, share in SHARES.items()}
    out: dict[str, list] = {role: [] for role in SHARES}
    seq = [0]

    def add(role: str, ts: float, key: str, type_: str, **fields) -> None:
        seq[0] += 1
        out[role].append((ts, role, key, {"event_id": f"b{seed}-{seq[0]}", "type": type_,
                                          "occurred_at": iso(ts), "source": "bench", **fields}))

    def when() -> float:
        return start + rng.random() * span_s

    i = 0
    while len(out["tickets"]) < budget["tickets"]:
        i += 1
        d, area = rng.choice(ds)
        tid, t = f"T{seed}-{i}", when()
        crew = f"C-{d}-{rng.randint(1, 8)}"
        add("tickets", t, tid, "ticket.created", ticket_id=tid, district_id=d, area_type=area,
            category=rng.choice(["no_power", "no_power", "partial_power", "voltage", "meter", "other"]),
            priority="urgent" if rng.random() < 0.1 else "normal", channel=rng.choice(["hotline", "app"]),
            customer_id=f"A{seed}-{rng.randint(1, 10**6)}")
        add("tickets", t + rng.uniform(3, 12) * 60, tid, "ticket.dispatched", ticket_id=tid, crew_id=crew)
        if rng.random() < 0.93:
            arrived = t + LIMIT[area] * 60 * rng.lognormvariate(-0.35, 0.35)
            add("tickets", arrived, tid, "ticket.arrived", ticket_id=tid, crew_id=crew)
            done = arrived + rng.uniform(20, 200) * 60
            add("tickets", done, tid, "ticket.completed", ticket_id=tid, resolution="fixed")
            if rng.random() < 0.7:
                add("tickets", done + rng.uniform(1, 30) * 3600, tid, "ticket.followed_up", ticket_id=tid,
                    satisfied=rng.random() < 0.88, score=rng.randint(1, 5))
            if rng.random() < 0.02:
                add("tickets", done + rng.uniform(1, 48) * 3600, tid, "ticket.reopened", ticket_id=tid,
                    reason="fault back")
    i = 0
    while len(out["outages"]) < budget["outages"]:
        i += 1
        d, area = rng.choice(ds)
        oid, t = f"O{seed}-{i}", when()
        where = dict(district_id=d, feeder_id=f"F-{d}-{rng.randint(1, 6)}", area_type=area,
                     customers_affected=rng.randint(20, 3000))
        if rng.random() < 0.75:
            add("outages", t, oid, "outage.started", outage_id=oid, kind="unplanned", cause="equipment", **where)
            if rng.random() < 0.9:
                add("outages", t + rng.choice([4, 6, 8, 12, 18, 35]) * 60, oid, "outage.notice_published",
                    outage_id=oid, channel=rng.choice(["sms", "app", "web"]))
        else:
            kind = rng.choice(["planned", "temporary"])
            lead = rng.uniform(12, 200) * 3600
            add("outages", t - lead, oid, "outage.scheduled", outage_id=oid, kind=kind,
                scheduled_start=iso(t), scheduled_end=iso(t + 4 * 3600), **where)
            add("outages", t - lead + 600, oid, "outage.notice_published", outage_id=oid, channel="sms",
                customers_notified=where["customers_affected"])
            if rng.random() < 0.05:
                add("outages", t - 3600, oid, "outage.cancelled", outage_id=oid)
                continue
            add("outages", t, oid, "outage.started", outage_id=oid, kind=kind, **where)
        add("outages", t + rng.uniform(40, 900) * 60, oid, "outage.restored", outage_id=oid)
    i = 0
    period_day = date.fromtimestamp(start)
    while len(out["billing"]) < budget["billing"]:
        i += 1
        d, _ = rng.choice(ds)
        acct, t = f"A{seed}-{i}", when()
        klass = rng.choices(["residential", "commercial", "industrial", "agricultural", "public"],
                            [80, 12, 4, 3, 1])[0]
        amount = rng.uniform(20, 400) if klass == "residential" else rng.uniform(500, 300000)
        due = period_day + timedelta(days=rng.randint(-40, 20))
        bill = f"B{seed}-{i}"
        add("billing", t, acct, "bill.issued", account_id=acct, bill_id=bill, district_id=d,
            customer_class=klass, amount=f"{amount:.2f}", due_date=due.isoformat(),
            period=f"{due.year:04d}-{due.month:02d}")
        if rng.random() < 0.8:
            add("billing", t + rng.uniform(0, span_s), acct, "payment.received", account_id=acct, bill_id=bill,
                amount=f"{amount * rng.choice([1, 1, 1, 0.5]):.2f}")
        if rng.random() < 0.01:
            add("billing", t + rng.uniform(0, 3600), acct, "account.risk_flagged", account_id=acct,
                flag=rng.choice(["bankruptcy", "liquidation", "court_enforcement"]), district_id=d)
    accounts = i
    i = 0
    while len(out["service"]) < budget["service"]:
        i += 1
        d, _ = rng.choice(ds)
        t, r = when(), rng.random()
        staff = f"S-{d}-{rng.randint(1, 12)}" if rng.random() < 0.5 else None
        extra = {"staff_id": staff} if staff else {}
        if r < 0.4:
            add("service", t, d, "complaint.received", complaint_id=f"Q{seed}-{i}", district_id=d,
                category=rng.choice(["service_attitude", "repair_delay", "outage_notice", "billing_error",
                                     "metering", "other"]), **extra)
        elif r < 0.8:
            add("service", t, d, "survey.completed", survey_id=f"V{seed}-{i}", district_id=d,
                score=rng.choices([1, 2, 3, 4, 5], [3, 4, 10, 35, 48])[0], **extra)
        else:
            alarm = rng.choices(["communication_loss", "clock_error", "reverse_energy", "zero_consumption",
                                 "tamper", "voltage_loss"], [40, 15, 5, 20, 5, 15])[0]
            add("service", t, d, "meter.alarm", meter_id=f"M{seed}-{rng.randint(1, 10**6)}", district_id=d,
                alarm=alarm, account_id=f"A{seed}-{rng.randint(1, max(accounts, 1))}")
    events = [e for role in SHARES for e in out[role]]
    events.sort(key=lambda e: e[0])
    return events[:n]


def memory_stream(accounts: int, tickets: int, start: float, span_s: float = 1200,
                  seed: int = 2) -> Iterator[tuple[str, str, dict]]:
    """`accounts` distinct accounts with one bill each and `tickets` open tickets, in time order."""
    ds = districts()
    total = accounts + tickets
    every = max(total // max(tickets, 1), 1)
    a = k = 0
    due = (date.fromtimestamp(start) + timedelta(days=20)).isoformat()
    for j in range(total):
        ts = start + span_s * j / total
        d, area = ds[j % len(ds)]
        if (j % every == every - 1 and k < tickets) or a >= accounts:
            k += 1
            tid = f"MT{seed}-{k}"
            yield "tickets", tid, {"event_id": f"m{seed}-{j}", "type": "ticket.created", "occurred_at": iso(ts),
                                   "ticket_id": tid, "district_id": d, "area_type": area, "category": "no_power",
                                   "priority": "normal"}
        else:
            a += 1
            acct = f"MA{seed}-{a}"
            yield "billing", acct, {"event_id": f"m{seed}-{j}", "type": "bill.issued", "occurred_at": iso(ts),
                                    "account_id": acct, "bill_id": f"MB{seed}-{a}", "district_id": d,
                                    "customer_class": "residential", "amount": f"{50 + j % 300}.{j % 100:02d}",
                                    "due_date": due, "period": due[:7]}


def encode(event: dict) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()
