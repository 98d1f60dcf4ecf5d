"""What a deadline rule tells the engine, and nothing more.

A rule reads an entity (the folded history of one ticket or outage) and says
when its clock started, whether it stopped, and at which offsets each
severity is reached. The engine owns the warning state and publishing.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from ..deadlines import Deadline
from ..warning_state import Transition


class RuleParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeadlineRule:
    rule_id: ClassVar[str]
    category: ClassVar[str]
    entity: ClassVar[str]  # the entity kind whose events drive it: "ticket", "outage"
    metric: ClassVar[str]
    unit: ClassVar[str] = "min"
    unit_seconds: ClassVar[float] = 60.0
    Params: ClassVar[type[RuleParams]]

    def clock(self, entity: dict) -> tuple[float, float | None] | None:
        """(start, stopped_at or None), or None while the clock has not started."""
        raise NotImplementedError

    def deadlines(self, entity: dict, params: RuleParams) -> list[Deadline]:
        raise NotImplementedError

    def identity(self, entity: dict) -> dict[str, str]:
        raise NotImplementedError

    def scope(self, entity: dict) -> dict[str, str]:
        """Identity plus context keys (district, feeder, crew) a consumer filters on."""
        raise NotImplementedError

    def evidence(self, entity: dict) -> list[str]:
        return list(entity.get("evidence", {}).values())[:20]

    def summaries(self, entity: dict, t: Transition) -> tuple[str, str]:
        """(English, Chinese) one-liners a duty officer can act on."""
        raise NotImplementedError


def scope_of(entity: dict, keys: tuple[str, ...]) -> dict[str, str]:
    return {k: entity[k] for k in keys if entity.get(k)}
