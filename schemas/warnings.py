"""The messages the service writes, and the acknowledgements it reads back.

`RiskWarning` is one state change of a warning (topic `risk-warnings`, key
`fingerprint`); `Notification` is its short text for the SMS gateway
(`risk-notifications`, key `recipient_group`); `WarningAck` is the
operations centre acknowledging a warning (`warning-acks`, key
`fingerprint`); `DeadLetter` is a bad input message with its reason
(`dead-letters`, original key). Unknown fields are ignored here too, so a
consumer built on these models survives the contract's additive changes.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .common import (
    EventId,
    Id,
    MessageId,
    RiskCategory,
    Severity,
    StrictBool,
    UtcDatetime,
    WarningStatus,
    WarningTransition,
    severity_rank,
)

OneLine = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"^[^\r\n]+$")]

MAX_EVIDENCE = 20


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Scope(_Message):
    """What a warning is about: only the keys that apply are present."""

    district_id: Id | None = None
    feeder_id: Id | None = None
    ticket_id: Id | None = None
    outage_id: Id | None = None
    account_id: Id | None = None
    staff_id: Id | None = None
    crew_id: Id | None = None

    @model_serializer(mode="wrap")
    def _without_absent_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # "Only those that apply": absent, not null, on the wire.
        return {k: v for k, v in handler(self).items() if v is not None}


class Metric(_Message):
    """The number that drove the warning, and the threshold it crossed."""

    name: Id
    value: FiniteFloat
    threshold: FiniteFloat
    unit: Annotated[str, StringConstraints(max_length=32)]
    window_start: UtcDatetime | None = None
    window_end: UtcDatetime | None = None


class RiskWarning(_Message):
    """One state change of a warning: raised, escalated, de-escalated or resolved.

    Every field of the contract's "Warnings" section, with its name. Some
    optional fields are additions the contract allows (consumers may ignore
    them): `transition` (which state change this is), `suppressed` (a
    silence, maintenance window or storm-mode inhibition holds back its
    notifications), `acknowledged` (the operations centre has acknowledged
    it) and `duration_seconds` (on resolved: how long it fired); also
    `escalation_reason`, `flapping`, `suppressed_by`, `no_samples` (resolved
    because its window emptied: no value to show) and `resolved_reason` (resolved
    whatever its value: "max_open_days", its ticket or outage was open too long).
    """

    warning_id: MessageId  # unique per message
    fingerprint: MessageId  # stable for the same rule and scope
    rule_id: Id
    risk_category: RiskCategory
    status: WarningStatus
    severity: Severity  # on resolved: the severity it had when it cleared
    previous_severity: Severity | None = None  # set on escalated and de-escalated
    scope: Scope
    metric: Metric
    first_fired_at: UtcDatetime
    changed_at: UtcDatetime
    resolved_at: UtcDatetime | None = None
    emitted_at: UtcDatetime  # wall time the message was produced; the others are on the service clock
    summary: OneLine
    summary_zh: OneLine
    response_plan: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    evidence: Annotated[list[EventId], Field(max_length=MAX_EVIDENCE)]
    # additions
    transition: WarningTransition | None = None
    suppressed: StrictBool = False
    # Set on an escalation caused by the acknowledgement clock, not by the value: "unacknowledged".
    escalation_reason: str | None = Field(None, max_length=64)
    # Changed state too often recently (rule file `flapping`): notified once, not at every change.
    flapping: StrictBool = False
    # Why it is suppressed: "silence:<comment>", "maintenance:<comment>", "storm_mode".
    suppressed_by: list[str] = Field(default_factory=list, max_length=20)
    acknowledged: StrictBool = False
    duration_seconds: Annotated[FiniteFloat, Field(ge=0)] | None = None
    # Resolved because the rule's window holds no samples any more: `metric.value` is 0 and means nothing.
    no_samples: StrictBool = False
    # On resolved: why, when not its value: "max_open_days" (its ticket or outage had no closing event in time).
    resolved_reason: str | None = Field(None, max_length=64)

    @model_validator(mode="after")
    def _consistent(self) -> RiskWarning:
        if self.transition is not None and (self.transition == "resolved") != (self.status == "resolved"):
            raise PydanticCustomError("invalid_value", "transition and status disagree about resolution")
        if self.transition in ("escalated", "de-escalated") and self.previous_severity is not None:
            up = severity_rank(self.severity) > severity_rank(self.previous_severity)
            if up != (self.transition == "escalated"):
                raise PydanticCustomError("invalid_value", "previous_severity contradicts the transition")
        return self


# GSM 03.38 default alphabet, basic table only: the extension characters
# (€ [ ] { } ^ ~ | \) cost two septets and some handsets drop them.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def _gsm_basic(text: str) -> str:
    outside = sorted({c for c in text if c not in GSM_BASIC})
    if outside:
        shown = "".join(outside[:10])
        raise PydanticCustomError("invalid_value", f"not in the GSM 03.38 basic character set: {shown!r}")
    return text


def _ucs2_units(limit: int):
    # An SMS in UCS-2 counts UTF-16 code units: a character outside the BMP
    # (most emoji) takes two of the 70.
    def check(text: str) -> str:
        if len(text.encode("utf-16-le")) // 2 > limit:
            raise PydanticCustomError("out_of_range", f"longer than {limit} UTF-16 code units")
        return text

    return check


class Notification(_Message):
    """A short text for the SMS gateway, one per notified warning state change."""

    notification_id: MessageId
    warning_id: MessageId
    fingerprint: MessageId
    recipient_group: Id
    district_id: Id | None = None
    rule_id: Id
    severity: Severity
    status: WarningStatus
    transition: WarningTransition
    text_zh: Annotated[str, StringConstraints(min_length=1, max_length=70), AfterValidator(_ucs2_units(70))]
    text_en: Annotated[str, StringConstraints(min_length=1, max_length=160), AfterValidator(_gsm_basic)]
    created_at: UtcDatetime
    # Additions: what the text is about ("change", "flapping", "settled", "summary"),
    # and on a summary how many notifications it stands for.
    kind: Literal["change", "flapping", "settled", "summary"] = "change"
    folded: int | None = Field(None, ge=1)


class WarningAck(_Message):
    """The operations centre acknowledging a warning (by fingerprint)."""

    ack_id: MessageId
    fingerprint: MessageId
    acknowledged_by: Id
    acknowledged_at: UtcDatetime
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


MAX_VALUE_TEXT = 2000


def _base64(text: str) -> str:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        raise PydanticCustomError("invalid_value", "not standard base64") from None
    return text


Base64 = Annotated[str, AfterValidator(_base64)]


class DeadLetter(_Message):
    """A bad input message, kept whole so it can be inspected and replayed.

    `reason` is one of `schemas.events.REASONS`, `processing_error` when
    a valid event made the service itself fail, or `state_too_large` when
    applying it would make its subject's state too large to store.
    """

    reason: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    detail: Annotated[str, StringConstraints(max_length=500)]
    topic: Annotated[str, StringConstraints(min_length=1, max_length=249)]
    partition: Annotated[int, Field(ge=0, strict=True)]
    offset: Annotated[int, Field(ge=0, strict=True)]
    key: Base64 | None  # the original key bytes; null when the message had no key
    value_base64: Base64  # the original value bytes
    value_text: Annotated[str, StringConstraints(max_length=MAX_VALUE_TEXT)] | None  # null when not UTF-8
    received_at: UtcDatetime
    service: Annotated[str, StringConstraints(min_length=1, max_length=128)]

    @classmethod
    def from_message(
        cls,
        *,
        reason: str,
        detail: str,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes,
        received_at: datetime,
        service: str,
    ) -> DeadLetter:
        """Build a dead letter from the raw message, encoding and truncating as the contract says."""
        try:
            text: str | None = value.decode("utf-8")[:MAX_VALUE_TEXT]
        except UnicodeDecodeError:
            text = None
        return cls(
            reason=reason,
            detail=detail[:500],
            topic=topic,
            partition=partition,
            offset=offset,
            key=base64.b64encode(key).decode("ascii") if key is not None else None,
            value_base64=base64.b64encode(value).decode("ascii"),
            value_text=text,
            received_at=received_at,
            service=service,
        )
