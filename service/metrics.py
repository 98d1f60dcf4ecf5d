"""The service's own Prometheus metrics, in one registry served at /metrics.

Labels are low-cardinality only (topic, event type, reason, rule, severity):
never a ticket, outage or account id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

events_consumed = Counter(
    "risk_events_consumed_total", "Input events consumed and valid, by topic and event type.",
    ["topic", "type"], registry=REGISTRY,
)
bad_events = Counter(
    "risk_bad_events_total", "Input messages sent to the dead-letter topic, by reason.",
    ["topic", "reason"], registry=REGISTRY,
)
warnings_published = Counter(
    "risk_warnings_published_total", "Warning state changes published, by rule, severity and transition.",
    ["rule", "severity", "transition"], registry=REGISTRY,
)
processing_errors = Counter(
    "risk_processing_errors_total", "Valid events whose processing raised (a bug); dead-lettered, stream continues.",
    ["stage"], registry=REGISTRY,
)
invalid_outputs = Counter(
    "risk_invalid_outputs_total", "Warnings and notifications not sent because they broke the contract (a bug).",
    ["kind"], registry=REGISTRY,
)
duplicate_events = Counter(
    "risk_duplicate_events_total", "Events dropped because their event_id was already applied.",
    registry=REGISTRY,
)
late_events = Counter(
    "risk_late_events_total", "Observations that arrived after their window was decided (counted, not applied).",
    ["subject"], registry=REGISTRY,
)
event_lag = Histogram(
    "risk_event_lag_seconds", "Processing time minus occurred_at of valid input events.", ["topic"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 86400), registry=REGISTRY,
)
warnings_firing = Gauge(
    "risk_warnings_firing", "Warnings currently firing, by rule, severity and district.",
    ["rule", "severity", "district"], registry=REGISTRY,
)
notifications = Counter(
    "risk_notifications_total", "SMS notifications by outcome (sent, held back while suppressed, folded ...).",
    ["outcome"], registry=REGISTRY,
)
consumer_lag = Gauge(
    "risk_consumer_lag_messages", "Messages in input topics not yet committed by this worker.",
    ["topic"], registry=REGISTRY,
)
clock = Gauge(
    "risk_clock_seconds", "This worker's clock, Unix seconds: wall time, or the event-time watermark when replaying.",
    registry=REGISTRY,
)
aggregate_clock = Gauge(
    "risk_aggregate_clock_seconds",
    "How far districts, feeders and staff on this work partition are decided, Unix seconds: the lowest "
    "'done up to' mark of every partition (events derived elsewhere arrive before it). Behind "
    "risk_clock_seconds while derived events are queued.",
    ["partition"], registry=REGISTRY,
)
DISTRICT_STATISTICS = {
    "arrival_p90_minutes": Gauge("risk_district_arrival_p90_minutes",
                                 "p90 crew arrival minutes over the last hour (repair.arrival_p90).",
                                 ["district"], registry=REGISTRY),
    "notice_delay_minutes": Gauge("risk_district_notice_delay_minutes",
                                  "Minutes from start to first notice of the district's latest unplanned outage.",
                                  ["district"], registry=REGISTRY),
    "collection_rate_ratio": Gauge("risk_district_collection_rate_ratio",
                                   "Paid / billed of the latest billing period decided (billing.collection_rate).",
                                   ["district"], registry=REGISTRY),
    "complaints_24h": Gauge("risk_district_complaints_24h", "Complaints in the last 24 h (complaints.surge).",
                            ["district"], registry=REGISTRY),
    "complaints_per_10k_customers_24h": Gauge(
        "risk_district_complaints_per_10k_customers_24h",
        "Complaints in the last 24 h per 10 000 customers served (needs reference data).",
        ["district"], registry=REGISTRY),
}


class FiringWarnings:
    """Keeps risk_warnings_firing equal to the warnings firing on this worker's partitions."""

    def __init__(self) -> None:
        self._labels: dict[tuple[str, str], tuple[str, str, str]] = {}  # (state key, rule) -> labels

    def set(self, key: str, rule: str, severity: str | None, district: str | None) -> None:
        old = self._labels.pop((key, rule), None)
        if old is not None:
            warnings_firing.labels(*old).dec()
        if severity is not None:
            labels = (rule, severity, district or "unknown")
            self._labels[(key, rule)] = labels
            warnings_firing.labels(*labels).inc()

    def clear(self) -> None:
        for labels in self._labels.values():
            warnings_firing.labels(*labels).dec()
        self._labels.clear()
api_refused = Counter(
    "risk_api_requests_refused_total", "HTTP API and board requests refused, by reason (unauthorized, invalid, too_large, feed_full ...).", ["reason"], registry=REGISTRY,
)
acks_applied = Counter(
    "risk_acknowledgements_total", "Acknowledgements read from warning-acks, by outcome.", ["outcome"],
    registry=REGISTRY,
)
