"""reliability.storm_mode: a district is in a storm, not in ordinary trouble.

Two signs, either enough: customers interrupted in the last 24 h as a share
of the customers the district serves (needs the reference data, and at least
three outages: one big feeder fault is not a storm), or outages
started in the last hour far above the district's hourly baseline. The
warning is blue (information). While it fires, the per-ticket repair
warnings of the district are marked suppressed (storm_inhibits in the rule
configuration), so the operations centre sees one storm warning instead of
hundreds of late crews; they stay on the warnings topic.

Both signs only grow as outages arrive, so storm mode is declared at the
outage that makes either true, stamped with its time (the hour and the 24 h
are windows moved every 5 minutes, ending at the step boundary after that
outage); it ends at a window end, with hysteresis.

Heuristics, no published source: 5 % of customers in 24 h (clear below 3 %),
z >= 3 against up to 28 days of hourly counts with at least 5 outages in the
hour (clear below z 2), and two days of history before the baseline counts.
"""

from __future__ import annotations

import math

from pydantic import Field

from ..baseline import baseline
from ..warning_state import Decision, Decisions, Transition
from ..windows import Count, Sum, Window, window
from .base import (DAY, MIN, DuePoints, Evaluation, before_lift, early_points, early_raise, early_ready, forget_decided,
                   held_until, lifts, scope_of, wake)
from .complaints_surge import SurgeParams, SurgeRule


class Params(SurgeParams):
    window_minutes: float = Field(60.0, gt=0)
    step_minutes: float = Field(5.0, gt=0)  # a sliding hour, moved every 5 min
    min_samples: int = Field(5, ge=1)
    raise_: dict[str, float] = Field(default_factory=lambda: {"blue": 3.0}, alias="raise")
    clear: dict[str, float] = Field(default_factory=lambda: {"blue": 2.0})
    baseline_days: float = Field(28.0, gt=0)
    min_history_days: float = Field(2.0, ge=0)
    customer_share_raise: float = Field(0.05, gt=0, le=1)
    customer_share_clear: float = Field(0.03, gt=0, le=1)
    # one big feeder fault in a small district is not a storm
    customer_share_min_outages: int = Field(3, ge=1)

    def customers(self) -> Window:
        return window(DAY, self.step_minutes * MIN, self.lateness_minutes * MIN)


