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
    model_config = ConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True)


class Scope(_Message):
    """What a warning is about: only the keys that apply are present."""

    district_id: Id | None = None
    """The district."""
    feeder_id: Id | None = None
    """The feeder."""
    ticket_id: Id | None = None
    """The repair ticket."""
    outage_id: Id | None = None
    """The outage."""
    account_id: Id | None = None
    """The customer account."""
    staff_id: Id | None = None
    """The staff member."""
    crew_id: Id | None = None
    """The repair crew (context: not part of the fingerprint)."""

    @model_serializer(mode="wrap")
    def _without_absent_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # "Only those that apply": absent, not null, on the wire.
        return {k: v for k, v in handler(self).items() if v is not None}


class Metric(_Message):
    """The number that drove the warning, and the threshold it crossed."""

    name: Id
    """The rule's statistic, e.g. minutes_without_arrival."""
    value: FiniteFloat
    """Its value at this state change."""
    threshold: FiniteFloat
    """The threshold it crossed (on resolved: the one it fell back below)."""
    unit: Annotated[str, StringConstraints(max_length=32)]
    """min, h, ratio, CNY, count ..."""
    window_start: UtcDatetime | None = None
    """Start of the window the value was computed over (window rules)."""
    window_end: UtcDatetime | None = None
    """End of that window."""


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
    """Unique per message: `<fingerprint>-<n>` for the n-th state change (a re-sent change keeps its id)."""
    fingerprint: MessageId  # stable for the same rule and scope
    """Stable for the same rule and scope across raise, escalate, resolve and restarts; the message key."""
    rule_id: Id
    """The rule that raised it (docs/rules.md)."""
    risk_category: RiskCategory
    """The kind of risk."""
    status: WarningStatus
    """firing or resolved."""
    severity: Severity  # on resolved: the severity it had when it cleared
    """blue < yellow < orange < red (the four early-warning colours); on resolved: the severity it had."""
    previous_severity: Severity | None = None  # set on escalated and de-escalated
    """Set on escalated and de-escalated."""
    scope: Scope
    """What is at risk: only the keys that apply."""
    metric: Metric
    """The number that drove the state change."""
    first_fired_at: UtcDatetime
    """When this warning first fired (service clock)."""
    changed_at: UtcDatetime
    """When this state change happened, on the service clock (event time when history is replayed)."""
    resolved_at: UtcDatetime | None = None
    """Set on resolved (service clock)."""
    emitted_at: UtcDatetime  # wall time the message was produced; the others are on the service clock
    """Wall time the message was produced."""
    summary: OneLine
    """One line a duty officer can act on (English)."""
    summary_zh: OneLine
    """The same in Chinese."""
    response_plan: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    """The prepared response for this rule, from the rule configuration."""
    evidence: Annotated[list[EventId], Field(max_length=MAX_EVIDENCE)]
    """Up to 20 event_ids that drove the value: none with an event time after changed_at."""
    # additions
    transition: WarningTransition | None = None
    """raised, escalated, de-escalated or resolved."""
    suppressed: StrictBool = False
    """A silence, maintenance window or storm-mode inhibition holds back its notifications (not the warning)."""
    # Set on an escalation caused by the acknowledgement clock, not by the value: "unacknowledged".
    escalation_reason: str | None = Field(None, max_length=64)
    """unacknowledged when the acknowledgement clock, not the value, escalated it."""
    # Changed state too often recently (rule file `flapping`): notified once, not at every change.
    flapping: StrictBool = False
    """It changed state too often recently: notified once, not at every change."""
    # Why it is suppressed: "silence:<comment>", "maintenance:<comment>", "storm_mode".
    suppressed_by: list[str] = Field(default_factory=list, max_length=20)
    """Why it is suppressed: silence:<comment>, maintenance:<comment>, storm_mode."""
    acknowledged: StrictBool = False
    """The operations centre has acknowledged it."""
    duration_seconds: Annotated[FiniteFloat, Field(ge=0)] | None = None
    """On resolved: how long it fired."""
    # Resolved because the rule's window holds no samples any more: `metric.value` is 0 and means nothing.
    no_samples: StrictBool = False
    """Resolved because the rule's window holds no samples any more: metric.value is 0 and means nothing."""
    resolved_reason: str | None = Field(None, max_length=64)
    """On resolved, when not its value says why: max_open_days (its ticket or outage had no closing event in time)."""

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
    """Unique per text; a re-sent text carries the same id."""
    warning_id: MessageId
    """The warning state change it reports."""
    fingerprint: MessageId
    """The warning."""
    recipient_group: Id
    """Who receives it (the district's group from the reference data); the message key."""
    district_id: Id | None = None
    """The warning's district, if any."""
    rule_id: Id
    """The warning's rule."""
    severity: Severity
    """The warning's severity."""
    status: WarningStatus
    """The warning's status."""
    transition: WarningTransition
    """The state change it reports."""
    text_zh: Annotated[str, StringConstraints(min_length=1, max_length=70), AfterValidator(_ucs2_units(70))]
    """The text in Chinese: at most 70 characters (UCS-2 SMS)."""
    text_en: Annotated[str, StringConstraints(min_length=1, max_length=160), AfterValidator(_gsm_basic)]
    """The text in English: at most 160 characters of the GSM 03.38 basic set."""
    created_at: UtcDatetime
    """When the text was made."""
    # Additions: what the text is about ("change", "flapping", "settled", "summary"),
    # and on a summary how many notifications it stands for.
    kind: Literal["change", "flapping", "settled", "summary"] = "change"
    """change (one state change), flapping, settled (flapping ended) or summary (rate limit reached)."""
    folded: int | None = Field(None, ge=1)
    """On a summary: how many notifications it stands for."""


class WarningAck(_Message):
    """The operations centre acknowledging a warning (by fingerprint)."""

    ack_id: MessageId
    """Unique per acknowledgement."""
    fingerprint: MessageId
    """The warning acknowledged; the message key."""
    acknowledged_by: Id
    """Who acknowledged it."""
    acknowledged_at: UtcDatetime
    """When."""
    note: Annotated[str, StringConstraints(max_length=500)] | None = None
    """Free text."""


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
    """Why it was refused: a reason code (below)."""
    detail: Annotated[str, StringConstraints(max_length=500)]
    """One line naming the field(s) at fault."""
    topic: Annotated[str, StringConstraints(min_length=1, max_length=249)]
    """The topic it was read from."""
    partition: Annotated[int, Field(ge=0, strict=True)]
    """Its partition."""
    offset: Annotated[int, Field(ge=0, strict=True)]
    """Its offset."""
    key: Base64 | None  # the original key bytes; null when the message had no key
    """The original key bytes, base64; null when the message had no key."""
    value_base64: Base64  # the original value bytes
    """The original value bytes, base64."""
    value_text: Annotated[str, StringConstraints(max_length=MAX_VALUE_TEXT)] | None  # null when not UTF-8
    """The value as text (first 2000 characters); null when not UTF-8."""
    received_at: UtcDatetime
    """When the service read it."""
    service: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    """The service instance that refused it."""

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
