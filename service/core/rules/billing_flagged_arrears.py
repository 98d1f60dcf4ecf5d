"""billing.flagged_arrears: an account with a risk flag (bankruptcy, liquidation ...) owes money.

Any unpaid amount of such an account is at risk, due or not yet due: the
warning is raised the moment both the flag and the arrears exist, stamped
with the time of the event that completed the condition (the later of the
two), whatever order they arrive in. It resolves when payments bring the
balance back to zero (or below the lowest configured threshold). A flag is
never withdrawn: the contract has no event for that.

The module also holds `AccountTimeline`, shared with billing.overdue_large:
a rule over an account whose condition is a function of time computed from
the account's facts (what was billed, paid and flagged by then). It walks
the moments where the condition can change, so each transition carries the
exact time it became true, however coarse the ticks.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator

from ..subjects import account
from ..warning_state import RANK, SEVERITIES, Decision, Decisions, Transition, WarningState
from .base import Evaluation, Levels, Rule, RuleParams, scope_of, target_severity

FLAG_ZH = {"bankruptcy": "破产", "liquidation": "清算", "restructuring": "重整",
           "court_enforcement": "法院强制执行", "business_closed": "停业"}
NEG_INF = float("-inf")


def cny(c: int | float) -> str:
    return f"{c / 100:,.2f}"


def cny_zh(c: int | float) -> str:
    return f"{c / 100:.2f}"


class AccountTimeline(Rule):
    from_facts = True
    """An account rule whose target severity at any time `t` follows from the facts."""

    subject = "account"
    category = "fee_recovery"
    unit = "CNY"
    observes = frozenset(account.BILLING)

    def target_at(self, facts: dict, t: float, current: str | None, params: Any) -> tuple[str | None, float, float]:
        """(severity or None, value in CNY, threshold in CNY) at time `t`."""
        raise NotImplementedError

    def moments(self, facts: dict, params: Any) -> set[float]:
        """Every time at which the target can change."""
        raise NotImplementedError

    def alarms(self, facts: dict, params: Any) -> set[float]:
        """Times the clock must wake the rule at (crossings that need no event)."""
        return set()

    def running(self, facts: dict) -> bool:
        return False

    def observe(self, facts, rstate, event, ts, params) -> None:
        rstate.setdefault("until", None)  # makes the engine keep this rule's state

    def evaluate(self, facts, rstate, ws, now, params) -> Decisions[Evaluation]:
        # The account's own events prove their time has come (see engine.py).
        until = max(now, facts.get("latest_ts", NEG_INF))
        lo = max(rstate.get("until") if rstate.get("until") is not None else NEG_INF,
                 ws.changed_at if ws.changed_at is not None else NEG_INF)
        moments = sorted(self.moments(facts, params))
        target_at = once_each(lambda m, current: self.target_at(facts, m, current, params))
        for m in moments:
            if lo < m <= until:
                yield self._decision(target_at(m, _current(ws)), m)
        if until > NEG_INF:
            # A late event can change the past; move to the present condition,
            # stamped when it began (never before the last published change).
            target = target_at(until, _current(ws))
            if target[0] != _current(ws):
                since = until
                for m in reversed([m for m in moments if m <= until]):
                    if target_at(m, _current(ws))[0] != target[0]:
                        break
                    since = m
                yield self._decision(target, max(since, ws.changed_at if ws.changed_at is not None else NEG_INF))
            if "until" in rstate:
                rstate["until"] = until
        wake = min((m for m in self.alarms(facts, params) if m > until), default=None)
        running = self.running(facts) or ws.status != "inactive"
        return Evaluation(wake_at=wake if running else None, running=running)

    @staticmethod
    def _decision(target: tuple[str | None, float, float], at: float) -> Decision:
        severity, value, threshold = target
        return Decision(severity, value, threshold, at)

    def identity(self, facts):
        return {"account_id": facts["account_id"]}

    def scope(self, facts):
        return scope_of(facts, ("account_id", "district_id"))

    def evidence(self, facts, rstate, at):
        """The flag events, then the open bills, oldest first: those dated no later than `at`."""
        ids = [f["event_id"] for _, f in sorted(facts.get("flags", {}).items(), key=lambda kv: kv[1]["ts"])
               if f["ts"] <= at]
        bills = facts.get("bills", {})
        ids += [bills[b]["event_id"] for b in account.oldest_first(bills)
                if bills[b]["amount_cents"] > bills[b]["paid_cents"] and bills[b]["ts"] <= at]
        return ids[:20]


def once_each(target_at):
    """`target_at(moment, current severity)` working each pair out once: an evaluation asks for the
    moment of the event it follows twice (its decision, then the present condition), and the facts
    stay as they are while it runs."""
    known: dict[tuple[float, str | None], tuple] = {}

    def remembered(m: float, current: str | None) -> tuple[str | None, float, float]:
        found = known.get((m, current))
        if found is None:
            found = known[m, current] = target_at(m, current)
        return found

    return remembered


def _current(ws: WarningState) -> str | None:
    return ws.severity if ws.status == "firing" else None


def check_levels(levels: Levels, clear: Levels) -> None:
    for name, lv in (("raise", levels), ("clear", clear)):
        for severity in lv:
            if severity not in RANK:
                raise ValueError(f"{name}: unknown severity {severity!r} (one of {', '.join(SEVERITIES)})")
    missing = set(clear) - set(levels)
    if missing:
        raise ValueError(f"clear: {sorted(missing)} have no raise threshold")
    if not levels:
        raise ValueError("raise: at least one severity is needed")


class Params(RuleParams):
    # Unpaid CNY strictly above which each severity is reached.
    raise_: Levels = Field(default_factory=lambda: {"orange": 0.0, "red": 100000.0}, alias="raise")
    clear: Levels = Field(default_factory=dict)  # optional hysteresis; default: the raise thresholds

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _check(self):
        check_levels(self.raise_, self.clear)
        if any(v < 0 for v in (*self.raise_.values(), *self.clear.values())):
            raise ValueError("thresholds must be >= 0 CNY")
        return self


def in_cents(levels: Levels) -> Levels:
    return {s: round(v * 100) for s, v in levels.items()}


class FlaggedArrears(AccountTimeline):
    threshold = "exceeded: raised when the unpaid amount of a flagged account is > the raise level"
    rule_id = "billing.flagged_arrears"
    sources = {  # parameter -> where its default comes from
        "raise": (
            "heuristic (no published figure): any unpaid amount of a flagged account is at risk; red above 100 000 "
            "CNY"
        ),
    }
    metric = "flagged_unpaid_amount"
    Params = Params

    def moments(self, facts, params):
        times = {b["ts"] for b in facts.get("bills", {}).values()}
        times |= {p["ts"] for p in facts.get("payments", {}).values()}
        times |= {f["ts"] for f in facts.get("flags", {}).values()}
        return times

    def target_at(self, facts, t, current, params: Params):
        unpaid = account.unpaid_at(facts, t)
        raise_, clear = in_cents(params.raise_), in_cents(params.clear)
        if not account.flagged_at(facts, t):
            return None, unpaid / 100, min(raise_.values()) / 100
        # Comparing integer cents: exact at the threshold, no float rounding.
        severity, th = target_severity(unpaid, current, raise_, clear, above=True, strict=True)
        return severity, unpaid / 100, th / 100

    def evaluate(self, facts, rstate, ws, now, params):
        if not facts.get("flags") and ws.status == "inactive":
            # Never flagged, nothing firing: no moment can raise it. Most accounts, every event;
            # the walk from the last evaluated moment happens once a flag arrives.
            return Evaluation(running=self.running(facts))
        return (yield from super().evaluate(facts, rstate, ws, now, params))

    def running(self, facts):
        # A flag is for good: keep the account even while it owes nothing.
        return bool(facts.get("flags")) or facts.get("unpaid_cents", 0) > 0 or facts.get("credit_cents", 0) > 0

    def summaries(self, facts, t: Transition):
        aid, district = facts["account_id"], facts.get("district_id", "?")
        flags = sorted(facts.get("flags", {}))
        en_flags = ", ".join(f.replace("_", " ") for f in flags) or "risk"
        zh_flags = "、".join(FLAG_ZH.get(f, f) for f in flags) or "风险"
        amount = t.value * 100
        if t.kind == "resolved":
            return (
                f"Account {aid} ({district}, {en_flags}) arrears cleared: {cny(amount)} CNY unpaid.",
                f"账户{aid}（{district}，{zh_flags}）欠费已结清，当前欠费{cny_zh(amount)}元。",
            )
        return (
            f"Account {aid} ({district}) flagged {en_flags} owes {cny(amount)} CNY "
            f"(threshold {cny(t.threshold * 100)}). Lodge the claim with the administrator and stop credit.",
            f"账户{aid}（{district}）已被标记{zh_flags}，欠费{cny_zh(amount)}元（阈值{cny_zh(t.threshold * 100)}元），"
            f"请立即申报债权、停止赊欠并催收。",
        )