class ReliabilityStormMode(SurgeRule):
    rule_id = "reliability.storm_mode"
    sources = {  # parameter -> where its default comes from
        "raise": "heuristic (no published figure)",
        "clear": "heuristic (no published figure)",
        "customer_share_raise": "heuristic (no published figure)",
        "customer_share_clear": "heuristic (no published figure)",
        "customer_share_min_outages": "heuristic (no published figure): one big feeder fault is not a storm",
    }
    threshold = ("reached: declared when the outages started in the hour are >= `min_samples` with z >= the raise "
                 "level, or the customers interrupted in 24 h are >= `customer_share_raise` of those served with "
                 ">= `customer_share_min_outages` outages")
    category = "coordination"
    subject = "district"
    metric = "outages_started_1h"
    unit = "outages"
    observes = frozenset({"derived.outage_started"})
    Params = Params

    def counted(self, event, params) -> bool:
        return True

    def early_value(self, event: dict) -> float:
        return float(event.get("customers_affected") or 0)  # the customer share grows with it

    def observe(self, facts, rstate, event, ts, params: Params) -> None:
        super().observe(facts, rstate, event, ts, params)
        w = params.customers()
        rstate.setdefault("c", w.new_state())
        w.add(rstate["c"], Sum, ts, float(event.get("customers_affected") or 0))
        rstate.setdefault("n", w.new_state())
        w.add(rstate["n"], Count, ts, 1)

    def quiet_until(self, facts, rstate, ws, params, evaluation) -> float | None:
        # evaluate decides only the store's due ends
        if "w" not in rstate:
            return math.inf
        due = params.store().next_due(rstate["w"])
        return min(math.inf if due is None else due, held_until(rstate))

    def evaluate(self, facts, rstate, ws, now, params: Params) -> Decisions[Evaluation]:
        if "w" not in rstate:
            return Evaluation()
        store, customers = params.store(), params.customers()
        # The hour ends due, and the moments a declaration was already certain: both signs only
        # grow as outages arrive inside their windows (base.early_points), so storm mode is
        # declared at the outage that makes it so, not at the end of its step.
        points = DuePoints(store, rstate["w"], now, early_points(rstate, store, rstate["w"], customers.size, now))
        quiet = None  # (end, count) of an hour decided quietly, without a baseline, and that moved nothing
        known: list = []

        def starts() -> tuple[set[float], set[float]]:
            """The bucket starts of the hours' store and of the days' (numbers: see _unmoved)."""
            if not known:  # the buckets stay as they are while the ends are decided
                known.extend((set(map(float, rstate["w"]["b"])), set(map(float, rstate["c"]["b"]))
                              | set(map(float, rstate["n"]["b"]))))
            return known[0], known[1]
        for at, is_early, end in points:
            if is_early:
                quiet = None
                if not early_ready(rstate, end):
                    continue

                def judge(later, end=end):  # the windows without the outages after a moment
                    less = (len(later), sum(v for _, v in later))
                    target, count, threshold, _ = self.judge(facts, rstate, ws, end, params, less)
                    return (target, count, threshold) if lifts(ws, target) else None

                yield from early_raise(rstate, store, end, now, ws, judge, after_ends=True)
                continue
            if quiet is not None and "lifted" not in rstate and self._unmoved(starts(), quiet[0], end, params):
                # The hour and the day slid a step with no outage entering or leaving either, after a
                # quiet hour that left the warning as it was: this end decides the same, to the same end,
                # and so do the ends after it while that holds.
                hours, days = starts()
                hour = params.window_minutes * MIN
                end = points.pass_quiet(end, hours | days | {s + hour for s in hours} | {s + DAY for s in days},
                                        lambda before, following: self._unmoved((hours, days), before, following, params))
                quiet = (end, quiet[1])
            elif not before_lift(rstate, end):  # else it describes a moment before the declaration
                quiet = None
                target, count, threshold, share = self.judge(facts, rstate, ws, end, params)
                if (target is None and ws.status == "inactive" and count < params.min_samples
                        and share < params.customer_share_raise):
                    quiet = (end, count)  # judged without a baseline: the same count decides the same
                moved = yield Decision(target, count, threshold, end)
                rstate["share"] = round(share, 4)
                if moved is not None or ws.status != "inactive" or ws.value != count:
                    quiet = None
            else:
                quiet = None
            rstate["w"]["evaluated"] = rstate["c"]["evaluated"] = rstate["n"]["evaluated"] = end
        if points and rstate["w"]["evaluated"] is not None:
            last = rstate["w"]["evaluated"]  # the buckets no later end needs go once
            store.mark_evaluated(rstate["w"], last)
            customers.mark_evaluated(rstate["c"], last)
            customers.mark_evaluated(rstate["n"], last)
            forget_decided(rstate, store, rstate["w"])
        running = bool(rstate["w"]["b"]) or ws.status != "inactive"
        return Evaluation(wake_at=wake(store.next_due(rstate["w"]), rstate) if running else None, running=running)

    @staticmethod
    def _unmoved(starts: tuple[set[float], set[float]], before: float, end: float, params: Params) -> bool:
        """Whether the window ends `end`, one step after `before`, count what `before` counted: no
        bucket enters the hour or the day, none leaves them. `starts`: the bucket starts of the hours
        and of the days, as numbers (a key written as an int is found where its window would not
        find it: that only says no)."""
        step, hour = params.step_minutes * MIN, params.window_minutes * MIN
        # one bucket start enters and one leaves each window only when all of them are whole steps apart
        if end != before + step or not step.is_integer() or before % step or hour % step or DAY % step:
            return False
        hours, days = starts
        return not (before in hours or before in days or before - hour in hours or before - DAY in days)

    def judge(self, facts, rstate, ws, end: float, params: Params,
              less: tuple[int, float] = (0, 0.0)) -> tuple[str | None, float, float, float]:
        """(blue or None, outages in the hour, the count it needs, customer share) for the hour ending at `end`,
        less (outages, customers) of its last bucket not counted yet at the moment judged."""
        store, customers = params.store(), params.customers()
        served = facts.get("customers_served")
        count = Count.result(params.window().aggregate(rstate["w"], Count, end)) - less[0]
        share = (Sum.result(customers.aggregate(rstate["c"], Sum, end)) - less[1]) / served if served else 0.0
        outages_24h = Count.result(customers.aggregate(rstate["n"], Count, end)) - less[0] if "n" in rstate else 0
        firing = ws.status == "firing"
        wide = (share >= (params.customer_share_clear if firing else params.customer_share_raise)
                and outages_24h >= params.customer_share_min_outages)
        if count < params.min_samples and not firing and not wide:  # the common quiet hour needs no baseline
            return None, count, float(params.min_samples), share
        base = baseline(rstate["w"]["b"], end, params.window_minutes * MIN, params.periods(),
                        observed_from=store.bucket_of(rstate["since"]), min_periods=params.min_periods(),
                        min_deviation=params.min_deviation)
        z = base.z(count) if base is not None else 0.0
        surge = count >= params.min_samples and z >= (params.clear if firing else params.raise_)["blue"]
        level = base.level(params.raise_["blue"]) if base is not None else float(params.min_samples)
        return ("blue" if surge or wide else None), count, max(level, params.min_samples), share

    def scope(self, facts):
        return scope_of(facts, ("district_id",))

    def summaries(self, facts, t: Transition):
        d = facts["district_id"]
        if t.kind == "resolved":
            return (f"Storm mode over in district {d}: {t.value:.0f} outages started in the last hour.",
                    f"{d}供电区恶劣天气模式解除：近一小时新增停电{t.value:.0f}起。")
        return (f"Storm mode in district {d}: {t.value:.0f} outages started in the last hour. Per-ticket "
                f"repair notifications are held back; run the storm plan.",
                f"{d}供电区进入恶劣天气模式：近一小时新增停电{t.value:.0f}起，单张工单预警短信暂停，请启动抢修应急预案。")
