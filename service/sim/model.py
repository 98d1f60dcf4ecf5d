"""A seeded simulator of a utility's everyday event streams.

The utility has districts (area type, customers served), feeders, crews,
staff and a sample of accounts by customer class. `Simulator` draws the calm
everyday streams of a district from realistic distributions with daily and
weekly rhythms; scenarios (scenarios.py) add known incidents on top.

"Calm" is a promise the scenarios rely on: every per-entity statistic stays
well inside the first threshold of the shipped rules (crews arrive at 50-70 %
of the area limit, never after 75 %; unplanned outage notices after 3-9 min;
follow-ups within 20 h ...) and guards keep the counting rules quiet (no
feeder gets a third sustained outage in 60 days, no staff member a third
complaint in 30 days, no day more than 3 complaints, interrupted customers
below 2.5 % of those served in any 24 h). A warning in a district where no
incident was injected is therefore a false positive.

Output: a time-ordered list of (event time epoch, topic role, key, event)
with topic role one of "outages", "tickets", "billing", "service", and every
event valid against the wire contract. Same seed, same stream.
"""

from __future__ import annotations

import random
from bisect import bisect_left, insort
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

MIN = 60
HOUR = 3600
DAY = 86400
LOCAL = timezone(timedelta(hours=8))  # China Standard Time: the wire carries the offset

ARRIVAL_LIMIT_MIN = {"urban": 45, "rural": 90, "remote": 120}  # SGCC commitments (rules.yaml)
RESTORE_LIMIT_H = {"urban": 3, "rural": 4, "remote": 6}

# Relative intensity by local hour: faults peak in the evening load, complaints
# and surveys follow office hours, meter alarms are flat with a night bump
# (concentrators poll at night).
FAULT_PROFILE = [0.5, 0.4, 0.4, 0.4, 0.5, 0.6, 0.8, 1.0, 1.1, 1.1, 1.1, 1.2,
                 1.2, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.6, 1.4, 1.1, 0.8, 0.6]
OFFICE_PROFILE = [0.05, 0.02, 0.02, 0.02, 0.02, 0.05, 0.2, 0.6, 1.4, 1.8, 1.8, 1.6,
                  1.2, 1.5, 1.7, 1.7, 1.6, 1.4, 1.2, 1.0, 0.8, 0.5, 0.2, 0.1]
ALARM_PROFILE = [1.4, 1.5, 1.5, 1.4, 1.2, 1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9,
                 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 1.0, 1.1, 1.2, 1.3]
WEEKDAY_FACTOR = {"faults": [1, 1, 1, 1, 1, 1.1, 1.1], "office": [1, 1, 1, 1, 1, 0.6, 0.5],
                  "alarms": [1] * 7}
PROFILES = {"faults": FAULT_PROFILE, "office": OFFICE_PROFILE, "alarms": ALARM_PROFILE}

CLASS_MIX = {"residential": 30, "commercial": 6, "industrial": 2, "agricultural": 2, "public": 2}
BILL_MEDIAN_CNY = {"residential": 260, "commercial": 4200, "industrial": 48000, "agricultural": 1500,
                   "public": 7800}
TAMPER_KINDS = ("tamper", "reverse_energy", "zero_consumption")


def iso(ts: float) -> str:
    """RFC 3339 in local time with its offset, second resolution."""
    return datetime.fromtimestamp(ts, LOCAL).isoformat(timespec="seconds")


def local_date(ts: float) -> date:
    return datetime.fromtimestamp(ts, LOCAL).date()


def money(cny: float) -> str:
    return f"{max(cny, 0.01):.2f}"


