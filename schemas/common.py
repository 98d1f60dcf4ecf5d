"""The contract's shared vocabulary: ids, timestamps, money and the enumerations.

Every model in `schemas` builds on these types, so a rule such as "money is a
decimal string, never a float" is written once. Validators raise
`PydanticCustomError` whose type is the dead-letter reason itself
(`wrong_type`, `out_of_range`, `invalid_value`); `schemas.events` passes such
codes through unchanged.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    Strict,
    StringConstraints,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

# --- ids and text -----------------------------------------------------------

# Ids reach SMS texts, log lines, metric labels and the board: only characters
# that cannot forge a line, hide text (bidirectional overrides, look-alike
# letters) or carry a sentence. The pattern is checked by pydantic-core after
# the length (a 65-character id stays out_of_range); `schemas.events` reports
# a mismatch as `bad_id` (ID_MESSAGES). A pattern, not a Python validator:
# checking five ids of an event then costs about 0.25 us instead of 1.6 us.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
# Event ids and producer names: printable ASCII (0x21-0x7E), no space or control character.
EVENT_ID_PATTERN = r"^[!-~]{1,128}$"
ID_MESSAGES = {
    ID_PATTERN: "an id is ASCII letters, digits and . _ : - and starts with a letter or digit",
    EVENT_ID_PATTERN: "must be printable ASCII without spaces or control characters",
}
"""The id patterns, and what a `bad_id` detail says about each."""

Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=ID_PATTERN),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 64, "pattern": ID_PATTERN,
                    "description": "ASCII letters, digits and . _ : -, starting with a letter or digit."}),
]
"""district_id, feeder_id, ticket_id, account_id ...: 1-64 characters of
`[A-Za-z0-9._:-]`, the first a letter or digit; others are `bad_id`."""

EventId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=EVENT_ID_PATTERN),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 128, "pattern": EVENT_ID_PATTERN,
                    "description": "Printable ASCII without spaces or control characters."}),
]
"""An event's `event_id` (and a producer's `source`): 1-128 printable ASCII
characters, no space or control character; others are `bad_id`."""

MessageId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
"""Ids the service mints (warning_id, fingerprint, notification_id, ack_id).
Opaque to consumers; bounded like event ids."""

Text = Annotated[str, StringConstraints(max_length=2000)]
"""Free text (cause, resolution, note ...). Bounded so one event cannot bloat state."""

Count = Annotated[int, Strict(), Field(ge=0, le=2**31 - 1)]
"""A number of customers. Capped at a signed 32-bit int so Java and Go
consumers need no special type; JSON `5.0` or `"5"` is a wrong type."""

Score = Annotated[int, Strict(), Field(ge=1, le=5)]
"""A 1-5 satisfaction score."""

StrictBool = Annotated[bool, Strict()]
"""Only JSON true/false: "yes" or 1 is a wrong type, not a guess."""

# --- time -------------------------------------------------------------------

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)  # exclusive: the last valid year is 2100
_RANGE_TEXT = "between 1990 and 2100"

# RFC 3339 date-time. The pre-check exists because pydantic's own parser is
# lenient in ways the contract is not: it reads "1700000000" as Unix seconds
# and "2026-11-27" as midnight.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?", re.ASCII
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _utc_datetime(value: Any, handler) -> datetime:
    if isinstance(value, str):
        match = _RFC3339.fullmatch(value)
        if match is None:
            raise PydanticCustomError(
                "invalid_value", "must be an RFC 3339 timestamp such as 2026-11-27T08:15:00+08:00"
            )
        if match["offset"] is None:
            raise PydanticCustomError("invalid_value", "timestamp has no UTC offset (naive timestamps are refused)")
    elif not isinstance(value, datetime):
        raise PydanticCustomError("wrong_type", "must be an RFC 3339 timestamp string")
    parsed: datetime = handler(value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise PydanticCustomError("invalid_value", "timestamp has no UTC offset (naive timestamps are refused)")
    # Compare before converting: astimezone overflows near years 1 and 9999.
    if not EARLIEST <= parsed < LATEST:
        raise PydanticCustomError("out_of_range", f"timestamp must be {_RANGE_TEXT} (UTC)")
    return parsed.astimezone(UTC)


UtcDatetime = Annotated[
    datetime,
    WrapValidator(_utc_datetime),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 with an offset (Z or +hh:mm); years 1990-2100.",
        }
    ),
]
"""An aware timestamp normalised to UTC; serialises as `...Z`."""


def _iso_date(value: Any, handler) -> date:
    if isinstance(value, str):
        if _ISO_DATE.fullmatch(value) is None:
            raise PydanticCustomError("invalid_value", "must be an ISO date YYYY-MM-DD")
    elif not isinstance(value, date) or isinstance(value, datetime):
        raise PydanticCustomError("wrong_type", "must be an ISO date string YYYY-MM-DD")
    parsed: date = handler(value)
    if not EARLIEST.year <= parsed.year < LATEST.year:
        raise PydanticCustomError("out_of_range", f"date must be {_RANGE_TEXT}")
    return parsed


IsoDate = Annotated[
    date,
    WrapValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "description": "YYYY-MM-DD; years 1990-2100."}),
]


def _period(value: str) -> str:
    if not EARLIEST.year <= int(value[:4]) < LATEST.year:
        raise PydanticCustomError("out_of_range", f"period must be {_RANGE_TEXT}")
    return value


Period = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$"), AfterValidator(_period)]
"""A billing period, `YYYY-MM`."""

# --- money ------------------------------------------------------------------

MONEY_INTEGER_DIGITS = 15  # up to 999 trillion: far above any bill, far below float trouble
_MONEY = re.compile(r"(?P<sign>-?)(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?")


def _money(value: Any) -> Decimal:
    if isinstance(value, str):
        match = _MONEY.fullmatch(value)
        if match is None:
            raise PydanticCustomError("invalid_value", 'must be a decimal string such as "1234.50"')
        negative = match["sign"] == "-" and match["int"].strip("0") + (match["frac"] or "").strip("0") != ""
        places = len(match["frac"] or "")
        integer_digits = len(match["int"].lstrip("0"))
    elif isinstance(value, Decimal):  # Python callers; the wire only ever carries strings
        if not value.is_finite():
            raise PydanticCustomError("invalid_value", "must be a finite decimal")
        negative = value < 0
        places = max(0, -value.as_tuple().exponent)
        integer_digits = max(0, value.adjusted() + 1) if value else 0
    else:
        raise PydanticCustomError("wrong_type", "must be a decimal string (money is never a JSON number)")
    # Checked before building the Decimal, so a megabyte of digits costs nothing.
    if negative:
        raise PydanticCustomError("out_of_range", "must not be negative")
    if integer_digits > MONEY_INTEGER_DIGITS:
        raise PydanticCustomError("out_of_range", f"must have at most {MONEY_INTEGER_DIGITS} integer digits")
    if places > 2:
        raise PydanticCustomError("invalid_value", "must have at most 2 decimal places")
    amount = Decimal(value).copy_abs()  # "-0.00" is zero
    if amount.as_tuple().exponent > 0:
        amount = amount.quantize(Decimal(1))  # Decimal("1E+3") would serialise as "1E+3"
    return amount


def _decimal_text(value: Decimal) -> str:
    return str(value)


Money = Annotated[
    Decimal,
    PlainValidator(_money),
    PlainSerializer(_decimal_text, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]+(\.[0-9]{1,2})?$",
            "description": "Decimal string, >= 0, at most 2 decimals and 15 integer digits. Never a JSON number.",
        }
    ),
]
"""A non-negative amount with at most 2 decimals, read only from a string."""

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
"""ISO 4217 code."""

# --- enumerations -----------------------------------------------------------

AreaType = Literal["urban", "rural", "remote"]  # selects SLA limits
ScheduledOutageKind = Literal["planned", "temporary"]
OutageKind = Literal["planned", "temporary", "unplanned"]
NoticeChannel = Literal["sms", "app", "web", "hotline", "media", "notice_board"]
TicketCategory = Literal["no_power", "partial_power", "voltage", "meter", "safety_hazard", "other"]
TicketPriority = Literal["normal", "urgent"]
TicketChannel = Literal["hotline", "app", "field"]
CustomerClass = Literal["residential", "commercial", "industrial", "agricultural", "public"]
RiskFlag = Literal["bankruptcy", "liquidation", "restructuring", "court_enforcement", "business_closed"]
ComplaintCategory = Literal[
    "service_attitude", "repair_delay", "outage_notice", "billing_error", "metering", "safety", "other"
]
MeterAlarmKind = Literal[
    "communication_loss", "clock_error", "reverse_energy", "zero_consumption", "tamper", "voltage_loss"
]

RiskCategory = Literal["coordination", "staff_conduct", "staff_skill", "follow_up", "fee_recovery", "equipment"]
WarningStatus = Literal["firing", "resolved"]
WarningTransition = Literal["raised", "escalated", "de-escalated", "resolved"]

Severity = Literal["blue", "yellow", "orange", "red"]
"""The four early-warning colours."""

SEVERITY_ORDER: tuple[Severity, ...] = get_args(Severity)
"""Lowest first: blue < yellow < orange < red."""

_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITY_ORDER)}


def severity_rank(severity: str) -> int:
    """0 for blue up to 3 for red; ValueError for anything else."""
    try:
        return _SEVERITY_RANK[severity]
    except KeyError:
        raise ValueError(f"unknown severity {severity!r}; expected one of {SEVERITY_ORDER}") from None
