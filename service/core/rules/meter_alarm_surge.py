"""meter.alarm_surge: a district's meters raise far more alarms than usual.

Alarms in the trailing hour, evaluated every 15 minutes, against the 7-day
baseline of hourly counts (168 trailing hours aligned to the evaluated end);
yellow at z >= 3 (heuristic). The machinery is SurgeRule (complaints_surge).

Decisions where the rule catalogue is silent:
- Every alarm kind counts by default (`alarms`): a burst of communication
  losses points at a concentrator or feeder, a burst of voltage losses at the
  network; a deployment can narrow the list.
- At least 10 alarms in the hour (`min_samples`, heuristic): in a district
  with almost no alarms, z alone would call 3 or 4 alarms a surge.
- At least 1 day of observed history (24 hourly counts) before it can fire.
- Alarms are counted as events, not distinct meters: one chattering meter can
  drive the count, and the evidence ids show it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..warning_state import Transition
from .base import Levels
from .complaints_surge import SurgeParams, SurgeRule, needed

AlarmKind = Literal["communication_loss", "clock_error", "reverse_energy", "zero_consumption", "tamper",
                    "voltage_loss"]


class Params(SurgeParams):
    window_minutes: float = Field(60.0, gt=0)
    step_minutes: float = Field(15.0, gt=0)
    min_samples: int = Field(10, ge=1)
    raise_: Levels = Field(default_factory=lambda: {"yellow": 3.0}, alias="raise")
    clear: Levels = Field(default_factory=lambda: {"yellow": 2.5})
    baseline_days: float = Field(7.0, gt=0)
    min_history_days: float = Field(1.0, ge=0)
    alarms: frozenset[AlarmKind] = frozenset(AlarmKind.__args__)


class MeterAlarmSurge(SurgeRule):
    rule_id = "meter.alarm_surge"
    sources = {  # parameter -> where its default comes from
        "raise": "heuristic (no published figure)",
        "clear": "heuristic (no published figure)",
        "min_samples": "heuristic (no published figure)",
    }
    category = "equipment"
    subject = "district"
    metric = "meter_alarms_1h"
    unit = "alarms"
    Params = Params

    def counted(self, event, params: Params) -> bool:
        return event["type"] == "meter.alarm" and event.get("alarm") in params.alarms

    def summaries(self, facts, t: Transition):
        d, n, level = facts["district_id"], round(t.value), needed(t.threshold)
        if t.kind == "resolved":
            return (
                f"Meter alarms in district {d} back to usual: {n} in the last hour (level {level}).",
                f"{d}供电区电能表告警已回落：近1小时{n}条（预警线{level}条）。",
            )
        return (
            f"Meter alarm surge in district {d}: {n} in the last hour, {t.severity} level {level} from its "
            f"baseline. Check concentrators and feeders for a common fault; send metering staff.",
            f"{d}供电区近1小时电能表告警{n}条，超过基线预警线{level}条。请排查集中器及线路共性故障并派计量人员处理。",
        )
