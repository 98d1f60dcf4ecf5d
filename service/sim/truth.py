"""Ground truth: which warnings a stream calls for, and the earliest moment each could fire.

An oracle written from the rule catalogue (docs/rules.md) and the shipped defaults (service/defaults/
rules.yaml), independent of the engine: plain arithmetic over the whole
stream, per rule. For every rule it finds the first moment the raise
threshold is crossed for each scope: deadline rules at the exact deadline
(start + limit) when the awaited event came after it (a limit is exceeded,
not reached: the event exactly at the limit is in time), counting rules
(event-driven counts, frequent feeders, surges and storm mode: their counts
only grow) at the event that reaches the count, window
rules at the first window end (multiple of the rule's step) whose statistic
crosses, collection rate at its decision time. Each entry:

    {"rule_id", "scope": {identity}, "district_id", "earliest": epoch seconds,
     "earliest_at": RFC 3339, "tolerance_s": the rule's evaluation step}

Only raises are predicted (not escalations or resolutions), once per scope:
detection quality is about noticing the risk in time.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import yaml

from ..core.timefmt import to_rfc3339

MIN, HOUR, DAY = 60.0, 3600.0, 86400.0
RULES_FILE = Path(__file__).parents[1] / "defaults" / "rules.yaml"


def shipped_params() -> dict[str, dict]:
    data = yaml.safe_load(RULES_FILE.read_text())
    return {rid: e.get("params", {}) for rid, e in data["rules"].items() if e.get("enabled", True)}


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _due_epoch(d: str) -> float:
    x = date.fromisoformat(d)
    return datetime(x.year, x.month, x.day, tzinfo=UTC).timestamp()


class Oracle:
    def __init__(self, stream: list[tuple[float, str, str, dict]], reference: dict | None = None,
                 until: float | None = None, params: dict[str, dict] | None = None):
        self.p = params or shipped_params()
        self.until = until if until is not None else (stream[-1][0] if stream else 0.0)
        self.areas = {d["district_id"]: d["area_type"] for d in (reference or {}).get("districts", [])}
        self.served = {d["district_id"]: d["customers_served"] for d in (reference or {}).get("districts", [])}
        self.tickets: dict[str, dict] = defaultdict(dict)
        self.outages: dict[str, dict] = defaultdict(dict)
        self.accounts: dict[str, dict] = defaultdict(lambda: {"bills": {}, "payments": [], "flags": []})
        self.complaints: list[tuple[float, dict]] = []
        self.surveys: list[tuple[float, dict]] = []
        self.alarms: list[tuple[float, dict]] = []
        self.first_service: dict[str, float] = {}
        for ts, _, _, e in stream:
            self._fold(ts, e)
        self.out: list[dict] = []

    def _fold(self, ts: float, e: dict) -> None:
        t = e["type"]
        if t.startswith("ticket."):
            f = self.tickets[e["ticket_id"]]
            f.setdefault("ticket_id", e["ticket_id"])
            name = t.split(".")[1]
            f.setdefault(name, ts)
            f[name] = min(f[name], ts)
            if t == "ticket.created":
                f.update(district_id=e["district_id"], area_type=e["area_type"], priority=e["priority"])
            if t == "ticket.followed_up":
                f["satisfied"] = e["satisfied"]
        elif t.startswith("outage."):
            f = self.outages[e["outage_id"]]
            f.setdefault("outage_id", e["outage_id"])
            name = t.split(".")[1]
            f[name] = min(f.get(name, ts), ts)
            if t in ("outage.scheduled", "outage.started"):
                f.update({k: e[k] for k in ("district_id", "feeder_id", "area_type", "customers_affected")})
                if t == "outage.started" or "kind" not in f:
                    f["kind"] = e["kind"]
            if t == "outage.scheduled":
                f["scheduled_start"] = _epoch(e["scheduled_start"])
        elif t in ("bill.issued", "payment.received", "account.risk_flagged"):
            a = self.accounts[e["account_id"]]
            a["account_id"] = e["account_id"]
            if t == "bill.issued":
                a["bills"].setdefault(e["bill_id"], {"ts": ts, "cents": int(Decimal(e["amount"]) * 100),
                                                     "due": e["due_date"], "period": e["period"],
                                                     "district_id": e["district_id"]})
                a["district_id"] = e["district_id"]
            elif t == "payment.received":
                a["payments"].append((ts, int(Decimal(e["amount"]) * 100), e.get("bill_id")))
            else:
                a["flags"].append(ts)
                a.setdefault("district_id", e.get("district_id"))
        else:
            self.first_service.setdefault(e["district_id"], ts)
            {"complaint.received": self.complaints, "survey.completed": self.surveys,
             "meter.alarm": self.alarms}[t].append((ts, e))

    # --- output -------------------------------------------------------------------

    def _add(self, rule_id: str, scope: dict, district: str | None, at: float, tolerance: float,
             **extra) -> None:
        if at is None or at > self.until or rule_id not in self.p:
            return
        self.out.append({"rule_id": rule_id, "scope": scope, "district_id": district, "earliest": at,
                         "earliest_at": to_rfc3339(at), "tolerance_s": tolerance, **extra})

    def truth(self) -> list[dict]:
        self.out = []
        for fn in (self.tickets_rules, self.outage_rules, self.feeder_rule, self.recent_rules, self.account_rules,
                   self.collection_rate, self.window_rules, self.surge_rules, self.storm_mode):
            fn()
        return sorted(self.out, key=lambda x: (x["earliest"], x["rule_id"], sorted(x["scope"].items())))

    # --- deadline rules -----------------------------------------------------------

    def tickets_rules(self) -> None:
        pa = self.p.get("repair.arrival_overdue", {})
        pr = self.p.get("repair.restore_overdue", {})
        pf = self.p.get("followup.missing", {})
        for tid, f in self.tickets.items():
            if "created" not in f or "district_id" not in f:
                continue
            area, scope, d = f["area_type"], {"ticket_id": tid}, f["district_id"]
            if pa:
                limit = pa["limit_minutes"][area] * MIN
                levels = pa["urgent_levels"] if f["priority"] == "urgent" else pa["levels"]
                due = f["created"] + min(levels.values()) * limit
                arrived = f.get("arrived", f.get("completed"))
                if arrived is None or arrived > due:  # exceeded: a crew on site at the limit is in time
                    self._add("repair.arrival_overdue", scope, d, due, MIN)
            if pr and "arrived" in f:
                levels = [v * pr["limit_hours"][area] * HOUR for v in pr["levels"].values()] + [pr["red_hours"] * HOUR]
                due = f["arrived"] + min(levels)
                if f.get("completed") is None or f["completed"] > due:
                    self._add("repair.restore_overdue", scope, d, due, MIN)
            if pf and "completed" in f:
                due = f["completed"] + min(pf["hours"].values()) * HOUR
                if f.get("followed_up") is None or f["followed_up"] > due:
                    self._add("followup.missing", scope, d, due, MIN)

    def outage_rules(self) -> None:
        pn = self.p.get("outage.notice_late", {})
        ps = self.p.get("outage.notice_short", {})
        pl = self.p.get("outage.long_duration", {})
        for oid, f in self.outages.items():
            scope, d = {"outage_id": oid}, f.get("district_id")
            start = f.get("started")
            ended = min([t for t in (f.get("restored"), f.get("cancelled")) if t is not None], default=None)
            if pn and start is not None and f.get("kind") == "unplanned":
                due = start + min(pn["minutes"].values()) * MIN
                stop = min([t for t in (f.get("notice_published"), ended) if t is not None], default=None)
                if stop is None or stop > due:
                    self._add("outage.notice_late", scope, d, due, MIN)
            if ps and f.get("kind") in ("planned", "temporary") and "scheduled_start" in f:
                need = (ps["planned_notice_hours"] if f["kind"] == "planned" else ps["temporary_notice_hours"]) * HOUR
                s = f["scheduled_start"]
                notice, begins = f.get("notice_published"), start if start is not None else s
                points = []
                if notice is None or notice > s - need:
                    points.append(s - need)  # yellow: inside the notice period without a notice
                if notice is not None and notice <= begins and s - notice < need:
                    points.append(notice)  # orange: noticed too late
                if notice is None or notice > begins:
                    points.append(begins)  # red: started without a notice
                points = [p for p in points if ended is None or p < ended]
                if points:
                    self._add("outage.notice_short", scope, d, min(points), MIN)
            if pl and start is not None:
                due = start + min(pl["hours"].values()) * HOUR
                if ended is None or ended > due:
                    self._add("outage.long_duration", scope, d, due, MIN)

    # --- counting rules -----------------------------------------------------------

    def feeder_rule(self) -> None:
        p = self.p.get("outage.frequent_feeder")
        if not p:
            return
        step, size, need = p["step_minutes"] * MIN, p["window_minutes"] * MIN, min(p["raise"].values())
        by_feeder: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for f in self.outages.values():
            s, r = f.get("started"), f.get("restored")
            if s is not None and r is not None and r - s > 300 and f.get("feeder_id"):
                if f.get("cancelled") is not None and f["cancelled"] < r:
                    continue
                by_feeder[f["feeder_id"]].append((r, f.get("district_id")))
        for feeder, ends in by_feeder.items():
            # a count only grows: raised at the restore that brings the window ending at the next step
            # boundary to the level (the events of that window up to it), not at the window's end
            ends.sort()
            buckets = [math.floor(t / step) * step for t, _ in ends]
            for i, (t, _) in enumerate(ends):
                end = buckets[i] + step
                if i + 1 - bisect_left(buckets, end - size) >= need:
                    self._add("outage.frequent_feeder", {"feeder_id": feeder}, ends[0][1], t, step)
                    break

    def _recent(self, rule_id: str, events: list[tuple[float, str, str | None]], distinct: bool) -> None:
        """events: (ts, scope key, label); value over (t - window, t], raised at the event reaching the level."""
        p = self.p.get(rule_id)
        if not p:
            return
        size, need = p["window_days"] * DAY, min(p["raise"].values())
        by_key: dict[str, list] = defaultdict(list)
        for ts, key, label, district in events:
            by_key[key].append((ts, label, district))
        for key, evs in by_key.items():
            evs.sort()
            for ts, _, district in evs:
                inside = [lab for t, lab, _ in evs if ts - size < t <= ts]
                if (len(set(inside)) if distinct else len(inside)) >= need:
                    scope_key = {"complaints.staff_repeat": "staff_id", "complaints.billing_errors": "district_id",
                                 "meter.tamper_suspected": "account_id"}[rule_id]
                    self._add(rule_id, {scope_key: key}, district, ts, MIN)
                    break

    def recent_rules(self) -> None:
        self._recent("complaints.staff_repeat",
                     [(ts, e["staff_id"], e["category"], e["district_id"]) for ts, e in self.complaints
                      if e.get("staff_id")], distinct=False)
        self._recent("complaints.billing_errors",
                     [(ts, e["district_id"], "b", e["district_id"]) for ts, e in self.complaints
                      if e["category"] == "billing_error"], distinct=False)
        kinds = set(self.p.get("meter.tamper_suspected", {}).get("kinds", []))
        self._recent("meter.tamper_suspected",
                     [(ts, e["account_id"], e["alarm"], e["district_id"]) for ts, e in self.alarms
                      if e.get("account_id") and e["alarm"] in kinds], distinct=True)

    # --- accounts -----------------------------------------------------------------

    @staticmethod
    def _paid_per_bill(a: dict, t: float) -> dict[str, int]:
        """Cents paid into each bill by time t: a payment goes to the bill it names, the rest oldest first."""
        bills = {b: x for b, x in a["bills"].items() if x["ts"] <= t}
        paid = dict.fromkeys(bills, 0)
        order = sorted(bills, key=lambda b: (bills[b]["due"], bills[b]["period"], b))
        for ts, cents, bill_id in sorted(a["payments"]):
            if ts > t:
                break
            left = cents
            for b in ([bill_id] if bill_id in bills else []) + order:
                take = min(left, bills[b]["cents"] - paid[b])
                if take > 0:
                    paid[b] += take
                    left -= take
        return paid

    def account_rules(self) -> None:
        pf = self.p.get("billing.flagged_arrears")
        po = self.p.get("billing.overdue_large")
        for aid, a in self.accounts.items():
            scope, d = {"account_id": aid}, a.get("district_id")
            moments = sorted({x["ts"] for x in a["bills"].values()} | {t for t, _, _ in a["payments"]}
                             | set(a["flags"]))
            if pf and a["flags"]:
                for m in moments:
                    billed = sum(x["cents"] for x in a["bills"].values() if x["ts"] <= m)
                    paid = sum(c for t, c, _ in a["payments"] if t <= m)
                    if min(a["flags"]) <= m and billed - paid > round(min(pf["raise"].values()) * 100):
                        self._add("billing.flagged_arrears", scope, d, m, MIN)
                        break
            if po:
                crossings = sorted({_due_epoch(x["due"]) + po["overdue_days"] * DAY for x in a["bills"].values()}
                                   | {x for x in moments})
                for m in crossings:
                    paid = self._paid_per_bill(a, m)
                    overdue = [b for b, x in a["bills"].items() if x["ts"] <= m and _due_epoch(x["due"]) + DAY <= m]
                    amount = sum(a["bills"][b]["cents"] - paid[b] for b in overdue)
                    old = any(_due_epoch(a["bills"][b]["due"]) + po["overdue_days"] * DAY <= m
                              and a["bills"][b]["cents"] > paid[b] for b in overdue)
                    if old and amount >= round(po["min_amount"] * 100):
                        self._add("billing.overdue_large", scope, d, m, MIN)
                        break

    def collection_rate(self) -> None:
        p = self.p.get("billing.collection_rate")
        if not p:
            return
        periods: dict[tuple[str, str], dict] = defaultdict(lambda: {"billed": 0, "due": None, "bills": []})
        for a in self.accounts.values():
            for b, x in a["bills"].items():
                q = periods[(x["district_id"], x["period"])]
                q["billed"] += x["cents"]
                q["due"] = max(q["due"] or x["due"], x["due"])
                q["bills"].append((a, b))
        for (district, period), q in sorted(periods.items(), key=lambda kv: _due_epoch(kv[1]["due"])):
            at = _due_epoch(q["due"]) + p["days_after_due"] * DAY
            # Paid before the decision day (payments on the decision day itself count for the next look).
            cutoff = at - 1e-6
            paid = sum(self._paid_per_bill(a, cutoff).get(b, 0) for a, b in q["bills"])
            if q["billed"] and paid / q["billed"] < max(p["raise"].values()):
                self._add("billing.collection_rate", {"district_id": district}, district, at, MIN,
                          period=period, ratio=round(paid / q["billed"], 4))

    # --- window rules -------------------------------------------------------------

    def _scan(self, rule_id: str, key_samples: dict[str, list[tuple[float, object]]], decide, scope_key: str,
              district_of) -> None:
        """First window end (multiple of the step) where decide(values) is true, per key."""
        p = self.p.get(rule_id)
        if not p:
            return
        step, size = p["step_minutes"] * MIN, p["window_minutes"] * MIN
        for key, samples in key_samples.items():
            samples.sort(key=lambda s: s[0])
            times = [math.floor(t / step) * step for t, _ in samples]
            end = times[0] + step
            last = min(times[-1] + size + step, self.until)
            while end <= last:
                lo, hi = bisect_left(times, end - size), bisect_left(times, end)
                if hi == lo:  # an empty window decides nothing: jump to the next sample
                    if hi >= len(times):
                        break
                    end = times[hi] + step
                    continue
                if decide(key, [v for _, v in samples[lo:hi]], p):
                    self._add(rule_id, {scope_key: key}, district_of(key), end, step)
                    break
                end += step

    def _area(self, district: str, fallback: str | None = None) -> str:
        return self.areas.get(district, fallback or "urban")

    def window_rules(self) -> None:
        arrivals: dict[str, list] = defaultdict(list)
        follow: dict[str, list] = defaultdict(list)
        for f in self.tickets.values():
            arrived = f.get("arrived", f.get("completed"))
            if "district_id" in f and "created" in f and arrived is not None:
                arrivals[f["district_id"]].append((arrived, ((arrived - f["created"]) / MIN, f["area_type"])))
            if "district_id" in f and "followed_up" in f and "satisfied" in f:
                follow[f["district_id"]].append((f["followed_up"], f["satisfied"]))
        ticket_area = {f["district_id"]: f["area_type"] for f in self.tickets.values() if "district_id" in f}

        def p90(key, values, p):
            if len(values) < p["min_samples"]:
                return False
            minutes = sorted(m for m, _ in values)
            limit = p["limit_minutes"][self._area(key, ticket_area.get(key))]
            return minutes[math.floor(0.9 * (len(minutes) - 1))] > p["raise"]["orange"] * limit

        def breach(key, values, p):
            late = sum(m > p["limit_minutes"][a] for m, a in values)
            return len(values) >= p["min_samples"] and late / len(values) > min(p["raise"].values())

        def unhappy(key, values, p):
            unhappy_share = sum(not v for v in values) / len(values)
            return len(values) >= p["min_samples"] and unhappy_share > min(p["raise"].values())

        def low(key, values, p):
            return len(values) >= p["min_samples"] and sum(values) / len(values) < max(p["raise"].values())

        self._scan("repair.arrival_p90", arrivals, p90, "district_id", lambda k: k)
        self._scan("repair.sla_breach_ratio", arrivals, breach, "district_id", lambda k: k)
        self._scan("followup.dissatisfied_ratio", follow, unhappy, "district_id", lambda k: k)
        by_district: dict[str, list] = defaultdict(list)
        by_staff: dict[str, list] = defaultdict(list)
        staff_district = {}
        for ts, e in self.surveys:
            by_district[e["district_id"]].append((ts, e["score"]))
            if e.get("staff_id"):
                by_staff[e["staff_id"]].append((ts, e["score"]))
                staff_district[e["staff_id"]] = e["district_id"]
        self._scan("satisfaction.low", by_district, low, "district_id", lambda k: k)
        self._scan("satisfaction.low_staff", by_staff, low, "staff_id", staff_district.get)

    # --- surge rules (count versus the subject's own baseline) -------------------

    @staticmethod
    def _z(count: float, history: list[float], min_deviation: float) -> float:
        mean = sum(history) / len(history)
        std = math.sqrt(sum((h - mean) ** 2 for h in history) / (len(history) - 1)) if len(history) > 1 else 0.0
        return (count - mean) / max(std, math.sqrt(max(mean, 0.0)), min_deviation)

    def _surge_first(self, p: dict, times: list[float], observed_from: float, extra=None) -> float | None:
        """The first event at which the window ending at the next step boundary holds, up to that event,
        count >= min and z >= the lowest raise level (or extra(end, t) is true): a count only grows, so
        the rule raises at the event that crosses, not at the window end."""
        step, period = p["step_minutes"] * MIN, p["window_minutes"] * MIN
        periods = round(p["baseline_days"] * DAY / period)
        min_periods = max(1, math.ceil(p["min_history_days"] * DAY / period - 1e-9))
        level = min(p["raise"].values())
        observed = math.floor(observed_from / step) * step
        times = sorted(times)
        buckets = [math.floor(t / step) * step for t in times]
        for i, t in enumerate(times):
            if t > self.until:
                return None
            end = buckets[i] + step
            count = i + 1 - bisect_left(buckets, end - period)  # the events of the window up to this one
            hit = False
            if count >= p["min_samples"]:
                history = []
                for k in range(1, periods + 1):
                    lo = end - (k + 1) * period
                    if lo < observed:
                        break
                    history.append(bisect_left(buckets, lo + period) - bisect_left(buckets, lo))
                hit = len(history) >= min_periods and self._z(count, history, p.get("min_deviation", 1.0)) >= level
            if hit or (extra is not None and extra(end, t)):
                return t
        return None

    def surge_rules(self) -> None:
        pc = self.p.get("complaints.surge")
        pm = self.p.get("meter.alarm_surge")
        for district, since in self.first_service.items():
            if pc:
                at = self._surge_first(pc, [ts for ts, e in self.complaints if e["district_id"] == district], since)
                self._add("complaints.surge", {"district_id": district}, district, at, pc["step_minutes"] * MIN)
            if pm:
                kinds = set(pm.get("alarms", []))
                at = self._surge_first(pm, [ts for ts, e in self.alarms
                                            if e["district_id"] == district and e["alarm"] in kinds], since)
                self._add("meter.alarm_surge", {"district_id": district}, district, at, pm["step_minutes"] * MIN)

    def storm_mode(self) -> None:
        p = self.p.get("reliability.storm_mode")
        if not p:
            return
        starts: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for f in self.outages.values():
            if f.get("started") is not None and f.get("district_id"):
                starts[f["district_id"]].append((f["started"], f.get("customers_affected") or 0))
        step = p["step_minutes"] * MIN
        for district, xs in starts.items():
            xs.sort()
            served = self.served.get(district)

            def wide(end, now, xs=xs, served=served):
                if not served:
                    return False
                inside = [c for t, c in xs if t <= now and end - DAY <= math.floor(t / step) * step < end]
                return (len(inside) >= p.get("customer_share_min_outages", 1)
                        and sum(inside) / served >= p["customer_share_raise"])

            at = self._surge_first(p, [t for t, _ in xs], xs[0][0], extra=wide)
            self._add("reliability.storm_mode", {"district_id": district}, district, at, step)


def ground_truth(stream, reference: dict | None = None, until: float | None = None) -> list[dict]:
    return Oracle(stream, reference, until).truth()