@dataclass(frozen=True)
class District:
    district_id: str
    name: str
    area_type: str
    customers_served: int
    crews: int
    staff: int
    feeders: int

    @property
    def recipient_group(self) -> str:
        return f"ops-{self.district_id}"

    def reference(self) -> dict:
        """The district's entry in the reference data file (service/core/reference.py)."""
        return {"district_id": self.district_id, "name": self.name, "area_type": self.area_type,
                "customers_served": self.customers_served, "recipient_group": self.recipient_group}

    def feeder_ids(self) -> list[str]:
        return [f"F-{self.district_id}-{i:02d}" for i in range(1, self.feeders + 1)]

    def crew_ids(self) -> list[str]:
        return [f"C-{self.district_id}-{i}" for i in range(1, self.crews + 1)]

    def staff_ids(self) -> list[str]:
        return [f"S-{self.district_id}-{i:02d}" for i in range(1, self.staff + 1)]


@dataclass(frozen=True)
class Account:
    account_id: str
    district_id: str
    customer_class: str
    monthly_cny: float


DEFAULT_DISTRICTS = (
    District("north", "North City", "urban", 150_000, crews=6, staff=10, feeders=24),
    District("centre", "City Centre", "urban", 220_000, crews=8, staff=14, feeders=30),
    District("east", "East Plain", "rural", 60_000, crews=4, staff=6, feeders=16),
    District("west", "West Valley", "rural", 45_000, crews=4, staff=6, feeders=14),
    District("hills", "Hill Country", "remote", 12_000, crews=2, staff=3, feeders=8),
)


@dataclass
class Utility:
    districts: dict[str, District]
    accounts: dict[str, list[Account]]

    @classmethod
    def build(cls, seed: int, districts: tuple[District, ...] = DEFAULT_DISTRICTS) -> Utility:
        rng = random.Random(f"utility-{seed}")
        accounts: dict[str, list[Account]] = {}
        for d in districts:
            out = []
            for cls_, n in CLASS_MIX.items():
                for i in range(1, n + 1):
                    monthly = BILL_MEDIAN_CNY[cls_] * rng.lognormvariate(0, 0.4)
                    out.append(Account(f"A-{d.district_id}-{cls_[:3]}-{i:03d}", d.district_id, cls_, monthly))
            accounts[d.district_id] = out
        return cls({d.district_id: d for d in districts}, accounts)

    def reference(self) -> dict:
        return {"districts": [d.reference() for d in self.districts.values()]}


@dataclass
class Calm:
    """Volumes of the everyday streams, per district and day (scaled by customers)."""

    tickets_per_10k: float = 1.0  # repair tickets per 10k customers per day
    outages_per_100k: float = 1.2  # unplanned outages per 100k customers per day (+ 0.4 flat)
    complaints_per_100k: float = 0.6  # complaints per 100k customers per day (+ 0.3 flat)
    surveys_per_ticket: float = 0.5
    alarms_per_10k: float = 0.6  # meter alarms per 10k customers per day (+ 2 flat)
    dissatisfied_share: float = 0.03
    planned_per_week: float = 1.0
    temporary_per_week: float = 1.0
    billing: bool = True

    def scaled(self, factor: float) -> Calm:
        return Calm(self.tickets_per_10k * factor, self.outages_per_100k * factor,
                    self.complaints_per_100k * factor, self.surveys_per_ticket, self.alarms_per_10k * factor,
                    self.dissatisfied_share, self.planned_per_week * factor, self.temporary_per_week * factor,
                    self.billing)


class Recent:
    """Times of past events per key, to ask 'how many in the last window?' (the calm guards)."""

    def __init__(self):
        self._t: dict[str, list[float]] = {}

    def add(self, key: str, ts: float) -> None:
        insort(self._t.setdefault(key, []), ts)

    def count(self, key: str, lo: float, hi: float) -> int:
        ts = self._t.get(key, [])
        return bisect_left(ts, hi) - bisect_left(ts, lo)


