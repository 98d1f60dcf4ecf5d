"""The engine: applies an event or a clock tick to one subject's state.

A state value holds one subject's facts, each rule's own state (its window
buckets), the state of every warning about the subject, and a little
bookkeeping (its shape: state.py). The engine folds the event into the facts,
lets the rules observing its type observe it, evaluates the rules it reaches or
whose time has come, applies their decisions to the warning states in one
transaction, renders the state changes as warning messages, and derives
internal events for other subjects. It returns the new state, the messages, the derived events and
when the key next needs a tick. The shell persists and publishes; it decides
nothing.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from . import subjects
from .clock import AGGREGATE_KINDS
from .fingerprint import DIGEST_CHARS, fingerprint, id_digest, remembers, warning_id
from .notify import STATE_BUDGET_BYTES
from .reference import District, reference_facts
from .rulebook import RuleBook, RuleConfig
from .rules.base import Rule
from .state import SUBJECT_VERSION, Transaction, migrate_subject
from .timefmt import to_rfc3339
from .warning_state import Transition, WarningState, acknowledge, applied, close, escalate_unacknowledged, step

DAY = 86400.0
HOUR = 3600.0
# What a subject remembers of the events it applied, to drop a producer's resend (README):
# the ids of its last RECENT_IDS arrivals, whatever their dates (a batch read again after a
# crash), and of up to DATED_IDS events dated within `dated_seconds` of its newest event (a
# window can still count those), by hour, the earliest-dated forgotten first.
RECENT_IDS = 256
DATED_IDS = 2048
GROWTH_BYTES = 16 * 1024  # the most one event or tick adds to a subject other than an account
MAX_ACCOUNT_ENTRIES = 500  # bills and payments an account keeps before dropping its oldest settled ones
MAX_OPEN_SECONDS = 30 * DAY  # an open ticket or outage is closed this long after it opened
LAPSED = "max_open_days"  # the reason a warning of a closed entity gives for its resolve
# A rule is skipped only this far (seconds) before its quiet time ends: a float rounding at the
# boundary then costs an evaluation that changes nothing, never a decision missed.
QUIET_MARGIN = 1e-3
# A clock not known yet is -inf (a worker before every input partition has said how far it is);
# JSON has no -inf (orjson writes null), so the time a rule's quiet time was worked out at is kept
# as this instead: before every real time, and equal only to itself, as -inf is.
UNKNOWN_CLOCK = -1e300


class StateTooLarge(Exception):
    """Applying the event would make the subject's state larger than a state may be.

    The state is left as it was before the event; the shell dead-letters the event
    (reason `state_too_large`) instead of writing a record Kafka would refuse.
    """


@dataclass(slots=True)
class Result:
    state: dict | None  # None: the subject is finished and its key can be deleted
    warnings: list[dict] = field(default_factory=list)
    derived: list[tuple[str, dict]] = field(default_factory=list)  # (state key, internal event)
    wake_at: float | None = None  # when the key next needs a tick
    duplicate: bool = False  # the event was seen before; nothing changed
    late: int = 0  # observations that arrived after their window was decided
    stats: list[tuple[str, str, float]] = field(default_factory=list)  # (statistic, district, value)
    unchanged: bool = False  # a tick left the state as it was and said nothing: no write needed


# Rule metrics that are also a district's key statistics for dashboards.
STATISTICS = {
    "p90_arrival_minutes": "arrival_p90_minutes",
    "collection_rate": "collection_rate_ratio",
    "complaints_24h": "complaints_24h",
}


def kind_of(key: str) -> str:
    return key.split(":", 1)[0]


def _config_digest(rc: RuleConfig) -> str:
    """A short digest of what a rule is configured with: a state's quiet times hold under it only."""
    # canonical JSON: the same digest in every process (a set's order, a repr's, would vary)
    config = [rc.enabled, rc.params.model_dump(), {d: p.model_dump() for d, p in rc.district_params.items()},
              rc.district_enabled, rc.escalate_after_seconds]
    text = orjson.dumps(config, default=_canonical, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(text, digest_size=6).hexdigest()


def _canonical(value):
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError(f"no canonical JSON for {type(value).__name__}")


def new_state(kind: str, ts: float) -> dict:
    return {"v": SUBJECT_VERSION, "kind": kind, "facts": {}, "rules": {}, "warnings": {}, "recent": "", "dated": {},
            "last_ts": ts, "next": {}}


def _remember_dated(dated: dict[str, str], digest: str, ts: float, since: float, keep: int) -> None:
    """Add a digest under its event's hour; drop hours before `since`, then the earliest beyond `keep`."""
    if ts >= since:
        hour = repr(ts - ts % HOUR)
        dated[hour] = dated.get(hour, "") + digest
    if dated and min(map(float, dated)) + HOUR <= since:  # most events find no hour to drop
        for h in [h for h in dated if float(h) + HOUR <= since]:
            del dated[h]
    over = sum(map(len, dated.values())) - keep * DIGEST_CHARS
    for h in sorted(dated, key=float) if over > 0 else ():  # the earliest-dated first
        cut = min(over, len(dated[h]))
        dated[h] = dated[h][cut:]
        over -= cut
        if not dated[h]:
            del dated[h]
        if over <= 0:
            break


class Engine:
    def __init__(self, rulebook: RuleBook, retention_seconds: float = 7 * DAY,
                 districts: dict[str, District] | None = None,
                 storm_districts: Callable[[], set[str]] = set, max_ahead_seconds: float = math.inf,
                 state_budget: int = STATE_BUDGET_BYTES, max_account_entries: int = MAX_ACCOUNT_ENTRIES,
                 dated_ids: int = DATED_IDS, max_open_seconds: float = MAX_OPEN_SECONDS,
                 incremental: bool = True):
        # Finished subjects are kept this long after their last event so that a
        # redelivered or very late event finds them and does not start a stale
        # clock again.
        self.rulebook = rulebook
        self.retention = retention_seconds
        self.districts = districts or {}
        self.storm_districts = storm_districts  # districts currently in storm mode (live state)
        # An event's own time moves its subject's deadlines at most this far past wall time (the
        # allowed clock skew): a future-dated event must not fire every deadline at once.
        self.max_ahead = max_ahead_seconds

        # A state is one Kafka record (1 MiB at most by default): an event that would make it
        # larger is refused (StateTooLarge), not written to fail the worker on every start.
        self.state_budget = state_budget
        self.max_account_entries = max_account_entries
        self.dated_ids = dated_ids
        # how long after its time an event can still be counted: a window's step and lateness
        self.dated_seconds = max([2 * HOUR] + [
            (getattr(p, "step_minutes", 0.0) + getattr(p, "lateness_minutes", 0.0)) * 60
            for rc in rulebook.rules.values() for p in (rc.params, *rc.district_params.values())])
        # A ticket or outage whose closing event never comes (lost, or ids made up by a
        # producer) would otherwise keep its clocks, and any warning firing, for ever.
        self.max_open = max_open_seconds
        # False: every rule evaluated on every event and tick (what incremental evaluation is checked against)
        self.incremental = incremental
        # (kind, event type) -> the rules observing it, in the rulebook's order, and their ids
        self._observing: dict[tuple[str, str], list[RuleConfig]] = {}
        for kind, rcs in rulebook.by_subject.items():
            for rc in rcs:
                if not (rc.enabled or any(rc.district_enabled.values())):
                    continue  # a rule off everywhere keeps no windows: enabled again, it starts afresh
                for event_type in rc.rule.observes:
                    self._observing.setdefault((kind, event_type), []).append(rc)
        # (kind, event type) -> (the ids of the rules an event reaches, the ids of those it leaves quiet
        # though they decide from the facts), filled as types are met (self._reached)
        self._reach: dict[tuple[str, str], tuple[frozenset[str], frozenset[str]]] = {}
        # kind -> per rule what _evaluate asks of it every time: (config, rule, id, own clock, statistic
        # name or None, whether it can say until when it is quiet, the digest of its configuration,
        # whether its parameters or its being enabled differ by district, whether it escalates, whether
        # it can move how far it has decided without evaluating: Rule.advance)
        self._plan = {kind: [(rc, rc.rule, rc.rule.rule_id, rc.rule.own_clock, STATISTICS.get(rc.rule.metric),
                              type(rc.rule).quiet_until is not Rule.quiet_until, _config_digest(rc),
                              bool(rc.district_params or rc.district_enabled), bool(rc.escalate_after_seconds),
                              type(rc.rule).advance is not Rule.advance)
                             for rc in rcs]
                      for kind, rcs in rulebook.by_subject.items()}

    def on_event(self, key: str, state: dict | None, event: dict, ts: float, now: float,
                 wall: float | None = None) -> Result:
        """Apply one event at event time `ts`, on the clock `now` (`wall`: wall time, if known).

        Raises StateTooLarge (the state left as it was) if the event would outgrow a record.

        A state remembers its encoded size when last measured (`size`) and how many changes
        it has had since (`grown`). One event or tick adds at most GROWTH_BYTES to a subject
        other than an account (a bucket, an entry, an id or two: every list is bounded), so
        `size + grown * GROWTH_BYTES` bounds it, and it is measured only when that bound nears
        half the budget. An account's payment can spread over every open bill, so an account
        is measured after every event (its events are few). A state past half the budget is
        copied before the event, to be put back if the event makes it too large.
        """
        kind = kind_of(key)
        state = migrate_subject(state) if state else new_state(kind, ts)
        half = self.state_budget // 2
        before = None
        if state.get("size", 0) + state.get("grown", 0) * GROWTH_BYTES > half - GROWTH_BYTES:
            before = orjson.dumps(state)
            state["size"], state["grown"] = len(before), 0
            if len(before) <= half - GROWTH_BYTES:
                before = None
        result = self._on_event(kind, state, event, ts, now, wall)
        if result.duplicate or result.state is None:
            return result
        state["grown"] = state.get("grown", 0) + 1
        if before is None and kind != "account":
            return result
        size = len(orjson.dumps(state))
        if size > self.state_budget:
            if before is not None:
                state.clear()
                state.update(orjson.loads(before))
            raise StateTooLarge(f"{key}: the event would make its state {size} bytes, over the "
                                f"{self.state_budget}-byte budget; not applied")
        state["size"], state["grown"] = size, 0
        return result

    def _on_event(self, kind: str, state: dict, event: dict, ts: float, now: float, wall: float | None) -> Result:
        digest = id_digest(event["event_id"])
        recent, dated = state["recent"], state["dated"]
        if remembers(recent, digest):
            return Result(state, duplicate=True)
        # each hour's digests start at a digest's boundary: searching them one by one is searching them joined
        for ids in dated.values():
            if digest in ids and remembers(ids, digest):
                return Result(state, duplicate=True)
        own = ts if wall is None else min(ts, wall + self.max_ahead)
        # What was due by the event's own time is decided before the event is folded in: a crossing
        # before it is rendered from the facts as they stood then (a "no crew yet" warning does not
        # cite the arrival that ends it), and the event cannot reach a decision already due.
        early = None
        if state["facts"] and not self._lapsing(state, max(now, own)):
            due = self._due(state, min(now, own), own)
            if due:
                early = self._evaluate(state, min(now, own), own_event_ts=own, reached=frozenset(),
                                       before_event=True, plan=due)
        state["recent"] = (recent + digest)[-RECENT_IDS * DIGEST_CHARS:]
        _remember_dated(dated, digest, ts, max(state["last_ts"], ts) - self.dated_seconds, self.dated_ids)
        facts = state["facts"]
        too_old = facts.get("too_old", 0)
        context = (facts.get("district_id"), facts.get("area_type"))
        subjects.FOLDS[kind](facts, event, ts)
        if kind == "account":
            subjects.account.prune(facts, self.retention, self.max_account_entries)
        if kind == "district" and facts.get("district_id") in self.districts:
            facts.update(reference_facts(self.districts[facts["district_id"]]))
        subjects.remember_evidence(facts, event, ts)
        state["last_ts"] = max(state["last_ts"], ts)
        late = facts.get("too_old", 0) - too_old
        observing = self._observing.get((kind, event["type"]))
        if observing:
            rstates, district = state["rules"], facts.get("district_id")
            for rc in observing:
                rule = rc.rule
                rstate = rstates.setdefault(rule.rule_id, {})
                window = rstate.get("w")
                before = window.get("late", 0) if window else 0
                rule.observe(facts, rstate, event, ts, rc.params_for(district))
                window = rstate.get("w")
                late += (window.get("late", 0) if window else 0) - before
        # The rules this event reaches: those observing its type; every rule while the subject's
        # district or area type is new (they choose a rule's parameters and levels).
        if self.incremental and context == (facts.get("district_id"), facts.get("area_type")):
            reached, unmoved = self._reach.get((kind, event["type"])) or self._reached(kind, event["type"])
        else:
            reached, unmoved = None, frozenset()
        result = self._evaluate(state, now, own_event_ts=own, reached=reached, unmoved=unmoved)
        if early is not None and (early.warnings or early.stats):
            result.warnings[:0], result.stats[:0] = early.warnings, early.stats
        derived = subjects.derive(kind, facts)
        if derived:
            derived = [d for d in derived if self.reaches(d[0], d[1]["type"])]
        result.derived = derived
        result.late = late
        if kind == "outage" and facts.get("kind") == "unplanned" and event["type"] in (
                "outage.started", "outage.notice_published"):
            start, notice = facts.get("started_at"), facts.get("first_notice_at")
            if start is not None and notice is not None and facts.get("district_id"):
                result.stats.append(("notice_delay_minutes", facts["district_id"], max(notice - start, 0) / 60))
        return result

    def reaches(self, key: str, event_type: str) -> bool:
        """Whether an event of the type can change anything at `key`: at a ticket, outage or account (their
        facts) always; at a district, feeder or staff member, whose facts are only its context, only when a
        rule that is on there observes the type (with every rule on, always)."""
        kind = kind_of(key)
        return kind not in AGGREGATE_KINDS or (kind, event_type) in self._observing

    def _reached(self, kind: str, event_type: str) -> tuple[frozenset[str], frozenset[str]]:
        """The rules an event of a type reaches: those observing it, and those deciding from the facts
        whose decisions its fold can move (Rule.moved_by); and the rules deciding from the facts that
        it cannot move (quiet, they decide as they did)."""
        observing = {rc.rule.rule_id for rc in self._observing.get((kind, event_type), ())}
        from_facts = [rc.rule for rc in self.rulebook.by_subject.get(kind, ()) if rc.rule.from_facts]
        moved = {r.rule_id for r in from_facts if r.moved_by is None or event_type in r.moved_by}
        unmoved = frozenset(r.rule_id for r in from_facts) - moved - observing
        found = self._reach[(kind, event_type)] = (frozenset(observing | moved), unmoved)
        return found

    def on_tick(self, state: dict, now: float) -> Result:
        migrate_subject(state)
        # Most ticks change nothing (5 902 of 7 126 entity ticks in a 20 000-event replay); the
        # shell then only re-times the key instead of writing the same state to the changelog.
        facts = state["facts"]
        opened = self.opened_at(state["kind"], facts)
        if not self.incremental or "lapsed_at" in facts or (opened is not None and now >= opened + self.max_open):
            before = orjson.dumps(state)  # a lapse: rare, compared whole
            result = self._evaluate(state, now)
            changed = orjson.dumps(state) != before
        else:
            # only the rules whose time has come are evaluated, and each notes whether it moved
            tx = Transaction(state, watch=True)
            result = self._evaluate(state, now, reached=frozenset(), tx=tx)
            changed = tx.changed
        result.unchanged = result.state is state and not result.warnings and not result.stats and not changed
        if result.state is not None and not result.unchanged:
            state["grown"] = state.get("grown", 0) + 1  # for on_event's size bound
        return result

    @staticmethod
    def opened_at(kind: str, facts: dict) -> float | None:
        """When an entity opened: a ticket when created, an outage when started (else scheduled)."""
        if kind == "ticket":
            return facts.get("created_at")
        if kind == "outage":
            return facts.get("started_at") if facts.get("started_at") is not None else facts.get("scheduled_at")
        return None

    def _lapsing(self, state: dict, now: float) -> bool:
        """Whether an entity is closed for having been open too long, or is by `now`."""
        facts = state["facts"]
        if "lapsed_at" in facts:
            return True
        opened = self.opened_at(state["kind"], facts)
        return opened is not None and now >= opened + self.max_open

    def _lapse(self, state: dict, now: float, tx: Transaction) -> Result | None:
        """Close an entity open longer than max_open: resolve what fires, stop its clocks."""
        facts = state["facts"]
        if "lapsed_at" not in facts:
            opened = self.opened_at(state["kind"], facts)
            if opened is None or now < opened + self.max_open:
                return None
            facts["lapsed_at"] = opened + self.max_open
            state["last_ts"] = max(state["last_ts"], facts["lapsed_at"])  # kept a retention from now
        out = []
        for rc in self.rulebook.by_subject.get(state["kind"], ()):
            if not state["warnings"].get(rc.rule.rule_id):
                continue
            ws = tx.warning(rc.rule.rule_id, written=True)
            t = close(ws, facts["lapsed_at"], LAPSED)
            if t is not None:
                out.append(self._render(rc, facts, state["rules"].get(rc.rule.rule_id, {}), t,
                                        rc.params_for(facts.get("district_id"))))
        tx.commit()
        expires = state["last_ts"] + self.retention
        if now >= expires:
            return Result(None, out)
        return Result(state, out, wake_at=expires)

    def _evaluate(self, state: dict, now: float, own_event_ts: float | None = None,
                  reached: frozenset[str] | set[str] | None = None, tx: Transaction | None = None,
                  before_event: bool = False, unmoved: frozenset[str] = frozenset(),
                  plan: list[tuple] | None = None) -> Result:
        """Evaluate the subject's rules at `now`; the rules the event `reached` and those whose time has come.

        reached None: every rule (an acknowledgement, a subject whose context just changed).
        A rule that says until when it is quiet (Rule.quiet_until) is skipped before then (and
        not for a time before the one it was last evaluated at) unless the event reached it; its
        last wake time and running flag stand for it, kept in state["next"] with the digest of the
        rule's configuration they were worked out under (another configuration: evaluated again).
        The warning states move through one transaction (`tx`, a new one if None), committed once
        at the end; a watching one says whether anything stored changed. `before_event`: an event is
        about to be applied, so the subject is not finished, whatever its age; and the rules that
        cannot say when they are quiet, which replay their whole timeline from the facts (telling
        each moment as of then), wait for it: evaluated now they would take the event's moment as
        decided without it. `unmoved`: rules the event reached the subject of without moving what
        they decide from (Rule.moved_by); skipped while quiet, they count as evaluated up to it.
        `plan`: the rules to look at (those `_due` found), if not all of the subject's.
        """
        tx = tx or Transaction(state)
        kind = state["kind"]
        if not before_event and (kind == "ticket" or kind == "outage"):
            lapsed = self._lapse(state, now, tx)
            if lapsed is not None:
                return lapsed
        facts, stored = state["facts"], state["warnings"]
        district = facts.get("district_id")
        out: list[dict] = []
        wakes: list[float] = []
        stats: list[tuple[str, str, float]] = []
        running = False
        rstates = state["rules"]
        nexts = state["next"]
        watch = tx.watch
        incremental = self.incremental
        own_until = now if own_event_ts is None else max(now, own_event_ts)
        for rc, rule, rule_id, own_clock, statistic, can_be_quiet, config, by_district, escalates, advances in (
                self._plan.get(kind, ()) if plan is None else plan):
            until = own_until if own_clock else now
            if can_be_quiet:
                at = until if until > UNKNOWN_CLOCK else UNKNOWN_CLOCK  # `until` as a state keeps it
                cached = nexts.get(rule_id)
                if cached is not None:
                    if reached is not None and rule_id not in reached:
                        # The event does not reach it: skipped while its kept quiet time holds. A rule last
                        # evaluated up to `until` itself, and not reached since, would decide the same again:
                        # the event's fold and the early pass before it leave its inputs as they were. (The
                        # same tests as in _due.)
                        quiet, wake, was_running, evaluated_at, digest = cached
                        skip = False
                        if (evaluated_at is not None and evaluated_at <= at and digest == config
                                and (rc.enabled_for(district) if by_district else rc.enabled)
                                and not (escalates and rule_id in stored and stored[rule_id]["status"] == "firing")):
                            if quiet is None or at < quiet - QUIET_MARGIN or at == evaluated_at:
                                # its time has not come: evaluating it would change nothing
                                skip = True
                                if evaluated_at != at and rule_id in unmoved:
                                    # and it would find what it found: its quiet and wake times, now known up to `until`
                                    del nexts[rule_id]
                                    nexts[rule_id] = [quiet, wake, was_running, at, config]
                            elif advances and (wake is None or at < wake - QUIET_MARGIN):
                                # its time has come only to move how far it has decided
                                skip = True
                                moved, wake = self._advance(state, rc, rule_id, district, until, at, cached, config)
                                if moved and watch:
                                    tx.changed = True
                        if skip:
                            if wake is not None:
                                wakes.append(wake)  # its last wake time
                            if was_running:
                                running = True  # and its running flag
                            continue
                    del nexts[rule_id]
            elif before_event:
                continue
            params = rc.params_for(district) if by_district else rc.params
            if not (rc.enabled_for(district) if by_district else rc.enabled):
                if stored.get(rule_id, {}).get("status") == "firing":  # disabled while firing: clear it
                    ws = tx.warning(rule_id, written=True)
                    out.append(self._render(rc, facts, {}, step(ws, None, value=ws.value or 0.0,
                                                                threshold=0.0, at=now), params))
                continue
            ws = tx.read(rule_id)
            rstate = rstates.get(rule_id, {})
            if watch:
                tx.touch(rule_id, rstate)
            value_before = ws.value
            # the rule decides, the warning state machine moves the warning
            transitions, ev, moved = applied(ws, rule.evaluate(facts, rstate, ws, until, params))
            ev.transitions = transitions
            if ev.no_value and ws.value is not None:
                ws.value = None
                moved = True
            if statistic is not None and (ws.value != value_before or ev.emptied) and district:
                stats.append((statistic, district, math.nan if ws.value is None else ws.value))
            if escalates and ws.status == "firing":
                moved = True
                escalations, due = self._escalate(rc, ws, until)
                transitions.extend(escalations)
                if due is not None:
                    wakes.append(due)
                    running = True
            if moved:
                tx.keep(rule_id, ws)  # else it is as stored (or, never stored, not worth a record)
            if transitions:
                flaps = self.rulebook.flapping.is_flapping
                for t in transitions:
                    message = self._render(rc, facts, rstate, t, params, flaps([c for c in ws.changes if c <= t.at]))
                    message["acknowledged"] = t.kind != "resolved" and ws.acked_at is not None
                    out.append(message)
            if ev.wake_at is not None:
                wakes.append(ev.wake_at)
            if ev.running:
                running = True
            if watch:
                tx.check(rule_id, rstate)
            if can_be_quiet and incremental:
                quiet = rule.quiet_until(facts, rstate, ws, params, ev)
                # a time JSON cannot hold (-inf: worked out on a clock not known yet) is not kept
                if quiet is not None and quiet > -math.inf and (ev.wake_at is None or ev.wake_at > -math.inf):
                    nexts[rule_id] = [None if quiet == math.inf else quiet, ev.wake_at, ev.running, at, config]
        tx.commit()
        if before_event:
            return Result(state, out, stats=stats)
        if not running:
            expires = state["last_ts"] + self.retention
            if now >= expires:
                return Result(None, out, stats=stats)
            wakes.append(expires)
        elif (opened := self.opened_at(kind, facts)) is not None:
            wakes.append(opened + self.max_open)
        return Result(state, out, wake_at=min(wakes) if wakes else None, stats=stats)

    def _due(self, state: dict, now: float, own: float) -> list[tuple]:
        """The rules of the subject that may decide something up to `now` (`own` for those on its own clock).

        A rule that cannot say when it is quiet (outage.notice_short, the account timelines) replays
        its whole timeline from the facts, telling each moment as of then: it is not counted here.
        Rules whose time has come only to move how far they have decided (Rule.advance) are listed
        with the others; when there are no others, they are moved here and nothing is listed.
        """
        plan = self._plan.get(state["kind"], ())
        if not self.incremental:
            return plan
        nexts, district, stored = state["next"], state["facts"].get("district_id"), state["warnings"]
        own = max(now, own)
        due, moving = [], []
        for entry in plan:
            rc, _, rule_id, own_clock, _, can_be_quiet, config, by_district, escalates, advances = entry
            if not can_be_quiet:
                continue
            cached = nexts.get(rule_id)
            if cached is None:
                due.append(entry)
                continue
            until = own if own_clock else now
            at = until if until > UNKNOWN_CLOCK else UNKNOWN_CLOCK
            quiet, wake, _, evaluated_at, digest = cached
            if not (evaluated_at is not None and evaluated_at <= at and digest == config
                    and (rc.enabled_for(district) if by_district else rc.enabled)
                    and not (escalates and rule_id in stored and stored[rule_id]["status"] == "firing")):
                due.append(entry)
            elif quiet is None or at < quiet - QUIET_MARGIN or at == evaluated_at:
                continue
            elif advances and (wake is None or at < wake - QUIET_MARGIN):
                moving.append((rc, rule_id, until, at, cached, config))
                due.append(entry)
            else:
                due.append(entry)
        if len(due) > len(moving):
            return due  # the early pass moves those too, in their turn (_evaluate)
        for rc, rule_id, until, at, cached, config in moving:  # what the early pass would have done
            self._advance(state, rc, rule_id, district, until, at, cached, config)
        return []

    @staticmethod
    def _advance(state: dict, rc: RuleConfig, rule_id: str, district: str | None, until: float, at: float,
                 cached: list, config: str) -> tuple[bool, float | None]:
        """Rule.advance for a rule whose quiet time has passed and whose wake time has not come: it moves
        how far the rule has decided, and its kept times become what evaluating it would have left (its
        running flag as it was). (Whether the rule's state moved, its wake time.)"""
        moved, quiet, wake = rc.rule.advance(state["rules"][rule_id], until, rc.params_for(district))
        nexts = state["next"]
        del nexts[rule_id]
        if quiet is not None and quiet > -math.inf and (wake is None or wake > -math.inf):
            nexts[rule_id] = [None if quiet == math.inf else quiet, wake, cached[2], at, config]
        return moved, wake

    @staticmethod
    def _escalate(rc: RuleConfig, ws: WarningState, until: float) -> tuple[list[Transition], float | None]:
        """Escalations of an unacknowledged warning up to `until`, and when the next one is due."""
        out = []
        while rc.escalate_after_seconds and ws.status == "firing" and ws.acked_at is None:
            due = ws.changed_at + rc.escalate_after_seconds
            if due > until:
                return out, due
            t = escalate_unacknowledged(ws, due)
            if t is None:
                break
            out.append(t)
        return out, None

    def on_ack(self, state: dict, rule_id: str, by: str, at: float, now: float) -> Result:
        """The operations centre acknowledged this subject's warning of `rule_id`."""
        migrate_subject(state)
        tx = Transaction(state)
        if not acknowledge(tx.warning(rule_id, written=True), by, at):
            return Result(state, duplicate=True)
        return self._evaluate(state, now, tx=tx)

    def _render(self, rc: RuleConfig, facts: dict, rstate: dict, t: Transition, params,
                flapping: bool = False) -> dict:
        rule = rc.rule
        fp = fingerprint(rule.rule_id, rule.identity(facts))
        if t.no_samples:
            window = rule.window_of(t, params)
            minutes = f"{(window[1] - window[0]) / 60:.0f}" if window else ""
            where = " ".join(str(v) for v in rule.identity(facts).values())
            summary = f"{rule.rule_id} cleared for {where}: no samples in the last {minutes} min, nothing to judge."
            summary_zh = f"{where}近{minutes}分钟无样本，无从判断，{rule.rule_id}预警解除。"
        else:
            summary, summary_zh = rule.summaries(facts, t)
        metric = {
            "name": rule.metric,
            "value": round(t.value, 3),
            "threshold": round(t.threshold, 3),
            "unit": rule.unit,
        }
        window = rule.window_of(t, params)
        if window is not None:
            metric["window_start"], metric["window_end"] = to_rfc3339(window[0]), to_rfc3339(window[1])
        message = {
            "warning_id": warning_id(fp, t.seq),
            "fingerprint": fp,
            "rule_id": rule.rule_id,
            "risk_category": rule.category,
            "status": t.status,
            "transition": t.kind,
            "severity": t.severity,
            "scope": rule.scope(facts),
            "metric": metric,
            "first_fired_at": to_rfc3339(t.first_fired_at),
            "changed_at": to_rfc3339(t.at),
            "summary": summary,
            "summary_zh": summary_zh,
            "response_plan": rc.response_plan,
            "evidence": rule.evidence(facts, rstate, t.at),
            "suppressed": False,
            "acknowledged": False,
            "flapping": flapping,
        }
        if t.previous_severity is not None:
            message["previous_severity"] = t.previous_severity
        if t.reason and t.kind == "resolved":
            message["resolved_reason"] = t.reason
            days = f"{self.max_open / DAY:g}"
            message["summary"] = f"[closed: open over {days} days, no closing event] {summary}"[:500]
            message["summary_zh"] = f"【超过{days}天未关闭，已自动关闭】{summary_zh}"[:500]
        elif t.reason:
            message["escalation_reason"] = t.reason
            message["summary"] = f"[not acknowledged] {summary}"
            message["summary_zh"] = f"【未确认，升级】{summary_zh}"
        if t.no_samples:
            message["no_samples"] = True
        if t.kind == "resolved":
            message["resolved_at"] = to_rfc3339(t.at)
            message["duration_seconds"] = round(t.duration_seconds, 3)
        reasons = self.rulebook.suppressions.reasons(message, self.storm_districts())
        if reasons:
            message["suppressed"], message["suppressed_by"] = True, reasons
        return message


# --- what the shell may know of a state --------------------------------------------------


def state_partition(state: dict) -> int | None:
    """The work partition that owns a state (the shell sets it when it applies one)."""
    return state.get("p")


def set_state_partition(state: dict, partition: int) -> None:
    state["p"] = partition


def firing_of(state: dict) -> list[tuple[str, str, str | None]]:
    """(rule_id, severity, district) of each warning firing in a state."""
    district = state["facts"].get("district_id")
    return [(rule_id, ws["severity"], district) for rule_id, ws in state.get("warnings", {}).items()
            if ws.get("status") == "firing"]


def encode_state(state: dict) -> dict:
    """The table's JSON value of a state."""
    return state


def decode_state(value: dict | None) -> dict | None:
    """A state from the table's JSON value (None: no state), in the current shape."""
    return None if value is None else migrate_subject(value)
