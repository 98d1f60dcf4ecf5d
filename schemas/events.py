"""The input events of the wire contract and the one way to read them off Kafka.

One frozen model per event type, all sharing `EventBase`; `InputEvent` is
their union, discriminated on `type`. `parse_event` turns a raw message value
into a model or raises `BadEvent` with a stable reason code, which is what the
dead-letter topic records and what the bad-event counter is labelled with.

Reason codes (stable; dashboards and other teams match on them):

- `not_utf8`:      the bytes are not valid UTF-8.
- `not_json`:      not valid JSON, or beyond the parser's limits (nesting
                   deeper than 200 levels, an integer of more than 4300 digits).
- `not_object`:    valid JSON, but not an object.
- `unknown_type`:  `type` names no known event type.
- `missing_field`: a required field (including `type`) is absent.
- `wrong_type`:    a field has the wrong JSON type (a number for money, a
                   string for a count, a number for a timestamp ...).
- `out_of_range`:  a number, date, length or count outside its bounds.
- `invalid_value`: anything else: a value outside an enumeration, a
                   malformed or naive timestamp, 3-decimal money ...
- `bad_id`:        an id with a character outside its safe set (`Id`:
                   ASCII letters, digits and `._:-`; `event_id` and
                   `source`: printable ASCII without spaces).

Checked by the service against its clocks, after parsing (service/core/admission.py):

- `future_event_time`: `occurred_at` further ahead of wall time than the
                   allowed clock skew.
- `too_old`:       `occurred_at` older than the service's clock minus the
                   retention.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from .common import (
    AreaType,
    ComplaintCategory,
    Count,
    Currency,
    CustomerClass,
    ID_MESSAGES,
    EventId,
    Id,
    IsoDate,
    MeterAlarmKind,
    Money,
    NoticeChannel,
    OutageKind,
    Period,
    RiskFlag,
    ScheduledOutageKind,
    Score,
    StrictBool,
    Text,
    TicketCategory,
    TicketChannel,
    TicketPriority,
    UtcDatetime,
)

SchemaVersion = Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]
Source = EventId  # a producing system's name: printable ASCII without spaces, 1-128


class EventBase(BaseModel):
    """Fields every input event carries."""

    # Unknown fields are ignored so producers can add optional fields first.
    model_config = ConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True)

    topic: ClassVar[str]  # the default topic the type travels on
    entity_field: ClassVar[str]  # the field holding the contract's message key

    event_id: EventId
    """Unique per event: a redelivery with the same event_id is not counted twice."""
    type: str
    """The event type (the discriminator): one of the types listed in this contract."""
    occurred_at: UtcDatetime
    """When it happened: event time, which every window and SLA uses (not arrival time)."""
    source: Source | None = None
    """The producing system."""
    schema_version: SchemaVersion = 1
    """Version of this event's schema."""


# --- outages ----------------------------------------------------------------


class OutageEvent(EventBase):
    topic: ClassVar[str] = "outage-events"
    entity_field: ClassVar[str] = "outage_id"
    outage_id: Id
    """The outage; the message key on outage-events."""


class OutageScheduled(OutageEvent):
    """A planned or temporary maintenance outage, announced before it happens."""

    type: Literal["outage.scheduled"]
    kind: ScheduledOutageKind
    """planned work, or temporary (maintenance) work: they have different legal notice periods."""
    district_id: Id
    """The district the outage is in."""
    feeder_id: Id
    """The feeder (distribution line) that is switched off."""
    area_type: AreaType
    """urban, rural or remote: selects the SLA limits."""
    customers_affected: Count
    """Customers who lose supply."""
    scheduled_start: UtcDatetime
    """When the outage is to start."""
    scheduled_end: UtcDatetime
    """When supply is to be back."""

    @model_validator(mode="after")
    def _ends_after_start(self) -> OutageScheduled:
        if self.scheduled_end < self.scheduled_start:
            raise PydanticCustomError("out_of_range", "scheduled_end is before scheduled_start")
        return self