class Simulator:
    """Collects events; `calm_*` methods draw one district's everyday streams."""

    def __init__(self, utility: Utility, start: float, days: float, seed: int, name: str = "sim",
                 calm: Calm | None = None):
        self.utility = utility
        self.start = float(start)
        self.end = float(start + days * DAY)
        self.seed = seed
        self.name = name
        self.calm = calm or Calm()
        self.rng = random.Random(f"{name}-{seed}")
        self._events: list[tuple[float, int, str, str, dict]] = []
        self._n = 0
        self.feeder_sustained = Recent()  # sustained outages per feeder (ended times)
        self.district_customers: dict[str, list[tuple[float, int]]] = {}  # outage starts per district
        self.staff_named = Recent()
        self.district_complaints = Recent()
        self.district_billing_errors = Recent()
        self.tamper_signs: dict[str, tuple[float, str]] = {}  # account -> (last ts, kind)
        self.reserved_staff: set[str] = set()  # named only by injected incidents
        self.reserved_feeders: set[str] = set()
        self.reserved_accounts: set[str] = set()
        self._unsettled: dict[str, list[tuple[float, dict]]] = {}

    # --- output -------------------------------------------------------------------

    def emit(self, ts: float, role: str, key: str, type_: str, **fields) -> dict:
        self._n += 1
        ts = float(round(ts))
        event = {"event_id": f"{self.name}-{self.seed}-{self._n:06d}", "type": type_, "occurred_at": iso(ts),
                 "source": f"sim.{self.name}", **{k: v for k, v in fields.items() if v is not None}}
        self._events.append((ts, self._n, role, key, event))
        return event

    def stream(self) -> list[tuple[float, str, str, dict]]:
        self._settle_satisfaction()
        return [(ts, role, key, ev) for ts, _, role, key, ev in sorted(self._events, key=lambda e: (e[0], e[1]))
                if self.start <= ts <= self.end]

    # --- draws --------------------------------------------------------------------

    def times(self, rate_per_day: float, profile: str, lo: float | None = None, hi: float | None = None,
              rng: random.Random | None = None) -> list[float]:
        """Arrival times of a Poisson process with the daily and weekly rhythm (thinning)."""
        rng = rng or self.rng
        lo, hi = self.start if lo is None else lo, self.end if hi is None else hi
        hours, week = PROFILES[profile], WEEKDAY_FACTOR[profile]
        peak = max(hours) * max(week)
        out, t = [], lo
        if rate_per_day <= 0:
            return out
        while True:
            t += rng.expovariate(rate_per_day * peak / DAY)
            if t >= hi:
                return out
            local = datetime.fromtimestamp(t, LOCAL)
            if rng.random() < hours[local.hour] * week[local.weekday()] / peak:
                out.append(t)

    def lognorm(self, median: float, sigma: float, lo: float, hi: float) -> float:
        return min(max(median * self.rng.lognormvariate(0, sigma), lo), hi)

    def arrival_minutes(self, area: str) -> float:
        """Calm crew arrival: lognormal around 50-70 % of the area limit, never past 75 %."""
        limit = ARRIVAL_LIMIT_MIN[area]
        return self.lognorm(0.6 * limit, 0.15, 0.3 * limit, 0.75 * limit)

    def repair_minutes(self, area: str) -> float:
        """Calm time on site: median 50 min, never past 75 % of the restoration limit."""
        return self.lognorm(50, 0.5, 10, 0.75 * RESTORE_LIMIT_H[area] * 60)

    def notice_minutes(self) -> float:
        """Calm unplanned-outage notice delay: mostly 3-9 min (yellow is at 10)."""
        return self.lognorm(5.5, 0.3, 3, 9)

    # --- tickets ------------------------------------------------------------------

    def ticket(self, d: District, created: float, *, category: str | None = None, priority: str | None = None,
               outage_id: str | None = None, arrival_min: float | None = None, repair_min: float | None = None,
               crew: str | None = None, followup_h: float | None = None, satisfied: bool | None = None,
               arrive: bool = True, complete: bool = True, follow: bool = True, tag: str = "T") -> str:
        """One repair ticket through its life; None-valued parameters are drawn calm."""
        tid = f"{tag}-{d.district_id}-{self._n + 1:06d}"
        category = category or self.rng.choices(
            ["no_power", "partial_power", "voltage", "meter", "safety_hazard", "other"], [45, 20, 15, 10, 3, 7])[0]
        priority = priority or ("urgent" if category == "safety_hazard" or self.rng.random() < 0.05 else "normal")
        self.emit(created, "tickets", tid, "ticket.created", ticket_id=tid, district_id=d.district_id,
                  area_type=d.area_type, category=category, priority=priority,
                  channel=self.rng.choices(["hotline", "app", "field"], [70, 25, 5])[0], outage_id=outage_id,
                  customer_id=f"CU-{d.district_id}-{self.rng.randint(1, d.customers_served)}")
        crew = crew or self.rng.choice(d.crew_ids())
        arrival_min = self.arrival_minutes(d.area_type) if arrival_min is None else arrival_min
        dispatched = created + min(self.rng.uniform(2, 10), arrival_min * 0.5) * MIN
        self.emit(dispatched, "tickets", tid, "ticket.dispatched", ticket_id=tid, crew_id=crew)
        if not arrive:
            return tid
        arrived = created + arrival_min * MIN
        self.emit(arrived, "tickets", tid, "ticket.arrived", ticket_id=tid, crew_id=crew)
        if not complete:
            return tid
        repair_min = self.repair_minutes(d.area_type) if repair_min is None else repair_min
        completed = arrived + repair_min * MIN
        self.emit(completed, "tickets", tid, "ticket.completed", ticket_id=tid,
                  resolution=self.rng.choice(["fuse replaced", "line repaired", "breaker reset", "meter replaced",
                                              "connection tightened"]))
        if not follow:
            return tid
        followup_h = self.lognorm(6, 0.6, 1, 20) if followup_h is None else followup_h
        followed = completed + followup_h * HOUR
        event = self.emit(followed, "tickets", tid, "ticket.followed_up", ticket_id=tid, satisfied=True)
        if satisfied is None:  # decided in time order when the stream is read (see _settle_satisfaction)
            self._unsettled.setdefault(d.district_id, []).append((followed, event))
        else:
            event["satisfied"] = satisfied
            event["score"] = self.rng.choice([4, 5, 5]) if satisfied else self.rng.choice([1, 2, 2])
        if self.rng.random() < self.calm.surveys_per_ticket:
            self.survey(d, followed + self.rng.uniform(5, 60) * MIN, ticket_id=tid)
        return tid

    def _settle_satisfaction(self) -> None:
        """Calm follow-ups: unhappy customers evenly spread in time, not Poisson.

        A calm district then never sees two unhappy customers among ten
        follow-ups (the rule's minimum sample) in any window.
        """
        for district, pending in sorted(self._unsettled.items()):
            phase = self.rng.random()
            for _, event in sorted(pending, key=lambda p: (p[0], p[1]["event_id"])):
                phase += self.calm.dissatisfied_share
                satisfied = phase < 1.0
                phase %= 1.0
                event["satisfied"] = satisfied
                event["score"] = self.rng.choice([4, 5, 5]) if satisfied else self.rng.choice([1, 2, 2])
        self._unsettled = {}

    def survey(self, d: District, ts: float, *, score: int | None = None, staff_id: str | None = None,
               ticket_id: str | None = None) -> None:
        if score is None:
            score = self.rng.choices([5, 4, 3, 2], [65, 30, 4, 1])[0]
        if staff_id is None:
            staff_id = self.rng.choice([s for s in d.staff_ids() if s not in self.reserved_staff] or [None])
        self.emit(ts, "service", d.district_id, "survey.completed", survey_id=f"SV-{self._n + 1:06d}",
                  district_id=d.district_id, score=score, staff_id=staff_id, ticket_id=ticket_id)

    def calm_tickets(self, d: District) -> None:
        rate = self.calm.tickets_per_10k * d.customers_served / 10_000
        for t in self.times(rate, "faults"):
            self.ticket(d, t)

    # --- outages ------------------------------------------------------------------

    def _customers_room(self, d: District, ts: float) -> int:
        """Customers that may still go out by `ts` keeping the trailing 24 h under 2.5 % of served."""
        recent = sum(c for t, c in self.district_customers.get(d.district_id, []) if ts - DAY < t <= ts + DAY)
        return max(int(0.025 * d.customers_served) - recent, 0)

    def _calm_feeder(self, d: District, start: float, end: float) -> str | None:
        """A feeder with at most one sustained outage in the 60 days around this one."""
        feeders = [f for f in d.feeder_ids() if f not in self.reserved_feeders]
        self.rng.shuffle(feeders)
        for f in feeders:
            if self.feeder_sustained.count(f, end - 61 * DAY, end + 61 * DAY) < 2:
                return f
        return None

    def outage(self, d: District, started: float, *, kind: str = "unplanned", feeder: str | None = None,
               customers: int | None = None, minutes: float | None = None, notice_min: float | None = None,
               notice: bool = True, restore: bool = True, ticket: bool = True, cause: str | None = None,
               arrival_min: float | None = None, repair_min: float | None = None, crew: str | None = None,
               tag: str = "O") -> str:
        """An unplanned outage with its notice, repair ticket and restoration; drawn calm unless given."""
        oid = f"{tag}-{d.district_id}-{self._n + 1:06d}"
        if arrival_min is None:
            arrival_min = self.arrival_minutes(d.area_type)
        if repair_min is None:
            repair_min = self.repair_minutes(d.area_type)
        if minutes is None:
            minutes = arrival_min + repair_min
        ended = started + minutes * MIN
        if customers is None:
            customers = min(int(self.lognorm(250, 0.9, 5, 3000)), self._customers_room(d, started))
        if feeder is None:
            feeder = self._calm_feeder(d, started, ended)
            if feeder is None:  # every feeder has had its share: a momentary fault (auto-reclose)
                feeder, minutes, ticket = self.rng.choice(d.feeder_ids()), self.rng.uniform(1, 4), False
                ended = started + minutes * MIN
        self.emit(started, "outages", oid, "outage.started", outage_id=oid, kind=kind, district_id=d.district_id,
                  feeder_id=feeder, area_type=d.area_type, customers_affected=customers,
                  cause=cause or self.rng.choice(["equipment", "tree contact", "animal", "weather", "third party",
                                                  "unknown"]))
        self.district_customers.setdefault(d.district_id, []).append((started, customers))
        if notice and kind == "unplanned":
            delay = self.notice_minutes() if notice_min is None else notice_min
            self.emit(started + delay * MIN, "outages", oid, "outage.notice_published", outage_id=oid,
                      channel=self.rng.choice(["sms", "app", "web"]), customers_notified=customers)
        if ticket:
            self.ticket(d, started + self.rng.uniform(0.5, 3) * MIN, category="no_power", outage_id=oid,
                        arrival_min=arrival_min, repair_min=repair_min, crew=crew)
        if restore:
            self.emit(ended, "outages", oid, "outage.restored", outage_id=oid, customers_restored=customers)
            if minutes > 5:
                self.feeder_sustained.add(feeder, ended)
        return oid

    def calm_outages(self, d: District) -> None:
        rate = self.calm.outages_per_100k * d.customers_served / 100_000 + 0.4
        for t in self.times(rate, "faults"):
            self.outage(d, t)

    def scheduled_outage(self, d: District, start: float, *, kind: str = "planned", announced_before_h: float,
                         notice_before_h: float | None, hours: float = 4.0, feeder: str | None = None,
                         customers: int | None = None, tag: str = "P") -> str | None:
        """A planned or temporary outage: announced, noticed (or not), carried out, restored."""
        oid = f"{tag}-{d.district_id}-{self._n + 1:06d}"
        end = start + hours * HOUR
        feeder = feeder or self._calm_feeder(d, start, end)
        if feeder is None:
            return None  # every feeder has had its share of outages: the work waits
        if customers is None:
            customers = min(int(self.lognorm(400, 0.6, 20, 2500)), self._customers_room(d, start))
        self.emit(start - announced_before_h * HOUR, "outages", oid, "outage.scheduled", outage_id=oid, kind=kind,
                  district_id=d.district_id, feeder_id=feeder, area_type=d.area_type, customers_affected=customers,
                  scheduled_start=iso(start), scheduled_end=iso(end))
        if notice_before_h is not None:
            self.emit(start - notice_before_h * HOUR, "outages", oid, "outage.notice_published", outage_id=oid,
                      channel=self.rng.choice(["sms", "notice_board", "web"]), customers_notified=customers)
        self.emit(start, "outages", oid, "outage.started", outage_id=oid, kind=kind, district_id=d.district_id,
                  feeder_id=feeder, area_type=d.area_type, customers_affected=customers, cause="maintenance")
        self.district_customers.setdefault(d.district_id, []).append((start, customers))
        self.emit(end, "outages", oid, "outage.restored", outage_id=oid, customers_restored=customers)
        self.feeder_sustained.add(feeder, end)
        return oid

    def calm_scheduled(self, d: District) -> None:
        """Planned work noticed 8-10 days ahead, temporary work 30-40 h ahead (legal minimum 7 d / 24 h)."""
        for kind, per_week, announce, notice in (("planned", self.calm.planned_per_week, (12, 16), (8, 10)),
                                                 ("temporary", self.calm.temporary_per_week, (2, 3), (1.25, 1.6))):
            for t in self.times(per_week / 7, "office"):
                local = datetime.fromtimestamp(t, LOCAL)
                start = datetime(local.year, local.month, local.day, 9, tzinfo=LOCAL).timestamp()
                announced = start - self.rng.uniform(*announce) * DAY
                if announced < self.start or start + 8 * HOUR > self.end:
                    continue  # its announcement would fall before the stream: leave it out
                self.scheduled_outage(d, start, kind=kind, announced_before_h=(start - announced) / HOUR,
                                      notice_before_h=self.rng.uniform(*notice) * 24,
                                      hours=self.rng.choice([3, 4, 5, 6]))

    # --- service quality ----------------------------------------------------------

    def complaint(self, d: District, ts: float, category: str, staff_id: str | None = None,
                  ticket_id: str | None = None) -> None:
        self.emit(ts, "service", d.district_id, "complaint.received", complaint_id=f"CP-{self._n + 1:06d}",
                  district_id=d.district_id, category=category, staff_id=staff_id, ticket_id=ticket_id,
                  customer_id=f"CU-{d.district_id}-{self.rng.randint(1, d.customers_served)}")
        self.district_complaints.add(d.district_id, ts)
        if staff_id:
            self.staff_named.add(staff_id, ts)
        if category == "billing_error":
            self.district_billing_errors.add(d.district_id, ts)

    def calm_complaints(self, d: District) -> None:
        rate = self.calm.complaints_per_100k * d.customers_served / 100_000 + 0.3
        for t in self.times(rate, "office"):
            if self.district_complaints.count(d.district_id, t - DAY, t + DAY) >= 3:
                continue  # a calm district never has a busy complaint day
            category = self.rng.choices(["repair_delay", "outage_notice", "service_attitude", "billing_error",
                                         "metering", "other"], [25, 15, 20, 15, 10, 15])[0]
            if category == "billing_error" and self.district_billing_errors.count(d.district_id, t - 8 * DAY,
                                                                                  t + 8 * DAY) >= 2:
                category = "other"
            staff = None
            if category == "service_attitude":
                free = [s for s in d.staff_ids() if s not in self.reserved_staff
                        and self.staff_named.count(s, t - 31 * DAY, t + 31 * DAY) < 1]
                staff = self.rng.choice(free) if free else None
            self.complaint(d, t, category, staff)

    def alarm(self, d: District, ts: float, kind: str, account_id: str | None = None,
              meter_id: str | None = None) -> None:
        if meter_id is None:
            meter_id = f"M-{account_id}" if account_id else f"M-{d.district_id}-{self.rng.randint(1, 99999):05d}"
        self.emit(ts, "service", d.district_id, "meter.alarm", meter_id=meter_id, district_id=d.district_id,
                  alarm=kind, account_id=account_id)

    def calm_alarms(self, d: District) -> None:
        rate = self.calm.alarms_per_10k * d.customers_served / 10_000 + 2
        accounts = [a for a in self.utility.accounts[d.district_id] if a.account_id not in self.reserved_accounts]
        for t in self.times(rate, "alarms"):
            kind = self.rng.choices(["communication_loss", "clock_error", "voltage_loss", "reverse_energy",
                                     "zero_consumption", "tamper"], [45, 20, 20, 5, 7, 3])[0]
            account = self.rng.choice(accounts).account_id if self.rng.random() < 0.3 else None
            if kind in TAMPER_KINDS:
                if account is None:
                    account = self.rng.choice(accounts).account_id
                seen = self.tamper_signs.get(account)
                if seen and seen[1] != kind and t - seen[0] < 8 * DAY:
                    kind = seen[1]  # a calm account shows one sign of tampering at most
                self.tamper_signs[account] = (t, kind)
            self.alarm(d, t, kind, account)

    # --- billing ------------------------------------------------------------------

    def bill(self, account: Account, issued: float, period: str, amount: float, due_days: int = 20) -> tuple[str, date]:
        bill_id = f"B-{account.account_id}-{period}"
        due = local_date(issued) + timedelta(days=due_days)
        self.emit(issued, "billing", account.account_id, "bill.issued", account_id=account.account_id,
                  bill_id=bill_id, district_id=account.district_id, customer_class=account.customer_class,
                  amount=money(amount), due_date=due.isoformat(), period=period)
        return bill_id, due

    def pay(self, account: Account, ts: float, amount: float, bill_id: str | None = None) -> None:
        self.emit(ts, "billing", account.account_id, "payment.received", account_id=account.account_id,
                  bill_id=bill_id, amount=money(amount))

    def calm_billing(self, d: District) -> None:
        """Monthly bills on the 3rd; most pay before the due date, some a few days late, a few small ones never."""
        if not self.calm.billing:
            return
        day = local_date(self.start)
        last = local_date(self.end)
        while day <= last:
            if day.day == 3:
                issued = datetime(day.year, day.month, day.day, 6, tzinfo=LOCAL).timestamp()
                prev = day.replace(day=1) - timedelta(days=1)
                period = f"{prev.year:04d}-{prev.month:02d}"
                for a in self.utility.accounts[d.district_id]:
                    if a.account_id in self.reserved_accounts:
                        continue
                    amount = a.monthly_cny * self.rng.uniform(0.8, 1.2)
                    bill_id, due = self.bill(a, issued + self.rng.uniform(0, 4) * HOUR, period, amount)
                    due_ts = datetime(due.year, due.month, due.day, 12, tzinfo=LOCAL).timestamp()
                    r = self.rng.random()
                    if a.customer_class == "residential" and r < 0.04:
                        continue  # a small account that does not pay this month
                    if r < 0.75 or a.customer_class in ("industrial", "public"):
                        paid = self.rng.uniform(issued + DAY, due_ts)
                    else:
                        paid = due_ts + self.rng.uniform(1, 8) * DAY
                    self.pay(a, paid, round(amount, 2), bill_id)
            day += timedelta(days=1)

    # --- all calm streams ---------------------------------------------------------

    def calm_district(self, d: District) -> None:
        self.calm_outages(d)
        self.calm_tickets(d)
        self.calm_scheduled(d)
        self.calm_complaints(d)
        self.calm_alarms(d)
        self.calm_billing(d)

    def calm_everywhere(self) -> None:
        for d in self.utility.districts.values():
            self.calm_district(d)


def start_of(day: str) -> float:
    """00:00 local time of an ISO date, as epoch seconds."""
    d = date.fromisoformat(day)
    return datetime(d.year, d.month, d.day, tzinfo=LOCAL).timestamp()


def utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


