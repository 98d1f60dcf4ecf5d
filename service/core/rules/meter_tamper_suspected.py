"""meter.tamper_suspected: an account's meter shows two or more signs of tampering.

Distinct alarm kinds among `tamper`, `reverse_energy` and `zero_consumption`
for the account in the last 7 days; orange at 2 (revenue protection). Each
alone has innocent causes (a loose cover, solar export on a wrongly wired
meter, an empty house); together they justify an inspection.

The data lives in this rule's own state (RecentEventsRule, shared with
complaints.staff_repeat), not in the account's facts, which belong to
billing. Raised at the exact time of the alarm that brings the second
distinct kind; resolved when fewer than two kinds remain in the 7 days.
Repeats of a kind already seen do not add to the value.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..warning_state import Transition
from .base import SeverityMap, scope_of
from .complaints_staff_repeat import RecentEventsRule, RecentParams

TamperSign = Literal["tamper", "reverse_energy", "zero_consumption"]


class Params(RecentParams):
    window_days: float = Field(7.0, gt=0)
    raise_: SeverityMap = Field(default_factory=lambda: {"orange": 2.0}, alias="raise")
    kinds: frozenset[TamperSign] = frozenset(TamperSign.__args__)


class MeterTamperSuspected(RecentEventsRule):
    rule_id = "meter.tamper_suspected"
    sources = {  # parameter -> where its default comes from
        "raise": "heuristic (no published figure): two distinct signs of tampering justify an inspection",
        "kinds": "heuristic: the alarms revenue-protection practice treats as signs of tampering",
    }
    category = "equipment"
    subject = "account"
    metric = "distinct_tamper_signs"
    unit = "kinds"
    observes = frozenset({"meter.alarm"})
    distinct = True
    Params = Params

    def label(self, facts, event, params: Params) -> str | None:
        if event["type"] == "meter.alarm" and event.get("alarm") in params.kinds:
            return event["alarm"]
        return None

    def identity(self, facts):
        return {"account_id": facts["account_id"]}

    def scope(self, facts):
        return scope_of(facts, ("account_id", "district_id"))

    def summaries(self, facts, t: Transition):
        a, d, n = facts["account_id"], facts.get("district_id", "?"), round(t.value)
        if t.kind == "resolved":
            return (
                f"Account {a} ({d}): tamper signs down to {n} kind in the review window.",
                f"用户{a}（{d}）统计期内窃电嫌疑告警已降至{n}类。",
            )
        return (
            f"Possible meter tampering at account {a} ({d}): {n} kinds of tamper alarm. "
            f"Send revenue protection to inspect the meter and seals.",
            f"用户{a}（{d}）电能表出现{n}类窃电嫌疑告警，请用电检查人员现场核查表计及封印。",
        )
