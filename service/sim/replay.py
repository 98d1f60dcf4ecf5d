"""Real outage records mapped to contract events, for replays (docs/replays.md).

Three sources, read from a data folder beside the repository (`../shared/data`)
or from a file named on the command line; only a public-domain sample of the
third ships with the repository (`samples/`, see its NOTICE.md):

- BC Hydro's public outage map as a change log (OUTAGE_OPENED / UPDATED /
  CLOSED per poll): outages, their public notice (first appearance on the
  map) and the crew status of each outage as a repair ticket.
- The Purdue data set of major U.S. outages 2000-2016: one outage per row.
- The DOE OE-417 electric emergency and disturbance summaries 2015-2022: one
  outage per row that records a loss of supply.

All return `Replay(stream, stats)`: the time-ordered (epoch, topic role, key,
event) stream the simulator also produces, and counts of what was mapped and
skipped. A missing file raises FileNotFoundError naming the path and where
the data comes from.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
BCHYDRO_FILE = SHARED_DATA / "bchydro" / "bchydro_events_2024-11-15_2024-11-29.jsonl.gz"
PURDUE_FILE = SHARED_DATA / "purdue" / "outage.csv"
OE417_FILE = SHARED_DATA / "oe417" / "oe417_2015_2022_normalized.csv"
SAMPLES = Path(__file__).resolve().parent / "samples"
# The 387 OE-417 summaries of 2021, public domain (samples/NOTICE.md): a replay that needs nothing else.
OE417_SAMPLE = SAMPLES / "oe417_2021.csv"

# Where each full data set comes from, for the message when it is missing.
ORIGINS = {
    BCHYDRO_FILE.name: "BC Hydro's public outage map (bchydro.com/outages), polled by the git-scraping project "
                       "github.com/outages/bchydro-outages; turned into a change log of OUTAGE_OPENED / UPDATED / "
                       "CLOSED lines (docs/replays.md). Owned by BC Hydro, no open licence: not shipped",
    PURDUE_FILE.name: "Mukherjee, Nateghi, Hastak, 'A multi-hazard approach to assess severe weather-induced major "
                      "power outage risks in the U.S.', Data in Brief 19 (2018), its supplementary outage.csv: "
                      "not shipped",
    OE417_FILE.name: "U.S. DOE OE-417 Electric Disturbance Events annual summaries "
                     "(www.oe.netl.doe.gov/OE417_annual_summary.aspx), normalised to ISO timestamps; a sample of "
                     "2021 ships in service/sim/samples",
}

# BC Hydro regions by how far crews travel: the SLA area type of the district.
REGION_AREA = {"Lower Mainland": "urban", "South VI": "rural", "North VI": "rural", "Okanagan/Kootenay": "rural",
               "Thompson/Shuswap": "rural", "Central Interior": "remote", "Northern": "remote"}
CREW_RANK = {"NEW": 0, "SUSPENDED": 0, "ASSIGNED": 1, "ENROUTE": 2, "ONSITE": 3}


@dataclass
class Replay:
    stream: list[tuple[float, str, str, dict]]
    stats: Counter = field(default_factory=Counter)

    def count(self, type_: str) -> int:
        return sum(1 for _, _, _, e in self.stream if e["type"] == type_)


def _need(path: Path | str) -> Path:
    path = Path(path)
    if not path.is_file():
        origin = ORIGINS.get(path.name)
        raise FileNotFoundError(f"replay data not found: {path} (the data folder ../shared/data is not part of "
                                f"this repository" + (f"; the data: {origin}" if origin else "") +
                                "; name a copy with --file)")
    return path


def slug(text: str, limit: int = 64) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")
    return (s or "unknown")[:limit]


def _ts(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text).timestamp()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class _Out:
    def __init__(self, prefix: str):
        self.prefix = prefix
        self.events: list[tuple[float, int, str, str, dict]] = []

    def add(self, ts: float, role: str, key: str, type_: str, suffix: str, **fields) -> None:
        event = {"event_id": f"{self.prefix}-{key}-{suffix}"[:128], "type": type_, "occurred_at": _iso(ts),
                 "source": self.prefix, **{k: v for k, v in fields.items() if v is not None}}
        self.events.append((ts, len(self.events), role, key, event))

    def stream(self) -> list[tuple[float, str, str, dict]]:
        return [(ts, role, key, e) for ts, _, role, key, e in sorted(self.events, key=lambda x: (x[0], x[1]))]


def bchydro(path: Path | str = BCHYDRO_FILE) -> Replay:
    """BC Hydro outage-map change log -> outages, notices and repair tickets.

    - OUTAGE_OPENED: outage.started (unplanned) at `dateOff`; district = the
      municipality; its public notice (outage.notice_published, channel web)
      at the poll that first showed it, so the notice delay is the real time
      to the public map. Outages already open at the log's first poll have
      no known first appearance: no notice for them.
    - Each outage is one repair ticket: ticket.created at `dateOff`,
      ticket.dispatched at the first poll showing ASSIGNED or ENROUTE,
      ticket.arrived at the first poll showing ONSITE (at `lastUpdated` when
      that lies between the previous poll and this one, the better time).
    - OUTAGE_CLOSED: outage.restored and ticket.completed at `dateOn` when an
      update carried it, else at the poll that no longer showed the outage.
    """
    stats: Counter = Counter()
    out = _Out("bch")
    outages: dict[int, dict] = {}
    first_poll = None
    prev_poll = None
    with gzip.open(_need(path), "rt") as f:
        for line in f:
            r = json.loads(line)
            o, kind, poll = r["outage"], r["event"], _ts(r["poll_ts"])
            first_poll = poll if first_poll is None else first_poll
            if prev_poll is None or poll > prev_poll:
                last_poll, prev_poll = prev_poll, poll
            stats[kind] += 1
            oid = o["id"]
            if kind == "OUTAGE_OPENED":
                off = _ts(o.get("dateOff")) or poll
                region = o.get("regionName") or "unknown"
                district = slug(o.get("municipality") or region)
                area = REGION_AREA.get(region, "rural")
                key = f"bch-{oid}"
                if oid in outages:  # shown again after it closed: a new outage at the same place
                    stats["reopened"] += 1
                    key = f"bch-{oid}-r{stats['reopened']}"
                s = outages[oid] = {"key": key, "district": district, "area": area, "rank": -1, "off": off,
                                    "closed": False, "dateOn": None}
                customers = max(int(o.get("numCustomersOut") or 0), 0)
                out.add(min(off, poll), "outages", key, "outage.started", "started", outage_id=key,
                        kind="unplanned", district_id=district, feeder_id=f"{district[:23]}:{slug(o.get('area'), 40)}",
                        area_type=area, customers_affected=customers, cause=(o.get("cause") or None))
                if poll > first_poll:
                    out.add(max(poll, off), "outages", key, "outage.notice_published", "notice", outage_id=key,
                            channel="web", customers_notified=customers)
                    stats["notices"] += 1
                else:
                    stats["open_at_first_poll"] += 1
                s["ticket"] = tid = key.replace("bch-", "bch-t-", 1)
                out.add(min(off, poll), "tickets", tid, "ticket.created", "created", ticket_id=tid,
                        district_id=district, area_type=area, category="no_power", priority="normal",
                        channel="hotline", outage_id=key)
            s = outages.get(oid)
            if s is None:
                stats["unknown_outage"] += 1
                continue
            if kind in ("OUTAGE_OPENED", "OUTAGE_UPDATED"):
                s["dateOn"] = _ts(o.get("dateOn")) or s["dateOn"]
                rank = CREW_RANK.get(o.get("crewStatus"), -1)
                updated = _ts(o.get("lastUpdated"))
                at = updated if updated is not None and (last_poll or s["off"]) <= updated <= poll else poll
                at = max(at, s["off"])
                tid = s["ticket"]
                if rank >= 1 and s["rank"] < 1:
                    out.add(at, "tickets", tid, "ticket.dispatched", "dispatched", ticket_id=tid,
                            crew_id=f"bch-crew-{oid}")
                if rank >= 3 and s["rank"] < 3:
                    out.add(at, "tickets", tid, "ticket.arrived", "arrived", ticket_id=tid, crew_id=f"bch-crew-{oid}")
                s["rank"] = max(s["rank"], rank)
            elif kind == "OUTAGE_CLOSED" and not s["closed"]:
                s["closed"] = True
                end = s["dateOn"] if s["dateOn"] and s["off"] <= s["dateOn"] <= poll else poll
                out.add(end, "outages", s["key"], "outage.restored", "restored", outage_id=s["key"])
                out.add(end, "tickets", s["ticket"], "ticket.completed", "completed", ticket_id=s["ticket"])
    stats["outages"] = stats["OUTAGE_OPENED"]
    return Replay(out.stream(), stats)


def _purdue_time(day: str, clock: str) -> datetime | None:
    if not day or not clock:
        return None
    try:
        d = datetime.strptime(day.strip()[:10], "%Y-%m-%d")
        t = datetime.strptime(clock.strip(), "%H:%M:%S")
    except ValueError:
        return None
    return d.replace(hour=t.hour, minute=t.minute, second=t.second, tzinfo=UTC)


def purdue(path: Path | str = PURDUE_FILE) -> Replay:
    """Purdue major U.S. outages -> outage.started / outage.restored, district = the state.

    The header is the 6th line and a units line follows it. Times have no
    time zone: they are read as UTC wall-clock times (consistent within a
    row, which is what durations need). Rows lacking a start or restoration
    time are skipped. Where the wall-clock difference is exactly 60 min off
    the reported duration (a daylight-saving change during the outage), the
    restoration is start + reported duration.
    """
    stats: Counter = Counter()
    out = _Out("purdue")
    with open(_need(path), newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    header = rows[5]
    col = {name: i for i, name in enumerate(header)}
    for row in rows[7:]:
        if not any(cell.strip() for cell in row):
            continue

        def get(name: str, row=row) -> str:
            i = col.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        stats["rows"] += 1
        start = _purdue_time(get("OUTAGE.START.DATE"), get("OUTAGE.START.TIME"))
        end = _purdue_time(get("OUTAGE.RESTORATION.DATE"), get("OUTAGE.RESTORATION.TIME"))
        if start is None or end is None:
            stats["skipped_missing_time"] += 1
            continue
        try:
            duration = float(get("OUTAGE.DURATION")) if get("OUTAGE.DURATION") else None
        except ValueError:
            duration = None
        wall = (end - start).total_seconds() / 60
        if duration is not None and abs(abs(wall - duration) - 60) < 1e-6:
            end = start + timedelta(minutes=duration)
            stats["dst_adjusted"] += 1
        if end < start:
            stats["skipped_negative_duration"] += 1
            continue
        state = get("POSTAL.CODE") or slug(get("U.S._STATE"))
        try:
            customers = max(int(float(get("CUSTOMERS.AFFECTED"))), 0)
        except ValueError:
            customers = 0
        try:
            area = "urban" if float(get("POPPCT_URBAN")) >= 80 else "rural"
        except ValueError:
            area = "rural"
        key = f"purdue-{get('OBS') or stats['rows']}"
        cause = get("CAUSE.CATEGORY") or None
        out.add(start.timestamp(), "outages", key, "outage.started", "started", outage_id=key, kind="unplanned",
                district_id=f"US-{state}", feeder_id=f"US-{state}-{slug(get('NERC.REGION') or 'grid', 20)}",
                area_type=area, customers_affected=customers, cause=cause)
        out.add(end.timestamp(), "outages", key, "outage.restored", "restored", outage_id=key,
                customers_restored=customers or None)
        stats["outages"] += 1
    return Replay(out.stream(), stats)


US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA", "Colorado": "CO",
    "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS",
    "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA",
    "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT",
    "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM",
    "New York": "NY", "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK",
    "Oregon": "OR", "Pennsylvania": "PA", "Puerto Rico": "PR", "Rhode Island": "RI", "South Carolina": "SC",
    "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA",
    "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
}
# A state's name, or its postal code in capitals ("Delaware County, PA"), but not
# a county, parish or city named after a state ("Delaware County", "Colorado Springs").
_US_STATE = re.compile(
    r"\b(" + "|".join(sorted([re.escape(n) for n in US_STATES] + list(US_STATES.values()), key=len, reverse=True))
    + r")\b(?!\s+(?:County|Counties|Parish|City|Springs)\b)")


def us_states(area: str) -> list[str]:
    """Postal codes of the U.S. states (and DC, Puerto Rico) an area names, in order, once each."""
    out: list[str] = []
    for m in _US_STATE.finditer(area or ""):
        code = US_STATES.get(m.group(1), m.group(1))
        if code not in out:
            out.append(code)
    return out


# Regional entities reported under an older name in earlier years.
NERC_RENAMED = {"RFC": "RF", "SPP RE": "SPP"}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None  # "Unknown" or empty


def oe417(path: Path | str = OE417_FILE) -> Replay:
    """DOE OE-417 summaries -> outage.started / outage.restored, district = the first state named.

    A row becomes an outage only if it records a loss of supply (customers
    affected or demand lost above 0): threats, attacks without loss, public
    appeals, fuel and cyber events and control-centre failures are not
    interruptions. Rows without a restoration time, with the restoration
    before the start, naming no U.S. state, or repeating an earlier row's
    district, times and customers are skipped and counted. Times have no time
    zone: read as UTC wall-clock times, as for Purdue.
    """
    stats: Counter = Counter()
    out = _Out("oe417")
    seen: set[tuple] = set()
    with open(_need(path), newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    for n, row in enumerate(rows, 1):
        stats["rows"] += 1
        customers, lost_mw = _number(row.get("customers_affected")), _number(row.get("demand_loss_mw"))
        if not ((customers or 0) > 0 or (lost_mw or 0) > 0):
            stats["skipped_no_interruption"] += 1
            continue
        began, restored = _ts(row.get("event_began")), _ts(row.get("restored"))
        if began is None or restored is None:
            stats["skipped_missing_time"] += 1
            continue
        if restored < began:
            stats["skipped_negative_duration"] += 1
            continue
        states = us_states(row.get("area", ""))
        if not states:
            stats["skipped_no_state"] += 1
            continue
        customers_affected = int(customers) if customers and customers > 0 else 0
        identity = (states[0], began, restored, customers_affected)
        if identity in seen:
            stats["skipped_duplicate"] += 1
            continue
        seen.add(identity)
        stats["multi_state"] += len(states) > 1
        stats["customers_unknown"] += customers is None
        key = f"oe417-{n}"
        region = (row.get("nerc_region") or "").strip()
        nerc = slug(NERC_RENAMED.get(region, region) or "grid", 20)
        out.add(began, "outages", key, "outage.started", "started", outage_id=key, kind="unplanned",
                district_id=f"US-{states[0]}", feeder_id=f"US-{states[0]}-{nerc}", area_type="rural",
                customers_affected=customers_affected, cause=row.get("event_type") or None)
        out.add(restored, "outages", key, "outage.restored", "restored", outage_id=key,
                customers_restored=customers_affected or None)
        stats["outages"] += 1
    return Replay(out.stream(), stats)
