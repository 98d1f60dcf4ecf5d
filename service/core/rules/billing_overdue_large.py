"""billing.overdue_large: a large unpaid amount is past its due date.

Regulations on Electricity Supply and Use art. 39 allow disconnection 30 days
after the due date (with a reminder), so 30 days overdue is where recovery
must start. Yellow: some bill is `overdue_days` past its due date and the
overdue amount is at least `min_amount`. Orange: arrears cross a calendar
year (a bill due in an earlier year is still open on 1 January) and the
overdue amount is at least `year_crossing_min_amount` (the year-end "clear
every year's bills" target; set 0 to warn on every cross-year arrears).

A due date is a day on the wire; days are counted from its 00:00 UTC, and a
bill counts as overdue once its due day is over. The clock, not an event,
reaches these moments, so the rule wakes at each of them and stamps the
transition with it; payments resolve it at the payment's time.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from pydantic import Field

from ..subjects import account
from ..timefmt import date_to_epoch
from ..warning_state import Transition
from .base import RuleParams
from .billing_flagged_arrears import AccountTimeline, cny, cny_zh

DAY = 86400.0


class Params(RuleParams):
    overdue_days: float = Field(30.0, gt=0)
    min_amount: float = Field(50000.0, ge=0)  # CNY overdue, for yellow
    year_crossing_min_amount: float = Field(50000.0, ge=0)  # CNY overdue, for orange


def _year(t: float) -> int:
    return datetime.fromtimestamp(t, UTC).year


@functools.lru_cache(maxsize=4096)
def _new_year_after(due_date: str) -> float:
    return datetime(int(due_date[:4]) + 1, 1, 1, tzinfo=UTC).timestamp()


@functools.lru_cache(maxsize=4096)
def _bill_crossings(due_date: str, overdue_days: float) -> tuple[float, float, float]:
    """A bill's moments: its due day over, `overdue_days` past its due day, the new year after it."""
    due = date_to_epoch(due_date)
    return due + DAY, due + overdue_days * DAY, _new_year_after(due_date)


class OverdueLarge(AccountTimeline):
    threshold = ("reached: raised when a bill is `overdue_days` past its due day and the overdue amount is >= "
                 "`min_amount` (orange: >= `year_crossing_min_amount` across a calendar year)")
    rule_id = "billing.overdue_large"
    sources = {  # parameter -> where its default comes from
        "overdue_days": (
            "Regulations on Electricity Supply and Use art. 39: supply may be disconnected 30 days after the due "
            "date, after a reminder"
        ),
        "min_amount": "heuristic (no published figure)",
        "year_crossing_min_amount": (
            "heuristic (no published figure): the year-end target of clearing every year's bills"
        ),
    }
    metric = "overdue_unpaid_amount"
    Params = Params

    def moments(self, facts, params: Params):
        bills = facts.get("bills", {})
        times = {b["ts"] for b in bills.values()} | {p["ts"] for p in facts.get("payments", {}).values()}
        return times | self._crossings(bills.values(), params)

    def alarms(self, facts, params: Params):
        # A paid bill's crossings change nothing any more.
        return self._crossings([b for b in facts.get("bills", {}).values() if b["amount_cents"] > b["paid_cents"]],
                               params)

    @staticmethod
    def _crossings(bills, params: Params) -> set[float]:
        times = set()
        for b in bills:
            times.update(_bill_crossings(b["due_date"], params.overdue_days))
        return times

    def overdue_at(self, facts: dict, t: float) -> tuple[int, list[str]]:
        """(overdue cents, open overdue bill ids oldest first) at `t`."""
        bills = facts.get("bills", {})
        open_ = account.remaining_at(facts, t)
        if not open_:
            return 0, []
        # the open bills past their due day, oldest first (the order of account.oldest_first)
        late = sorted((b for b in open_ if date_to_epoch(bills[b]["due_date"]) + DAY <= t),
                      key=lambda b: (bills[b]["due_date"], bills[b]["period"], b))
        return sum(open_[b] for b in late), late

    def target_at(self, facts, t, current, params: Params):
        bills = facts.get("bills", {})
        amount, late = self.overdue_at(facts, t)
        if (amount >= round(params.year_crossing_min_amount * 100)
                and any(int(bills[b]["due_date"][:4]) < _year(t) for b in late)):
            return "orange", amount / 100, params.year_crossing_min_amount
        if (amount >= round(params.min_amount * 100)
                and any(date_to_epoch(bills[b]["due_date"]) + params.overdue_days * DAY <= t for b in late)):
            return "yellow", amount / 100, params.min_amount
        return None, amount / 100, params.min_amount

    def running(self, facts):
        return facts.get("unpaid_cents", 0) > 0 or facts.get("credit_cents", 0) > 0

    def summaries(self, facts, t: Transition):
        aid, district = facts["account_id"], facts.get("district_id", "?")
        amount = t.value * 100
        if t.kind == "resolved":
            return (
                f"Account {aid} ({district}) overdue arrears settled; {cny(amount)} CNY still overdue.",
                f"账户{aid}（{district}）逾期欠费已收回，当前逾期{cny_zh(amount)}元。",
            )
        _, late = self.overdue_at(facts, t.at)
        bills = facts.get("bills", {})
        oldest = bills[late[0]] if late else None
        due = oldest["due_date"] if oldest else "?"
        days = int((t.at - date_to_epoch(due)) // DAY) if oldest else 0
        if t.severity == "orange":
            return (
                f"Account {aid} ({district}) arrears of {cny(amount)} CNY cross into {_year(t.at)}: "
                f"bill {late[0] if late else '?'} due {due} unpaid. Escalate to the fee-recovery lead.",
                f"账户{aid}（{district}）跨年欠费{cny_zh(amount)}元（账单{late[0] if late else '?'}，"
                f"到期{due}），请上报电费回收负责人并制定清欠措施。",
            )
        return (
            f"Account {aid} ({district}) owes {cny(amount)} CNY overdue, oldest bill due {due} is {days} days "
            f"overdue. Send the final reminder; disconnection may follow under art. 39.",
            f"账户{aid}（{district}）逾期欠费{cny_zh(amount)}元，最早账单{due}到期已逾期{days}天，"
            f"请发送催费通知，必要时依法办理停电手续。",
        )