class OutageStarted(OutageEvent):
    type: Literal["outage.started"]
    kind: OutageKind
    """planned, temporary or unplanned."""
    district_id: Id
    feeder_id: Id
    area_type: AreaType
    customers_affected: Count
    """Customers who lost supply."""
    cause: Text | None = None
    """Free text, if known."""


class OutageNoticePublished(OutageEvent):
    """Customers told about the outage: before it for planned work, after it for unplanned."""

    type: Literal["outage.notice_published"]
    channel: NoticeChannel
    """Where customers were told."""
    customers_notified: Count | None = None
    """How many customers the notice reached, if known."""


class OutageRestored(OutageEvent):
    type: Literal["outage.restored"]
    customers_restored: Count | None = None
    """How many customers have supply again, if known."""


class OutageCancelled(OutageEvent):
    type: Literal["outage.cancelled"]


# --- repair tickets ---------------------------------------------------------


class TicketEvent(EventBase):
    topic: ClassVar[str] = "repair-tickets"
    entity_field: ClassVar[str] = "ticket_id"
    ticket_id: Id
    """The repair ticket (work order); the message key on repair-tickets."""


class TicketCreated(TicketEvent):
    type: Literal["ticket.created"]
    district_id: Id
    """The district of the customer who reported the fault."""
    area_type: AreaType
    """urban, rural or remote: selects the crew arrival and restoration limits."""
    category: TicketCategory
    """What the customer reported."""
    priority: TicketPriority
    """urgent tickets (safety hazards, hospitals) go red as soon as the arrival limit passes."""
    channel: TicketChannel | None = None
    """How the fault was reported."""
    outage_id: Id | None = None
    """The outage this ticket belongs to, if known."""
    customer_id: Id | None = None
    """The customer who reported it."""


class TicketDispatched(TicketEvent):
    type: Literal["ticket.dispatched"]
    crew_id: Id
    """The crew sent to the fault."""


class TicketArrived(TicketEvent):
    """Crew on site."""

    type: Literal["ticket.arrived"]
    crew_id: Id | None = None
    """The crew on site."""


class TicketCompleted(TicketEvent):
    """Power restored or fault fixed."""

    type: Literal["ticket.completed"]
    resolution: Text | None = None
    """What was done."""


class TicketFollowedUp(TicketEvent):
    """The return visit to the customer after completion."""

    type: Literal["ticket.followed_up"]
    satisfied: StrictBool
    """Whether the customer was satisfied with the repair."""
    score: Score | None = None
    """The customer's 1-5 score, if given."""


class TicketReopened(TicketEvent):
    type: Literal["ticket.reopened"]
    reason: Text | None = None
    """Why the ticket was reopened."""


# --- billing ----------------------------------------------------------------


class BillingEvent(EventBase):
    topic: ClassVar[str] = "billing-events"
    entity_field: ClassVar[str] = "account_id"
    account_id: Id
    """The customer account; the message key on billing-events."""


class BillIssued(BillingEvent):
    type: Literal["bill.issued"]
    bill_id: Id
    """The bill."""
    district_id: Id
    """The district of the account."""
    customer_class: CustomerClass
    """The account's tariff class."""
    amount: Money
    """Amount billed: a decimal string with at most 2 decimals."""
    currency: Currency = "CNY"
    """ISO 4217 code; only CNY counts towards balances."""
    due_date: IsoDate
    """The day by which the bill must be paid."""
    period: Period
    """The billing period, YYYY-MM."""


class PaymentReceived(BillingEvent):
    type: Literal["payment.received"]
    bill_id: Id | None = None
    """The bill paid, if the payment names one."""
    amount: Money
    """Amount paid: a decimal string with at most 2 decimals."""
    currency: Currency = "CNY"
    """ISO 4217 code; only CNY counts towards balances."""


class AccountRiskFlagged(BillingEvent):
    """Credit information, e.g. from a government liquidation group."""

    type: Literal["account.risk_flagged"]
    flag: RiskFlag
    """The credit risk reported for the account."""
    district_id: Id | None = None
    """The district of the account, if known."""
    note: Text | None = None
    """Free text from the credit source."""


# --- service quality --------------------------------------------------------


