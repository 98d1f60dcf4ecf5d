"""Suppression, kept apart from detection.

Silences (matchers and a time range) and recurring maintenance windows come
from the rule configuration; inhibition comes from live state (a district in
storm mode holds back its per-ticket repair warnings). A suppressed warning
is still published, and counted, with `suppressed: true` and the reasons in
`suppressed_by`; only notifications are held back. Matching uses the
warning's own `changed_at`, not the wall clock, so a replay suppresses the
same state changes as live operation did.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MATCHABLE = ("rule_id", "risk_category", "severity", "district_id", "feeder_id", "ticket_id",
             "outage_id", "account_id", "staff_id", "crew_id")


class _Matchers(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    matchers: dict[str, str] = Field(min_length=1)
    comment: str = ""

    @field_validator("matchers")
    @classmethod
    def _known(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(MATCHABLE))
        if unknown:
            raise ValueError(f"cannot match on {unknown[0]!r} (one of {', '.join(MATCHABLE)})")
        return v

    def matches(self, warning: dict) -> bool:
        scope = warning["scope"]
        return all((warning.get(k) if k in ("rule_id", "risk_category", "severity") else scope.get(k)) == v
                   for k, v in self.matchers.items())


class Silence(_Matchers):
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _order(self):
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def active(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


class MaintenanceWindow(_Matchers):
    """Every listed weekday from `start` to `end` local time (may cross midnight)."""

    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: list(WEEKDAYS))
    start: time
    end: time
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    def active(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        t, day = local.time(), WEEKDAYS[local.weekday()]
        previous = WEEKDAYS[(local.weekday() - 1) % 7]
        if self.start <= self.end:
            return day in self.weekdays and self.start <= t < self.end
        # crosses midnight: the evening part belongs to today, the morning part to yesterday's window
        return (day in self.weekdays and t >= self.start) or (previous in self.weekdays and t < self.end)


class Suppressions:
    def __init__(self, silences: list[Silence], windows: list[MaintenanceWindow],
                 storm_inhibits: frozenset[str] = frozenset()):
        self.silences = silences
        self.windows = windows
        self.storm_inhibits = storm_inhibits  # rule ids held back while their district is in storm mode

    def reasons(self, warning: dict, storm_districts: frozenset[str] | set[str] = frozenset()) -> list[str]:
        out = []
        if self.silences or self.windows:  # most configurations have none: no time to parse
            at = datetime.fromisoformat(warning["changed_at"].replace("Z", "+00:00"))
            out += [f"silence:{s.comment or i}" for i, s in enumerate(self.silences)
                    if s.active(at) and s.matches(warning)]
            out += [f"maintenance:{w.comment or i}" for i, w in enumerate(self.windows)
                    if w.active(at) and w.matches(warning)]
        if warning["rule_id"] in self.storm_inhibits and warning["scope"].get("district_id") in storm_districts:
            out.append("storm_mode")
        return out
