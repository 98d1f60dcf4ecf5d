"""The rule configuration: which rules run, with which thresholds, where.

Built from a plain mapping (parsed from YAML by the shell) and validated with
pydantic. Every error names the rule, the field and the file, because a duty
engineer editing thresholds at night should not have to read a traceback.
Per-district overrides are deep-merged over the rule's parameters and
validated at load time, so a bad override fails start-up, not an evaluation.

A deployment's rule file is an overlay on the shipped defaults (`overlay`):
a rule it does not mention runs as shipped, a rule is off only where a file
says `enabled: false`, and each parameter it names replaces that one
parameter. `RuleBook.origins` says, per rule, where its configuration came
from, for the start-up log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .rules import RULES
from .rules.base import Rule, RuleParams
from .suppression import MaintenanceWindow, Silence, Suppressions


class ConfigError(ValueError):
    """A configuration problem; the message names the file and the field."""


class _DistrictOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class _RuleEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    # Left unacknowledged this long after its last change, a firing warning goes up one severity.
    escalate_after_minutes: float | None = Field(None, gt=0)
    response_plan: str = Field(min_length=1, max_length=2000)
    params: dict[str, Any] = Field(default_factory=dict)
    districts: dict[str, _DistrictOverride] = Field(default_factory=dict)


class Flapping(BaseModel):
    """A warning with `changes` state changes within `window_minutes` is flapping."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    changes: int = Field(6, ge=2, le=10)  # WarningState keeps the last 10 change times
    window_minutes: float = Field(60.0, gt=0)

    def is_flapping(self, change_times: list[float]) -> bool:
        if len(change_times) < self.changes:
            return False
        recent = change_times[-self.changes:]
        return recent[-1] - recent[0] <= self.window_minutes * 60


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: dict[str, _RuleEntry]
    flapping: Flapping = Field(default_factory=Flapping)
    silences: list[Silence] = Field(default_factory=list)
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)
    # per-ticket rules whose warnings are marked suppressed while their district is in storm mode
    storm_inhibits: list[str] = Field(default_factory=lambda: ["repair.arrival_overdue", "repair.restore_overdue"])


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _where(error: dict) -> str:
    return ".".join(str(p) for p in error["loc"]) or "(top level)"


@dataclass(frozen=True)
class RuleConfig:
    rule: Rule
    enabled: bool
    response_plan: str
    params: RuleParams
    district_params: dict[str, RuleParams] = field(default_factory=dict)
    district_enabled: dict[str, bool] = field(default_factory=dict)
    escalate_after_seconds: float | None = None

    def params_for(self, district_id: str | None) -> RuleParams:
        return self.district_params.get(district_id, self.params) if district_id else self.params

    def enabled_for(self, district_id: str | None) -> bool:
        return self.district_enabled.get(district_id, self.enabled) if district_id else self.enabled


class RuleBook:
    def __init__(self, rules: dict[str, RuleConfig], suppressions: Suppressions | None = None,
                 flapping: Flapping | None = None, origins: dict[str, str] | None = None):
        self.rules = rules
        # rule id -> where its configuration came from ("defaults", or a file and what it set)
        self.origins = origins or {}
        self.suppressions = suppressions or Suppressions([], [])
        self.flapping = flapping or Flapping()
        self.by_subject: dict[str, list[RuleConfig]] = {}
        for rc in rules.values():
            self.by_subject.setdefault(rc.rule.subject, []).append(rc)

    @classmethod
    def from_mapping(cls, data: Any, source: str) -> RuleBook:
        named = data.get("rules") if isinstance(data, dict) else None
        unknown = sorted(set(named) - set(RULES), key=str) if isinstance(named, dict) else []
        if unknown:  # before field errors: a mistyped rule id would otherwise read as a missing field
            raise ConfigError(
                f"{source}: rules.{unknown[0]}: unknown rule id (known: {', '.join(sorted(RULES))})"
            )
        try:
            parsed = _File.model_validate(data)
        except ValidationError as e:
            err = e.errors()[0]
            raise ConfigError(f"{source}: {_where(err)}: {err['msg']}") from None
        for i, rule_id in enumerate(parsed.storm_inhibits):
            if rule_id not in RULES:
                raise ConfigError(f"{source}: storm_inhibits.{i}: unknown rule id {rule_id!r}")
        configs = {}
        for rule_id, entry in parsed.rules.items():
            rule = RULES[rule_id]()
            params = _params(rule, entry.params, f"{source}: rules.{rule_id}.params")
            district_params, district_enabled = {}, {}
            for district, override in entry.districts.items():
                where = f"{source}: rules.{rule_id}.districts.{district}.params"
                if override.params:
                    district_params[district] = _params(rule, _merge(entry.params, override.params), where)
                if override.enabled is not None:
                    district_enabled[district] = override.enabled
            configs[rule_id] = RuleConfig(
                rule, entry.enabled, entry.response_plan, params, district_params, district_enabled,
                entry.escalate_after_minutes * 60 if entry.escalate_after_minutes else None,
            )
        return cls(configs, Suppressions(parsed.silences, parsed.maintenance_windows,
                                         frozenset(parsed.storm_inhibits)), parsed.flapping)


