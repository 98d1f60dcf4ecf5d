"""The service's own Prometheus metrics, in one registry served at /metrics.

Labels are low-cardinality only (topic, event type, reason, rule, severity):
never a ticket, outage or account id. District ids come from events, so a
district gets a label of its own only if it is in the reference data
(`RISK_DISTRICTS_FILE`); without reference data, the first
`RISK_MAX_DISTRICT_LABELS` districts seen do (a slot is freed when its
district's state is deleted). Every other district is counted under
`district="other"` in risk_warnings_firing, and has no statistics gauges (a
p90 or a rate of "other" would mix districts). A label set is removed when
nothing is left to say under it: a firing count back to 0, a district deleted.
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


OTHER = "other"  # the district label of every district without one of its own


class DistrictLabels:
    """The district label a district id is exported under (module doc)."""

    def __init__(self, reference: set[str] | frozenset[str] = frozenset(), cap: int = 500) -> None:
        self.reference = frozenset(reference)
        self.cap = 0 if self.reference else cap  # with reference data, only its districts
        self._seen: set[str] = set()

    def __call__(self, district: str | None) -> str:
        if district is None:
            return "unknown"
        if district in self.reference or district in self._seen:
            return district
        if len(self._seen) < self.cap:
            self._seen.add(district)
            return district
        return OTHER

    def own(self, district: str | None) -> bool:
        """Has the district a label of its own (or gets one now)?"""
        return district is not None and self(district) == district

    def forget(self, district: str) -> None:
        """The district's state was deleted: remove its statistics and free its slot."""
        if district in self.reference or district in self._seen:
            for gauge in DISTRICT_STATISTICS.values():
                try:
                    gauge.remove(district)
                except KeyError:
                    pass
        self._seen.discard(district)

    def statistic(self, name: str, district: str, value: float, customers_served: int | None) -> None:
        """Set a district's statistic gauge (and the per-10 000-customers one of its complaints)."""
        if not self.own(district):
            return
        DISTRICT_STATISTICS[name].labels(district).set(value)
        if name == "complaints_24h" and customers_served:
            DISTRICT_STATISTICS["complaints_per_10k_customers_24h"].labels(district).set(
                value * 10000 / customers_served)


class FiringWarnings:
    """Keeps risk_warnings_firing equal to the warnings firing on this worker's partitions."""

    def __init__(self, districts: DistrictLabels | None = None) -> None:
        self._labels: dict[tuple[str, str], tuple[str, str, str]] = {}  # (state key, rule) -> labels
        self._count: dict[tuple[str, str, str], int] = {}  # labels -> warnings under them
        self.districts = districts or DistrictLabels()

    def set(self, key: str, rule: str, severity: str | None, district: str | None) -> None:
        old = self._labels.pop((key, rule), None)
        if old is not None:
            self._add(old, -1)
        if severity is not None:
            labels = (rule, severity, self.districts(district))
            self._labels[(key, rule)] = labels
            self._add(labels, 1)

    def _add(self, labels: tuple[str, str, str], n: int) -> None:
        count = self._count.get(labels, 0) + n
        if count > 0:
            self._count[labels] = count
            warnings_firing.labels(*labels).set(count)
        else:
            self._count.pop(labels, None)
            try:
                warnings_firing.remove(*labels)
            except KeyError:
                pass

    def clear(self) -> None:
        for labels in list(self._count):
            self._add(labels, -self._count[labels])
        self._labels.clear()
api_refused = Counter(
    "risk_api_requests_refused_total", "HTTP API and board requests refused, by reason (unauthorized, invalid, too_large, feed_full ...).", ["reason"], registry=REGISTRY,
)
acks_applied = Counter(
    "risk_acknowledgements_total", "Acknowledgements read from warning-acks, by outcome.", ["outcome"],
    registry=REGISTRY,
)