class ServiceEvent(EventBase):
    topic: ClassVar[str] = "service-events"
    entity_field: ClassVar[str] = "district_id"
    district_id: Id
    """The district; the message key on service-events."""


class ComplaintReceived(ServiceEvent):
    type: Literal["complaint.received"]
    complaint_id: Id
    """The complaint."""
    category: ComplaintCategory
    """What the complaint is about."""
    staff_id: Id | None = None
    """The staff member the complaint names, if any."""
    ticket_id: Id | None = None
    """The repair ticket it is about, if any."""
    customer_id: Id | None = None
    """The customer who complained."""


class SurveyCompleted(ServiceEvent):
    type: Literal["survey.completed"]
    survey_id: Id
    """The survey response."""
    score: Score
    """Satisfaction score, 1 (worst) to 5 (best)."""
    staff_id: Id | None = None
    """The staff member the survey rates, if any."""
    ticket_id: Id | None = None
    """The repair ticket it is about, if any."""


class MeterAlarm(ServiceEvent):
    type: Literal["meter.alarm"]
    meter_id: Id
    """The meter."""
    alarm: MeterAlarmKind
    """What the meter reported."""
    account_id: Id | None = None
    """The account the meter belongs to, if known."""


# --- the union and its lookups ----------------------------------------------

InputEvent = Annotated[
    Union[
        OutageScheduled,
        OutageStarted,
        OutageNoticePublished,
        OutageRestored,
        OutageCancelled,
        TicketCreated,
        TicketDispatched,
        TicketArrived,
        TicketCompleted,
        TicketFollowedUp,
        TicketReopened,
        BillIssued,
        PaymentReceived,
        AccountRiskFlagged,
        ComplaintReceived,
        SurveyCompleted,
        MeterAlarm,
    ],
    Field(discriminator="type"),
]

EVENT_TYPES: dict[str, type[EventBase]] = {
    get_args(cls.model_fields["type"].annotation)[0]: cls for cls in get_args(get_args(InputEvent)[0])
}
"""Event type string -> model class, in contract order."""

TOPIC_EVENT_TYPES: dict[str, tuple[str, ...]] = {}
"""Default topic name -> the event types it carries."""
for _name, _cls in EVENT_TYPES.items():
    TOPIC_EVENT_TYPES[_cls.topic] = (*TOPIC_EVENT_TYPES.get(_cls.topic, ()), _name)


def entity_key(event: EventBase) -> str:
    """The contract's message key for `event`: its outage, ticket, account or district id."""
    return getattr(event, event.entity_field)


# --- parsing ----------------------------------------------------------------

REASONS = (
    "not_utf8",
    "not_json",
    "not_object",
    "unknown_type",
    "missing_field",
    "wrong_type",
    "out_of_range",
    "invalid_value",
    "bad_id",
    "future_event_time",
    "too_old",
)

MAX_DETAIL = 500  # characters in BadEvent.detail
MAX_ECHO = 60  # characters of an input value quoted in a detail
MAX_ERRORS_SHOWN = 3


class BadEvent(Exception):
    """A message that breaks the contract.

    `reason` is one of REASONS; `detail` is one line naming the field(s),
    at most MAX_DETAIL characters, never quoting much of the input.
    """

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


_INPUT_EVENT = TypeAdapter(InputEvent)

# pydantic error types -> reason codes; our own validators already raise
# errors typed with a reason code, and everything unlisted is invalid_value.
_WRONG_TYPE = {
    "string_type", "int_type", "float_type", "bool_type", "decimal_type", "dict_type", "list_type",
    "model_type", "model_attributes_type", "datetime_type", "date_type", "none_required", "is_instance_of",
    "bytes_type", "tuple_type", "set_type", "frozen_set_type",
}
_OUT_OF_RANGE = {
    "greater_than", "greater_than_equal", "less_than", "less_than_equal", "multiple_of",
    "string_too_short", "string_too_long", "too_short", "too_long", "int_parsing_size", "finite_number",
    "datetime_past", "datetime_future", "date_past", "date_future",
    "decimal_max_digits", "decimal_whole_digits",
}
# When one message has several problems, the most basic one names the message.
_PRECEDENCE = {"missing_field": 0, "wrong_type": 1, "out_of_range": 2, "bad_id": 3, "invalid_value": 4}