def overlay(base: dict, over: Any) -> Any:
    """A rule file laid over the shipped defaults.

    Rules the file does not name keep their shipped entry (and stay on); in a
    rule it names, `enabled`, `response_plan` and `escalate_after_minutes`
    replace the shipped value, each key under `params` replaces that one
    parameter (a severity map such as `raise` is replaced whole, so a file can
    drop a severity), and `districts` entries replace the shipped entry of that
    district. `flapping` overlays per key; `silences`, `maintenance_windows`
    and `storm_inhibits` replace the shipped lists. A value of the wrong shape
    is passed on as it is, for validation to name.
    """
    if over is None:
        return dict(base)
    if not isinstance(over, dict):
        return over
    out = dict(base)
    for key, value in over.items():
        shipped = base.get(key)
        if key == "rules" and isinstance(value, dict) and isinstance(shipped, dict):
            rules = dict(shipped)
            for rule_id, entry in value.items():
                rules[rule_id] = _overlay_rule(shipped.get(rule_id), {} if entry is None else entry)
            out[key] = rules
        elif key == "flapping" and isinstance(value, dict) and isinstance(shipped, dict):
            out[key] = {**shipped, **value}
        else:
            out[key] = value
    return out


def _overlay_rule(shipped: Any, entry: Any) -> Any:
    if not isinstance(shipped, dict) or not isinstance(entry, dict):
        return entry
    merged = {**shipped, **entry}
    for key in ("params", "districts"):
        if isinstance(shipped.get(key), dict) and isinstance(entry.get(key), dict):
            merged[key] = {**shipped[key], **entry[key]}
    return merged


def overlay_origins(rule_ids: Any, over: Any, source: str, shipped: Any = None) -> dict[str, str]:
    """Rule id -> "defaults", or `source` and the keys it changed for that rule.

    A key the file repeats with the shipped value is not a change: a copy of
    the shipped file reads as "defaults".
    """
    named = over.get("rules") if isinstance(over, dict) else None
    named = named if isinstance(named, dict) else {}
    shipped_rules = shipped.get("rules") if isinstance(shipped, dict) else None
    shipped_rules = shipped_rules if isinstance(shipped_rules, dict) else {}
    origins = {}
    for rule_id in rule_ids:
        entry = named.get(rule_id)
        entry = entry if isinstance(entry, dict) else {}
        base = shipped_rules.get(rule_id)
        base = base if isinstance(base, dict) else {}
        keys = []
        for key, value in entry.items():
            if key in ("params", "districts") and isinstance(value, dict):
                was = base.get(key) if isinstance(base.get(key), dict) else {}
                keys.extend(f"{key}.{sub}" for sub, v in value.items() if sub not in was or was[sub] != v)
            elif key not in base or base[key] != value:
                keys.append(key)
        origins[rule_id] = f"{source} ({', '.join(keys)})" if keys else "defaults"
    return origins


def describe(book: RuleBook) -> list[str]:
    """One line per rule for the start-up log: on or off, and where that came from."""
    lines = []
    for rule_id, rc in sorted(book.rules.items()):
        state = "on" if rc.enabled else "off"
        exceptions = sorted(d for d, on in rc.district_enabled.items() if on != rc.enabled)
        if exceptions:
            state += f" ({'on' if not rc.enabled else 'off'} in {', '.join(exceptions)})"
        lines.append(f"rule {rule_id}: {state}; from {book.origins.get(rule_id, 'defaults')}")
    return lines


def _params(rule: Rule, data: dict, where: str) -> RuleParams:
    try:
        return rule.Params.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = _where(err)
        raise ConfigError(f"{where}.{loc}: {err['msg']}" if err["loc"] else f"{where}: {err['msg']}") from None
