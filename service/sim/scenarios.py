"""Named scenarios: the calm utility plus known incidents, with their ground truth.

Each scenario picks the districts it disturbs; every other district is
"quiet": it keeps its calm everyday streams (model.py) and must raise no
warning. The ground truth is computed by the oracle in truth.py from the
whole generated stream, so it lists every warning the stream calls for and
the exact earliest moment (per docs/rules.md and the shipped thresholds); the
calm guards make that list the injected incidents' warnings.

    scenario = build("storm", seed=7)
    scenario.stream     # [(epoch, role, key, event), ...] time-ordered
    scenario.truth      # [{"rule_id", "scope", "district_id", "earliest", ...}, ...]
    scenario.quiet      # districts where no warning may fire
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .model import DAY, DEFAULT_DISTRICTS, HOUR, LOCAL, MIN, Calm, District, Simulator, Utility, start_of
from .truth import ground_truth

START_DAY = "2026-03-02"  # a Monday


@dataclass
class Scenario:
    name: str
    seed: int
    description: str
    start: float
    end: float
    stream: list[tuple[float, str, str, dict]]
    truth: list[dict]
    incident_districts: list[str]
    quiet: list[str]
    reference: dict = field(default_factory=dict)
    incidents: list[str] = field(default_factory=list)  # one line per injected incident

    def truth_document(self) -> dict:
        return {"scenario": self.name, "seed": self.seed, "description": self.description,
                "start": datetime.fromtimestamp(self.start, LOCAL).isoformat(),
                "end": datetime.fromtimestamp(self.end, LOCAL).isoformat(), "start_epoch": self.start,
                "end_epoch": self.end, "incident_districts": self.incident_districts, "quiet_districts": self.quiet,
                "incidents": self.incidents, "reference": self.reference, "expected": self.truth}

    def write(self, events_path: str | None = None, truth_path: str | None = None) -> None:
        if events_path:
            with open(events_path, "w") as f:
                for ts, role, key, event in self.stream:
                    f.write(json.dumps({"ts": ts, "role": role, "key": key, "event": event}, ensure_ascii=False) + "\n")
        if truth_path:
            with open(truth_path, "w") as f:
                json.dump(self.truth_document(), f, indent=2, ensure_ascii=False)


def read_events(path: str) -> list[tuple[float, str, str, dict]]:
    """The stream written by `Scenario.write` (one JSON object a line)."""
    out = []
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                out.append((r["ts"], r["role"], r["key"], r["event"]))
    return out


def at(start: float, day: float, hh: int = 0, mm: int = 0) -> float:
    return start + day * DAY + hh * HOUR + mm * MIN


# --- incidents ------------------------------------------------------------------------


def _crew_queue(sim: Simulator, d: District, created: list[float], crews: list[str], travel_median: float,
                repair_median: float) -> list[tuple[float, float, str]]:
    """Tickets served first come first served by a few crews: (arrival minutes, repair minutes, crew)."""
    free = {c: 0.0 for c in crews}
    out = []
    for t in created:
        crew = min(free, key=lambda c: (free[c], c))
        leave = max(t + sim.rng.uniform(3, 8) * MIN, free[crew])
        travel = sim.lognorm(travel_median, 0.3, 10, 3 * travel_median) * MIN
        repair = sim.lognorm(repair_median, 0.4, 20, 5 * repair_median) * MIN
        free[crew] = leave + travel + repair
        out.append(((leave + travel - t) / MIN, repair / MIN, crew))
    return out


def storm(sim: Simulator, u: Utility) -> list[str]:
    d = u.districts["east"]
    storm_feeders = d.feeder_ids()[:10]
    sim.reserved_feeders |= set(storm_feeders)
    sim.calm_everywhere()
    begin = at(sim.start, 2, 15)
    starts = sorted(begin + sim.rng.uniform(0, 3 * HOUR) for _ in range(45))
    plan = _crew_queue(sim, d, [t + 2 * MIN for t in starts], d.crew_ids(), 35, 70)
    for t, (arrival, repair, crew) in zip(starts, plan, strict=True):
        sim.outage(d, t, feeder=sim.rng.choice(storm_feeders), customers=int(sim.lognorm(600, 0.7, 50, 4000)),
                   arrival_min=arrival, repair_min=repair, crew=crew, cause="wind storm", tag="OS")
    return [f"east: 45 unplanned outages in 3 h from {datetime.fromtimestamp(begin, LOCAL):%m-%d %H:%M}, "
            f"4 crews queueing"]


def crew_shortage(sim: Simulator, u: Utility) -> list[str]:
    d = u.districts["west"]
    sim.calm_everywhere()
    begin = at(sim.start, 1, 7)
    created = sorted(begin + sim.rng.uniform(0, 12 * HOUR) for _ in range(22))
    plan = _crew_queue(sim, d, created, d.crew_ids()[:2], 40, 60)
    for t, (arrival, repair, crew) in zip(created, plan, strict=True):
        sim.ticket(d, t, arrival_min=arrival, repair_min=repair, crew=crew, tag="TS")
    return ["west: 22 tickets in 12 h with only 2 of 4 crews on duty"]


def late_notices(sim: Simulator, u: Utility) -> list[str]:
    d = u.districts["centre"]
    feeders = d.feeder_ids()[:6]
    sim.reserved_feeders |= set(feeders)
    sim.calm_everywhere()
    delays = [12, 17, 24, 41, None, None]
    for i, (feeder, delay) in enumerate(zip(feeders, delays, strict=True)):
        t = at(sim.start, 1, 8 + 2 * i, 7 * i)
        sim.outage(d, t, feeder=feeder, notice=delay is not None, notice_min=delay, tag="OL")
    return ["centre: 6 unplanned outages, notices after 12, 17, 24 and 41 min, 2 never noticed"]


def short_notice(sim: Simulator, u: Utility) -> list[str]:
    d = u.districts["north"]
    feeders = d.feeder_ids()[:3]
    sim.reserved_feeders |= set(feeders)
    sim.calm_everywhere()
    s1 = at(sim.start, 10, 9)
    sim.scheduled_outage(d, s1, kind="planned", announced_before_h=(s1 - at(sim.start, 1, 10)) / HOUR,
                         notice_before_h=48, feeder=feeders[0], tag="PS")
    s2 = at(sim.start, 4, 14)
    sim.scheduled_outage(d, s2, kind="temporary", announced_before_h=29, notice_before_h=6, feeder=feeders[1],
                         hours=3, tag="PS")
    s3 = at(sim.start, 9, 9)
    sim.scheduled_outage(d, s3, kind="planned", announced_before_h=(s3 - at(sim.start, 1, 11)) / HOUR,
                         notice_before_h=None, feeder=feeders[2], tag="PS")
    return ["north: planned outage noticed 2 days ahead (7 required)",
            "north: temporary outage noticed 6 h ahead (24 required)",
            "north: planned outage started with no notice at all"]


def bankrupt_customer(sim: Simulator, u: Utility) -> list[str]:
    d = u.districts["east"]
    big = next(a for a in u.accounts["east"] if a.customer_class == "industrial")
    shop = next(a for a in u.accounts["east"] if a.customer_class == "commercial")
    sim.reserved_accounts |= {big.account_id, shop.account_id}
    sim.calm_everywhere()
    issued = at(sim.start, 0, 6, 30)
    sim.bill(big, issued, "2026-02", 186_400.00, due_days=15)
    sim.bill(big, issued + 31 * DAY, "2026-03", 95_120.50, due_days=15)
    sim.emit(at(sim.start, 25, 10), "billing", big.account_id, "account.risk_flagged", account_id=big.account_id,
             flag="bankruptcy", district_id=d.district_id, note="court accepted bankruptcy application")
    sim.emit(at(sim.start, 8, 16), "billing", shop.account_id, "account.risk_flagged", account_id=shop.account_id,
             flag="liquidation", district_id=d.district_id, note="liquidation group notice")
    sim.bill(shop, issued + 31 * DAY, "2026-03", 3_812.40)
    return ["east: industrial account with 186 400 CNY unpaid flagged bankrupt on day 25, a second bill unpaid",
            "east: commercial account flagged for liquidation on day 8, then billed 3 812.40 CNY"]


def complaint_surge(sim: Simulator, u: Utility) -> list[str]:
    d = u.districts["centre"]
    sim.calm_everywhere()
    begin = at(sim.start, 8, 9)
    for i in range(16):
        t = begin + sim.rng.uniform(0, 6 * HOUR)
        category = ["repair_delay"] * 8 + ["outage_notice"] * 6 + ["other"] * 2
        sim.complaint(d, t, category[i])
    return ["centre: 16 complaints in 6 h on day 8 (calm: under 3 a day)"]


def staff_complaints(sim: Simulator, u: Utility) -> list[str]:
    d = u.districts["west"]
    staff = d.staff_ids()[2]
    sim.reserved_staff.add(staff)
    sim.calm_everywhere()
    for day, hh in ((1, 10), (3, 15), (5, 11), (7, 16), (8, 10)):
        sim.complaint(d, at(sim.start, day, hh, sim.rng.randint(0, 59)), "service_attitude", staff_id=staff)
    return [f"west: staff {staff} named in 5 complaints in 8 days"]


def skipped_followups(sim: Simulator, u: Utility) -> list[str]:
    d = u.districts["north"]
    sim.calm_everywhere()
    for i in range(6):
        sim.ticket(d, at(sim.start, 1, 8 + i, 13 * i), follow=False, tag="TF")
    for i in range(3):
        sim.ticket(d, at(sim.start, 1, 15 + i), followup_h=30 + 4 * i, tag="TF")
    return ["north: 6 completed tickets never followed up, 3 followed up after 30-38 h"]


def meter_tamper(sim: Simulator, u: Utility) -> list[str]:
    hills, east = u.districts["hills"], u.districts["east"]
    suspect = u.accounts["hills"][0]
    sim.reserved_accounts.add(suspect.account_id)
    sim.calm_everywhere()
    sim.alarm(hills, at(sim.start, 1, 2, 14), "zero_consumption", suspect.account_id)
    sim.alarm(hills, at(sim.start, 2, 14, 41), "reverse_energy", suspect.account_id)
    sim.alarm(hills, at(sim.start, 3, 9, 5), "tamper", suspect.account_id)
    begin = at(sim.start, 2, 3)
    for _ in range(35):
        sim.alarm(east, begin + sim.rng.uniform(0, 40 * MIN), "communication_loss",
                  meter_id=f"M-east-conc07-{sim.rng.randint(1, 400):03d}")
    return [f"hills: account {suspect.account_id} shows zero consumption, then reverse energy, then a tamper alarm",
            "east: a concentrator drops 35 meters in 40 min (communication loss)"]


def baseline(sim: Simulator, u: Utility) -> list[str]:
    sim.calm_everywhere()
    return []


@dataclass(frozen=True)
class Spec:
    build: Callable[[Simulator, Utility], list[str]]
    days: float
    districts: tuple[str, ...]
    description: str
    volume: float = 1.0  # calm volume factor (long billing scenarios run lighter)
    only: tuple[str, ...] = ()  # the utility's districts, when not all (keeps long scenarios fast)


SCENARIOS: dict[str, Spec] = {
    "baseline": Spec(baseline, 7, (), "calm operation everywhere: no warning should fire"),
    "storm": Spec(storm, 4, ("east",), "outage burst in a rural district, crews overloaded"),
    "crew_shortage": Spec(crew_shortage, 3, ("west",), "half the crews of one district off duty on a busy day"),
    "late_notices": Spec(late_notices, 3, ("centre",), "late and missing unplanned outage notices"),
    "short_notice": Spec(short_notice, 11, ("north",), "planned and temporary outages announced too late"),
    "bankrupt_customer": Spec(bankrupt_customer, 46, ("east",),
                              "industrial account with large arrears goes bankrupt", volume=0.2,
                              only=("east", "west", "hills")),
    "complaint_surge": Spec(complaint_surge, 10, ("centre",), "a day of many complaints after a week of calm"),
    "staff_complaints": Spec(staff_complaints, 10, ("west",), "one staff member collects complaints"),
    "skipped_followups": Spec(skipped_followups, 4, ("north",), "repairs never or late followed up"),
    "meter_tamper": Spec(meter_tamper, 4, ("hills", "east"), "tamper signs at one account; a concentrator failure"),
}


def build(name: str, seed: int = 1, start_day: str = START_DAY) -> Scenario:
    if name not in SCENARIOS:
        raise KeyError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
    spec = SCENARIOS[name]
    utility = Utility.build(seed, tuple(d for d in DEFAULT_DISTRICTS if not spec.only or d.district_id in spec.only))
    start = start_of(start_day)
    sim = Simulator(utility, start, spec.days, seed, name=name, calm=Calm().scaled(spec.volume))
    incidents = spec.build(sim, utility)
    stream = sim.stream()
    reference = utility.reference()
    truth = ground_truth(stream, reference, until=sim.end)
    quiet = [d for d in utility.districts if d not in spec.districts]
    for t in truth:
        t["incident"] = t["district_id"] in spec.districts
    return Scenario(name, seed, spec.description, sim.start, sim.end, stream, truth, list(spec.districts), quiet,
                    reference, incidents)
