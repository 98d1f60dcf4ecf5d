"""District reference data: the denominators and routing the events lack.

Loaded once at start-up from a file (YAML or JSON, `districts:` list). A
district seen in events but missing here still gets every rule that needs no
denominator; rules that need `customers_served` skip it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.common import Id

from .rulebook import ConfigError


class District(BaseModel):
    """One district of the reference data file (`RISK_DISTRICTS_FILE`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    district_id: Id
    """The district id the events use (the contract's safe character set: ids reach texts, logs and labels)."""
    name: str = Field(min_length=1, max_length=200)
    """Its name, for texts and the board."""
    area_type: Literal["urban", "rural", "remote"]
    """urban, rural or remote: the SLA limits of its window rules."""
    customers_served: int = Field(gt=0)
    """Customers supplied: the denominator of storm mode's customer share and of complaint rates."""
    recipient_group: Id
    """Who receives its SMS notifications (the key on risk-notifications; an id of the contract's safe set)."""


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    districts: list[District]


def load_reference(data: Any, source: str) -> dict[str, District]:
    try:
        parsed = _File.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ConfigError(f"{source}: {loc}: {err['msg']}") from None
    out: dict[str, District] = {}
    for i, d in enumerate(parsed.districts):
        if d.district_id in out:
            raise ConfigError(f"{source}: districts.{i}.district_id: {d.district_id!r} listed twice")
        out[d.district_id] = d
    return out


def reference_facts(d: District) -> dict:
    """What a district subject's facts take from the reference data."""
    return {"name": d.name, "area_type": d.area_type, "customers_served": d.customers_served,
            "recipient_group": d.recipient_group}