def _reason_of(error_type: str) -> str:
    if error_type in _PRECEDENCE:
        return error_type
    if error_type == "missing":
        return "missing_field"
    if error_type in _WRONG_TYPE:
        return "wrong_type"
    if error_type in _OUT_OF_RANGE:
        return "out_of_range"
    return "invalid_value"


def _echo(value: Any) -> str:
    if isinstance(value, str) and len(value) > MAX_ECHO:
        value = value[:MAX_ECHO]  # never repr a megabyte to keep sixty characters
    text = repr(value)
    return text if len(text) <= MAX_ECHO else text[: MAX_ECHO - 3] + "..."


def _clip(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


def _from_validation_error(raw: bytes | bytearray | memoryview | str, error: ValidationError) -> BadEvent:
    errors = error.errors(include_url=False)
    first = errors[0]
    kind = first["type"]
    if kind == "json_invalid":
        if not isinstance(raw, str):
            try:
                bytes(raw).decode("utf-8")
            except UnicodeDecodeError as e:
                return BadEvent("not_utf8", f"not_utf8: invalid UTF-8 at byte {e.start}")
        return BadEvent("not_json", _clip(f"not_json: {first.get('ctx', {}).get('error', first['msg'])}"))
    if not first["loc"] and kind == "string_unicode":  # a str argument holding lone surrogates
        return BadEvent("not_utf8", "not_utf8: the text is not encodable as UTF-8")
    if not first["loc"] and kind in ("dict_type", "model_type", "model_attributes_type"):
        return BadEvent("not_object", f"not_object: the message is {_json_kind(first['input'])}, not an object")
    if kind == "union_tag_not_found":
        return BadEvent("missing_field", "missing_field: type")
    if kind == "union_tag_invalid":
        tag = first["input"].get("type") if isinstance(first["input"], dict) else None
        if not isinstance(tag, str):
            return BadEvent("wrong_type", f"wrong_type: type must be a string, got {_json_kind(tag)}")
        return BadEvent("unknown_type", f"unknown_type: {_echo(tag)} is not a known event type")

    parts = []
    for err in errors:
        reason = _reason_of(err["type"])
        if err["type"] == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") in ID_MESSAGES:
            reason, err = "bad_id", {**err, "msg": ID_MESSAGES[err["ctx"]["pattern"]]}
        where = ".".join(str(p) for p in err["loc"]) or "(message)"
        if reason == "missing_field":
            parts.append((reason, f"missing_field: {where}"))
        else:
            got = "" if isinstance(err["input"], (dict, list)) else f" (got {_echo(err['input'])})"
            parts.append((reason, f"{reason}: {where}: {err['msg']}{got}"))
    parts.sort(key=lambda part: _PRECEDENCE[part[0]])  # stable: field order within a reason
    reason = parts[0][0]
    shown = [text for _, text in parts[:MAX_ERRORS_SHOWN]]
    if len(parts) > MAX_ERRORS_SHOWN:
        shown.append(f"(+{len(parts) - MAX_ERRORS_SHOWN} more)")
    return BadEvent(reason, _clip("; ".join(shown)))


def _json_kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def parse_event(raw: bytes | bytearray | memoryview | str) -> InputEvent:
    """Validate one Kafka message value against the contract.

    The happy path is a single `validate_json` call (no intermediate dict);
    everything else is a `BadEvent`.
    """
    if isinstance(raw, memoryview):
        raw = raw.tobytes()
    try:
        return _INPUT_EVENT.validate_json(raw)
    except ValidationError as e:
        raise _from_validation_error(raw, e) from None
    except (ValueError, TypeError, ArithmeticError, RecursionError) as e:
        # A validator tripping over a value nobody foresaw must dead-letter
        # that one message, not stop the stream.
        raise BadEvent("invalid_value", _clip(f"invalid_value: {type(e).__name__} while validating")) from None
